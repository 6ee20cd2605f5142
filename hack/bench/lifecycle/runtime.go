package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// runner runs a function in a fixed mount namespace; processes started by
// the function inherit that namespace.
type runner interface {
	do(func())
}

// hostRunner runs in the benchmark's own (the host's) mount namespace.
type hostRunner struct{}

func (hostRunner) do(f func()) { f() }

// privateRunner runs functions on one locked OS thread that has a private
// mount namespace in which the cgroup2 hierarchy of a hybrid layout shows
// no controllers: an empty file is bind-mounted over its cgroup.controllers.
// crun 1.8 refuses hybrid layouts with controllers on v2 ("cgroups in hybrid
// mode not supported"); this way it runs and creates the same cgroups as the
// other runtimes, v2 one included. (Unmounting the v2 hierarchy instead makes
// crun, which still finds "0::/" in /proc/self/cgroup, create directories and
// a cgroup.procs file in the tmpfs below the mount point, where the host
// cannot see them to clean them up.) The host's mounts are not touched: the
// namespace is made rprivate before the bind mount, and it dies with the
// thread.
type privateRunner struct {
	reqs chan func()
}

func newPrivateRunner(unified, empty string) (*privateRunner, error) {
	r := &privateRunner{reqs: make(chan func())}
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: Go ends the thread when this goroutine returns,
		// so no other goroutine ever runs in this namespace.
		runtime.LockOSThread()
		target := filepath.Join(unified, "cgroup.controllers")
		err := unix.Unshare(unix.CLONE_NEWNS | unix.CLONE_FS)
		if err != nil {
			err = fmt.Errorf("unshare mount namespace: %w", err)
		} else if err = unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			err = fmt.Errorf("making the private mount namespace rprivate: %w", err)
		} else if err = unix.Mount(empty, target, "", unix.MS_BIND, ""); err != nil {
			err = fmt.Errorf("hiding %s in the private mount namespace: %w", target, err)
		}
		errc <- err
		if err != nil {
			return
		}
		for f := range r.reqs {
			f()
		}
	}()
	if err := <-errc; err != nil {
		return nil, err
	}
	return r, nil
}

func (r *privateRunner) do(f func()) {
	done := make(chan struct{})
	r.reqs <- func() { f(); close(done) }
	<-done
}

func (r *privateRunner) close() { close(r.reqs) }

// rt is one runtime under test: its binary, its own state root and the
// mount namespace it runs in. "bare" is the unshare+chroot baseline, which
// only takes part in `run`.
type rt struct {
	name    string
	path    string
	version string
	root    string // --root, private to this benchmark
	logDir  string // stdout/stderr of the last command
	bundles string // one bundle dir per container
	bare    bool
	run     runner
	// live are the containers created and not yet deleted, with their
	// init's PID (0 if unknown); cleanup deletes them.
	live map[string]int
}

// result is the outcome of one timed command.
type result struct {
	d      time.Duration
	stdout []byte
}

// timed runs one command of the runtime and times it from fork to reaping.
// stdin is /dev/null; stdout and stderr go to files (not pipes: a
// container's process inherits them, and a pipe would keep Wait waiting).
// Children get their own process group, so a ^C at the terminal reaches
// only the benchmark, which then cleans up.
func (r *rt) timed(args ...string) (result, error) {
	var argv []string
	if r.bare {
		argv = args
	} else {
		argv = append([]string{r.path, "--root", r.root}, args...)
	}
	outPath, errPath := filepath.Join(r.logDir, "stdout"), filepath.Join(r.logDir, "stderr")
	stdout, err := os.Create(outPath)
	if err != nil {
		return result{}, err
	}
	defer stdout.Close()
	stderr, err := os.Create(errPath)
	if err != nil {
		return result{}, err
	}
	defer stderr.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var d time.Duration
	r.run.do(func() {
		t0 := time.Now()
		err = cmd.Start()
		if err == nil {
			err = cmd.Wait()
		}
		d = time.Since(t0)
	})
	if err != nil {
		msg, _ := os.ReadFile(errPath)
		return result{}, fmt.Errorf("%s %s: %w: %s", r.name, strings.Join(args, " "), err, lastLines(msg, 5))
	}
	out, _ := os.ReadFile(outPath)
	return result{d: d, stdout: out}, nil
}

// quiet runs an untimed command and ignores its outcome (cleanup paths).
func (r *rt) quiet(args ...string) {
	_, _ = r.timed(args...)
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// pidFile is where create writes the container's init PID.
func (r *rt) pidFile(id string) string { return filepath.Join(r.logDir, id+".pid") }

// create runs `create --pid-file` (as containerd's shim and conmon do) and
// records the new container.
func (r *rt) create(bundle, id string) (result, error) {
	pf := r.pidFile(id)
	r.live[id] = 0
	res, err := r.timed("create", "--bundle", bundle, "--pid-file", pf, id)
	if b, rerr := os.ReadFile(pf); rerr == nil {
		if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil {
			r.live[id] = pid
		}
		_ = os.Remove(pf)
	}
	return res, err
}

// killAndReap sends SIGKILL to a container through the runtime and waits
// for its init to exit, reaping it (the benchmark is the child subreaper of
// every container it creates).
func (r *rt) killAndReap(id string) {
	pid := r.live[id]
	fd := -1
	if pid > 0 {
		fd, _ = unix.PidfdOpen(pid, 0)
	}
	r.quiet("kill", id, "KILL")
	reap(pid, fd)
}

// reap waits up to 10 s for pid (with pidfd fd, or -1) to exit and reaps it
// if it is our child. It closes fd.
func reap(pid, fd int) {
	if pid <= 0 {
		return
	}
	if fd >= 0 {
		defer unix.Close(fd)
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			n, err := unix.Poll(fds, int(time.Until(deadline).Milliseconds())+1)
			if n > 0 || (err != nil && !errors.Is(err, unix.EINTR)) {
				break
			}
		}
	}
	var ws unix.WaitStatus
	_, _ = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
}

// remove deletes a container that has stopped (untimed) and forgets it.
func (r *rt) remove(id string) {
	r.quiet("delete", "--force", id)
	delete(r.live, id)
}

// cleanup kills and deletes every container this runtime still has, both
// those we track and any its `list` reports under our private root.
func (r *rt) cleanup() {
	if r.bare {
		return
	}
	for id := range r.live {
		r.killAndReap(id)
		r.remove(id)
	}
	if res, err := r.timed("list", "-q"); err == nil {
		for _, id := range strings.Fields(string(res.stdout)) {
			r.quiet("kill", id, "KILL")
			r.quiet("delete", "--force", id)
		}
	}
}

// versionOf returns the first line of `path --version`.
func versionOf(path string) string {
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return "unknown"
	}
	line, _, _ := bytes.Cut(out, []byte("\n"))
	return strings.TrimSpace(string(line))
}
