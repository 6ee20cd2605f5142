package rootfs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/moby/sys/mountinfo"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// A build writes into a directory beside its output and renames it into
// place at the end. The directory's name says what it is:
//
//	.NAME.vmctr-new-RANDOM          being created (for an instant)
//	.NAME.vmctr-build-PID-RANDOM    a build by process PID, running or dead
//
// The build holds an exclusive flock(2) on the directory from before it
// takes its -build- name until the build is renamed into place or removed.
// The kernel drops the lock when the process dies, however it dies, so a
// -build- directory nobody holds a lock on belongs to a build that is gone,
// and the next build in the same directory removes it (removeStaleBuilds).
// The PID is for people; the lock decides, so a build in another PID
// namespace is safe too.
const (
	buildDirNew   = ".vmctr-new-"
	buildDirBuild = ".vmctr-build-"
)

// buildDirName matches exactly the names makeBuildDir gives (os.MkdirTemp's
// random part is decimal): a directory someone named ".notes.vmctr-build-x"
// is not a build directory, whatever its lock.
var buildDirName = regexp.MustCompile(`^\..+\.vmctr-(new-[0-9]{4,}|build-[0-9]+-[0-9]{4,})$`)

// staleNewAge is how old an unlocked -new- directory must be to be taken for
// stale: its builder locks and renames it right after creating it.
const staleNewAge = time.Minute

// makeBuildDir creates the build directory for out, locked, and returns its
// path and the descriptor that holds the lock (the caller closes it when
// the build is in place or removed).
func makeBuildDir(out string) (string, int, error) {
	dir, base := filepath.Dir(out), filepath.Base(out)
	fail := func(err error) (string, int, error) {
		return "", -1, fmt.Errorf("creating a build directory beside %s: %w", out, err)
	}
	tmp, err := os.MkdirTemp(dir, "."+base+buildDirNew+"*")
	if err != nil {
		return fail(err)
	}
	fd, err := unix.Open(tmp, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err == nil {
		// Blocking: removeStaleBuilds (this build's own, running beside
		// it, or another's) may hold the lock for an instant while it
		// finds this -new- directory too young to be stale.
		if err = unix.Flock(fd, unix.LOCK_EX); err != nil {
			unix.Close(fd)
		}
	}
	if err != nil {
		os.Remove(tmp)
		return fail(err)
	}
	// Renamed only once locked: a -build- directory is never unlocked
	// while its builder lives.
	random := strings.TrimPrefix(filepath.Base(tmp), "."+base+buildDirNew)
	final := filepath.Join(dir, "."+base+buildDirBuild+strconv.Itoa(os.Getpid())+"-"+random)
	if err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, final, unix.RENAME_NOREPLACE); err != nil {
		unix.Close(fd)
		os.Remove(tmp)
		return fail(err)
	}
	return final, fd, nil
}

// removeStaleBuilds removes the build directories in dir whose builds are
// gone: -build- (and older vmctr versions' -old-) directories that nobody
// holds a lock on, and -new- ones that are also older than staleNewAge.
// Only directories owned by this process's user are considered: a build
// directory belongs to whoever built. Each is removed while this process
// holds its lock. Problems are logged: they never fail a build.
func removeStaleBuilds(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		logrus.Debugf("rootfs: looking for stale builds in %s: %v", dir, err)
		return
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		logrus.Debugf("rootfs: looking for stale builds in %s: %v", dir, err)
		return
	}
	for _, name := range names {
		if !buildDirName.MatchString(name) {
			continue
		}
		isNew := strings.Contains(name, buildDirNew)
		p := filepath.Join(dir, name)
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			continue // gone, not a directory, or not ours to open
		}
		if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
			unix.Close(fd) // a live build's
			continue
		}
		var st unix.Stat_t
		if unix.Fstat(fd, &st) != nil || int(st.Uid) != os.Geteuid() ||
			isNew && time.Since(time.Unix(st.Mtim.Unix())) < staleNewAge {
			unix.Close(fd)
			continue
		}
		if m := mountBelow(p); m != "" {
			logrus.Warnf("rootfs: not removing %s, left by a build that did not finish: %s is mounted in it", p, m)
			unix.Close(fd)
			continue
		}
		if err := os.RemoveAll(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			logrus.Warnf("rootfs: removing the build directory %s, left by a build that did not finish: %v", p, err)
		} else {
			logrus.Warnf("rootfs: removed %s, left by a build that did not finish", p)
		}
		unix.Close(fd)
	}
}

