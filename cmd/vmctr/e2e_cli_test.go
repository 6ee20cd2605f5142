package main

// End-to-end tests of update, events, spec, features and the global flags.

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

func TestE2EUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if !cgroupV1() {
		t.Skip("file names below are cgroup v1's")
	}
	b := e.newBundle()
	b.spec.Linux.Resources.Memory = &specs.LinuxMemory{Limit: ptr(int64(64 << 20))}
	b.spec.Linux.Resources.Pids = &specs.LinuxPids{Limit: ptr(int64(100))}
	b.save()
	id := e.newID()
	e.ok("run", "-d", "--bundle", b.dir, id)
	cg := func(file string) string {
		t.Helper()
		return cgroupFile(t, id, file, "")
	}
	inside := func(file string) string {
		t.Helper()
		return strings.TrimSpace(e.ok("exec", id, "cat", "/sys/fs/cgroup/"+file))
	}

	e.ok("update", "--memory", "96m", id)
	if got := cg("memory/memory.limit_in_bytes"); got != strconv.Itoa(96<<20) {
		t.Errorf("host: memory limit %s after update --memory 96m", got)
	}
	if got := inside("memory/memory.limit_in_bytes"); got != strconv.Itoa(96<<20) {
		t.Errorf("container: memory limit %s after update --memory 96m", got)
	}

	res := filepath.Join(e.dir, "resources.json")
	data := `{"memory": {"limit": 134217728, "reservation": 33554432}, "pids": {"limit": 50}, "cpu": {"shares": 256}}`
	if err := os.WriteFile(res, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	e.ok("update", "--resources", res, id)
	for file, want := range map[string]string{
		"memory/memory.limit_in_bytes": "134217728", "memory/memory.soft_limit_in_bytes": "33554432",
		"pids/pids.max": "50", "cpu/cpu.shares": "256",
	} {
		if got := cg(file); got != want {
			t.Errorf("after update --resources: %s = %s, want %s", file, got, want)
		}
	}
	if r := e.run(func(cmd *execCmd) { cmd.Stdin = strings.NewReader(`{"pids": {"limit": 40}}`) }, "update", "-r", "-", id); r.code != 0 || cg("pids/pids.max") != "40" {
		t.Errorf("update -r - (stdin): %s, pids.max %s", r, cg("pids/pids.max"))
	}

	// The per-resource flags.
	e.ok("update", "--cpu-period", "100000", "--cpu-quota", "20000", "--cpu-share", "300", "--cpuset-cpus", "0",
		"--cpuset-mems", "0", "--memory-reservation", "16m", "--pids-limit", "20", id)
	for file, want := range map[string]string{
		"cpu/cpu.cfs_period_us": "100000", "cpu/cpu.cfs_quota_us": "20000", "cpu/cpu.shares": "300",
		"cpuset/cpuset.cpus": "0", "cpuset/cpuset.mems": "0", "memory/memory.soft_limit_in_bytes": strconv.Itoa(16 << 20),
		"pids/pids.max": "20",
	} {
		if got := cg(file); got != want {
			t.Errorf("after update with flags: %s = %s, want %s", file, got, want)
		}
	}
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/memory/vmctr", id, "memory.memsw.limit_in_bytes")); err == nil {
		e.ok("update", "--memory", "100m", "--memory-swap", "200m", id)
		if got := cg("memory/memory.memsw.limit_in_bytes"); got != strconv.Itoa(200<<20) {
			t.Errorf("memsw limit %s after --memory-swap 200m", got)
		}
	}
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/cpu/vmctr", id, "cpu.cfs_burst_us")); err == nil {
		e.ok("update", "--cpu-burst", "1000", id)
		if got := cg("cpu/cpu.cfs_burst_us"); got != "1000" {
			t.Errorf("cpu burst %s after --cpu-burst 1000", got)
		}
	}
	if w, err := filepath.Glob(filepath.Join("/sys/fs/cgroup/blkio/vmctr", id, "blkio*.weight")); err == nil && len(w) > 0 {
		e.ok("update", "--blkio-weight", "500", id)
		if got, _ := os.ReadFile(w[0]); strings.TrimSpace(string(got)) != "500" {
			t.Errorf("%s = %s after --blkio-weight 500", w[0], got)
		}
	}
	e.ok("update", "--memory", "-1", id)
	if got, _ := strconv.ParseInt(cg("memory/memory.limit_in_bytes"), 10, 64); got < 1<<60 {
		t.Errorf("memory limit %d after --memory -1, want unlimited", got)
	}
	e.ok("update", "--memory", "64m", "--memory-swap", "-1", id)

	// A refused update leaves the old limits in place.
	before := cg("memory/memory.limit_in_bytes")
	r := e.run(nil, "update", "--memory", "96m", "--cpu-rt-runtime", "1000000000", id)
	if r.code != 0 {
		if got := cg("memory/memory.limit_in_bytes"); got != before {
			t.Errorf("a failed update left memory limit %s, was %s", got, before)
		}
		if strings.Contains(r.stderr, "Setting back") {
			t.Errorf("could not restore the old limits: %s", r.stderr)
		}
	}

	for _, bad := range [][]string{
		{"--memory", "lots"}, {"--cpu-share", "-1"}, {"--cpu-quota", "x"}, {"--blkio-weight", "70000"},
		{"--resources", filepath.Join(e.dir, "missing.json")},
	} {
		r := e.run(nil, append(append([]string{"update"}, bad...), id)...)
		if r.code == 0 || !strings.Contains(r.stderr, strings.TrimPrefix(bad[0], "--")) {
			t.Errorf("update %v: %s; want an error naming the flag", bad, r)
		}
	}
	if err := os.WriteFile(res, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.fail("malformed JSON", "update", "--resources", res, id)

	e.ok("kill", id, "KILL")
	e.waitStatus(id, "stopped")
	e.fail("not running", "update", "--memory", "64m", id)
}

