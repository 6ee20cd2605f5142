package main

// End-to-end tests of bad input and interrupted commands: each must give a
// clear error and a non-zero exit, and leave no state, cgroup or mount
// behind.

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// rootEntries lists what is in the state root besides the (empty) lock dir.
func (e *env) rootEntries() []string {
	var out []string
	ents, _ := os.ReadDir(e.root)
	for _, d := range ents {
		if d.Name() == ".locks" {
			locks, _ := os.ReadDir(filepath.Join(e.root, ".locks"))
			for _, l := range locks {
				out = append(out, ".locks/"+l.Name())
			}
			continue
		}
		out = append(out, d.Name())
	}
	return out
}

func (e *env) expectEmptyRoot() {
	e.t.Helper()
	if left := e.rootEntries(); len(left) > 0 {
		e.t.Errorf("state root not empty: %v", left)
	}
}

func TestE2EBadConfig(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle()
	good, err := os.ReadFile(filepath.Join(b.dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, config, want string
	}{
		{"malformed", `{"ociVersion": "1.0.2", "process": {`, "malformed JSON"},
		{"not an object", `[1, 2]`, "malformed JSON"},
		{"null", `null`, "null"},
		{"trailing data", string(good) + "{}", "trailing data"},
		{"empty file", ``, "malformed JSON"},
		{"wrong type", strings.Replace(string(good), `"cwd": "/"`, `"cwd": 1`, 1), "malformed JSON"},
		{"no process", `{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "linux": {}}`, "process"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.sub(t)
			if err := os.WriteFile(filepath.Join(b.dir, "config.json"), []byte(tc.config), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, cmd := range []string{"create", "run"} {
				id := e.newID()
				r := e.fail(tc.want, cmd, "--bundle", b.dir, id)
				if !strings.Contains(r.stderr, "config.json") {
					t.Errorf("%s: error does not name config.json: %s", cmd, r.stderr)
				}
				e.checkNoLeftovers(id)
			}
		})
	}
	if err := os.Remove(filepath.Join(b.dir, "config.json")); err != nil {
		t.Fatal(err)
	}
	id := e.newID()
	e.fail("not found", "create", "--bundle", b.dir, id)
	e.fail("not found", "create", "--bundle", filepath.Join(e.dir, "no-such-bundle"), id)
	e.checkNoLeftovers(id)
	e.expectEmptyRoot()
}

// Configs that parse but ask for something impossible or wrong.
func TestE2EInvalidConfig(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct {
		name string
		edit func(*specs.Spec)
		want string
	}{
		{"unknown capability", func(s *specs.Spec) {
			s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_BOGUS")
		}, "unknown capability"},
		{"relative cwd", func(s *specs.Spec) { s.Process.Cwd = "tmp" }, "cwd"},
		{"empty args", func(s *specs.Spec) { s.Process.Args = nil }, "args"},
		{"relative mount destination", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "mnt", Type: "tmpfs", Source: "tmpfs"})
		}, "not an absolute path"},
		{"mount destination with ..", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt/../../x", Type: "tmpfs", Source: "tmpfs"})
		}, ".."},
		{"unknown rlimit", func(s *specs.Spec) {
			s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_BOGUS", Soft: 1, Hard: 1})
		}, "rlimit"},
		{"soft above hard", func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 10}}
		}, "soft limit"},
		{"unknown namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
		}, "namespace"},
		{"no linux section", func(s *specs.Spec) { s.Linux = nil }, "linux"},
		{"missing root", func(s *specs.Spec) { s.Root = nil }, "root"},
		{"missing rootfs", func(s *specs.Spec) { s.Root.Path = "no-such-rootfs" }, "no-such-rootfs"},
		{"rootfs is a file", func(s *specs.Spec) { s.Root.Path = "config.json" }, "not a directory"},
		{"bad sysctl", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"kernel.no_such_sysctl": "1"} }, "sysctl"},
		{"cgroupsPath out of /vmctr", func(s *specs.Spec) { s.Linux.CgroupsPath = "../e2e-escape" }, "cgroupsPath"},
		{"missing program", func(s *specs.Spec) { s.Process.Args = []string{"/no/such/program"} }, "/no/such/program"},
		{"hook that fails", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/false"}}}
		}, "hook"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := e.sub(t)
			b := e.newBundle()
			tc.edit(b.spec)
			b.save()
			for _, cmd := range []string{"create", "run"} {
				id := e.newID()
				e.fail(tc.want, cmd, "--bundle", b.dir, id)
				e.checkNoLeftovers(id)
			}
		})
	}
	t.Cleanup(func() {
		e.expectEmptyRoot()
		if m, _ := filepath.Glob("/sys/fs/cgroup/*/e2e-escape"); len(m) > 0 {
			t.Errorf("cgroups created outside /vmctr: %v", m)
		}
	})
}

