package main

// End-to-end regression tests from running runc's bats suite against vmctr
// (hack/runc-compat.sh) and from an adversarial pass: fds leaking into
// containers, hostile IDs and configs, cgroups vmctr does not own, state
// roots others can write, concurrency, SIGKILLed vmctr, exec racing delete.
// The long loops (soak) run only with VMCTR_SOAK=1. docs/runc-compat.md has
// the findings.

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/vmctr/vmctr/container"
)

// soak reports whether the long loops run (VMCTR_SOAK=1).
func soak() bool { return os.Getenv("VMCTR_SOAK") != "" }

// procFDs lists the fd numbers process pid has open.
func procFDs(t *testing.T, pid int) []int {
	t.Helper()
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	var fds []int
	for _, e := range entries {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			fds = append(fds, n)
		}
	}
	slices.Sort(fds)
	return fds
}

// waitExecd waits until process pid runs prog (argv[0]), that is until
// it has left vmctr's init and closed init's own fds.
func waitExecd(t *testing.T, pid int, prog string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.HasPrefix(string(cmdline), prog+"\x00") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d did not execve %s within 10s (cmdline %q)", pid, prog, cmdline)
		}
	}
}

// Only 0, 1 and 2 (plus what --preserve-fds names) reach a container's
// processes, whatever the caller has open; --preserve-fds cannot reach past
// the caller's fds into vmctr's own (the Go runtime keeps host cgroup files
// open) and is bounded.
func TestE2EHardeningFDs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle()
	extra := func(n int) func(*exec.Cmd) {
		return func(cmd *exec.Cmd) {
			for i := 0; i < n; i++ {
				f, err := os.Open("/etc/hostname")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { f.Close() })
				cmd.ExtraFiles = append(cmd.ExtraFiles, f)
			}
		}
	}
	id := e.newID()
	if r := e.run(extra(3), "create", "--bundle", b.dir, id); r.code != 0 {
		t.Fatalf("create: %s", r)
	}
	e.ok("start", id)
	pid := e.state(id).Pid
	// start returns once init has been released, which may be before
	// init's execve closes its own pipes: look once it runs sleep.
	waitExecd(t, pid, "sleep")
	if fds := procFDs(t, pid); !slices.Equal(fds, []int{0, 1, 2}) {
		t.Errorf("container init has fds %v, want [0 1 2]", fds)
	}
	pidFile := filepath.Join(e.dir, "exec.pid")
	if r := e.run(extra(3), "exec", "-d", "--pid-file", pidFile, id, "sleep", "600"); r.code != 0 {
		t.Fatalf("exec -d: %s", r)
	}
	epid, err := strconv.Atoi(strings.TrimSpace(waitFile(t, pidFile)))
	if err != nil {
		t.Fatal(err)
	}
	// The pid file names the process as soon as it exists, while it may
	// still be vmctr's init (with its own sync and log pipes) on its way to
	// execve.
	waitExecd(t, epid, "sleep")
	if fds := procFDs(t, epid); !slices.Equal(fds, []int{0, 1, 2}) {
		t.Errorf("exec'd process has fds %v, want [0 1 2]", fds)
	}
	if r := e.run(extra(2), "exec", "--preserve-fds", "2", id, "ls", "/proc/self/fd/3", "/proc/self/fd/4"); r.code != 0 {
		t.Errorf("exec --preserve-fds 2 with two fds: %s", r)
	}

	// More than the caller passed: fd 4 on is vmctr's own.
	for _, cmd := range [][]string{
		{"exec", "--preserve-fds", "3", id, "true"},
		{"run", "--preserve-fds", "3", "--bundle", b.dir, e.newID()},
	} {
		r := e.run(extra(1), cmd...)
		if r.code == 0 || !strings.Contains(r.stderr, "fd 4 is not open") {
			t.Errorf("%s with one fd: %s; want the error about fd 4", strings.Join(cmd[:2], " "), r)
		}
	}
	e.fail("open files limit", "run", "--preserve-fds", "9223372036854775807", "--bundle", b.dir, e.newID())
	e.fail("open files limit", "exec", "--preserve-fds", "2147483647", id, "true")
}

// The host's root directory is no container's root file system, and
// root.path is taken as written (no symlinks).
func TestE2EHardeningRootfs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle("true")
	if err := os.Symlink("/", filepath.Join(b.dir, "slash")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("rootfs", filepath.Join(b.dir, "link")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{"/", "host's root directory"},
		{"slash", "host's root directory"},
		{"link", "symlink"},
	} {
		b.spec.Root.Path = tc.path
		b.save()
		id := e.newID()
		e.fail(tc.want, "run", "--bundle", b.dir, id)
		e.checkNoLeftovers(id)
	}
	// A clean path with ".." in it is fine.
	b.spec.Root.Path = filepath.Join(b.dir, "..", filepath.Base(b.dir), "rootfs")
	b.save()
	e.ok("run", "--bundle", b.dir, e.newID())
}

