package elfdeps

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestParseTraceLine(t *testing.T) {
	tests := []struct {
		line              string
		name, path, dirfd string
		cwd, failed       bool
		verb              string
		write             bool
	}{
		{line: `openat(AT_FDCWD</usr>, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3</etc/ld.so.cache>`,
			name: "openat", path: "/etc/ld.so.cache", dirfd: "/usr", cwd: true, verb: "opened"},
		{line: `openat(AT_FDCWD</usr>, "../etc/hostname", O_RDONLY) = 3</etc/hostname>`,
			name: "openat", path: "../etc/hostname", dirfd: "/usr", cwd: true, verb: "opened"},
		{line: `openat(3</usr/lib/python3.11>, "json", O_RDONLY|O_NONBLOCK|O_CLOEXEC|O_DIRECTORY) = 4</usr/lib/python3.11/json>`,
			name: "openat", path: "json", dirfd: "/usr/lib/python3.11", verb: "opened"},
		{line: `openat(AT_FDCWD</>, "/var/log/nginx/error.log", O_WRONLY|O_CREAT|O_APPEND, 0644) = 4</var/log/nginx/error.log>`,
			name: "openat", path: "/var/log/nginx/error.log", dirfd: "/", cwd: true, verb: "opened", write: true},
		{line: `access("/etc/ld.so.preload", R_OK)      = -1 ENOENT (No such file or directory)`,
			name: "access", path: "/etc/ld.so.preload", failed: true, verb: "looked up"},
		{line: `execve("/usr/bin/python3", ["/usr/bin/python3", "-c", "a = \"x\""], 0x7ffd /* 3 vars */) = 0`,
			name: "execve", path: "/usr/bin/python3", verb: "executed"},
		{line: `newfstatat(3</etc/ld.so.cache>, "", {st_mode=S_IFREG|0644, st_size=34807, ...}, AT_EMPTY_PATH) = 0`,
			name: "newfstatat", path: "", dirfd: "/etc/ld.so.cache", verb: "looked up"},
		{line: `stat("/a\"b\\c\x41\101\n", {st_mode=S_IFREG|0644, ...}) = 0`,
			name: "stat", path: "/a\"b\\cAA\n", verb: "looked up"},
		{line: `openat(AT_FDCWD</tmp/with space>, "x", O_RDONLY) = 3</tmp/with space/x>`,
			name: "openat", path: "x", dirfd: "/tmp/with space", cwd: true, verb: "opened"},
		{line: `mkdir("/var/lib/nginx/body", 0700) = 0`, name: "mkdir", path: "/var/lib/nginx/body", verb: "created", write: true},
		{line: `chroot("/srv/root") = 0`, name: "chroot", path: "/srv/root"},
		{line: `execve("/usr/sbin/nginx", ["nginx"], 0x1 /* 0 vars */) = ?`, name: "execve", path: "/usr/sbin/nginx", failed: true, verb: "executed"},
	}
	for _, tt := range tests {
		c, ok := parseTraceLine(tt.line)
		if !ok {
			t.Errorf("not parsed: %s", tt.line)
			continue
		}
		verb, write := classifySyscall(c)
		if c.name != tt.name || c.path != tt.path || c.dirfd != tt.dirfd || c.dirfdIsCwd != tt.cwd || c.failed != tt.failed || verb != tt.verb || write != tt.write {
			t.Errorf("%s:\n got %+v verb=%q write=%v", tt.line, c, verb, write)
		}
	}
	for _, bad := range []string{"", "+++ exited with 0 +++", "--- SIGCHLD {si_signo=SIGCHLD} ---", `openat(AT_FDCWD, "/x", O_RDONLY <unfinished ...>`} {
		if _, ok := parseTraceLine(bad); ok {
			t.Errorf("parsed %q", bad)
		}
	}
}

func TestStrongest(t *testing.T) {
	ev := strongest([]traceEvent{
		{path: "/a", verb: "looked up"}, {path: "/b", verb: "opened"}, {path: "/a", verb: "opened"},
		{path: "/c", verb: "opened", write: true}, {path: "/a", verb: "looked up"}, {path: "/b", verb: "executed"},
	})
	var got []string
	for _, e := range ev {
		got = append(got, e.path+" "+e.verb)
	}
	if want := "/a opened|/b executed|/c opened"; strings.Join(got, "|") != want {
		t.Errorf("%q, want %q", strings.Join(got, "|"), want)
	}
}

