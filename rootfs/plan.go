package rootfs

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/vmctr/vmctr/rootfs/elfdeps"
)

// maxSymlinkHops bounds symlink resolution, like the kernel's MAXSYMLINKS.
const maxSymlinkHops = 40

type nodeKind int

const (
	kindDir nodeKind = iota
	kindFile
	kindSymlink
	kindHardlink
	kindFifo
)

func (k nodeKind) String() string {
	return [...]string{TypeDir, TypeFile, TypeSymlink, TypeHardlink, TypeFifo}[k]
}

// node is one path of the new root file system. Its path is canonical (no
// symbolic link in its parents) and the same inside the source root and
// the container.
type node struct {
	path   string
	kind   nodeKind
	st     unix.Stat_t // of the source (lstat)
	target string      // a symlink's target, verbatim
	linkTo string      // a hard link: the path of the first name of its inode
	reason string
	detail string
	via    string // what made it needed (Entry.Via)

	// filled while copying
	sha256 string
	mode   uint32 // the permission bits given to the copy
	uid    int
	gid    int
	note   string // what was changed on purpose (setuid stripped, ...)
}

// planner turns needed paths into nodes, resolving symbolic links inside
// the source root the way the container will see them: an absolute link
// target starts again at the source root, and ".." never climbs above it.
// It reads the source through srcFd (the source root, opened O_PATH) and
// never follows a link without recording it.
//
// Not safe for concurrent use.
type planner struct {
	// named are the paths the user named (--file): a link among them
	// that escapes the root or loops is an error; one found inside a named
	// tree is copied as it is, with a warning.
	named   map[string]bool
	srcRoot string // for messages
	srcFd   int
	nodes   map[string]*node
	lstats  map[string]*unix.Stat_t
	links   map[string]string        // symlink targets read ahead by prefetch
	known   map[string]*elfdeps.Stat // what discovery saw (nil: nothing)
	skip    func(string) bool        // paths never planned (nil: none)
	skipped int
}

// newPlanner returns a planner of the source root srcFd. known, if not nil,
// is what discovery's lstat(2) found at canonical paths of the same root
// (elfdeps.Result.Stats): the planner takes it instead of looking again.
// The copier checks every regular file it opens against these stats, so a
// file that changed since fails the build.
func newPlanner(srcRoot string, srcFd int, known map[string]*elfdeps.Stat) *planner {
	return &planner{srcRoot: srcRoot, srcFd: srcFd, nodes: map[string]*node{},
		lstats: map[string]*unix.Stat_t{}, links: map[string]string{}, known: known}
}

// rel makes a canonical absolute path relative to the source root fd.
func rel(p string) string {
	if p == "/" {
		return "."
	}
	return strings.TrimPrefix(p, "/")
}

func (pl *planner) lstat(p string) (*unix.Stat_t, error) {
	if st, ok := pl.lstats[p]; ok {
		return st, nil
	}
	if k, ok := pl.known[p]; ok {
		return &k.Stat_t, nil
	}
	var st unix.Stat_t
	// p is canonical: its parents were checked not to be symlinks, so
	// AT_SYMLINK_NOFOLLOW covers the only link left. Files are opened
	// later with RESOLVE_NO_SYMLINKS and checked against this stat.
	if err := unix.Fstatat(pl.srcFd, rel(p), &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, err
	}
	pl.lstats[p] = &st
	return &st, nil
}

// prefetch lstats paths, and reads those that are links, with several
// goroutines before resolve walks them one at a time (a build lists
// hundreds; each is a syscall or two). A path whose parents are not
// canonical may be stat'ed through a link here, but resolve only ever
// looks up paths whose parents it has checked, so such an entry is never
// used.
func (pl *planner) prefetch(paths []string) {
	type result struct {
		st   unix.Stat_t
		link string
		ok   bool
	}
	paths = slices.DeleteFunc(slices.Clone(paths), func(p string) bool { _, ok := pl.known[p]; return ok })
	if len(paths) == 0 {
		return
	}
	res := make([]result, len(paths))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0)*2, 8, len(paths)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(paths); i = int(next.Add(1) - 1) {
				r := &res[i]
				if unix.Fstatat(pl.srcFd, rel(paths[i]), &r.st, unix.AT_SYMLINK_NOFOLLOW) != nil {
					continue
				}
				r.ok = true
				if r.st.Mode&unix.S_IFMT == unix.S_IFLNK {
					r.link, _ = readlinkAt(pl.srcFd, paths[i])
				}
			}
		}()
	}
	wg.Wait()
	for i, p := range paths {
		if res[i].ok {
			pl.lstats[p] = &res[i].st
			if res[i].link != "" {
				pl.links[p] = res[i].link
			}
		}
	}
}

