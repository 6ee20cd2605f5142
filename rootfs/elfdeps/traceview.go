package elfdeps

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// A trace view is the file system a traced app sees: a private, throw-away
// copy of the source root (with its mounts, but a minimal /dev of its own:
// null, zero, full, random, urandom, tty, a new devpts instance, a private
// shm), built in a private mount namespace on a tmpfs that exists only in
// that namespace. Nothing of it is on disk: when
// the namespace ends (the tracing thread and every traced process are
// gone, however the build ends, SIGKILL included), the kernel takes all of
// it down.
//
// Each mount of the source root, as mounted on this host, appears at the
// same place in the view:
//
//   - a writable mount of a file system with contents (ext4, xfs, btrfs,
//     tmpfs, an overlay, ...) is the lower layer of an overlay whose upper
//     layer is on the tmpfs: the app reads the host's files and its writes
//     go to the tmpfs;
//   - a read-only mount, a kernel file system (proc, sysfs, devtmpfs,
//     devpts, cgroup, ...), a mount on a file, and a mount that cannot be
//     overlaid are bound read-only (device nodes still work);
//   - autofs mounts are left out (they would mount on demand).
//
// No writable mount of this host is in the view, so the apps cannot change
// it; what could not be overlaid they see read-only, which may make them
// fail (a warning names those mounts). The rest of the namespace, the host
// as the tracer sees it, is made read-only and nodev too (mount attributes
// of the namespace's own copies), so an app that breaks out of its chroot
// finds nothing to write to and no device to open either; and the apps
// cannot undo that (no CAP_SYS_ADMIN: see restrictTraceThread).

// pseudoFS are kernel file systems: bound read-only, never overlaid.
var pseudoFS = map[string]bool{
	"proc": true, "sysfs": true, "devtmpfs": true, "devpts": true, "cgroup": true, "cgroup2": true,
	"mqueue": true, "securityfs": true, "debugfs": true, "tracefs": true, "pstore": true, "bpf": true,
	"configfs": true, "fusectl": true, "hugetlbfs": true, "binfmt_misc": true, "efivarfs": true,
	"selinuxfs": true, "nsfs": true, "rpc_pipefs": true, "nfsd": true,
}

// traceScratchAt are where the view's tmpfs may be mounted in the private
// namespace (the first existing directory): the apps never see it, and
// the host's own contents there stay in the view (they are opened first).
var traceScratchAt = []string{"/tmp", "/run", "/mnt"}

// viewMount is one host mount as the traced apps see it.
type viewMount struct {
	rel    string // where in the view: "/", "/var", "/dev/pts"
	host   string // where on this host
	fstype string
	ro     bool
	dir    bool
	fd     int // O_PATH descriptor of host, opened in the private namespace
}

// traceView is a built view.
type traceView struct {
	root     string   // the view: chroot into it
	scratch  string   // a directory on the tmpfs for the tracer's own files
	readOnly []string // writable host mounts the apps see read-only
}

