package main

// End-to-end tests of exec and its flags.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestE2EExec(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle()
	b.spec.Process.Env = append(b.spec.Process.Env, "FROM_CONFIG=yes")
	b.spec.Process.Cwd = "/data"
	b.spec.Process.NoNewPrivileges = false
	b.spec.Process.User.GID = 100
	b.save()
	id := e.newID()
	e.ok("run", "-d", "--bundle", b.dir, id)

	t.Run("args", func(t *testing.T) {
		e := e.sub(t)
		r := e.run(nil, "exec", id, "sh", "-c", "echo out; echo err >&2; echo $FROM_CONFIG; pwd; exit 5")
		if r.code != 5 || r.stdout != "out\nyes\n/data\n" || r.stderr != "err\n" {
			t.Errorf("exec: %s; want exit 5 with the config's env and cwd", r)
		}
	})
	t.Run("stdin", func(t *testing.T) {
		e := e.sub(t)
		r := e.run(func(cmd *execCmd) { cmd.Stdin = strings.NewReader("from stdin\n") }, "exec", id, "cat")
		if r.code != 0 || r.stdout != "from stdin\n" {
			t.Errorf("exec with stdin: %s", r)
		}
	})
	t.Run("env", func(t *testing.T) {
		e := e.sub(t)
		out := e.ok("exec", "--env", "NEW=1", "--env", "FROM_CONFIG=replaced", id, "sh", "-c", "echo $NEW $FROM_CONFIG; env | grep -c FROM_CONFIG")
		if out != "1 replaced\n1\n" {
			t.Errorf("exec --env: %q", out)
		}
	})
	t.Run("cwd", func(t *testing.T) {
		e := e.sub(t)
		if out := e.ok("exec", "--cwd", "/tmp", id, "pwd"); out != "/tmp\n" {
			t.Errorf("exec --cwd /tmp: pwd = %q", out)
		}
		e.fail("absolute", "exec", "--cwd", "tmp", id, "pwd")
		if out := e.ok("exec", "-e", "SHORT=1", id, "sh", "-c", "echo $SHORT"); out != "1\n" {
			t.Errorf("exec -e: %q", out)
		}
	})
	t.Run("user", func(t *testing.T) {
		e := e.sub(t)
		if out := e.ok("exec", "--user", "1000:1001", id, "id"); !strings.HasPrefix(out, "uid=1000 gid=1001") {
			t.Errorf("exec --user 1000:1001: id = %q", out)
		}
		out := e.ok("exec", "--user", "1000:1000", "--additional-gids", "10", "--additional-gids", "20", id, "id", "-G")
		if g := strings.Fields(out); !slices.Contains(g, "10") || !slices.Contains(g, "20") {
			t.Errorf("exec --additional-gids 10 --additional-gids 20: id -G = %q", out)
		}
		// Without :GID, the config's GID stays (as runc).
		if out := e.ok("exec", "--user", "1000", id, "id"); !strings.HasPrefix(out, "uid=1000 gid=100") {
			t.Errorf("exec --user 1000 (config GID 100): id = %q", out)
		}
		e.fail("--user", "exec", "--user", "bob", id, "id")
	})
	t.Run("cap", func(t *testing.T) {
		e := e.sub(t)
		sysAdmin := capMask(t, "CAP_SYS_ADMIN")
		capEff := func(args ...string) uint64 {
			out := e.ok(append(append([]string{"exec"}, args...), id, "grep", "CapEff", "/proc/self/status")...)
			return parseHex(t, strings.TrimPrefix(strings.TrimSpace(out), "CapEff:"))
		}
		if got := capEff(); got&sysAdmin != 0 {
			t.Errorf("CAP_SYS_ADMIN without --cap: CapEff %x", got)
		}
		if got := capEff("--cap", "CAP_SYS_ADMIN"); got&sysAdmin == 0 {
			t.Errorf("exec --cap CAP_SYS_ADMIN: CapEff %x", got)
		}
		e.fail("unknown capability", "exec", "--cap", "CAP_BOGUS", id, "true")
	})
	t.Run("no-new-privs", func(t *testing.T) {
		e := e.sub(t)
		nnp := func(args ...string) string {
			out := e.ok(append(append([]string{"exec"}, args...), id, "grep", "NoNewPrivs", "/proc/self/status")...)
			return strings.TrimSpace(strings.TrimPrefix(out, "NoNewPrivs:"))
		}
		if got := nnp(); got != "0" {
			t.Errorf("NoNewPrivs without the flag (config false) = %s", got)
		}
		if got := nnp("--no-new-privs"); got != "1" {
			t.Errorf("exec --no-new-privs: NoNewPrivs = %s", got)
		}
	})
	t.Run("process-file", func(t *testing.T) {
		e := e.sub(t)
		p := specs.Process{
			Args: []string{"sh", "-c", "echo $A; pwd; id -u"},
			Env:  []string{"A=from-file", "PATH=/bin"},
			Cwd:  "/tmp",
			User: specs.User{UID: 7, GID: 7},
		}
		data, _ := json.Marshal(p)
		path := filepath.Join(e.dir, "process.json")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if out := e.ok("exec", "--process", path, id); out != "from-file\n/tmp\n7\n" {
			t.Errorf("exec --process: %q", out)
		}
		// From stdin.
		r := e.run(func(cmd *execCmd) { cmd.Stdin = strings.NewReader(string(data)) }, "exec", "--process", "-", id)
		if r.code != 0 || r.stdout != "from-file\n/tmp\n7\n" {
			t.Errorf("exec --process -: %s", r)
		}
		if err := os.WriteFile(path, []byte("{bad"), 0o644); err != nil {
			t.Fatal(err)
		}
		e.fail("malformed JSON", "exec", "--process", path, id)
		e.fail("process.json", "exec", "--process", filepath.Join(e.dir, "missing", "process.json"), id)
		if err := os.WriteFile(path, []byte(`{"cwd":"/"}`), 0o644); err != nil {
			t.Fatal(err)
		}
		e.fail("args", "exec", "--process", path, id)
	})
	t.Run("detach-pid-file", func(t *testing.T) {
		e := e.sub(t)
		pidFile := filepath.Join(e.dir, "exec.pid")
		r := e.run(nil, "exec", "--detach", "--pid-file", pidFile, id, "sleep", "500")
		if r.code != 0 || r.dur > 10*time.Second {
			t.Fatalf("exec --detach: %s", r)
		}
		pid, err := strconv.Atoi(waitFile(t, pidFile))
		if err != nil {
			t.Fatal(err)
		}
		var pids []int
		if err := json.Unmarshal([]byte(e.ok("ps", "--format", "json", id)), &pids); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(pids, pid) {
			t.Errorf("exec --detach pid %d not among the container's %v", pid, pids)
		}
	})
	t.Run("tty-attached", func(t *testing.T) {
		e := e.sub(t)
		master, slave := openPty(t)
		cmd := e.background(withTTY(slave), "exec", "--tty", id, "sh", "-c", "tty; echo exec-tty-ok; exit 4")
		out := readUntil(t, master, "exec-tty-ok")
		if !strings.Contains(out, "/dev/pts/") {
			t.Errorf("exec --tty: output %q has no /dev/pts path", out)
		}
		if r := e.wait(cmd); r.code != 4 {
			t.Errorf("exec --tty: exit %d, want 4", r.code)
		}
	})
	t.Run("tty-console-socket", func(t *testing.T) {
		e := e.sub(t)
		sock, ch := e.consoleSocket()
		e.ok("exec", "--tty", "--detach", "--console-socket", sock, id, "sh", "-c", "echo ready; read x; echo got-$x")
		master := recvMaster(t, ch)
		readUntil(t, master, "ready")
		if _, err := master.Write([]byte("abc\n")); err != nil {
			t.Fatal(err)
		}
		readUntil(t, master, "got-abc")
		e.fail("console-socket", "exec", "--tty", "--detach", id, "true")
	})
	t.Run("preserve-fds", func(t *testing.T) {
		e := e.sub(t)
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		res := e.run(func(cmd *execCmd) { cmd.ExtraFiles = []*os.File{w} }, "exec", "--preserve-fds", "1", id, "sh", "-c", "echo via-fd3 >&3")
		w.Close()
		if res.code != 0 {
			t.Fatalf("exec --preserve-fds: %s", res)
		}
		if got := readAll(r); got != "via-fd3\n" {
			t.Errorf("exec --preserve-fds 1: fd 3 carried %q", got)
		}
	})
	t.Run("errors", func(t *testing.T) {
		e := e.sub(t)
		e.fail("no command", "exec", id)
		e.fail("does not exist", "exec", "nope-"+id, "true")
		r := e.run(nil, "exec", id, "/no/such/program")
		if r.code == 0 || !strings.Contains(r.stderr, "/no/such/program") {
			t.Errorf("exec of a missing program: %s", r)
		}
	})

	e.ok("kill", id, "KILL")
	e.waitStatus(id, "stopped")
	e.fail("stopped", "exec", id, "true")
}

// exec works in a created container too (its init still waits for start).
func TestE2EExecCreated(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle()
	id := e.newID()
	e.ok("create", "--bundle", b.dir, id)
	if out := e.ok("exec", id, "echo", "in-created"); out != "in-created\n" {
		t.Errorf("exec in a created container: %q", out)
	}
	if s := e.state(id); s.Status != "created" {
		t.Errorf("exec changed the status to %s", s.Status)
	}
}
