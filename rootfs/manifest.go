package rootfs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// ManifestVersion is the version of the manifest format.
const ManifestVersion = 1

// Reasons the builder itself gives (elfdeps gives the others: app, elf-dep,
// interpreter, runtime, package, trace, explicit, symlink).
const (
	ReasonGenerated = "generated" // a modified copy or a file vmctr writes
	ReasonExecution = "execution" // the init program and the execution file
	ReasonParent    = "parent"    // a directory on the way to a needed file
	ReasonSkeleton  = "skeleton"  // a directory every container has (/proc, /tmp, ...)
)

// Entry types.
const (
	TypeFile     = "file"
	TypeDir      = "dir"
	TypeSymlink  = "symlink"
	TypeHardlink = "hardlink" // another name of an earlier file entry (Link)
	TypeFifo     = "fifo"
)

// Manifest is the record of one build, stored in the container at
// /.vmctr/manifest.json (ManifestPath). Build writes it once; nothing
// changes it afterwards. A Manifest value is not safe for concurrent
// modification.
type Manifest struct {
	Version    int       `json:"version"`
	Created    time.Time `json:"created"`
	SourceRoot string    `json:"sourceRoot"` // the root the files came from ("/" is the build host)
	Apps       []string  `json:"apps,omitempty"`
	Packages   []string  `json:"packages,omitempty"`
	Users      []string  `json:"users"`  // the users in the container's /etc/passwd
	Groups     []string  `json:"groups"` // the groups in its /etc/group
	Start      []Command `json:"start"`  // what the execution file starts
	Files      []Entry   `json:"files"`  // every path in the root file system, sorted
	Build      *Record   `json:"build,omitempty"`
}

// Record is what a build recorded about itself: the digest of its inputs
// (BuildKey) and the counts it reported. A build with the same inputs into
// the same output finds them here and leaves the bundle as it is.
type Record struct {
	Key       string `json:"key"` // sha256 of the inputs, hex
	Files     int    `json:"files"`
	Dirs      int    `json:"dirs"`
	Symlinks  int    `json:"symlinks"`
	Hardlinks int    `json:"hardlinks"`
	Generated int    `json:"generated"`
	Bytes     int64  `json:"bytes"`
}

// Entry is one path in the container's root file system.
type Entry struct {
	Path   string `json:"path"`             // inside the container
	Type   string `json:"type"`             // file, dir, symlink, hardlink, fifo
	Source string `json:"source,omitempty"` // inside the source root; empty for files vmctr made
	Mode   string `json:"mode"`             // permission bits in octal, as stored in the container
	UID    int    `json:"uid"`
	GID    int    `json:"gid"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"` // of the content in the container (files and hard links)
	Link   string `json:"link,omitempty"`   // a symlink's target, or the path a hard link shares its inode with
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"` // why, in words
	// Via is what made it needed (elfdeps.File.Via): an absolute path
	// names the file it was needed for, as that file was named (possibly
	// through links the manifest records); anything else names a Debian
	// package; empty means it was asked for, or is vmctr's own.
	Via      string `json:"via,omitempty"`
	Modified bool   `json:"modified"` // differs from the source on purpose (see Detail)
}

// Lookup returns the entry for p, or nil.
func (m *Manifest) Lookup(p string) *Entry {
	p = path.Clean("/" + p)
	i, ok := slices.BinarySearchFunc(m.Files, p, func(e Entry, p string) int {
		switch {
		case e.Path < p:
			return -1
		case e.Path > p:
			return 1
		}
		return 0
	})
	if !ok {
		return nil
	}
	return &m.Files[i]
}

// Why answers "why is this file here?": the entry for p, then the entry
// that made it needed, and so on back to what the user asked for (an app, a
// package's file, an explicit file). The chain follows each entry's Via
// while it names another file of the manifest. It returns nil if p is not
// in the manifest.
func (m *Manifest) Why(p string) []Entry {
	e := m.Lookup(m.resolveDir(path.Clean("/" + p)))
	if e == nil {
		return nil
	}
	chain := []Entry{*e}
	seen := map[string]bool{e.Path: true}
	for {
		next := m.cause(e.Via, seen)
		if next == nil {
			return chain
		}
		seen[next.Path] = true
		chain = append(chain, *next)
		e = next
	}
}