// makeTraceView builds the view of the source root hostRoot (an absolute,
// canonical host path).
//
// Preconditions: the calling goroutine is locked to its thread, which is in
// a private mount namespace whose mounts are all private, and stays there
// until the view is no longer used.
func makeTraceView(hostRoot string) (*traceView, error) {
	info, err := readMountinfo()
	if err != nil {
		return nil, err
	}
	var mounts []viewMount
	defer func() {
		for _, m := range mounts {
			unix.Close(m.fd)
		}
	}()
	mounts, err = viewMounts(info, hostRoot, "/")
	if err != nil {
		return nil, err
	}
	// The view's /dev is a minimal one of its own (makeViewDev): this
	// host's /dev, and what is mounted under it, is left out.
	mounts = slices.DeleteFunc(mounts, func(m viewMount) bool {
		if m.rel == "/dev" || strings.HasPrefix(m.rel, "/dev/") {
			unix.Close(m.fd)
			return true
		}
		return false
	})

	// Everything of this host, as this namespace sees it, read-only and
	// nodev (mount attributes of this namespace's copies: the host's stay
	// as they are): an app that leaves its chroot finds nothing it can
	// write to, and no device it can open (this host's /dev among them).
	if err := unix.MountSetattr(unix.AT_FDCWD, "/", unix.AT_RECURSIVE,
		&unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NODEV}); err != nil {
		return nil, fmt.Errorf("making the private mount namespace read-only: %w", err)
	}
	// The tmpfs, over a directory of this namespace only; the host
	// descriptors above were opened before it hides anything.
	scratch := ""
	for _, p := range traceScratchAt {
		if st, err := os.Lstat(p); err == nil && st.IsDir() {
			scratch = p
			break
		}
	}
	if scratch == "" {
		return nil, fmt.Errorf("no directory to mount the trace's tmpfs on (tried %s)", strings.Join(traceScratchAt, ", "))
	}
	if err := unix.Mount("vmctr-trace", scratch, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0700"); err != nil {
		return nil, fmt.Errorf("mounting a tmpfs on %s: %w", scratch, err)
	}
	v := &traceView{root: filepath.Join(scratch, "root"), scratch: filepath.Join(scratch, "trace")}
	for _, p := range []string{v.root, v.scratch, filepath.Join(scratch, "upper"), filepath.Join(scratch, "work")} {
		if err := os.Mkdir(p, 0o700); err != nil {
			return nil, err
		}
	}

	// The root first: everything else is mounted inside it.
	root := mounts[0]
	if err := v.mount(scratch, 0, root, v.root, -1); err != nil {
		return nil, fmt.Errorf("mounting a view of %s: %w", root.host, err)
	}
	// chroot(8) does not chroot into a directory that is "/" already (a
	// read-only bind of it would be): the apps must never run there.
	var st, hostSt unix.Stat_t
	if err := unix.Stat(v.root, &st); err != nil {
		return nil, err
	}
	if err := unix.Stat("/", &hostSt); err != nil {
		return nil, err
	}
	if st.Dev == hostSt.Dev && st.Ino == hostSt.Ino {
		return nil, fmt.Errorf("the view of %s is this host's root itself", root.host)
	}
	viewFd, err := unix.Open(v.root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening the view: %w", err)
	}
	defer unix.Close(viewFd)
	for i, m := range mounts[1:] {
		target, err := v.target(viewFd, m)
		if err != nil {
			logrus.Debugf("elfdeps: leaving %s out of the traced apps' view: %v", m.host, err)
			continue
		}
		err = v.mount(scratch, i+1, m, "", target)
		unix.Close(target)
		if err != nil {
			logrus.Debugf("elfdeps: leaving %s out of the traced apps' view: %v", m.host, err)
		}
	}
	if err := v.makeViewDev(scratch, viewFd); err != nil {
		return nil, fmt.Errorf("making /dev in the view: %w", err)
	}
	return v, nil
}

// viewDevNodes are the device nodes of the view's /dev, made with the
// numbers of this host's.
var viewDevNodes = []string{"null", "zero", "full", "random", "urandom", "tty"}

// makeViewDev mounts the view's /dev: a tmpfs of its own with only the
// viewDevNodes, a new devpts instance (and ptmx), a private tmpfs at shm
// and the usual links. No block device, no other character device.
// It is made at scratch/dev and moved into the view when complete.
func (v *traceView) makeViewDev(scratch string, viewFd int) error {
	dev := filepath.Join(scratch, "dev")
	if err := os.Mkdir(dev, 0o755); err != nil {
		return err
	}
	if err := unix.Mount("vmctr-trace-dev", dev, "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "mode=0755,size=64k,nr_inodes=64"); err != nil {
		return fmt.Errorf("mounting a tmpfs: %w", err)
	}
	for _, n := range viewDevNodes {
		var st unix.Stat_t
		if err := unix.Stat("/dev/"+n, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR {
			logrus.Debugf("elfdeps: no /dev/%s for the traced apps: this host has no such character device", n)
			continue
		}
		p := filepath.Join(dev, n)
		if err := unix.Mknod(p, unix.S_IFCHR|0o666, int(st.Rdev)); err != nil {
			return fmt.Errorf("making %s: %w", n, err)
		}
		if err := unix.Chmod(p, 0o666); err != nil { // whatever the umask
			return err
		}
	}
	for _, d := range []string{"pts", "shm"} {
		if err := os.Mkdir(filepath.Join(dev, d), 0o755); err != nil {
			return err
		}
	}
	if err := unix.Mount("devpts", filepath.Join(dev, "pts"), "devpts", unix.MS_NOSUID|unix.MS_NOEXEC,
		"newinstance,ptmxmode=0666,mode=0620"); err != nil {
		return fmt.Errorf("mounting a devpts instance: %w", err)
	}
	if err := unix.Mount("shm", filepath.Join(dev, "shm"), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=1777"); err != nil {
		return fmt.Errorf("mounting a tmpfs at shm: %w", err)
	}
	for name, to := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
		"stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2", "ptmx": "pts/ptmx"} {
		if err := os.Symlink(to, filepath.Join(dev, name)); err != nil {
			return err
		}
	}
	target, err := v.target(viewFd, viewMount{rel: "/dev", dir: true})
	if err != nil {
		return err
	}
	defer unix.Close(target)
	return unix.Mount(dev, "/proc/self/fd/"+strconv.Itoa(target), "", unix.MS_MOVE, "")
}