// wantCode is the exit status of a failed command: 1, but 255 for exec (as
// runc, so that callers can tell it from the process's own status).
func wantCode(cmd string) int {
	if cmd == "exec" {
		return 255
	}
	return 1
}

func TestE2EUnknownID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := "e2e-never-created-" + strconv.Itoa(os.Getpid())
	for _, args := range [][]string{
		{"state", id}, {"start", id}, {"kill", id}, {"kill", "--all", id, "KILL"}, {"delete", id},
		{"pause", id}, {"resume", id}, {"ps", id}, {"ps", "--format", "json", id}, {"exec", id, "true"},
		{"update", "--memory", "64m", id}, {"events", "--stats", id}, {"events", id},
	} {
		r := e.fail("does not exist", args...)
		if r.code != wantCode(args[0]) {
			t.Errorf("%v: exit %d, want %d", args, r.code, wantCode(args[0]))
		}
	}
	// Not even a lock file stays behind.
	e.checkNoLeftovers(id)
	e.expectEmptyRoot()
	e.ok("delete", "--force", id)
	e.expectEmptyRoot()
}

func TestE2EDuplicateID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle()
	id := e.newID()
	e.ok("create", "--bundle", b.dir, id)
	before := e.state(id)
	other := e.newBundle()
	for _, args := range [][]string{
		{"create", "--bundle", other.dir, id},
		{"run", "--bundle", other.dir, id},
		{"run", "-d", "--bundle", other.dir, id},
	} {
		e.fail("already exists", args...)
	}
	after := e.state(id)
	if after.Status != "created" || after.Pid != before.Pid || after.Bundle != b.dir {
		t.Errorf("a failed duplicate create changed the container: %+v, was %+v", after, before)
	}
	e.ok("start", id)
	e.waitStatus(id, "running")
}

// Concurrent creates of one ID: exactly one wins, the rest fail cleanly,
// and the winner is intact.
func TestE2EConcurrentCreate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle()
	id := e.newID()
	const n = 6
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = e.run(nil, "create", "--bundle", b.dir, id)
		}()
	}
	wg.Wait()
	wins := 0
	for _, r := range results {
		switch {
		case r.code == 0:
			wins++
		case !strings.Contains(r.stderr, "already exists"):
			t.Errorf("a losing create: %s", r)
		}
	}
	if wins != 1 {
		t.Fatalf("%d of %d concurrent creates of one ID succeeded", wins, n)
	}
	if s := e.state(id); s.Status != "created" {
		t.Errorf("winner is %s", s.Status)
	}

	// Concurrent commands on one running container are serialised.
	e.ok("start", id)
	var errs sync.Map
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, args := range [][]string{{"state", id}, {"exec", id, "true"}, {"pause", id}, {"resume", id}, {"update", "--pids-limit", strconv.Itoa(100 + i), id}} {
				if r := e.run(nil, args...); r.code != 0 && !(args[0] == "resume" && strings.Contains(r.stderr, "not paused")) &&
					!(args[0] == "pause" && strings.Contains(r.stderr, "not running")) && !(args[0] == "exec" && strings.Contains(r.stderr, "paused")) {
					errs.Store(strings.Join(args, " "), r.String())
				}
			}
		}()
	}
	wg.Wait()
	errs.Range(func(k, v any) bool { t.Errorf("%s: %s", k, v); return true })
	e.run(nil, "resume", id)
	if s := e.state(id); s.Status != "running" {
		t.Errorf("after concurrent commands: %s", s.Status)
	}
}

