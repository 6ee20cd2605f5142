package main

// End-to-end tests of `vmctr build` and `vmctr inspect`: containers built
// from this host's nginx, redis-server and python3 run under vmctr (and
// runc) and do their job; what is inside them is only the copied set; a
// root file system of another Debian release builds and runs; bad input
// fails cleanly. They need root, and skip when a program they build from
// is not installed (CI installs nginx redis-server python3 debootstrap).

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
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

	"github.com/vmctr/vmctr/container"
	"github.com/vmctr/vmctr/rootfs"
)

var (
	initOnce sync.Once
	initErr  error
	initPath string // the static init program, built from rootfs/init/vmctr-init.c
)

// buildInit compiles the container init program once, beside the vmctr
// binary (where `vmctr build` looks for it) unless VMCTR_BINARY points
// elsewhere; then build() passes --init.
func buildInit(t *testing.T) string {
	t.Helper()
	bin, _ := binaries(t)
	initOnce.Do(func() {
		initPath = filepath.Join(filepath.Dir(bin), "vmctr-init")
		if os.Getenv("VMCTR_BINARY") != "" {
			initPath = filepath.Join(workDir, "vmctr-init")
		}
		out, err := exec.Command("cc", "-static", "-Os", "-Wall", "-Wextra", "-Werror", "-o", initPath,
			"../../rootfs/init/vmctr-init.c").CombinedOutput()
		if err != nil {
			initErr = fmt.Errorf("building vmctr-init: %v\n%s", err, out)
		}
	})
	if initErr != nil {
		t.Fatal(initErr)
	}
	return initPath
}

// needProgs skips the test unless the programs it builds from exist.
func needProgs(t *testing.T, progs ...string) {
	t.Helper()
	for _, p := range progs {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%s is not installed (apt-get install nginx redis-server python3 debootstrap)", p)
		}
	}
}

// build runs `vmctr build args... -o <new dir>` and returns the bundle.
func (e *env) build(args ...string) string {
	e.t.Helper()
	out := e.newDir("bundle")
	r := e.run(nil, e.buildArgs(out, args...)...)
	if r.code != 0 {
		e.t.Fatalf("vmctr build %s: %s", strings.Join(args, " "), r)
	}
	return out
}

func (e *env) buildArgs(out string, args ...string) []string {
	init := buildInit(e.t)
	a := []string{"build", "-o", out}
	if os.Getenv("VMCTR_BINARY") != "" {
		a = append(a, "--init", init)
	}
	return append(a, args...)
}

// newDir returns a fresh path (not created) in the test's directory.
func (e *env) newDir(prefix string) string {
	e.mu.Lock()
	e.n++
	p := filepath.Join(e.dir, prefix+strconv.Itoa(e.n))
	e.mu.Unlock()
	return p
}

// runDetached starts a built bundle and returns its init's PID.
func (e *env) runDetached(bundle string) (id string, pid int) {
	e.t.Helper()
	id = e.newID()
	e.ok("run", "-d", "--bundle", bundle, id)
	return id, e.state(id).Pid
}

