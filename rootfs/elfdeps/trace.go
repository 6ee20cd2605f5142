package elfdeps

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/moby/sys/capability"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// Tracing runs every app once under strace(1), all at the same time, and
// lists the files they opened, executed or looked up. It needs root. Each
// run:
//
//   - is chrooted (through the host's chroot(8)) into a private, throw-away
//     view of the source root ("/" included) in a private mount namespace
//     (see traceview.go): every writable mount is seen through an overlay
//     whose upper layer is on a tmpfs of that namespace, the rest read-only,
//     so the apps' writes never reach the source root or this host, and
//     nothing is left on disk however the build ends. The view's /dev is
//     minimal (no block device); a source root other than "/" has no /proc
//     or /sys. What chroot(8) itself does before chroot(2) is ignored;
//   - runs as root with only the capabilities of a built container
//     (Options.TraceCapabilities, and CAP_SYS_CHROOT for chroot(8); never
//     CAP_SYS_ADMIN, CAP_MKNOD, CAP_SYS_PTRACE, ... from vmctr build) in its
//     bounding set and no_new_privs, so an app that breaks out of its
//     chroot can neither remount nor open a device of this host;
//   - gets fresh PID, network, IPC and UTS namespaces: the apps see only a
//     loopback device that is down, so they neither reach nor serve the
//     network, and strace is PID 1 of the namespace, so when it ends (the
//     apps exited, or the timeout killed it by PID) the kernel kills every
//     process left, daemons included;
//   - has stdin on /dev/null, a minimal environment (PATH, HOME=/root,
//     LANG=C.UTF-8) and the arguments of Options.TraceArgs.
//
// Read-only opens, execs and successful stat/access/readlink calls on files
// count; files opened for writing or created are the apps' state (logs,
// pid files, databases) and are not listed, but their directories are (the
// apps need them to exist). A file the apps created exists only in the
// view, so it is not demanded from the source root even when they read it
// back. /proc, /sys, /dev, /run, /tmp and /var/tmp are ignored.

var traceIgnored = []string{"/proc", "/sys", "/dev", "/run", "/tmp", "/var/tmp"}

// traceEnv is the environment of a traced app.
var traceEnv = []string{"PATH=" + strings.Join(defaultPATH, ":"), "HOME=/root", "LANG=C.UTF-8"}

// traceEvent is one successful file access seen in a trace.
type traceEvent struct {
	path  string // inside the root
	verb  string // "opened", "executed", "looked up"
	write bool
}

func (d *discoverer) addTrace(ctx context.Context) error {
	if !d.o.Trace || len(d.apps) == 0 {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("tracing the apps needs root: they run in a private view of the source root %s that only root can mount, so that they cannot change it", d.fs.host)
	}
	strace, err := exec.LookPath("strace")
	if err != nil {
		return fmt.Errorf("tracing the apps needs strace: %w", err)
	}
	chroot, err := exec.LookPath("chroot")
	if err != nil {
		return fmt.Errorf("tracing the apps needs chroot: %w", err)
	}
	timeout := d.o.TraceTimeout
	if timeout <= 0 {
		timeout = DefaultTraceTimeout
	}
	events := make([][]traceEvent, len(d.apps))
	errs := make([]error, len(d.apps))
	var wg sync.WaitGroup
	for i, a := range d.apps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			events[i], errs[i] = d.traceApp(ctx, strace, chroot, a, timeout)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	var execs []string
	for i, a := range d.apps {
		for _, ev := range strongest(events[i]) {
			if ev.write { // the file may not exist (in the source root) at all
				dir, err := d.fs.resolve(path.Dir(ev.path))
				if err == nil && dir.node.isDir() && dir.Path != "/" && !traceIgnoredPath(dir.Path) && kernelIn(dir.Path, dir) == "" {
					d.addResolved(dir, ReasonTrace, "directory written in by "+a.given+" under trace", a.path)
				}
				continue
			}
			res, err := d.fs.resolve(ev.path)
			if err != nil || kernelIn(ev.path, res) != "" {
				continue
			}
			if res.node.isDir() || !(res.node.isRegular() || res.node.isLink()) {
				continue
			}
			d.addResolved(res, ReasonTrace, ev.verb+" by "+a.given+" under trace", a.path)
			if mayExecute(res.Path, res.node) {
				execs = append(execs, res.Path)
			}
		}
	}
	return d.addExecutables(ctx, execs, true)
}

