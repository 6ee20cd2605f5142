package main

// The end-to-end harness. TestMain makes one work directory; the first test
// that needs them builds vmctr (with the seccomp tag) and the probe
// (testdata/probe, static) into it. Each e2e test gets an env: its own
// --root, its own directory for bundles and sockets, and a cleanup that
// deletes every container the test named with `delete --force` and then
// fails the test if a state dir, lock file, cgroup or mount is left.

import (
	"bytes"
	"crypto/rand"
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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/vmctr/vmctr/container"
)

var (
	// workDir holds the built binaries and every test's env directory. It
	// is mode 0755 so that containers with user namespaces can reach their
	// rootfs.
	workDir string

	buildOnce          sync.Once
	buildErr           error
	vmctrBin, probeBin string

	appletsOnce sync.Once
	applets     []string
)

// cmdTimeout bounds every vmctr invocation a test makes.
const cmdTimeout = 60 * time.Second

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vmctr-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_ = os.Chmod(dir, 0o755)
	_ = os.Mkdir(filepath.Join(dir, "bin"), 0o755)
	workDir = dir
	code := m.Run()
	if code != 0 && os.Getenv("VMCTR_KEEP") != "" {
		fmt.Fprintf(os.Stderr, "VMCTR_KEEP: kept %s (containers deleted, bundles and roots of failed tests kept)\n", dir)
	} else {
		_ = os.RemoveAll(dir)
	}
	os.Exit(code)
}

// requireE2E skips the test unless it can start real containers: root, not
// -short, and Linux.
func requireE2E(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		t.Skip("end-to-end test needs root on Linux")
	}
}

// binaries builds vmctr (hack/build-vmctr.sh, tags $VMCTR_BUILD_TAGS)
// and the probe once per test binary. VMCTR_BINARY points the tests at a
// prebuilt vmctr instead.
func binaries(t *testing.T) (vmctr, probe string) {
	t.Helper()
	buildOnce.Do(func() {
		gobin, err := exec.LookPath("go")
		if err != nil {
			gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		vmctrBin = os.Getenv("VMCTR_BINARY")
		if vmctrBin == "" {
			// Not beside the state roots: libcontainer seals the binary for
			// each container with an overlayfs whose layers are the binary's
			// directory and the state dir, which must not nest (it falls
			// back to a slower copy).
			vmctrBin = filepath.Join(workDir, "bin", "vmctr")
			// As the Makefile builds it (static); $VMCTR_BUILD_TAGS is
			// the Makefile's TAGS.
			cmd := exec.Command("bash", "../../hack/build-vmctr.sh", vmctrBin)
			cmd.Env = append(os.Environ(), "GO="+gobin)
			if tags := os.Getenv("VMCTR_BUILD_TAGS"); tags != "" {
				cmd.Env = append(cmd.Env, "TAGS="+tags)
			}
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("building vmctr: %v\n%s", err, out)
				return
			}
		}
		probeBin = filepath.Join(workDir, "bin", "probe")
		cmd := exec.Command(gobin, "build", "-o", probeBin, "./testdata/probe")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building probe: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return vmctrBin, probeBin
}

// env is one test's world: a state root, a directory for its files, the
// container IDs it made (deleted at cleanup) and the background processes
// it started (killed at cleanup).
type env struct {
	t    *testing.T
	bin  string
	root string // --root
	dir  string // bundles, sockets, logs; mode 0755

	*shared
}

// shared is the part of an env its subtests' envs share.
type shared struct {
	mu    sync.Mutex
	ids   []string
	procs []*exec.Cmd
	n     int
}

// sub returns the env for a subtest: same root and containers, failures
// reported on t. Cleanup stays with the parent.
func (e *env) sub(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// newEnv prepares an e2e test that starts containers; it skips the test
// unless it runs as root.
func newEnv(t *testing.T) *env {
	t.Helper()
	requireE2E(t)
	return makeEnv(t)
}

// newCLIEnv prepares an e2e test that runs vmctr but starts no container
// (spec, features, --help): it needs no root.
func newCLIEnv(t *testing.T) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	return makeEnv(t)
}

func makeEnv(t *testing.T) *env {
	t.Helper()
	bin, _ := binaries(t)
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.TrimPrefix(t.Name(), "TestE2E"))
	if len(name) > 24 {
		name = name[:24]
	}
	dir, err := os.MkdirTemp(workDir, name+"-")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(dir, 0o755)
	e := &env{t: t, bin: bin, root: filepath.Join(dir, "root"), dir: dir, shared: &shared{}}
	t.Cleanup(e.cleanup)
	return e
}

// newID returns a container ID no other test (or engineer) uses: cgroups
// are named after it and they are global.
func (e *env) newID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	base := filepath.Base(e.dir)
	if i := strings.LastIndexByte(base, '-'); i > 0 {
		base = base[:i]
	}
	id := "e2e-" + strings.ToLower(base) + "-" + hex.EncodeToString(b)
	e.track(id)
	return id
}

