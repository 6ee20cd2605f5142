package rootfs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/vmctr/vmctr/rootfs/elfdeps"
)

// BuildOpts says what to build. Paths of Apps, Files and start commands are
// inside SourceRoot; Output and Init are paths on this host.
type BuildOpts struct {
	SourceRoot   string        // the root file system to take files from; default "/" (this host)
	Apps         []string      // programs to carry, with everything they need
	Packages     []string      // Debian packages to carry, with their dependency closure
	Files        []string      // extra files or directories
	Excludes     []string      // globs of paths to leave out (see elfdeps)
	Trace        bool          // also run the apps once and carry what they open
	TraceTimeout time.Duration // bound for Trace

	Start       []Command     // what the container starts, in order; default: each app, without arguments
	StopTimeout time.Duration // how long the init waits for apps after a stop signal; default 10s
	User        string        // name, uid, name:group or uid:gid in the source's databases; default root
	KeepUsers   []string      // more users (with their primary groups) for the container's /etc/passwd
	Env         []string      // KEY=VALUE for every app
	Workdir     string        // default /
	Hostname    string        // default: the first app's name
	KeepSetuid  bool          // keep setuid/setgid bits and file capabilities (stripped by default)
	// UsernsBase, when not 0, gives the container a user namespace: its
	// IDs 0-65535 (UsernsSize) are host IDs UsernsBase.., and the copies
	// are owned accordingly, so that root inside is not root on the host.
	UsernsBase uint32

	Output   string         // the bundle directory to create
	Force    bool           // replace Output if it exists and is not empty
	Init     string         // the static init program on this host (vmctr-init)
	Spec     *specs.Spec    // base config.json (namespaces, mounts, ...); Build sets root, process and hostname
	Progress func(Progress) // called during the build (from several goroutines, serialised); may be nil
}

// Progress is a build's progress report.
type Progress struct {
	Phase string // "discovering", "copying", "writing"
	Done  int    // files copied so far (copying)
	Total int    // files to copy
	Bytes int64  // bytes copied so far
}

// Result describes a finished build.
type Result struct {
	Bundle    string        `json:"bundle"`
	Rootfs    string        `json:"rootfs"`
	Manifest  string        `json:"manifest"` // path on this host
	Files     int           `json:"files"`    // regular files copied
	Dirs      int           `json:"dirs"`
	Symlinks  int           `json:"symlinks"`
	Hardlinks int           `json:"hardlinks"`
	Generated int           `json:"generated"` // files vmctr wrote (modified copies, execution files)
	Bytes     int64         `json:"bytes"`     // content of the copied files
	Duration  time.Duration `json:"-"`
	Millis    int64         `json:"durationMs"`
	Users     []string      `json:"users"`
	Start     []Command     `json:"start"`
	// Unchanged: Output already held a bundle built from the same inputs
	// (same options, same source files by inode, size and times); it was
	// left as it is, and the counts are the ones that build recorded.
	Unchanged bool `json:"unchanged"`
}

// Build makes an OCI bundle at o.Output holding a private root file system
// with copies of what o's apps need. It builds in a temporary directory
// beside Output and renames it into place at the end, so that a failed or
// cancelled build leaves nothing behind. The bundle directory is 0700
// (only root reaches the copies); the root file system inside is 0755 so
// that a container's non-root processes can use it.
func Build(ctx context.Context, o BuildOpts) (_ *Result, retErr error) {
	began := time.Now()
	b := &builder{o: o, progress: o.Progress}
	if err := b.prepare(); err != nil {
		return nil, err
	}
	defer unix.Close(b.srcFd)

	out, existing, err := prepareOutput(o.Output, o.Force)
	if err != nil {
		return nil, err
	}
	b.existing = existing
	// Builds killed before they could clean up (SIGKILL, a crash) left
	// their build directories beside their outputs: remove those while
	// this one runs.
	cleaned := make(chan struct{})
	go func() {
		defer close(cleaned)
		removeStaleBuilds(filepath.Dir(out))
	}()
	defer func() { <-cleaned }()
	tmp, lock, err := makeBuildDir(out)
	if err != nil {
		return nil, err
	}
	// Held until the build is renamed into place or removed: while it is,
	// no other build takes tmp for stale.
	defer unix.Close(lock)
	defer func() {
		if retErr != nil {
			if err := os.RemoveAll(tmp); err != nil {
				logrus.Warnf("rootfs: removing the unfinished build %s: %v", tmp, err)
			}
		}
	}()
	if o.UsernsBase != 0 && os.Geteuid() == 0 {
		// The container's root (host UsernsBase) sets its root file
		// system up from inside the namespace: it must get through the
		// bundle directory. Through, not into: the directory stays
		// root's (0710, group UsernsBase), so that no process of that
		// uid (a rootless user whose subordinate IDs include it) can
		// plant or swap config.json.
		if err := os.Chown(tmp, 0, int(o.UsernsBase)); err != nil {
			return nil, fmt.Errorf("setting the owner of %s: %w", tmp, err)
		}
		if err := os.Chmod(tmp, 0o710); err != nil {
			return nil, fmt.Errorf("setting the mode of %s: %w", tmp, err)
		}
	}
	// The output as named and as it really is (a symlink on the way to it
	// would otherwise let a tree being copied contain the output).
	skipNamed := outputSkipper(b.srcRoot, out)
	skipReal := skipNamed
	if rs, err := filepath.EvalSymlinks(b.srcRoot); err == nil {
		if rd, err := filepath.EvalSymlinks(filepath.Dir(out)); err == nil {
			skipReal = outputSkipper(rs, filepath.Join(rd, filepath.Base(out)))
		}
	}
	b.skip = func(p string) bool { return skipNamed(p) || skipReal(p) }
	if err := b.build(ctx, tmp); errors.Is(err, errUnchanged) {
		if err := os.RemoveAll(tmp); err != nil {
			logrus.Warnf("rootfs: removing %s: %v", tmp, err)
		}
		return unchangedResult(out, existing, began), nil
	} else if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := replaceDir(tmp, out, o.Force); err != nil {
		return nil, err
	}
	r := b.result
	r.Bundle = out
	r.Rootfs = filepath.Join(out, "rootfs")
	r.Manifest = filepath.Join(r.Rootfs, ManifestPath)
	r.Duration = time.Since(began)
	r.Millis = r.Duration.Milliseconds()
	return &r, nil
}

