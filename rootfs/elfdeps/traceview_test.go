package elfdeps

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseMountinfo(t *testing.T) {
	in := `22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
28 27 0:25 / /mnt/with\040space\134x ro,nosuid,nodev,relatime master:3 propagate_from:2 - tmpfs none ro,size=4k
29 27 0:26 / /bad
30 27 0:27 / /a\0 rw - tmpfs t rw
`
	got := parseMountinfo(in)
	want := []mountEntry{
		{id: 22, point: "/proc", fstype: "proc"},
		{id: 27, point: "/", fstype: "ext4"},
		{id: 28, point: `/mnt/with space\x`, fstype: "tmpfs", ro: true},
		{id: 30, point: `/a\0`, fstype: "tmpfs"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// inPrivateNS runs f on a locked thread in a private mount namespace that
// ends with it.
func inPrivateNS(t *testing.T, f func() error) {
	t.Helper()
	needRoot(t)
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			done <- err
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			done <- err
			return
		}
		done <- f()
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// viewEntries lists the calling thread's mounts at or below root.
func viewEntries(t *testing.T, root string) map[string][]string {
	b, err := os.ReadFile("/proc/thread-self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 10 {
			continue
		}
		p := unescapeMountinfo(f[4])
		if p == root || strings.HasPrefix(p, root+"/") {
			out[strings.TrimPrefix(p, root)] = f
		}
	}
	return out
}

// The view of this host: every mount is there, each an overlay with its
// upper layer on the trace's tmpfs or read-only, and it is gone with its
// namespace.
func TestTraceViewHost(t *testing.T) {
	fds := func() int { e, _ := os.ReadDir("/proc/self/fd"); return len(e) }
	before := fds()
	inPrivateNS(t, func() error {
		hostMounts, err := readMountinfo()
		if err != nil {
			return err
		}
		v, err := makeTraceView("/")
		if err != nil {
			return err
		}
		scratch := filepath.Dir(v.root)
		entries := viewEntries(t, v.root)
		for rel, f := range entries {
			sep := 6
			for f[sep] != "-" {
				sep++
			}
			t.Logf("%-40s %-10s %s", "/"+strings.TrimPrefix(rel, "/"), f[sep+1], f[5])
			switch {
			case f[sep+1] == "overlay":
				if !strings.Contains(f[sep+3], "upperdir="+scratch+"/upper/") {
					t.Errorf("%s: an overlay with its upper layer elsewhere: %s", rel, f[sep+3])
				}
			case rel == "/dev" || strings.HasPrefix(rel, "/dev/"): // its own, checkViewDev
			case !strings.HasPrefix(f[5], "ro"):
				t.Errorf("%s: writable %s mount in the view", rel, f[sep+1])
			}
		}
		for _, m := range hostMounts {
			if m.fstype == "autofs" || m.point == "/dev" || strings.HasPrefix(m.point, "/dev/") {
				continue // the view's /dev is its own
			}
			rel := m.point
			if rel == "/" {
				rel = ""
			}
			if _, ok := entries[rel]; !ok && m.point != scratch {
				t.Errorf("host mount %s (%s) is not in the view", m.point, m.fstype)
			}
		}
		// The apps' writes stay in the view.
		probe := "/etc/vmctr-trace-view-test"
		if err := os.WriteFile(v.root+probe, []byte("x"), 0o644); err != nil {
			t.Errorf("writing in the view: %v", err)
		}
		if _, err := os.Lstat(probe); err == nil {
			os.Remove(probe)
			t.Errorf("a write in the view reached the host")
		}
		if err := os.WriteFile(v.root+"/dev/null", []byte("x"), 0); err != nil {
			t.Errorf("writing /dev/null in the view: %v", err)
		}
		checkViewDev(t, v.root)
		for _, p := range []string{v.root + "/proc/sys", "/", "/dev", "/proc"} {
			var st unix.Statfs_t
			if err := unix.Statfs(p, &st); err != nil || st.Flags&unix.ST_RDONLY == 0 || st.Flags&unix.ST_NODEV == 0 {
				t.Errorf("%s is not read-only and nodev in the trace's namespace: %v", p, err)
			}
		}
		if f, err := os.OpenFile("/dev/null", os.O_WRONLY, 0); err == nil {
			f.Close()
			t.Error("this host's /dev/null opens in the trace's namespace (out of the view)")
		}
		return nil
	})
	if n := fds(); n > before {
		t.Errorf("%d descriptors open after the view, %d before", n, before)
	}
	b, _ := os.ReadFile("/proc/thread-self/mountinfo")
	if strings.Contains(string(b), "vmctr-trace") {
		t.Errorf("the view is mounted in the test's namespace:\n%s", b)
	}
}

// The view of a source root: its own mounts (a tmpfs here) are in it,
// overlaid, and this host's /dev is bound in.
func TestTraceViewSourceRoot(t *testing.T) {
	r := newFakeRoot(t)
	r.file("/etc/app.conf", "conf", 0o644)
	r.mkdir("/var/data")
	inPrivateNS(t, func() error {
		if err := unix.Mount("data", r.host("/var/data"), "tmpfs", 0, "mode=0755"); err != nil {
			return err
		}
		if err := os.WriteFile(r.host("/var/data/db"), []byte("db"), 0o644); err != nil {
			return err
		}
		// The view's tmpfs hides /tmp, where the source root is: look at
		// it through a descriptor.
		src, err := os.Open(r.dir)
		if err != nil {
			return err
		}
		defer src.Close()
		host := func(p string) string { return "/proc/self/fd/" + strconv.Itoa(int(src.Fd())) + p }
		v, err := makeTraceView(r.dir)
		if err != nil {
			return err
		}
		if b, err := os.ReadFile(v.root + "/var/data/db"); err != nil || string(b) != "db" {
			t.Errorf("the source root's own mount in the view: %q, %v", b, err)
		}
		if err := os.WriteFile(v.root+"/var/data/db", []byte("changed"), 0o644); err != nil {
			t.Errorf("writing in the view: %v", err)
		}
		if err := os.WriteFile(v.root+"/etc/app.conf", []byte("changed"), 0o644); err != nil {
			t.Errorf("writing in the view: %v", err)
		}
		for p, want := range map[string]string{"/var/data/db": "db", "/etc/app.conf": "conf"} {
			if b, _ := os.ReadFile(host(p)); string(b) != want {
				t.Errorf("a write in the view reached the source root's %s: %q", p, b)
			}
		}
		checkViewDev(t, v.root)
		if _, err := os.Lstat(host("/dev")); err == nil {
			t.Error("making /dev in the view made it in the source root")
		}
		if _, err := os.Stat(v.root + "/proc/self"); err == nil {
			t.Error("the view of a source root has /proc")
		}
		return nil
	})
}

// checkViewDev checks the view's minimal /dev: its nodes work, it has no
// block device and no character device but the listed ones, and what is
// made in it stays in the view.
func checkViewDev(t *testing.T, root string) {
	t.Helper()
	dev := root + "/dev"
	for _, n := range []string{"null", "zero", "full", "urandom"} {
		f, err := os.OpenFile(dev+"/"+n, os.O_RDWR, 0)
		if err != nil {
			t.Errorf("opening /dev/%s in the view: %v", n, err)
			continue
		}
		f.Close()
	}
	if fi, err := os.Lstat(dev + "/pts/ptmx"); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Errorf("no devpts with ptmx in the view's /dev: %v", err)
	}
	if target, err := os.Readlink(dev + "/fd"); err != nil || target != "/proc/self/fd" {
		t.Errorf("/dev/fd in the view: %q, %v", target, err)
	}
	entries, err := os.ReadDir(dev)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		switch {
		case e.Type()&os.ModeDevice != 0 && e.Type()&os.ModeCharDevice == 0:
			t.Errorf("block device /dev/%s in the view", e.Name())
		case e.Type()&os.ModeCharDevice != 0 && !slices.Contains(viewDevNodes, e.Name()):
			t.Errorf("character device /dev/%s in the view", e.Name())
		}
	}
	for _, b := range []string{"vda", "sda", "nvme0n1", "loop0", "mem", "kmsg"} {
		if _, err := os.Lstat(dev + "/" + b); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("/dev/%s in the view: %v", b, err)
		}
	}
	if err := os.WriteFile(dev+"/vmctr-trace-view-test", nil, 0o644); err != nil {
		t.Errorf("creating a file in the view's /dev: %v", err)
	}
	if _, err := os.Lstat("/dev/vmctr-trace-view-test"); err == nil {
		os.Remove("/dev/vmctr-trace-view-test")
		t.Error("a file made in the view's /dev reached this host's")
	}
}