// track registers an ID for cleanup (for IDs a test makes up itself).
func (e *env) track(id string) {
	e.mu.Lock()
	e.ids = append(e.ids, id)
	e.mu.Unlock()
}

func (e *env) cleanup() {
	t := e.t
	e.mu.Lock()
	ids, procs := e.ids, e.procs
	e.mu.Unlock()
	for _, p := range procs {
		if p.ProcessState == nil && p.Process != nil {
			_ = p.Process.Kill()
			_ = p.Wait()
		}
	}
	for _, id := range ids {
		if container.ValidateID(id) != nil {
			continue
		}
		if r := e.run(nil, "delete", "--force", id); r.code != 0 {
			t.Errorf("cleanup: delete --force %s: exit %d: %s", id, r.code, r.stderr)
		}
	}
	for _, id := range ids {
		if container.ValidateID(id) != nil {
			continue
		}
		e.checkNoLeftovers(id)
	}
	for _, m := range mountsUnder(e.dir) {
		t.Errorf("cleanup: mount left behind at %s", m)
		_ = unix.Unmount(m, unix.MNT_DETACH)
	}
	if !t.Failed() || os.Getenv("VMCTR_KEEP") == "" {
		_ = os.RemoveAll(e.dir)
	} else {
		t.Logf("keeping %s (VMCTR_KEEP)", e.dir)
	}
}

// checkNoLeftovers fails the test if anything of container id remains: its
// state dir, its lock file, a cgroup /vmctr/<id> in any hierarchy.
func (e *env) checkNoLeftovers(id string) {
	e.t.Helper()
	for _, p := range []string{filepath.Join(e.root, id), filepath.Join(e.root, ".locks", id)} {
		if _, err := os.Lstat(p); err == nil {
			e.t.Errorf("%s left behind", p)
		}
	}
	for _, cg := range cgroupDirs(id) {
		e.t.Errorf("cgroup %s left behind", cg)
	}
}

// cgroupDirs lists the existing cgroup directories /vmctr/<rel> in every
// hierarchy (v1 controllers, the v2 unified tree, or a pure v2 root).
func cgroupDirs(rel string) []string {
	var out []string
	pats := []string{"/sys/fs/cgroup/*/vmctr/" + rel, "/sys/fs/cgroup/vmctr/" + rel}
	for _, p := range pats {
		m, _ := filepath.Glob(p)
		for _, d := range m {
			if fi, err := os.Stat(d); err == nil && fi.IsDir() {
				out = append(out, d)
			}
		}
	}
	return out
}

// mountsUnder lists this mount namespace's mount points under dir.
func mountsUnder(dir string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			out = append(out, f[4])
		}
	}
	return out
}

// result is one finished vmctr invocation.
type result struct {
	stdout, stderr string
	code           int
	dur            time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
}

// command prepares `vmctr --root <root> args...`. Its stdout and stderr are
// files (not pipes), so that a container that keeps them open does not
// stall the test.
func (e *env) command(args ...string) *exec.Cmd {
	cmd := exec.Command(e.bin, append([]string{"--root", e.root}, args...)...)
	cmd.Dir = e.dir
	return cmd
}

// run runs vmctr with args; opt may adjust the command first.
func (e *env) run(opt func(*exec.Cmd), args ...string) result {
	e.t.Helper()
	cmd := e.command(args...)
	if opt != nil {
		opt(cmd)
	}
	return e.wait(cmd)
}