// builder carries one build. Not safe for concurrent use, apart from
// report, which copy workers call.
type builder struct {
	o        BuildOpts
	srcRoot  string
	srcFd    int
	start    []Command
	workdir  string
	hostname string

	// Read ahead (readAhead) while discovery runs: they do not depend on it.
	existing   *Manifest // of the bundle at Output, which a build with the same inputs leaves alone
	initProg   []byte
	initStat   unix.Stat_t // of the init program on this host, for the build key
	acc        *accounts
	id         identity
	resolv     []byte // the container's /etc/resolv.conf
	resolvWhy  string
	configJSON []byte // the bundle's config.json

	progress func(Progress)
	skip     func(string) bool // paths never copied: the output and its temporary directories
	mu       sync.Mutex
	prog     Progress

	result Result
}

func (b *builder) report(f func(*Progress)) {
	if b.progress == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	f(&b.prog)
	b.progress(b.prog)
}

// prepare checks the options and opens the source root.
func (b *builder) prepare() error {
	o := &b.o
	if o.Output == "" {
		return fmt.Errorf("%w: no output directory", ErrInvalidOptions)
	}
	if o.Spec == nil {
		return fmt.Errorf("%w: no base config", ErrInvalidOptions)
	}
	src := o.SourceRoot
	if src == "" {
		src = "/"
	}
	src, err := filepath.Abs(src)
	if err != nil {
		return fmt.Errorf("source root %s: %w", o.SourceRoot, err)
	}
	b.srcRoot = src
	fd, err := unix.Open(src, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening source root %s: %w", src, err)
	}
	b.srcFd = fd
	fail := func(err error) error { unix.Close(fd); return err }

	if o.Init == "" {
		return fail(fmt.Errorf("%w: no init program given", ErrBadInit))
	}
	b.start = slices.Clone(o.Start)
	if len(b.start) == 0 {
		for _, a := range o.Apps {
			b.start = append(b.start, Command{Args: []string{a}})
		}
	}
	if len(b.start) == 0 {
		return fail(fmt.Errorf("%w: nothing to start: name an app (--app) or a start command (--cmd)", ErrInvalidOptions))
	}
	// Start command names label the init's messages and the manifest: one
	// name, one app. Names given must differ; a default name (the
	// program's) gets -2, -3, ... when the program starts more than once.
	names := map[string]bool{}
	for _, c := range b.start {
		if c.Name != "" && names[c.Name] {
			return fail(fmt.Errorf("%w: two start commands are named %q", ErrInvalidOptions, c.Name))
		}
		names[c.Name] = true
	}
	for i := range b.start {
		if err := b.start[i].validate(); err != nil {
			return fail(fmt.Errorf("%w: %w", ErrInvalidOptions, err))
		}
		if b.start[i].Name == "" {
			base := path.Base(b.start[i].Args[0])
			name := base
			for n := 2; names[name]; n++ {
				name = base + "-" + strconv.Itoa(n)
			}
			b.start[i].Name = name
			names[name] = true
		}
	}
	for _, e := range o.Env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" || strings.ContainsAny(k, "\n\x00") || strings.Contains(e, "\x00") {
			return fail(fmt.Errorf("%w: environment entry %q is not KEY=VALUE (a key without newlines, no NUL)", ErrInvalidOptions, e))
		}
	}
	if len(o.Workdir) > unix.PathMax {
		return fail(fmt.Errorf("%w: working directory longer than %d bytes", ErrInvalidOptions, unix.PathMax))
	}
	b.workdir = o.Workdir
	if b.workdir == "" {
		b.workdir = "/"
	}
	if !path.IsAbs(b.workdir) {
		return fail(fmt.Errorf("%w: working directory %q is not absolute", ErrInvalidOptions, b.workdir))
	}
	b.workdir = path.Clean(b.workdir)
	b.hostname = o.Hostname
	if b.hostname == "" {
		b.hostname = defaultHostname(b.start[0].Args[0])
	}
	if err := validHostname(b.hostname); err != nil {
		return fail(fmt.Errorf("%w: %w", ErrInvalidOptions, err))
	}
	if o.StopTimeout < 0 || o.StopTimeout > 24*time.Hour {
		return fail(fmt.Errorf("%w: stop timeout %v out of range (0 to 24h)", ErrInvalidOptions, o.StopTimeout))
	}
	if o.UsernsBase != 0 && (o.UsernsBase < UsernsSize || uint64(o.UsernsBase)+UsernsSize > 1<<32-1) {
		return fail(fmt.Errorf("%w: user namespace base %d: want %d or more, and room for %d IDs below 2^32-1",
			ErrInvalidOptions, o.UsernsBase, UsernsSize, UsernsSize))
	}
	if o.UsernsBase != 0 {
		for _, w := range usernsOverlaps(o.UsernsBase) {
			logrus.Warnf("rootfs: user namespace IDs %d-%d overlap %s: those processes would own the container's files", o.UsernsBase, uint64(o.UsernsBase)+UsernsSize-1, w)
		}
	}
	if o.TraceTimeout < 0 || o.TraceTimeout > time.Hour {
		return fail(fmt.Errorf("%w: trace timeout %v out of range (0 for the default, up to 1h)", ErrInvalidOptions, o.TraceTimeout))
	}

	for _, p := range slices.Concat(o.Apps, o.Files) {
		if !path.IsAbs(p) {
			return fail(fmt.Errorf("%w: %q is not an absolute path inside the source root", ErrInvalidOptions, p))
		}
		if isKernelPath(path.Clean(p)) {
			return fail(fmt.Errorf("file %s: %w", p, ErrKernelFile))
		}
	}
	return nil
}

