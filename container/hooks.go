package container

import (
	"context"
	"fmt"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// vmctr runs the poststart and poststop hooks itself (splitHooks takes them
// out of the config given to libcontainer): poststart when `start` (or `run`)
// has let the user's program run, poststop when `delete` has destroyed the
// container. libcontainer runs the others (prestart, createRuntime,
// createContainer, startContainer) at their points inside create and start,
// with the state it builds: status "creating" during create, "created" for
// startContainer.

// runHooksWarn runs hooks in order with state on stdin. A failing hook is
// logged as a warning and the rest still run, and the operation goes on:
// what runtime-spec 1.0-1.2 asks for poststart and poststop hooks (1.3 makes
// a failing poststart hook an error; see docs/conformance.md).
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

// hookState is the state given to vmctr's own hooks: the container's OCI
// state (id, bundle, annotations) with the status of the hook's point in the
// lifecycle rather than the status of this instant. Poststart hooks get
// "running" and init's pid even if a short program has already exited:
// they run because the program was started. Poststop hooks get "stopped"
// and no pid (the spec requires one only while created or running).
// Preconditions: the caller holds the container's lock.
func hookState(c *libcontainer.Container, status specs.ContainerState) (*specs.State, error) {
	s, err := c.OCIState()
	if err != nil {
		return nil, fmt.Errorf("state for %s hooks: %w", status, err)
	}
	s.Status = status
	s.Pid = 0
	if status == specs.StateRunning || status == specs.StateCreated {
		ls, err := c.State()
		if err != nil {
			return nil, fmt.Errorf("state for %s hooks: %w", status, err)
		}
		s.Pid = ls.BaseState.InitProcessPid
	}
	return s, nil
}

// execWatch tells when a container's init has executed the user's program.
// libcontainer's Exec returns once init has been released, before init
// calls execve; the poststart hooks must wait for the execve itself. Init's
// executable before that is vmctr's sealed copy of itself, a file no
// container program can be, so a change of /proc/<pid>/exe marks the
// execve. A nil *execWatch waits for nothing.
type execWatch struct {
	pid      int
	dev, ino uint64
}

// watchExec notes init's executable before Exec releases it.
func watchExec(pid int) *execWatch {
	var st unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/exe", pid), &st); err != nil {
		logrus.Debugf("watching init %d for execve: %v", pid, err)
		return nil
	}
	return &execWatch{pid: pid, dev: st.Dev, ino: st.Ino}
}

// wait returns once init runs another executable or has exited (a zombie
// has no executable), or ctx is done.
func (w *execWatch) wait(ctx context.Context) {
	if w == nil {
		return
	}
	exe := fmt.Sprintf("/proc/%d/exe", w.pid)
	for delay := 50 * time.Microsecond; ; delay = min(2*delay, 5*time.Millisecond) {
		var st unix.Stat_t
		if err := unix.Stat(exe, &st); err != nil || st.Dev != w.dev || st.Ino != w.ino {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
}

// runPoststart runs the container's poststart hooks, once its program has
// been executed, warning on failure.
func runPoststart(ctx context.Context, c *libcontainer.Container, rec *Record, w *execWatch) {
	if len(rec.Poststart) == 0 {
		return
	}
	w.wait(ctx)
	s, err := hookState(c, specs.StateRunning)
	if err != nil {
		logrus.Warnf("poststart hooks not run: %v", err)
		return
	}
	runHooksWarn("poststart", rec.Poststart, s)
}