func TestE2EInvalidID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle()
	for _, id := range []string{
		"../x", "..", ".", "", "a/b", "/abs", strings.Repeat("a", 300), ".hidden", "a b", "a\nb", "ä", "a:b", "a*",
	} {
		for _, args := range [][]string{
			{"create", "--bundle", b.dir, id}, {"run", "--bundle", b.dir, id}, {"run", "-d", "--bundle", b.dir, id},
			{"state", id}, {"start", id}, {"kill", id, "KILL"}, {"delete", id}, {"delete", "--force", id},
			{"pause", id}, {"resume", id}, {"exec", id, "true"}, {"ps", id}, {"update", "--memory", "1g", id},
			{"events", "--stats", id},
		} {
			r := e.run(nil, args...)
			if r.code != wantCode(args[0]) || !strings.Contains(r.stderr, "invalid container id") {
				t.Errorf("%q: %s; want exit %d with \"invalid container id\"", args, r, wantCode(args[0]))
			}
		}
	}
	e.expectEmptyRoot()
	for _, p := range []string{filepath.Join(e.dir, "x"), filepath.Join(e.root, "a")} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s was created", p)
		}
	}
	if m, _ := filepath.Glob("/sys/fs/cgroup/*/x"); len(m) > 0 {
		t.Errorf("cgroup left: %v", m)
	}
	// The longest valid ID works.
	id := e.newID()
	id += strings.Repeat("x", 255-len(id))
	e.track(id)
	e.ok("create", "--bundle", b.dir, id)
	e.ok("delete", id)
	e.checkNoLeftovers(id)
}

// `create` killed with SIGKILL while it sets the container up: `list` still
// works and `delete --force` removes everything, processes included.
func TestE2ECreateKilledMidway(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle()
	for _, hook := range []string{"createRuntime", "prestart", "createContainer"} {
		t.Run(hook, func(t *testing.T) {
			e := e.sub(t)
			marker := filepath.Join(b.dir, hook+".pid")
			h := specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "echo $$ > " + marker + ".tmp; mv " + marker + ".tmp " + marker + "; exec sleep 600"}}
			b.spec.Hooks = &specs.Hooks{}
			switch hook {
			case "createRuntime":
				b.spec.Hooks.CreateRuntime = []specs.Hook{h}
			case "prestart":
				b.spec.Hooks.Prestart = []specs.Hook{h} //nolint:staticcheck // deprecated but still in use
			case "createContainer":
				b.spec.Hooks.CreateContainer = []specs.Hook{h}
			}
			b.save()
			id := e.newID()
			cmd := e.background(nil, "create", "--bundle", b.dir, id)
			hookPid, err := strconv.Atoi(strings.TrimSpace(waitFile(t, marker)))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = unix.Kill(hookPid, unix.SIGKILL) })
			// The processes in the container's cgroup, to check they die.
			var procs []int
			for _, cg := range cgroupDirs(id) {
				data, _ := os.ReadFile(filepath.Join(cg, "cgroup.procs"))
				for _, f := range strings.Fields(string(data)) {
					if p, err := strconv.Atoi(f); err == nil {
						procs = append(procs, p)
					}
				}
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			if r := e.wait(cmd); r.code != 137 {
				t.Fatalf("create survived SIGKILL: %s", r)
			}
			_ = unix.Kill(hookPid, unix.SIGKILL)

			if r := e.run(nil, "list"); r.code != 0 {
				t.Errorf("list after an interrupted create: %s", r)
			}
			if ids := strings.Fields(e.ok("list", "-q")); !slices.Contains(ids, id) {
				t.Errorf("list -q after an interrupted create: %v, want %s listed (so that it can be deleted)", ids, id)
			}
			if r := e.run(nil, "list", "--format", "json"); r.code != 0 {
				t.Errorf("list --format json after an interrupted create: %s", r)
			}
			e.ok("delete", "--force", id)
			e.checkNoLeftovers(id)
			deadline := time.Now().Add(5 * time.Second)
			for _, p := range procs {
				for processAlive(p) && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
				if processAlive(p) {
					t.Errorf("process %d of the interrupted container survived delete --force", p)
				}
			}
			// The ID can be used again.
			b.spec.Hooks = nil
			b.save()
			e.ok("create", "--bundle", b.dir, id)
			e.ok("delete", id)
		})
	}
}