func defaultHostname(prog string) string {
	h := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, path.Base(prog))
	h = strings.Trim(h, "-")
	if len(h) > 63 {
		h = h[:63]
	}
	if h == "" {
		return "vmctr"
	}
	return h
}

func validHostname(h string) error {
	if len(h) > 64 {
		return fmt.Errorf("hostname %q is longer than 64 bytes", h)
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return fmt.Errorf("hostname %q has a character other than letters, digits, '-' and '.'", h)
		}
	}
	return nil
}

// apps returns the programs to discover: the apps named, and the programs
// of the start commands (found through the container's PATH in the source
// root when not absolute).
func (b *builder) apps() []string {
	apps := slices.Clone(b.o.Apps)
	for _, c := range b.start {
		p := c.Args[0]
		if !path.IsAbs(p) {
			p = b.lookPath(p)
		}
		if p != "" && !slices.Contains(apps, p) {
			apps = append(apps, p)
		}
	}
	return apps
}

// lookPath finds a program in the source root along the container's PATH.
func (b *builder) lookPath(name string) string {
	if strings.Contains(name, "/") {
		return ""
	}
	for _, d := range strings.Split(pathOf(b.o.Env), ":") {
		if !path.IsAbs(d) {
			continue
		}
		p := path.Join(d, name)
		var st unix.Stat_t
		fd, err := unix.Openat2(b.srcFd, rel(p), &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS})
		if err != nil {
			continue
		}
		err = unix.Fstat(fd, &st)
		unix.Close(fd)
		if err == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && st.Mode&0o111 != 0 {
			return p
		}
	}
	return ""
}

func pathOf(env []string) string {
	p := DefaultPath
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			p = v
		}
	}
	return p
}

