package container

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/moby/sys/user"
	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/manager"
	"github.com/opencontainers/runc/libcontainer"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// State is what `state` prints and `list --format json` prints a list of:
// the OCI state plus runc's extra fields, in runc's JSON shape.
type State struct {
	Version     string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Owner       string            `json:"owner"`
}

// load opens an existing container. An ID whose state dir holds only
// vmctr's record (a create that was killed midway) yields ErrNotExist and
// that record.
func load(root, id string) (*libcontainer.Container, *Record, error) {
	if err := ValidateID(id); err != nil {
		return nil, nil, err
	}
	st := store{root: root}
	rec, recErr := st.loadRecord(id)
	c, err := libcontainer.Load(root, id)
	if err != nil {
		if errors.Is(err, libcontainer.ErrNotExist) {
			if recErr == nil {
				return nil, rec, fmt.Errorf("container %q: %w (its creation was interrupted)", id, ErrNotExist)
			}
			return nil, nil, fmt.Errorf("container %q: %w", id, ErrNotExist)
		}
		return nil, rec, fmt.Errorf("loading container %q: %w", id, err)
	}
	if recErr != nil {
		// Created by another tool or a damaged record: carry on without it.
		logrus.Debugf("container %q has no vmctr record: %v", id, recErr)
		rec = &Record{ID: id}
	}
	return c, rec, nil
}

func stateOf(root string, c *libcontainer.Container, rec *Record) (*State, error) {
	ls, err := c.State()
	if err != nil {
		return nil, err
	}
	status, err := c.Status()
	if err != nil {
		return nil, err
	}
	s := &State{
		Version:     specs.Version,
		ID:          c.ID(),
		Status:      status.String(),
		Bundle:      rec.Bundle,
		Rootfs:      ls.BaseState.Config.Rootfs,
		Created:     ls.BaseState.Created,
		Annotations: rec.Annotations,
		Owner:       ownerOf(store{root: root}.dir(c.ID())),
	}
	if status != libcontainer.Stopped {
		s.Pid = ls.BaseState.InitProcessPid
	}
	if s.Bundle == "" {
		for _, l := range ls.Config.Labels {
			if b, ok := strings.CutPrefix(l, "bundle="); ok {
				s.Bundle = b
			}
		}
	}
	return s, nil
}

// ownerOf names the user owning a state dir, as runc's "owner" field does.
func ownerOf(dir string) string {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return ""
	}
	if u, err := user.LookupUid(int(st.Uid)); err == nil {
		return u.Name
	}
	return strconv.Itoa(int(st.Uid))
}

// GetState reports one container's state.
func GetState(ctx context.Context, root, id string) (*State, error) {
	c, rec, err := load(root, id)
	if err != nil {
		return nil, err
	}
	return stateOf(root, c, rec)
}

// List reports every container under root, sorted by ID. A container whose
// creation was interrupted is listed as stopped so that it can be deleted.
func List(ctx context.Context, root string) ([]State, error) {
	st := store{root: root}
	ids, err := st.ids()
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", root, err)
	}
	out := []State{}
	for _, id := range ids {
		c, rec, err := load(root, id)
		if err != nil {
			if errors.Is(err, ErrNotExist) && rec != nil {
				out = append(out, State{Version: specs.Version, ID: id, Status: "stopped", Bundle: rec.Bundle, Created: rec.Created, Annotations: rec.Annotations})
			} else if !errors.Is(err, ErrNotExist) {
				logrus.Warnf("skipping %q: %v", id, err)
			}
			continue
		}
		s, err := stateOf(root, c, rec)
		if err != nil {
			logrus.Warnf("skipping %q: %v", id, err)
			continue
		}
		out = append(out, *s)
	}
	return out, nil
}

