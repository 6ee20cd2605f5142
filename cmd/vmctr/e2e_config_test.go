package main

// End-to-end tests of what config.json asks for: seccomp, capabilities,
// masked and read-only paths, rlimits, oomScoreAdj, sysctls, hooks, user
// namespaces, devices, mount propagation, cgroups. Most read the
// container's view through /bin/probe (testdata/probe).

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestE2ESeccomp(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	t.Run("deny list", func(t *testing.T) {
		e := e.sub(t)
		b := e.newBundle()
		b.spec.Linux.Seccomp = &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{
				Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: ptr(uint(unix.EACCES)),
			}},
		}
		b.save()
		p := b.probe("-write", "/tmp/file-ok")
		if p.Status["Seccomp"] != "2" {
			t.Errorf("Seccomp mode %q, want 2 (filter)", p.Status["Seccomp"])
		}
		if p.Errors["/tmp/file-ok"] != "" {
			t.Errorf("an allowed syscall failed: %s", p.Errors["/tmp/file-ok"])
		}
		b.args("sh", "-c", "mkdir /tmp/d")
		r := e.run(nil, "run", "--bundle", b.dir, e.newID())
		if r.code == 0 || !strings.Contains(r.stderr, "Permission denied") {
			t.Errorf("mkdir under a profile that denies it with EACCES: %s", r)
		}
	})

	// An allow list from before statx existed: vmctr adds statx (see
	// withStatx) so that the container can start at all.
	t.Run("allow list without statx", func(t *testing.T) {
		e := e.sub(t)
		names := syscallNames(t)
		allow := slices.DeleteFunc(slices.Clone(names), func(n string) bool {
			return n == "statx" || n == "mkdir" || n == "mkdirat"
		})
		b := e.newBundle("sh", "-c", "echo allowed; mkdir /tmp/d")
		b.spec.Process.NoNewPrivileges = false // the order libcontainer trips over
		b.spec.Linux.Seccomp = &specs.LinuxSeccomp{
			DefaultAction: specs.ActErrno,
			Syscalls:      []specs.LinuxSyscall{{Names: allow, Action: specs.ActAllow}},
		}
		b.save()
		r := e.run(nil, "run", "--bundle", b.dir, e.newID())
		if !strings.Contains(r.stdout, "allowed") || r.code == 0 || !strings.Contains(r.stderr, "not permitted") {
			t.Errorf("run under an allow list without statx or mkdir: %s; want it to run and mkdir to fail with EPERM", r)
		}
	})

	t.Run("invalid profile", func(t *testing.T) {
		e := e.sub(t)
		b := e.newBundle()
		b.spec.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_BOGUS"}
		b.save()
		id := e.newID()
		e.fail("SCMP_ACT_BOGUS", "create", "--bundle", b.dir, id)
		e.checkNoLeftovers(id)
	})
}

// syscallNames lists this architecture's system calls from the kernel
// headers (linux-libc-dev).
func syscallNames(t *testing.T) []string {
	t.Helper()
	if runtime.GOARCH != "amd64" {
		t.Skip("syscall list only for amd64")
	}
	f, err := os.Open("/usr/include/x86_64-linux-gnu/asm/unistd_64.h")
	if err != nil {
		t.Skipf("no kernel headers: %v", err)
	}
	defer f.Close()
	var names []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		if f := strings.Fields(s.Text()); len(f) == 3 && f[0] == "#define" && strings.HasPrefix(f[1], "__NR_") {
			names = append(names, strings.TrimPrefix(f[1], "__NR_"))
		}
	}
	if len(names) < 300 {
		t.Skipf("only %d syscalls in the kernel headers", len(names))
	}
	return names
}

func ptr[T any](v T) *T { return &v }

