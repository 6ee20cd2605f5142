package container

import (
	"encoding/json"
	"errors"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// specJSON returns `vmctr spec`'s config after edit, as JSON.
func specJSON(t testing.TB, edit func(*specs.Spec)) []byte {
	t.Helper()
	s := DefaultSpec(false)
	if edit != nil {
		edit(s)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseSpec(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*specs.Spec)
		raw  string // used instead of edit when set
		want string // "" for a valid config, else part of the error
	}{
		{name: "default", want: ""},
		{name: "rootless default", raw: func() string {
			b, _ := json.Marshal(DefaultSpec(true))
			return string(b)
		}(), want: ""},
		{name: "unknown fields are ignored", raw: `{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["sh"], "cwd": "/"}, "linux": {}, "vmctrFuture": {"x": 1}}`},
		{name: "commandLine instead of args", edit: func(s *specs.Spec) { s.Process.Args = nil; s.Process.CommandLine = "sh" }},
		{name: "bind mount with relative source", edit: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: "data", Type: "bind", Options: []string{"rbind"}})
		}},

		{name: "malformed", raw: `{"ociVersion":`, want: "malformed JSON"},
		{name: "empty", raw: ``, want: "malformed JSON"},
		{name: "array", raw: `[]`, want: "malformed JSON"},
		{name: "null", raw: `null`, want: "null"},
		{name: "trailing data", raw: `{"ociVersion": "1.0.2"} {}`, want: "trailing data"},
		{name: "wrong type", raw: `{"ociVersion": 1}`, want: "malformed JSON"},
		{name: "no version", edit: func(s *specs.Spec) { s.Version = "" }, want: "ociVersion"},
		{name: "no root", edit: func(s *specs.Spec) { s.Root = nil }, want: "root.path"},
		{name: "empty root path", edit: func(s *specs.Spec) { s.Root.Path = "" }, want: "root.path"},
		{name: "no process", edit: func(s *specs.Spec) { s.Process = nil }, want: "process"},
		{name: "no args", edit: func(s *specs.Spec) { s.Process.Args = nil }, want: "process.args"},
		{name: "no cwd", edit: func(s *specs.Spec) { s.Process.Cwd = "" }, want: "cwd"},
		{name: "relative cwd", edit: func(s *specs.Spec) { s.Process.Cwd = "tmp" }, want: "cwd"},
		{name: "unknown capability", edit: func(s *specs.Spec) {
			s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_BOGUS")
		}, want: `unknown capability "CAP_BOGUS"`},
		{name: "capability without prefix", edit: func(s *specs.Spec) {
			s.Process.Capabilities.Effective = []string{"KILL"}
		}, want: "unknown capability"},
		{name: "lower-case capability", edit: func(s *specs.Spec) {
			s.Process.Capabilities.Ambient = []string{"cap_kill"}
		}, want: "unknown capability"},
		{name: "unknown rlimit", edit: func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_BOGUS"}}
		}, want: "rlimit"},
		{name: "soft above hard", edit: func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 2, Hard: 1}}
		}, want: "soft limit"},
		{name: "no linux", edit: func(s *specs.Spec) { s.Linux = nil }, want: "linux"},
		{name: "relative mount destination", edit: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "data", Type: "tmpfs", Source: "tmpfs"})
		}, want: "not an absolute path"},
		{name: "empty mount destination", edit: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "", Type: "tmpfs", Source: "tmpfs"})
		}, want: "not an absolute path"},
		{name: "mount destination with ..", edit: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data/../../etc", Type: "tmpfs", Source: "tmpfs"})
		}, want: "contains .."},
		{name: "mount destination ending in ..", edit: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data/..", Type: "tmpfs", Source: "tmpfs"})
		}, want: "contains .."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(tc.raw)
			if tc.raw == "" && tc.name != "empty" {
				data = specJSON(t, tc.edit)
			}
			s, err := ParseSpec(data)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("ParseSpec: %v", err)
				}
				if s == nil || s.Process == nil || s.Root == nil || s.Linux == nil {
					t.Fatalf("ParseSpec returned an incomplete spec: %+v", s)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseSpec accepted it, want an error containing %q", tc.want)
			}
			if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseSpec error %q: want ErrInvalidSpec containing %q", err, tc.want)
			}
		})
	}
}

func TestLoadSpec(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadSpec(dir); !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), "not found") {
		t.Errorf("LoadSpec of a bundle without config.json: %v", err)
	}
}

// TestCgroupParentStaysUnder: beyond the cases in spec_test.go, a relative
// cgroupsPath must not climb out of the parent vmctr owns.
func TestCgroupParentStaysUnder(t *testing.T) {
	for _, tc := range []struct {
		path    string
		systemd bool
		want    string
		err     bool
	}{
		{path: "", want: "/vmctr/c1"},
		{path: "rel", want: "/vmctr/rel"},
		{path: "pod/c1", want: "/vmctr/pod/c1"},
		{path: "./x", want: "/vmctr/x"},
		{path: "/abs/c1", want: "/abs/c1"},
		{path: "/vmctr/c1", want: "/vmctr/c1"},
		{path: "system.slice:vmctr:c1", systemd: true, want: "system.slice:vmctr:c1"},
		{path: "", systemd: true, want: ""},
		// A relative path must stay under the parent vmctr owns.
		{path: "..", err: true},
		{path: "../escape", err: true},
		{path: "a/../../escape", err: true},
		{path: ".", err: true},
		{path: "a/..", err: true},
	} {
		s := DefaultSpec(false)
		s.Linux.CgroupsPath = tc.path
		err := withCgroupParent("c1", tc.systemd)(s)
		if (err != nil) != tc.err {
			t.Errorf("cgroupsPath %q: error %v, want error %v", tc.path, err, tc.err)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidSpec) {
				t.Errorf("cgroupsPath %q: %v is not ErrInvalidSpec", tc.path, err)
			}
			continue
		}
		if s.Linux.CgroupsPath != tc.want {
			t.Errorf("cgroupsPath %q (systemd %v) became %q, want %q", tc.path, tc.systemd, s.Linux.CgroupsPath, tc.want)
		}
		if !tc.systemd && tc.path != "" && !path.IsAbs(tc.path) && !strings.HasPrefix(s.Linux.CgroupsPath, CgroupParent+"/") {
			t.Errorf("relative cgroupsPath %q escaped %s: %q", tc.path, CgroupParent, s.Linux.CgroupsPath)
		}
	}
}

