package elfdeps

import (
	"context"
	"os"
	"strings"
	"testing"
)

const fakeStatus = `Package: dpkg
Status: install ok installed
Architecture: amd64

Package: app
Status: install ok installed
Architecture: amd64
Pre-Depends: base
Depends: libfoo1 (>= 1.0), missing-pkg | libalt (>= 2~), virt-provider,
 tool:any
Description: an app
 with a long description: Depends: unrelated

Package: libfoo1
Status: install ok installed
Architecture: i386
Multi-Arch: same

Package: libfoo1
Status: install ok installed
Architecture: amd64
Multi-Arch: same

Package: libalt
Status: install ok installed
Architecture: amd64

Package: missing-pkg
Status: deinstall ok config-files
Architecture: amd64

Package: provider
Status: install ok installed
Architecture: all
Provides: virt-provider (= 1.0), other-virt

Package: tool
Status: hold ok installed
Architecture: amd64
Multi-Arch: allowed

Package: base
Status: install ok installed
Architecture: amd64
Essential: yes

Package: unrelated
Status: install ok installed
Architecture: amd64

Package: kpkg
Status: install ok installed
Architecture: amd64

Package: broken
Status: install ok installed
Architecture: amd64
Depends: libalt, nothere (>= 3) | neither
`

func fakeDpkgRoot(t *testing.T) *fakeRoot {
	t.Helper()
	r := newFakeRoot(t).merged()
	r.installProgram("/bin/ls", "/usr/bin/tool")
	r.file("/var/lib/dpkg/status", fakeStatus, 0o644)
	r.file("/var/lib/dpkg/diversions", "/usr/bin/diverted\n/usr/bin/diverted.distrib\nbase\n", 0o644)
	lists := map[string]string{
		"app": "/.\n/usr\n/usr/bin\n/usr/bin/app\n/usr/bin/diverted\n/usr/share/doc/app\n/usr/share/doc/app/copyright\n" +
			"/var\n/var/lib\n/var/lib/app\n/etc/app/app.conf\n/lib/systemd/system/app.service\n/usr/bin/vanished\n",
		"libfoo1:amd64": "/usr/lib/x86_64-linux-gnu/libfoo.so.1\n/usr/lib/x86_64-linux-gnu/libfoo.so.1.0\n/usr/lib/x86_64-linux-gnu/dangling.so\n",
		"libfoo1:i386":  "/usr/lib/i386-linux-gnu/libfoo.so.1\n",
		"libalt":        "/usr/lib/libalt\n",
		"provider":      "/usr/share/provider/data\n",
		"tool":          "/usr/bin/tool\n",
		"base":          "/usr/bin/diverted\n/lib/modules/5.0/x.ko\n",
		"unrelated":     "/usr/bin/unrelated\n",
		"kpkg":          "/boot/vmlinuz-5.0\n",
		"broken":        "/usr/bin/broken\n",
	}
	for pkg, l := range lists {
		r.file("/var/lib/dpkg/info/"+pkg+".list", l, 0o644)
		for _, f := range strings.Split(strings.TrimSpace(l), "\n") {
			if _, err := os.Lstat(r.host(f)); err == nil || f == "/usr/bin/vanished" || strings.HasSuffix(f, ".so.1") || strings.HasSuffix(f, "dangling.so") {
				continue
			}
			if strings.Contains(l, f+"/") || f == "/var/lib/app" { // a directory of the list
				r.mkdir(f)
				continue
			}
			r.file(f, pkg, 0o644)
		}
	}
	r.file("/usr/bin/app", "#!/bin/sh\n", 0o755) // base has no /bin/sh: not pulled in from outside the closure
	r.file("/usr/bin/sh", "#!/nothing\n", 0o755)
	r.file("/usr/bin/diverted.distrib", "app's", 0o755)
	r.file("/lib/systemd/system/app.service", "[Service]\nUser=appuser\nGroup=appgrp\nExecStart=/usr/bin/app\n", 0o644)
	r.link("/usr/lib/x86_64-linux-gnu/libfoo.so.1", "libfoo.so.1.0")
	r.link("/usr/lib/i386-linux-gnu/libfoo.so.1", "libfoo.so.1.0")
	r.link("/usr/lib/x86_64-linux-gnu/dangling.so", "libdangling.so.9")
	return r
}