// What chroot(8) does on the host before chroot(2) is not the app's.
func TestParseTraceChroot(t *testing.T) {
	r := newFakeRoot(t)
	rfs, err := openRoot(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer rfs.close()
	d := &discoverer{fs: rfs}
	trace := strings.Join([]string{
		`execve("/usr/sbin/chroot", ["chroot", "` + r.dir + `", "/usr/bin/app"], 0x1 /* 3 vars */) = 0`,
		`openat(AT_FDCWD</>, "/lib/x86_64-linux-gnu/libc.so.6", O_RDONLY|O_CLOEXEC) = 3</usr/lib/x86_64-linux-gnu/libc.so.6>`,
		`chroot("` + r.dir + `") = 0`,
		`chdir("/") = 0`,
		`execve("/usr/bin/app", ["/usr/bin/app"], 0x1 /* 3 vars */) = 0`,
		`openat(AT_FDCWD<` + r.dir + `/srv>, "data/x.db", O_RDWR) = 3<` + r.dir + `/srv/data/x.db>`,
		`openat(AT_FDCWD<` + r.dir + `/srv>, "conf", O_RDONLY) = 3<` + r.dir + `/srv/conf>`,
		`openat(AT_FDCWD</elsewhere>, "conf", O_RDONLY) = 3</elsewhere/conf>`,
		`openat(AT_FDCWD<` + r.dir + `>, "/proc/self/maps", O_RDONLY) = 3</proc/1/maps>`,
		`chroot("/var/empty") = 0`,
		`openat(AT_FDCWD<` + r.dir + `>, "/after", O_RDONLY) = 3</after>`,
	}, "\n")
	f := filepath.Join(t.TempDir(), "t.1")
	if err := os.WriteFile(f, []byte(trace), 0o644); err != nil {
		t.Fatal(err)
	}
	ev, err := d.parseTrace(f, r.dir, true)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ev {
		s := e.verb + " " + e.path
		if e.write {
			s += " (write)"
		}
		got = append(got, s)
	}
	want := "executed /usr/bin/app|opened /srv/data/x.db (write)|opened /srv/conf"
	if strings.Join(got, "|") != want {
		t.Errorf("events\n %q\nwant\n %q", strings.Join(got, "|"), want)
	}
}

// python3 imports json from its standard library: only tracing sees that.
// It runs in a private view of this host: its writes do not reach the host,
// what it created is not listed, and it sees no network device but lo.
func TestTraceHost(t *testing.T) {
	needRoot(t)
	needProgram(t, "/usr/bin/python3")
	needProgram(t, "/usr/bin/strace")
	// A host directory outside the ignored ones (/tmp, ...): one empty file
	// per network device of this host; the app stats those it sees. Not
	// in the package directory: a checkout may be under /tmp (CI's is).
	seen, err := os.MkdirTemp("/var/lib", ".vmctr-trace-test-")
	if err != nil {
		t.Fatal(err)
	}
	seen, _ = filepath.Abs(seen)
	t.Cleanup(func() { os.RemoveAll(seen) })
	devs, err := os.ReadFile("/proc/net/dev")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(devs), "\n")[2:] {
		if dev, _, ok := strings.Cut(strings.TrimSpace(l), ":"); ok {
			if err := os.WriteFile(filepath.Join(seen, dev), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	tmpOut := filepath.Join(t.TempDir(), "out")
	script := `import json, os, sqlite3
for l in open('/proc/net/dev').read().splitlines()[2:]:
    os.stat(os.path.join(SEEN, l.split(':')[0].strip()))
open(os.path.join(SEEN, 'created'), 'w').write('x')
open(os.path.join(SEEN, 'created')).read()
os.remove(os.path.join(SEEN, 'lo'))
open(TMPOUT, 'w').write('x')
`
	script = strings.NewReplacer("SEEN", strconv.Quote(seen), "TMPOUT", strconv.Quote(tmpOut)).Replace(script)
	o := Options{Root: "/", Apps: []string{"/usr/bin/python3"}, Trace: true, TraceTimeout: 20 * time.Second,
		TraceArgs: map[string][]string{"/usr/bin/python3": {"-c", script}}}
	start := time.Now()
	files, _ := discover(t, o)
	t.Logf("traced in %s", time.Since(start))
	var json, sqlite, tmp bool
	for p, f := range files {
		json = json || strings.HasSuffix(p, "/json/__init__.py") && f.Reason == ReasonTrace
		sqlite = sqlite || strings.Contains(p, "_sqlite3") && f.Reason == ReasonTrace
		tmp = tmp || strings.HasPrefix(p, "/tmp")
	}
	if !json || !sqlite {
		t.Errorf("json module traced: %v, _sqlite3 traced: %v", json, sqlite)
	}
	if tmp {
		t.Error("/tmp is listed")
	}
	if f := files["/usr/lib/x86_64-linux-gnu/libsqlite3.so.0"]; f.Path == "" {
		t.Error("the closure of the traced _sqlite3 module is missing libsqlite3")
	}
	// It ran in its own network namespace: only a loopback device.
	if f := files[seen+"/lo"]; f.Reason != ReasonTrace {
		t.Errorf("the traced app did not see lo: %+v", f)
	}
	for p := range files {
		if name, ok := strings.CutPrefix(p, seen+"/"); ok && name != "lo" {
			t.Errorf("%s is listed: the app saw network device %s, or what it created is demanded from the host", p, name)
		}
	}
	// Its writes stayed in its view.
	if f := files[seen]; f.Reason != ReasonTrace {
		t.Errorf("the directory it wrote in is not listed: %+v", f)
	}
	for _, p := range []string{tmpOut, filepath.Join(seen, "created")} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("the traced app created %s on the host", p)
		}
	}
	if _, err := os.Lstat(filepath.Join(seen, "lo")); err != nil {
		t.Errorf("the traced app removed a host file: %v", err)
	}
}

// In a source root, the app runs chrooted on an overlay; a daemon it leaves
// behind is killed when the timeout ends the run.
func TestTraceFakeRoot(t *testing.T) {
	needRoot(t)
	needProgram(t, "/usr/bin/strace")
	needProgram(t, "/bin/sh")
	r := newFakeRoot(t).merged()
	r.installProgram("/bin/dash", "/usr/bin/dash")
	r.link("/usr/bin/sh", "dash")
	r.installProgram("/bin/sleep", "/usr/bin/sleep")
	r.installProgram("/bin/cat", "/usr/bin/cat")
	r.file("/etc/app.conf", "conf", 0o644)
	r.file("/etc/unused.conf", "conf", 0o644)
	r.mkdir("/var/log/app")
	marker := "987.654321"
	r.file("/usr/bin/app", "#!/bin/sh\ncat /etc/app.conf >/var/log/app/log\nsleep "+marker+" &\nexit 0\n", 0o755)
	o := Options{Root: r.dir, Apps: []string{"/usr/bin/app"}, Trace: true, TraceTimeout: 2 * time.Second}
	start := time.Now()
	files, _ := discover(t, o)
	took := time.Since(start)
	if took > 10*time.Second {
		t.Errorf("the run took %s with a 2s timeout", took)
	}
	for p, reason := range map[string]Reason{
		"/etc/app.conf": ReasonTrace, "/var/log/app": ReasonTrace, "/usr/bin/cat": ReasonTrace, "/usr/bin/sleep": ReasonTrace,
		"/usr/bin/dash": ReasonInterp,
	} {
		if f := files[p]; f.Reason != reason {
			t.Errorf("%s: %+v, want %s", p, f, reason)
		}
	}
	if f := files["/etc/app.conf"]; f.Via != "/usr/bin/app" {
		t.Errorf("/etc/app.conf: via %q, want the traced app", f.Via)
	}
	if _, ok := files["/etc/unused.conf"]; ok {
		t.Error("an unused file is listed")
	}
	if _, ok := files["/var/log/app/log"]; ok {
		t.Error("a file the app wrote is listed")
	}
	// The daemon is gone.
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(marker)) {
			t.Errorf("the traced daemon is still running: %s", p)
		}
	}
	// Its writes went to the overlay, not to the source root.
	if _, err := os.Lstat(r.host("/var/log/app/log")); err == nil {
		t.Error("the traced app wrote into the source root")
	}
}