func (b *builder) build(ctx context.Context, bundle string) error {
	o := b.o
	b.report(func(p *Progress) { p.Phase = "discovering" })
	t0 := time.Now()
	step := func(what string) {
		logrus.Debugf("rootfs: %s (%s)", what, time.Since(t0).Round(time.Microsecond))
		t0 = time.Now()
	}
	apps := b.apps()
	appDetail := map[string]string{}
	for _, c := range b.start {
		for _, a := range apps {
			if !slices.Contains(o.Apps, a) && appDetail[a] == "" && (a == c.Args[0] || a == b.lookPath(c.Args[0])) {
				appDetail[a] = "start command " + c.Name + ": " + c.Args[0]
			}
		}
	}
	traceArgs := map[string][]string{}
	for _, c := range b.start {
		if path.IsAbs(c.Args[0]) {
			if _, ok := traceArgs[c.Args[0]]; !ok {
				traceArgs[c.Args[0]] = c.Args[1:]
			}
		}
	}
	// Discovery mostly keeps one CPU busy: read what does not depend on
	// it meanwhile. A failure there (a bad init program, an unknown
	// user) stops discovery and is reported first.
	dctx, stopDiscovery := context.WithCancel(ctx)
	defer stopDiscovery()
	ahead := make(chan error, 1)
	go func() {
		err := b.readAhead()
		if err != nil {
			stopDiscovery()
		}
		ahead <- err
	}()
	found, err := elfdeps.Discover(dctx, elfdeps.Options{
		Root: b.srcRoot, Apps: apps, Packages: o.Packages, Files: o.Files, Excludes: o.Excludes,
		Trace: o.Trace, TraceTimeout: o.TraceTimeout, TraceArgs: traceArgs, AppDetail: appDetail,
		TraceCapabilities: DefaultCapabilities,
	})
	if aerr := <-ahead; aerr != nil {
		return aerr
	}
	if err != nil {
		return b.sourceErr(err)
	}
	step(fmt.Sprintf("discovered %d paths", len(found.Files)))
	if err := ctx.Err(); err != nil {
		return err
	}

	// Plan: every discovered path and what lies on the way to it.
	pl := newPlanner(b.srcRoot, b.srcFd, b.discoveryStats(found))
	pl.skip = b.skip
	pl.named = map[string]bool{}
	for _, f := range o.Files {
		pl.named[path.Clean(f)] = true
	}
	paths := make([]string, 0, len(found.Files))
	for _, f := range found.Files {
		paths = append(paths, f.Path)
	}
	pl.prefetch(paths)
	asked := map[string]string{} // generated path -> why discovery wanted it
	for _, f := range found.Files {
		if slices.Contains(generatedPaths, f.Path) {
			asked[f.Path] = string(f.Reason) + ": " + f.Detail
			continue
		}
		if slices.Contains(secretPaths, f.Path) {
			logrus.Infof("rootfs: not copying %s: account database backups and old passwords never reach a container", f.Path)
			continue
		}
		if err := pl.add(f.Path, string(f.Reason), f.Detail, f.Via); err != nil {
			return err
		}
	}
	if pl.skipped > 0 {
		logrus.Warnf("rootfs: left out %d paths of the output directory %s itself", pl.skipped, o.Output)
	}
	for _, g := range generatedPaths {
		if n, ok := pl.nodes[g]; ok && n.kind != kindDir {
			// reached as a link target: written, not copied
			delete(pl.nodes, g)
		}
	}
	for _, d := range []struct {
		p    string
		mode uint32
	}{{"/proc", 0o555}, {"/sys", 0o555}, {"/dev", 0o755}, {"/etc", 0o755}, {"/run", 0o755},
		{"/tmp", 0o1777}, {"/var", 0o755}, {"/var/tmp", 0o1777}} {
		pl.ensureDir(d.p, d.mode)
	}
	if err := b.planWorkdir(pl); err != nil {
		return err
	}
	pl.nodes[VmctrDir] = &node{path: VmctrDir, kind: kindDir, st: unix.Stat_t{Mode: unix.S_IFDIR | 0o755},
		reason: ReasonExecution, detail: "vmctr's files: the init program, the execution file, the manifest"}
	nodes := pl.sorted()
	for _, n := range nodes {
		if isKernelPath(n.path) { // defence in depth: elfdeps refuses them too
			return fmt.Errorf("file %s: %w", n.path, ErrKernelFile)
		}
	}

	step(fmt.Sprintf("planned %d paths", len(nodes)))
	if o.UsernsBase != 0 {
		// Every owner must have an ID inside the namespace.
		for _, n := range nodes {
			if n.st.Uid >= UsernsSize || n.st.Gid >= UsernsSize {
				return fmt.Errorf("%w: %s is owned by %d:%d, outside the user namespace's IDs 0-%d",
					ErrInvalidOptions, n.path, n.st.Uid, n.st.Gid, UsernsSize-1)
			}
		}
	}
	key := b.buildKey(nodes, found)
	if b.existing != nil {
		if b.existing.Build.Key == key {
			return errUnchanged
		}
		return fmt.Errorf("%w: %s was built from other inputs or by another vmctr (use --force to replace it)", ErrOutputExists, o.Output)
	}
	step("digested the inputs")

	// Copy.
	rootfs := filepath.Join(bundle, "rootfs")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", rootfs, err)
	}
	dstFd, err := unix.Open(rootfs, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", rootfs, err)
	}
	defer unix.Close(dstFd)
	// Root-owned 0755 without setgid (a setgid parent would otherwise
	// hand its group to everything created below).
	if os.Geteuid() == 0 {
		if err := unix.Fchown(dstFd, int(o.UsernsBase), int(o.UsernsBase)); err != nil {
			return fmt.Errorf("setting the owner of %s: %w", rootfs, err)
		}
	}
	if err := unix.Fchmod(dstFd, 0o755); err != nil {
		return fmt.Errorf("setting the mode of %s: %w", rootfs, err)
	}
	c := newCopier(b.srcFd, dstFd, o.KeepSetuid)
	c.idShift = o.UsernsBase
	defer c.close()
	if err := c.mkdirs(nodes); err != nil {
		return err
	}
	step("made the directories")
	total := 0
	for _, n := range nodes {
		if n.kind == kindFile {
			total++
		}
	}
	man := &Manifest{
		Version: ManifestVersion, Created: time.Now().UTC(), SourceRoot: b.srcRoot,
		Apps: apps, Packages: o.Packages, Start: b.start,
	}
	// The modified copies and the execution files need only the plan and
	// the directories: they are written while the copies are made.
	var (
		gen    []Entry
		genErr error
		genned = make(chan struct{})
	)
	owners := map[[2]uint32]bool{}
	for _, n := range nodes {
		owners[[2]uint32{n.st.Uid, n.st.Gid}] = true
	}
	go func() {
		defer close(genned)
		if gen, genErr = b.writeEtc(c, owners, found.Users, found.Groups, asked, man); genErr != nil {
			return
		}
		var exec []Entry
		exec, genErr = b.writeExecution(c)
		gen = append(gen, exec...)
	}()
	b.report(func(p *Progress) { p.Phase, p.Total = "copying", total })
	err = c.copyEntries(ctx, nodes, func(n *node) {
		b.report(func(p *Progress) { p.Done++; p.Bytes += n.st.Size })
	})
	<-genned
	if err != nil {
		return b.sourceErr(err)
	}
	if genErr != nil {
		return genErr
	}
	if err := c.hardlinks(nodes); err != nil {
		return err
	}
	step(fmt.Sprintf("copied %d files, %d bytes, made the links and the generated files", c.files.Load(), c.bytes.Load()))

	b.report(func(p *Progress) { p.Phase = "writing" })
	if err := b.checkStart(dstFd); err != nil {
		return err
	}

	r := &b.result
	for _, n := range nodes {
		switch n.kind {
		case kindFile:
			r.Files++
			r.Bytes += n.st.Size
		case kindDir:
			r.Dirs++
		case kindSymlink:
			r.Symlinks++
		case kindHardlink:
			r.Hardlinks++
		}
	}
	r.Generated = len(gen) + 1 // and the manifest
	r.Users = man.Users
	r.Start = b.start
	man.Build = &Record{Key: key, Files: r.Files, Dirs: r.Dirs, Symlinks: r.Symlinks, Hardlinks: r.Hardlinks,
		Generated: r.Generated, Bytes: r.Bytes}

	// The manifest: every node, then what vmctr wrote.
	for _, n := range nodes {
		man.Files = append(man.Files, n.entry())
	}
	man.Files = append(man.Files, gen...)
	man.Files = append(man.Files, Entry{Path: ManifestPath, Type: TypeFile, Mode: "0644", Reason: ReasonExecution,
		Detail: "this manifest (its own size and digest cannot be in it)"})
	slices.SortFunc(man.Files, func(a, b Entry) int { return strings.Compare(a.Path, b.Path) })
	// Compact: it has an entry per path (vmctr inspect prints it for people).
	mb, err := json.Marshal(man)
	if err != nil {
		return fmt.Errorf("encoding the manifest: %w", err)
	}
	if _, err := c.writeFile(ManifestPath, append(mb, '\n'), 0o644, 0, 0); err != nil {
		return err
	}
	step("wrote the generated files and the manifest")
	if err := c.finishDirs(nodes); err != nil {
		return err
	}
	step("set the directories' attributes")

	if err := writeNew(filepath.Join(bundle, "config.json"), b.configJSON, 0o644); err != nil {
		return fmt.Errorf("writing config.json: %w", err)
	}

	return nil
}

