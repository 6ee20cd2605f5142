// Package elfdeps finds the files applications need, inside a source root.
//
// Given apps (paths), Debian packages, explicit files and optionally a traced
// run, Discover lists every file a private root file system must carry for
// those apps to run: their ELF loader closure, #! interpreters, the runtime
// files libc and common libraries open without DT_NEEDED (NSS, gconv, locale,
// zoneinfo, CA certificates, terminfo), package files, and every symlink on
// the way. It only reads: copying, generated files (/etc/passwd, /etc/group,
// /etc/hosts, ...) and the manifest belong to package rootfs.
//
// Everything is read inside Options.Root through openat2(2) with
// RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS; symlinks are resolved by this package,
// relative to the root, so a source root from another server is never mixed
// with this host's files. docs/discovery.md explains the rules and limits.
package elfdeps

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// Reason says why a file is needed.
type Reason string

const (
	ReasonApp      Reason = "app"         // named by the user (--app)
	ReasonELF      Reason = "elf-dep"     // PT_INTERP / DT_NEEDED closure
	ReasonInterp   Reason = "interpreter" // #! line of a script
	ReasonRuntime  Reason = "runtime"     // NSS modules+nsswitch.conf, gconv, locale, zoneinfo, CA certs, terminfo, ...
	ReasonPackage  Reason = "package"     // a file of a Debian package in the dependency closure
	ReasonTrace    Reason = "trace"       // opened or executed while the apps ran under observation
	ReasonExplicit Reason = "explicit"    // --file
	ReasonSymlink  Reason = "symlink"     // a symlink on the way to a needed file (e.g. /lib -> usr/lib)
)

// File is one needed path. Path is absolute as seen INSIDE the source root
// (e.g. "/usr/lib/x86_64-linux-gnu/libc.so.6"), never prefixed with the root.
//
// Path names a real directory entry: its parent directories contain no
// symlinks (a library found as /lib/x86_64-linux-gnu/libc.so.6 on a
// merged-/usr root is listed as /lib, a symlink, and
// /usr/lib/x86_64-linux-gnu/libc.so.6). Most entries are regular files or
// symlinks; a few are directories that must exist even though no listed file
// lies below them (empty directories of packages, directories the traced apps
// wrote into, directories named with --file). A copier lstat()s the source to
// tell them apart.
//
// Via names what made the path needed, for a program to follow (Detail says
// the same for people):
//   - an absolute path: the file inside the root whose need it is, as that
//     file was named (it may lead through symlinks): the executable or
//     library whose PT_INTERP or DT_NEEDED it is, the script whose #!
//     interpreter it is, the library that reads a runtime file, the app
//     that opened it under trace, the --file directory a tree entry is in,
//     the path a symlink is on the way to;
//   - otherwise a Debian package name: the package that ships the file;
//   - empty: nothing but the request itself (an --app, a --file path).
type File struct {
	Path   string `json:"path"`
	Reason Reason `json:"reason"`
	Detail string `json:"detail"` // human "why": "DT_NEEDED libc.so.6 of /usr/sbin/nginx", "package nginx-common", ...
	Via    string `json:"via,omitempty"`
}

// Options says what to discover. The zero value of each field means "none".
type Options struct {
	Root         string              // source root; "/" (or "") is this host. All reads stay inside it.
	Apps         []string            // paths inside Root; a bare name is looked up in the standard PATH inside Root
	Packages     []string            // Debian package names, optionally name:arch (dpkg database under Root/var/lib/dpkg)
	Files        []string            // explicit extra paths (files or directories, recursively)
	Excludes     []string            // globs matched against Path and its parents (path.Match semantics, plus "dir/**"); without a '/', against file names
	Trace        bool                // run the apps once under strace and add what they open/exec
	TraceTimeout time.Duration       // bound for Trace (default 5s); apps still running are killed
	TraceArgs    map[string][]string // optional args per app, keyed as given in Apps, for the trace run
	// TraceCapabilities are the only capabilities ("CAP_CHOWN", ...) the
	// traced apps may have (their bounding set; CAP_SYS_CHROOT is added,
	// chroot(8) needs it): those of the container being built. None else
	// by default.
	TraceCapabilities []string
	// AppDetail says, per app as given in Apps, why it is one (File.Detail
	// of its entry); the default is "--app PATH".
	AppDetail map[string]string
}

