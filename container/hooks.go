package container

import (
	"time"

	"github.com/opencontainers/runc/libcontainer/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
)

// runHooksWarn runs hooks in order with the container's state on stdin. A
// failing hook is logged as a warning and the rest still run: this is what
// the runtime spec asks for poststart and poststop hooks.
func runHooksWarn(kind string, hooks []specs.Hook, state *specs.State) {
	for i, h := range hooks {
		cmd := &configs.Command{Path: h.Path, Args: h.Args, Env: h.Env}
		if len(cmd.Args) == 0 {
			cmd.Args = []string{h.Path}
		}
		if h.Timeout != nil {
			d := time.Duration(*h.Timeout) * time.Second
			cmd.Timeout = &d
		}
		if err := cmd.Run(state); err != nil {
			logrus.Warnf("%s hook #%d (%s) failed: %v", kind, i, h.Path, err)
		}
	}
}