func TestE2ECapabilities(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	set := []string{"CAP_CHOWN", "CAP_NET_RAW", "CAP_SETUID", "CAP_SETGID"}
	want := capMask(t, set...)

	b := e.newBundle()
	b.spec.Process.Capabilities = &specs.LinuxCapabilities{Bounding: set, Effective: set, Permitted: set}
	b.save()
	p := b.probe()
	for _, k := range []string{"CapBnd", "CapEff", "CapPrm"} {
		if got := parseHex(t, p.Status[k]); got != want {
			t.Errorf("%s = %x, want %x", k, got, want)
		}
	}
	if got := parseHex(t, p.Status["CapInh"]) | parseHex(t, p.Status["CapAmb"]); got != 0 {
		t.Errorf("CapInh|CapAmb = %x, want 0", got)
	}

	// Ambient capabilities reach a non-root process.
	b = e.newBundle()
	raw := []string{"CAP_NET_RAW"}
	b.spec.Process.User = specs.User{UID: 1000, GID: 1000}
	b.spec.Process.Capabilities = &specs.LinuxCapabilities{Bounding: raw, Effective: raw, Permitted: raw, Inheritable: raw, Ambient: raw}
	b.save()
	p = b.probe()
	if p.UID != 1000 || parseHex(t, p.Status["CapEff"]) != capMask(t, raw...) || parseHex(t, p.Status["CapAmb"]) != capMask(t, raw...) {
		t.Errorf("uid %d with ambient CAP_NET_RAW: CapEff %s CapAmb %s", p.UID, p.Status["CapEff"], p.Status["CapAmb"])
	}

	// No capabilities at all.
	b = e.newBundle()
	b.spec.Process.Capabilities = &specs.LinuxCapabilities{}
	b.save()
	p = b.probe()
	if parseHex(t, p.Status["CapBnd"]) != 0 || parseHex(t, p.Status["CapEff"]) != 0 {
		t.Errorf("empty capabilities: CapBnd %s CapEff %s", p.Status["CapBnd"], p.Status["CapEff"])
	}
}

func TestE2EMaskedAndReadonlyPaths(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle()
	for _, d := range []string{"data/secretdir", "data/ro", "data/rw"} {
		if err := os.MkdirAll(filepath.Join(b.rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"data/secret", "data/secretdir/file"} {
		if err := os.WriteFile(filepath.Join(b.rootfs, f), []byte("secret"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b.spec.Linux.MaskedPaths = append(b.spec.Linux.MaskedPaths, "/data/secret", "/data/secretdir", "/data/no-such-path")
	b.spec.Linux.ReadonlyPaths = append(b.spec.Linux.ReadonlyPaths, "/data/ro")
	b.save()
	p := b.probe("-file", "/data/secret", "-file", "/data/secretdir/file", "-file", "/proc/kcore",
		"-write", "/data/ro/x", "-write", "/data/rw/x", "-write", "/proc/sys/kernel/domainname")
	if got, ok := p.Files["/data/secret"]; !ok || got != "" {
		t.Errorf("masked file reads %q (error %q), want empty", got, p.Errors["/data/secret"])
	}
	if _, ok := p.Files["/data/secretdir/file"]; ok {
		t.Error("a file in a masked directory is readable")
	}
	if got := p.Files["/proc/kcore"]; got != "" {
		t.Errorf("/proc/kcore (masked by default) reads %d bytes", len(got))
	}
	for _, ro := range []string{"/data/ro/x", "/proc/sys/kernel/domainname"} {
		if !strings.Contains(p.Errors[ro], "read-only file system") {
			t.Errorf("writing %s: %q, want read-only file system", ro, p.Errors[ro])
		}
	}
	if p.Errors["/data/rw/x"] != "" {
		t.Errorf("writing /data/rw/x: %s", p.Errors["/data/rw/x"])
	}

	// A read-only root.
	b.spec.Root.Readonly = true
	b.save()
	p = b.probe("-write", "/data/rw/y")
	if !strings.Contains(p.Errors["/data/rw/y"], "read-only file system") {
		t.Errorf("writing under a read-only root: %q", p.Errors["/data/rw/y"])
	}
}

func TestE2ERlimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var nofile, core unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile); err != nil {
		t.Fatal(err)
	}
	if err := unix.Getrlimit(unix.RLIMIT_CORE, &core); err != nil {
		t.Fatal(err)
	}
	// At or below the current hard limits: root here may lack CAP_SYS_RESOURCE.
	nofileHard := min(nofile.Max, 4096)
	nofileSoft := min(nofileHard, 1000)
	b := e.newBundle()
	b.spec.Process.Rlimits = []specs.POSIXRlimit{
		{Type: "RLIMIT_NOFILE", Soft: nofileSoft, Hard: nofileHard},
		{Type: "RLIMIT_CORE", Soft: 0, Hard: min(core.Max, 1<<20)},
		{Type: "RLIMIT_MSGQUEUE", Soft: 4096, Hard: 8192},
	}
	// Read by a shell: the probe, a Go program, raises its own soft
	// RLIMIT_NOFILE at start-up.
	b.spec.Process.Args = []string{"cat", "/proc/self/limits"}
	b.save()
	limits := e.ok("run", "--bundle", b.dir, e.newID())
	for _, r := range b.spec.Process.Rlimits {
		name := map[string]string{"RLIMIT_NOFILE": "Max open files", "RLIMIT_CORE": "Max core file size", "RLIMIT_MSGQUEUE": "Max msgqueue size"}[r.Type]
		want := []string{strconv.FormatUint(r.Soft, 10), strconv.FormatUint(r.Hard, 10)}
		found := false
		for _, l := range strings.Split(limits, "\n") {
			if rest, ok := strings.CutPrefix(l, name); ok {
				found = true
				if f := strings.Fields(rest); len(f) < 2 || !slices.Equal(f[:2], want) {
					t.Errorf("%s: %q, want soft %s hard %s", r.Type, l, want[0], want[1])
				}
			}
		}
		if !found {
			t.Errorf("%s not in /proc/self/limits:\n%s", r.Type, limits)
		}
	}

	// Raising a hard limit needs CAP_SYS_RESOURCE; without it, a clear error.
	if status, _ := os.ReadFile("/proc/self/status"); !hasCap(string(status), 24) && nofile.Max < 1<<20 {
		b.spec.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: nofile.Max + 1, Hard: nofile.Max + 1}}
		b.save()
		id := e.newID()
		e.fail("rlimit", "run", "--bundle", b.dir, id)
		e.checkNoLeftovers(id)
	}
}

// hasCap reports whether the CapEff line of a /proc/<pid>/status has bit n.
func hasCap(status string, n uint) bool {
	for _, l := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			m, _ := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return m&(1<<n) != 0
		}
	}
	return false
}

