package container

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	_ "github.com/opencontainers/cgroups/devices" // registers the device-rules manager
	"github.com/opencontainers/cgroups/manager"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// CreateOpts describes a container to create from an OCI bundle.
type CreateOpts struct {
	Root   string // state root (--root)
	ID     string
	Bundle string // directory holding config.json; "" means the current directory
	// PidFile, if set, receives the init process's host PID before create returns.
	PidFile string
	IO      IO
	// PreserveFDs passes fds 3 .. 3+PreserveFDs-1 on to the process.
	PreserveFDs   int
	NoPivot       bool
	NoNewKeyring  bool
	SystemdCgroup bool
	// Detach (run only): return once the process runs instead of waiting.
	Detach bool
	// Keep (attached run only): leave the stopped container (state,
	// cgroups) for `delete` instead of deleting it when its process exits.
	Keep bool
	// SpecOpts are applied to the bundle's config after vmctr's own.
	SpecOpts []SpecOpt
}

// Create makes a container from a bundle and leaves its process waiting for
// Start (the OCI "created" state). The process is a child of the caller's
// subreaper once vmctr exits.
func Create(ctx context.Context, o CreateOpts) error {
	_, err := launch(ctx, o, false)
	return err
}

// Run creates and starts a container. Attached (not o.Detach), it forwards
// signals, waits for the process, deletes the container and returns the
// process's exit status.
func Run(ctx context.Context, o CreateOpts) (int, error) {
	return launch(ctx, o, true)
}