// Result is what Discover found. It is a plain value, safe to share once
// returned (Stats included: nothing changes it after Discover).
type Result struct {
	Files  []File
	Users  []string // user names the apps need (owners of the listed files, User= of packaged systemd units, root)
	Groups []string // group names likewise

	// Stats is what lstat(2) found at every canonical path discovery
	// looked at: each listed path and every directory and symlink on the
	// way to one (and more). A copier can plan from it instead of looking
	// again. It is a snapshot: files may change after they were looked at
	// (not through the traced apps, whose writes stay in their view).
	Stats map[string]*Stat `json:"-"`
}

// Stat is what lstat(2) found at a canonical path inside the root.
type Stat struct {
	unix.Stat_t
	Link string // a symlink's target, verbatim
}

// DefaultTraceTimeout bounds a traced run when Options.TraceTimeout is 0.
const DefaultTraceTimeout = 5 * time.Second

// Discover returns every file the options need, deduplicated (first reason
// wins, ordered by Path), including every symlink on the way to a needed file
// (both the link and its target are listed, so a copier can recreate links as
// links), and users/groups needs via Users. It never returns kernel files
// (/boot, /lib/modules, /usr/lib/modules, /lib/firmware, /usr/lib/firmware,
// vmlinuz*, initrd*): asking for them explicitly is an error (ErrKernelFile).
// Errors are *PathError values naming the offending file: ErrNotFound (missing
// app), ErrOutsideRoot (a path or symlink escaping Root), ErrBrokenSymlink,
// ErrWrongArch (an ELF app for a machine this host cannot run),
// ErrUnreadable.
//
// With Trace (which needs root), the apps are run once, in fresh PID and
// network namespaces, chrooted into a private, throw-away view of Root ("/"
// included) whose writable mounts are overlays on a tmpfs: their writes
// never reach Root or this host, and nothing of the view outlives the run.
// Every process they start is killed when the run ends.
func Discover(ctx context.Context, o Options) (*Result, error) {
	for _, g := range o.Excludes {
		if _, err := path.Match(strings.TrimSuffix(g, "/**"), "/"); err != nil {
			return nil, fmt.Errorf("exclude pattern %q: %w", g, err)
		}
	}
	d, err := newDiscoverer(o)
	if err != nil {
		return nil, err
	}
	defer d.fs.close()
	start := time.Now()
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"apps", d.addApps},
		{"files", d.addExplicit},
		{"packages", d.addPackages},
		{"trace", d.addTrace},
		{"runtime", d.addRuntime},
	}
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t := time.Now()
		if err := s.fn(ctx); err != nil {
			return nil, err
		}
		logrus.Debugf("elfdeps: %s: %d files so far (%s)", s.name, len(d.files), time.Since(t).Round(time.Microsecond))
	}
	res := d.result()
	logrus.Debugf("elfdeps: discovered %d files in %s", len(res.Files), time.Since(start).Round(time.Microsecond))
	return res, nil
}

// discoverer is the state of one Discover call. The collection (files, objs,
// done) is only touched by the Discover goroutine; sniffs and the rootFS
// caches are filled concurrently by prefetch workers.
type discoverer struct {
	o    Options
	fs   *rootFS
	host arch

	files      map[string]*File   // path -> entry; the first reason wins
	objs       map[string]*elfObj // canonical path -> ELF of every listed object
	done       map[string]bool    // executables whose closure was computed
	apps       []resolvedApp      // for the trace run
	pkgs       *dpkgDB            // loaded on demand
	unitUsers  []string           // User= of packaged systemd units
	unitGroups []string           // Group= of packaged systemd units

	mu     sync.Mutex
	sniffs map[string]*sniffResult

	ldOnce sync.Once
	ld     *ldCache
}

// newDiscoverer opens the root; the caller closes d.fs.
func newDiscoverer(o Options) (*discoverer, error) {
	rfs, err := openRoot(o.Root)
	if err != nil {
		return nil, err
	}
	return &discoverer{
		o:      o,
		fs:     rfs,
		host:   hostArch(),
		files:  map[string]*File{},
		sniffs: map[string]*sniffResult{},
		objs:   map[string]*elfObj{},
		done:   map[string]bool{},
	}, nil
}

// resolvedApp is one app as given and resolved.
type resolvedApp struct {
	given string
	path  string // absolute path inside the root as requested (before symlinks)
	res   *resolution
}

