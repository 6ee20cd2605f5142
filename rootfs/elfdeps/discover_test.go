package elfdeps

import (
	"context"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// The ELF closure of host programs matches what the real loader loads.
func TestClosureMatchesLdd(t *testing.T) {
	for _, p := range []string{"/bin/ls", "/usr/bin/python3", "/usr/sbin/nginx", "/usr/bin/redis-server", "/usr/bin/ssh", "/usr/bin/curl"} {
		t.Run(p, func(t *testing.T) {
			needProgram(t, p)
			want := lddClosure(t, p)
			d, err := newDiscoverer(Options{Root: "/", Apps: []string{p}})
			if err != nil {
				t.Fatal(err)
			}
			defer d.fs.close()
			if err := d.addApps(context.Background()); err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for q, f := range d.files {
				if f.Reason == ReasonELF && d.fs.lstat(q).isRegular() {
					got[q] = true
				}
			}
			for q := range want {
				if !got[q] {
					t.Errorf("missing %s", q)
				}
			}
			for q := range got {
				if !want[q] {
					t.Errorf("extra %s", q)
				}
			}
		})
	}
}

// A program copied into a merged-/usr source root is resolved inside it:
// links are reported as links, targets as files, the root's own cache or
// ld.so.conf decide, never the host's.
func TestDiscoverFakeRoot(t *testing.T) {
	needProgram(t, "/bin/ls")
	for _, withCache := range []bool{false, true} {
		name := "ld.so.conf"
		if withCache {
			name = "ld.so.cache"
		}
		t.Run(name, func(t *testing.T) {
			r := newFakeRoot(t).merged()
			r.installProgram("/bin/ls", "/usr/bin/ls")
			// libselinux lives only in /opt/lib here, which only the root's ld.so.conf names.
			if err := os.MkdirAll(r.host("/opt/lib"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(r.host("/usr/lib/x86_64-linux-gnu/libselinux.so.1"), r.host("/opt/lib/libselinux.so.1")); err != nil {
				t.Fatal(err)
			}
			r.file("/etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n", 0o644)
			r.file("/etc/ld.so.conf.d/opt.conf", "/opt/lib\n", 0o644)
			if withCache {
				if out, err := exec.Command("ldconfig", "-r", r.dir).CombinedOutput(); err != nil {
					t.Skipf("ldconfig -r: %v: %s", err, out)
				}
			}
			files, _ := discover(t, Options{Root: r.dir, Apps: []string{"/bin/ls"}})
			via := "/etc/ld.so.conf"
			if withCache {
				via = "/etc/ld.so.cache"
			}
			for p, want := range map[string]string{
				"/bin":                            "symlink:symlink to usr/bin, on the way to /usr/bin/ls",
				"/usr/bin/ls":                     "app:--app /bin/ls",
				"/lib64":                          "symlink:",
				"/usr/lib64/ld-linux-x86-64.so.2": "elf-dep:PT_INTERP of /bin/ls",
				"/lib":                            "symlink:",
				"/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2": "elf-dep:PT_INTERP of /bin/ls",
				"/opt/lib/libselinux.so.1":                       "elf-dep:DT_NEEDED libselinux.so.1 of /bin/ls (" + via,
				"/usr/lib/x86_64-linux-gnu/libc.so.6":            "elf-dep:DT_NEEDED libc.so.6 of /bin/ls",
				"/usr/lib/x86_64-linux-gnu/libpcre2-8.so.0":      "elf-dep:DT_NEEDED libpcre2-8.so.0 of /opt/lib/libselinux.so.1",
			} {
				f, ok := files[p]
				if !ok {
					t.Errorf("%s not listed", p)
					continue
				}
				reason, detail, _ := strings.Cut(want, ":")
				if string(f.Reason) != reason || !strings.HasPrefix(f.Detail, detail) {
					t.Errorf("%s: %s %q, want %s %q...", p, f.Reason, f.Detail, reason, detail)
				}
			}
			// Via names the cause, for programs to follow.
			for p, via := range map[string]string{
				"/bin":                                      "/usr/bin/ls",
				"/usr/bin/ls":                               "",
				"/usr/lib64/ld-linux-x86-64.so.2":           "/bin/ls",
				"/opt/lib/libselinux.so.1":                  "/bin/ls",
				"/usr/lib/x86_64-linux-gnu/libc.so.6":       "/bin/ls",
				"/usr/lib/x86_64-linux-gnu/libpcre2-8.so.0": "/opt/lib/libselinux.so.1",
			} {
				if f := files[p]; f.Via != via {
					t.Errorf("%s: via %q, want %q", p, f.Via, via)
				}
			}
			if withCache {
				if f, ok := files["/etc/ld.so.cache"]; !ok {
					t.Error("/etc/ld.so.cache not listed")
				} else if f.Via != "/usr/lib/x86_64-linux-gnu/libc.so.6" {
					t.Errorf("/etc/ld.so.cache: via %q, want libc", f.Via)
				}
			}
			// Every path exists in the root, as listed (no path through a symlinked directory).
			for p := range files {
				dir, err := filepath.EvalSymlinks(r.host(filepath.Dir(p)))
				if err != nil || dir != r.host(filepath.Dir(p)) {
					t.Errorf("%s: parent is not a real directory of the root (%v)", p, err)
				}
				if _, err := os.Lstat(r.host(p)); err != nil {
					t.Errorf("%s: %v", p, err)
				}
			}
			if _, ok := files["/usr/lib/x86_64-linux-gnu/libselinux.so.1"]; ok {
				t.Error("a host-only path was listed")
			}
		})
	}
}

// RPATH is inherited by the objects a program loads, RUNPATH is not; $ORIGIN
// is the program's real directory; glibc-hwcaps variants and wrong-class
// candidates are handled like ld.so does. The real loader confirms each case.
func TestRPathRunPath(t *testing.T) {
	needGCC(t)
	needProgram(t, "/bin/ls")
	r := newFakeRoot(t).merged()
	r.installProgram("/bin/ls", "/usr/bin/ls") // the loader and libc
	lib := r.host("/opt/app/lib")
	gcc(t, "int bar(void){return 7;}", filepath.Join(lib, "libbar.so"), "-shared", "-fPIC")
	gcc(t, "int bar(void); int foo(void){return bar();}", filepath.Join(lib, "libfoo.so"), "-shared", "-fPIC", "-L"+lib, "-lbar")
	main := "int foo(void); int main(void){return foo()==7?0:1;}"
	gcc(t, main, r.host("/opt/app/bin/rpath"), "-L"+lib, "-lfoo", "-Wl,-rpath-link,"+lib, "-Wl,-rpath,$ORIGIN/../lib", "-Wl,--disable-new-dtags")
	gcc(t, main, r.host("/opt/app/bin/runpath"), "-L"+lib, "-lfoo", "-Wl,-rpath-link,"+lib, "-Wl,-rpath,$ORIGIN/../lib", "-Wl,--enable-new-dtags")
	r.link("/usr/bin/rpath", "../../opt/app/bin/rpath") // $ORIGIN is where the program really is
	// A candidate of the wrong machine first in the search path is skipped.
	r.file("/opt/wrong/libfoo.so", string(fakeELF(elf.EM_AARCH64, elf.ELFCLASS64, elf.ET_DYN)), 0o644)
	gcc(t, main, r.host("/opt/app/bin/wrongfirst"), "-L"+lib, "-lfoo", "-Wl,-rpath-link,"+lib, "-Wl,-rpath,/opt/wrong:$ORIGIN/../lib", "-Wl,--disable-new-dtags")
	// A glibc-hwcaps variant is listed next to the baseline library.
	if err := os.MkdirAll(filepath.Join(lib, "glibc-hwcaps/x86-64-v2"), 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(lib, "libbar.so"), filepath.Join(lib, "glibc-hwcaps/x86-64-v2/libbar.so"))

	// The real loader agrees: RPATH finds libbar for libfoo, RUNPATH does not.
	if out, err := exec.Command(r.host("/opt/app/bin/rpath")).CombinedOutput(); err != nil {
		t.Fatalf("rpath program does not run: %v: %s", err, out)
	}
	if out, err := exec.Command(r.host("/opt/app/bin/runpath")).CombinedOutput(); err == nil || !strings.Contains(string(out), "libbar.so") {
		t.Fatalf("runpath program ran, or failed for another reason: %v: %s", err, out)
	}

	files, _ := discover(t, Options{Root: r.dir, Apps: []string{"/usr/bin/rpath", "/opt/app/bin/wrongfirst"}})
	for p, detail := range map[string]string{
		"/usr/bin/rpath":                                "--app /usr/bin/rpath",
		"/opt/app/bin/rpath":                            "--app /usr/bin/rpath",
		"/opt/app/lib/libfoo.so":                        "DT_NEEDED libfoo.so of /usr/bin/rpath (DT_RPATH of /usr/bin/rpath)",
		"/opt/app/lib/libbar.so":                        "DT_NEEDED libbar.so of /opt/app/bin/../lib/libfoo.so (DT_RPATH of /usr/bin/rpath)",
		"/opt/app/lib/glibc-hwcaps/x86-64-v2/libbar.so": "DT_NEEDED libbar.so of /opt/app/bin/../lib/libfoo.so (DT_RPATH of /usr/bin/rpath)",
	} {
		if f, ok := files[p]; !ok || f.Detail != detail {
			t.Errorf("%s: %+v, want detail %q", p, f, detail)
		}
	}
	if _, ok := files["/opt/wrong/libfoo.so"]; ok {
		t.Error("the aarch64 candidate was listed")
	}

	_, err := Discover(context.Background(), Options{Root: r.dir, Apps: []string{"/opt/app/bin/runpath"}})
	wantErr(t, err, ErrNotFound, "libbar.so", "libfoo.so")
}

func TestDiscoverErrors(t *testing.T) {
	needProgram(t, "/bin/ls")
	r := newFakeRoot(t).merged()
	r.installProgram("/bin/ls", "/usr/bin/ls")
	r.file("/usr/bin/arm", string(fakeELF(elf.EM_AARCH64, elf.ELFCLASS64, elf.ET_EXEC)), 0o755)
	ls, _ := os.ReadFile("/bin/ls")
	r.file("/usr/bin/truncated", string(ls[:1000]), 0o755)
	r.file("/usr/bin/empty", "", 0o755)
	r.file("/usr/bin/text", "echo no shebang\n", 0o755)
	r.file("/usr/bin/badinterp", "#!/usr/bin/nothere\n", 0o755)
	r.file("/usr/bin/loop", "#!/usr/bin/loop\n", 0o755)
	r.mkdir("/usr/bin/adir")
	if err := syscall.Mkfifo(r.host("/usr/bin/fifo"), 0o755); err != nil {
		t.Fatal(err)
	}
	r.link("/usr/bin/dangling", "ls-old")
	r.link("/usr/bin/chain", "chain2")
	r.link("/usr/bin/chain2", "/opt/gone/ls")
	r.link("/usr/bin/escape", "../../../../../../usr/bin/ls")
	r.file("/boot/vmlinuz-6.1.0-1-amd64", "kernel", 0o644)
	r.link("/vmlinuz", "boot/vmlinuz-6.1.0-1-amd64")
	r.file("/usr/lib/modules/6.1.0/kernel/fs/x.ko", "module", 0o644)
	r.file("/opt/needslib", "", 0o755)
	copyFile(t, "/bin/ls", r.host("/opt/needs-missing-lib"))
	if err := os.Remove(r.host("/usr/lib/x86_64-linux-gnu/libpcre2-8.so.0")); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		o     Options
		err   error
		names []string
	}{
		{"missing app", Options{Apps: []string{"/usr/bin/nope"}}, ErrNotFound, []string{"app", "/usr/bin/nope"}},
		{"missing bare name", Options{Apps: []string{"nope"}}, ErrNotFound, []string{"nope", "/usr/bin"}},
		{"relative escape", Options{Apps: []string{"../../etc/passwd"}}, ErrOutsideRoot, []string{"../../etc/passwd"}},
		{"symlink escape", Options{Apps: []string{"/usr/bin/escape"}}, ErrOutsideRoot, []string{"/usr/bin/escape"}},
		{"file escape", Options{Files: []string{"/../../etc/shadow"}}, ErrOutsideRoot, []string{"/../../etc/shadow"}},
		{"dangling", Options{Apps: []string{"/usr/bin/dangling"}}, ErrBrokenSymlink, []string{"/usr/bin/dangling", "ls-old"}},
		{"broken chain", Options{Apps: []string{"/bin/chain"}}, ErrBrokenSymlink, []string{"/bin/chain", "/usr/bin/chain2", "/opt/gone"}},
		{"another arch", Options{Apps: []string{"/usr/bin/arm"}}, ErrWrongArch, []string{"/usr/bin/arm", "AARCH64"}},
		{"truncated ELF", Options{Apps: []string{"/usr/bin/truncated"}}, ErrUnreadable, []string{"/usr/bin/truncated", "ELF"}},
		{"empty", Options{Apps: []string{"/usr/bin/empty"}}, ErrUnreadable, []string{"/usr/bin/empty", "empty"}},
		{"no shebang", Options{Apps: []string{"/usr/bin/text"}}, ErrNotProgram, []string{"/usr/bin/text", "not a program"}},
		{"directory", Options{Apps: []string{"/usr/bin/adir"}}, ErrNotProgram, []string{"/usr/bin/adir", "directory"}},
		{"directory, as unreadable", Options{Apps: []string{"/usr/bin/adir"}}, ErrUnreadable, []string{"/usr/bin/adir"}},
		{"fifo", Options{Apps: []string{"/usr/bin/fifo"}}, ErrUnreadable, []string{"/usr/bin/fifo", "FIFO"}},
		{"missing interpreter", Options{Apps: []string{"/usr/bin/badinterp"}}, ErrNotFound, []string{"/usr/bin/nothere", "/usr/bin/badinterp"}},
		{"interpreter loop", Options{Apps: []string{"/usr/bin/loop"}}, ErrUnreadable, []string{"/usr/bin/loop"}},
		{"missing library", Options{Apps: []string{"/opt/needs-missing-lib"}}, ErrNotFound, []string{"libpcre2-8.so.0", "libselinux.so.1"}},
		{"kernel file", Options{Files: []string{"/boot/vmlinuz-6.1.0-1-amd64"}}, ErrKernelFile, []string{"/boot/vmlinuz"}},
		{"kernel link", Options{Files: []string{"/vmlinuz"}}, ErrKernelFile, []string{"/vmlinuz"}},
		{"kernel dir", Options{Files: []string{"/lib/modules"}}, ErrKernelFile, []string{"/lib/modules"}},
		{"kernel app", Options{Apps: []string{"/vmlinuz"}}, ErrKernelFile, []string{"/vmlinuz"}},
		{"missing file", Options{Files: []string{"/etc/nope.conf"}}, ErrNotFound, []string{"/etc/nope.conf"}},
		{"no package db", Options{Packages: []string{"nginx"}}, ErrNotFound, []string{"/var/lib/dpkg/status"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.Root = r.dir
			_, err := Discover(context.Background(), tt.o)
			wantErr(t, err, tt.err, tt.names...)
		})
	}
	t.Run("bad exclude", func(t *testing.T) {
		_, err := Discover(context.Background(), Options{Root: r.dir, Excludes: []string{"[x"}})
		if err == nil || !strings.Contains(err.Error(), "[x") {
			t.Errorf("bad exclude glob: %v", err)
		}
	})
	t.Run("missing root", func(t *testing.T) {
		_, err := Discover(context.Background(), Options{Root: r.host("/nope")})
		if err == nil || !strings.Contains(err.Error(), "/nope") {
			t.Errorf("missing root: %v", err)
		}
	})
}

// Without root, a file without read permission is unreadable.
func TestDiscoverPermissionDenied(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads everything; see the FIFO, directory and truncated cases")
	}
	r := newFakeRoot(t)
	r.file("/usr/bin/secret", "#!/bin/sh\n", 0o111)
	_, err := Discover(context.Background(), Options{Root: r.dir, Apps: []string{"/usr/bin/secret"}})
	wantErr(t, err, ErrUnreadable, "/usr/bin/secret")
}

func TestDiscoverScripts(t *testing.T) {
	needProgram(t, "/bin/ls")
	r := newFakeRoot(t).merged()
	r.installProgram("/bin/ls", "/usr/bin/python3.11") // any ELF will do as an interpreter
	r.link("/usr/bin/python3", "python3.11")
	r.file("/usr/bin/env", "#!/bin/sh\n", 0o755) // env itself a script: nested interpreters
	r.installProgram("/bin/ls", "/usr/bin/dash")
	r.link("/usr/bin/sh", "dash")
	r.file("/usr/local/bin/tool", "#!/usr/bin/env -S python3 -u\nprint(1)\n", 0o755)
	r.file("/usr/local/bin/wrapper", "#!/usr/local/bin/tool\n", 0o755)

	files, _ := discover(t, Options{Root: r.dir, Apps: []string{"wrapper"}})
	for p, detail := range map[string]string{
		"/usr/local/bin/wrapper": "--app wrapper",
		"/usr/local/bin/tool":    "#! interpreter of /usr/local/bin/wrapper",
		"/usr/bin/env":           "#! interpreter of /usr/local/bin/tool",
		"/bin":                   "symlink to usr/bin, on the way to /usr/bin/dash",
		"/usr/bin/sh":            "#! interpreter of /usr/bin/env",
		"/usr/bin/dash":          "#! interpreter of /usr/bin/env",
		"/usr/bin/python3":       "python3 run by /usr/bin/env in #! of /usr/local/bin/tool",
		"/usr/bin/python3.11":    "python3 run by /usr/bin/env in #! of /usr/local/bin/tool",
	} {
		if f, ok := files[p]; !ok || f.Detail != detail {
			t.Errorf("%s: %+v, want detail %q", p, f, detail)
		}
	}
	for p, via := range map[string]string{
		"/usr/local/bin/wrapper": "",
		"/usr/local/bin/tool":    "/usr/local/bin/wrapper",
		"/usr/bin/env":           "/usr/local/bin/tool",
		"/usr/bin/dash":          "/usr/bin/env",
		"/usr/bin/python3.11":    "/usr/local/bin/tool",
	} {
		if f := files[p]; f.Via != via {
			t.Errorf("%s: via %q, want %q", p, f.Via, via)
		}
	}
	if f := files["/usr/lib/x86_64-linux-gnu/libc.so.6"]; f.Reason != ReasonELF {
		t.Errorf("the interpreters' libraries are missing: %+v", f)
	}
}

func TestDiscoverExplicitFiles(t *testing.T) {
	r := newFakeRoot(t).merged()
	r.file("/etc/app/app.conf", "x", 0o644)
	r.file("/etc/app/conf.d/a.conf", "x", 0o644)
	r.mkdir("/etc/app/empty")
	r.link("/etc/app/current", "conf.d/a.conf")
	r.link("/etc/app/dangling", "gone")
	r.link("/etc/app/shared", "/usr/share/app") // a directory elsewhere: listed, not walked
	r.file("/usr/share/app/big", "x", 0o644)
	r.file("/usr/lib/modules/6.1/x.ko", "x", 0o644)
	r.file("/usr/lib/other/x", "x", 0o644)
	r.file("/etc/app/plugins/arm.so", string(fakeELF(elf.EM_AARCH64, elf.ELFCLASS64, elf.ET_DYN)), 0o644) // data here: listed, not followed
	if err := syscall.Mkfifo(r.host("/etc/app/fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	files, _ := discover(t, Options{Root: r.dir, Files: []string{"/etc/app", "/lib"}, Excludes: []string{"/etc/app/conf.d/**"}})
	for _, p := range []string{"/etc/app", "/etc/app/app.conf", "/etc/app/empty", "/etc/app/plugins/arm.so", "/etc/app/current", "/etc/app/dangling", "/etc/app/shared", "/usr/share/app", "/lib", "/usr/lib", "/usr/lib/other/x"} {
		if _, ok := files[p]; !ok {
			t.Errorf("%s not listed", p)
		}
	}
	for _, p := range []string{"/etc/app/conf.d/a.conf", "/etc/app/conf.d", "/usr/share/app/big", "/usr/lib/modules", "/usr/lib/modules/6.1/x.ko", "/etc/app/fifo"} {
		if _, ok := files[p]; ok {
			t.Errorf("%s listed", p)
		}
	}
	// A tree's entries come via the --file directory; the directory itself was asked for.
	for p, via := range map[string]string{"/etc/app": "", "/etc/app/app.conf": "/etc/app", "/etc/app/empty": "/etc/app", "/usr/share/app": "/etc/app", "/lib": ""} {
		if f := files[p]; f.Via != via {
			t.Errorf("%s: via %q, want %q", p, f.Via, via)
		}
	}
}

// Files the apps need are owned by users the result names.
func TestDiscoverUsers(t *testing.T) {
	needRoot(t)
	r := newFakeRoot(t)
	r.file("/etc/passwd", "root:x:0:0::/root:/bin/sh\nredis:x:105:107::/var/lib/redis:/usr/sbin/nologin\n", 0o644)
	r.file("/etc/group", "root:x:0:\nadm:x:4:\nredis:x:107:\n", 0o644)
	r.file("/etc/redis/redis.conf", "x", 0o640)
	if err := os.Chown(r.host("/etc/redis/redis.conf"), 105, 4); err != nil {
		t.Fatal(err)
	}
	r.file("/var/lib/x", "x", 0o644)
	if err := os.Chown(r.host("/var/lib/x"), 4242, 4242); err != nil { // no name: not a user
		t.Fatal(err)
	}
	_, res := discover(t, Options{Root: r.dir, Files: []string{"/etc/redis/redis.conf", "/var/lib/x"}})
	if strings.Join(res.Users, ",") != "redis,root" || strings.Join(res.Groups, ",") != "adm,root" {
		t.Errorf("users %q groups %q", res.Users, res.Groups)
	}
}

func TestDiscoverRuntimeHost(t *testing.T) {
	needProgram(t, "/usr/sbin/nginx")
	files, _ := discover(t, Options{Root: "/", Apps: []string{"/usr/sbin/nginx"}})
	for _, p := range []string{"/etc/nsswitch.conf", "/etc/ld.so.cache"} {
		if f, ok := files[p]; !ok || f.Reason != ReasonRuntime {
			t.Errorf("%s: %+v", p, f)
		}
	}
	var nss, certs, kernel int
	for p, f := range files {
		if strings.Contains(p, "libnss_") && f.Reason == ReasonRuntime {
			nss++
		}
		if strings.HasPrefix(p, "/etc/ssl/certs/") {
			certs++
		}
		if isKernelPath(p) {
			kernel++
		}
		if strings.HasPrefix(p, "/etc/ssl/private") || p == "/etc/passwd" || p == "/etc/shadow" || p == "/etc/group" {
			t.Errorf("%s listed", p)
		}
	}
	if nss == 0 || kernel != 0 {
		t.Errorf("%d NSS modules, %d kernel files", nss, kernel)
	}
	// Runtime files come via the library that reads them.
	libc, libssl := files["/usr/lib/x86_64-linux-gnu/libc.so.6"], files["/usr/lib/x86_64-linux-gnu/libssl.so.3"]
	if f := files["/etc/nsswitch.conf"]; libc.Path == "" || f.Via != "/usr/lib/x86_64-linux-gnu/libc.so.6" {
		t.Errorf("/etc/nsswitch.conf: via %q, want libc", f.Via)
	}
	if f := files["/etc/ssl/certs/ca-certificates.crt"]; libssl.Path != "" && f.Path != "" && !strings.HasPrefix(f.Via, "/usr/lib/x86_64-linux-gnu/lib") {
		t.Errorf("/etc/ssl/certs/ca-certificates.crt: via %q, want a TLS library", f.Via)
	}
	if _, err := os.Stat("/etc/ssl/certs/ca-certificates.crt"); err == nil && certs == 0 {
		t.Error("nginx links OpenSSL but no CA certificate is listed")
	}
}

func TestDiscoverContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Discover(ctx, Options{Root: "/", Apps: []string{"/bin/ls"}}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
