package main

// End-to-end tests of the container lifecycle: create, start, run, state,
// kill, delete, list, ps, pause, resume.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vmctr/vmctr/container"
)

func TestE2ECreateStartKillDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle("sh", "-c", "echo started > /tmp/started; exec sleep 600")
	b.spec.Annotations = map[string]string{"org.example.test": "annotated"}
	b.save()
	id := e.newID()
	pidFile := filepath.Join(e.dir, "init.pid")

	e.ok("create", "--bundle", b.dir, "--pid-file", pidFile, id)
	s := e.state(id)
	pid, err := strconv.Atoi(strings.TrimSpace(waitFile(t, pidFile)))
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	if s.ID != id || s.Status != "created" || s.Pid != pid || s.Bundle != b.dir || s.Rootfs != b.rootfs || s.Owner != "root" {
		t.Errorf("state after create = %+v; want id %s, created, pid %d, bundle %s, rootfs %s, owner root", s, id, pid, b.dir, b.rootfs)
	}
	if s.Version == "" || s.Created.IsZero() || s.Annotations["org.example.test"] != "annotated" {
		t.Errorf("state lacks ociVersion, created or the config's annotations: %+v", s)
	}
	if _, err := os.Stat(filepath.Join(b.rootfs, "tmp", "started")); err == nil {
		t.Error("the process ran before start")
	}
	if len(cgroupDirs(id)) == 0 {
		t.Errorf("no cgroup /vmctr/%s after create", id)
	}

	e.ok("start", id)
	waitFile(t, filepath.Join(b.rootfs, "tmp", "started"))
	if s := e.state(id); s.Status != "running" || s.Pid != pid {
		t.Errorf("state after start = %s pid %d; want running pid %d", s.Status, s.Pid, pid)
	}
	e.fail("already running", "start", id)

	e.ok("kill", id, "KILL")
	if s := e.waitStatus(id, "stopped"); s.Pid != 0 {
		t.Errorf("stopped container reports pid %d", s.Pid)
	}
	e.fail("stopped", "start", id)
	e.ok("delete", id)
	e.checkNoLeftovers(id)
	e.fail("does not exist", "state", id)
}

// Without --bundle, the bundle is the current directory; relative
// --pid-file paths are the caller's.
func TestE2ECreateInBundleDir(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle()
	id := e.newID()
	rel := e.run(inDir(b.dir), "create", "--pid-file", "rel.pid", id)
	if rel.code != 0 {
		t.Fatalf("create in bundle dir: %s", rel)
	}
	if s := e.state(id); s.Bundle != b.dir {
		t.Errorf("bundle = %q, want %q", s.Bundle, b.dir)
	}
	if _, err := os.Stat(filepath.Join(b.dir, "rel.pid")); err != nil {
		t.Errorf("relative --pid-file: %v", err)
	}
}

func TestE2ERunAttached(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle("sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 7")
	id := e.newID()
	r := e.run(nil, "run", "--bundle", b.dir, id)
	if r.code != 7 || r.stdout != "to-stdout\n" || r.stderr != "to-stderr\n" {
		t.Errorf("run = %s; want exit 7 and the container's output", r)
	}
	// An attached run deletes its container.
	e.checkNoLeftovers(id)
	e.fail("does not exist", "state", id)

	// stdin reaches the process; statuses up to 255 come through.
	b.args("sh", "-c", "cat; exit 255")
	in := strings.Repeat("line of input\n", 5000)
	r = e.run(func(cmd *execCmd) { cmd.Stdin = strings.NewReader(in) }, "run", "--bundle", b.dir, e.newID())
	if r.code != 255 || r.stdout != in {
		t.Errorf("run with stdin: exit %d, %d bytes out (want 255 and the %d bytes in)", r.code, len(r.stdout), len(in))
	}

	// Killed by a signal: 128+signal, as a shell reports it.
	b.args("sh", "-c", "touch /tmp/ready; exec sleep 600")
	id = e.newID()
	cmd := e.background(nil, "run", "--bundle", b.dir, id)
	waitFile(t, filepath.Join(b.rootfs, "tmp", "ready"))
	e.ok("kill", id, "KILL")
	if r := e.wait(cmd); r.code != 128+9 {
		t.Errorf("run of a process killed by SIGKILL: %s; want exit 137", r)
	}
	e.checkNoLeftovers(id)
}