// cause finds the entry via names, skipping seen ones: the path as named
// (its directories resolved through the manifest's links), else where it
// leads ("target of /lib/x/libz.so.1" is the link itself).
func (m *Manifest) cause(via string, seen map[string]bool) *Entry {
	if !path.IsAbs(via) {
		return nil
	}
	c := path.Clean(via)
	for _, cand := range []string{m.resolveDir(c), m.resolve(c)} {
		if n := m.Lookup(cand); n != nil && !seen[n.Path] {
			return n
		}
	}
	return nil
}

// resolveDir resolves the directories of p, not p itself.
func (m *Manifest) resolveDir(p string) string {
	if p == "/" {
		return p
	}
	return path.Join(m.resolve(path.Dir(p)), path.Base(p))
}

// resolve follows the symbolic links the manifest records, so that a path
// named through a link (/lib/x86_64-linux-gnu/libc.so.6 with /lib -> usr/lib)
// finds its entry. Paths it cannot resolve are returned as they are. The
// manifest may come from a container (inspect of a running one), so a path
// longer than PATH_MAX is not resolved further: the work stays linear.
func (m *Manifest) resolve(p string) string {
	for hops := 0; hops < maxSymlinkHops && len(p) <= unix.PathMax; hops++ {
		parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
		changed := false
		prefix := ""
		for i, part := range parts {
			prefix += "/" + part
			e := m.Lookup(prefix)
			if e == nil || e.Type != TypeSymlink {
				continue
			}
			t := e.Link
			if !path.IsAbs(t) {
				t = path.Join(path.Dir(prefix), t)
			}
			p = path.Clean(path.Join(append([]string{t}, parts[i+1:]...)...))
			changed = true
			break
		}
		if !changed {
			return p
		}
	}
	return p
}

// DecodeManifest reads a manifest.
func DecodeManifest(r io.Reader) (*Manifest, error) {
	var m Manifest
	if err := json.NewDecoder(r).Decode(&m); err != nil {
		return nil, fmt.Errorf("decoding manifest: %w", err)
	}
	if m.Version != ManifestVersion {
		return nil, fmt.Errorf("manifest version %d is not supported (want %d)", m.Version, ManifestVersion)
	}
	slices.SortFunc(m.Files, func(a, b Entry) int {
		switch {
		case a.Path < b.Path:
			return -1
		case a.Path > b.Path:
			return 1
		}
		return 0
	})
	return &m, nil
}

// ReadManifest reads the manifest of the root file system rootfs (a
// directory on the host). The container owns that directory and may have
// replaced the manifest with a symbolic link, so the path is resolved
// inside rootfs, never out of it.
func ReadManifest(rootfs string) (*Manifest, error) {
	f, err := pathrs.OpenInRoot(rootfs, ManifestPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s (no %s)", ErrNoManifest, rootfs, ManifestPath)
	}
	if err != nil {
		return nil, fmt.Errorf("opening manifest in %s: %w", rootfs, err)
	}
	defer f.Close()
	// A container may have made it a FIFO (reading would wait forever)
	// or a huge file: only a regular file of a sane size is read.
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nil, fmt.Errorf("opening manifest in %s: %w", rootfs, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("%s: %w: not a regular file", filepath.Join(rootfs, ManifestPath), ErrNoManifest)
	}
	if st.Size > maxManifestSize {
		return nil, fmt.Errorf("%s: %w: larger than %d MiB", filepath.Join(rootfs, ManifestPath), ErrNoManifest, maxManifestSize>>20)
	}
	// OpenInRoot returns an O_PATH handle; reopen it for reading.
	rf, err := pathrs.Reopen(f, unix.O_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("opening manifest in %s: %w", rootfs, err)
	}
	defer rf.Close()
	data, err := io.ReadAll(io.LimitReader(rf, maxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", filepath.Join(rootfs, ManifestPath), err)
	}
	// Decoding allocates an entry per object: bound their number before
	// (a file of "{}," would otherwise cost 100 times its size).
	if len(data) > maxManifestSize || bytes.Count(data, []byte("{")) > maxManifestEntries {
		return nil, fmt.Errorf("%s: %w: more than %d MiB or %d entries", filepath.Join(rootfs, ManifestPath), ErrNoManifest,
			maxManifestSize>>20, maxManifestEntries)
	}
	m, err := DecodeManifest(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(rootfs, ManifestPath), err)
	}
	return m, nil
}

// Bounds of a manifest vmctr reads (a container can rewrite its own): far
// above any real build (nginx with its packages: 1,100 entries, 400 KB).
const (
	maxManifestSize    = 64 << 20
	maxManifestEntries = 250000
)