func TestE2EEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle("sh", "-c", "sleep 601 & exec sleep 600")
	b.spec.Linux.Resources.Memory = &specs.LinuxMemory{Limit: ptr(int64(64 << 20))}
	b.spec.Linux.Resources.Pids = &specs.LinuxPids{Limit: ptr(int64(100))}
	b.save()
	id := e.newID()
	e.ok("run", "-d", "--bundle", b.dir, id)

	type event struct {
		Type string `json:"type"`
		ID   string `json:"id"`
		Data struct {
			Memory struct {
				Usage struct {
					Limit uint64 `json:"limit"`
					Usage uint64 `json:"usage"`
				} `json:"usage"`
			} `json:"memory"`
			Pids struct {
				Current uint64 `json:"current"`
				Limit   uint64 `json:"limit"`
			} `json:"pids"`
			CPU struct {
				Usage struct {
					Total uint64 `json:"total"`
				} `json:"usage"`
			} `json:"cpu"`
		} `json:"data"`
	}
	check := func(what, line string) {
		t.Helper()
		var ev event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("%s: %v: %q", what, err, line)
		}
		if ev.Type != "stats" || ev.ID != id || ev.Data.Memory.Usage.Usage == 0 || ev.Data.Memory.Usage.Limit != 64<<20 ||
			ev.Data.Pids.Current < 1 || ev.Data.Pids.Limit != 100 || ev.Data.CPU.Usage.Total == 0 {
			t.Errorf("%s: %s", what, line)
		}
	}
	out := e.ok("events", "--stats", id)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 1 {
		t.Errorf("events --stats printed %d lines", len(lines))
	}
	check("events --stats", strings.TrimSpace(out))

	// Streaming: a line per interval until interrupted.
	cmd := e.background(nil, "events", "--interval", "100ms", id)
	start := time.Now()
	lines := waitLines(t, cmd.Stdout.(*os.File).Name(), 3, `"type":"stats"`)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("3 events at --interval 100ms took %v", d)
	}
	check("events --interval", lines[2])
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if r := e.wait(cmd); r.code != 0 {
		t.Errorf("events after SIGINT: %s", r)
	}

	// It ends by itself when the container stops.
	cmd = e.background(nil, "events", "--interval", "100ms", id)
	waitLines(t, cmd.Stdout.(*os.File).Name(), 1, "")
	e.ok("kill", "--all", id, "KILL")
	if r := e.wait(cmd); r.code != 0 {
		t.Errorf("events when the container stopped: %s", r)
	}
	e.fail("interval", "events", "--interval", "0s", id)
}