func (pl *planner) readlink(p string) (string, error) {
	if t, ok := pl.links[p]; ok {
		return t, nil
	}
	if k, ok := pl.known[p]; ok && k.Mode&unix.S_IFMT == unix.S_IFLNK {
		return k.Link, nil
	}
	return readlinkAt(pl.srcFd, p)
}

func readlinkAt(dirfd int, p string) (string, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Readlinkat(dirfd, rel(p), buf)
		if err != nil {
			return "", err
		}
		if n < len(buf) {
			return string(buf[:n]), nil
		}
		buf = make([]byte, 2*len(buf))
	}
}

// pathError names the path (inside the source root) a build failed on.
func (pl *planner) pathError(what, p string, err error, detail string) error {
	msg := fmt.Sprintf("%s %s", what, p)
	if pl.srcRoot != "/" {
		msg += " (in source root " + pl.srcRoot + ")"
	}
	if detail != "" {
		return fmt.Errorf("%s: %w: %s", msg, err, detail)
	}
	return fmt.Errorf("%s: %w", msg, err)
}

// add plans p (absolute, inside the source root) and everything on the way
// to it: its parent directories and every symbolic link its resolution
// passes, each recreated as a link. The first reason given for a path
// wins, except that a directory planned only as a parent takes the reason
// of a later explicit request. reason, detail and via say why p is needed
// (elfdeps.File); what lies on the way is needed via p.
func (pl *planner) add(p, reason, detail, via string) error {
	if !path.IsAbs(p) {
		return pl.pathError("path", p, ErrOutsideRoot, "not an absolute path")
	}
	p = path.Clean(p)
	if isKernelPath(p) {
		return pl.pathError("file", p, ErrKernelFile, "")
	}
	if isRuntimePath(p) {
		logrus.Debugf("rootfs: skipping %s: the runtime mounts it in every container", p)
		return nil
	}
	if pl.skip != nil && pl.skip(p) {
		logrus.Debugf("rootfs: skipping %s: it is the build's own output", p)
		pl.skipped++
		return nil
	}
	canon, err := pl.resolve(p, reason, detail, via)
	if err != nil {
		return err
	}
	if canon == "" {
		return nil // ends in a runtime directory
	}
	if isKernelPath(canon) {
		return pl.pathError("file", p, ErrKernelFile, "resolves to "+canon)
	}
	return nil
}

// resolve walks p component by component from the source root, planning
// each directory and symbolic link on the way and the file it ends at,
// which gets reason and detail (or "symlink" if p itself is a link). It
// returns the canonical path.
func (pl *planner) resolve(p, reason, detail, via string) (string, error) {
	// comp is a path component still to walk, with the link whose target
	// it came from ("" if it is part of p itself).
	type comp struct{ name, link string }
	split := func(s, link string) []comp {
		var out []comp
		for _, c := range strings.Split(s, "/") {
			out = append(out, comp{c, link})
		}
		return out
	}
	var todo []comp
	cur := "/"
	if d := path.Dir(p); d != "/" {
		if n, ok := pl.nodes[d]; ok && n.kind == kindDir {
			// A planned directory's path is canonical, and was checked
			// on the way when it was planned: start there.
			todo, cur = []comp{{path.Base(p), ""}}, d
		}
	}
	if todo == nil {
		todo = split(strings.TrimPrefix(p, "/"), "")
	}
	hops := 0
	pIsLink := false // p's own last component is a link
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c.name {
		case "", ".":
			continue
		case "..":
			if cur == "/" {
				if c.link != "" && pIsLink && !essential(reason) && !pl.named[p] {
					// As a dangling link below: a link found in a tree
					// is copied as it is (inside the container its ".."
					// stops at the root, as in the source root).
					logrus.Warnf("rootfs: symbolic link %s climbs above the source root; copied as it is", c.link)
					return "", nil
				}
				if c.link != "" {
					return "", pl.pathError("path", p, ErrOutsideRoot, "symbolic link "+c.link+" climbs above the root")
				}
				return "", pl.pathError("path", p, ErrOutsideRoot, "it climbs above the root")
			}
			cur = path.Dir(cur)
			continue
		}
		next := "/" + c.name
		if cur != "/" {
			next = cur + next
		}
		if isKernelPath(next) {
			return "", pl.pathError("file", p, ErrKernelFile, "resolves through "+next)
		}
		if isRuntimePath(next) {
			logrus.Debugf("rootfs: not following %s into %s: the runtime mounts it", p, next)
			return "", nil
		}
		st, err := pl.lstat(next)
		if err != nil {
			switch {
			case errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR):
				if pIsLink && !essential(reason) {
					// p itself is a link that dangles in the source too
					// (found in a directory tree, say): it is copied as
					// it is. Programs and libraries must resolve.
					logrus.Warnf("rootfs: %s is a dangling symbolic link in the source (%s does not exist); copied as it is", p, next)
					return "", nil
				}
				if c.link != "" {
					return "", pl.pathError("file", p, ErrBrokenSymlink, fmt.Sprintf("link %s leads to %s, which does not exist", c.link, next))
				}
				if next != p {
					return "", pl.pathError("file", p, ErrNotFound, next+" does not exist")
				}
				return "", pl.pathError("file", p, ErrNotFound, "")
			case errors.Is(err, fs.ErrPermission):
				return "", pl.pathError("file", p, ErrUnreadable, err.Error())
			}
			return "", pl.pathError("file", p, err, "")
		}
		last := len(todo) == 0
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			hops++
			if hops > maxSymlinkHops {
				if pIsLink && !essential(reason) && !pl.named[p] {
					logrus.Warnf("rootfs: %s: too many levels of symbolic links (a loop?) in the source; copied as it is", p)
					return "", nil
				}
				return "", pl.pathError("file", p, ErrBrokenSymlink, "too many levels of symbolic links")
			}
			target, err := pl.readlink(next)
			if err != nil {
				return "", pl.pathError("symbolic link", next, ErrUnreadable, err.Error())
			}
			if target == "" {
				return "", pl.pathError("file", p, ErrBrokenSymlink, "link "+next+" is empty")
			}
			r, d, v := ReasonSymlink, "on the way to "+p, p
			if last && !pIsLink && c.link == "" {
				r, d, v = reason, detail, via
				pIsLink = true
			}
			pl.put(&node{path: next, kind: kindSymlink, st: *st, target: target, reason: r, detail: d, via: v})
			if path.IsAbs(target) {
				cur = "/"
			}
			todo = append(split(target, next), todo...)
			continue
		}
		if !last && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			if c.link != "" {
				return "", pl.pathError("file", p, ErrBrokenSymlink, fmt.Sprintf("link %s leads through %s, which is not a directory", c.link, next))
			}
			return "", pl.pathError("file", p, ErrNotFound, next+" is not a directory")
		}
		cur = next
		if !last {
			if _, ok := pl.nodes[cur]; !ok {
				pl.put(&node{path: cur, kind: kindDir, st: *st, reason: ReasonParent, detail: "directory of " + p, via: p})
			}
			continue
		}
		r, d, v := reason, detail, via
		if pIsLink {
			r, d, v = ReasonSymlink, "target of "+p, p
		}
		n := &node{path: cur, st: *st, reason: r, detail: d, via: v}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			n.kind = kindDir
		case unix.S_IFREG:
			n.kind = kindFile
		case unix.S_IFIFO:
			n.kind = kindFifo
		default:
			// Devices and sockets are never copied: the runtime makes
			// /dev, and sockets belong to running programs.
			logrus.Warnf("rootfs: skipping %s: device files and sockets are not copied", cur)
			return cur, nil
		}
		pl.put(n)
	}
	return cur, nil
}