// strongest keeps one event per path, in first-seen order, with the
// strongest verb seen for it: executed, then opened, then looked up.
// Writes are kept as they are.
func strongest(events []traceEvent) []traceEvent {
	rank := map[string]int{"looked up": 1, "opened": 2, "executed": 3}
	at := map[string]int{}
	var out []traceEvent
	for _, ev := range events {
		if ev.write {
			out = append(out, ev)
			continue
		}
		i, ok := at[ev.path]
		if !ok {
			at[ev.path] = len(out)
			out = append(out, ev)
			continue
		}
		if rank[ev.verb] > rank[out[i].verb] {
			out[i].verb = ev.verb
		}
	}
	return out
}

func traceIgnoredPath(p string) bool {
	for _, s := range traceIgnored {
		if p == s || strings.HasPrefix(p, s+"/") {
			return true
		}
	}
	return false
}

// traceApp runs one app under strace in a view of the source root and
// returns what it accessed.
func (d *discoverer) traceApp(ctx context.Context, strace, chroot string, a resolvedApp, timeout time.Duration) ([]traceEvent, error) {
	// A private mount namespace, held by a locked thread for the whole run
	// (strace is forked from that thread): the view and its tmpfs exist
	// only there, and go when the thread and the traced processes are gone.
	type result struct {
		ev  []traceEvent
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread and its namespace end with this goroutine
		ev, err := d.traceInView(ctx, strace, chroot, a, timeout)
		done <- result{ev, err}
	}()
	r := <-done
	return r.ev, r.err
}

// traceInView makes the view and runs the trace in it.
// Preconditions: the calling goroutine is locked to its thread, for good.
func (d *discoverer) traceInView(ctx context.Context, strace, chroot string, a resolvedApp, timeout time.Duration) ([]traceEvent, error) {
	start := time.Now()
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return nil, fmt.Errorf("tracing app %s: private mount namespace: %w", a.given, err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return nil, fmt.Errorf("tracing app %s: making mounts private: %w", a.given, err)
	}
	v, err := makeTraceView(d.fs.host)
	if err != nil {
		return nil, fmt.Errorf("tracing app %s: making a private view of %s: %w", a.given, d.fs.host, err)
	}
	caps, err := traceCaps(d.o.TraceCapabilities)
	if err != nil {
		return nil, fmt.Errorf("tracing app %s: %w", a.given, err)
	}
	if err := restrictTraceThread(caps); err != nil {
		return nil, fmt.Errorf("tracing app %s: %w", a.given, err)
	}
	logrus.Debugf("elfdeps: a private view of %s for %s in %s", d.fs.host, a.given, time.Since(start).Round(time.Microsecond))
	if len(v.readOnly) > 0 {
		logrus.Warnf("elfdeps: tracing app %s: it sees %s read-only (they could not be overlaid); writes there fail",
			a.given, strings.Join(v.readOnly, ", "))
	}
	return d.runTrace(ctx, strace, chroot, v.root, v.scratch, a, timeout)
}

// traceCaps turns Options.TraceCapabilities ("CAP_CHOWN", ...) into
// capability numbers, with CAP_SYS_CHROOT, which chroot(8) needs, always.
func traceCaps(names []string) ([]int, error) {
	byName := map[string]int{}
	for _, c := range capability.ListKnown() {
		byName["CAP_"+strings.ToUpper(c.String())] = int(c)
	}
	caps := []int{unix.CAP_SYS_CHROOT}
	for _, n := range names {
		c, ok := byName[n]
		if !ok {
			return nil, fmt.Errorf("unknown capability %q for the traced apps", n)
		}
		caps = append(caps, c)
	}
	return caps, nil
}