// vmctr never takes over a cgroup that is in use: one with processes (a
// running container's, or the root cgroup) or with child cgroups (a parent
// of others, such as /vmctr itself).
func TestE2EHardeningCgroupInUse(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle()
	owner := e.newID()
	b.spec.Linux.CgroupsPath = "/vmctr/" + owner
	b.save()
	e.ok("run", "-d", "--bundle", b.dir, owner)

	child := e.newID()
	b.spec.Linux.CgroupsPath = "/vmctr/" + owner + "-parent/" + child
	b.save()
	// Cleanups run last first: this one before the env's.
	t.Cleanup(func() {
		e.run(nil, "delete", "--force", child)
		for _, d := range cgroupDirs(owner + "-parent") { // parents stay, as with runc
			_ = os.Remove(d)
		}
	})
	e.ok("run", "-d", "--bundle", b.dir, child)

	for _, tc := range []struct{ path, want string }{
		{"/vmctr/" + owner, "has processes"},
		{"/vmctr/" + owner + "-parent", "has child cgroups"},
		{"/", "is not empty"}, // processes, or child cgroups in some hierarchy
	} {
		b.spec.Linux.CgroupsPath = tc.path
		b.save()
		id := e.newID()
		e.fail(tc.want, "create", "--bundle", b.dir, id)
		e.checkNoLeftovers(id)
	}
	if s := e.state(owner); s.Status != "running" {
		t.Errorf("the cgroup's owner is %s after the refused creates", s.Status)
	}
	// A duplicate ID is that, not a cgroup in use.
	b.spec.Linux.CgroupsPath = ""
	b.save()
	e.fail("already exists", "create", "--bundle", b.dir, owner)
}

// A state root that others can write to is refused before anything is
// created in it.
func TestE2EHardeningStateRoot(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle()
	open := filepath.Join(e.dir, "open-root")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil { // past the umask
		t.Fatal(err)
	}
	id := e.newID()
	t.Cleanup(func() { e.run(nil, "--root", open, "delete", "--force", id) }) // should it have been made
	r := e.run(nil, "--root", open, "run", "-d", "--bundle", b.dir, id)       // the last --root wins
	if r.code == 0 || !strings.Contains(r.stderr, "writable by its group or by others") {
		t.Errorf("run with a 0777 root: %s", r)
	}
	if entries, _ := os.ReadDir(open); len(entries) != 0 {
		t.Errorf("the refused root has %v in it", entries)
	}
	if len(cgroupDirs(id)) != 0 {
		t.Errorf("cgroups made for a refused root: %v", cgroupDirs(id))
	}
}

// Hostile IDs are refused with a clear message; odd but valid ones work
// end to end.
func TestE2EHardeningIDs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle()
	for _, tc := range []struct{ id, want string }{
		{"é", "non-ASCII byte 0xc3"},
		{strings.Repeat("a", 256), "longer than the 255"},
		{".", "starts with a dot"},
		{"..", "starts with a dot"},
		{"a/b", "character '/'"},
		{"a\nb", "character '\\n'"},
	} {
		e.fail(tc.want, "create", "--bundle", b.dir, "--", tc.id)
	}
	long := e.newID()
	long += strings.Repeat("x", 255-len(long))
	e.track(long)
	dash := "-" + e.newID() // not tracked: the env's cleanup passes no "--"
	t.Cleanup(func() { e.run(nil, "delete", "--force", "--", dash) })
	for _, id := range []string{long, dash} {
		e.ok("run", "-d", "--bundle", b.dir, "--", id)
		var s container.State
		if err := json.Unmarshal([]byte(e.ok("state", "--", id)), &s); err != nil || s.Status != "running" || s.ID != id {
			t.Errorf("state of %q: %+v (%v)", id, s, err)
		}
		e.ok("delete", "--force", "--", id)
		e.checkNoLeftovers(id)
	}
}

