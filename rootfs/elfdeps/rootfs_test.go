package elfdeps

import (
	"errors"
	"os"
	"slices"
	"syscall"
	"testing"
)

func TestResolve(t *testing.T) {
	r := newFakeRoot(t).merged()
	r.file("/usr/lib/x86_64-linux-gnu/libz.so.1.2.13", "z", 0o644)
	r.link("/usr/lib/x86_64-linux-gnu/libz.so.1", "libz.so.1.2.13")
	r.file("/etc/passwd", "root in the source root", 0o644)
	r.link("/etc/abs", "/etc/passwd")               // absolute: relative to the root, not the host
	r.link("/etc/updown", "../usr/../etc/./passwd") // relative with ..
	r.link("/etc/escape", "../../../../../etc/passwd")
	r.link("/etc/escape-abs", "/../etc/passwd")
	r.link("/etc/dangling", "nowhere")
	r.link("/etc/chain1", "chain2")
	r.link("/etc/chain2", "missing")
	r.link("/etc/loop1", "loop2")
	r.link("/etc/loop2", "loop1")
	r.link("/etc/dirlink", "/usr/lib")
	r.file("/etc/notdir", "", 0o644)

	rfs, err := openRoot(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer rfs.close()

	tests := []struct {
		in    string
		path  string
		links []string // hops, "L" suffix when Final
		err   error
		at    string
	}{
		{in: "/etc/passwd", path: "/etc/passwd"},
		{in: "/lib/x86_64-linux-gnu/libz.so.1", path: "/usr/lib/x86_64-linux-gnu/libz.so.1.2.13",
			links: []string{"/lib", "/usr/lib/x86_64-linux-gnu/libz.so.1 L"}},
		{in: "/etc/abs", path: "/etc/passwd", links: []string{"/etc/abs L"}},
		{in: "/etc/updown", path: "/etc/passwd", links: []string{"/etc/updown L"}},
		{in: "/etc/dirlink/x86_64-linux-gnu/libz.so.1.2.13", path: "/usr/lib/x86_64-linux-gnu/libz.so.1.2.13", links: []string{"/etc/dirlink"}},
		{in: "/usr/lib/../lib/x86_64-linux-gnu/../../../etc/passwd", path: "/etc/passwd"},
		{in: "/", path: "/"},
		{in: "/lib", path: "/usr/lib", links: []string{"/lib L"}},
		{in: "/../etc/passwd", err: ErrOutsideRoot, at: "/../etc/passwd"},
		{in: "/etc/escape", err: ErrOutsideRoot, at: "/etc/escape"},
		{in: "/etc/escape-abs", err: ErrOutsideRoot, at: "/etc/escape-abs"},
		{in: "/etc/nope", err: ErrNotFound, at: "/etc/nope"},
		{in: "/nope/deeper", err: ErrNotFound, at: "/nope/deeper"},
		{in: "/etc/notdir/x", err: ErrNotFound, at: "/etc/notdir/x"},
		{in: "/etc/dangling", err: ErrBrokenSymlink, at: "/etc/dangling"},
		{in: "/etc/chain1", err: ErrBrokenSymlink, at: "/etc/chain2"},
		{in: "/etc/loop1", err: ErrBrokenSymlink},
		{in: "/bin/nope", err: ErrNotFound, at: "/bin/nope"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			res, err := rfs.resolve(tt.in)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("resolve: %v, want %v", err, tt.err)
				}
				var re *resolveError
				if tt.at != "" && (!errors.As(err, &re) || re.At != tt.at) {
					t.Errorf("error %v blames the wrong path, want %s", err, tt.at)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Path != tt.path {
				t.Errorf("path %s, want %s", res.Path, tt.path)
			}
			var links []string
			for _, h := range res.Hops {
				s := h.Link
				if h.Final {
					s += " L"
				}
				links = append(links, s)
			}
			if !slices.Equal(links, tt.links) {
				t.Errorf("links %q, want %q", links, tt.links)
			}
		})
	}
}

// The root's own files are read, never the host's, even through absolute links.
func TestResolveStaysInRoot(t *testing.T) {
	r := newFakeRoot(t)
	r.file("/etc/hostname", "inside", 0o644)
	r.link("/x", "/etc/hostname")
	rfs, err := openRoot(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer rfs.close()
	b, res, err := rfs.readResolved("/x")
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "inside" || res.Path != "/etc/hostname" {
		t.Fatalf("read %q from %s", b, res.Path)
	}
	// A directory swapped for a symlink after resolution is refused by the kernel.
	if err := os.Rename(r.host("/etc"), r.host("/etc2")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc", r.host("/etc")); err != nil {
		t.Fatal(err)
	}
	if _, err := rfs.open("/etc/hostname"); err == nil {
		t.Fatal("opened a path through a symlink swapped in after resolution")
	}
}

func TestOpenRefusesSpecialFiles(t *testing.T) {
	r := newFakeRoot(t)
	if err := syscall.Mkfifo(r.host("/fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	r.mkdir("/dir")
	rfs, err := openRoot(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer rfs.close()
	for _, p := range []string{"/fifo", "/dir"} {
		if _, err := rfs.open(p); !errors.Is(err, ErrUnreadable) {
			t.Errorf("open %s: %v, want ErrUnreadable", p, err)
		}
	}
}

func TestKernelPaths(t *testing.T) {
	for p, want := range map[string]bool{
		"/boot": true, "/boot/vmlinuz-6.1.0": true, "/vmlinuz": true, "/initrd.img": true, "/vmlinuz.old": true,
		"/lib/modules/6.1.0/kernel/x.ko": true, "/usr/lib/modules": true, "/lib/firmware/x.bin": true, "/usr/lib/firmware/a": true,
		"/usr/lib/modules-load.d/x.conf": false, "/lib/modprobe.d/x": false, "/usr/sbin/update-initramfs": false,
		"/bootstrap": false, "/etc/passwd": false,
	} {
		if got := isKernelPath(p); got != want {
			t.Errorf("isKernelPath(%s) = %v, want %v", p, got, want)
		}
	}
}

func TestExcluded(t *testing.T) {
	globs := []string{"/usr/share/locale/**", "*.pyc", "/etc/ssl/certs/*.pem", "/usr/lib/python3*/test"}
	for p, want := range map[string]bool{
		"/usr/share/locale/de/LC_MESSAGES/x.mo": true,
		"/usr/share/locale":                     true,
		"/usr/share/locales":                    false,
		"/etc/ssl/certs/a.pem":                  true,
		"/etc/ssl/certs/ca-certificates.crt":    false,
		"/usr/lib/python3.11/test/x.py":         true,
		"/usr/lib/python3.11/json/x.py":         false,
		"/usr/lib/python3.11/json/x.pyc":        true,
		"/usr/lib/python3.11/__pycache__/x.pyc": true,
	} {
		if got := excluded(globs, p); got != want {
			t.Errorf("excluded(%s) = %v, want %v", p, got, want)
		}
	}
}
