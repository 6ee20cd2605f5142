package rootfs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"os"
	"path"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// copier writes planned nodes into the new root file system. Every path it
// creates is opened beneath the new root with RESOLVE_NO_SYMLINKS (the
// links it makes itself are never followed) and created with O_EXCL and
// O_NOFOLLOW; every source file is opened beneath the source root with
// RESOLVE_NO_SYMLINKS, so a link swapped in during the build fails the
// open instead of leading elsewhere. Nothing is ever hard-linked to or
// mounted from the source: a hard link joins two copies in the new root.
//
// The copier owns the directory fds in dirs until close. Files are copied
// by several goroutines; everything else runs on the caller's goroutine.
type copier struct {
	srcFd      int // source root, O_PATH
	dstFd      int // new root, O_RDONLY|O_DIRECTORY
	keepSetuid bool
	asRoot     bool   // chown copies to their source owners
	idShift    uint32 // added to owners on the host: a user namespace's base (0: none)
	uid, gid   int    // who creates the copies: their owner unless chowned
	umask      uint32 // the process's, applied to new files

	dirs map[string]int // open directories of the new root, by path

	bytes atomic.Int64
	files atomic.Int64
}

const openHow = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV

func openBeneath(dirfd int, p string, flags uint64, xdev bool) (int, error) {
	how := uint64(openHow)
	if !xdev {
		how &^= unix.RESOLVE_NO_XDEV
	}
	for {
		fd, err := unix.Openat2(dirfd, rel(p), &unix.OpenHow{Flags: flags | unix.O_CLOEXEC, Resolve: how})
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		return fd, err
	}
}

func newCopier(srcFd, dstFd int, keepSetuid bool) *copier {
	return &copier{
		srcFd: srcFd, dstFd: dstFd, keepSetuid: keepSetuid,
		asRoot: os.Geteuid() == 0, uid: os.Geteuid(), gid: os.Getegid(), umask: processUmask(),
		dirs: map[string]int{"/": dstFd},
	}
}

// fchown gives the copy open as fd n's owner, as the host sees it.
func (c *copier) fchown(fd int, n *node) error {
	u, g := c.hostIDs(n.uid, n.gid)
	return unix.Fchown(fd, u, g)
}

// lchownat gives the entry base of directory pfd n's owner, as the host
// sees it, without following a symbolic link.
func (c *copier) lchownat(pfd int, base string, n *node) error {
	u, g := c.hostIDs(n.uid, n.gid)
	return unix.Fchownat(pfd, base, u, g, unix.AT_SYMLINK_NOFOLLOW)
}

// processUmask reads the umask without changing it (umask(2) can only
// set it, and it is process-wide).
func processUmask() uint32 {
	b, err := os.ReadFile("/proc/self/status")
	if err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "Umask:"); ok {
				if m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
					return uint32(m)
				}
			}
		}
	}
	return 0o777 // unknown: always set modes explicitly
}

// chowned reports whether a copy made by the builder must be given
// another owner: new entries belong to the builder (the new root's
// directories have no setgid bit while the build runs).
func (c *copier) chowned(uid, gid int) bool {
	u, g := c.hostIDs(uid, gid)
	return c.asRoot && (u != c.uid || g != c.gid)
}

// hostIDs turns a copy's owner, as the container sees it, into the IDs it
// has on the host (shifted by a user namespace's base).
func (c *copier) hostIDs(uid, gid int) (int, int) {
	return uid + int(c.idShift), gid + int(c.idShift)
}

// close closes the directory fds (not the root's).
func (c *copier) close() {
	for p, fd := range c.dirs {
		if p != "/" {
			unix.Close(fd)
		}
	}
	c.dirs = nil
}

// parent returns the open directory that will hold p and p's base name.
func (c *copier) parent(p string) (int, string, error) {
	d := path.Dir(p)
	fd, ok := c.dirs[d]
	if !ok {
		return -1, "", fmt.Errorf("creating %s: parent directory %s was not created", p, d)
	}
	return fd, path.Base(p), nil
}