// discoveryStats returns what discovery saw in the source root, for the
// planner, or nil if it cannot be used: after a traced run (the apps may
// have changed files since discovery looked), or if discovery's root is not
// the directory b.srcFd names.
func (b *builder) discoveryStats(found *elfdeps.Result) map[string]*elfdeps.Stat {
	if b.o.Trace {
		return nil
	}
	r, ok := found.Stats["/"]
	var st unix.Stat_t
	if !ok || unix.Fstat(b.srcFd, &st) != nil || st.Dev != r.Dev || st.Ino != r.Ino {
		return nil
	}
	return found.Stats
}

// sourceErr adds the source root to errors about paths in it.
func (b *builder) sourceErr(err error) error {
	if b.srcRoot == "/" || strings.Contains(err.Error(), b.srcRoot) {
		return err
	}
	return fmt.Errorf("%w (source root %s)", err, b.srcRoot)
}

// planWorkdir makes sure the working directory exists in the container.
func (b *builder) planWorkdir(pl *planner) error {
	cur := "/"
	for _, c := range strings.Split(strings.TrimPrefix(b.workdir, "/"), "/") {
		if c == "" {
			continue
		}
		cur = path.Join(cur, c)
		n, ok := pl.nodes[cur]
		if !ok {
			pl.nodes[cur] = &node{path: cur, kind: kindDir, st: unix.Stat_t{Mode: unix.S_IFDIR | 0o755},
				reason: ReasonSkeleton, detail: "the working directory " + b.workdir}
			continue
		}
		if n.kind != kindDir {
			return fmt.Errorf("%w: working directory %s: %s is a %s in the container", ErrInvalidOptions, b.workdir, cur, n.kind)
		}
	}
	return nil
}