// wait starts cmd (unless started), waits for it (up to cmdTimeout) and
// collects its output.
func (e *env) wait(cmd *exec.Cmd) result {
	e.t.Helper()
	var outF, errF *os.File
	if cmd.Process == nil {
		if cmd.Stdout == nil {
			outF = e.tempFile("stdout")
			cmd.Stdout = outF
		}
		if cmd.Stderr == nil {
			errF = e.tempFile("stderr")
			cmd.Stderr = errF
		}
		if err := cmd.Start(); err != nil {
			e.t.Fatalf("starting %v: %v", cmd.Args, err)
		}
	}
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(cmdTimeout):
		_ = cmd.Process.Kill()
		<-done
		e.t.Fatalf("%v: timed out after %v", cmd.Args, cmdTimeout)
	}
	r := result{code: 0, dur: time.Since(start)}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
		if r.code < 0 {
			r.code = 128 + int(ee.Sys().(syscall.WaitStatus).Signal())
		}
	} else if err != nil {
		e.t.Fatalf("%v: %v", cmd.Args, err)
	}
	if outF != nil {
		r.stdout = readAll(outF)
	}
	if errF != nil {
		r.stderr = readAll(errF)
	}
	return r
}

func readAll(f *os.File) string {
	defer f.Close()
	_, _ = f.Seek(0, io.SeekStart)
	b, _ := io.ReadAll(f)
	return string(b)
}

func (e *env) tempFile(kind string) *os.File {
	e.t.Helper()
	f, err := os.CreateTemp(e.dir, kind+"-")
	if err != nil {
		e.t.Fatal(err)
	}
	return f
}

// ok runs vmctr and fails the test unless it exits 0; it returns stdout.
func (e *env) ok(args ...string) string {
	e.t.Helper()
	r := e.run(nil, args...)
	if r.code != 0 {
		e.t.Fatalf("vmctr %s: %s", strings.Join(args, " "), r)
	}
	return r.stdout
}

// fail runs vmctr and fails the test unless it exits non-zero with an error
// message containing want.
func (e *env) fail(want string, args ...string) result {
	e.t.Helper()
	r := e.run(nil, args...)
	if r.code == 0 {
		e.t.Fatalf("vmctr %s: succeeded, want an error containing %q\n%s", strings.Join(args, " "), want, r)
	}
	if !strings.Contains(r.stderr, want) {
		e.t.Fatalf("vmctr %s: error does not contain %q\n%s", strings.Join(args, " "), want, r)
	}
	return r
}

// background starts vmctr and returns without waiting; the process is
// killed at cleanup if it still runs.
func (e *env) background(opt func(*exec.Cmd), args ...string) *exec.Cmd {
	e.t.Helper()
	cmd := e.command(args...)
	cmd.Stdout = e.tempFile("stdout")
	cmd.Stderr = e.tempFile("stderr")
	if opt != nil {
		opt(cmd)
	}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.mu.Lock()
	e.procs = append(e.procs, cmd)
	e.mu.Unlock()
	return cmd
}

// state returns `vmctr state id`, decoded.
func (e *env) state(id string) container.State {
	e.t.Helper()
	var s container.State
	if err := json.Unmarshal([]byte(e.ok("state", id)), &s); err != nil {
		e.t.Fatalf("state %s: %v", id, err)
	}
	return s
}