// escapeC is a hostile traced app. Before it leaves its view (the trace of
// what follows a second chroot is ignored) it reports, by looking up one of
// the files named in DIR (argv[1]): whether CAP_SYS_ADMIN is in its
// effective or bounding set, and how opening the block device argv[2]
// failed. Then it breaks out of its chroot (to the trace namespace's root,
// this host as the tracer sees it), makes that writable again and creates
// argv[3] there.
const escapeC = `#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static void report(const char *dir, const char *name) {
	char p[4096];
	struct stat st;
	snprintf(p, sizeof p, "%s/%s", dir, name);
	stat(p, &st);
}

/* CAP_SYS_ADMIN in a set, from /proc/self/status, or (a source root has
   no /proc) from capget(2) and PR_CAPBSET_READ. */
static int sysadmin(const char *field) {
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");
	if (!f) {
		struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
		struct __user_cap_data_struct d[2];
		if (strcmp(field, "CapBnd:") == 0) return prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) != 0;
		if (syscall(SYS_capget, &h, d) != 0) return -1;
		return (d[0].effective >> CAP_SYS_ADMIN) & 1;
	}
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, field, strlen(field)) == 0) {
			unsigned long long v = strtoull(line + strlen(field), NULL, 16);
			fclose(f);
			return (v >> 21) & 1; /* CAP_SYS_ADMIN */
		}
	}
	fclose(f);
	return -1;
}

int main(int argc, char **argv) {
	if (argc < 4) return 2;
	int eff = sysadmin("CapEff:"), bnd = sysadmin("CapBnd:");
	report(argv[1], eff == 0 ? "capeff-ok" : "capeff-bad");
	report(argv[1], bnd == 0 ? "capbnd-ok" : "capbnd-bad");
	int fd = open(argv[2], O_RDWR);
	report(argv[1], fd < 0 && errno == ENOENT ? "blk-enoent" : "blk-bad");
	mkdir("vmctr-escape", 0755);
	if (chroot("vmctr-escape") != 0) return 3;
	for (int i = 0; i < 64; i++) chdir("..");
	chroot(".");
	mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND, NULL);
	fd = open(argv[3], O_WRONLY | O_CREAT, 0644);
	if (fd >= 0) write(fd, "escaped\n", 8);
	return 0;
}
`