// put records p unless it is already listed.
func (d *discoverer) put(p string, reason Reason, detail, via string) {
	if _, ok := d.files[p]; ok {
		return
	}
	d.files[p] = &File{Path: p, Reason: reason, Detail: detail, Via: via}
}

// addResolved lists a resolved path: the file with reason, every symlink on
// the way. A link standing for the file itself (libz.so.1 -> libz.so.1.2.13)
// shares the file's reason; directory links get ReasonSymlink.
func (d *discoverer) addResolved(res *resolution, reason Reason, detail, via string) {
	for _, h := range res.Hops {
		if h.Final {
			d.put(h.Link, reason, detail, via)
		} else {
			d.put(h.Link, ReasonSymlink, fmt.Sprintf("symlink to %s, on the way to %s", h.Target, res.Path), res.Path)
		}
	}
	d.put(res.Path, reason, detail, via)
}

// kernelDirs hold kernel images, modules and firmware: never in a container.
var kernelDirs = []string{"/boot", "/lib/modules", "/usr/lib/modules", "/lib/firmware", "/usr/lib/firmware"}

func isKernelPath(p string) bool {
	for _, k := range kernelDirs {
		if strings.HasPrefix(p, k) && (len(p) == len(k) || p[len(k)] == '/') {
			return true
		}
	}
	b := path.Base(p)
	return strings.HasPrefix(b, "vmlinuz") || strings.HasPrefix(b, "vmlinux") || strings.HasPrefix(b, "initrd")
}

// kernelIn returns the first kernel path among a request and its resolution.
func kernelIn(req string, res *resolution) string {
	if isKernelPath(req) {
		return req
	}
	if res == nil {
		return ""
	}
	for _, h := range res.Hops {
		if isKernelPath(h.Link) {
			return h.Link
		}
	}
	if isKernelPath(res.Path) {
		return res.Path
	}
	return ""
}

// cleanRequest turns a user-given path into an absolute path inside the
// root. Relative paths are taken relative to the root's "/"; ".." is kept
// for resolve to judge (above "/" it is ErrOutsideRoot).
func cleanRequest(p string) string {
	if strings.HasPrefix(p, "/") {
		return p
	}
	return "/" + p
}

// pathErr turns a resolve error into a PathError about what/given.
func pathErr(what, given string, err error) error {
	var re *resolveError
	if errors.As(err, &re) {
		pe := &PathError{What: what, Path: given, Err: re.Err, Detail: re.Detail}
		if re.At != given && re.At != cleanRequest(given) {
			if pe.Detail != "" {
				pe.Detail = re.At + ": " + pe.Detail
			} else {
				pe.Detail = re.At
			}
		}
		return pe
	}
	return fmt.Errorf("%s %s: %w", what, given, err)
}

// excluded reports whether p or one of its parent directories matches an
// exclude glob. A glob without a '/' matches a file name (like "*.pyc").
func excluded(globs []string, p string) bool {
	for _, g := range globs {
		g = strings.TrimSuffix(g, "/**")
		base := !strings.Contains(g, "/")
		for q := p; ; q = path.Dir(q) {
			s := q
			if base {
				s = path.Base(q)
			}
			if ok, _ := path.Match(g, s); ok {
				return true
			}
			if q == "/" {
				break
			}
		}
	}
	return false
}

// result applies the excludes and the kernel rule, and works out users and groups.
func (d *discoverer) result() *Result {
	r := &Result{}
	var lost []string
	for p, f := range d.files {
		if isKernelPath(p) {
			continue
		}
		if excluded(d.o.Excludes, p) {
			// An exclude may be meant (a plugin nobody loads), but a
			// program or what the loader needs to start one is a broken
			// container: say so.
			switch f.Reason {
			case ReasonApp, ReasonELF, ReasonInterp:
				lost = append(lost, fmt.Sprintf("%s (%s: %s)", p, f.Reason, f.Detail))
			}
			continue
		}
		r.Files = append(r.Files, *f)
	}
	slices.SortFunc(r.Files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	slices.Sort(lost)
	for _, l := range lost {
		logrus.Warnf("elfdeps: an --exclude leaves out %s; what needs it will not start in the container", l)
	}
	r.Users, r.Groups = d.usersAndGroups(r.Files)
	r.Stats = d.fs.stats()
	return r
}