func TestE2ESpec(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	dir := filepath.Join(e.dir, "specdir")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// In the current directory.
	if r := e.run(inDir(dir), "spec"); r.code != 0 {
		t.Fatalf("spec: %s", r)
	}
	var s specs.Spec
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	if s.Version != specs.Version || s.Root.Path != "rootfs" || !s.Process.Terminal || s.Linux == nil || len(s.Linux.MaskedPaths) == 0 {
		t.Errorf("default spec: %s", data)
	}
	// Never overwrites.
	e.fail("exists", "spec", "--bundle", dir)

	// --rootless: a user namespace mapping the caller.
	rl := filepath.Join(e.dir, "rootless")
	if err := os.Mkdir(rl, 0o755); err != nil {
		t.Fatal(err)
	}
	e.ok("spec", "--rootless", "--bundle", rl)
	data, _ = os.ReadFile(filepath.Join(rl, "config.json"))
	s = specs.Spec{}
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	hasUserNS := false
	for _, ns := range s.Linux.Namespaces {
		hasUserNS = hasUserNS || ns.Type == specs.UserNamespace
	}
	if !hasUserNS || len(s.Linux.UIDMappings) != 1 || s.Linux.UIDMappings[0].HostID != uint32(os.Geteuid()) {
		t.Errorf("rootless spec: user namespace %v, uid mappings %+v", hasUserNS, s.Linux.UIDMappings)
	}
	e.fail("no such file", "spec", "--bundle", filepath.Join(e.dir, "missing"))
}

func TestE2EFeatures(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	var f features.Features
	out := e.ok("features")
	if err := json.Unmarshal([]byte(out), &f); err != nil {
		t.Fatalf("features: %v\n%s", err, out)
	}
	if f.OCIVersionMax != specs.Version || f.OCIVersionMin == "" || len(f.Hooks) < 5 || len(f.MountOptions) == 0 {
		t.Errorf("features: %s", out)
	}
	if f.Linux == nil || len(f.Linux.Namespaces) < 7 || len(f.Linux.Capabilities) < 38 || f.Linux.Cgroup == nil {
		t.Fatalf("features.linux: %s", out)
	}
	if f.Linux.Seccomp == nil || f.Linux.Seccomp.Enabled == nil || !*f.Linux.Seccomp.Enabled || len(f.Linux.Seccomp.Actions) == 0 {
		t.Errorf("features: seccomp not enabled in a -tags seccomp build: %+v", f.Linux.Seccomp)
	}
	e.fail(`features takes no arguments; unexpected "extra"`, "features", "extra")
}