func TestE2EProcessAndIdentity(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle()
	b.spec.Hostname = "box-" + strconv.Itoa(os.Getpid())
	b.spec.Process.OOMScoreAdj = ptr(500)
	b.spec.Process.User = specs.User{UID: 1000, GID: 1001, AdditionalGids: []uint32{10, 20}}
	b.spec.Process.Cwd = "/tmp"
	b.spec.Process.Env = []string{"PATH=/bin", "FOO=bar"}
	b.save()
	p := b.probe()
	if p.Hostname != b.spec.Hostname {
		t.Errorf("hostname %q, want %q", p.Hostname, b.spec.Hostname)
	}
	if p.OOMScoreAdj != "500" {
		t.Errorf("oom_score_adj %q, want 500", p.OOMScoreAdj)
	}
	slices.Sort(p.Groups)
	if p.UID != 1000 || p.GID != 1001 || !slices.Equal(p.Groups, []int{10, 20}) {
		t.Errorf("uid %d gid %d groups %v; want 1000 1001 [10 20]", p.UID, p.GID, p.Groups)
	}
	if p.Cwd != "/tmp" || !slices.Contains(p.Env, "FOO=bar") {
		t.Errorf("cwd %q env %v", p.Cwd, p.Env)
	}
	host, _ := os.Readlink("/proc/self/ns/uts")
	if p.Namespaces["uts"] == host || p.Namespaces["pid"] == "" {
		t.Errorf("namespaces %v (host uts %s)", p.Namespaces, host)
	}
}

func TestE2ESysctl(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	hostFwd, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	b := e.newBundle()
	b.spec.Linux.Sysctl = map[string]string{
		"net.ipv4.ip_forward":     "1",
		"net.ipv4.ip_default_ttl": "42",
		"kernel.msgmax":           "4096",
	}
	b.save()
	p := b.probe("-file", "/proc/sys/net/ipv4/ip_forward", "-file", "/proc/sys/net/ipv4/ip_default_ttl", "-file", "/proc/sys/kernel/msgmax")
	for k, v := range b.spec.Linux.Sysctl {
		f := "/proc/sys/" + strings.ReplaceAll(k, ".", "/")
		if got := strings.TrimSpace(p.Files[f]); got != v {
			t.Errorf("%s = %q in the container, want %q (%s)", k, got, v, p.Errors[f])
		}
	}
	if now, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); string(now) != string(hostFwd) {
		t.Errorf("the host's ip_forward changed from %q to %q", hostFwd, now)
	}

	// A network sysctl for a container in the host's network namespace is
	// refused: it would change the host.
	b.spec.Linux.Namespaces = slices.DeleteFunc(b.spec.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.NetworkNamespace })
	b.spec.Linux.Sysctl = map[string]string{"net.ipv4.ip_default_ttl": "42"}
	b.save()
	id := e.newID()
	e.fail("sysctl", "run", "--bundle", b.dir, id)
	e.checkNoLeftovers(id)
}

