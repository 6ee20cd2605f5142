package rootfs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

var (
	initOnce sync.Once
	initBin  string
	initErr  error
)

// testInit compiles the init program (rootfs/init/vmctr-init.c) once; tests
// that need it skip without a C compiler and a static libc.
func testInit(t *testing.T) string {
	t.Helper()
	initOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vmctr-init-")
		if err != nil {
			initErr = err
			return
		}
		initBin = filepath.Join(dir, "vmctr-init")
		out, err := exec.Command("cc", "-static", "-Os", "-Wall", "-Wextra", "-Werror", "-o", initBin, "init/vmctr-init.c").CombinedOutput()
		if err != nil {
			initErr = errors.New(string(out))
		}
	})
	if initErr != nil {
		t.Skipf("cannot build the static init program: %v", initErr)
	}
	return initBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if initBin != "" {
		os.RemoveAll(filepath.Dir(initBin))
	}
	os.Exit(code)
}

func write(t *testing.T, p, data string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	// os.FileMode has its own setuid bit; take the octal mode as chmod(2) does.
	if err := unix.Chmod(p, uint32(mode)); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, p string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

// sourceRoot makes a small server root file system: a static program
// reached through a /bin -> usr/bin link, hard links, a setuid file,
// absolute and relative links, a broken one and one that climbs out, a
// kernel, and users.
func sourceRoot(t *testing.T) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	app, err := os.ReadFile(testInit(t))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(src, "usr/bin/app"), string(app), 0o755)
	symlink(t, "usr/bin", filepath.Join(src, "bin"))
	write(t, filepath.Join(src, "usr/bin/suid"), "#!/bin/app\n", 0o4755)
	write(t, filepath.Join(src, "data/a"), "shared content\n", 0o640)
	if err := os.Link(filepath.Join(src, "data/a"), filepath.Join(src, "data/b")); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(src, "data/fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(src, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n"+
		"daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"+
		"app:$6$secret$hash:1000:1000:App:/home/app:/bin/sh\n"+
		"other:x:1001:1001::/home/other:/bin/sh\n", 0o644)
	write(t, filepath.Join(src, "etc/group"), "root:x:0:\ndaemon:x:1:\napp:x:1000:\nother:x:1001:\nstaff:x:50:app,other\n", 0o644)
	write(t, filepath.Join(src, "etc/shadow"), "root:$6$roothash:1::::::\napp:$6$apphash:1::::::\n", 0o640)
	write(t, filepath.Join(src, "etc/resolv.conf"), "nameserver 127.0.0.53\nsearch example.org\n", 0o644)
	symlink(t, "/data/a", filepath.Join(src, "etc/alt"))
	symlink(t, "../data/b", filepath.Join(src, "etc/rel"))
	symlink(t, "/nonexistent/file", filepath.Join(src, "etc/broken"))
	symlink(t, "/nowhere", filepath.Join(src, "data/dangling"))
	write(t, filepath.Join(src, "data/everyone"), "rw for all\n", 0o666)
	write(t, filepath.Join(src, "data/readonly"), "r\n", 0o400)
	symlink(t, "../../../../etc/hostname", filepath.Join(src, "etc/escape"))
	write(t, filepath.Join(src, "boot/vmlinuz-6.1.0"), "kernel", 0o644)
	symlink(t, "boot/vmlinuz-6.1.0", filepath.Join(src, "vmlinuz"))
	write(t, filepath.Join(src, "lib/modules/6.1.0/x.ko"), "module", 0o644)
	return src
}

func baseSpec() *specs.Spec {
	return &specs.Spec{Version: specs.Version, Process: &specs.Process{Cwd: "/"}, Linux: &specs.Linux{}}
}

func buildOpts(t *testing.T, src, out string) BuildOpts {
	return BuildOpts{
		SourceRoot: src, Output: out, Init: testInit(t), Spec: baseSpec(),
		Apps:  []string{"/bin/app"},
		Files: []string{"/data", "/etc/alt", "/etc/rel", "/usr/bin/suid", "/etc/shadow"},
		User:  "app", KeepUsers: []string{"daemon"}, Env: []string{"A=1"}, Workdir: "/home/app",
		Start: []Command{{Args: []string{"/bin/app", "x"}}},
	}
}

func ino(t *testing.T, p string) (uint64, uint64) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st.Dev, st.Ino
}