// inNetns runs fn on a thread inside the network namespace of pid: the
// tests talk to a container's loopback without touching the host's network.
func inNetns(t *testing.T, pid int, fn func() error) error {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Not unlocked if switching back fails: the thread then dies with
		// the goroutine instead of serving others in the wrong namespace.
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		target, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns: %w", err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns back: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// dialIn connects to addr in the container's network namespace, retrying
// until the server listens (20s).
func dialIn(t *testing.T, pid int, addr string) net.Conn {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var c net.Conn
		err := inNetns(t, pid, func() error {
			var err error
			c, err = net.DialTimeout("tcp", addr, 2*time.Second)
			return err
		})
		if err == nil {
			_ = c.SetDeadline(time.Now().Add(20 * time.Second))
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("connecting to %s in the container's network namespace: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func httpGet(t *testing.T, pid int, addr, path string) string {
	t.Helper()
	c := dialIn(t, pid, addr)
	defer c.Close()
	fmt.Fprintf(c, "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n", path)
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading the HTTP answer: %v", err)
	}
	return string(b)
}

// readManifest reads a built bundle's manifest.
func readManifest(t *testing.T, bundle string) *rootfs.Manifest {
	t.Helper()
	m, err := rootfs.ReadManifest(filepath.Join(bundle, "rootfs"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// checkInside checks what a running container holds, from the host through
// /proc/<pid>/root: no file shares an inode with the host; no kernel file;
// every path is in the manifest or was made after the build (by the
// running apps); no mount brings in a host directory.
func checkInside(t *testing.T, pid int, m *rootfs.Manifest, built time.Time) {
	t.Helper()
	root := fmt.Sprintf("/proc/%d/root", pid)
	var files, made int
	err := filepath.WalkDir(root+"/", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		in := "/" + strings.TrimPrefix(strings.TrimPrefix(p, root), "/")
		if in == "/proc" || in == "/sys" || in == "/dev" {
			return fs.SkipDir
		}
		if in == "/" {
			return nil
		}
		for _, k := range []string{"/boot", "/lib/modules", "/usr/lib/modules", "/lib/firmware", "/usr/lib/firmware"} {
			if in == k || strings.HasPrefix(in, k+"/") {
				t.Errorf("kernel path %s in the container", in)
			}
		}
		if b := filepath.Base(in); strings.HasPrefix(b, "vmlinuz") || strings.HasPrefix(b, "initrd") {
			t.Errorf("kernel file %s in the container", in)
		}
		var st, hst unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR && unix.Lstat(in, &hst) == nil && st.Dev == hst.Dev && st.Ino == hst.Ino {
			t.Errorf("%s is the host's own file (inode %d)", in, st.Ino)
		}
		files++
		if m.Lookup(in) == nil {
			// Not copied: it must have been made by the running container.
			ct := time.Unix(st.Ctim.Sec, st.Ctim.Nsec)
			if ct.Before(built) {
				t.Errorf("%s is in the container but not in its manifest, and older than the build", in)
			}
			made++
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking the container's root: %v", err)
	}
	if files < 10 {
		t.Fatalf("only %d paths in the container's root", files)
	}
	t.Logf("container root: %d paths, %d made at run time", files, made)

	mi, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(mi)), "\n") {
		f := strings.Fields(l)
		sep := 0
		for i, x := range f {
			if x == "-" {
				sep = i
			}
		}
		if sep == 0 || len(f) < sep+2 {
			continue
		}
		mnt, fstype := f[4], f[sep+1]
		switch fstype {
		case "proc", "sysfs", "tmpfs", "devpts", "mqueue", "cgroup", "cgroup2":
			continue
		}
		// The only other mount is the container's own root (its bundle's
		// rootfs) and libcontainer's read-only remounts under /proc.
		if mnt != "/" && !strings.HasPrefix(mnt, "/proc/") {
			t.Errorf("mount from the host at %s (%s): %s", mnt, fstype, l)
		}
	}
}

// checkConfig checks a built bundle's config.json: the init runs, no bind
// mount of a host directory.
func checkConfig(t *testing.T, bundle string) *specs.Spec {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if s.Root.Path != "rootfs" || len(s.Process.Args) == 0 || s.Process.Args[0] != rootfs.InitPath {
		t.Errorf("config.json: root %+v, args %q", s.Root, s.Process.Args)
	}
	for _, m := range s.Mounts {
		if m.Type == "bind" || strings.Contains(strings.Join(m.Options, ","), "bind") {
			t.Errorf("config.json bind-mounts %s from %s", m.Destination, m.Source)
		}
	}
	return &s
}

func TestE2EBuildNginx(t *testing.T) {
	needProgs(t, "/usr/sbin/nginx")
	e := newEnv(t)
	began := time.Now()
	bundle := e.build("--app", "/usr/sbin/nginx", "--file", "/etc/nginx", "--file", "/var/www/html",
		"--file", "/var/log/nginx", "--file", "/var/lib/nginx", "--file", "/usr/share/nginx",
		"--cmd", "/usr/sbin/nginx -g 'daemon off;'")
	t.Logf("built nginx in %v", time.Since(began))
	built := time.Now()
	checkConfig(t, bundle)
	m := readManifest(t, bundle)
	if e := m.Lookup("/usr/sbin/nginx"); e == nil || e.Reason != "app" || len(e.SHA256) != 64 {
		t.Errorf("manifest entry of nginx: %+v", e)
	}

	id, pid := e.runDetached(bundle)
	page := httpGet(t, pid, "127.0.0.1:80", "/")
	if !strings.Contains(page, "200 OK") || !strings.Contains(page, "Welcome to nginx") {
		t.Fatalf("nginx answered:\n%s", page)
	}
	if nf := httpGet(t, pid, "127.0.0.1:80", "/no-such-page"); !strings.Contains(nf, "404") {
		t.Errorf("nginx answered a missing page with:\n%s", nf)
	}
	checkInside(t, pid, m, built)

	// inspect, by bundle and by container ID.
	libc := ""
	for _, f := range m.Files {
		if filepath.Base(f.Path) == "libc.so.6" && f.Type == rootfs.TypeFile {
			libc = f.Path
		}
	}
	if libc == "" {
		t.Fatal("no libc.so.6 in the manifest")
	}
	why := e.ok("inspect", "--file", libc, bundle)
	if !strings.Contains(why, libc) || !strings.Contains(why, "/usr/sbin/nginx") || !strings.Contains(why, "sha256:") {
		t.Errorf("inspect --file %s:\n%s", libc, why)
	}
	var chain []rootfs.Entry
	if err := json.Unmarshal([]byte(e.ok("inspect", "--format", "json", "--file", libc, id)), &chain); err != nil {
		t.Fatal(err)
	}
	if len(chain) < 2 || chain[0].Path != libc || chain[0].Via == "" || chain[len(chain)-1].Reason != "app" || chain[len(chain)-1].Via != "" {
		t.Errorf("inspect chain of %s: %+v", libc, chain)
	}
	table := e.ok("inspect", bundle)
	for _, want := range []string{"PATH", "/etc/passwd", "generated", "/usr/sbin/nginx", "app"} {
		if !strings.Contains(table, want) {
			t.Errorf("inspect table lacks %q", want)
		}
	}
	e.fail("is not in the container", "inspect", "--file", "/usr/bin/perl", bundle)

	// Stop: the init forwards SIGTERM to nginx and exits.
	e.ok("kill", id, "TERM")
	e.waitStatus(id, "stopped")
	e.ok("delete", id)

	t.Run("runc", func(t *testing.T) {
		rc := newRunc(t, e)
		rid, rpid := rc.runDetached(bundle)
		if page := httpGet(t, rpid, "127.0.0.1:80", "/"); !strings.Contains(page, "Welcome to nginx") {
			t.Errorf("nginx under runc answered:\n%s", page)
		}
		rc.stop(rid)
	})

	// By Debian package: nginx and its dependency closure from the dpkg
	// database; the user nginx.conf names is kept explicitly, and the
	// site link Debian's postinst makes is added as a file.
	t.Run("package", func(t *testing.T) {
		e := e.sub(t)
		bundle := e.build("--package", "nginx", "--keep-user", "www-data", "--file", "/var/www/html",
			"--file", "/etc/nginx/sites-enabled", "--cmd", "/usr/sbin/nginx -g 'daemon off;'")
		m := readManifest(t, bundle)
		if e := m.Lookup("/etc/nginx/nginx.conf"); e == nil || e.Reason != "package" || e.Via != "nginx-common" {
			t.Errorf("manifest entry of nginx.conf: %+v", e)
		}
		if why := e.ok("inspect", "--file", "/etc/nginx/nginx.conf", bundle); !strings.Contains(why, "via:    package nginx-common") {
			t.Errorf("inspect --file /etc/nginx/nginx.conf:\n%s", why)
		}
		if pw, _ := os.ReadFile(filepath.Join(bundle, "rootfs/etc/passwd")); !strings.Contains(string(pw), "www-data:") {
			t.Errorf("/etc/passwd lacks www-data:\n%s", pw)
		}
		id, pid := e.runDetached(bundle)
		if page := httpGet(t, pid, "127.0.0.1:80", "/"); !strings.Contains(page, "Welcome to nginx") {
			t.Errorf("nginx built from its package answered:\n%s", page)
		}
		e.ok("kill", id, "TERM")
		e.waitStatus(id, "stopped")
	})
}

func TestE2EBuildRedis(t *testing.T) {
	needProgs(t, "/usr/bin/redis-server")
	e := newEnv(t)
	bundle := e.build("--app", "/usr/bin/redis-server", "--file", "/var/lib/redis", "--user", "redis",
		"--cmd", "/usr/bin/redis-server --bind 127.0.0.1 --port 6379 --dir /var/lib/redis --save '' --daemonize no --logfile ''")
	s := checkConfig(t, bundle)
	if s.Process.User.UID == 0 {
		t.Errorf("runs as uid 0, want redis's")
	}
	pw, err := os.ReadFile(filepath.Join(bundle, "rootfs/etc/passwd"))
	if err != nil || !strings.Contains(string(pw), "redis:") || strings.Contains(string(pw), "nobody") {
		t.Errorf("/etc/passwd of the container:\n%s", pw)
	}

	id, pid := e.runDetached(bundle)
	redis := func(pid int, cmds ...string) []string {
		c := dialIn(t, pid, "127.0.0.1:6379")
		defer c.Close()
		r := bufio.NewReader(c)
		var out []string
		for _, cmd := range cmds {
			fmt.Fprintf(c, "%s\r\n", cmd)
			l, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("redis %s: %v", cmd, err)
			}
			l = strings.TrimSpace(l)
			if strings.HasPrefix(l, "$") && l != "$-1" {
				v, _ := r.ReadString('\n')
				l = strings.TrimSpace(v)
			}
			out = append(out, l)
		}
		return out
	}
	got := redis(pid, "PING", "SET greeting hello-from-vmctr", "GET greeting", "SAVE")
	if strings.Join(got, " ") != "+PONG +OK hello-from-vmctr +OK" {
		t.Fatalf("redis answered %q", got)
	}
	dump := filepath.Join(bundle, "rootfs/var/lib/redis/dump.rdb")
	if _, err := os.Stat(dump); err != nil {
		t.Fatalf("SAVE left no dump file in the container: %v", err)
	}
	e.ok("kill", id, "TERM")
	e.waitStatus(id, "stopped")
	e.ok("delete", id)

	// A new container of the same bundle reads the saved data.
	id, pid = e.runDetached(bundle)
	if got := redis(pid, "GET greeting"); got[0] != "hello-from-vmctr" {
		t.Errorf("after a restart redis answered %q", got)
	}
	e.ok("kill", id, "TERM")
	e.waitStatus(id, "stopped")
	e.ok("delete", id)

	t.Run("runc", func(t *testing.T) {
		rc := newRunc(t, e)
		rid, rpid := rc.runDetached(bundle)
		if got := redis(rpid, "PING", "GET greeting"); strings.Join(got, " ") != "+PONG hello-from-vmctr" {
			t.Errorf("redis under runc answered %q", got)
		}
		rc.stop(rid)
	})
}

// TestE2EBuildCrun: a built bundle runs under crun too. crun 1.8 refuses
// this machine's hybrid cgroup layout while a controller sits on the v2
// hierarchy, so it runs in a private mount namespace where an empty file
// hides /sys/fs/cgroup/unified/cgroup.controllers (the host's mounts are
// untouched). Unmounting the hierarchy instead would let crun create
// directories in the tmpfs beneath it, out of everyone's sight.
func TestE2EBuildCrun(t *testing.T) {
	needProgs(t, "/bin/busybox")
	e := newEnv(t)
	if _, err := exec.LookPath("crun"); err != nil {
		t.Skip("crun is not installed")
	}
	bundle := e.build("--app", "/bin/busybox", "--hostname", "crunbox",
		"--cmd", "/bin/busybox sh -c 'echo hello from $(/bin/busybox cat /etc/hostname)'")
	id := e.newID() + "-crun"
	var s specs.Spec
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	s.Linux.CgroupsPath = "/vmctr/" + id
	b, _ = json.Marshal(&s)
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(e.dir, "crun-root")
	empty := filepath.Join(e.dir, "empty")
	if err := os.WriteFile(empty, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	script := `mount --make-rprivate / && { [ ! -e /sys/fs/cgroup/unified/cgroup.controllers ] || mount --bind "$4" /sys/fs/cgroup/unified/cgroup.controllers; } && exec crun --root "$1" run --bundle "$2" "$3"`
	out, err := exec.Command("unshare", "-m", "sh", "-c", script, "sh", root, bundle, id, empty).CombinedOutput()
	t.Cleanup(func() {
		_ = exec.Command("unshare", "-m", "sh", "-c", `crun --root "$1" delete --force "$2"`, "sh", root, id).Run()
		for _, cg := range cgroupDirs(id) {
			t.Errorf("crun left cgroup %s", cg)
		}
	})
	if err != nil || !strings.Contains(string(out), "hello from crunbox") {
		t.Errorf("crun: %v\n%s", err, out)
	}
}

// pyCheck runs inside the container: ssl, sqlite3 and json work, and the
// container holds exactly the files of its manifest (plus what Python
// itself writes). Run on the host (as --trace does) it does the first part
// only.
const pyCheck = `import json, os, ssl, sqlite3, sys
ctx = ssl.create_default_context()
con = sqlite3.connect(":memory:")
con.execute("create table t (doc text)")
con.execute("insert into t values (?)", (json.dumps({"runtime": "vmctr", "n": 3}),))
doc = json.loads(con.execute("select doc from t").fetchone()[0])
assert doc == {"runtime": "vmctr", "n": 3}, doc
out = {"ssl": ssl.OPENSSL_VERSION, "sqlite": sqlite3.sqlite_version, "doc": doc}
if os.path.exists("/.vmctr/manifest.json"):
    with open("/.vmctr/manifest.json") as f:
        listed = {e["path"] for e in json.load(f)["files"]}
    extra = []
    for root, dirs, files in os.walk("/"):
        if root == "/":
            dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev")]
        for n in dirs + files:
            p = os.path.join(root, n)
            if p not in listed:
                extra.append(p)
    out["extra"] = extra
    out["kernel"] = [p for p in ("/boot", "/lib/modules", "/usr/lib/modules", "/lib/firmware", "/vmlinuz") if os.path.lexists(p)]
print(json.dumps(out))
`

func TestE2EBuildPython(t *testing.T) {
	needProgs(t, "/usr/bin/python3")
	e := newEnv(t)
	script := filepath.Join(e.dir, "app", "check.py")
	if err := os.MkdirAll(filepath.Dir(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(script, []byte(pyCheck), 0o644); err != nil {
		t.Fatal(err)
	}
	bundle := e.build("--app", "/usr/bin/python3", "--file", script, "--trace", "--env", "PYTHONDONTWRITEBYTECODE=1",
		"--cmd", "/usr/bin/python3 "+script)
	checkConfig(t, bundle)
	id := e.newID()
	r := e.run(nil, "run", "--bundle", bundle, id)
	if r.code != 0 {
		t.Fatalf("python in the container: %s", r)
	}
	var out struct {
		SSL    string         `json:"ssl"`
		SQLite string         `json:"sqlite"`
		Doc    map[string]any `json:"doc"`
		Extra  []string       `json:"extra"`
		Kernel []string       `json:"kernel"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("python's output: %v\n%s", err, r)
	}
	t.Logf("python in the container: %s, sqlite %s", out.SSL, out.SQLite)
	if out.Doc["runtime"] != "vmctr" || !strings.Contains(out.SSL, "OpenSSL") || out.SQLite == "" {
		t.Errorf("python's result: %+v", out)
	}
	if len(out.Extra) > 0 {
		t.Errorf("paths in the container that are not in its manifest: %v", out.Extra)
	}
	if len(out.Kernel) > 0 {
		t.Errorf("kernel paths in the container: %v", out.Kernel)
	}

	t.Run("runc", func(t *testing.T) {
		rc := newRunc(t, e)
		out, err := rc.runAttached(bundle)
		if err != nil || !strings.Contains(out, `"runtime": "vmctr"`) {
			t.Errorf("python under runc: %v\n%s", err, out)
		}
	})
}

// A built container starts hardened (container.SecureSpec): moby's default
// seccomp profile (no new user namespaces, no keyring), no new privileges,
// the RAPL energy counters masked, a pids limit; and it still runs under
// runc with the same config.
func TestE2EBuildSecureDefaults(t *testing.T) {
	needProgs(t, "/bin/busybox")
	t.Parallel()
	e := newEnv(t)
	bundle := e.build("--app", "/bin/busybox", "--cmd", "/bin/busybox sleep 600")
	id, _ := e.runDetached(bundle)
	defer e.ok("delete", "--force", id)

	status := e.ok("exec", id, "/bin/busybox", "cat", "/proc/self/status")
	for _, want := range []string{"\nSeccomp:\t2\n", "\nNoNewPrivs:\t1\n"} {
		if !strings.Contains(status, want) {
			t.Errorf("exec'd process: no %q in its status:\n%s", strings.TrimSpace(want), status)
		}
	}
	// Allowed by the capabilities and the kernel, refused by the profile.
	if r := e.run(nil, "exec", id, "/bin/busybox", "unshare", "-U", "-r", "/bin/busybox", "true"); r.code == 0 {
		t.Errorf("unshare -U inside a built container succeeded: %s", r)
	}
	if _, err := os.Stat("/sys/devices/virtual/powercap"); err == nil { // not on every machine (VMs)
		if out := e.ok("exec", id, "/bin/busybox", "ls", "-A", "/sys/devices/virtual/powercap"); strings.TrimSpace(out) != "" {
			t.Errorf("/sys/devices/virtual/powercap is not masked: %q", out)
		}
	}
	if spec := checkConfig(t, bundle); !slices.Contains(spec.Linux.MaskedPaths, "/sys/devices/virtual/powercap") {
		t.Errorf("config.json does not mask /sys/devices/virtual/powercap: %q", spec.Linux.MaskedPaths)
	}
	if got := cgroupFile(t, id, "pids/pids.max", "pids.max"); got != strconv.Itoa(container.DefaultPidsLimit) {
		t.Errorf("pids.max = %s, want %d", got, container.DefaultPidsLimit)
	}
	// The same build again leaves the bundle of the running container
	// alone (idempotent); --force does not replace it.
	if out := e.ok(e.buildArgs(bundle, "--app", "/bin/busybox", "--cmd", "/bin/busybox sleep 600", "--format", "json")...); !strings.Contains(out, `"unchanged": true`) {
		t.Errorf("the same build again: %s", out)
	}
	e.fail("runs from", e.buildArgs(bundle, "--app", "/bin/busybox", "--force")...)
	if _, err := os.Stat(filepath.Join(bundle, "rootfs", "bin", "busybox")); err != nil {
		t.Errorf("the refused build touched the bundle: %v", err)
	}

	// --force never deletes what vmctr did not build, nor a bundle that
	// another runtime's container runs in.
	t.Run("force", func(t *testing.T) {
		mine := e.newDir("mine")
		if err := os.MkdirAll(filepath.Join(mine, "data"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(mine, "data", "db"), []byte("precious"), 0o644); err != nil {
			t.Fatal(err)
		}
		e.fail("not a bundle vmctr built", e.buildArgs(mine, "--app", "/bin/busybox", "--force")...)
		e.fail("not a bundle vmctr built", e.buildArgs(mine, "--app", "/bin/busybox")...)
		if b, err := os.ReadFile(filepath.Join(mine, "data", "db")); err != nil || string(b) != "precious" {
			t.Errorf("a refused build touched the directory: %q %v", b, err)
		}

		rc := newRunc(t, e)
		b := e.build("--app", "/bin/busybox", "--cmd", "/bin/busybox sleep 600")
		id, _ := rc.runDetached(b)
		e.fail("runs in", e.buildArgs(b, "--app", "/bin/busybox", "--force")...)
		if _, err := os.Stat(filepath.Join(b, "rootfs", "bin", "busybox")); err != nil {
			t.Errorf("the refused build touched the bundle runc runs: %v", err)
		}
		rc.stop(id)
		e.ok(e.buildArgs(b, "--app", "/bin/busybox", "--force")...)
	})

	t.Run("runc", func(t *testing.T) {
		rc := newRunc(t, e)
		out, err := rc.runAttached(e.build("--app", "/bin/busybox", "--cmd", "/bin/busybox grep Seccomp: /proc/self/status"))
		if err != nil || !strings.Contains(out, "\t2") {
			t.Errorf("under runc: %v\n%s", err, out)
		}
	})
}

// TestE2EBuildInit: the init starts several apps in order, reaps zombies,
// stops the others when one fails and exits with its status, and forwards
// signals. Built from busybox (static).
func TestE2EBuildInit(t *testing.T) {
	needProgs(t, "/bin/busybox")
	e := newEnv(t)
	bundle := e.build("--app", "/bin/busybox",
		"--cmd", "/bin/busybox sh -c 'echo first; /bin/busybox touch /tmp/first-done'",
		"--cmd", "/bin/busybox sh -c 'for i in 1 2 3 4 5; do (/bin/busybox true &); done; /bin/busybox sleep 0.5; /bin/busybox ps -o stat,comm; exit 7'",
		"--cmd", "/bin/busybox sleep 300")
	r := e.run(nil, "run", "--bundle", bundle, e.newID())
	if r.code != 7 {
		t.Fatalf("exit status %d, want 7 (the failing app's)\n%s", r.code, r)
	}
	if r.dur > 15*time.Second {
		t.Errorf("the init took %v to stop the other apps", r.dur)
	}
	if !strings.Contains(r.stdout, "first") {
		t.Errorf("the first app did not run:\n%s", r)
	}
	for _, l := range strings.Split(r.stdout, "\n") {
		if f := strings.Fields(l); len(f) > 0 && strings.HasPrefix(f[0], "Z") {
			t.Errorf("zombie in the container: %s\n%s", l, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "exited with status 7") {
		t.Errorf("the init did not say which app failed:\n%s", r.stderr)
	}

	// A signal reaches the app; the app's status is the container's.
	b2 := e.build("--app", "/bin/busybox", "--cmd", "/bin/busybox sh -c 'trap \"exit 42\" USR1; /bin/busybox touch /tmp/trapped; while :; do /bin/busybox sleep 0.1; done'")
	id := e.newID()
	e.ok("run", "-d", "--bundle", b2, id)
	waitFile(t, filepath.Join(b2, "rootfs", "tmp", "trapped")) // the trap is set
	e.ok("kill", id, "USR1")
	e.waitStatus(id, "stopped")
	e.ok("delete", id)

	// A setup step (wait: true) finishes before the next app starts.
	def := filepath.Join(e.dir, "init.yaml")
	if err := os.WriteFile(def, []byte(`apps: [/bin/busybox]
start:
  - name: setup
    command: /bin/busybox sh -c '/bin/busybox sleep 0.3; echo ready > /tmp/ready'
    wait: true
  - [/bin/busybox, cat, /tmp/ready]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	b3 := e.build("-f", def)
	r = e.run(nil, "run", "--bundle", b3, e.newID())
	if r.code != 0 || strings.TrimSpace(r.stdout) != "ready" {
		t.Errorf("setup step: %s", r)
	}
}

// debootstrapRoot returns a Debian bullseye (minbase) root file system,
// made once with debootstrap and cached in /var/tmp. It skips the test if
// debootstrap is missing or cannot reach the mirror.
func debootstrapRoot(t *testing.T) string {
	t.Helper()
	dir := "/var/tmp/vmctr-e2e-bullseye"
	if _, err := os.Stat(filepath.Join(dir, ".vmctr-complete")); err == nil {
		return dir
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		t.Skip("debootstrap is not installed (apt-get install debootstrap)")
	}
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".vmctr-complete")); err == nil {
		return dir
	}
	mirror := debianMirror()
	tmp := dir + ".tmp"
	_ = os.RemoveAll(tmp)
	t.Logf("debootstrap --variant=minbase bullseye %s %s (cached for later runs)", tmp, mirror)
	cmd := exec.Command("debootstrap", "--variant=minbase", "bullseye", tmp, mirror)
	out, err := cmd.CombinedOutput()
	if err != nil {
		_ = os.RemoveAll(tmp)
		t.Skipf("debootstrap could not make a bullseye root from %s: %v\n%s", mirror, err, tail(string(out), 1500))
	}
	if err := os.WriteFile(filepath.Join(tmp, ".vmctr-complete"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// debianMirror is the Debian mirror this machine's apt uses.
func debianMirror() string {
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*")
	files = append([]string{"/etc/apt/sources.list"}, files...)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			fs := strings.Fields(l)
			for i, w := range fs {
				if (w == "URIs:" || w == "deb") && i+1 < len(fs) {
					u := fs[i+1]
					if strings.HasPrefix(u, "[") && i+2 < len(fs) {
						u = fs[i+2]
					}
					if strings.Contains(u, "debian") && !strings.Contains(u, "security") {
						return strings.TrimSuffix(u, "/")
					}
				}
			}
		}
	}
	return "http://deb.debian.org/debian"
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

func TestE2EBuildSourceRoot(t *testing.T) {
	e := newEnv(t)
	src := debootstrapRoot(t)
	bundle := e.build("--source-root", src, "--app", "/bin/bash", "--file", "/etc/debian_version",
		"--cmd", `/bin/bash -c 'read v < /etc/debian_version; echo "debian=$v bash=$BASH_VERSION"'`)
	m := readManifest(t, bundle)
	if m.SourceRoot != src {
		t.Errorf("manifest source root %q", m.SourceRoot)
	}
	// The libraries are bullseye's, not this host's.
	for _, f := range m.Files {
		if filepath.Base(f.Path) == "libc.so.6" && f.Type == rootfs.TypeFile {
			host, err := os.ReadFile(f.Path)
			if err == nil && sha256Hex(host) == f.SHA256 {
				t.Errorf("%s is the host's libc", f.Path)
			}
		}
	}
	r := e.run(nil, "run", "--bundle", bundle, e.newID())
	if r.code != 0 {
		t.Fatalf("bullseye's bash: %s", r)
	}
	if !strings.Contains(r.stdout, "debian=11.") || !strings.Contains(r.stdout, "bash=5.1") {
		t.Errorf("bullseye's bash said %q; want debian=11.x bash=5.1", r.stdout)
	}
	t.Logf("on this host's kernel: %s", strings.TrimSpace(r.stdout))
}

// TestE2EBuildBadInput: each bad input is a clear error naming the file,
// a non-zero exit, and no output (not even a temporary directory) left.
func TestE2EBuildBadInput(t *testing.T) {
	needProgs(t, "/bin/busybox")
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	for _, d := range []string{"usr/bin", "etc", "data"} {
		if err := os.MkdirAll(filepath.Join(src, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "usr/bin/busybox"), bb, 0o755); err != nil {
		t.Fatal(err)
	}
	// An ELF for another machine: busybox with e_machine set to AArch64.
	arm := append([]byte(nil), bb...)
	binary.LittleEndian.PutUint16(arm[18:], 183)
	if err := os.WriteFile(filepath.Join(src, "usr/bin/armapp"), arm, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "usr/bin/truncated"), bb[:100], 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "data/secret"), []byte("x"), 0o000); err != nil {
		t.Fatal(err)
	}
	for _, l := range [][2]string{{"b", "usr/bin/a"}, {"/nonexistent/c", "usr/bin/b"}, {"../../../../../etc/shadow", "usr/bin/escape"}} {
		if err := os.Symlink(l[0], filepath.Join(src, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	def := filepath.Join(e.dir, "app.yaml")
	if err := os.WriteFile(def, []byte("apps: [/usr/bin/busybox]\nstart:\n  - /usr/bin/busybox true\nnetwork: host\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name  string
		args  []string
		want  []string
		setup func(*exec.Cmd)
	}{
		{"missing app", []string{"--app", "/usr/bin/nothere"}, []string{"/usr/bin/nothere", "not found"}, nil},
		{"outside the root", []string{"--app", "/usr/bin/escape"}, []string{"/usr/bin/escape", "outside the source root"}, nil},
		{"relative path", []string{"--app", "../../bin/sh"}, []string{"../../bin/sh"}, nil},
		{"broken symlink chain", []string{"--app", "/usr/bin/a"}, []string{"/usr/bin/a", "symlink"}, nil},
		{"foreign ELF", []string{"--app", "/usr/bin/armapp"}, []string{"/usr/bin/armapp", "architecture"}, nil},
		{"truncated ELF", []string{"--app", "/usr/bin/truncated"}, []string{"/usr/bin/truncated", "unreadable"}, nil},
		{"unreadable file", []string{"--app", "/usr/bin/busybox", "--file", "/data/secret"}, []string{"/data/secret"}, withoutDACOverride},
		{"unknown key", []string{"-f", def}, []string{def + ":4", `unknown key "network"`}, nil},
		{"kernel file", []string{"--app", "/usr/bin/busybox", "--file", "/boot/vmlinuz"}, []string{"/boot/vmlinuz", "kernel"}, nil},
		{"tag", []string{"--app", "/usr/bin/busybox", "-t", "web"}, []string{"image store", "not available yet"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.sub(t)
			parent := e.newDir("out")
			if err := os.Mkdir(parent, 0o755); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(parent, "bundle")
			args := append(e.buildArgs(out, "--source-root", src), tc.args...)
			r := e.run(tc.setup, args...)
			if r.code == 0 {
				t.Fatalf("build succeeded: %s", r)
			}
			for _, w := range tc.want {
				if !strings.Contains(strings.ToLower(r.stderr), strings.ToLower(w)) {
					t.Errorf("error does not mention %q:\n%s", w, r.stderr)
				}
			}
			if ents, _ := os.ReadDir(parent); len(ents) != 0 {
				t.Errorf("left behind: %v", ents)
			}
		})
	}
}

// TestE2EBuildKilled: a build killed with SIGKILL leaves its build
// directory beside its output; the next build in that directory removes
// it, but never the directory of a build that is still running (here:
// stopped with SIGSTOP, its lock held).
func TestE2EBuildKilled(t *testing.T) {
	needProgs(t, "/bin/busybox", "/usr/bin/strace")
	e := newEnv(t)
	parent := e.newDir("out")
	if err := os.Mkdir(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	// A build that waits: --trace runs its app (a minute's sleep) under
	// strace, after the build directory exists. (Not a build made slow by
	// a big tree: on a fast machine it finished before the test stopped it.)
	slow := e.command(e.buildArgs(filepath.Join(parent, "slow"), "--app", "/bin/busybox",
		"--cmd", "/bin/busybox sleep 60", "--trace", "--trace-timeout", "60s")...)
	exited := e.startKillable(slow)
	var dir string
	for deadline := time.Now().Add(10 * time.Second); dir == "" && time.Now().Before(deadline); {
		select {
		case <-exited:
			t.Fatal("the slow build finished before it could be stopped")
		default:
		}
		ents, _ := os.ReadDir(parent)
		for _, en := range ents {
			if strings.HasPrefix(en.Name(), ".slow.vmctr-build-"+strconv.Itoa(slow.Process.Pid)+"-") {
				dir = filepath.Join(parent, en.Name())
			}
		}
		time.Sleep(time.Millisecond)
	}
	if dir == "" {
		t.Fatal("no build directory .slow.vmctr-build-PID-* appeared")
	}
	if err := unix.Kill(slow.Process.Pid, unix.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("the slow build moved on before it stopped: %v", err)
	}
	// A live build's directory stays.
	if r := e.run(nil, e.buildArgs(filepath.Join(parent, "second"), "--app", "/bin/busybox")...); r.code != 0 {
		t.Fatalf("second build: %s", r)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("a running build's directory was removed: %v", err)
	}
	// A dead one's goes.
	if err := unix.Kill(slow.Process.Pid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("the killed build left nothing to clean up: %v", err)
	}
	r := e.run(nil, e.buildArgs(filepath.Join(parent, "third"), "--app", "/bin/busybox")...)
	if r.code != 0 {
		t.Fatalf("third build: %s", r)
	}
	if _, err := os.Lstat(dir); err == nil {
		t.Errorf("the killed build's directory %s is still there", dir)
	}
	if !strings.Contains(r.stderr, filepath.Base(dir)) {
		t.Errorf("the third build did not say it removed %s:\n%s", dir, r.stderr)
	}
	ents, _ := os.ReadDir(parent)
	var names []string
	for _, en := range ents {
		names = append(names, en.Name())
	}
	if strings.Join(names, " ") != "second third" {
		t.Errorf("beside the outputs: %v, want second third", names)
	}
}

// withoutDACOverride runs vmctr as root without CAP_DAC_OVERRIDE and
// CAP_DAC_READ_SEARCH, so that a mode-000 file is unreadable to it.
func withoutDACOverride(cmd *exec.Cmd) {
	args := append([]string{"--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all", "--"}, cmd.Args...)
	cmd.Path, _ = exec.LookPath("setpriv")
	cmd.Args = append([]string{"setpriv"}, args...)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// runcEnv drives runc on built bundles, with its own state root and
// cgroups under /vmctr/.
type runcEnv struct {
	t    *testing.T
	e    *env
	root string
}

// startKillable starts cmd (a vmctr the test will kill) with its output in
// temp files. The channel closes once it has exited; at cleanup it is
// killed and reaped.
func (e *env) startKillable(cmd *exec.Cmd) <-chan struct{} {
	e.t.Helper()
	cmd.Stdout, cmd.Stderr = e.tempFile("killable-out"), e.tempFile("killable-err")
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	e.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	return exited
}

func newRunc(t *testing.T, e *env) *runcEnv {
	t.Helper()
	if _, err := exec.LookPath("runc"); err != nil {
		t.Skip("runc is not installed")
	}
	return &runcEnv{t: t, e: e, root: filepath.Join(e.dir, "runc-root")}
}

func (r *runcEnv) cmd(args ...string) *exec.Cmd {
	return exec.Command("runc", append([]string{"--root", r.root}, args...)...)
}

// prepare copies the bundle's config.json for runc with the container's
// cgroup under /vmctr/ (runc would otherwise nest it under the test's own
// cgroup). The root file system is the same.
func (r *runcEnv) prepare(bundle, id string) string {
	r.t.Helper()
	var s specs.Spec
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		r.t.Fatal(err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		r.t.Fatal(err)
	}
	s.Linux.CgroupsPath = "/vmctr/" + id
	s.Root.Path = filepath.Join(bundle, "rootfs")
	dir := r.e.newDir("runc-bundle")
	if err := os.Mkdir(dir, 0o700); err != nil {
		r.t.Fatal(err)
	}
	b, _ = json.Marshal(&s)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		r.t.Fatal(err)
	}
	return dir
}

func (r *runcEnv) newID() string {
	id := r.e.newID() + "-runc"
	r.t.Cleanup(func() {
		_ = r.cmd("delete", "--force", id).Run()
		for _, cg := range cgroupDirs(id) {
			r.t.Errorf("runc left cgroup %s", cg)
		}
	})
	return id
}

func (r *runcEnv) runDetached(bundle string) (string, int) {
	r.t.Helper()
	id := r.newID()
	dir := r.prepare(bundle, id)
	c := r.cmd("run", "-d", "--bundle", dir, id)
	c.Stdout, c.Stderr = r.e.tempFile("runc-out"), r.e.tempFile("runc-err")
	if err := c.Run(); err != nil {
		r.t.Fatalf("runc run -d: %v\n%s", err, readAll(c.Stderr.(*os.File)))
	}
	out, err := r.cmd("state", id).Output()
	if err != nil {
		r.t.Fatalf("runc state: %v", err)
	}
	var st struct{ Pid int }
	if err := json.Unmarshal(out, &st); err != nil || st.Pid == 0 {
		r.t.Fatalf("runc state: %v %s", err, out)
	}
	return id, st.Pid
}

func (r *runcEnv) runAttached(bundle string) (string, error) {
	id := r.newID()
	dir := r.prepare(bundle, id)
	c := r.cmd("run", "--bundle", dir, id)
	out, errOut := r.e.tempFile("runc-out"), r.e.tempFile("runc-err")
	c.Stdout, c.Stderr = out, errOut
	err := c.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		err = fmt.Errorf("%w: %s", err, readAll(errOut))
	}
	return readAll(out), err
}

func (r *runcEnv) stop(id string) {
	r.t.Helper()
	if err := r.cmd("kill", id, "TERM").Run(); err != nil {
		r.t.Errorf("runc kill: %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		out, _ := r.cmd("state", id).Output()
		if strings.Contains(string(out), `"stopped"`) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out, err := r.cmd("delete", id).CombinedOutput(); err != nil {
		r.t.Errorf("runc delete: %v %s", err, out)
	}
}

// TestE2EBuildTraceIsolated: --trace runs the apps in a private, throw-away
// view of the host, so that a traced build leaves the host as it was: what
// the apps write (into a host directory, /run, /var/lib, /dev/shm; nginx's
// temp directories, pid file and logs) never reaches it. A traced build
// killed with SIGKILL leaves nothing behind either: no temp directory, no
// process, no mount namespace, and once the next build ran, no build
// directory.
func TestE2EBuildTraceIsolated(t *testing.T) {
	needProgs(t, "/bin/busybox", "/bin/sleep", "/usr/bin/strace")
	e := newEnv(t)
	tag := "vmctr-e2e-" + filepath.Base(e.dir)
	// snapshot describes the trees at paths: type, mode, size, mtime and
	// content of everything in them.
	snapshot := func(paths ...string) map[string]string {
		t.Helper()
		s := map[string]string{}
		for _, root := range paths {
			err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
				if errors.Is(err, fs.ErrNotExist) {
					s[p] = "absent"
					return nil
				}
				if err != nil {
					return err
				}
				fi, err := d.Info()
				if err != nil {
					return err
				}
				v := fmt.Sprintf("%v %d %d", fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
				switch {
				case fi.Mode().IsRegular():
					b, err := os.ReadFile(p)
					if err != nil {
						return err
					}
					v += " " + sha256Hex(b)
				case fi.Mode()&fs.ModeSymlink != 0:
					l, _ := os.Readlink(p)
					v += " -> " + l
				}
				s[p] = v
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		return s
	}
	same := func(what string, before, after map[string]string) {
		t.Helper()
		for p, v := range after {
			if before[p] != v {
				t.Errorf("%s changed the host: %s was %q, is %q", what, p, before[p], v)
			}
		}
		for p := range before {
			if _, ok := after[p]; !ok {
				t.Errorf("%s changed the host: %s is gone", what, p)
			}
		}
	}

	// A script that writes into a host directory and into system places.
	host := e.newDir("host")
	for p, content := range map[string]string{"keep": "old\n", "victim": "v\n", "sub/file": "f\n"} {
		if err := os.MkdirAll(filepath.Join(host, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(host, p), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	system := []string{"/run/" + tag + ".pid", "/var/lib/" + tag, "/dev/shm/" + tag}
	t.Cleanup(func() { // only if the test failed: a traced build made them
		for _, p := range system {
			_ = os.RemoveAll(p)
		}
	})
	script := filepath.Join(e.dir, "writer.sh")
	body := strings.NewReplacer("HOST", host, "RUNPID", system[0], "VARLIB", system[1], "SHM", system[2]).Replace(`#!/bin/busybox sh
set -e
bb=/bin/busybox
echo more >> HOST/keep
$bb rm HOST/victim
$bb rm -r HOST/sub
$bb mkdir HOST/made
echo new > HOST/new
$bb touch -d 2001-01-01 HOST
echo $$ > RUNPID
$bb mkdir -p VARLIB/body
echo shm > SHM
$bb cat /etc/debian_version HOST/new > /dev/null
`)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	before := snapshot(append([]string{host}, system...)...)
	bundle := e.build("--app", script, "--cmd", script, "--trace", "--trace-timeout", "20s")
	same("a traced script", before, snapshot(append([]string{host}, system...)...))
	// It ran to its end: what it read last was traced.
	if _, err := os.Stat(filepath.Join(bundle, "rootfs/etc/debian_version")); err != nil {
		t.Errorf("the traced script did not run to its end: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(bundle, "rootfs", host, "new")); err == nil {
		t.Errorf("the file the traced script made is in the container")
	}

	// nginx: its temp directories, pid file and logs.
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		places := []string{"/var/lib/nginx", "/var/log/nginx", "/run/nginx.pid"}
		before := snapshot(places...)
		e.build("--app", "/usr/sbin/nginx", "--trace", "--trace-timeout", "2s")
		same("a traced nginx", before, snapshot(places...))
	}

	// SIGKILL in the middle of a trace. TMPDIR is the test's own, to see
	// whether anything is left in it.
	tmp := e.newDir("tmp")
	parent := e.newDir("out")
	for _, d := range []string{tmp, parent} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	marker := "61." + strconv.Itoa(os.Getpid())
	withTmp := func(c *exec.Cmd) { c.Env = append(os.Environ(), "TMPDIR="+tmp) }
	slow := e.command(e.buildArgs(filepath.Join(parent, "killed"), "--app", "/bin/sleep", "--cmd", "/bin/sleep "+marker,
		"--trace", "--trace-timeout", "60s")...)
	withTmp(slow)
	exited := e.startKillable(slow)
	// The traced sleep, and its mount namespace.
	traced := func() (pids []string) {
		procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, p := range procs {
			if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), marker) && !strings.Contains(string(b), "build") {
				pids = append(pids, filepath.Base(filepath.Dir(p)))
			}
		}
		return pids
	}
	ns := ""
	for deadline := time.Now().Add(20 * time.Second); ns == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		select {
		case <-exited:
			t.Fatal("the traced build finished before it could be killed")
		default:
		}
		for _, pid := range traced() {
			if b, err := os.ReadFile("/proc/" + pid + "/comm"); err == nil && strings.TrimSpace(string(b)) == "sleep" {
				ns, _ = os.Readlink("/proc/" + pid + "/ns/mnt")
			}
		}
	}
	if ns == "" {
		t.Fatal("the traced sleep did not start")
	}
	if err := unix.Kill(slow.Process.Pid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	inNS := func() (pids []string) {
		links, _ := filepath.Glob("/proc/[0-9]*/ns/mnt")
		for _, l := range links {
			if v, err := os.Readlink(l); err == nil && v == ns {
				pids = append(pids, l)
			}
		}
		return pids
	}
	deadline := time.Now().Add(10 * time.Second)
	for (len(traced()) > 0 || len(inNS()) > 0) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if p := traced(); len(p) > 0 {
		t.Errorf("the killed build's traced app still runs: %v", p)
	}
	if p := inNS(); len(p) > 0 {
		t.Errorf("processes still in the killed trace's mount namespace %s: %v", ns, p)
	}
	left := func() []string {
		l, _ := filepath.Glob(filepath.Join(tmp, "vmctr-trace-*"))
		return l
	}
	if l := left(); len(l) > 0 {
		t.Errorf("the killed traced build left %v", l)
	}
	// The next build (traced too) in the same place leaves nothing of it.
	r := e.run(withTmp, e.buildArgs(filepath.Join(parent, "next"), "--app", "/bin/busybox", "--cmd", "/bin/busybox true", "--trace")...)
	if r.code != 0 {
		t.Fatalf("the next build: %s", r)
	}
	if l := left(); len(l) > 0 {
		t.Errorf("after the next build: %v", l)
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 1 || ents[0].Name() != "next" {
		t.Errorf("beside the next build's output: %v", ents)
	}
	if b, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(b), "vmctr-trace") {
		t.Errorf("a trace's tmpfs is mounted on the host:\n%s", b)
	}
}

// --userns BASE: root inside the container is host uid BASE, its copies
// are owned so, and vmctr and runc run it.
func TestE2EBuildUserns(t *testing.T) {
	needProgs(t, "/bin/busybox")
	t.Parallel()
	e := newEnv(t)
	const base = 300000
	bundle := e.build("--app", "/bin/busybox", "--cmd", "/bin/busybox sleep 600", "--userns", strconv.Itoa(base))
	var st unix.Stat_t
	// The bundle directory stays root's: the container's root only gets
	// through it (group BASE, 0710), so it cannot swap config.json.
	if err := unix.Lstat(bundle, &st); err != nil || st.Uid != 0 || st.Gid != base || st.Mode&0o7777 != 0o710 {
		t.Errorf("bundle directory: %d:%d %o (%v), want 0:%d 0710", st.Uid, st.Gid, st.Mode&0o7777, err, base)
	}
	for _, p := range []string{filepath.Join(bundle, "rootfs"), filepath.Join(bundle, "rootfs", "usr", "bin", "busybox"),
		filepath.Join(bundle, "rootfs", "etc", "passwd")} {
		if err := unix.Lstat(p, &st); err != nil {
			t.Fatal(err)
		}
		if st.Uid != base || st.Gid != base {
			t.Errorf("%s is owned by %d:%d on the host, want %d:%d", p, st.Uid, st.Gid, base, base)
		}
	}
	id, pid := e.runDetached(bundle)
	defer e.ok("delete", "--force", id)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(status), fmt.Sprintf("\nUid:\t%d\t%d\t", base, base)) {
		t.Errorf("the container's init on the host:\n%s", status)
	}
	if out := e.ok("exec", id, "/bin/busybox", "id"); !strings.HasPrefix(out, "uid=0(root) gid=0(root)") {
		t.Errorf("id inside: %q", out)
	}
	// The manifest records owners as the container sees them.
	if out := e.ok("inspect", "--file", "/usr/bin/busybox", bundle); strings.Contains(out, strconv.Itoa(base)) {
		t.Errorf("inspect shows host IDs:\n%s", out)
	}
	e.fail("user namespace base", e.buildArgs(e.newDir("bad"), "--app", "/bin/busybox", "--userns", "5")...)

	t.Run("runc", func(t *testing.T) {
		rc := newRunc(t, e)
		out, err := rc.runAttached(e.build("--app", "/bin/busybox", "--cmd", "/bin/busybox grep Uid: /proc/1/status", "--userns", strconv.Itoa(base)))
		if err != nil || !strings.Contains(out, "\t0\t") {
			t.Errorf("under runc: %v\n%s", err, out)
		}
	})
}