// A traced app has no CAP_SYS_ADMIN, no block device, and cannot write on
// this host by breaking out of its chroot, whether the source root is this
// host or another directory.
func TestTraceEscape(t *testing.T) {
	needRoot(t)
	needProgram(t, "/usr/bin/strace")
	gcc := needGCC(t)
	blocks, _ := filepath.Glob("/sys/block/*")
	if len(blocks) == 0 {
		t.Skip("this host has no block device")
	}
	blk := "/dev/" + filepath.Base(blocks[0])
	src := filepath.Join(t.TempDir(), "escape.c")
	if err := os.WriteFile(src, []byte(escapeC), 0o644); err != nil {
		t.Fatal(err)
	}
	prog := filepath.Join(t.TempDir(), "escape")
	if out, err := exec.Command(gcc, "-static", "-O1", "-o", prog, src).CombinedOutput(); err != nil {
		t.Skipf("cannot build a static C program: %v: %s", err, out)
	}
	bin, err := os.ReadFile(prog)
	if err != nil {
		t.Fatal(err)
	}
	markers := []string{"capeff-ok", "capeff-bad", "capbnd-ok", "capbnd-bad", "blk-enoent", "blk-bad"}
	for _, hostRoot := range []bool{true, false} {
		t.Run(map[bool]string{true: "host", false: "source-root"}[hostRoot], func(t *testing.T) {
			// Outside the ignored directories (/tmp, ...), on this host.
			dir, err := os.MkdirTemp("/var/lib", ".vmctr-trace-escape-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(dir) })
			escaped := filepath.Join(dir, "escaped")
			root, rdir := "/", dir // rdir: DIR as the app sees it
			if hostRoot {
				for _, m := range markers {
					if err := os.WriteFile(filepath.Join(dir, m), nil, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				if err := os.WriteFile(filepath.Join(dir, "escape"), bin, 0o755); err != nil {
					t.Fatal(err)
				}
			} else {
				r := newFakeRoot(t)
				root, rdir = r.dir, "/m"
				for _, m := range markers {
					r.file("/m/"+m, "", 0o644)
				}
				r.file(dir+"/escape", string(bin), 0o755)
			}
			app := dir + "/escape"
			o := Options{Root: root, Apps: []string{app}, Trace: true, TraceTimeout: 10 * time.Second,
				TraceArgs: map[string][]string{app: {rdir, blk, escaped}}}
			files, _ := discover(t, o)
			for _, m := range markers {
				_, seen := files[rdir+"/"+m]
				if want := strings.HasSuffix(m, "-ok") || m == "blk-enoent"; seen != want {
					t.Errorf("%s looked up: %v, want %v", m, seen, want)
				}
			}
			if _, err := os.Lstat(escaped); err == nil {
				t.Errorf("the traced app broke out of its chroot and created %s on this host", escaped)
			}
		})
	}
}

// The traced apps' capabilities come from the caller, by name, with
// CAP_SYS_CHROOT for chroot(8); an unknown name is an error.
func TestTraceCaps(t *testing.T) {
	caps, err := traceCaps([]string{"CAP_CHOWN", "CAP_NET_BIND_SERVICE"})
	if err != nil || !slices.Equal(caps, []int{unix.CAP_SYS_CHROOT, unix.CAP_CHOWN, unix.CAP_NET_BIND_SERVICE}) {
		t.Errorf("traceCaps = %v, %v", caps, err)
	}
	if _, err := traceCaps([]string{"CAP_NOPE"}); err == nil {
		t.Error("traceCaps(CAP_NOPE): no error")
	}
}