// checkStart fails the build if a start command's program is not in the
// container (rootFd, the new root file system), found as the container
// will find it: symbolic links resolved inside the new root.
func (b *builder) checkStart(rootFd int) error {
	for _, c := range b.start {
		p := c.Args[0]
		cands := []string{p}
		if !path.IsAbs(p) {
			cands = nil
			for _, d := range strings.Split(pathOf(slices.Concat(b.o.Env, c.Env)), ":") {
				if path.IsAbs(d) {
					cands = append(cands, path.Join(d, p))
				}
			}
		}
		ok := false
		for _, cand := range cands {
			fd, err := unix.Openat2(rootFd, rel(path.Clean(cand)), &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC,
				Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV})
			if err != nil {
				continue
			}
			var st unix.Stat_t
			err = unix.Fstat(fd, &st)
			unix.Close(fd)
			if err == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && st.Mode&0o111 != 0 {
				ok = true
				break
			}
		}
		if !ok {
			return fmt.Errorf("%w: start command %q: program %s is not an executable file in the container (add it with --app or --file)",
				ErrNotFound, strings.Join(c.Args, " "), p)
		}
	}
	return nil
}

// readAhead reads and checks what the build needs besides discovery's
// results: the init program, the source's accounts and the user the
// container runs as, its resolv.conf, and the bundle's config.json. It
// runs while discovery does, and writes nothing.
func (b *builder) readAhead() error {
	var err error
	if b.initProg, err = loadInit(b.o.Init); err != nil {
		return err
	}
	if err := unix.Stat(b.o.Init, &b.initStat); err != nil {
		return fmt.Errorf("%w: %w", ErrBadInit, err)
	}
	if b.acc, err = loadAccounts(b.srcFd); err != nil {
		return err
	}
	if b.id, err = b.acc.resolveUser(b.o.User); err != nil {
		return err
	}
	if b.resolv, b.resolvWhy, err = resolvConf(b.srcFd); err != nil {
		return err
	}
	spec, err := bundleSpec(b.o.Spec, b.id, b.o.Env, b.workdir, b.hostname, b.o.UsernsBase)
	if err != nil {
		return err
	}
	sb, err := json.MarshalIndent(spec, "", "\t")
	if err != nil {
		return fmt.Errorf("encoding config.json: %w", err)
	}
	b.configJSON = append(sb, '\n')
	return nil
}