func TestE2EHooks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle()
	out := filepath.Join(e.dir, "hooks")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	host := func(name string) specs.Hook {
		return specs.Hook{
			Path: "/bin/sh",
			Args: []string{"sh", "-c", `cat > ` + out + `/` + name + `.json; echo "` + name + ` $HOOKVAR" >> ` + out + `/order`},
			Env:  []string{"HOOKVAR=" + name + "-env", "PATH=/usr/bin:/bin"},
		}
	}
	b.spec.Hooks = &specs.Hooks{
		Prestart:        []specs.Hook{host("prestart")}, //nolint:staticcheck // deprecated, still used by clients
		CreateRuntime:   []specs.Hook{host("createRuntime")},
		CreateContainer: []specs.Hook{host("createContainer")},
		// startContainer runs in the container: its path is the container's.
		StartContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "cat > /startContainer.json"}}},
		Poststart:      []specs.Hook{host("poststart"), {Path: "/bin/false"}, host("poststart2")},
		Poststop:       []specs.Hook{{Path: "/bin/false"}, host("poststop")},
	}
	b.save()
	id := e.newID()
	order := func() []string {
		data, _ := os.ReadFile(filepath.Join(out, "order"))
		return strings.Split(strings.TrimSpace(string(data)), "\n")
	}
	state := func(name string) specs.State {
		t.Helper()
		var s specs.State
		data := waitFile(t, filepath.Join(out, name+".json"))
		if err := json.Unmarshal([]byte(data), &s); err != nil {
			t.Fatalf("%s hook's stdin: %v: %q", name, err, data)
		}
		if s.ID != id || s.Bundle != b.dir || s.Version == "" {
			t.Errorf("%s hook's state: %+v", name, s)
		}
		return s
	}

	e.ok("create", "--bundle", b.dir, id)
	if got, want := order(), []string{"prestart prestart-env", "createRuntime createRuntime-env", "createContainer createContainer-env"}; !slices.Equal(got, want) {
		t.Errorf("hooks run by create: %q, want %q", got, want)
	}
	pid := e.state(id).Pid
	for _, h := range []string{"prestart", "createRuntime"} {
		if s := state(h); s.Pid != pid || s.Status != specs.StateCreating {
			t.Errorf("%s hook got pid %d status %s, want %d creating", h, s.Pid, s.Status, pid)
		}
	}
	// libcontainer runs createContainer hooks from the container's init,
	// which reports its own PID as seen in its PID namespace (1).
	if s := state("createContainer"); s.Pid <= 0 || s.Status != specs.StateCreating {
		t.Errorf("createContainer hook got pid %d status %s", s.Pid, s.Status)
	}

	r := e.run(nil, "start", id)
	if r.code != 0 {
		t.Fatalf("start with a failing poststart hook: %s", r)
	}
	if !strings.Contains(r.stderr, "poststart") {
		t.Errorf("no warning about the failing poststart hook: %q", r.stderr)
	}
	if got := order()[3:]; !slices.Equal(got, []string{"poststart poststart-env", "poststart2 poststart2-env"}) {
		t.Errorf("hooks run by start: %q", got)
	}
	if s := state("poststart"); s.Pid != pid || s.Status != specs.StateRunning {
		t.Errorf("poststart hook got pid %d status %s, want %d running", s.Pid, s.Status, pid)
	}
	var sc specs.State
	if err := json.Unmarshal([]byte(waitFile(t, filepath.Join(b.rootfs, "startContainer.json"))), &sc); err != nil || sc.ID != id {
		t.Errorf("startContainer hook's state: %+v, %v", sc, err)
	}

	e.ok("kill", id, "KILL")
	e.waitStatus(id, "stopped")
	r = e.run(nil, "delete", id)
	if r.code != 0 {
		t.Fatalf("delete with a failing poststop hook: %s", r)
	}
	if got := order()[5:]; !slices.Equal(got, []string{"poststop poststop-env"}) {
		t.Errorf("hooks run by delete: %q", got)
	}
	if s := state("poststop"); s.Status != specs.StateStopped {
		t.Errorf("poststop hook got status %s, want stopped", s.Status)
	}
	e.checkNoLeftovers(id)

	// A hook that outlives its timeout fails the create.
	b.spec.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sleep", Args: []string{"sleep", "30"}, Timeout: ptr(1)}}}
	b.save()
	id = e.newID()
	r = e.fail("hook", "create", "--bundle", b.dir, id)
	if r.dur > 15*time.Second {
		t.Errorf("a hook with a 1s timeout held create for %v", r.dur)
	}
	e.checkNoLeftovers(id)
}