// replaceDir moves the finished build tmp to out. An empty out is
// replaced by the rename; a non-empty one (filled by someone else during
// the build, or there from the start) only with force: the two are
// exchanged (RENAME_EXCHANGE), so that out is always a whole bundle, and
// the previous one, now at tmp's name, is removed.
func replaceDir(tmp, out string, force bool) error {
	// rename(2) itself: os.Rename refuses any existing directory.
	if err := unix.Rename(tmp, out); err == nil {
		return nil
	} else if !errors.Is(err, unix.ENOTEMPTY) && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("moving the build into %s: %w", out, err)
	}
	if !force {
		return fmt.Errorf("%w: %s was filled during the build", ErrOutputExists, out)
	}
	// Checked again: the directory may have changed during the build.
	if err := replaceable(out); err != nil {
		return err
	}
	if err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, out, unix.RENAME_EXCHANGE); err != nil {
		return fmt.Errorf("replacing %s: %w", out, err)
	}
	// tmp is the previous bundle now. If this process dies before it is
	// gone, the next build removes it: nobody holds a lock on it.
	if err := os.RemoveAll(tmp); err != nil {
		logrus.Warnf("rootfs: removing the replaced bundle (now %s): %v", tmp, err)
	}
	return nil
}

// replaceable reports why Force may not replace out: it must be empty or
// a bundle vmctr built (builtBundle), nothing may be mounted in it, and no
// process may run with its root in out/rootfs (a container of any state
// root or runtime). Force never deletes anything else.
func replaceable(out string) error {
	if err := builtBundle(out); err != nil {
		return err
	}
	if m := mountBelow(out); m != "" {
		return fmt.Errorf("%w: something is mounted at %s; unmount it first (removing the old bundle would go through it)", ErrBundleInUse, m)
	}
	return bundleInUse(out)
}

// builtBundle reports (ErrNotBundle) why out, unless empty, is not a
// bundle vmctr build wrote: config.json carrying AnnotationManifest
// beside rootfs/, and nothing else (a file someone put there is theirs).
func builtBundle(out string) error {
	ents, err := os.ReadDir(out)
	if err != nil {
		return fmt.Errorf("output directory %s: %w", out, err)
	}
	if len(ents) == 0 {
		return nil
	}
	notBundle := func(why string) error {
		return fmt.Errorf("%w: %s %s; --force replaces only bundles vmctr built (remove it yourself, or choose another -o)",
			ErrNotBundle, out, why)
	}
	for _, e := range ents {
		if e.Name() != "config.json" && e.Name() != "rootfs" {
			return notBundle(fmt.Sprintf("holds %q, which vmctr build does not write", e.Name()))
		}
	}
	// Not through a link, not a FIFO (opening it would wait).
	f, err := os.OpenFile(filepath.Join(out, "config.json"), os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return notBundle("has no readable config.json")
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return notBundle("has a config.json that is not a regular file")
	}
	var cfg struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := json.NewDecoder(io.LimitReader(f, 16<<20)).Decode(&cfg); err != nil || cfg.Annotations[AnnotationManifest] == "" {
		return notBundle("has a config.json that vmctr build did not write")
	}
	return nil
}

// mountBelow returns a mount point of this mount namespace at or below
// dir, or "". Removing a tree with a mount in it would delete what the
// mount shows: another file system's data.
func mountBelow(dir string) string {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		real = dir
	}
	mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(real))
	if err != nil || len(mounts) == 0 {
		return ""
	}
	return mounts[0].Mountpoint
}

// bundleInUse finds a process whose root directory is out/rootfs.
func bundleInUse(out string) error {
	root, err := os.Stat(filepath.Join(out, "rootfs"))
	if err != nil {
		return nil // no root file system: nothing can run in it
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return fmt.Errorf("listing processes: %w", err)
	}
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		fi, err := os.Stat("/proc/" + p.Name() + "/root")
		if err != nil || !os.SameFile(fi, root) {
			continue
		}
		comm, _ := os.ReadFile("/proc/" + p.Name() + "/comm")
		return fmt.Errorf("%w: process %d (%s) runs in %s/rootfs (a container runs from this bundle); stop it first", ErrBundleInUse,
			pid, strings.TrimSpace(string(comm)), out)
	}
	return nil
}
