package elfdeps

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// maxLinks bounds a symlink chain, as the kernel's MAXSYMLINKS does.
const maxLinks = 40

// rootFS reads a source root. It owns one O_PATH descriptor of the root.
//
// Every lookup is a single openat2(2) beneath that descriptor with
// RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS on a path that
// resolve has already proven to be free of symlinks. Symlinks are followed by
// resolve itself, one component at a time, so that absolute targets are
// relative to the root, every link on the way is known, and a ".." above the
// root is reported instead of being clamped. If the tree changes under us
// (a directory swapped for a symlink), the kernel refuses the open: nothing is
// ever read from outside the root.
//
// rootFS is safe for concurrent use; it caches lstat results and resolutions
// for the lifetime of one Discover call.
type rootFS struct {
	host string // canonical host path of the root ("/" for this host)
	fd   int

	mu  sync.Mutex
	lst map[string]*node
	res map[string]resolveResult
}

// node is what lstat found at a canonical path.
type node struct {
	mode   uint32 // st_mode
	uid    uint32
	gid    uint32
	size   int64
	target string // symlink content
	err    error  // lstat failure (unix.Errno)
	st     Stat   // the whole lstat, for Result.Stats
}

func (n *node) isDir() bool     { return n.mode&unix.S_IFMT == unix.S_IFDIR }
func (n *node) isLink() bool    { return n.mode&unix.S_IFMT == unix.S_IFLNK }
func (n *node) isRegular() bool { return n.mode&unix.S_IFMT == unix.S_IFREG }

// hop is one symlink crossed while resolving a path.
type hop struct {
	Link   string // canonical path of the symlink itself
	Target string // its content, as stored
	// Final is true when the link stood for the last component (the file
	// itself, like libz.so.1 -> libz.so.1.2.13), false for a directory on
	// the way (like /lib -> usr/lib).
	Final bool
}

// resolution is a path resolved inside the root.
type resolution struct {
	Path string // canonical: no symlinks, no "." or ".."
	Hops []hop
	node *node // lstat of Path
}

type resolveResult struct {
	r   *resolution
	err error
}

// resolveError says why a path did not resolve; At is the path or link at fault.
type resolveError struct {
	Err    error // sentinel
	At     string
	Detail string
}

func (e *resolveError) Error() string {
	s := e.At + ": " + e.Err.Error()
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

func (e *resolveError) Unwrap() error { return e.Err }

func openRoot(root string) (*rootFS, error) {
	if root == "" {
		root = "/"
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("source root %s: %w", root, err)
	}
	// The root itself is trusted (the caller chose it); a symlink to it is fine.
	canon, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("source root %s: %w", root, err)
	}
	fd, err := unix.Open(canon, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening source root %s: %w", canon, err)
	}
	return &rootFS{host: canon, fd: fd, lst: map[string]*node{}, res: map[string]resolveResult{}}, nil
}

func (r *rootFS) close() error { return unix.Close(r.fd) }

// rel turns a canonical root path into the name openat2 wants.
func rel(p string) string {
	if p == "/" {
		return "."
	}
	return strings.TrimPrefix(p, "/")
}

// hostPath is where a root path lives on this host, for messages and for
// running things; it is never used to open files.
func (r *rootFS) hostPath(p string) string {
	if r.host == "/" {
		return p
	}
	return r.host + p
}