// writeEtc writes the modified copies and returns their manifest entries.
// owners are the (uid, gid) pairs of the copied files. It runs while the
// copier copies.
func (b *builder) writeEtc(c *copier, owners map[[2]uint32]bool, users, groups []string, asked map[string]string, man *Manifest) ([]Entry, error) {
	acc := b.acc
	acc.users["root"], acc.groups["root"] = true, true
	for _, u := range users {
		if f := acc.userByName(u); f != nil {
			acc.keepUser(f)
		} else {
			logrus.Warnf("rootfs: user %s is not in the source root's /etc/passwd; leaving it out", u)
		}
	}
	for _, g := range groups {
		if acc.groupByName(g) != nil {
			acc.groups[g] = true
		} else {
			logrus.Warnf("rootfs: group %s is not in the source root's /etc/group; leaving it out", g)
		}
	}
	for _, u := range b.o.KeepUsers {
		f := acc.userByName(u)
		if f == nil {
			return nil, fmt.Errorf("%w: user %q (--keep-user) is not in the source root's /etc/passwd", ErrInvalidOptions, u)
		}
		acc.keepUser(f)
	}
	// The owners of copied files, so that they have names in the container.
	for o := range owners {
		if f := acc.userByID(int(o[0])); f != nil {
			acc.keepUser(f)
		}
		if f := acc.groupByID(int(o[1])); f != nil {
			acc.groups[f[0]] = true
		}
	}
	man.Users, man.Groups = acc.names()
	passwd, group := acc.files()

	type gfile struct {
		p      string
		data   []byte
		mode   uint32
		source string
		detail string
	}
	files := []gfile{
		{etcPasswd, passwd, 0o644, etcPasswd, "only the users the container needs: " + strings.Join(man.Users, ", ")},
		{etcGroup, group, 0o644, etcGroup, "only the groups the container needs: " + strings.Join(man.Groups, ", ")},
	}
	if _, ok := asked[etcShadow]; ok {
		s, gs := acc.shadowFiles()
		files = append(files, gfile{etcShadow, s, 0o640, etcShadow, "every kept account locked; no password hash is copied"})
		if _, ok := asked[etcGshadow]; ok {
			files = append(files, gfile{etcGshadow, gs, 0o640, etcGshadow, "every kept group locked"})
		}
	}
	resolv, why := b.resolv, b.resolvWhy
	if why == "" {
		why = "the source's, as a regular file"
	}
	files = append(files,
		gfile{etcHosts, hostsFile(b.hostname), 0o644, "", "localhost and the container's hostname " + b.hostname},
		gfile{etcHostname, []byte(b.hostname + "\n"), 0o644, "", "the container's hostname"},
		gfile{etcResolv, resolv, 0o644, etcResolv, why},
	)
	var entries []Entry
	for _, f := range files {
		sum, err := c.writeFile(f.p, f.data, f.mode, 0, 0)
		if err != nil {
			return nil, err
		}
		d := f.detail
		if a, ok := asked[f.p]; ok {
			d += " (replaces the copy asked for by " + a + ")"
		}
		entries = append(entries, Entry{
			Path: f.p, Type: TypeFile, Source: f.source, Mode: fmt.Sprintf("%04o", f.mode),
			Size: int64(len(f.data)), SHA256: sum, Reason: ReasonGenerated, Detail: d, Modified: true,
		})
	}
	return entries, nil
}

// writeExecution writes the init program and the execution file.
func (b *builder) writeExecution(c *copier) ([]Entry, error) {
	stop := b.o.StopTimeout
	if stop == 0 {
		stop = DefaultStopTimeout
	}
	rf := RunFile{Version: RunFileVersion, StopTimeout: int((stop + time.Second - 1) / time.Second), Apps: b.start}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(rf); err != nil {
		return nil, fmt.Errorf("encoding the execution file: %w", err)
	}
	var out []Entry
	for _, f := range []struct {
		p, detail string
		data      []byte
		mode      uint32
		src       string
	}{
		{InitPath, "the init program (PID 1): starts the apps, forwards signals, reaps zombies", b.initProg, 0o755, ""},
		{RunFilePath, "the execution file: what the init starts", buf.Bytes(), 0o644, ""},
	} {
		sum, err := c.writeFile(f.p, f.data, f.mode, 0, 0)
		if err != nil {
			return nil, err
		}
		out = append(out, Entry{Path: f.p, Type: TypeFile, Mode: fmt.Sprintf("%04o", f.mode), Size: int64(len(f.data)),
			SHA256: sum, Reason: ReasonExecution, Detail: f.detail})
	}
	return out, nil
}

func (n *node) entry() Entry {
	e := Entry{
		Path: n.path, Type: n.kind.String(), Source: n.path, Mode: fmt.Sprintf("%04o", n.mode),
		UID: n.uid, GID: n.gid, Reason: n.reason, Detail: n.detail, Via: n.via, Modified: n.note != "",
	}
	switch n.kind {
	case kindFile, kindHardlink:
		e.Size, e.SHA256 = n.st.Size, n.sha256
	case kindSymlink:
		e.Link, e.Size = n.target, int64(len(n.target))
	}
	if n.kind == kindHardlink {
		e.Link = n.linkTo
	}
	if n.reason == ReasonSkeleton || n.reason == ReasonExecution {
		e.Source = ""
	}
	if n.note != "" {
		e.Detail += "; " + n.note
	}
	return e
}