func launch(ctx context.Context, o CreateOpts, run bool) (_ int, retErr error) {
	if err := ValidateID(o.ID); err != nil {
		return -1, err
	}
	bundle, err := filepath.Abs(o.Bundle)
	if err != nil {
		return -1, err
	}
	// Relative paths are the caller's; resolve them before entering the bundle.
	if o.PidFile, err = absOrEmpty(o.PidFile); err != nil {
		return -1, err
	}
	if o.IO.ConsoleSocket, err = absOrEmpty(o.IO.ConsoleSocket); err != nil {
		return -1, err
	}
	if o.IO.PidfdSocket, err = absOrEmpty(o.IO.PidfdSocket); err != nil {
		return -1, err
	}
	var fw *forwarder
	if run && !o.Detach {
		fw = newForwarder() // works in the background while we set up
		defer fw.stop()
	}
	spec, err := LoadSpec(bundle)
	if err != nil {
		return -1, err
	}
	rootfs := filepath.Clean(spec.Root.Path)
	if !filepath.IsAbs(rootfs) {
		rootfs = filepath.Join(bundle, rootfs)
	}
	if fi, err := os.Stat(rootfs); err != nil || !fi.IsDir() {
		if err == nil {
			err = errors.New("not a directory")
		}
		return -1, fmt.Errorf("%w: root.path %s: %w", ErrInvalidSpec, rootfs, err)
	}
	if err := checkRootfs(rootfs); err != nil {
		return -1, err
	}
	spec.Root.Path = rootfs // absolute and clean, for specconv and init
	if o.SystemdCgroup {
		if fi, err := os.Lstat("/run/systemd/system"); err != nil || !fi.IsDir() {
			return -1, errors.New("--systemd-cgroup: the systemd cgroup driver is unavailable (systemd is not running: no /run/systemd/system); drop the flag to use cgroupfs")
		}
	}
	rec := &Record{ID: o.ID, Bundle: bundle, Annotations: spec.Annotations}
	opts, err := hostSpecOpts(o.ID, o.SystemdCgroup)
	if err != nil {
		return -1, err
	}
	for _, opt := range append(opts, o.SpecOpts...) {
		if err := opt(spec); err != nil {
			return -1, err
		}
	}
	splitHooks(spec, rec)
	rec.Process = spec.Process

	st := store{root: o.Root}
	unlock, err := st.lock(o.ID)
	if err != nil {
		return -1, err
	}
	defer func() { unlock() }()

	// specconv takes the bundle from the working directory, and the init
	// process resolves a relative root.path from it too.
	if err := os.Chdir(bundle); err != nil {
		return -1, fmt.Errorf("entering bundle: %w", err)
	}
	config, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{
		CgroupName:       o.ID,
		UseSystemdCgroup: o.SystemdCgroup,
		NoPivotRoot:      o.NoPivot,
		NoNewKeyring:     o.NoNewKeyring,
		Spec:             spec,
	})
	if err != nil {
		return -1, fmt.Errorf("%w: %w", ErrInvalidSpec, err)
	}
	dropBindMountData(config)
	if cm, err := manager.New(config.Cgroups); err == nil {
		rec.CgroupPaths = cm.GetPaths()
	} else {
		return -1, fmt.Errorf("cgroups: %w", err)
	}
	// An existing container's cgroup is in use: say which mistake it is.
	if _, err := os.Lstat(st.dir(o.ID)); err == nil {
		return -1, fmt.Errorf("container %q: %w", o.ID, ErrExist)
	}
	if !o.SystemdCgroup {
		if err := checkCgroupsUnused(rec.CgroupPaths); err != nil {
			return -1, err
		}
	}

	c, err := libcontainer.Create(o.Root, o.ID, config)
	if err != nil {
		if errors.Is(err, libcontainer.ErrExist) {
			return -1, fmt.Errorf("container %q: %w", o.ID, ErrExist)
		}
		return -1, fmt.Errorf("creating container %q: %w", o.ID, err)
	}
	keep := false
	defer func() {
		if !keep {
			if err := c.Destroy(); err != nil {
				logrus.Warnf("cleaning up %q: %v", o.ID, err)
			}
			removeLeftovers(st, rec)
		}
	}()
	rec.Created = time.Now().UTC()
	if err := st.saveRecord(rec); err != nil {
		return -1, err
	}

	p := newProcess(spec.Process, true)
	p.LogLevel = strconv.Itoa(int(logrus.GetLevel()))
	lateRlimits := deferRlimits(spec, config, p)
	if err := addPreservedFDs(p, o.PreserveFDs); err != nil {
		return -1, err
	}
	detach := !run || o.Detach
	io, err := setupIO(p, o.IO, spec.Process.Terminal, detach)
	if err != nil {
		return -1, err
	}
	defer io.Close()
	if fw != nil {
		fw.waitReady()
	}
	// Start leaves init waiting for Exec (the "created" state); run goes on
	// at once, after the limits init could not live with during its set-up.
	if err := c.Start(p); err != nil {
		return -1, fmt.Errorf("starting container process: %w", err)
	}
	if err := setLateRlimits(p, lateRlimits); err != nil {
		_ = p.Signal(unix.SIGKILL)
		_, _ = p.Wait()
		return -1, err
	}
	var w *execWatch
	if run && len(rec.Poststart) > 0 {
		if pid, err := p.Pid(); err == nil {
			w = watchExec(pid)
		}
	}
	if run {
		if err := c.Exec(); err != nil {
			_ = p.Signal(unix.SIGKILL)
			_, _ = p.Wait()
			return -1, fmt.Errorf("starting container process: %w", err)
		}
	}
	if err := handOver(p, io, o.PidFile); err != nil {
		return -1, err
	}
	keep = true
	if !run {
		return 0, nil
	}
	runPoststart(ctx, c, rec, w)
	if detach {
		return 0, nil
	}
	// Others may inspect, signal or exec into the container while we wait.
	unlock()
	status, err := fw.wait(p, io)
	if err != nil {
		return -1, err
	}
	if o.Keep {
		return status, nil
	}
	unlock, err = st.lock(o.ID)
	if err != nil {
		return status, err
	}
	if err := destroy(c, st, rec); err != nil {
		logrus.Warn(err)
	}
	return status, nil
}

// checkRootfs refuses a root file system that is the host's own root (the
// container would run on the host's files) or that is reached through a
// symlink: the container's root must be the directory config.json names.
// (libcontainer refuses symlinks too, with a vaguer message.)
func checkRootfs(rootfs string) error {
	real, err := filepath.EvalSymlinks(rootfs)
	if err != nil {
		return fmt.Errorf("%w: root.path %s: %w", ErrInvalidSpec, rootfs, err)
	}
	if real == "/" {
		return fmt.Errorf("%w: root.path %s is the host's root directory", ErrInvalidSpec, rootfs)
	}
	if real != rootfs {
		return fmt.Errorf("%w: root.path %s is, or goes through, a symlink (to %s): name the directory itself", ErrInvalidSpec, rootfs, real)
	}
	return nil
}