func TestE2EGlobalFlags(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	t.Run("version", func(t *testing.T) {
		e := e.sub(t)
		for _, flag := range []string{"--version", "-v"} {
			out := e.ok(flag)
			// runc's lines (the tests build with seccomp).
			if !strings.HasPrefix(out, "vmctr version ") || !strings.Contains(out, "\nspec: "+specs.Version+"\n") ||
				!strings.Contains(out, "\ngo: go") || !strings.Contains(out, "\nlibseccomp: 2.") {
				t.Errorf("%s: %q", flag, out)
			}
		}
	})
	t.Run("help", func(t *testing.T) {
		e := e.sub(t)
		out := e.ok("--help")
		for _, cmd := range []string{"create", "start", "run", "exec", "state", "kill", "delete", "list", "ps",
			"pause", "resume", "update", "events", "spec", "features"} {
			if !strings.Contains(out, "   "+cmd) {
				t.Errorf("--help does not list %s", cmd)
			}
			if h := e.ok(cmd, "--help"); !strings.Contains(h, "vmctr "+cmd) {
				t.Errorf("%s --help: %q", cmd, h)
			}
		}
		for _, flag := range []string{"--root", "--log", "--log-format", "--debug", "--systemd-cgroup"} {
			if !strings.Contains(out, flag) {
				t.Errorf("--help does not mention %s", flag)
			}
		}
		e.fail("No help topic", "help", "no-such-command")
		r := e.run(nil, "no-such-command")
		if r.code == 0 {
			t.Errorf("an unknown command succeeded: %s", r)
		}
		e.fail("flag provided but not defined", "--no-such-flag", "list")
	})
	t.Run("root", func(t *testing.T) {
		e := e.sub(t)
		b := e.newBundle()
		id := e.newID()
		e.ok("create", "--bundle", b.dir, id)
		if _, err := os.Stat(filepath.Join(e.root, id, "state.json")); err != nil {
			t.Errorf("state is not under --root: %v", err)
		}
		other := filepath.Join(e.dir, "other-root")
		r := e.run(nil, "--root", other, "state", id) // the last --root wins
		if r.code == 0 || !strings.Contains(r.stderr, "does not exist") {
			t.Errorf("state under another --root: %s", r)
		}
		// A relative --root is made absolute.
		rel := e.run(inDir(e.dir), "--root", "root", "state", id)
		if rel.code != 0 {
			t.Errorf("relative --root: %s", rel)
		}
		e.fail("--root", "--root", "/", "list")
		e.ok("delete", "--force", id)
	})
	t.Run("log", func(t *testing.T) {
		e := e.sub(t)
		for _, format := range []string{"json", "text", ""} {
			logFile := filepath.Join(e.dir, "log-"+format)
			args := []string{"--log", logFile}
			if format != "" {
				args = append(args, "--log-format", format)
			}
			r := e.run(nil, append(args, "state", "no-such-container")...)
			if r.code != 1 || !strings.Contains(r.stderr, "does not exist") {
				t.Errorf("format %q: %s; want the error on stderr too", format, r)
			}
			data, err := os.ReadFile(logFile)
			if err != nil {
				t.Fatal(err)
			}
			line := strings.TrimSpace(string(data))
			if format == "json" {
				var entry map[string]any
				if err := json.Unmarshal([]byte(line), &entry); err != nil {
					t.Fatalf("--log-format json: %v: %q", err, line)
				}
				if entry["level"] != "error" || !strings.Contains(entry["msg"].(string), "does not exist") || entry["time"] == nil {
					t.Errorf("--log-format json entry: %v", entry)
				}
			} else if !strings.Contains(line, "level=error") || !strings.Contains(line, "does not exist") {
				t.Errorf("--log-format %q: %q", format, line)
			}
		}
		e.fail("log-format", "--log-format", "xml", "list")
		e.fail("log", "--log", filepath.Join(e.dir, "no", "such", "dir", "log"), "list")
	})
	t.Run("debug", func(t *testing.T) {
		e := e.sub(t)
		b := e.newBundle("true")
		logFile := filepath.Join(e.dir, "debug.log")
		id := e.newID()
		if r := e.run(nil, "--debug", "--log", logFile, "--log-format", "json", "run", "--bundle", b.dir, id); r.code != 0 {
			t.Fatalf("run --debug: %s", r)
		}
		f, err := os.Open(logFile)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		debug := 0
		s := bufio.NewScanner(f)
		for s.Scan() {
			var entry map[string]any
			if err := json.Unmarshal(s.Bytes(), &entry); err != nil {
				t.Errorf("--debug --log-format json: a line is not JSON: %q", s.Text())
				continue
			}
			if entry["level"] == "debug" {
				debug++
			}
		}
		if debug == 0 {
			t.Error("--debug logged nothing at debug level")
		}
		// Without --debug, nothing below info.
		logFile = filepath.Join(e.dir, "quiet.log")
		e.ok("--log", logFile, "run", "--bundle", b.dir, e.newID())
		if data, _ := os.ReadFile(logFile); strings.Contains(string(data), "level=debug") {
			t.Errorf("debug lines without --debug: %s", data)
		}
	})
}