func TestE2EUserNamespace(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if _, err := os.Stat("/proc/self/ns/user"); err != nil {
		t.Skip("no user namespaces")
	}
	const hostID, size = 200000, 65536
	b := e.newBundle()
	// The rootfs belongs to the container's root.
	err := filepath.WalkDir(b.rootfs, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, hostID, hostID)
	})
	if err != nil {
		t.Fatal(err)
	}
	b.spec.Linux.Namespaces = append(b.spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	b.spec.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: hostID, Size: size}}
	b.spec.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: hostID, Size: size}}
	b.save()
	p := b.probe("-write", "/tmp/userns-ok")
	if f := strings.Fields(p.UIDMap); !slices.Equal(f, []string{"0", strconv.Itoa(hostID), strconv.Itoa(size)}) {
		t.Errorf("uid_map %q", p.UIDMap)
	}
	if f := strings.Fields(p.GIDMap); !slices.Equal(f, []string{"0", strconv.Itoa(hostID), strconv.Itoa(size)}) {
		t.Errorf("gid_map %q", p.GIDMap)
	}
	if p.UID != 0 || p.Errors["/tmp/userns-ok"] != "" {
		t.Errorf("uid %d in the container, write error %q", p.UID, p.Errors["/tmp/userns-ok"])
	}
	host, _ := os.Readlink("/proc/self/ns/user")
	if p.Namespaces["user"] == host {
		t.Error("the container shares the host's user namespace")
	}

	// Seen from the host, its root is hostID; exec joins the namespace.
	b.args("sleep", "600")
	id := e.newID()
	e.ok("run", "-d", "--bundle", b.dir, id)
	status, _ := os.ReadFile("/proc/" + strconv.Itoa(e.state(id).Pid) + "/status")
	if !strings.Contains(string(status), "Uid:\t"+strconv.Itoa(hostID)+"\t") {
		t.Errorf("host view of the container's init: %s", status)
	}
	if out := e.ok("exec", id, "cat", "/proc/self/uid_map"); !strings.Contains(out, strconv.Itoa(hostID)) {
		t.Errorf("exec: uid_map %q", out)
	}
}

func TestE2EDevices(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle("sh", "-c", `ls -l /dev/mynull; echo x > /dev/mynull && echo null-ok; echo x > /dev/allowed; echo x > /dev/denied`)
	mode := os.FileMode(0o666)
	b.spec.Linux.Devices = []specs.LinuxDevice{
		{Path: "/dev/mynull", Type: "c", Major: 1, Minor: 3, FileMode: &mode, UID: ptr(uint32(0)), GID: ptr(uint32(0))},
		{Path: "/dev/allowed", Type: "c", Major: 1, Minor: 98, FileMode: &mode},
		{Path: "/dev/denied", Type: "c", Major: 1, Minor: 99, FileMode: &mode},
	}
	b.spec.Linux.Resources.Devices = append(b.spec.Linux.Resources.Devices,
		specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: ptr(int64(1)), Minor: ptr(int64(98)), Access: "rwm"})
	b.save()
	r := e.run(nil, "run", "--bundle", b.dir, e.newID())
	if !strings.HasPrefix(r.stdout, "crw-rw-rw-") || !strings.Contains(r.stdout, "1,   3") || !strings.Contains(r.stdout, "null-ok") {
		t.Errorf("device /dev/mynull: %s", r)
	}
	// The device cgroup lets the allowed node reach the driver (which has
	// no such minor) and stops the other.
	if !strings.Contains(r.stderr, "/dev/allowed: No such device") {
		t.Errorf("allowed device: %s", r.stderr)
	}
	if !strings.Contains(r.stderr, "/dev/denied: Operation not permitted") {
		t.Errorf("denied device: %s", r.stderr)
	}
}