// target opens where m goes in the view, without following symlinks out
// of it. The /dev of a source root that has none is made (in the root's
// upper layer).
func (v *traceView) target(viewFd int, m viewMount) (int, error) {
	how := &unix.OpenHow{Flags: unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS}
	rel := strings.TrimPrefix(m.rel, "/")
	fd, err := unix.Openat2(viewFd, rel, how)
	if errors.Is(err, unix.ENOENT) && m.rel == "/dev" {
		if err := unix.Mkdirat(viewFd, rel, 0o755); err != nil {
			return -1, fmt.Errorf("making /dev in the view: %w", err)
		}
		fd, err = unix.Openat2(viewFd, rel, how)
	}
	if err != nil {
		return -1, fmt.Errorf("opening %s in the view: %w", m.rel, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || (st.Mode&unix.S_IFMT == unix.S_IFDIR) != m.dir {
		unix.Close(fd)
		return -1, fmt.Errorf("%s in the view is not of the host mount's type", m.rel)
	}
	return fd, nil
}

// mount puts m at the target: the path at, or the descriptor targetFd.
// Writable mounts of file systems with contents are overlaid (upper layer
// number i on the tmpfs at scratch), all else is bound read-only; an
// overlay that fails becomes a read-only bind, recorded in v.readOnly.
func (v *traceView) mount(scratch string, i int, m viewMount, at string, targetFd int) error {
	if !m.ro && m.dir && !pseudoFS[m.fstype] {
		err := overlayOnto(scratch, i, m, at, targetFd)
		if err == nil {
			return nil
		}
		logrus.Debugf("elfdeps: overlaying %s (%s) for the traced apps: %v; binding it read-only", m.host, m.fstype, err)
		v.readOnly = append(v.readOnly, m.host)
	}
	return bindReadOnly(m, at, targetFd)
}

func overlayOnto(scratch string, i int, m viewMount, at string, targetFd int) error {
	upper, work := filepath.Join(scratch, "upper", strconv.Itoa(i)), filepath.Join(scratch, "work", strconv.Itoa(i))
	for _, p := range []string{upper, work} {
		if err := os.Mkdir(p, 0o700); err != nil {
			return err
		}
	}
	// The lower layer by descriptor: host paths may hold ",", ":" or "\".
	opts := "lowerdir=/proc/self/fd/" + strconv.Itoa(m.fd) + ",upperdir=" + upper + ",workdir=" + work
	if at == "" {
		at = "/proc/self/fd/" + strconv.Itoa(targetFd)
	}
	return unix.Mount("overlay", at, "overlay", mountFlags(m), opts)
}

// mountFlags are the host mount's nosuid/nodev/noexec flags, which the
// overlay keeps.
func mountFlags(m viewMount) uintptr {
	var st unix.Statfs_t
	if unix.Fstatfs(m.fd, &st) != nil {
		return unix.MS_NOSUID | unix.MS_NODEV
	}
	var f uintptr
	for _, b := range []struct {
		st int64
		ms uintptr
	}{{unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV}, {unix.ST_NOEXEC, unix.MS_NOEXEC}} {
		if int64(st.Flags)&b.st != 0 {
			f |= b.ms
		}
	}
	return f
}

// bindReadOnly binds m (that mount alone, not the ones below it) read-only:
// a clone made read-only before it is attached, so it is never writable in
// the view.
func bindReadOnly(m viewMount, at string, targetFd int) error {
	tree, err := unix.OpenTree(m.fd, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH)
	if err != nil {
		return fmt.Errorf("cloning the mount: %w", err)
	}
	defer unix.Close(tree)
	if err := unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}); err != nil {
		return fmt.Errorf("making the mount read-only: %w", err)
	}
	if at != "" {
		return unix.MoveMount(tree, "", unix.AT_FDCWD, at, unix.MOVE_MOUNT_F_EMPTY_PATH)
	}
	return unix.MoveMount(tree, "", targetFd, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
}

// mountEntry is one line of mountinfo.
type mountEntry struct {
	id     int
	point  string
	fstype string
	ro     bool
}

// readMountinfo reads the mounts of the calling thread's mount namespace.
func readMountinfo() ([]mountEntry, error) {
	b, err := os.ReadFile("/proc/thread-self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("listing mounts: %w", err)
	}
	return parseMountinfo(string(b)), nil
}

// parseMountinfo parses proc(5) mountinfo lines:
// "ID PARENT MAJ:MIN ROOT POINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER".
func parseMountinfo(s string) []mountEntry {
	var out []mountEntry
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		sep := slices.Index(f, "-")
		if sep < 6 || len(f) < sep+2 {
			continue
		}
		id, err := strconv.Atoi(f[0])
		if err != nil {
			continue
		}
		ro := slices.Contains(strings.Split(f[5], ","), "ro")
		out = append(out, mountEntry{id: id, point: unescapeMountinfo(f[4]), fstype: f[sep+1], ro: ro})
	}
	return out
}

