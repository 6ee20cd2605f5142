package container

import (
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
	var fw *forwarder
	if run && !o.Detach {
		fw = newForwarder() // works in the background while we set up
		defer fw.stop()
	}
	spec, err := LoadSpec(bundle)
	if err != nil {
		return -1, err
	}
	rootfs := spec.Root.Path
	if !filepath.IsAbs(rootfs) {
		rootfs = filepath.Join(bundle, rootfs)
	}
	if fi, err := os.Stat(rootfs); err != nil || !fi.IsDir() {
		if err == nil {
			err = errors.New("not a directory")
		}
		return -1, fmt.Errorf("%w: root.path %s: %w", ErrInvalidSpec, rootfs, err)
	}
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
	if err := io.waitConsole(); err != nil {
		_ = p.Signal(unix.SIGKILL)
		_, _ = p.Wait()
		return -1, err
	}
	io.closePostStart()
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, p); err != nil {
			_ = p.Signal(unix.SIGKILL)
			_, _ = p.Wait()
			return -1, err
		}
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

func absOrEmpty(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	return filepath.Abs(p)
}

func addPreservedFDs(p *libcontainer.Process, n int) error {
	if n < 0 {
		return fmt.Errorf("--preserve-fds %d is negative", n)
	}
	for fd := 3; fd < 3+n; fd++ {
		if err := unix.FcntlFlock(uintptr(fd), unix.F_GETLK, &unix.Flock_t{}); errors.Is(err, unix.EBADF) {
			return fmt.Errorf("--preserve-fds: fd %d is not open", fd)
		}
		p.ExtraFiles = append(p.ExtraFiles, os.NewFile(uintptr(fd), "preserved-fd-"+strconv.Itoa(fd)))
	}
	return nil
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