func TestE2EMountPropagation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// A shared mount of our own on the host, so that propagation shows.
	src := filepath.Join(e.dir, "shared-src")
	if err := os.MkdirAll(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(src, src, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(src, unix.MNT_DETACH) })
	if err := unix.Mount("", src, "", unix.MS_SHARED, ""); err != nil {
		t.Fatal(err)
	}

	b := e.newBundle()
	b.spec.Mounts = append(b.spec.Mounts,
		specs.Mount{Destination: "/mnt/slave", Type: "bind", Source: src, Options: []string{"rbind", "rslave"}},
		specs.Mount{Destination: "/mnt/private", Type: "bind", Source: src, Options: []string{"rbind", "rprivate"}},
		specs.Mount{Destination: "/mnt/ro", Type: "bind", Source: src, Options: []string{"rbind", "ro"}},
		specs.Mount{Destination: "/mnt/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m", "mode=700"}},
	)
	b.save()
	id := e.newID()
	e.ok("run", "-d", "--bundle", b.dir, id)

	// Mount on the host after the container started.
	sub := filepath.Join(src, "sub")
	if err := unix.Mount("tmpfs", sub, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(sub, unix.MNT_DETACH) })
	if err := os.WriteFile(filepath.Join(sub, "marker"), []byte("from host"), 0o644); err != nil {
		t.Fatal(err)
	}

	p := decodeProbe(t, e.ok("exec", id, "/bin/probe", "-file", "/mnt/slave/sub/marker", "-file", "/mnt/private/sub/marker", "-write", "/mnt/ro/x"))
	if p.Files["/mnt/slave/sub/marker"] != "from host" {
		t.Errorf("a host mount did not propagate into an rslave mount: %s", p.Errors["/mnt/slave/sub/marker"])
	}
	if _, ok := p.Files["/mnt/private/sub/marker"]; ok {
		t.Error("a host mount propagated into an rprivate mount")
	}
	if !strings.Contains(p.Errors["/mnt/ro/x"], "read-only") {
		t.Errorf("write to a ro bind mount: %q", p.Errors["/mnt/ro/x"])
	}
	for _, m := range p.Mounts {
		switch m.MountPoint {
		case "/mnt/slave":
			if !slices.ContainsFunc(m.Optional, func(o string) bool { return strings.HasPrefix(o, "master:") }) {
				t.Errorf("/mnt/slave is not a slave mount: %v", m.Optional)
			}
		case "/mnt/private":
			if len(m.Optional) != 0 {
				t.Errorf("/mnt/private is not private: %v", m.Optional)
			}
		case "/mnt/tmp":
			if m.FSType != "tmpfs" || !strings.Contains(m.Source+m.Options, "tmpfs") && m.FSType != "tmpfs" {
				t.Errorf("/mnt/tmp: %+v", m)
			}
		}
	}
	e.ok("delete", "--force", id)
	e.checkNoLeftovers(id)
}

// cgroupV1 reports whether the memory controller is on a v1 hierarchy.
func cgroupV1() bool {
	_, err := os.Stat("/sys/fs/cgroup/memory/memory.limit_in_bytes")
	return err == nil
}

// cgroupFile reads a file of cgroup /vmctr/<rel>: v1 controller/file, or the
// v2 file on a pure v2 host.
func cgroupFile(t *testing.T, rel, v1, v2 string) string {
	t.Helper()
	p := filepath.Join("/sys/fs/cgroup", "vmctr", rel, v2)
	if cgroupV1() {
		p = filepath.Join("/sys/fs/cgroup", filepath.Dir(v1), "vmctr", rel, filepath.Base(v1))
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("reading cgroup file: %v", err)
	}
	return strings.TrimSpace(string(b))
}

