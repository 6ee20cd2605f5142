package container

import (
	"context"
	"fmt"
	"strconv"

	"github.com/opencontainers/runc/libcontainer"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
)

// ExecOpts describes a process to start in an existing container.
type ExecOpts struct {
	Root string
	ID   string
	// Process is the complete process to run (see DefaultExecProcess).
	Process     *specs.Process
	IO          IO
	Detach      bool
	PidFile     string
	PreserveFDs int
	// IgnorePaused lets the process start in a paused container; it runs
	// once the container is resumed.
	IgnorePaused bool
	// SubCgroups puts the process in a sub-cgroup of the container's:
	// controller (or "" for all, or cgroup v2) to a path relative to the
	// container's cgroup. The sub-cgroups must exist.
	SubCgroups map[string]string
}

// DefaultExecProcess returns the container's own process from config.json
// (user, env, capabilities, rlimits, ...), for callers that only change a few
// fields, as `vmctr exec ID CMD...` does.
func DefaultExecProcess(ctx context.Context, root, id string) (*specs.Process, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	// The record is all we need; Exec loads libcontainer's state anyway.
	rec, err := store{root: root}.loadRecord(id)
	if err != nil {
		// load says precisely what is wrong (no such container, ...).
		if _, rec, err = load(root, id); err != nil {
			return nil, err
		}
	}
	if rec.Process == nil {
		return nil, fmt.Errorf("container %q has no recorded process; use --process", id)
	}
	p := *rec.Process
	p.Terminal = false
	p.ConsoleSize = nil
	return &p, nil
}

// Exec starts a process in a created or running container. Attached, it
// waits and returns the process's exit status; detached, it returns 0 once
// the process runs.
func Exec(ctx context.Context, o ExecOpts) (int, error) {
	if err := ValidateProcess(o.Process); err != nil {
		return -1, err
	}
	// As at create: capabilities this host cannot grant are dropped with a
	// warning rather than failing the exec with EPERM.
	caps, err := grantableCaps()
	if err != nil {
		return -1, err
	}
	if err := withGrantableCaps(caps)(&specs.Spec{Process: o.Process}); err != nil {
		return -1, err
	}
	var fw *forwarder
	if !o.Detach {
		fw = newForwarder() // works in the background while we set up
		defer fw.stop()
	}
	c, _, err := load(o.Root, o.ID)
	if err != nil {
		return -1, err
	}
	status, err := c.Status()
	if err != nil {
		return -1, err
	}
	switch status {
	case libcontainer.Stopped:
		return -1, fmt.Errorf("cannot exec in a stopped container %q", o.ID)
	case libcontainer.Paused:
		if !o.IgnorePaused {
			return -1, fmt.Errorf("cannot exec in a paused container %q (resume it first, or use --ignore-paused)", o.ID)
		}
	}
	if o.PidFile, err = absOrEmpty(o.PidFile); err != nil {
		return -1, err
	}
	p := newProcess(o.Process, false)
	p.LogLevel = strconv.Itoa(int(logrus.GetLevel()))
	p.SubCgroupPaths = o.SubCgroups
	if err := addPreservedFDs(p, o.PreserveFDs); err != nil {
		return -1, err
	}
	io, err := setupIO(p, o.IO, o.Process.Terminal, o.Detach)
	if err != nil {
		return -1, err
	}
	defer io.Close()
	if fw != nil {
		fw.waitReady()
	}
	if err := c.Run(p); err != nil {
		// A delete racing with the exec shows as broken pipes inside
		// libcontainer: say what happened.
		if st, serr := c.Status(); serr == nil && st == libcontainer.Stopped {
			return -1, fmt.Errorf("exec in %q: the container stopped while the process was starting: %w", o.ID, err)
		}
		return -1, fmt.Errorf("exec in %q: %w", o.ID, err)
	}
	if err := handOver(p, io, o.PidFile); err != nil {
		return -1, err
	}
	if o.Detach {
		return 0, nil
	}
	return fw.wait(p, io)
}

// ValidateProcess checks a process for Exec as Exec does (args, an
// absolute cwd, known capabilities and rlimits), for callers that want to
// name the file or flag at fault first. Its errors are ErrInvalidProcess.
func ValidateProcess(p *specs.Process) error {
	if err := validateProcess(p); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidProcess, err)
	}
	return nil
}

// CheckCapability returns an ErrInvalidProcess error if name is not a
// capability Linux defines, spelled as in capabilities(7) ("CAP_NET_ADMIN").
func CheckCapability(name string) error {
	if !knownCapability(name) {
		return fmt.Errorf("%w: unknown capability %q (names are as in capabilities(7), e.g. CAP_NET_ADMIN)", ErrInvalidProcess, name)
	}
	return nil
}

// Processes lists the host PIDs of a container's processes.
func Processes(ctx context.Context, root, id string) ([]int, error) {
	c, _, err := load(root, id)
	if err != nil {
		return nil, err
	}
	pids, err := c.Processes()
	if err != nil {
		return nil, fmt.Errorf("listing processes of %q: %w", id, err)
	}
	if pids == nil {
		pids = []int{}
	}
	return pids, nil
}
