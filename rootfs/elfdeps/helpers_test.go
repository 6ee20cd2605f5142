package elfdeps

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// fakeRoot is a source root built in a temp dir for one test.
type fakeRoot struct {
	t   *testing.T
	dir string
}

func newFakeRoot(t *testing.T) *fakeRoot {
	t.Helper()
	return &fakeRoot{t: t, dir: t.TempDir()}
}

// merged makes the Debian 12 merged-/usr layout: /bin, /sbin, /lib, /lib64
// are links into /usr, and the loader is reached through an absolute link.
func (r *fakeRoot) merged() *fakeRoot {
	for _, d := range []string{"usr/bin", "usr/sbin", "usr/lib/x86_64-linux-gnu", "usr/lib64", "etc"} {
		r.mkdir(d)
	}
	r.link("/bin", "usr/bin")
	r.link("/sbin", "usr/sbin")
	r.link("/lib", "usr/lib")
	r.link("/lib64", "usr/lib64")
	return r
}

func (r *fakeRoot) host(p string) string { return filepath.Join(r.dir, p) }

func (r *fakeRoot) mkdir(p string) {
	r.t.Helper()
	if err := os.MkdirAll(r.host(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
}

func (r *fakeRoot) file(p, content string, mode os.FileMode) {
	r.t.Helper()
	r.mkdir(path.Dir(p))
	if err := os.WriteFile(r.host(p), []byte(content), mode); err != nil {
		r.t.Fatal(err)
	}
	if err := os.Chmod(r.host(p), mode); err != nil {
		r.t.Fatal(err)
	}
}

func (r *fakeRoot) link(p, target string) {
	r.t.Helper()
	r.mkdir(path.Dir(p))
	if err := os.Symlink(target, r.host(p)); err != nil {
		r.t.Fatal(err)
	}
}

// copyHost copies the host file at src (following links) to p in the root.
func (r *fakeRoot) copyHost(src, p string) {
	r.t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		r.t.Fatal(err)
	}
	st, err := os.Stat(src)
	if err != nil {
		r.t.Fatal(err)
	}
	r.file(p, string(b), st.Mode().Perm())
}

// installProgram copies a host program to p in a merged root, and every
// library ldd lists to /usr/lib/x86_64-linux-gnu/<name>, with the loader at
// its Debian place behind /usr/lib64/ld-linux-x86-64.so.2 -> /lib/... .
func (r *fakeRoot) installProgram(src, p string) {
	r.t.Helper()
	r.copyHost(src, p)
	for name, host := range lddLibs(r.t, src) {
		dst := "/usr/lib/x86_64-linux-gnu/" + name
		if _, err := os.Lstat(r.host(dst)); err == nil {
			continue
		}
		r.copyHost(host, dst)
	}
	if _, err := os.Lstat(r.host("/usr/lib64/ld-linux-x86-64.so.2")); err != nil {
		r.link("/usr/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
	}
}

// lddLibs maps the names ldd reports for prog to host paths.
func lddLibs(t *testing.T, prog string) map[string]string {
	t.Helper()
	out, err := exec.Command("ldd", prog).Output()
	if err != nil {
		t.Skipf("ldd %s: %v", prog, err)
	}
	libs := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			libs[f[0]] = f[2]
		case len(f) == 2 && strings.HasPrefix(f[0], "/"):
			libs[path.Base(f[0])] = f[0]
		}
	}
	return libs
}

// lddClosure is the set of canonical paths ldd says prog loads.
func lddClosure(t *testing.T, prog string) map[string]bool {
	t.Helper()
	m := map[string]bool{}
	for _, p := range lddLibs(t, prog) {
		c, err := filepath.EvalSymlinks(p)
		if err != nil {
			t.Fatal(err)
		}
		m[c] = true
	}
	return m
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

func needProgram(t *testing.T, p string) {
	t.Helper()
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s is not installed", p)
	}
}

func needGCC(t *testing.T) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc is not installed")
	}
	return gcc
}

// gcc compiles C source into out with extra arguments.
func gcc(t *testing.T, src, out string, args ...string) {
	t.Helper()
	dir := t.TempDir()
	c := filepath.Join(dir, "x.c")
	if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(needGCC(t), append([]string{"-o", out, c}, args...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v: %s", err, b)
	}
}

// fakeELF is a minimal ELF header for another machine: enough for ld.so and
// for debug/elf to tell what it is.
func fakeELF(m elf.Machine, c elf.Class, typ elf.Type) []byte {
	var b bytes.Buffer
	bo := binary.LittleEndian
	ident := [16]byte{0x7f, 'E', 'L', 'F', byte(c), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)}
	if c == elf.ELFCLASS64 {
		binary.Write(&b, bo, elf.Header64{
			Ident: ident, Type: uint16(typ), Machine: uint16(m), Version: uint32(elf.EV_CURRENT),
			Ehsize: 64, Phentsize: 56, Shentsize: 64,
		})
		return b.Bytes()
	}
	binary.Write(&b, bo, elf.Header32{
		Ident: ident, Type: uint16(typ), Machine: uint16(m), Version: uint32(elf.EV_CURRENT),
		Ehsize: 52, Phentsize: 32, Shentsize: 40,
	})
	return b.Bytes()
}

// discover runs Discover and indexes the result by path.
func discover(t *testing.T, o Options) (map[string]File, *Result) {
	t.Helper()
	res, err := Discover(context.Background(), o)
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	m := map[string]File{}
	for _, f := range res.Files {
		if _, dup := m[f.Path]; dup {
			t.Errorf("%s listed twice", f.Path)
		}
		m[f.Path] = f
	}
	return m, res
}

// wantErr checks that err wraps sentinel and names every string in names.
func wantErr(t *testing.T, err, sentinel error, names ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", sentinel)
	}
	if !errors.Is(err, sentinel) {
		t.Fatalf("error %q does not wrap %q", err, sentinel)
	}
	t.Logf("error: %v", err)
	var pe *PathError
	if !errors.As(err, &pe) {
		t.Errorf("error %q is not a *PathError", err)
	}
	for _, n := range names {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("error %q does not name %q", err, n)
		}
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
}