func TestE2ECgroups(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle()
	b.spec.Linux.Resources.Memory = &specs.LinuxMemory{Limit: ptr(int64(64 << 20))}
	b.spec.Linux.Resources.Pids = &specs.LinuxPids{Limit: ptr(int64(64))}
	b.spec.Linux.Resources.CPU = &specs.LinuxCPU{Shares: ptr(uint64(512)), Quota: ptr(int64(50000)), Period: ptr(uint64(100000))}
	b.save()
	p := b.probe()
	memKey, pidsKey := "memory.max", "pids.max"
	if cgroupV1() {
		memKey, pidsKey = "memory/memory.limit_in_bytes", "pids/pids.max"
	}
	if p.Cgroup[memKey] != strconv.Itoa(64<<20) || p.Cgroup[pidsKey] != "64" {
		t.Errorf("limits seen in the container: %v", p.Cgroup)
	}
	if cgroupV1() && (p.Cgroup["cpu/cpu.shares"] != "512" || p.Cgroup["cpu/cpu.cfs_quota_us"] != "50000") {
		t.Errorf("cpu limits seen in the container: %v", p.Cgroup)
	}
	for _, m := range p.Mounts {
		if strings.HasPrefix(m.FSType, "cgroup") && !strings.HasPrefix(m.Options, "ro") {
			t.Errorf("cgroup mount %s is writable: %s", m.MountPoint, m.Options)
		}
	}

	// Where the cgroup goes: empty or relative cgroupsPath under /vmctr,
	// absolute as given.
	b.args("sleep", "600")
	for _, tc := range []struct{ name, path, rel string }{
		{"empty", "", ""}, {"relative", "rel-", "rel-"}, {"absolute", "/vmctr/abs-", "abs-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.sub(t)
			id := e.newID()
			rel := id
			if tc.path != "" {
				b.spec.Linux.CgroupsPath = tc.path + id
				rel = tc.rel + id
			} else {
				b.spec.Linux.CgroupsPath = ""
			}
			b.save()
			e.ok("run", "-d", "--bundle", b.dir, id)
			pid := e.state(id).Pid
			if got := cgroupFile(t, rel, "memory/memory.limit_in_bytes", "memory.max"); got != strconv.Itoa(64<<20) {
				t.Errorf("host: memory limit %s", got)
			}
			if procs := cgroupFile(t, rel, "pids/cgroup.procs", "cgroup.procs"); procs != strconv.Itoa(pid) {
				t.Errorf("cgroup /vmctr/%s holds %q, want init %d", rel, procs, pid)
			}
			if _, err := os.Stat("/sys/fs/cgroup/unified/vmctr/" + rel); cgroupV1() && err != nil {
				if _, uerr := os.Stat("/sys/fs/cgroup/unified"); uerr == nil {
					t.Errorf("hybrid host: no unified cgroup /vmctr/%s: %v", rel, err)
				}
			}
			e.ok("delete", "--force", id)
			if left := cgroupDirs(rel); len(left) > 0 {
				t.Errorf("cgroups left: %v", left)
			}
		})
	}
}

// A process above its memory limit is killed by the kernel, and events
// reports the OOM.
func TestE2EMemoryLimitOOM(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newBundle("sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.05; done; /bin/probe -alloc 128; exec sleep 600")
	limit := int64(32 << 20)
	b.spec.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit}
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"); err == nil || !cgroupV1() {
		b.spec.Linux.Resources.Memory.Swap = &limit
	}
	b.save()
	id := e.newID()
	e.ok("run", "-d", "--bundle", b.dir, id)
	events := e.background(nil, "events", "--interval", "100ms", id)
	waitLines(t, events.Stdout.(*os.File).Name(), 1, "")
	if err := os.WriteFile(filepath.Join(b.rootfs, "tmp", "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitLines(t, events.Stdout.(*os.File).Name(), 1, `"type":"oom"`)

	// Attached: the container's exit status says it was killed.
	b.args("/bin/probe", "-alloc", "128")
	if r := e.run(nil, "run", "--bundle", b.dir, e.newID()); r.code != 137 {
		t.Errorf("run of a process over its memory limit: %s; want 137 (SIGKILL)", r)
	}
}

// waitLines waits until the file has at least n complete lines containing
// substr, and returns them.
func waitLines(t *testing.T, path string, n int, substr string) []string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		data, _ := os.ReadFile(path)
		complete := string(data)
		if i := strings.LastIndexByte(complete, '\n'); i >= 0 {
			complete = complete[:i]
		} else {
			complete = ""
		}
		var lines []string
		for _, l := range strings.Split(complete, "\n") {
			if l != "" && strings.Contains(l, substr) {
				lines = append(lines, l)
			}
		}
		if len(lines) >= n {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d lines with %q after 20s, want %d:\n%s", path, len(lines), substr, n, data)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