// processAlive reports whether pid runs (zombies count as gone).
func processAlive(pid int) bool {
	st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	return !strings.Contains(string(st), ") Z ")
}

// A damaged state.json (a crash while writing it, a full disk) must not
// block `list` or `delete --force`.
func TestE2EDamagedState(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle()
	// A torn write leaves half a file; a machine crash without fsync can
	// leave an empty one (see writeFileAtomic).
	for _, tc := range []struct {
		name  string
		files []string
		keep  func(int) int
	}{
		{"torn state.json", []string{"state.json"}, func(n int) int { return n / 2 }},
		{"torn vmctr.json", []string{"vmctr.json"}, func(n int) int { return n / 2 }},
		{"empty state.json and vmctr.json", []string{"state.json", "vmctr.json"}, func(int) int { return 0 }},
	} {
		file := strings.Join(tc.files, " and ")
		t.Run(tc.name, func(t *testing.T) {
			e := e.sub(t)
			id := e.newID()
			e.ok("run", "-d", "--bundle", b.dir, id)
			pid := e.state(id).Pid
			for _, f := range tc.files {
				p := filepath.Join(e.root, id, f)
				data, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, data[:tc.keep(len(data))], 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if r := e.run(nil, "list"); r.code != 0 {
				t.Errorf("list with a truncated %s: %s", file, r)
			}
			if r := e.run(nil, "delete", "--force", id); r.code != 0 {
				t.Errorf("delete --force with a truncated %s: %s", file, r)
			}
			e.checkNoLeftovers(id)
			deadline := time.Now().Add(5 * time.Second)
			for processAlive(pid) && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if processAlive(pid) {
				t.Errorf("init %d survived delete --force", pid)
				_ = unix.Kill(pid, unix.SIGKILL)
			}
		})
	}
}

func TestE2ESystemdCgroupUnavailable(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		t.Skip("systemd runs here")
	}
	e := newEnv(t)
	b := e.newBundle()
	id := e.newID()
	e.fail("systemd", "--systemd-cgroup", "create", "--bundle", b.dir, id)
	e.fail("systemd", "--systemd-cgroup", "run", "--bundle", b.dir, id)
	e.checkNoLeftovers(id)
	e.expectEmptyRoot()
}

// Failures after the container's process exists (its pid file or console
// socket cannot be used) undo everything.
func TestE2ELateCreateFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle()
	for _, cmd := range []string{"create", "run"} {
		id := e.newID()
		args := []string{cmd, "--bundle", b.dir, "--pid-file", filepath.Join(e.dir, "no", "such", "dir", "pid"), id}
		if cmd == "run" {
			args = append([]string{"run", "-d"}, args[1:]...)
		}
		e.fail("pid file", args...)
		e.checkNoLeftovers(id)
	}

	b.spec.Process.Terminal = true
	b.save()
	for _, sock := range []string{filepath.Join(e.dir, "no-such.sock"), b.dir} {
		id := e.newID()
		e.fail("console socket", "create", "--bundle", b.dir, "--console-socket", sock, id)
		e.checkNoLeftovers(id)
	}
	// A console socket whose listener closes without taking the pty.
	sock := filepath.Join(e.dir, "rude.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Close()
		}
	}()
	defer l.Close()
	id := e.newID()
	r := e.run(nil, "create", "--bundle", b.dir, "--console-socket", sock, id)
	if r.code == 0 {
		// The master was sent before the close: a valid outcome.
		e.ok("delete", "--force", id)
	}
	e.checkNoLeftovers(id)
	e.expectEmptyRoot()
}