// restrictTraceThread drops every capability but keep from the
// calling thread's bounding set and sets no_new_privs on it. strace is
// forked from that thread, so it and the apps inherit both: root's
// capabilities after execve are the bounding set, so the apps cannot
// mount, remount, load modules, trace or read other processes, make device
// nodes, ... and nothing they execute gains any back.
// Preconditions: the calling goroutine is locked to its thread, for good
// (the Go runtime never starts threads from such a one), and the thread is
// done with what needs the dropped capabilities (the view is made).
func restrictTraceThread(keep []int) error {
	last := unix.CAP_LAST_CAP
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			last = n
		}
	}
	for c := 0; c <= last; c++ {
		if slices.Contains(keep, c) {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			return fmt.Errorf("dropping capability %d from the traced apps' bounding set: %w", c, err)
		}
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("setting no_new_privs for the traced apps: %w", err)
	}
	return nil
}

// runTrace runs strace, which runs chroot(8), which runs the app in view
// (a path in the calling thread's mount namespace). strace writes into dir.
func (d *discoverer) runTrace(ctx context.Context, strace, chroot, view, dir string, a resolvedApp, timeout time.Duration) ([]traceEvent, error) {
	args := []string{"-f", "-ff", "-qq", "-y", "-s", "4096", "-e", "trace=%file", "-e", "signal=none",
		"--seccomp-bpf", "-o", filepath.Join(dir, "t"), "--", chroot, view, a.path}
	args = append(args, d.o.TraceArgs[a.given]...)

	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(tctx, strace, args...)
	cmd.Env = traceEnv
	cmd.Dir = "/"
	var out bytes.Buffer
	lw := &limitWriter{w: &out, n: 64 << 10}
	cmd.Stdout, cmd.Stderr = lw, lw
	// This namespace's own /dev is nodev: stdin is the view's /dev/null.
	null, err := os.Open(filepath.Join(view, "dev", "null"))
	if err != nil {
		return nil, fmt.Errorf("tracing app %s: %w", a.given, err)
	}
	defer null.Close()
	cmd.Stdin = null
	cmd.WaitDelay = 2 * time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL,
		Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNET | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS}
	start := time.Now()
	err = cmd.Run()
	timedOut := tctx.Err() != nil && ctx.Err() == nil
	logrus.Debugf("elfdeps: traced %s for %s (timed out: %v): %v; output: %s", a.given, time.Since(start).Round(time.Millisecond), timedOut, err, out.String())
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	files, _ := filepath.Glob(filepath.Join(dir, "t.*"))
	if len(files) == 0 {
		return nil, fmt.Errorf("tracing app %s: strace recorded nothing: %v: %s", a.given, err, strings.TrimSpace(out.String()))
	}
	slices.Sort(files)
	var events []traceEvent
	for _, f := range files {
		if logrus.IsLevelEnabled(logrus.TraceLevel) {
			b, _ := os.ReadFile(f)
			logrus.Tracef("elfdeps: %s:\n%s", f, b)
		}
		ev, err := d.parseTrace(f, view, true)
		if err != nil {
			return nil, fmt.Errorf("tracing app %s: %w", a.given, err)
		}
		events = append(events, ev...)
	}
	return events, nil
}

// parseTrace reads one strace -ff -y output file. With chrooted, the lines
// before the first successful chroot(2) belong to chroot(8) on the host and
// are skipped; a second chroot (the app's own) ends the file's usefulness.
func (d *discoverer) parseTrace(file, view string, chrooted bool) ([]traceEvent, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	inside := !chrooted || !bytes.Contains(b, []byte("chroot("))
	cwd := ""
	var events []traceEvent
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		c, ok := parseTraceLine(sc.Text())
		if !ok || c.failed {
			continue
		}
		if c.name == "chroot" {
			if inside {
				logrus.Debugf("elfdeps: %s: the app calls chroot(%q): ignoring the rest of its trace", file, c.path)
				break
			}
			inside = true
			continue
		}
		if !inside {
			continue
		}
		if c.dirfd != "" {
			c.dirfd = fromView(view, c.dirfd)
			if c.dirfdIsCwd {
				cwd = c.dirfd
			}
		}
		verb, write := classifySyscall(c)
		if verb == "" || c.path == "" {
			continue
		}
		p := c.path
		if !strings.HasPrefix(p, "/") {
			base := c.dirfd
			if base == "" {
				base = cwd
			}
			if base == "" {
				continue
			}
			p = path.Join(base, p)
		}
		p = path.Clean(p)
		if traceIgnoredPath(p) {
			continue
		}
		events = append(events, traceEvent{path: p, verb: verb, write: write})
	}
	return events, sc.Err()
}