// owner returns who owns the copy of n.
func (c *copier) owner(n *node) (int, int) {
	if c.asRoot {
		return int(n.st.Uid), int(n.st.Gid)
	}
	return c.uid, c.gid
}

// perm returns the permission bits of the copy of n: setuid and setgid are
// dropped from files unless asked for (directories keep setgid, which
// only sets the group of new files).
func (c *copier) perm(n *node) (uint32, string) {
	m := n.st.Mode & 0o7777
	if n.kind == kindDir || c.keepSetuid || m&(unix.S_ISUID|unix.S_ISGID) == 0 {
		return m, ""
	}
	return m &^ (unix.S_ISUID | unix.S_ISGID), fmt.Sprintf("setuid/setgid bits removed (source mode %04o)", m)
}

// mkdirs creates the directories, in path order, accessible only to the
// builder until finishDirs gives them their final modes.
func (c *copier) mkdirs(nodes []*node) error {
	// A level (depth) at a time, each parent's new directories by one
	// goroutine: their parents exist, and no two goroutines create in
	// the same directory.
	type group struct {
		parent string
		dirs   []*node
		fds    []int
	}
	var levels [][]*group
	byParent := map[string]*group{}
	for _, n := range nodes {
		if n.kind != kindDir || n.path == "/" {
			continue
		}
		n.uid, n.gid = c.owner(n)
		n.mode, _ = c.perm(n)
		depth := strings.Count(n.path, "/")
		for len(levels) < depth {
			levels = append(levels, nil)
		}
		d := path.Dir(n.path)
		g := byParent[d]
		if g == nil {
			g = &group{parent: d}
			byParent[d] = g
			levels[depth-1] = append(levels[depth-1], g)
		}
		g.dirs = append(g.dirs, n)
	}
	for _, level := range levels {
		errs := make([]error, len(level))
		var wg sync.WaitGroup
		var next atomic.Int64
		for range min(runtime.GOMAXPROCS(0)*2, len(level)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := int(next.Add(1) - 1); i < len(level); i = int(next.Add(1) - 1) {
					errs[i] = c.mkdirGroup(level[i].parent, level[i].dirs, &level[i].fds)
				}
			}()
		}
		wg.Wait()
		// Record the fds even after an error, so that close closes them.
		for _, g := range level {
			for i, fd := range g.fds {
				c.dirs[g.dirs[i].path] = fd
			}
		}
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
	return nil
}

// mkdirGroup creates dirs (all in parent, which exists) and opens them.
// Called concurrently for different parents; c.dirs is only read.
func (c *copier) mkdirGroup(parent string, dirs []*node, fds *[]int) error {
	pfd, ok := c.dirs[parent]
	if !ok {
		return fmt.Errorf("creating %s: parent directory %s was not created", dirs[0].path, parent)
	}
	for _, n := range dirs {
		base := path.Base(n.path)
		if err := unix.Mkdirat(pfd, base, 0o700); err != nil {
			return fmt.Errorf("creating directory %s: %w", n.path, err)
		}
		fd, err := openBeneath(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, true)
		if err != nil {
			return fmt.Errorf("opening directory %s: %w", n.path, err)
		}
		*fds = append(*fds, fd)
	}
	return nil
}

// finishDirs gives the directories their owners, modes, extended
// attributes and times, deepest first (creating entries changes a
// directory's times).
func (c *copier) finishDirs(nodes []*node) error {
	for i := len(nodes) - 1; i >= 0; i-- {
		n := nodes[i]
		if n.kind != kindDir || n.path == "/" {
			continue
		}
		fd := c.dirs[n.path]
		if c.chowned(n.uid, n.gid) {
			if err := c.fchown(fd, n); err != nil {
				return fmt.Errorf("setting the owner of directory %s: %w", n.path, err)
			}
		}
		if n.reason != ReasonSkeleton && n.reason != ReasonGenerated {
			if sfd, err := openBeneath(c.srcFd, n.path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, false); err == nil {
				c.copyXattrs(sfd, fd, n.path)
				unix.Close(sfd)
			}
		}
		if err := unix.Fchmod(fd, n.mode); err != nil {
			return fmt.Errorf("setting the mode of directory %s: %w", n.path, err)
		}
		if n.st.Mtim.Sec != 0 || n.st.Mtim.Nsec != 0 {
			if err := futimens(fd, []unix.Timespec{n.st.Atim, n.st.Mtim}); err != nil {
				return fmt.Errorf("setting the times of directory %s: %w", n.path, err)
			}
		}
	}
	return nil
}