// outputSkipper returns a test for paths (inside the source root) that are
// the output bundle or a build's temporary directory beside it, so that a
// bundle written inside a copied tree is never copied into itself.
func outputSkipper(srcRoot, out string) func(string) bool {
	r, err := filepath.Rel(srcRoot, out)
	if err != nil || r == ".." || strings.HasPrefix(r, "../") {
		return func(string) bool { return false }
	}
	in := "/" + r
	dir, base := path.Dir(in), path.Base(in)
	return func(p string) bool {
		if p == in || strings.HasPrefix(p, in+"/") {
			return true
		}
		if path.Dir(p) == dir || strings.HasPrefix(p, dir+"/") {
			rest := strings.TrimPrefix(strings.TrimPrefix(p, dir), "/")
			first, _, _ := strings.Cut(rest, "/")
			return strings.HasPrefix(first, "."+base+".vmctr-")
		}
		return false
	}
}

// prepareOutput checks the output directory: it may be missing or empty,
// or anything with force; never a symbolic link.
func prepareOutput(out string, force bool) (string, *Manifest, error) {
	out, err := filepath.Abs(out)
	if err != nil {
		return "", nil, fmt.Errorf("output directory: %w", err)
	}
	if out == "/" {
		return "", nil, fmt.Errorf("%w: the output directory cannot be /", ErrInvalidOptions)
	}
	fi, err := os.Lstat(out)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, err := os.Stat(filepath.Dir(out)); err != nil {
			return "", nil, fmt.Errorf("output directory %s: its parent: %w", out, err)
		}
		return out, nil, nil
	case err != nil:
		return "", nil, fmt.Errorf("output directory %s: %w", out, err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return "", nil, fmt.Errorf("%w: output %s is a symbolic link", ErrInvalidOptions, out)
	case !fi.IsDir():
		return "", nil, fmt.Errorf("%w: output %s exists and is not a directory", ErrInvalidOptions, out)
	}
	if force {
		if err := replaceable(out); err != nil {
			return "", nil, err
		}
		return out, nil, nil
	}
	ents, err := os.ReadDir(out)
	if err != nil {
		return "", nil, fmt.Errorf("output directory %s: %w", out, err)
	}
	if len(ents) == 0 {
		return out, nil, nil
	}
	if err := builtBundle(out); err != nil {
		return "", nil, fmt.Errorf("%w: %s, and it is not a bundle vmctr built: choose another -o, or empty it yourself", ErrOutputExists, out)
	}
	// A bundle an earlier build wrote: the build goes on as far as its
	// inputs' digest, and leaves the bundle as it is if they match.
	if m, err := ReadManifest(filepath.Join(out, "rootfs")); err == nil && m.Build != nil && m.Build.Key != "" {
		return out, m, nil
	}
	return "", nil, fmt.Errorf("%w: %s (use --force to replace it)", ErrOutputExists, out)
}

// errUnchanged stops a build whose output is already there (builder.build
// to Build).
var errUnchanged = errors.New("the bundle is up to date")

// unchangedResult is Build's result for a bundle that was already built
// from the same inputs: the counts it recorded, nothing written.
func unchangedResult(out string, m *Manifest, began time.Time) *Result {
	r := &Result{
		Bundle: out, Rootfs: filepath.Join(out, "rootfs"), Unchanged: true,
		Files: m.Build.Files, Dirs: m.Build.Dirs, Symlinks: m.Build.Symlinks, Hardlinks: m.Build.Hardlinks,
		Generated: m.Build.Generated, Bytes: m.Build.Bytes, Users: m.Users, Start: m.Start,
	}
	r.Manifest = filepath.Join(r.Rootfs, ManifestPath)
	r.Duration = time.Since(began)
	r.Millis = r.Duration.Milliseconds()
	return r
}

// writeNew writes a file that must not exist yet, never through a
// symbolic link.
func writeNew(p string, data []byte, mode uint32) error {
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), p)
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// usernsOverlaps names what on this host already uses IDs in
// base..base+UsernsSize-1: subordinate ID ranges (/etc/subuid,
// /etc/subgid: rootless users' containers) and users of /etc/passwd.
func usernsOverlaps(base uint32) []string {
	lo, hi := uint64(base), uint64(base)+UsernsSize
	var out []string
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(data), "\n") {
			p := strings.Split(strings.TrimSpace(l), ":")
			if len(p) != 3 {
				continue
			}
			start, err1 := strconv.ParseUint(p[1], 10, 32)
			n, err2 := strconv.ParseUint(p[2], 10, 32)
			if err1 == nil && err2 == nil && start < hi && start+n > lo {
				out = append(out, fmt.Sprintf("%s's range %d-%d in %s", p[0], start, start+n-1, f))
			}
		}
	}
	if data, err := os.ReadFile("/etc/passwd"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			p := strings.Split(l, ":")
			if len(p) < 3 {
				continue
			}
			if uid, err := strconv.ParseUint(p[2], 10, 32); err == nil && uid >= lo && uid < hi {
				out = append(out, fmt.Sprintf("user %s (uid %d)", p[0], uid))
			}
		}
	}
	return out
}