// fromView maps a host path strace printed for a descriptor to a root
// path; view is where the root is seen on the host.
func fromView(view, p string) string {
	if view == "/" {
		return p
	}
	if p == view {
		return "/"
	}
	if strings.HasPrefix(p, view+"/") {
		return strings.TrimPrefix(p, view)
	}
	return "" // outside the root: not ours
}

// traceCall is one parsed strace line.
type traceCall struct {
	name       string
	path       string // first quoted argument
	dirfd      string // path of the directory descriptor before it, if any
	dirfdIsCwd bool
	flags      string // open flags
	failed     bool
}

// parseTraceLine parses `name(args) = result` as strace -y prints it.
func parseTraceLine(line string) (traceCall, bool) {
	var c traceCall
	i := strings.IndexByte(line, '(')
	if i <= 0 {
		return c, false
	}
	c.name = line[:i]
	if strings.ContainsAny(c.name, " <+-") {
		return c, false
	}
	eq := strings.LastIndex(line, " = ")
	if eq < 0 {
		return c, false
	}
	end := strings.LastIndexByte(line[:eq], ')')
	if end < i || strings.TrimSpace(line[end+1:eq]) != "" {
		return c, false
	}
	res := strings.TrimSpace(line[eq+3:])
	c.failed = strings.HasPrefix(res, "-") || strings.HasPrefix(res, "?")
	args := line[i+1 : end]
	q := strings.IndexByte(args, '"')
	if q < 0 {
		return c, true
	}
	if pre := strings.TrimSpace(args[:q]); pre != "" {
		// "AT_FDCWD</cwd>, " or "3</dir>, "
		if lt := strings.IndexByte(pre, '<'); lt >= 0 {
			if gt := strings.LastIndexByte(pre, '>'); gt > lt {
				c.dirfd = unescapeStrace(pre[lt+1 : gt])
				c.dirfdIsCwd = strings.HasPrefix(pre, "AT_FDCWD")
			}
		}
	}
	s, rest, ok := unquote(args[q:])
	if !ok {
		return c, false
	}
	c.path = s
	c.flags = rest
	return c, true
}

// unquote reads a C string literal as strace prints it from the start of s
// and returns it and what follows.
func unquote(s string) (string, string, bool) {
	if !strings.HasPrefix(s, `"`) {
		return "", s, false
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '"':
			return b.String(), s[i+1:], true
		case ch == '\\' && i+1 < len(s):
			i++
			switch e := s[i]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'v':
				b.WriteByte('\v')
			case 'f':
				b.WriteByte('\f')
			case 'x':
				if i+2 < len(s) {
					if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
						b.WriteByte(byte(v))
						i += 2
					}
				}
			case '0', '1', '2', '3', '4', '5', '6', '7':
				j := i
				for j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7' {
					j++
				}
				v, _ := strconv.ParseUint(s[i:j], 8, 8)
				b.WriteByte(byte(v))
				i = j - 1
			default:
				b.WriteByte(e)
			}
		default:
			b.WriteByte(ch)
		}
	}
	return "", s, false
}

func unescapeStrace(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	u, _, ok := unquote(`"` + s + `"`)
	if !ok {
		return s
	}
	return u
}

// classifySyscall says what a successful call did to its path: "" if it
// does not count.
func classifySyscall(c traceCall) (verb string, write bool) {
	switch c.name {
	case "open", "openat", "openat2":
		w := strings.Contains(c.flags, "O_WRONLY") || strings.Contains(c.flags, "O_RDWR") || strings.Contains(c.flags, "O_CREAT")
		return "opened", w
	case "creat", "mkdir", "mkdirat", "mknod", "mknodat":
		return "created", true
	case "execve", "execveat":
		return "executed", false
	case "stat", "lstat", "stat64", "lstat64", "newfstatat", "fstatat64", "statx",
		"access", "faccessat", "faccessat2", "readlink", "readlinkat":
		return "looked up", false
	}
	return "", false
}

// limitWriter keeps the first n bytes written to it.
type limitWriter struct {
	w *bytes.Buffer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if room := l.n - l.w.Len(); room > 0 {
		l.w.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