// futimens sets the access and modification times of an open file
// (utimensat with a NULL path, which x/sys/unix does not offer).
func futimens(fd int, ts []unix.Timespec) error {
	_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// bigFile is the size from which a file is copied as a job of its own
// instead of with the rest of its directory.
const bigFile = 256 << 10

// copyEntries copies the regular files and makes the symbolic links and
// FIFOs with up to GOMAXPROCS*2 goroutines; progress is called after each
// regular file. Directories must exist already; hard links come after
// (hardlinks).
//
// Work is handed out a directory at a time: entries created in the same
// directory at once contend for its lock, which on ext4 made parallel
// creation slower than serial. A big file (bigFile) is a job of its own:
// reading, hashing and writing it cost far more than its entry, and the
// big files of a closure share a directory (the libraries). The jobs with
// the most work go first, so that a big one does not finish alone at the
// end.
func (c *copier) copyEntries(ctx context.Context, nodes []*node, progress func(*node)) error {
	type batch struct {
		nodes []*node
		cost  int64
	}
	byDir := map[string]*batch{}
	var batches []*batch
	for _, n := range nodes {
		if n.kind != kindFile && n.kind != kindSymlink && n.kind != kindFifo {
			continue
		}
		if n.kind == kindFile && n.st.Size >= bigFile {
			batches = append(batches, &batch{nodes: []*node{n}, cost: 64<<10 + n.st.Size})
			continue
		}
		d := path.Dir(n.path)
		b := byDir[d]
		if b == nil {
			b = &batch{}
			byDir[d] = b
			batches = append(batches, b)
		}
		b.nodes = append(b.nodes, n)
		// Creating an entry costs about as much as copying 64 KiB.
		b.cost += 64<<10 + max(n.st.Size, 0)
	}
	sort.SliceStable(batches, func(i, j int) bool { return batches[i].cost > batches[j].cost })
	workers := min(copyWorkers(), len(batches))
	// Workers take the next batch through an atomic index rather than
	// a channel: no hand-off wakes a goroutine, and the caller is one of
	// them.
	var next atomic.Int64
	errs := make([]error, workers)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := func(w int) {
		buf := make([]byte, copyBufSize)
		h := sha256.New()
		for i := int(next.Add(1) - 1); i < len(batches); i = int(next.Add(1) - 1) {
			for _, n := range batches[i].nodes {
				if ctx.Err() != nil {
					return
				}
				var err error
				if n.kind == kindFile {
					err = c.copyFile(n, buf, h)
				} else {
					err = c.makeSpecial(n)
				}
				if err != nil {
					errs[w] = err
					cancel()
					return
				}
				if progress != nil && n.kind == kindFile {
					progress(n)
				}
			}
		}
	}
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work(w)
		}()
	}
	work(0)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}

// copyBufSize is the buffer of each copy worker: a file is read, hashed
// and written through it in one pass, so each byte is read once. Measured
// on the nginx closure (docs/build.md): 128 KiB was as fast as or slightly
// faster than 64 KiB, 256 KiB and 1 MiB, and copy_file_range(2) followed
// by a second pass to hash the copy was no faster than this on ext4 (and
// is refused across file systems).
const copyBufSize = 128 << 10

// copyWorkers is the number of copy workers: two per CPU, so that one can
// wait for the disk while the other hashes.
func copyWorkers() int {
	return min(runtime.GOMAXPROCS(0)*2, 16)
}

