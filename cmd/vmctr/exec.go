package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"

	"github.com/vmctr/vmctr/container"
)

var execCommand = &cli.Command{
	Name:      "exec",
	Category:  catRunc,
	Usage:     "run a process in a created or running container",
	ArgsUsage: "<container-id> [command [args...]]",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "process", Aliases: []string{"p"}, Usage: "JSON file with the whole process (OCI process object); - for stdin"},
		&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "give the process a terminal"},
		&cli.StringFlag{Name: "console-socket", Usage: "AF_UNIX socket that receives the pty master (with --tty --detach)"},
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "return once the process runs"},
		&cli.StringFlag{Name: "pid-file", Usage: "write the process's PID to this file"},
		&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "add or replace an environment variable (NAME=value)"},
		&cli.StringFlag{Name: "cwd", Usage: "working directory in the container"},
		&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "UID[:GID] to run as"},
		&cli.Int64SliceFlag{Name: "additional-gids", Aliases: []string{"g"}, Usage: "additional group IDs"},
		&cli.StringSliceFlag{Name: "cap", Aliases: []string{"c"}, Usage: "add a capability (CAP_NAME)"},
		&cli.BoolFlag{Name: "no-new-privs", Usage: "set no_new_privs for the process"},
		&cli.StringFlag{Name: "apparmor", Usage: "AppArmor profile for the process"},
		&cli.StringFlag{Name: "process-label", Usage: "SELinux label for the process"},
		&cli.IntFlag{Name: "preserve-fds", Usage: "pass this many extra fds (from 3 up) to the process"},
		&cli.StringFlag{Name: "pidfd-socket", Usage: "AF_UNIX socket that receives a pidfd of the process"},
		&cli.StringSliceFlag{Name: "cgroup", Usage: "run the process in an existing sub-cgroup of the container's: [CONTROLLER[,CONTROLLER...]:]PATH (repeatable on cgroup v1)"},
		&cli.BoolFlag{Name: "ignore-paused", Usage: "exec in a paused container too (the process runs once it is resumed)"},
	},
	Action: func(c *cli.Context) error {
		if err := args(c, 1, -1); err != nil {
			return err
		}
		id := c.Args().First()
		p, err := execProcess(c, id)
		if err != nil {
			return codeError{err, 255}
		}
		sub, err := parseSubCgroups(c.StringSlice("cgroup"))
		if err != nil {
			return codeError{err, 255}
		}
		status, err := container.Exec(c.Context, container.ExecOpts{
			Root:         c.String("root"),
			ID:           id,
			Process:      p,
			IO:           container.IO{ConsoleSocket: c.String("console-socket"), PidfdSocket: c.String("pidfd-socket")},
			Detach:       c.Bool("detach"),
			PidFile:      c.String("pid-file"),
			PreserveFDs:  c.Int("preserve-fds"),
			IgnorePaused: c.Bool("ignore-paused"),
			SubCgroups:   sub,
		})
		if err != nil {
			return codeError{err, 255}
		}
		if status != 0 {
			return exitError{status}
		}
		return nil
	},
}