// A config.json past MaxConfigSize is refused at once (300 MB took 2.3 GB).
func TestE2EHardeningHugeConfig(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle()
	f, err := os.OpenFile(filepath.Join(b.dir, "config.json"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(strings.Repeat(" ", 17<<20)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	id := e.newID()
	e.fail("larger than 16 MiB", "create", "--bundle", b.dir, id)
	e.checkNoLeftovers(id)
}

// Many containers at once: 20 with their own IDs go through
// create/start/delete; of 5 creates of one ID exactly one wins.
func TestE2EHardeningConcurrent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle()
	var wg sync.WaitGroup
	errs := make(chan string, 40)
	for i := 0; i < 20; i++ {
		id := e.newID()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, args := range [][]string{{"create", "--bundle", b.dir, id}, {"start", id}, {"delete", "--force", id}} {
				if r := e.run(nil, args...); r.code != 0 {
					errs <- fmt.Sprintf("%s: %s", strings.Join(args, " "), r)
					return
				}
			}
		}()
	}
	same := e.newID()
	codes := make(chan result, 5)
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes <- e.run(nil, "create", "--bundle", b.dir, same)
		}()
	}
	wg.Wait()
	close(errs)
	close(codes)
	for err := range errs {
		t.Error(err)
	}
	won := 0
	for r := range codes {
		switch {
		case r.code == 0:
			won++
		case !strings.Contains(r.stderr, "already exists"):
			t.Errorf("a losing create of one ID: %s", r)
		}
	}
	if won != 1 {
		t.Errorf("%d of 5 creates of one ID succeeded, want 1", won)
	}
	if ids := strings.Fields(e.ok("list", "-q")); !slices.Equal(ids, []string{same}) {
		t.Errorf("list -q = %v, want only %s", ids, same)
	}
}

// kill.bats "kill KILL [host pidns + init gone]": a container without its
// own PID namespace whose init died still has processes; kill KILL ends
// them. Signal 0 checks that init is alive.
func TestE2EHardeningKillHostPidns(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle()
	b.spec.Linux.Namespaces = slices.DeleteFunc(b.spec.Linux.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == specs.PIDNamespace })
	b.save()
	id := e.newID()
	e.ok("run", "-d", "--bundle", b.dir, id)
	e.ok("kill", id, "0")
	var pids []int
	for i := 0; i < 3; i++ {
		pf := filepath.Join(e.dir, fmt.Sprintf("sleep%d.pid", i))
		e.ok("exec", "-d", "--pid-file", pf, id, "sleep", "600")
		p, err := strconv.Atoi(strings.TrimSpace(waitFile(t, pf)))
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, p)
	}
	if err := syscall.Kill(e.state(id).Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(id, "stopped")
	e.fail("not running", "kill", id, "0")
	e.ok("kill", id, "KILL")
	deadline := time.Now().Add(5 * time.Second)
	for _, p := range pids {
		for processAlive(p) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if processAlive(p) {
			t.Errorf("process %d survived kill KILL", p)
		}
	}
	e.ok("delete", id)
	e.checkNoLeftovers(id)
}

// run --keep leaves the stopped container for delete (run.bats).
func TestE2EHardeningRunKeep(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle("sh", "-c", "exit 3")
	id := e.newID()
	if r := e.run(nil, "run", "--keep", "--bundle", b.dir, id); r.code != 3 {
		t.Fatalf("run --keep: %s, want exit 3", r)
	}
	if s := e.state(id); s.Status != "stopped" {
		t.Errorf("after run --keep: %s, want stopped", s.Status)
	}
	if len(cgroupDirs(id)) == 0 {
		t.Error("run --keep removed the container's cgroup")
	}
	e.ok("delete", id)
	e.checkNoLeftovers(id)
}

// A container whose process exits at once: every command answers sensibly
// and delete leaves nothing.
func TestE2EHardeningInitExitsAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle("true")
	id := e.newID()
	e.ok("run", "-d", "--bundle", b.dir, id)
	e.waitStatus(id, "stopped")
	if r := e.run(nil, "exec", id, "true"); r.code != 255 || !strings.Contains(r.stderr, "stopped") {
		t.Errorf("exec into a stopped container: %s", r)
	}
	e.fail("not running", "kill", id, "KILL")
	e.ok("kill", "--all", id, "KILL")
	e.fail("not running", "pause", id)
	e.fail("not running", "update", "--memory", "64m", id)
	e.fail("has stopped", "start", id)
	e.ok("ps", id)
	e.ok("delete", id)
	e.checkNoLeftovers(id)

	// The same under create/start.
	id = e.newID()
	e.ok("create", "--bundle", b.dir, id)
	e.ok("start", id)
	e.waitStatus(id, "stopped")
	e.ok("delete", id)
	e.checkNoLeftovers(id)
}

// exec racing with delete --force: every exec ends (none hangs) with the
// process's status, 137 if delete killed it, or 255 with vmctr's error;
// nothing is left.
func TestE2EHardeningExecDuringDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle()
	rounds := 3
	if soak() {
		rounds = 100
	}
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	for i := 0; i < rounds; i++ {
		id := e.newID()
		e.ok("run", "-d", "--bundle", b.dir, id)
		var wg sync.WaitGroup
		results := make(chan result, 4)
		for j := 0; j < 4; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results <- e.run(nil, "exec", id, "sh", "-c", "sleep 0.0$RANDOM")
			}()
		}
		time.Sleep(time.Duration(rng.Intn(30)) * time.Millisecond)
		e.ok("delete", "--force", id)
		wg.Wait()
		close(results)
		for r := range results {
			if r.code != 0 && r.code != 137 && r.code != 255 {
				t.Errorf("exec during delete: %s", r)
			}
		}
		e.checkNoLeftovers(id)
	}
}