func (c *copier) copyFile(n *node, buf []byte, h hash.Hash) error {
	pfd, base, err := c.parent(n.path)
	if err != nil {
		return err
	}
	sfd, err := openBeneath(c.srcFd, n.path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NOCTTY|unix.O_NONBLOCK, false)
	if err != nil {
		if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
			return fmt.Errorf("copying %s: %w: %w", n.path, ErrUnreadable, err)
		}
		return fmt.Errorf("copying %s: opening the source: %w", n.path, err)
	}
	defer unix.Close(sfd)
	var st unix.Stat_t
	if err := unix.Fstat(sfd, &st); err != nil {
		return fmt.Errorf("copying %s: %w", n.path, err)
	}
	if st.Dev != n.st.Dev || st.Ino != n.st.Ino || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("copying %s: the source changed during the build", n.path)
	}
	n.st = st
	n.uid, n.gid = c.owner(n)
	n.mode, n.note = c.perm(n)
	// Created with its final permissions (the directory is reachable only
	// by the builder until the end); chmod only if the umask took some
	// away, or after a chown, which clears setuid and setgid.
	dfd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, n.mode&0o777)
	if err != nil {
		return fmt.Errorf("copying %s: creating the copy: %w", n.path, err)
	}
	defer unix.Close(dfd)
	h.Reset()
	var total int64
	// Read what fstat said is there; a file that grows meanwhile is
	// copied as it was, one that shrinks as it is.
	for total < st.Size {
		r, err := unix.Read(sfd, buf[:min(int64(len(buf)), st.Size-total)])
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		if err != nil {
			if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EIO) || errors.Is(err, unix.EISDIR) {
				return fmt.Errorf("copying %s: %w: %w", n.path, ErrUnreadable, err)
			}
			return fmt.Errorf("copying %s: reading: %w", n.path, err)
		}
		if r == 0 {
			break
		}
		h.Write(buf[:r])
		for w := 0; w < r; {
			k, err := unix.Write(dfd, buf[w:r])
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return fmt.Errorf("copying %s: writing: %w", n.path, err)
			}
			w += k
		}
		total += int64(r)
	}
	n.sha256 = hex.EncodeToString(h.Sum(nil))
	n.st.Size = total
	chown := c.chowned(n.uid, n.gid)
	if chown {
		if err := c.fchown(dfd, n); err != nil {
			return fmt.Errorf("copying %s: setting the owner: %w", n.path, err)
		}
	}
	c.copyXattrs(sfd, dfd, n.path)
	if n.mode&c.umask != 0 || n.mode&0o7000 != 0 {
		if err := unix.Fchmod(dfd, n.mode); err != nil {
			return fmt.Errorf("copying %s: setting the mode: %w", n.path, err)
		}
	}
	if err := futimens(dfd, []unix.Timespec{st.Atim, st.Mtim}); err != nil {
		return fmt.Errorf("copying %s: setting the times: %w", n.path, err)
	}
	c.bytes.Add(total)
	c.files.Add(1)
	return nil
}

// copyXattrs copies the extended attributes it can; file capabilities
// (security.capability) only with keepSetuid, since they grant privileges
// like setuid does. Attributes the new file system refuses are skipped.
func (c *copier) copyXattrs(sfd, dfd int, p string) {
	var small [1024]byte
	list := small[:]
	sz, err := unix.Flistxattr(sfd, list)
	if errors.Is(err, unix.ERANGE) {
		if sz, err = unix.Flistxattr(sfd, nil); err == nil && sz > 0 {
			list = make([]byte, sz)
			sz, err = unix.Flistxattr(sfd, list)
		}
	}
	if err != nil || sz <= 0 {
		return
	}
	for _, name := range strings.Split(strings.TrimRight(string(list[:sz]), "\x00"), "\x00") {
		if name == "" || (name == "security.capability" && !c.keepSetuid) {
			if name != "" {
				logrus.Debugf("rootfs: %s: not copying file capabilities (keep-setuid is off)", p)
			}
			continue
		}
		vsz, err := unix.Fgetxattr(sfd, name, nil)
		if err != nil {
			continue
		}
		val := make([]byte, vsz)
		if vsz, err = unix.Fgetxattr(sfd, name, val); err != nil {
			continue
		}
		if err := unix.Fsetxattr(dfd, name, val[:vsz], 0); err != nil {
			logrus.Debugf("rootfs: %s: not copying extended attribute %s: %v", p, name, err)
		}
	}
}