func (r *rootFS) openat2(p string, flags uint64) (int, error) {
	how := &unix.OpenHow{
		Flags:   flags | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	for {
		fd, err := unix.Openat2(r.fd, rel(p), how)
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		return fd, err
	}
}

// lstat returns what is at canonical path p, without following a final symlink.
func (r *rootFS) lstat(p string) *node {
	r.mu.Lock()
	n, ok := r.lst[p]
	r.mu.Unlock()
	if ok {
		return n
	}
	n = r.doLstat(p)
	r.mu.Lock()
	r.lst[p] = n
	r.mu.Unlock()
	return n
}

// doLstat opens p itself (O_PATH|O_NOFOLLOW, beneath the root, no symlink
// on the way) and fstats it.
func (r *rootFS) doLstat(p string) *node {
	n := &node{}
	fd, err := r.openat2(p, unix.O_PATH|unix.O_NOFOLLOW)
	if err != nil {
		n.err = err
		return n
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		n.err = err
		return n
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		buf := make([]byte, unix.PathMax)
		k, err := unix.Readlinkat(fd, "", buf)
		if err != nil {
			n.err = err
			return n
		}
		n.target = string(buf[:k])
	}
	n.mode, n.uid, n.gid, n.size = st.Mode, st.Uid, st.Gid, st.Size
	n.st = Stat{Stat_t: st, Link: n.target}
	return n
}

// stats returns what lstat found at every path it succeeded on.
// The root itself is always there, so that a caller can tell that its own
// descriptor of the root names the same directory.
func (r *rootFS) stats() map[string]*Stat {
	r.lstat("/")
	r.mu.Lock()
	defer r.mu.Unlock()
	m := make(map[string]*Stat, len(r.lst))
	for p, n := range r.lst {
		if n.err == nil {
			m[p] = &n.st
		}
	}
	return m
}

// resolve follows p (absolute, inside the root) to a file that is not a
// symlink, recording every link crossed. Errors are *resolveError wrapping
// ErrNotFound, ErrBrokenSymlink, ErrOutsideRoot or ErrUnreadable.
func (r *rootFS) resolve(p string) (*resolution, error) {
	r.mu.Lock()
	c, ok := r.res[p]
	r.mu.Unlock()
	if ok {
		return c.r, c.err
	}
	res, err := r.doResolve(p)
	r.mu.Lock()
	r.res[p] = resolveResult{res, err}
	r.mu.Unlock()
	return res, err
}

type component struct {
	name string
	from int // index of the hop whose target produced it, -1 for the request
}

func splitComponents(p string, from int) []component {
	var out []component
	for _, s := range strings.Split(p, "/") {
		if s == "" || s == "." {
			continue
		}
		out = append(out, component{s, from})
	}
	return out
}

func (r *rootFS) doResolve(p string) (*resolution, error) {
	pending := splitComponents(p, -1)
	cur := "/"
	var hops []hop
	blame := func(from int) string {
		if from >= 0 {
			return hops[from].Link
		}
		return p
	}
	for len(pending) > 0 {
		c := pending[0]
		pending = pending[1:]
		if c.name == ".." {
			if cur == "/" {
				d := ""
				if c.from >= 0 {
					d = "symlink to " + hops[c.from].Target
				}
				return nil, &resolveError{Err: ErrOutsideRoot, At: blame(c.from), Detail: d}
			}
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, c.name)
		n := r.lstat(next)
		if n.err != nil {
			return nil, r.lookupError(p, next, c.from, hops, n.err)
		}
		if n.isLink() {
			if len(hops) >= maxLinks {
				return nil, &resolveError{Err: ErrBrokenSymlink, At: next, Detail: "too many levels of symbolic links"}
			}
			hops = append(hops, hop{Link: next, Target: n.target, Final: len(pending) == 0})
			if strings.HasPrefix(n.target, "/") {
				cur = "/"
			}
			pending = append(splitComponents(n.target, len(hops)-1), pending...)
			continue
		}
		if len(pending) > 0 && !n.isDir() {
			return nil, r.lookupError(p, path.Join(next, pending[0].name), pending[0].from, hops, unix.ENOTDIR)
		}
		cur = next
	}
	return &resolution{Path: cur, Hops: hops, node: r.lstat(cur)}, nil
}

func (r *rootFS) lookupError(p, at string, from int, hops []hop, err error) error {
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR):
		if from >= 0 {
			h := hops[from]
			return &resolveError{Err: ErrBrokenSymlink, At: h.Link, Detail: fmt.Sprintf("target %s: %s does not exist", h.Target, at)}
		}
		if at != p {
			return &resolveError{Err: ErrNotFound, At: p, Detail: at + " does not exist"}
		}
		return &resolveError{Err: ErrNotFound, At: p}
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return &resolveError{Err: ErrUnreadable, At: at, Detail: err.Error()}
	case errors.Is(err, unix.ELOOP), errors.Is(err, unix.EXDEV):
		// A component changed into a symlink since we looked at it.
		return &resolveError{Err: ErrUnreadable, At: at, Detail: "changed while being resolved: " + err.Error()}
	default:
		return &resolveError{Err: ErrUnreadable, At: at, Detail: err.Error()}
	}
}

// open opens canonical path p for reading; it must be a regular file.
func (r *rootFS) open(p string) (*os.File, error) {
	fd, err := r.openat2(p, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK)
	if err != nil {
		return nil, r.lookupError(p, p, -1, nil, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &resolveError{Err: ErrUnreadable, At: p, Detail: err.Error()}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, &resolveError{Err: ErrUnreadable, At: p, Detail: "not a regular file but " + fileType(st.Mode)}
	}
	return os.NewFile(uintptr(fd), r.hostPath(p)), nil
}

// readFile reads a whole (small) regular file at canonical path p.
func (r *rootFS) readFile(p string) ([]byte, error) {
	f, err := r.open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 64<<20))
	if err != nil {
		return nil, &resolveError{Err: ErrUnreadable, At: p, Detail: err.Error()}
	}
	return b, nil
}

// readResolved resolves p and reads the file it leads to; a missing file is
// reported with fs.ErrNotExist so optional files are easy to skip.
func (r *rootFS) readResolved(p string) ([]byte, *resolution, error) {
	res, err := r.resolve(p)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, nil, fs.ErrNotExist
		}
		return nil, nil, err
	}
	b, err := r.readFile(res.Path)
	return b, res, err
}

// readDir lists canonical directory p, sorted by name.
func (r *rootFS) readDir(p string) ([]string, error) {
	fd, err := r.openat2(p, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil, r.lookupError(p, p, -1, nil, err)
	}
	f := os.NewFile(uintptr(fd), r.hostPath(p))
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, &resolveError{Err: ErrUnreadable, At: p, Detail: err.Error()}
	}
	slices.Sort(names)
	return names, nil
}

func fileType(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFIFO:
		return "a FIFO"
	case unix.S_IFSOCK:
		return "a socket"
	case unix.S_IFCHR:
		return "a character device"
	case unix.S_IFBLK:
		return "a block device"
	case unix.S_IFLNK:
		return "a symlink"
	case unix.S_IFREG:
		return "a regular file"
	}
	return fmt.Sprintf("file type %#o", mode&unix.S_IFMT)
}