// vmctr SIGKILLed at random points of create, start, run and delete:
// `delete --force` and `list` leave nothing (state, lock, cgroups,
// processes, mounts). A few rounds always; VMCTR_SOAK=1 runs 300.
func TestE2EHardeningSIGKILL(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle()
	rounds := 12
	if soak() {
		rounds = 300
	}
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	ops := []string{"create", "run", "run -d", "start", "delete"}
	for i := 0; i < rounds; i++ {
		id := e.newID()
		op := ops[i%len(ops)]
		switch op {
		case "start":
			e.ok("create", "--bundle", b.dir, id)
		case "delete":
			e.ok("run", "-d", "--bundle", b.dir, id)
		}
		args := append(strings.Fields(op), id)
		if op != "start" && op != "delete" {
			args = append(strings.Fields(op), "--bundle", b.dir, id)
		}
		cmd := e.command(args...)
		cmd.Stdout, cmd.Stderr = e.tempFile("stdout"), e.tempFile("stderr")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		delay := time.Duration(rng.Intn(25000)) * time.Microsecond
		time.Sleep(delay)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()

		if r := e.run(nil, "delete", "--force", id); r.code != 0 {
			t.Errorf("%s killed after %v: delete --force: %s", op, delay, r)
		}
		if r := e.run(nil, "list", "-q"); r.code != 0 || strings.TrimSpace(r.stdout) != "" {
			t.Errorf("%s killed after %v: list: %s", op, delay, r)
		}
		e.checkNoLeftovers(id)
		if p := processesIn(b.rootfs); len(p) > 0 {
			t.Errorf("%s killed after %v: processes left with their root in the bundle: %v", op, delay, p)
		}
		if m := mountsUnder(b.dir); len(m) > 0 {
			t.Errorf("%s killed after %v: mounts left: %v", op, delay, m)
		}
		if t.Failed() {
			return
		}
	}
}

// processesIn lists the processes whose root directory is rootfs.
func processesIn(rootfs string) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, d := range entries {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if root, err := os.Readlink("/proc/" + d.Name() + "/root"); err == nil && root == rootfs && processAlive(pid) {
			out = append(out, pid)
		}
	}
	return out
}

// runc flags that vmctr used to ignore: exec --ignore-paused, exec --cgroup,
// and --pidfd-socket on run and exec (cgroups.bats, exec.bats,
// pidfd-socket.bats).
func TestE2EHardeningExecRuncFlags(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle()
	id := e.newID()
	sock, ch := e.consoleSocket() // receives any fd: here a pidfd
	e.ok("run", "-d", "--pidfd-socket", sock, "--bundle", b.dir, id)
	if pid := pidfdPid(t, recvMaster(t, ch)); pid != e.state(id).Pid {
		t.Errorf("--pidfd-socket sent a pidfd of %d, want init %d", pid, e.state(id).Pid)
	}
	sock, ch = e.consoleSocket()
	pidFile := filepath.Join(e.dir, "exec.pid")
	e.ok("exec", "-d", "--pidfd-socket", sock, "--pid-file", pidFile, id, "sleep", "600")
	want, _ := strconv.Atoi(strings.TrimSpace(waitFile(t, pidFile)))
	if pid := pidfdPid(t, recvMaster(t, ch)); pid != want {
		t.Errorf("exec --pidfd-socket sent a pidfd of %d, want %d", pid, want)
	}

	// --cgroup: the container's own cgroup, never one outside it.
	e.ok("exec", "--cgroup", "/", id, "true")
	e.fail("bad sub cgroup path", "exec", "--cgroup", "..", id, "true")
	e.fail("CONTROLLER: prefix", "exec", "--cgroup", "a", "--cgroup", "b", id, "true")

	// --ignore-paused: the process runs once the container is resumed.
	e.ok("pause", id)
	e.fail("paused", "exec", id, "true")
	cmd := e.background(nil, "exec", "--ignore-paused", id, "echo", "ok")
	time.Sleep(300 * time.Millisecond)
	e.ok("resume", id)
	r := e.wait(cmd)
	r.stdout, r.stderr = readAll(cmd.Stdout.(*os.File)), readAll(cmd.Stderr.(*os.File))
	if r.code != 0 || r.stdout != "ok\n" {
		t.Errorf("exec --ignore-paused: %s", r)
	}
}

// pidfdPid reads the PID a pidfd refers to.
func pidfdPid(t *testing.T, f *os.File) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Pid:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	t.Fatalf("fd %d is not a pidfd:\n%s", f.Fd(), b)
	return 0
}