// An attached run forwards the signals it receives to the container.
func TestE2ERunForwardsSignals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle("sh", "-c", `trap "exit 42" TERM; touch /tmp/ready; while :; do sleep 1 & wait $!; done`)
	id := e.newID()
	cmd := e.background(nil, "run", "--bundle", b.dir, id)
	waitFile(t, filepath.Join(b.rootfs, "tmp", "ready"))
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if r := e.wait(cmd); r.code != 42 {
		t.Errorf("run after SIGTERM: %s; want the container's exit 42", r)
	}
	e.checkNoLeftovers(id)
}

func TestE2ERunDetach(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle()
	id := e.newID()
	pidFile := filepath.Join(e.dir, "pid")
	r := e.run(nil, "run", "--detach", "--bundle", b.dir, "--pid-file", pidFile, id)
	if r.code != 0 {
		t.Fatalf("run -d: %s", r)
	}
	s := e.state(id)
	if s.Status != "running" || strconv.Itoa(s.Pid) != waitFile(t, pidFile) {
		t.Errorf("after run -d: %+v, pid file %s", s, waitFile(t, pidFile))
	}
	if r.dur > 10*time.Second {
		t.Errorf("run -d took %v", r.dur)
	}
	e.ok("kill", id, "9")
	e.waitStatus(id, "stopped")
	e.ok("delete", id)
	e.checkNoLeftovers(id)
}

// A terminal handed over through --console-socket (run -d and create).
func TestE2EConsoleSocket(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle("sh", "-c", "tty; echo ready; read x; echo got-$x; exec sleep 600")
	b.spec.Process.Terminal = true
	b.save()

	for _, cmd := range []string{"run", "create"} {
		t.Run(cmd, func(t *testing.T) {
			e := e.sub(t)
			id := e.newID()
			sock, ch := e.consoleSocket()
			args := []string{cmd, "--bundle", b.dir, "--console-socket", sock, id}
			if cmd == "run" {
				args = append([]string{"run", "--detach"}, args[1:]...)
			}
			e.ok(args...)
			master := recvMaster(t, ch)
			if cmd == "create" {
				e.ok("start", id)
			}
			out := readUntil(t, master, "ready")
			if !strings.Contains(out, "/dev/pts/") {
				t.Errorf("tty in the container printed %q, want a /dev/pts path", out)
			}
			if _, err := master.Write([]byte("hello\n")); err != nil {
				t.Fatal(err)
			}
			readUntil(t, master, "got-hello")
			e.ok("delete", "--force", id)
			e.checkNoLeftovers(id)
		})
	}

	// --console-socket without a terminal is a clear error, leaving nothing.
	b.spec.Process.Terminal = false
	b.save()
	sock, _ := e.consoleSocket()
	id := e.newID()
	e.fail("no terminal", "create", "--bundle", b.dir, "--console-socket", sock, id)
	e.checkNoLeftovers(id)

	// A terminal and no console socket with create.
	b.spec.Process.Terminal = true
	b.save()
	id = e.newID()
	e.fail("--console-socket", "create", "--bundle", b.dir, id)
	e.checkNoLeftovers(id)
}