// waitStatus polls `state` until the container has the status.
func (e *env) waitStatus(id, status string) container.State {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := e.state(id)
		if s.Status == status {
			return s
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("container %s is %s, want %s", id, s.Status, status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitFile waits until path exists and returns its contents. (Files that
// appear with content, like pid files, are written with a rename.)
func waitFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if b, err := os.ReadFile(path); err == nil {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// bundle is an OCI bundle made for one test: a busybox rootfs (with
// /bin/probe) and a config from `vmctr spec`, adjusted to run without a
// terminal and with a writable root. Tests edit spec, then save.
type bundle struct {
	e      *env
	dir    string
	rootfs string
	spec   *specs.Spec
}

// newBundle makes a bundle whose process runs args (default: sleep).
func (e *env) newBundle(args ...string) *bundle {
	e.t.Helper()
	_, probe := binaries(e.t)
	e.mu.Lock()
	e.n++
	dir := filepath.Join(e.dir, "bundle"+strconv.Itoa(e.n))
	e.mu.Unlock()
	rootfs := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "proc", "sys", "dev", "tmp", "etc", "mnt", "data", "root"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			e.t.Fatal(err)
		}
	}
	_ = os.Chmod(dir, 0o755)
	_ = os.Chmod(filepath.Join(rootfs, "tmp"), 0o1777)
	copyFile(e.t, "/bin/busybox", filepath.Join(rootfs, "bin", "busybox"))
	copyFile(e.t, probe, filepath.Join(rootfs, "bin", "probe"))
	for _, a := range busyboxApplets(e.t) {
		if a == "busybox" || strings.Contains(a, "/") {
			continue
		}
		_ = os.Symlink("busybox", filepath.Join(rootfs, "bin", a))
	}
	if err := os.WriteFile(filepath.Join(rootfs, "etc", "passwd"),
		[]byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"), 0o644); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "etc", "group"), []byte("root:x:0:\nnogroup:x:65534:\n"), 0o644); err != nil {
		e.t.Fatal(err)
	}
	e.ok("spec", "--bundle", dir)
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		e.t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		e.t.Fatalf("vmctr spec wrote bad JSON: %v", err)
	}
	if len(args) == 0 {
		args = []string{"sleep", "600"}
	}
	s.Process.Terminal = false
	s.Process.Args = args
	s.Root.Readonly = false
	bd := &bundle{e: e, dir: dir, rootfs: rootfs, spec: &s}
	bd.save()
	return bd
}

// save writes the bundle's config.json.
func (b *bundle) save() {
	b.e.t.Helper()
	data, err := json.MarshalIndent(b.spec, "", "  ")
	if err != nil {
		b.e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.dir, "config.json"), data, 0o644); err != nil {
		b.e.t.Fatal(err)
	}
}

// args sets the process's arguments and saves.
func (b *bundle) args(args ...string) *bundle {
	b.spec.Process.Args = args
	b.save()
	return b
}

func busyboxApplets(t *testing.T) []string {
	appletsOnce.Do(func() {
		out, err := exec.Command("/bin/busybox", "--list").Output()
		if err == nil {
			applets = strings.Fields(string(out))
		}
	})
	if len(applets) == 0 {
		t.Skip("/bin/busybox (busybox-static) is not installed")
	}
	return applets
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && src == "/bin/busybox" {
			t.Skip("/bin/busybox (busybox-static) is not installed")
		}
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// probeReport mirrors testdata/probe's Report.
type probeReport struct {
	Hostname    string              `json:"hostname"`
	UID         int                 `json:"uid"`
	GID         int                 `json:"gid"`
	Groups      []int               `json:"groups"`
	Cwd         string              `json:"cwd"`
	Env         []string            `json:"env"`
	Status      map[string]string   `json:"status"`
	Rlimits     map[string][2]int64 `json:"rlimits"`
	OOMScoreAdj string              `json:"oomScoreAdj"`
	UIDMap      string              `json:"uidMap"`
	GIDMap      string              `json:"gidMap"`
	Namespaces  map[string]string   `json:"namespaces"`
	Mounts      []struct {
		MountPoint string   `json:"mountPoint"`
		Options    string   `json:"options"`
		Optional   []string `json:"optional"`
		FSType     string   `json:"fsType"`
		Source     string   `json:"source"`
	} `json:"mounts"`
	Cgroup map[string]string `json:"cgroup"`
	Files  map[string]string `json:"files"`
	Errors map[string]string `json:"errors"`
}

// probe runs the bundle's container attached with /bin/probe and the given
// probe flags, and decodes its report.
func (b *bundle) probe(flags ...string) probeReport {
	b.e.t.Helper()
	b.args(append([]string{"/bin/probe"}, flags...)...)
	id := b.e.newID()
	r := b.e.run(nil, "run", "--bundle", b.dir, id)
	if r.code != 0 {
		b.e.t.Fatalf("run probe: %s", r)
	}
	return decodeProbe(b.e.t, r.stdout)
}

func decodeProbe(t *testing.T, out string) probeReport {
	t.Helper()
	var p probeReport
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("probe output: %v\n%s", err, out)
	}
	return p
}

// capMask returns the capability bit mask of names.
func capMask(t *testing.T, names ...string) uint64 {
	t.Helper()
	var m uint64
	for _, n := range names {
		v, ok := capNumbers[n]
		if !ok {
			t.Fatalf("capMask: unknown %s", n)
		}
		m |= 1 << v
	}
	return m
}

var capNumbers = map[string]uint{
	"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_FOWNER": 3, "CAP_FSETID": 4, "CAP_KILL": 5,
	"CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8, "CAP_NET_BIND_SERVICE": 10,
	"CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19,
	"CAP_SYS_ADMIN": 21, "CAP_MKNOD": 27, "CAP_AUDIT_WRITE": 29,
}

func parseHex(t *testing.T, s string) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(strings.TrimSpace(s), 16, 64)
	if err != nil {
		t.Fatalf("parsing %q: %v", s, err)
	}
	return v
}