// execProcess builds the process to exec: the --process file as it is, or
// the container's own process with the command line and flags applied.
func execProcess(c *cli.Context, id string) (*specs.Process, error) {
	if path := c.String("process"); path != "" {
		var b []byte
		var err error
		if path == "-" {
			b, err = readAllStdin()
		} else {
			b, err = container.ReadConfigFile(path)
		}
		if err != nil {
			return nil, fmt.Errorf("reading --process: %w", err)
		}
		var p specs.Process
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, fmt.Errorf("--process %s: malformed JSON: %w", path, err)
		}
		if err := container.ValidateProcess(&p); err != nil {
			return nil, fmt.Errorf("--process %s: %w", path, err)
		}
		if c.Bool("tty") {
			p.Terminal = true
		}
		return &p, nil
	}
	if c.NArg() < 2 {
		return nil, fmt.Errorf("exec: no command given (pass it after the container ID, or use --process)")
	}
	p, err := container.DefaultExecProcess(c.Context, c.String("root"), id)
	if err != nil {
		return nil, err
	}
	p.Args = c.Args().Slice()[1:]
	p.Terminal = c.Bool("tty")
	if cwd := c.String("cwd"); cwd != "" {
		if !filepath.IsAbs(cwd) {
			return nil, fmt.Errorf("--cwd %q: %w: not an absolute path", cwd, container.ErrInvalidProcess)
		}
		p.Cwd = cwd
	}
	p.Env = mergeEnv(p.Env, c.StringSlice("env"))
	if u := c.String("user"); u != "" {
		uid, gid, hasGID, err := parseUser(u)
		if err != nil {
			return nil, err
		}
		p.User.UID = uid
		if hasGID { // as runc: without :GID the config's GID stays
			p.User.GID = gid
		}
	}
	for _, g := range c.Int64Slice("additional-gids") {
		if g < 0 {
			return nil, fmt.Errorf("--additional-gids: %d is negative", g)
		}
		p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(g))
	}
	if caps := c.StringSlice("cap"); len(caps) > 0 {
		if p.Capabilities == nil {
			p.Capabilities = &specs.LinuxCapabilities{}
		} else {
			cp := *p.Capabilities
			p.Capabilities = &cp
		}
		for _, cp := range caps {
			if err := container.CheckCapability(cp); err != nil {
				return nil, fmt.Errorf("--cap: %w", err)
			}
			p.Capabilities.Bounding = append(p.Capabilities.Bounding, cp)
			p.Capabilities.Effective = append(p.Capabilities.Effective, cp)
			p.Capabilities.Permitted = append(p.Capabilities.Permitted, cp)
			// As runc: an ambient capability needs the inheritable bit,
			// which --cap does not set; where the config has an
			// inheritable set, --cap adds the capability to ambient too.
			if p.Capabilities.Inheritable != nil {
				p.Capabilities.Ambient = append(p.Capabilities.Ambient, cp)
			}
		}
	}
	if c.IsSet("no-new-privs") {
		p.NoNewPrivileges = c.Bool("no-new-privs")
	}
	if a := c.String("apparmor"); a != "" {
		p.ApparmorProfile = a
	}
	if l := c.String("process-label"); l != "" {
		p.SelinuxLabel = l
	}
	return p, nil
}

// parseSubCgroups reads exec's --cgroup values: one PATH (every controller;
// the only form on cgroup v2), or any number of CONTROLLER[,CONTROLLER...]:PATH
// (cgroup v1). PATH is relative to the container's cgroup; libcontainer
// refuses one that leaves it.
func parseSubCgroups(args []string) (map[string]string, error) {
	if len(args) == 0 {
		return nil, nil
	}
	paths := map[string]string{}
	for _, a := range args {
		ctrls, p, ok := strings.Cut(a, ":")
		if !ok {
			if len(args) > 1 {
				return nil, fmt.Errorf("--cgroup %q: with several --cgroup, each needs a CONTROLLER: prefix", a)
			}
			paths[""] = a
			continue
		}
		for _, ctrl := range strings.Split(ctrls, ",") {
			if ctrl == "" {
				return nil, fmt.Errorf("--cgroup %q: empty controller name", a)
			}
			if _, dup := paths[ctrl]; dup {
				return nil, fmt.Errorf("--cgroup: controller %s given more than once", ctrl)
			}
			paths[ctrl] = p
		}
	}
	return paths, nil
}

// parseUser reads --user UID[:GID]; hasGID says whether a GID was given.
func parseUser(s string) (uid, gid uint32, hasGID bool, err error) {
	us, gs, hasGID := strings.Cut(s, ":")
	u, err := strconv.ParseUint(us, 10, 32)
	if err != nil {
		return 0, 0, false, fmt.Errorf("--user %q: want numeric UID[:GID]", s)
	}
	if hasGID {
		g, err := strconv.ParseUint(gs, 10, 32)
		if err != nil {
			return 0, 0, false, fmt.Errorf("--user %q: want numeric UID[:GID]", s)
		}
		gid = uint32(g)
	}
	return uint32(u), gid, hasGID, nil
}

// mergeEnv sets each NAME=value of add in env, replacing an earlier NAME.
func mergeEnv(env, add []string) []string {
	out := append([]string(nil), env...)
	for _, kv := range add {
		name, _, _ := strings.Cut(kv, "=")
		replaced := false
		for i, e := range out {
			if n, _, _ := strings.Cut(e, "="); n == name {
				out[i], replaced = kv, true
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}