// An attached run with a terminal relays between vmctr's own terminal and the
// container's pty.
func TestE2ERunAttachedTerminal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle("sh", "-c", `tty; echo "size $(stty size)"; echo ready; while read x; do echo "got-$x size2 $(stty size) end"; [ $x = quit ] && exit 3; done`)
	b.spec.Process.Terminal = true
	b.save()
	id := e.newID()
	master, slave := openPty(t)
	setSize := func(rows, cols uint16) {
		if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
			t.Fatal(err)
		}
	}
	setSize(33, 111)
	cmd := e.background(withTTY(slave), "run", "--bundle", b.dir, id)
	out := readUntil(t, master, "ready")
	if !strings.Contains(out, "size 33 111") {
		t.Errorf("the container's terminal does not have vmctr's size 33x111: %q", out)
	}
	// A resize reaches the container (SIGWINCH, as a terminal sends it).
	setSize(44, 122)
	if err := cmd.Process.Signal(unix.SIGWINCH); err != nil {
		t.Fatal(err)
	}
	// vmctr handles the signal asynchronously: ask until the size shows.
	for i := 0; ; i++ {
		if _, err := master.Write([]byte("typed\r")); err != nil {
			t.Fatal(err)
		}
		out = readUntil(t, master, " end")
		if !strings.Contains(out, "got-typed") {
			t.Fatalf("typed input did not reach the container: %q", out)
		}
		if strings.Contains(out, "size2 44 122") {
			break
		}
		if i == 50 {
			t.Fatalf("resize did not reach the container: %q", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := master.Write([]byte("quit\r")); err != nil {
		t.Fatal(err)
	}
	if r := e.wait(cmd); r.code != 3 {
		t.Errorf("run with a terminal: exit %d, want 3", r.code)
	}
	e.checkNoLeftovers(id)

	// Without a terminal of its own, vmctr refuses and leaves nothing.
	id = e.newID()
	r := e.run(func(cmd *execCmd) { cmd.SysProcAttr = &unix.SysProcAttr{Setsid: true} }, "run", "--bundle", b.dir, id)
	if r.code == 0 || !strings.Contains(r.stderr, "terminal") {
		t.Errorf("run with a terminal but no tty: %s; want an error about the terminal", r)
	}
	e.checkNoLeftovers(id)
}

func TestE2ENoPivot(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle("sh", "-c", "cat /proc/self/mountinfo; echo no-pivot-ok")
	r := e.run(nil, "run", "--no-pivot", "--bundle", b.dir, e.newID())
	if r.code != 0 || !strings.Contains(r.stdout, "no-pivot-ok") {
		t.Errorf("run --no-pivot: %s", r)
	}
	id := e.newID()
	e.ok("create", "--no-pivot", "--bundle", b.dir, id)
	e.ok("start", id)
	e.waitStatus(id, "stopped")
}

// Each container gets a session keyring named after it, unless
// --no-new-keyring.
func TestE2ENoNewKeyring(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle("cat", "/proc/keys")
	b.spec.Linux.MaskedPaths = slices.DeleteFunc(b.spec.Linux.MaskedPaths, func(p string) bool { return p == "/proc/keys" })
	b.save()
	id := e.newID()
	r := e.run(nil, "run", "--bundle", b.dir, id)
	if r.code != 0 || !strings.Contains(r.stdout, id) {
		t.Errorf("run: %s; want a keyring named %s in /proc/keys", r, id)
	}
	id = e.newID()
	r = e.run(nil, "run", "--no-new-keyring", "--bundle", b.dir, id)
	if r.code != 0 || strings.Contains(r.stdout, id) {
		t.Errorf("run --no-new-keyring: %s; want no keyring named %s", r, id)
	}
}

func TestE2EPreserveFDs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle("sh", "-c", "echo through-fd3 >&3; echo through-fd4 >&4")
	pipes := func() (r [2]*os.File, w [2]*os.File) {
		for i := range r {
			var err error
			if r[i], w[i], err = os.Pipe(); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	check := func(what string, r [2]*os.File, w [2]*os.File) {
		t.Helper()
		w[0].Close()
		w[1].Close()
		for i, want := range []string{"through-fd3\n", "through-fd4\n"} {
			_ = r[i].SetReadDeadline(time.Now().Add(10 * time.Second))
			got := readAll(r[i])
			if got != want {
				t.Errorf("%s: fd %d carried %q, want %q", what, i+3, got, want)
			}
		}
	}

	rd, wr := pipes()
	id := e.newID()
	res := e.run(func(cmd *execCmd) { cmd.ExtraFiles = wr[:] }, "run", "--preserve-fds", "2", "--bundle", b.dir, id)
	if res.code != 0 {
		t.Fatalf("run --preserve-fds 2: %s", res)
	}
	check("run", rd, wr)

	rd, wr = pipes()
	id = e.newID()
	res = e.run(func(cmd *execCmd) { cmd.ExtraFiles = wr[:] }, "create", "--preserve-fds", "2", "--bundle", b.dir, id)
	if res.code != 0 {
		t.Fatalf("create --preserve-fds 2: %s", res)
	}
	e.ok("start", id)
	e.waitStatus(id, "stopped")
	check("create", rd, wr)

	// Without --preserve-fds the container does not get them.
	_, wr = pipes()
	res = e.run(func(cmd *execCmd) { cmd.ExtraFiles = wr[:] }, "run", "--bundle", b.dir, e.newID())
	if res.code == 0 {
		t.Errorf("fds 3 and 4 reached the container without --preserve-fds: %s", res)
	}
	e.fail("negative", "run", "--preserve-fds", "-1", "--bundle", b.dir, e.newID())
	e.fail("not open", "run", "--preserve-fds", "40", "--bundle", b.dir, e.newID())
}

// signalsBundle makes a container that logs the signals it traps to
// /tmp/sigs, and is ready once /tmp/ready exists.
const trapScript = `trap "echo USR1 >> /tmp/sigs" USR1; trap "echo HUP >> /tmp/sigs" HUP; trap "echo TERM >> /tmp/sigs" TERM;
touch /tmp/ready; while :; do sleep 1 & wait $!; done`

func TestE2EKill(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle("sh", "-c", trapScript)
	id := e.newID()
	e.ok("run", "-d", "--bundle", b.dir, id)
	waitFile(t, filepath.Join(b.rootfs, "tmp", "ready"))
	sigs := filepath.Join(b.rootfs, "tmp", "sigs")
	want := ""
	for _, s := range []struct{ arg, name string }{
		{"USR1", "USR1"}, {"SIGHUP", "HUP"}, {"10", "USR1"}, {"sigusr1", "USR1"}, {"", "TERM"},
	} {
		args := []string{"kill", id}
		if s.arg != "" {
			args = append(args, s.arg)
		}
		e.ok(args...)
		want += s.name + "\n"
		deadline := time.Now().Add(10 * time.Second)
		for {
			got, _ := os.ReadFile(sigs)
			if string(got) == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after kill %q: signals seen %q, want %q", s.arg, got, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	e.ok("kill", id, "0") // alive
	for _, bad := range []string{"NOPE", "65", "-1"} {
		e.fail("signal", "kill", id, bad)
	}
	if e.state(id).Status != "running" {
		t.Error("bad kill changed the container")
	}
	e.ok("kill", id, "SIGKILL")
	e.waitStatus(id, "stopped")
	e.fail("not running", "kill", id, "KILL")
	e.fail("not running", "kill", id, "0")
	e.ok("kill", "--all", id, "KILL") // nothing left to signal: fine
	e.fail("does not exist", "kill", "no-such-container-"+id, "KILL")
}

func TestE2EKillAll(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle("sh", "-c", "sleep 601 & sleep 602 & touch /tmp/ready; exec sleep 600")
	id := e.newID()
	e.ok("run", "-d", "--bundle", b.dir, id)
	waitFile(t, filepath.Join(b.rootfs, "tmp", "ready"))
	var pids []int
	deadline := time.Now().Add(10 * time.Second)
	for len(pids) < 3 && time.Now().Before(deadline) {
		pids = nil
		if err := json.Unmarshal([]byte(e.ok("ps", "--format", "json", id)), &pids); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(pids) != 3 {
		t.Fatalf("ps --format json = %v, want 3 processes", pids)
	}
	e.ok("kill", "--all", id, "KILL")
	e.waitStatus(id, "stopped")
	for _, p := range pids {
		if err := unix.Kill(p, 0); err == nil {
			// It may be a zombie for a moment, waiting for its reaper.
			if st, _ := os.ReadFile("/proc/" + strconv.Itoa(p) + "/stat"); !strings.Contains(string(st), ") Z") {
				t.Errorf("process %d survived kill --all", p)
			}
		}
	}
}

func TestE2EDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle()

	id := e.newID()
	e.ok("run", "-d", "--bundle", b.dir, id)
	e.fail("--force", "delete", id)
	if s := e.state(id); s.Status != "running" {
		t.Fatalf("delete without --force changed the container: %s", s.Status)
	}
	r := e.run(nil, "delete", "--force", id)
	if r.code != 0 {
		t.Fatalf("delete --force: %s", r)
	}
	if r.dur > 5*time.Second {
		t.Errorf("delete --force took %v", r.dur)
	}
	e.checkNoLeftovers(id)
	// Deleting what is gone: an error, except with --force (as runc).
	e.ok("delete", "--force", id)
	e.fail("does not exist", "delete", id)

	// A created container can be deleted without --force.
	id = e.newID()
	e.ok("create", "--bundle", b.dir, id)
	pid := e.state(id).Pid
	e.ok("delete", id)
	e.checkNoLeftovers(id)
	if err := unix.Kill(pid, 0); err == nil {
		if st, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); !strings.Contains(string(st), ") Z") {
			t.Errorf("init %d of the deleted container still runs", pid)
		}
	}

	// A paused container is deleted with --force, promptly.
	id = e.newID()
	e.ok("run", "-d", "--bundle", b.dir, id)
	e.ok("pause", id)
	r = e.run(nil, "delete", "--force", id)
	if r.code != 0 || r.dur > 5*time.Second {
		t.Errorf("delete --force of a paused container: %s (took %v)", r, r.dur)
	}
	e.checkNoLeftovers(id)
}

func TestE2EList(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// An empty (even missing) root lists nothing.
	if out := e.ok("list", "-q"); out != "" {
		t.Errorf("list -q of an empty root = %q", out)
	}
	if out := strings.TrimSpace(e.ok("list", "--format", "json")); out != "[]" {
		t.Errorf("list --format json of an empty root = %q, want []", out)
	}

	b := e.newBundle()
	created, running := e.newID(), e.newID()
	e.ok("create", "--bundle", b.dir, created)
	e.ok("run", "-d", "--bundle", b.dir, running)
	want := []string{created, running}
	slices.Sort(want)

	if got := strings.Fields(e.ok("list", "-q")); !slices.Equal(got, want) {
		t.Errorf("list -q = %v, want %v", got, want)
	}
	table := e.ok("list")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 3 || !slices.Equal(strings.Fields(lines[0]), []string{"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"}) {
		t.Fatalf("list table:\n%s", table)
	}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		wantStatus := map[string]string{created: "created", running: "running"}[f[0]]
		if len(f) != 6 || f[2] != wantStatus || f[3] != b.dir || f[5] != "root" {
			t.Errorf("list line %q: want status %s, bundle %s, owner root", l, wantStatus, b.dir)
		}
	}
	var states []container.State
	if err := json.Unmarshal([]byte(e.ok("list", "--format", "json")), &states); err != nil {
		t.Fatal(err)
	}
	if len(states) != 2 || states[0].ID != want[0] || states[1].ID != want[1] {
		t.Fatalf("list --format json = %+v", states)
	}
	for _, s := range states {
		if s.Pid <= 0 || s.Bundle != b.dir || s.Created.IsZero() {
			t.Errorf("list --format json entry %+v", s)
		}
	}
	e.fail("format", "list", "--format", "yaml")
	e.ok("ls", "-q") // runc's alias
}

func TestE2EPs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle("sh", "-c", "sleep 601 & touch /tmp/ready; exec sleep 600")
	id := e.newID()
	e.ok("run", "-d", "--bundle", b.dir, id)
	waitFile(t, filepath.Join(b.rootfs, "tmp", "ready"))
	init := e.state(id).Pid

	var pids []int
	if err := json.Unmarshal([]byte(e.ok("ps", "--format", "json", id)), &pids); err != nil {
		t.Fatal(err)
	}
	if len(pids) != 2 || !slices.Contains(pids, init) {
		t.Errorf("ps --format json = %v, want 2 PIDs including init %d", pids, init)
	}

	table := e.ok("ps", id)
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "PID") || !strings.Contains(table, "sleep 601") {
		t.Errorf("ps table (ps -ef):\n%s", table)
	}
	table = e.ok("ps", id, "-o", "pid,args")
	lines = strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 3 || strings.Fields(lines[0])[0] != "PID" || !strings.Contains(table, "sleep 600") {
		t.Errorf("ps -o pid,args:\n%s", table)
	}
	e.fail("format", "ps", "--format", "xml", id)
	e.fail("does not exist", "ps", "nope-"+id)
}

func TestE2EPauseResume(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle()
	id := e.newID()
	e.ok("run", "-d", "--bundle", b.dir, id)
	e.ok("pause", id)
	if s := e.state(id); s.Status != "paused" {
		t.Errorf("after pause: %s", s.Status)
	}
	if fz, err := os.ReadFile("/sys/fs/cgroup/freezer/vmctr/" + id + "/freezer.state"); err == nil && strings.TrimSpace(string(fz)) != "FROZEN" {
		t.Errorf("freezer.state = %q, want FROZEN", fz)
	}
	e.fail("paused", "exec", id, "true")
	e.ok("resume", id)
	if s := e.state(id); s.Status != "running" {
		t.Errorf("after resume: %s", s.Status)
	}
	e.fail("not paused", "resume", id)
	e.ok("exec", id, "true")
	e.fail("does not exist", "pause", "nope-"+id)
	e.fail("does not exist", "resume", "nope-"+id)
	e.ok("kill", id, "KILL")
	e.waitStatus(id, "stopped")
	e.fail("not running", "pause", id)
}

// A created container (init waiting for start) can be inspected, paused,
// resumed and killed like a running one.
func TestE2ECreatedContainer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle()
	id := e.newID()
	e.ok("create", "--bundle", b.dir, id)
	init := e.state(id).Pid
	var pids []int
	if err := json.Unmarshal([]byte(e.ok("ps", "--format", "json", id)), &pids); err != nil || !slices.Equal(pids, []int{init}) {
		t.Errorf("ps of a created container: %v (%v), want [%d]", pids, err, init)
	}
	e.ok("pause", id)
	if s := e.state(id).Status; s != "paused" {
		t.Errorf("pause of a created container: %s", s)
	}
	e.ok("resume", id)
	if s := e.state(id).Status; s != "created" {
		t.Errorf("resume of a paused created container: %s, want created", s)
	}
	e.ok("kill", id, "KILL")
	e.waitStatus(id, "stopped")
	if out := strings.TrimSpace(e.ok("ps", "--format", "json", id)); out != "[]" {
		t.Errorf("ps of a stopped container: %s", out)
	}
	e.fail("stopped", "start", id)
	e.ok("delete", id)
	e.checkNoLeftovers(id)
}
