package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// DefaultRoot is where state lives when --root is not given (runc: /run/runc).
const DefaultRoot = "/run/vmctr"

const (
	recordFile = "vmctr.json" // vmctr's record, beside libcontainer's state.json
	lockDir    = ".locks"     // per-container lock files, outside the state dirs
)

// Record is vmctr's own record of one container, saved as vmctr.json in the
// container's state directory (root/<id>/, which libcontainer also uses for
// its state.json). It is written atomically before any cgroup or process
// exists, so that `delete --force` can undo a create that was killed midway,
// and not rewritten later (libcontainer's state tells created from running).
// It is not safe for concurrent use; callers hold the container's lock.
type Record struct {
	ID      string    `json:"id"`
	Bundle  string    `json:"bundle"`
	Created time.Time `json:"created"`
	// CgroupPaths are the cgroup directories the container uses, per
	// controller ("" for the unified hierarchy), known before they exist.
	CgroupPaths map[string]string `json:"cgroupPaths,omitempty"`
	// Poststart and Poststop hooks are run by vmctr itself, not by
	// libcontainer: poststart after `start`, poststop after `delete`.
	Poststart []specs.Hook `json:"poststart,omitempty"`
	Poststop  []specs.Hook `json:"poststop,omitempty"`
	// Process is config.json's process: the defaults for `exec`.
	Process *specs.Process `json:"process,omitempty"`
	// Annotations from config.json, reported by `state`.
	Annotations map[string]string `json:"annotations,omitempty"`
}

// store is the runtime root directory: one state dir per container plus a
// directory of lock files. Safe for concurrent use by several processes:
// every change to a container happens under that container's flock.
type store struct {
	root string
}

func (s store) dir(id string) string { return filepath.Join(s.root, id) }

// lock takes the exclusive flock of container id, waiting for other vmctr
// processes. The lock file lives outside the state dir so that deleting the
// state dir never races with a waiter; after locking we check that the file
// we hold is still the one on disk (it may have been replaced meanwhile).
func (s store) lock(id string) (unlock func(), err error) {
	if err := s.ensure(); err != nil {
		return nil, err
	}
	dir := filepath.Join(s.root, lockDir)
	path := filepath.Join(dir, id)
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o600)
		if err != nil {
			return nil, fmt.Errorf("opening lock of %q: %w", id, err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
			f.Close()
			return nil, fmt.Errorf("locking %q: %w", id, err)
		}
		var held, onDisk unix.Stat_t
		if unix.Fstat(int(f.Fd()), &held) == nil && unix.Stat(path, &onDisk) == nil && held.Ino == onDisk.Ino {
			var once sync.Once
			return func() {
				once.Do(func() {
					// A failed create, or a command on an unknown ID, leaves
					// no container: drop its lock file too (still locked,
					// so waiters notice the new inode).
					if _, err := os.Lstat(s.dir(id)); errors.Is(err, fs.ErrNotExist) {
						_ = os.Remove(path)
					}
					f.Close()
				})
			}, nil
		}
		f.Close() // the lock file was removed by a delete: take the new one
	}
}

// ensure creates the root and its lock directory (mode 0700) if they do
// not exist, and refuses a root, or a lock directory, that another user
// could change: one not owned by vmctr's user, or writable by its group or
// by others (an unprivileged user could plant a symlink there, and vmctr
// would create lock files, state dirs and cgroup records wherever it
// points), or a lock directory that is a symlink.
func (s store) ensure() error {
	if err := os.MkdirAll(s.root, 0o700); err != nil {
		return fmt.Errorf("creating state root: %w", err)
	}
	if err := checkPrivateDir(s.root, unix.Stat); err != nil {
		return fmt.Errorf("state root (--root): %w", err)
	}
	dir := filepath.Join(s.root, lockDir)
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("creating lock dir: %w", err)
	}
	if err := checkPrivateDir(dir, unix.Lstat); err != nil {
		return fmt.Errorf("lock dir: %w", err)
	}
	return nil
}

// checkPrivateDir checks that path (looked up with stat or lstat) is a
// directory owned by vmctr's effective user and not writable by others.
func checkPrivateDir(path string, stat func(string, *unix.Stat_t) error) error {
	var st unix.Stat_t
	if err := stat(path, &st); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return fmt.Errorf("%s is not a directory", path)
	case int(st.Uid) != os.Geteuid():
		return fmt.Errorf("%s is owned by uid %d, not by vmctr's user (%d)", path, st.Uid, os.Geteuid())
	case st.Mode&0o022 != 0:
		return fmt.Errorf("%s is writable by its group or by others (mode %04o); refusing to keep container state there", path, st.Mode&0o7777)
	}
	return nil
}

// removeLock removes the lock file of a deleted container. The caller holds
// the lock; waiters notice the new inode and retry.
func (s store) removeLock(id string) {
	_ = os.Remove(filepath.Join(s.root, lockDir, id))
}

func (s store) loadRecord(id string) (*Record, error) {
	b, err := os.ReadFile(filepath.Join(s.dir(id), recordFile))
	if err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("reading record of %q: %w", id, err)
	}
	return &r, nil
}

// saveRecord writes the record atomically (temp file, rename).
func (s store) saveRecord(r *Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(s.dir(r.ID), recordFile), b, 0o600)
}

// writeFileAtomic replaces path with data through a temp file and a rename,
// so that readers and a vmctr killed midway see the old or the new content,
// never a mix. It does not fsync: the state it holds describes processes and
// cgroups, which do not survive the machine crash fsync would protect
// against (and runc and libcontainer do not fsync state.json either). After
// such a crash a record may be stale or empty; `delete` removes it like any
// damaged record. Two fsyncs cost 1-3 ms per write here, more under load
// (docs/performance.md).
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// ids lists the container IDs that have a state dir under the root.
func (s store) ids() ([]string, error) {
	entries, err := os.ReadDir(s.root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() && ValidateID(e.Name()) == nil {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}