// unescapeMountinfo undoes the octal escapes (\040 for a space, ...) of a
// mountinfo path.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// viewMounts lists the mounts at and below hostDir that can be seen (not
// hidden by another mount), parents first, each opened, with hostDir
// itself (a mount point or not) first. rel is where hostDir goes in the
// view. On error nothing is left open.
func viewMounts(info []mountEntry, hostDir, rel string) ([]viewMount, error) {
	byID := map[int]mountEntry{}
	for _, e := range info {
		byID[e.id] = e
	}
	var out []viewMount
	fail := func(err error) ([]viewMount, error) {
		for _, m := range out {
			unix.Close(m.fd)
		}
		return nil, err
	}
	add := func(host string, e mountEntry, top bool) error {
		fd, id, dir, err := openMountPoint(host)
		if err != nil {
			return err
		}
		if !top && id != e.id {
			unix.Close(fd) // hidden by another mount: that one is listed too
			return nil
		}
		if top {
			var ok bool
			if e, ok = byID[id]; !ok {
				e = mountEntry{id: id}
			}
		}
		r := rel
		if host != hostDir {
			r = path.Join(rel, strings.TrimPrefix(host, hostDir))
		}
		out = append(out, viewMount{rel: r, host: host, fstype: e.fstype, ro: e.ro, dir: dir, fd: fd})
		return nil
	}
	if err := add(hostDir, mountEntry{}, true); err != nil {
		return fail(fmt.Errorf("opening %s: %w", hostDir, err))
	}
	if !out[0].dir {
		return fail(fmt.Errorf("%s is not a directory", hostDir))
	}
	var below []mountEntry
	for _, e := range info {
		if e.point != hostDir && strings.HasPrefix(e.point, strings.TrimSuffix(hostDir, "/")+"/") && e.fstype != "autofs" {
			below = append(below, e)
		}
	}
	// Parents before children; of mounts stacked on one point, only the
	// visible one is kept.
	slices.SortStableFunc(below, func(a, b mountEntry) int { return strings.Compare(a.point, b.point) })
	for _, e := range below {
		if err := add(e.point, e, false); err != nil {
			logrus.Debugf("elfdeps: leaving %s out of the traced apps' view: %v", e.point, err)
		}
	}
	return out, nil
}

// openMountPoint opens p (O_PATH) and returns the ID of the mount it is on
// and whether it is a directory.
func openMountPoint(p string) (int, int, bool, error) {
	fd, err := unix.Open(p, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, 0, false, err
	}
	var stx unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, unix.STATX_TYPE|unix.STATX_MNT_ID, &stx); err != nil {
		unix.Close(fd)
		return -1, 0, false, err
	}
	if stx.Mask&unix.STATX_MNT_ID == 0 {
		unix.Close(fd)
		return -1, 0, false, errors.New("the kernel does not report mount IDs")
	}
	return fd, int(stx.Mnt_id), stx.Mode&unix.S_IFMT == unix.S_IFDIR, nil
}