// checkCgroupsUnused refuses a container cgroup that already exists, in any
// hierarchy, and is in use: with processes or child cgroups in it. Such a
// cgroup is not vmctr's (the host's root cgroup, a service's or a pod
// manager's, /vmctr itself), and vmctr would set the container's limits on
// it, add the container's processes to it and remove it at delete.
// libcontainer checks for processes only in one hierarchy (devices) on
// cgroup v1. An existing empty leaf is allowed, as with runc: that is how an
// administrator hands a container a prepared cgroup (a real-time CPU
// budget, say).
func checkCgroupsUnused(paths map[string]string) error {
	for _, p := range paths {
		procs, err := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("checking cgroup %s: %w", p, err)
		}
		if len(bytes.TrimSpace(procs)) > 0 {
			return fmt.Errorf("%w: linux.cgroupsPath: container's cgroup is not empty: %s has processes in it (a container needs a cgroup of its own)", ErrInvalidSpec, p)
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return fmt.Errorf("checking cgroup %s: %w", p, err)
		}
		for _, e := range entries {
			if e.IsDir() {
				return fmt.Errorf("%w: linux.cgroupsPath: container's cgroup is not empty: %s has child cgroups (%s; a container needs a cgroup of its own)", ErrInvalidSpec, p, e.Name())
			}
		}
	}
	return nil
}

func absOrEmpty(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	return filepath.Abs(p)
}

// addPreservedFDs passes the caller's fds 3 .. 3+n-1 on to the process.
// Only fds vmctr inherited qualify. Every fd vmctr opens itself (the Go
// runtime's cgroup CPU limit files, the container's lock, ...) is
// close-on-exec, and an fd the caller means to pass on cannot be (it would
// not have survived the exec into vmctr): without this check, asking for
// more fds than the caller has would hand vmctr's own host fds to the
// container.
func addPreservedFDs(p *libcontainer.Process, n int) error {
	if n < 0 {
		return fmt.Errorf("--preserve-fds %d is negative", n)
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err == nil && uint64(n) > lim.Cur {
		return fmt.Errorf("--preserve-fds %d is more than vmctr's open files limit (%d)", n, lim.Cur)
	}
	for i := 0; i < n; i++ {
		fd := 3 + i
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil {
			return fmt.Errorf("--preserve-fds %d: fd %d is not open", n, fd)
		}
		if flags&unix.FD_CLOEXEC != 0 {
			return fmt.Errorf("--preserve-fds %d: fd %d is not open in the caller (it is one of vmctr's own)", n, fd)
		}
		p.ExtraFiles = append(p.ExtraFiles, os.NewFile(uintptr(fd), "preserved-fd-"+strconv.Itoa(fd)))
	}
	return nil
}

// handOver finishes a started process's set-up for the caller: the
// terminal handed over (attached terminal), the parent's copies of the
// child's stdio closed, the pid file written. On failure the process is
// killed and reaped.
func handOver(p *libcontainer.Process, io *stdio, pidFile string) error {
	err := io.waitConsole()
	if err == nil {
		io.closePostStart()
		if pidFile != "" {
			err = writePidFile(pidFile, p)
		}
	}
	if err != nil {
		_ = p.Signal(unix.SIGKILL)
		_, _ = p.Wait()
	}
	return err
}

// writePidFile writes the process's PID atomically (temp file + rename).
func writePidFile(path string, p *libcontainer.Process) error {
	pid, err := p.Pid()
	if err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("writing pid file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("writing pid file: %w", err)
	}
	return nil
}

// removeLeftovers removes what a failed or interrupted create may have left:
// cgroup directories vmctr recorded (only if empty) and the state dir.
func removeLeftovers(st store, rec *Record) {
	for _, p := range rec.CgroupPaths {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			logrus.Debugf("removing cgroup %s: %v", p, err)
		}
	}
	_ = os.RemoveAll(st.dir(rec.ID))
	st.removeLock(rec.ID)
}