func TestSplitHooks(t *testing.T) {
	h := func(p string) []specs.Hook { return []specs.Hook{{Path: p}} }
	s := DefaultSpec(false)
	s.Hooks = &specs.Hooks{
		Prestart: h("/prestart"), CreateRuntime: h("/cr"), CreateContainer: h("/cc"), StartContainer: h("/sc"), //nolint:staticcheck
		Poststart: h("/poststart"), Poststop: h("/poststop"),
	}
	var r Record
	splitHooks(s, &r)
	if s.Hooks.Poststart != nil || s.Hooks.Poststop != nil {
		t.Errorf("poststart/poststop left for libcontainer: %+v", s.Hooks)
	}
	if len(r.Poststart) != 1 || r.Poststart[0].Path != "/poststart" || len(r.Poststop) != 1 || r.Poststop[0].Path != "/poststop" {
		t.Errorf("record hooks: %+v %+v", r.Poststart, r.Poststop)
	}
	if len(s.Hooks.Prestart) != 1 || len(s.Hooks.CreateRuntime) != 1 || len(s.Hooks.CreateContainer) != 1 || len(s.Hooks.StartContainer) != 1 { //nolint:staticcheck
		t.Errorf("other hooks changed: %+v", s.Hooks)
	}
	s.Hooks = nil
	splitHooks(s, &r) // no hooks: no panic
}

// FuzzParseSpec feeds arbitrary bytes to ParseSpec and what it accepts to
// specconv, as `create` does. Nothing may panic; an accepted config has a
// process, a root, and mount destinations that are absolute and free of
// "..", and specconv rejects unknown namespace types.
func FuzzParseSpec(f *testing.F) {
	f.Add(specJSON(f, nil))
	f.Add(func() []byte { b, _ := json.Marshal(DefaultSpec(true)); return b }())
	f.Add([]byte(`{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["sh"], "cwd": "/"}, "linux": {}}`))
	f.Add([]byte(`{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["sh"], "cwd": "/"}, "linux": {"namespaces": [{"type": "bogus"}]}}`))
	f.Add([]byte(`{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["sh"], "cwd": "/"}, "linux": {}, "mounts": [{"destination": "../x", "type": "bind", "source": "/"}]}`))
	f.Add([]byte(`{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["sh"], "cwd": "/"}, "linux": {"uidMappings": [{"containerID": 0, "hostID": 1000, "size": 4294967295}], "namespaces": [{"type": "user"}]}}`))
	f.Add([]byte(`{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["sh"], "cwd": "/", "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1, "hard": 0}]}, "linux": {}}`))
	f.Add([]byte(`{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["sh"], "cwd": "/"}, "linux": {"seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}]}}}`))
	f.Add([]byte(`{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["sh"], "cwd": "/"}, "linux": {"devices": [{"path": "/dev/x", "type": "q", "major": -1}], "resources": {"devices": [{"allow": true, "type": "z"}]}}}`))
	f.Add([]byte(`{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["sh"], "cwd": "/"}, "linux": {"sysctl": {"../../x": "1"}, "maskedPaths": ["../x"], "cgroupsPath": "../../escape"}}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{`))
	f.Add([]byte(`{"process": {"capabilities": {"bounding": ["CAP_"]}}}`))

	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSpec(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("ParseSpec error %v is not ErrInvalidSpec", err)
			}
			return
		}
		if s.Process == nil || s.Root == nil || s.Root.Path == "" || s.Linux == nil {
			t.Fatalf("ParseSpec accepted an incomplete config: %s", data)
		}
		for _, m := range s.Mounts {
			if !path.IsAbs(m.Destination) || slices.Contains(strings.Split(m.Destination, "/"), "..") {
				t.Fatalf("ParseSpec accepted mount destination %q", m.Destination)
			}
		}
		orig := s.Linux.CgroupsPath
		if err := withCgroupParent("fuzz", false)(s); err != nil {
			return
		}
		if p := s.Linux.CgroupsPath; !path.IsAbs(orig) && !strings.HasPrefix(p, CgroupParent+"/") {
			t.Fatalf("relative cgroupsPath %q became %q, outside %s", orig, p, CgroupParent)
		}
		if _, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{CgroupName: "fuzz", Spec: s}); err != nil {
			return
		}
		known := specconv.KnownNamespaces()
		for _, ns := range s.Linux.Namespaces {
			if !slices.Contains(known, string(ns.Type)) {
				t.Fatalf("specconv accepted namespace type %q", ns.Type)
			}
		}
	})
}
