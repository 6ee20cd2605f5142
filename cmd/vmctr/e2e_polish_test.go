package main

// End-to-end tests of the command line's edges: events around OOM and
// stopped containers, checkpoint/restore (refused), unknown commands,
// argument counts, --rootless, exec's invalid processes and how inspect
// reads its argument.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmctr/vmctr/rootfs"
)

// An oom event comes alone: stats only come on the interval. A stopped
// container is an error for events, as with runc.
func TestE2EEventsOOMAndStopped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if cgroupV1() {
		if _, err := os.Stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"); err != nil {
			t.Skip("no swap accounting (memory.memsw.*): a memory hog would swap instead of hitting OOM")
		}
	}
	id := e.newID()
	e.ok("run", "-d", "--bundle", e.newBundle().dir, id)
	if r := e.run(nil, "update", "--memory", "16m", "--memory-swap", "16m", id); r.code != 0 {
		t.Skipf("cannot limit memory and swap here: %s", r)
	}
	ev := e.background(nil, "events", "--interval", "1h", id)
	out := ev.Stdout.(*os.File).Name()
	waitLines(t, out, 1, `"type":"stats"`)
	// tail keeps what it reads in memory: 100 MB hit the 16 MiB limit.
	if r := e.run(nil, "exec", id, "sh", "-c", "head -c 100000000 /dev/zero | tail"); r.code == 0 {
		t.Fatalf("the memory hog survived a 16 MiB limit: %s", r)
	}
	waitLines(t, out, 1, `"type":"oom"`)
	time.Sleep(200 * time.Millisecond) // an extra stats line would come at once
	data, _ := os.ReadFile(out)
	var types []string
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var ev struct{ Type, ID string }
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.ID != id {
			t.Fatalf("events line %q: %v", l, err)
		}
		types = append(types, ev.Type)
	}
	if len(types) < 2 || types[0] != "stats" || slices.Contains(types[1:], "stats") {
		t.Errorf("events --interval 1h: events %v, want one stats (the first), then oom only", types)
	}
	// Its cgroup gone, events ends without waiting for the interval.
	e.ok("delete", "--force", id)
	if r := e.wait(ev); r.code != 0 {
		t.Errorf("events after delete: %s", r)
	}

	// A stopped container: both forms fail (exit 1), as runc's do.
	id2 := e.newID()
	e.ok("run", "-d", "--bundle", e.newBundle("true").dir, id2)
	e.waitStatus(id2, "stopped")
	for _, args := range [][]string{{"events", "--stats", id2}, {"events", "--interval", "100ms", id2}} {
		if r := e.fail("not running", args...); r.code != 1 || r.stdout != "" {
			t.Errorf("vmctr %s on a stopped container: %s", strings.Join(args, " "), r)
		}
	}
	e.fail("--interval 0s: must be positive", "events", "--stats", "--interval", "0s", id2)
}

// checkpoint and restore parse runc's command lines and fail, changing
// nothing; an unknown command exits 3, as with runc.
func TestE2ECheckpointUnsupported(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle()
	id := e.newID()
	e.ok("run", "-d", "--bundle", b.dir, id)
	img := filepath.Join(e.dir, "image")
	r := e.fail("checkpoint is not supported", "checkpoint", "--image-path", img, "--work-path", img,
		"--leave-running", "--tcp-established", "--manage-cgroups-mode", "soft", id)
	if r.code != 1 || !strings.Contains(r.stderr, id) {
		t.Errorf("checkpoint: %s", r)
	}
	if s := e.state(id); s.Status != "running" {
		t.Errorf("after a refused checkpoint the container is %s", s.Status)
	}
	if _, err := os.Stat(img); err == nil {
		t.Errorf("a refused checkpoint made %s", img)
	}
	id2 := e.newID()
	if r := e.fail("restore is not supported", "restore", "--image-path", img, "--bundle", b.dir, "-d", id2); r.code != 1 {
		t.Errorf("restore: %s", r)
	}
	e.fail("does not exist", "state", id2)
	if h := e.ok("checkpoint", "--help"); !strings.Contains(h, "--image-path") {
		t.Errorf("checkpoint --help:\n%s", h)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bogus"}, `unknown command "bogus"`},
		{[]string{"bogus", "-h"}, "No help topic for 'bogus'"},
		{[]string{"help", "bogus"}, "No help topic for 'bogus'"},
	} {
		if r := e.fail(tc.want, tc.args...); r.code != 3 {
			t.Errorf("vmctr %s: exit %d, want 3 (runc's)", strings.Join(tc.args, " "), r.code)
		}
	}
}