// makeSpecial makes a symbolic link or a FIFO.
func (c *copier) makeSpecial(n *node) error {
	pfd, base, err := c.parent(n.path)
	if err != nil {
		return err
	}
	n.uid, n.gid = c.owner(n)
	switch n.kind {
	case kindSymlink:
		if err := unix.Symlinkat(n.target, pfd, base); err != nil {
			return fmt.Errorf("creating symbolic link %s: %w", n.path, err)
		}
		n.mode = 0o777
		if c.chowned(n.uid, n.gid) {
			if err := c.lchownat(pfd, base, n); err != nil {
				return fmt.Errorf("setting the owner of symbolic link %s: %w", n.path, err)
			}
		}
		_ = unix.UtimesNanoAt(pfd, base, []unix.Timespec{n.st.Atim, n.st.Mtim}, unix.AT_SYMLINK_NOFOLLOW)
	case kindFifo:
		n.mode, n.note = c.perm(n)
		if err := unix.Mknodat(pfd, base, unix.S_IFIFO|0o600, 0); err != nil {
			return fmt.Errorf("creating FIFO %s: %w", n.path, err)
		}
		// The FIFO was just made in a directory only the builder can
		// reach, so its name still refers to it.
		if c.asRoot {
			err = c.lchownat(pfd, base, n)
		}
		if err == nil {
			err = unix.Fchmodat(pfd, base, n.mode, 0)
		}
		if err != nil {
			return fmt.Errorf("setting up FIFO %s: %w", n.path, err)
		}
	}
	return nil
}

// hardlinks makes the hard links, each to the copy of its first name.
func (c *copier) hardlinks(nodes []*node) error {
	// Hard links last: their first names are all copied by now.
	for _, n := range nodes {
		if n.kind != kindHardlink {
			continue
		}
		first := c.findCopied(nodes, n.linkTo)
		if first == nil {
			return fmt.Errorf("creating hard link %s: %s was not copied", n.path, n.linkTo)
		}
		tfd, tbase, err := c.parent(first.path)
		if err != nil {
			return err
		}
		pfd, base, err := c.parent(n.path)
		if err != nil {
			return err
		}
		if err := unix.Linkat(tfd, tbase, pfd, base, 0); err != nil {
			return fmt.Errorf("creating hard link %s to %s: %w", n.path, first.path, err)
		}
		n.sha256, n.mode, n.uid, n.gid, n.note = first.sha256, first.mode, first.uid, first.gid, first.note
		n.st.Size = first.st.Size
	}
	return nil
}

func (c *copier) findCopied(nodes []*node, p string) *node {
	i := sort.Search(len(nodes), func(i int) bool { return nodes[i].path >= p })
	if i < len(nodes) && nodes[i].path == p && nodes[i].kind == kindFile {
		return nodes[i]
	}
	return nil
}

// writeFile creates a new regular file at p (its parent created already)
// with data; it returns the sha256 of data.
func (c *copier) writeFile(p string, data []byte, mode uint32, uid, gid int) (string, error) {
	pfd, base, err := c.parent(p)
	if err != nil {
		return "", err
	}
	fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return "", fmt.Errorf("creating %s: %w", p, err)
	}
	defer unix.Close(fd)
	for w := 0; w < len(data); {
		k, err := unix.Write(fd, data[w:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("writing %s: %w", p, err)
		}
		w += k
	}
	if c.asRoot {
		hu, hg := c.hostIDs(uid, gid)
		if err := unix.Fchown(fd, hu, hg); err != nil {
			return "", fmt.Errorf("setting the owner of %s: %w", p, err)
		}
	}
	if err := unix.Fchmod(fd, mode); err != nil {
		return "", fmt.Errorf("setting the mode of %s: %w", p, err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}