// Start lets a created container's process run, then runs its poststart hooks.
func Start(ctx context.Context, root, id string) error {
	return locked(root, id, func(c *libcontainer.Container, rec *Record) error {
		status, err := c.Status()
		if err != nil {
			return err
		}
		switch status {
		case libcontainer.Created:
		case libcontainer.Stopped:
			return fmt.Errorf("cannot start a container that has stopped")
		case libcontainer.Running:
			return fmt.Errorf("cannot start an already running container")
		default:
			return fmt.Errorf("cannot start a container in the %s state", status)
		}
		var w *execWatch
		if len(rec.Poststart) > 0 {
			if ls, err := c.State(); err == nil {
				w = watchExec(ls.BaseState.InitProcessPid)
			}
		}
		if err := c.Exec(); err != nil {
			return fmt.Errorf("starting container %q: %w", id, err)
		}
		runPoststart(ctx, c, rec, w)
		return nil
	})
}

// ParseSignal reads a signal by number ("9"), name ("KILL") or full name
// ("SIGKILL"). Signal 0, as with kill(1), only checks that the container's
// init is alive.
func ParseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal number %d", n)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}

// Kill sends sig to the container's init, or with all to every process in
// its cgroup. A container without its own PID namespace is not over when
// its init is: SIGKILL then goes to every process in its cgroup, whether or
// not init still runs (libcontainer does this), so that none is left behind.
func Kill(ctx context.Context, root, id string, sig unix.Signal, all bool) error {
	c, _, err := load(root, id)
	if err != nil {
		return err
	}
	status, err := c.Status()
	if err != nil {
		return err
	}
	if !all {
		if err := c.Signal(sig); err != nil {
			if errors.Is(err, libcontainer.ErrNotRunning) {
				return fmt.Errorf("container %q: %w", id, ErrNotRunning)
			}
			return fmt.Errorf("signalling %q: %w", id, err)
		}
		return nil
	}
	pids, err := c.Processes()
	if err != nil {
		if status == libcontainer.Stopped {
			return nil // nothing left to signal: what the caller wanted
		}
		return fmt.Errorf("listing processes of %q: %w", id, err)
	}
	for _, pid := range pids {
		if err := unix.Kill(pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("signalling %d: %w", pid, err)
		}
	}
	if sig == unix.SIGKILL && status == libcontainer.Paused {
		_ = c.Resume() // a frozen process cannot die
	}
	return nil
}

// Delete removes a container. A running or paused container is only
// deleted with force (its processes are killed first). A container that does
// not exist is an error unless force is set, as with runc.
func Delete(ctx context.Context, root, id string, force bool) error {
	if err := ValidateID(id); err != nil {
		return err
	}
	st := store{root: root}
	unlock, err := st.lock(id)
	if err != nil {
		return err
	}
	defer unlock()
	c, rec, err := load(root, id)
	if err != nil {
		if errors.Is(err, ErrNotExist) {
			if rec != nil { // interrupted create: undo what its record names
				killCgroupProcs(rec.CgroupPaths)
				removeLeftovers(st, rec)
				return nil
			}
			if _, serr := os.Stat(st.dir(id)); serr == nil {
				_ = os.RemoveAll(st.dir(id))
				st.removeLock(id)
				return nil
			}
			st.removeLock(id)
			if force {
				return nil
			}
		}
		if force {
			// libcontainer cannot read its state (a torn state.json):
			// undo what vmctr's record names. Without a record either
			// (both empty after a machine crash), the container's cgroup
			// is taken to be the default one, /vmctr/<id>.
			if rec == nil || rec.CgroupPaths == nil {
				rec = &Record{ID: id, CgroupPaths: defaultCgroupPaths(id)}
				logrus.Warnf("container %q: %v; no usable record either: removing its state and the default cgroup %s/%s", id, err, CgroupParent, id)
			} else {
				logrus.Warnf("container %q: %v; removing what its record names", id, err)
			}
			killCgroupProcs(rec.CgroupPaths)
			removeLeftovers(st, rec)
			return nil
		}
		return err
	}
	status, err := c.Status()
	if err != nil {
		return err
	}
	switch status {
	case libcontainer.Stopped:
	case libcontainer.Created:
		if err := killAndWait(c); err != nil {
			return err
		}
	default:
		if !force {
			return fmt.Errorf("cannot delete container %s that is not stopped: %s (use --force)", id, status)
		}
		if err := killAndWait(c); err != nil {
			return err
		}
	}
	return destroy(c, st, rec)
}