func TestBuild(t *testing.T) {
	src := sourceRoot(t)
	out := filepath.Join(t.TempDir(), "bundle")
	res, err := Build(context.Background(), buildOpts(t, src, out))
	if err != nil {
		t.Fatal(err)
	}
	rfs := filepath.Join(out, "rootfs")
	if res.Bundle != out || res.Rootfs != rfs {
		t.Errorf("result paths %q %q", res.Bundle, res.Rootfs)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("bundle dir mode: %v %v", fi.Mode(), err)
	}
	if fi, err := os.Stat(rfs); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("rootfs mode: %v %v", fi.Mode(), err)
	}

	// Links stay links; copies are new inodes; hard links join copies.
	if l, err := os.Readlink(filepath.Join(rfs, "bin")); err != nil || l != "usr/bin" {
		t.Errorf("/bin: %q %v, want a link to usr/bin", l, err)
	}
	if l, _ := os.Readlink(filepath.Join(rfs, "etc/alt")); l != "/data/a" {
		t.Errorf("/etc/alt -> %q", l)
	}
	if _, i := ino(t, filepath.Join(rfs, "usr/bin/app")); func() bool { _, j := ino(t, filepath.Join(src, "usr/bin/app")); return i == j }() {
		t.Error("/usr/bin/app shares its inode with the source")
	}
	_, ia := ino(t, filepath.Join(rfs, "data/a"))
	_, ib := ino(t, filepath.Join(rfs, "data/b"))
	_, is := ino(t, filepath.Join(src, "data/a"))
	if ia != ib || ia == is {
		t.Errorf("hard links: a=%d b=%d source=%d; want a==b!=source", ia, ib, is)
	}
	if fi, _ := os.Stat(filepath.Join(rfs, "usr/bin/suid")); fi.Mode()&os.ModeSetuid != 0 || fi.Mode().Perm() != 0o755 {
		t.Errorf("setuid file mode %v, want 0755 without setuid", fi.Mode())
	}
	for p, want := range map[string]os.FileMode{"data/a": 0o640, "data/everyone": 0o666, "data/readonly": 0o400} {
		if fi, _ := os.Stat(filepath.Join(rfs, p)); fi.Mode().Perm() != want {
			t.Errorf("/%s mode %v, want %v", p, fi.Mode(), want)
		}
	}
	if fi, _ := os.Stat(filepath.Join(rfs, "tmp")); fi.Mode()&os.ModeSticky == 0 || fi.Mode().Perm() != 0o777 {
		t.Errorf("/tmp mode %v", fi.Mode())
	}
	if fi, err := os.Stat(filepath.Join(rfs, "home/app")); err != nil || !fi.IsDir() {
		t.Errorf("working directory not made: %v", err)
	}
	if l, err := os.Readlink(filepath.Join(rfs, "data/dangling")); err != nil || l != "/nowhere" {
		t.Errorf("a link dangling in the source: %q %v, want it copied as it is", l, err)
	}
	for _, p := range []string{"boot", "lib/modules", "vmlinuz", "nonexistent"} {
		if _, err := os.Lstat(filepath.Join(rfs, p)); err == nil {
			t.Errorf("/%s was copied", p)
		}
	}

	// Modified copies.
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(rfs, p))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if pw := read("etc/passwd"); pw != "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\napp:x:1000:1000:App:/home/app:/bin/sh\n" {
		t.Errorf("/etc/passwd:\n%s", pw)
	}
	if gr := read("etc/group"); gr != "root:x:0:\ndaemon:x:1:\napp:x:1000:\nstaff:x:50:app\n" {
		t.Errorf("/etc/group:\n%s", gr)
	}
	if sh := read("etc/shadow"); strings.Contains(sh, "$6$") || !strings.Contains(sh, "app:!*:") {
		t.Errorf("/etc/shadow:\n%s", sh)
	}
	if rc := read("etc/resolv.conf"); !strings.Contains(rc, "nameserver 127.0.0.1\n") || strings.Contains(rc, "127.0.0.53") ||
		!strings.Contains(rc, "search example.org") {
		t.Errorf("/etc/resolv.conf:\n%s", rc)
	}
	if h := read("etc/hostname"); h != "app\n" {
		t.Errorf("/etc/hostname %q", h)
	}
	var rf RunFile
	if err := json.Unmarshal([]byte(read("/.vmctr/run.json")), &rf); err != nil || len(rf.Apps) != 1 || rf.Apps[0].Args[1] != "x" || rf.StopTimeout != 10 {
		t.Errorf("run.json: %+v %v", rf, err)
	}

	// config.json
	var s specs.Spec
	b, err := os.ReadFile(filepath.Join(out, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if s.Root.Path != "rootfs" || s.Process.Args[0] != InitPath || s.Process.User.UID != 1000 || s.Process.User.GID != 1000 ||
		len(s.Process.User.AdditionalGids) != 1 || s.Process.User.AdditionalGids[0] != 50 ||
		s.Process.Cwd != "/home/app" || s.Hostname != "app" || s.Process.Terminal {
		t.Errorf("config.json: root %+v process %+v hostname %q", s.Root, s.Process, s.Hostname)
	}
	if !strings.Contains(strings.Join(s.Process.Env, " "), "A=1") || !strings.Contains(strings.Join(s.Process.Env, " "), "HOME=/home/app") {
		t.Errorf("env %q", s.Process.Env)
	}

	// The manifest.
	m, err := ReadManifest(rfs)
	if err != nil {
		t.Fatal(err)
	}
	e := m.Lookup("/usr/bin/suid")
	if e == nil || !e.Modified || e.Mode != "0755" || !strings.Contains(e.Detail, "setuid") {
		t.Errorf("manifest /usr/bin/suid: %+v", e)
	}
	e = m.Lookup("/data/b")
	if e == nil || e.Type != TypeHardlink || e.Link != "/data/a" || e.SHA256 == "" {
		t.Errorf("manifest /data/b: %+v", e)
	}
	e = m.Lookup("/etc/passwd")
	if e == nil || e.Reason != ReasonGenerated || !e.Modified || e.Source != "/etc/passwd" {
		t.Errorf("manifest /etc/passwd: %+v", e)
	}
	e = m.Lookup("/bin")
	if e == nil || e.Type != TypeSymlink || e.Reason != ReasonSymlink {
		t.Errorf("manifest /bin: %+v", e)
	}
	e = m.Lookup("/usr/bin/app")
	if e == nil || e.Reason != "app" || e.Size == 0 || len(e.SHA256) != 64 {
		t.Errorf("manifest /usr/bin/app: %+v", e)
	}
	// Why follows each entry's via: /bin is on the way to the app; a file
	// of a --file tree is there for the tree.
	for p, want := range map[string]string{"/bin": "/bin /usr/bin/app", "/data/everyone": "/data/everyone /data", "/usr": "/usr /bin /usr/bin/app"} {
		var got []string
		for _, e := range m.Why(p) {
			got = append(got, e.Path)
		}
		if strings.Join(got, " ") != want {
			t.Errorf("Why(%s) = %v, want %s", p, got, want)
		}
	}
	// Every path in the tree is in the manifest, and the other way round.
	seen := map[string]bool{}
	err = filepath.Walk(rfs, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		r := strings.TrimPrefix(p, rfs)
		if r == "" {
			return nil
		}
		seen[r] = true
		if m.Lookup(r) == nil {
			t.Errorf("%s is not in the manifest", r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range m.Files {
		if !seen[e.Path] {
			t.Errorf("manifest entry %s is not in the tree", e.Path)
		}
	}
}

// TestBuildBadInput: each bad input is an error naming the file, and no
// output or temporary directory is left behind.
func TestBuildBadInput(t *testing.T) {
	src := sourceRoot(t)
	for _, tc := range []struct {
		name  string
		edit  func(*BuildOpts)
		err   error
		names string
	}{
		{"missing app", func(o *BuildOpts) { o.Apps = []string{"/usr/bin/missing"}; o.Start = nil }, ErrNotFound, "/usr/bin/missing"},
		{"broken link", func(o *BuildOpts) { o.Files = []string{"/etc/broken"} }, ErrBrokenSymlink, "/etc/broken"},
		{"link out of the root", func(o *BuildOpts) { o.Files = []string{"/etc/escape"} }, ErrOutsideRoot, "/etc/escape"},
		{"relative path", func(o *BuildOpts) { o.Files = []string{"etc/alt"} }, ErrInvalidOptions, "etc/alt"},
		{"kernel", func(o *BuildOpts) { o.Files = []string{"/boot/vmlinuz-6.1.0"} }, ErrKernelFile, "/boot/vmlinuz-6.1.0"},
		{"kernel by link", func(o *BuildOpts) { o.Files = []string{"/vmlinuz"} }, ErrKernelFile, "/vmlinuz"},
		{"module dir", func(o *BuildOpts) { o.Files = []string{"/lib/modules"} }, ErrKernelFile, "/lib/modules"},
		{"unknown user", func(o *BuildOpts) { o.User = "nobody" }, ErrInvalidOptions, "nobody"},
		{"unknown kept user", func(o *BuildOpts) { o.KeepUsers = []string{"ghost"} }, ErrInvalidOptions, "ghost"},
		{"start program missing", func(o *BuildOpts) { o.Start = []Command{{Args: []string{"/usr/bin/nothere"}}} }, ErrNotFound, "/usr/bin/nothere"},
		{"dynamic init", func(o *BuildOpts) { o.Init = "/bin/sh" }, ErrBadInit, "/bin/sh"},
		{"negative trace timeout", func(o *BuildOpts) { o.TraceTimeout = -5 * time.Second }, ErrInvalidOptions, "-5s"},
		{"two start commands, one name", func(o *BuildOpts) {
			o.Start = []Command{{Name: "a", Args: []string{"/bin/app"}}, {Name: "a", Args: []string{"/bin/app", "x"}}}
		}, ErrInvalidOptions, `"a"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			out := filepath.Join(parent, "bundle")
			o := buildOpts(t, src, out)
			tc.edit(&o)
			_, err := Build(context.Background(), o)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if !strings.Contains(err.Error(), tc.names) {
				t.Errorf("error %q does not name %s", err, tc.names)
			}
			if ents, _ := os.ReadDir(parent); len(ents) != 0 {
				t.Errorf("left behind: %v", ents)
			}
		})
	}
}

func TestBuildOutput(t *testing.T) {
	src := sourceRoot(t)
	parent := t.TempDir()
	out := filepath.Join(parent, "bundle")
	write(t, filepath.Join(out, "keep"), "x", 0o644)
	if _, err := Build(context.Background(), buildOpts(t, src, out)); !errors.Is(err, ErrOutputExists) {
		t.Fatalf("build into a non-empty dir: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "keep")); err != nil {
		t.Fatal("the existing output was touched")
	}
	// Force replaces only a bundle vmctr built: never someone's directory.
	o := buildOpts(t, src, out)
	o.Force = true
	if _, err := Build(context.Background(), o); !errors.Is(err, ErrNotBundle) {
		t.Fatalf("--force into a directory that is not a bundle: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "keep")); err != nil {
		t.Fatal("--force touched a directory that is not a bundle")
	}
	if err := os.Remove(filepath.Join(out, "keep")); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(out, "rootfs", "data", "app-state"), "x", 0o644)
	o.Env = append(o.Env, "NEW=1")
	if _, err := Build(context.Background(), o); err != nil {
		t.Fatalf("--force over a bundle: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "rootfs", "data", "app-state")); err == nil {
		t.Error("--force did not replace the bundle")
	}
	// A file someone added beside a bundle's rootfs and config.json is theirs.
	write(t, filepath.Join(out, "notes.txt"), "mine", 0o644)
	if _, err := Build(context.Background(), o); !errors.Is(err, ErrNotBundle) {
		t.Errorf("--force over a bundle with a file added: %v", err)
	}
	if err := os.Remove(filepath.Join(out, "notes.txt")); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 1 {
		t.Errorf("beside the output: %v", ents)
	}
	// An empty directory is fine without force.
	empty := filepath.Join(parent, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(context.Background(), buildOpts(t, src, empty)); err != nil {
		t.Fatal(err)
	}
	// A bundle written inside a tree it copies is not copied into itself.
	src2 := sourceRoot(t)
	inside := filepath.Join(src2, "data", "bundle")
	o2 := buildOpts(t, src2, inside)
	if _, err := Build(context.Background(), o2); err != nil {
		t.Fatal(err)
	}
	o2.Force = true
	if _, err := Build(context.Background(), o2); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(inside, "rootfs/data/bundle")); err == nil {
		t.Error("the previous bundle was copied into the new one")
	}
	// A symlink as output is refused.
	if err := os.Symlink(empty, filepath.Join(parent, "link")); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(context.Background(), buildOpts(t, src, filepath.Join(parent, "link"))); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("symlink output: %v", err)
	}
	// A cancelled build leaves nothing.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Build(ctx, buildOpts(t, src, filepath.Join(parent, "cancelled"))); err == nil {
		t.Error("cancelled build succeeded")
	}
	if _, err := os.Stat(filepath.Join(parent, "cancelled")); err == nil {
		t.Error("cancelled build left its output")
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 3 {
		t.Errorf("beside the outputs: %v", ents)
	}
}

// A build into a bundle built from the same inputs leaves it as it is
// (what the container wrote there too) and says so; any change of the
// options or of a source file makes it refuse without --force.
func TestBuildUnchanged(t *testing.T) {
	src := sourceRoot(t)
	out := filepath.Join(t.TempDir(), "bundle")
	first, err := Build(context.Background(), buildOpts(t, src, out))
	if err != nil {
		t.Fatal(err)
	}
	if first.Unchanged {
		t.Error("first build: unchanged")
	}
	data := filepath.Join(out, "rootfs", "data", "written-by-the-app")
	write(t, data, "state", 0o600)
	kept := func(what string) {
		t.Helper()
		if _, err := os.Stat(data); err != nil {
			t.Errorf("%s: the container's file is gone", what)
		}
	}

	again, err := Build(context.Background(), buildOpts(t, src, out))
	if err != nil {
		t.Fatalf("same build again: %v", err)
	}
	if !again.Unchanged || again.Files != first.Files || again.Bytes != first.Bytes || again.Dirs != first.Dirs ||
		again.Generated != first.Generated || !slices.Equal(again.Users, first.Users) || again.Bundle != first.Bundle {
		t.Errorf("same build again: %+v\nfirst: %+v", again, first)
	}
	kept("same build again")

	o := buildOpts(t, src, out)
	o.Env = append(o.Env, "B=2")
	if _, err := Build(context.Background(), o); !errors.Is(err, ErrOutputExists) {
		t.Errorf("other options: %v, want ErrOutputExists", err)
	}
	kept("other options")
	for name, change := range map[string]func(src string) error{
		"content": func(src string) error {
			f, err := os.OpenFile(filepath.Join(src, "data/everyone"), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteString("more\n")
			return err
		},
		"mode": func(src string) error { return os.Chmod(filepath.Join(src, "data/readonly"), 0o440) },
		"passwd": func(src string) error {
			return os.WriteFile(filepath.Join(src, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\ndaemon:x:1:1::/:/bin/sh\n"), 0o644)
		},
	} {
		// Each change on a fresh pair: the bundle, then the change.
		src := sourceRoot(t)
		out := filepath.Join(t.TempDir(), "bundle")
		if _, err := Build(context.Background(), buildOpts(t, src, out)); err != nil {
			t.Fatal(err)
		}
		if err := change(src); err != nil {
			t.Fatal(err)
		}
		if _, err := Build(context.Background(), buildOpts(t, src, out)); !errors.Is(err, ErrOutputExists) {
			t.Errorf("source %s changed: %v, want ErrOutputExists", name, err)
		}
	}

	// --force rebuilds even when nothing changed.
	o = buildOpts(t, src, out)
	o.Force = true
	if r, err := Build(context.Background(), o); err != nil || r.Unchanged {
		t.Fatalf("--force: %+v, %v", r, err)
	}
	if _, err := os.Stat(data); err == nil {
		t.Error("--force kept the container's file")
	}

	// A manifest the container replaced is not a record of a build.
	man := filepath.Join(out, "rootfs", ManifestPath)
	if err := os.Remove(man); err != nil {
		t.Fatal(err)
	}
	symlink(t, "/proc/self/environ", man)
	if _, err := Build(context.Background(), buildOpts(t, src, out)); !errors.Is(err, ErrOutputExists) {
		t.Errorf("manifest replaced by a symlink: %v, want ErrOutputExists", err)
	}
}

// TestStaleBuilds: a build removes the build directories that builds which
// died left beside their outputs (nobody holds their lock), and never one
// whose build is alive.
func TestStaleBuilds(t *testing.T) {
	src := sourceRoot(t)
	parent := t.TempDir()
	mk := func(name string) string {
		p := filepath.Join(parent, name)
		write(t, filepath.Join(p, "rootfs/usr/bin/app"), "x", 0o755)
		return p
	}
	stale := mk(".a.vmctr-build-4194304-1234567")
	newYoung := mk(".c.vmctr-new-7890123")
	newOld := mk(".d.vmctr-new-0123456")
	// Directories someone named like build directories: never removed.
	lookalikes := []string{mk(".backup.vmctr-old-2024"), mk(".my.vmctr-build-notes"), mk(".x.vmctr-build-12-ab")}
	past := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(newOld, past, past); err != nil {
		t.Fatal(err)
	}
	live := mk(".e.vmctr-build-1-3456789")
	fd, err := unix.Open(live, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	notDir := filepath.Join(parent, ".f.vmctr-build-2-6789012")
	write(t, notDir, "a file", 0o644)
	other := mk("bundle-of-someone-else")
	var foreign string
	if os.Geteuid() == 0 {
		foreign = mk(".g.vmctr-build-3-9012345") // another user's: never ours to remove
		if err := os.Chown(foreign, 4242, 4242); err != nil {
			t.Fatal(err)
		}
	}

	out := filepath.Join(parent, "out")
	if _, err := Build(context.Background(), buildOpts(t, src, out)); err != nil {
		t.Fatal(err)
	}
	for _, p := range lookalikes {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s (someone's directory) was removed", filepath.Base(p))
		}
	}
	for _, p := range []string{stale, newOld} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s (left by a dead build) is still there", filepath.Base(p))
		}
	}
	for _, p := range []string{live, newYoung, notDir, other, out, foreign} {
		if p == "" {
			continue
		}
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s was removed: %v", filepath.Base(p), err)
		}
	}
	// The build's own directory took the -build-PID- name while it ran.
	if _, err := os.Stat(filepath.Join(out, "rootfs/usr/bin/app")); err != nil {
		t.Fatal(err)
	}
	tmp, lock, err := makeBuildDir(filepath.Join(parent, "next"))
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	defer unix.Close(lock)
	if want := ".next.vmctr-build-" + strconv.Itoa(os.Getpid()) + "-"; !strings.HasPrefix(filepath.Base(tmp), want) {
		t.Errorf("build directory %s, want %s*", filepath.Base(tmp), want)
	}
	removeStaleBuilds(parent)
	if _, err := os.Stat(tmp); err != nil {
		t.Errorf("a live build's directory was removed: %v", err)
	}
}

// TestPlanner: how paths resolve inside the source root.
func TestPlanner(t *testing.T) {
	src := sourceRoot(t)
	symlink(t, "loop2", filepath.Join(src, "etc/loop1"))
	symlink(t, "loop1", filepath.Join(src, "etc/loop2"))
	symlink(t, "/data/a/x", filepath.Join(src, "etc/notdir"))
	fd, err := unix.Open(src, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	for _, tc := range []struct {
		p, reason string
		err       error
	}{
		{"/bin/app", "app", nil},
		{"/etc/alt", "explicit", nil},
		{"/etc/broken", "app", ErrBrokenSymlink},
		{"/etc/broken", "elf-dep", ErrBrokenSymlink},
		{"/etc/broken", "explicit", nil}, // copied as a dangling link
		{"/etc/loop1", "app", ErrBrokenSymlink},
		{"/etc/notdir", "app", ErrBrokenSymlink},
		{"/etc/escape", "explicit", ErrOutsideRoot},
		{"/../etc/passwd", "explicit", nil}, // cleaned to /etc/passwd
		{"/nothere", "app", ErrNotFound},
		{"/data/a/b", "explicit", ErrNotFound},
		{"/vmlinuz", "explicit", ErrKernelFile},
		{"/boot/vmlinuz-6.1.0", "explicit", ErrKernelFile},
		{"/proc/self/exe", "trace", nil}, // skipped: the runtime mounts /proc
	} {
		pl := newPlanner(src, fd, nil)
		pl.named = map[string]bool{tc.p: true} // as if named by --file
		err := pl.add(tc.p, tc.reason, "", "")
		if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
			t.Errorf("add(%s, %s) = %v, want %v", tc.p, tc.reason, err, tc.err)
		}
	}
	// Found inside a named tree, a link that escapes or loops is copied
	// as it is: a hostile source root cannot fail a tree's build with one.
	for _, p := range []string{"/etc/escape", "/etc/loop1"} {
		pl := newPlanner(src, fd, nil)
		if err := pl.add(p, "explicit", "", ""); err != nil {
			t.Errorf("add(%s) inside a tree: %v", p, err)
		} else if n := pl.nodes[p]; n == nil || n.kind != kindSymlink {
			t.Errorf("add(%s) inside a tree: not planned as a link: %+v", p, n)
		}
	}
	// Links on the way are planned as links; the target as a file with the reason.
	pl := newPlanner(src, fd, nil)
	if err := pl.add("/bin/app", "app", "named", ""); err != nil {
		t.Fatal(err)
	}
	if n := pl.nodes["/bin"]; n == nil || n.kind != kindSymlink || n.reason != ReasonSymlink || n.via != "/bin/app" {
		t.Errorf("/bin: %+v", n)
	}
	if n := pl.nodes["/usr/bin/app"]; n == nil || n.kind != kindFile || n.reason != "app" {
		t.Errorf("/usr/bin/app: %+v", n)
	}
	if n := pl.nodes["/usr"]; n == nil || n.kind != kindDir || n.reason != ReasonParent || n.via != "/bin/app" {
		t.Errorf("/usr: %+v", n)
	}
	if err := pl.add("/etc/rel", "explicit", "asked", "/etc"); err != nil {
		t.Fatal(err)
	}
	if n := pl.nodes["/etc/rel"]; n == nil || n.kind != kindSymlink || n.reason != "explicit" || n.via != "/etc" {
		t.Errorf("/etc/rel: %+v", n)
	}
	if n := pl.nodes["/data/b"]; n == nil || n.reason != ReasonSymlink || n.detail != "target of /etc/rel" || n.via != "/etc/rel" {
		t.Errorf("/data/b: %+v", n)
	}
}

func TestWhy(t *testing.T) {
	m := &Manifest{Files: []Entry{
		{Path: "/lib", Type: TypeSymlink, Link: "usr/lib"},
		{Path: "/usr/lib/libc.so.6", Reason: "elf-dep", Detail: "DT_NEEDED libc.so.6 of /lib/libssl.so.3", Via: "/lib/libssl.so.3"},
		{Path: "/usr/lib/libssl.so.3", Reason: "elf-dep", Detail: "DT_NEEDED libssl.so.3 of /usr/sbin/nginx (/etc/ld.so.cache)", Via: "/usr/sbin/nginx"},
		{Path: "/usr/sbin/nginx", Reason: "app", Detail: "--app /usr/sbin/nginx"},
		{Path: "/usr/share/x/data", Reason: "package", Detail: "package x (dependency of /usr/sbin/nginx)", Via: "x"},
		{Path: "/x", Reason: "elf-dep", Detail: "loop", Via: "/y"},
		{Path: "/y", Reason: "elf-dep", Detail: "loop", Via: "/x"},
	}}
	chain := m.Why("/usr/lib/libc.so.6")
	var got []string
	for _, e := range chain {
		got = append(got, e.Path)
	}
	if strings.Join(got, " ") != "/usr/lib/libc.so.6 /usr/lib/libssl.so.3 /usr/sbin/nginx" {
		t.Errorf("Why = %v", got)
	}
	if len(m.Why("/x")) != 2 {
		t.Errorf("a loop: %v", m.Why("/x"))
	}
	// Via names a package, not a file; the detail's path is for people.
	if len(m.Why("/usr/share/x/data")) != 1 {
		t.Errorf("a package file: %v", m.Why("/usr/share/x/data"))
	}
	if m.Why("/nope") != nil {
		t.Error("Why of a missing path")
	}
}

// A manifest from a hostile container: huge link targets and link loops
// neither hang Why nor blow up its work.
func TestWhyHostile(t *testing.T) {
	long := strings.Repeat("a/", 1<<19) // 1 MiB, half a million components
	m := &Manifest{Files: []Entry{
		{Path: "/a", Type: TypeSymlink, Link: long},
		{Path: "/b", Type: TypeSymlink, Link: "/c"},
		{Path: "/c", Type: TypeSymlink, Link: "/b"},
		{Path: "/f", Reason: "elf-dep", Via: "/a/" + long + "x"},
		{Path: "/g", Reason: "elf-dep", Via: "/b/x"},
	}}
	for _, p := range []string{"/f", "/g", "/a/x", "/b/c/b/c/x", "/" + long} {
		chain := m.Why(p)
		if (p == "/f" || p == "/g") && (len(chain) == 0 || chain[0].Path != p) {
			t.Errorf("Why(%s) = %v, want a chain from %s", p, chain, p)
		}
	}
}

// FuzzManifestWhy: any manifest (a container's own file, for inspect) and
// any path: Why returns, without panicking, a chain of distinct entries
// that starts with p's.
func FuzzManifestWhy(f *testing.F) {
	f.Add([]byte(`{"version":1,"files":[{"path":"/lib","type":"symlink","link":"usr/lib"},{"path":"/usr/lib/x","via":"/lib/y"},{"path":"/usr/lib/y","via":"/usr/lib/x"}]}`), "/lib/x")
	f.Add([]byte(`{"version":1,"files":[{"path":"/a","type":"symlink","link":"/a/a"},{"path":"/a/a/b","via":"/a/b"}]}`), "/a/b")
	f.Fuzz(func(t *testing.T, data []byte, p string) {
		m, err := DecodeManifest(bytes.NewReader(data))
		if err != nil {
			return
		}
		chain := m.Why(p)
		seen := map[string]bool{}
		for _, e := range chain {
			if seen[e.Path] {
				t.Fatalf("Why(%q) visits %s twice", p, e.Path)
			}
			seen[e.Path] = true
		}
	})
}

func TestIsKernelPath(t *testing.T) {
	for p, want := range map[string]bool{
		"/boot": true, "/boot/config-6.1": true, "/lib/modules/6.1/kernel/x.ko": true, "/usr/lib/firmware/a.bin": true,
		"/vmlinuz": true, "/vmlinuz.old": true, "/initrd.img": true, "/srv/initramfs-x.img": true,
		"/usr/lib/x86_64-linux-gnu/libc.so.6": false, "/bootstrap": false, "/lib/modules-load.d/x.conf": false,
	} {
		if isKernelPath(p) != want {
			t.Errorf("isKernelPath(%s) = %v", p, !want)
		}
	}
}

// BenchmarkBuildNginx builds this host's nginx (hack/bench/build compares
// the whole command with cp -a).
func BenchmarkBuildNginx(b *testing.B) {
	if _, err := os.Stat("/usr/sbin/nginx"); err != nil {
		b.Skip("nginx is not installed")
	}
	t := &testing.T{}
	init := testInit(t)
	dir := b.TempDir()
	for i := 0; i < b.N; i++ {
		out := filepath.Join(dir, "b"+strconv.Itoa(i))
		_, err := Build(context.Background(), BuildOpts{
			Apps: []string{"/usr/sbin/nginx"}, Files: []string{"/etc/nginx", "/var/www/html"},
			Output: out, Init: init, Spec: baseSpec(),
		})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(out)
		b.StartTimer()
	}
}

// With a user namespace, every copy needs an owner inside its 65536 IDs,
// and a bad base is refused before anything is written.
func TestBuildUsernsRange(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown the source")
	}
	src := sourceRoot(t)
	if err := os.Chown(filepath.Join(src, "data/everyone"), 70000, 0); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "bundle")
	o := buildOpts(t, src, out)
	o.UsernsBase = 100000
	if _, err := Build(context.Background(), o); !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), "/data/everyone is owned by 70000:0") {
		t.Errorf("owner outside the namespace: %v", err)
	}
	o.UsernsBase = 4096
	if _, err := Build(context.Background(), o); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("base below 65536: %v", err)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a refused build left its output")
	}
}

// --force never removes a bundle with a mount in it: removing the tree
// would delete the mounted file system's files.
func TestBuildForceMounted(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount")
	}
	src := sourceRoot(t)
	out := filepath.Join(t.TempDir(), "bundle")
	o := buildOpts(t, src, out)
	if _, err := Build(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	write(t, filepath.Join(data, "important.db"), "precious", 0o600)
	target := filepath.Join(out, "rootfs", "data")
	if err := unix.Mount(data, target, "", unix.MS_BIND, ""); err != nil {
		t.Skipf("bind mount: %v", err)
	}
	defer unix.Unmount(target, unix.MNT_DETACH)
	o.Force = true
	if _, err := Build(context.Background(), o); !errors.Is(err, ErrBundleInUse) || !strings.Contains(err.Error(), target) {
		t.Errorf("--force over a bundle with a mount in it: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(data, "important.db")); err != nil || string(b) != "precious" {
		t.Errorf("the mounted data: %q %v", b, err)
	}
}

// No password hash of the source reaches the container, even when the
// whole of /etc is asked for: the backups (shadow-, gshadow-) and PAM's
// old passwords are left out, shadow and gshadow are generated.
func TestBuildSecrets(t *testing.T) {
	src := sourceRoot(t)
	write(t, filepath.Join(src, "etc/shadow-"), "root:$6$oldroothash:1::::::\n", 0o640)
	write(t, filepath.Join(src, "etc/gshadow-"), "root:$6$oldgrouphash::\n", 0o640)
	write(t, filepath.Join(src, "etc/security/opasswd"), "app:1000:1:$6$previoushash\n", 0o600)
	out := filepath.Join(t.TempDir(), "bundle")
	o := buildOpts(t, src, out)
	o.Files = append(o.Files, "/etc")
	if _, err := Build(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir(filepath.Join(out, "rootfs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte("$6$")) {
			t.Errorf("%s holds a password hash", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"etc/shadow-", "etc/gshadow-", "etc/security/opasswd"} {
		if _, err := os.Lstat(filepath.Join(out, "rootfs", p)); err == nil {
			t.Errorf("/%s was copied", p)
		}
	}
}

// A container can rewrite its own manifest: a FIFO, a huge file or a file
// of empty objects is refused at once, without waiting or allocating.
func TestReadManifestHostile(t *testing.T) {
	for name, make := range map[string]func(p string) error{
		"fifo": func(p string) error { return unix.Mkfifo(p, 0o644) },
		"huge": func(p string) error {
			f, err := os.Create(p)
			if err != nil {
				return err
			}
			defer f.Close()
			return f.Truncate(maxManifestSize + 1) // sparse
		},
		"empty objects": func(p string) error {
			return os.WriteFile(p, append([]byte(`{"version":1,"files":[`), bytes.Repeat([]byte("{},"), maxManifestEntries)...), 0o644)
		},
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			if err := os.MkdirAll(filepath.Join(root, ".vmctr"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := make(filepath.Join(root, ManifestPath)); err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			if _, err := ReadManifest(root); !errors.Is(err, ErrNoManifest) {
				t.Errorf("ReadManifest: %v, want ErrNoManifest", err)
			}
			runtime.ReadMemStats(&after)
			if grown := int64(after.TotalAlloc - before.TotalAlloc); grown > 3*maxManifestSize {
				t.Errorf("ReadManifest allocated %d MB", grown>>20)
			}
		})
	}
}