// Argument counts and --rootless: runc's words and exit codes, plus what
// was wrong.
func TestE2EArgumentErrors(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"build", "--app", "/usr/bin/true", "pos2"}, `build takes no arguments; unexpected "pos2" (a flag value without its flag?)`},
		{[]string{"state"}, `"state" requires exactly 1 argument(s) (<container-id>), got 0`},
		{[]string{"state", "a", "b"}, `"state" requires exactly 1 argument(s) (<container-id>), got 2; unexpected "b"`},
		{[]string{"kill", "a", "TERM", "x"}, `"kill" requires a maximum of 2 argument(s)`},
		{[]string{"list", "extra"}, `list takes no arguments; unexpected "extra"`},
		{[]string{"--rootless", "list"}, `--rootless "list": want true, false or auto`},
		{[]string{"--rootless", "maybe", "list"}, `--rootless "maybe": want true, false or auto`},
	} {
		if r := e.fail(tc.want, tc.args...); r.code != 1 {
			t.Errorf("vmctr %s: exit %d, want 1", strings.Join(tc.args, " "), r.code)
		}
	}
	for _, v := range []string{"true", "false", "auto"} {
		e.ok("--rootless", v, "list")
		e.ok("--rootless="+v, "list")
	}
}

// A bad process for exec is an invalid process, naming the flag or file.
func TestE2EExecInvalidProcess(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.newID()
	e.ok("run", "-d", "--bundle", e.newBundle().dir, id)
	proc := func(name, body string) string {
		p := filepath.Join(e.dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	noArgs := proc("noargs.json", `{"args": [], "cwd": "/"}`)
	noCwd := proc("nocwd.json", `{"args": ["true"]}`)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--cap", "BOGUS", id, "true"}, `--cap: invalid process: unknown capability "BOGUS"`},
		{[]string{"-p", noArgs, id}, "--process " + noArgs + ": invalid process: process.args is empty"},
		{[]string{"-p", noCwd, id}, "--process " + noCwd + `: invalid process: process.cwd "" is not an absolute path`},
		{[]string{"--cwd", "tmp", id, "true"}, `--cwd "tmp": invalid process: not an absolute path`},
	} {
		r := e.fail(tc.want, append([]string{"exec"}, tc.args...)...)
		if r.code != 255 || strings.Contains(r.stderr, "container config") {
			t.Errorf("exec %s: %s", strings.Join(tc.args, " "), r)
		}
	}
	if s := e.state(id); s.Status != "running" {
		t.Errorf("after the refused execs the container is %s", s.Status)
	}
}

// inspect: a name with a slash (or . or ..) is a directory; another name is
// a container's ID if there is one, else a directory. --file / is the root.
func TestE2EInspectArgument(t *testing.T) {
	needProgs(t, "/usr/bin/true", "/usr/bin/env")
	e := newEnv(t)
	id := e.newID()
	// A bundle whose directory has the container's name, and the
	// container, from another bundle.
	dirBundle := filepath.Join(e.dir, id)
	if r := e.run(nil, e.buildArgs(dirBundle, "--app", "/usr/bin/true")...); r.code != 0 {
		t.Fatalf("build: %s", r)
	}
	ctBundle := e.build("--app", "/usr/bin/env")
	e.ok("create", "--bundle", ctBundle, id)

	apps := func(args ...string) (string, result) {
		t.Helper()
		r := e.run(nil, append([]string{"inspect", "--format", "json"}, args...)...)
		if r.code != 0 {
			t.Fatalf("inspect %s: %s", strings.Join(args, " "), r)
		}
		var m rootfs.Manifest
		if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
			t.Fatal(err)
		}
		return strings.Join(m.Apps, " "), r
	}
	if got, r := apps(id); got != "/usr/bin/env" || !strings.Contains(r.stderr, "./"+id) {
		t.Errorf("inspect %s (a container and a directory): apps %q, stderr %q; want the container's, and a warning naming ./%s", id, got, r.stderr, id)
	}
	if got, r := apps("./" + id); got != "/usr/bin/true" || r.stderr != "" {
		t.Errorf("inspect ./%s: apps %q, stderr %q; want the directory's", id, got, r.stderr)
	}
	if got, _ := apps(filepath.Base(ctBundle)); got != "/usr/bin/env" {
		t.Errorf("inspect %s (a directory only): apps %q", filepath.Base(ctBundle), got)
	}
	e.fail("neither a container in", "inspect", "no-such-thing")
	e.fail("bundle ./no-such-thing: file does not exist", "inspect", "./no-such-thing")

	// The root directory is always there; flags may follow the argument.
	why := e.ok("inspect", id, "--file", "/")
	if !strings.HasPrefix(why, "/ (dir)\n") || !strings.Contains(why, "root directory") {
		t.Errorf("inspect --file /:\n%s", why)
	}
	var chain []rootfs.Entry
	if err := json.Unmarshal([]byte(e.ok("inspect", "--format", "json", "--file", "/", "./"+id)), &chain); err != nil {
		t.Fatal(err)
	}
	if len(chain) != 1 || chain[0].Path != "/" || chain[0].Type != rootfs.TypeDir || chain[0].Mode == "" {
		t.Errorf("inspect --format json --file /: %+v", chain)
	}
	e.fail("is not in the container", "inspect", "--file", "/usr/bin/perl", id)
}