// destroy removes a stopped container's cgroups and state, then runs its
// poststop hooks. Preconditions: the caller holds the container's lock.
func destroy(c *libcontainer.Container, st store, rec *Record) error {
	var s *specs.State
	if len(rec.Poststop) > 0 {
		var err error
		if s, err = hookState(c, specs.StateStopped); err != nil {
			logrus.Warnf("poststop hooks not run: %v", err)
		}
	}
	if err := c.Destroy(); err != nil {
		return fmt.Errorf("deleting %q: %w", c.ID(), err)
	}
	removeLeftovers(st, rec)
	if s != nil {
		runHooksWarn("poststop", rec.Poststop, s)
	}
	return nil
}

// killAndWait kills every process of the container and waits (up to 10s)
// for its init to be gone.
func killAndWait(c *libcontainer.Container) error {
	ls, err := c.State()
	if err != nil {
		return err
	}
	pid := ls.BaseState.InitProcessPid
	pidfd, perr := unix.PidfdOpen(pid, 0)
	if err := c.Signal(unix.SIGKILL); err != nil && !errors.Is(err, libcontainer.ErrNotRunning) {
		logrus.Debugf("killing %q: %v", c.ID(), err)
	}
	if pids, err := c.Processes(); err == nil {
		for _, p := range pids {
			_ = unix.Kill(p, unix.SIGKILL)
		}
	}
	if perr != nil {
		return nil // already gone
	}
	defer unix.Close(pidfd)
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := unix.Poll(fds, int(time.Until(deadline).Milliseconds()))
		if err == unix.EINTR {
			continue
		}
		if n > 0 {
			return nil
		}
		if time.Now().After(deadline) || err != nil {
			return fmt.Errorf("container %q: init %d still running after SIGKILL", c.ID(), pid)
		}
	}
}

// defaultCgroupPaths are the cgroup directories of a container created with
// an empty cgroupsPath, in every hierarchy; nil if they cannot be worked out.
func defaultCgroupPaths(id string) map[string]string {
	cm, err := manager.New(&cgroups.Cgroup{Path: path.Join(CgroupParent, id), Resources: &cgroups.Resources{}})
	if err != nil {
		logrus.Debugf("default cgroup of %q: %v", id, err)
		return nil
	}
	return cm.GetPaths()
}

// killCgroupProcs kills what runs in the given cgroup directories; used for
// containers whose creation was interrupted, which libcontainer cannot load.
func killCgroupProcs(paths map[string]string) {
	for _, p := range paths {
		b, err := os.ReadFile(p + "/cgroup.procs")
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				logrus.Debugf("reading %s: %v", p, err)
			}
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				_ = unix.Kill(pid, unix.SIGKILL)
			}
		}
	}
	// Give the kernel a moment to empty the cgroups before they are removed.
	for i := 0; i < 50; i++ {
		busy := false
		for _, p := range paths {
			if b, err := os.ReadFile(p + "/cgroup.procs"); err == nil && len(strings.TrimSpace(string(b))) > 0 {
				busy = true
			}
		}
		if !busy {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Pause freezes every process of a running container.
func Pause(ctx context.Context, root, id string) error {
	return locked(root, id, func(c *libcontainer.Container, _ *Record) error {
		if err := c.Pause(); err != nil {
			return fmt.Errorf("pausing %q: %w", id, err)
		}
		return nil
	})
}

// Resume thaws a paused container.
func Resume(ctx context.Context, root, id string) error {
	return locked(root, id, func(c *libcontainer.Container, _ *Record) error {
		if err := c.Resume(); err != nil {
			return fmt.Errorf("resuming %q: %w", id, err)
		}
		return nil
	})
}

// locked loads a container under its lock and calls fn.
func locked(root, id string, fn func(*libcontainer.Container, *Record) error) error {
	if err := ValidateID(id); err != nil {
		return err
	}
	unlock, err := store{root: root}.lock(id)
	if err != nil {
		return err
	}
	defer unlock()
	c, rec, err := load(root, id)
	if err != nil {
		return err
	}
	return fn(c, rec)
}