// essential reports whether a file needed for this reason must exist: an
// app, a library or an interpreter. Other paths (explicit files, package
// contents, traced files) may be links that dangle in the source as well.
func essential(reason string) bool {
	switch reason {
	case "app", "elf-dep", "interpreter":
		return true
	}
	return false
}

// ReasonSymlink is elfdeps' reason for a link on the way to a needed file.
const ReasonSymlink = "symlink"

// put records n unless its path is planned already; a parent directory
// takes a later, stronger reason.
func (pl *planner) put(n *node) {
	old, ok := pl.nodes[n.path]
	if !ok {
		pl.nodes[n.path] = n
		return
	}
	if old.kind == kindDir && old.reason == ReasonParent && n.reason != ReasonParent {
		old.reason, old.detail, old.via = n.reason, n.detail, n.via
	}
}

// ensureDir plans a directory every container has, unless the source
// provided it.
func (pl *planner) ensureDir(p string, mode uint32) {
	if _, ok := pl.nodes[p]; ok {
		return
	}
	for d := path.Dir(p); d != "/"; d = path.Dir(d) {
		if n, ok := pl.nodes[d]; ok && n.kind != kindDir {
			logrus.Debugf("rootfs: no %s: %s is a %s in the source", p, d, n.kind)
			return
		}
	}
	pl.nodes[p] = &node{path: p, kind: kindDir, st: unix.Stat_t{Mode: unix.S_IFDIR | mode}, reason: ReasonSkeleton,
		detail: "every container has it"}
}

// sorted returns the nodes in path order (parents before children), with
// hard links among regular files found: the first name of a source inode
// is copied, later names become hard links to it.
func (pl *planner) sorted() []*node {
	out := make([]*node, 0, len(pl.nodes))
	for _, n := range pl.nodes {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	type devIno struct{ dev, ino uint64 }
	first := map[devIno]string{}
	for _, n := range out {
		if n.kind != kindFile || n.st.Nlink < 2 {
			continue
		}
		k := devIno{n.st.Dev, n.st.Ino}
		if f, ok := first[k]; ok {
			n.kind, n.linkTo = kindHardlink, f
		} else {
			first[k] = n.path
		}
	}
	return out
}