// consoleSocket listens on an AF_UNIX socket for a pty master sent with
// SCM_RIGHTS, as runc's --console-socket protocol does. The master arrives
// on the channel, non-blocking so that reads can time out.
func (e *env) consoleSocket() (string, <-chan *os.File) {
	e.t.Helper()
	e.mu.Lock()
	e.n++
	path := filepath.Join(e.dir, "console"+strconv.Itoa(e.n)+".sock")
	e.mu.Unlock()
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		e.t.Fatal(err)
	}
	ch := make(chan *os.File, 1)
	go func() {
		defer l.Close()
		conn, err := l.AcceptUnix()
		if err != nil {
			close(ch)
			return
		}
		defer conn.Close()
		buf := make([]byte, 4096)
		oob := make([]byte, unix.CmsgSpace(4*4))
		_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil {
			close(ch)
			return
		}
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		for _, m := range msgs {
			if fds, err := unix.ParseUnixRights(&m); err == nil && len(fds) > 0 {
				_ = unix.SetNonblock(fds[0], true)
				ch <- os.NewFile(uintptr(fds[0]), "pty-master")
				return
			}
		}
		close(ch)
	}()
	e.t.Cleanup(func() { l.Close() })
	return path, ch
}

// recvMaster waits for the pty master from a console socket.
func recvMaster(t *testing.T, ch <-chan *os.File) *os.File {
	t.Helper()
	select {
	case f, ok := <-ch:
		if !ok {
			t.Fatal("console socket: no pty master received")
		}
		t.Cleanup(func() { f.Close() })
		return f
	case <-time.After(20 * time.Second):
		t.Fatal("console socket: timed out waiting for the pty master")
	}
	return nil
}

// readUntil reads f (a non-blocking pty master) until its output contains
// want; it returns everything read.
func readUntil(t *testing.T, f *os.File, want string) string {
	t.Helper()
	var buf bytes.Buffer
	deadline := time.Now().Add(20 * time.Second)
	b := make([]byte, 4096)
	for !strings.Contains(buf.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("terminal output does not contain %q: %q", want, buf.String())
		}
		_ = f.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, err := f.Read(b)
		buf.Write(b[:n])
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			if strings.Contains(buf.String(), want) {
				break
			}
			t.Fatalf("reading terminal: %v (read so far: %q)", err, buf.String())
		}
	}
	return buf.String()
}

// openPty opens a new pseudo-terminal pair: the master (non-blocking) and
// the slave.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(fd)
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		unix.Close(fd)
		t.Fatalf("ptsname: %v", err)
	}
	master = os.NewFile(uintptr(fd), "ptmx")
	slave, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		t.Fatalf("opening pty slave: %v", err)
	}
	t.Cleanup(func() { master.Close(); slave.Close() })
	return master, slave
}

// execCmd is exec.Cmd, for option funcs in files that do not import os/exec.
type execCmd = exec.Cmd

// inDir runs the command in dir.
func inDir(dir string) func(*exec.Cmd) {
	return func(cmd *exec.Cmd) { cmd.Dir = dir }
}

// withTTY makes cmd run in a new session with slave as its controlling
// terminal and standard streams.
func withTTY(slave *os.File) func(*exec.Cmd) {
	return func(cmd *exec.Cmd) {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		cmd.SysProcAttr = &unix.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	}
}