func TestDiscoverPackages(t *testing.T) {
	needProgram(t, "/bin/ls")
	r := fakeDpkgRoot(t)
	files, res := discover(t, Options{Root: r.dir, Packages: []string{"app"}})
	for p, detail := range map[string]string{
		"/usr/bin/app":                            "package app",
		"/usr/bin/diverted.distrib":               "package app",
		"/usr/bin/diverted":                       "package base (dependency of app)",
		"/var/lib/app":                            "package app",
		"/etc/app/app.conf":                       "package app",
		"/lib":                                    "symlink to usr/lib, on the way to /usr/lib/systemd/system/app.service",
		"/usr/lib/systemd/system/app.service":     "package app",
		"/usr/lib/x86_64-linux-gnu/libfoo.so.1":   "package libfoo1 (dependency of app)",
		"/usr/lib/x86_64-linux-gnu/libfoo.so.1.0": "package libfoo1 (dependency of app)",
		"/usr/lib/x86_64-linux-gnu/dangling.so":   "package libfoo1 (dependency of app)",
		"/usr/lib/libalt":                         "package libalt (dependency of app)",
		"/usr/share/provider/data":                "package provider (dependency of app)",
		"/usr/bin/tool":                           "package tool (dependency of app)",
		"/usr/lib/x86_64-linux-gnu/libc.so.6":     "DT_NEEDED libc.so.6 of /usr/bin/tool (default directory /lib/x86_64-linux-gnu)",
	} {
		if f, ok := files[p]; !ok || f.Detail != detail {
			t.Errorf("%s: %+v, want detail %q", p, f, detail)
		}
	}
	// Via: the package that ships the file, or the file that needs it.
	for p, via := range map[string]string{
		"/usr/bin/app":                          "app",
		"/var/lib/app":                          "app",
		"/usr/bin/diverted":                     "base",
		"/usr/lib/x86_64-linux-gnu/dangling.so": "libfoo1",
		"/lib":                                  "/usr/lib/systemd/system/app.service",
		"/usr/lib/x86_64-linux-gnu/libc.so.6":   "/usr/bin/tool",
	} {
		if f := files[p]; f.Via != via {
			t.Errorf("%s: via %q, want %q", p, f.Via, via)
		}
	}
	for _, p := range []string{"/usr/share/doc/app/copyright", "/usr/share/doc/app", "/usr/lib/i386-linux-gnu/libfoo.so.1",
		"/usr/bin/unrelated", "/lib/modules/5.0/x.ko", "/usr/lib/modules/5.0/x.ko", "/usr/lib/modules", "/usr/bin/sh", "/var/lib", "/usr/bin/vanished", "/usr/bin/broken"} {
		if f, ok := files[p]; ok {
			t.Errorf("%s listed: %+v", p, f)
		}
	}
	if strings.Join(res.Users, ",") != "appuser,root" || !strings.Contains(strings.Join(res.Groups, ","), "appgrp") {
		t.Errorf("users %q groups %q", res.Users, res.Groups)
	}
	// Excludes apply to package files too.
	files, _ = discover(t, Options{Root: r.dir, Packages: []string{"app"}, Excludes: []string{"/usr/share/provider/**", "/etc/app/*.conf"}})
	for _, p := range []string{"/usr/share/provider/data", "/etc/app/app.conf"} {
		if _, ok := files[p]; ok {
			t.Errorf("%s listed despite the excludes", p)
		}
	}
	// A virtual name picks its provider.
	if files, _ = discover(t, Options{Root: r.dir, Packages: []string{"other-virt"}}); files["/usr/share/provider/data"].Reason != ReasonPackage {
		t.Error("virtual package other-virt did not bring its provider")
	}
	// An explicit architecture.
	if files, _ = discover(t, Options{Root: r.dir, Packages: []string{"libfoo1:i386"}}); files["/usr/lib/i386-linux-gnu/libfoo.so.1"].Reason != ReasonPackage {
		t.Error("libfoo1:i386 not listed")
	}
}

func TestDiscoverPackageErrors(t *testing.T) {
	needProgram(t, "/bin/ls")
	r := fakeDpkgRoot(t)
	for _, tt := range []struct {
		pkg   string
		err   error
		names []string
	}{
		{"nope", ErrNotFound, []string{"nope", "unknown package"}},
		{"missing-pkg", ErrNotFound, []string{"missing-pkg", "not installed", "config-files"}},
		{"libfoo1:arm64", ErrNotFound, []string{"libfoo1:arm64"}},
		{"broken", ErrNotFound, []string{"broken", "nothere"}},
		{"kpkg", ErrKernelFile, []string{"kpkg", "/boot/vmlinuz-5.0"}},
	} {
		t.Run(tt.pkg, func(t *testing.T) {
			_, err := Discover(context.Background(), Options{Root: r.dir, Packages: []string{"app", tt.pkg}})
			wantErr(t, err, tt.err, tt.names...)
		})
	}
}

func TestParseStanzas(t *testing.T) {
	st := parseStanzas([]byte(fakeStatus))
	if len(st) != 12 {
		t.Fatalf("%d stanzas", len(st))
	}
	if got := st[1]["Depends"]; got != "libfoo1 (>= 1.0), missing-pkg | libalt (>= 2~), virt-provider,\ntool:any" {
		t.Errorf("continued field: %q", got)
	}
	for in, want := range map[string][2]string{
		"libc6 (>= 2.34)":           {"libc6", ""},
		"python3:any (>= 3.11~)":    {"python3", "any"},
		"libfoo [amd64] <!nocheck>": {"libfoo", ""},
		" perl:native":              {"perl", "native"},
	} {
		if n, q := depName(in); n != want[0] || q != want[1] {
			t.Errorf("depName(%q) = %q, %q", in, n, q)
		}
	}
}

// The host's own nginx package, as the first example.
func TestDiscoverHostPackage(t *testing.T) {
	needProgram(t, "/usr/sbin/nginx")
	files, _ := discover(t, Options{Root: "/", Packages: []string{"nginx"}})
	for p, reason := range map[string]Reason{
		"/usr/sbin/nginx":                     ReasonPackage,
		"/etc/nginx/nginx.conf":               ReasonPackage,
		"/var/lib/nginx":                      ReasonPackage,
		"/usr/lib/x86_64-linux-gnu/libc.so.6": ReasonPackage,
		"/etc/nsswitch.conf":                  ReasonRuntime,
	} {
		if f := files[p]; f.Reason != reason {
			t.Errorf("%s: %+v, want %s", p, f, reason)
		}
	}
	for p := range files {
		if strings.HasPrefix(p, "/usr/share/doc/") || strings.HasPrefix(p, "/usr/share/man/") || isKernelPath(p) {
			t.Errorf("%s listed", p)
		}
	}
}
