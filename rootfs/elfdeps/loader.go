package elfdeps

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/sirupsen/logrus"
)

// This file emulates how glibc's ld.so (elf/dl-load.c, _dl_map_object)
// finds a DT_NEEDED object, reading everything inside the source root:
//
//  1. a name with a '/' is a path (after $ORIGIN/$LIB/$PLATFORM expansion);
//  2. unless the requesting object has DT_RUNPATH: the DT_RPATH of the
//     requesting object, then of the object that loaded it, and so on up to
//     the executable (an object with DT_RUNPATH contributes no DT_RPATH);
//  3. LD_LIBRARY_PATH: ignored, a built container has no such setting;
//  4. the DT_RUNPATH of the requesting object (only its own);
//  5. unless DF_1_NODEFLIB: /etc/ld.so.cache (or, when the root has no cache,
//     the directories ld.so.conf and its includes name, as ldconfig would);
//  6. unless DF_1_NODEFLIB: the default directories.
//
// In every directory, glibc-hwcaps/<level>/ subdirectories are looked at
// too; every variant that exists is kept (the CPU that runs the container
// picks one). A candidate of the wrong ELF class, machine or byte order is
// skipped and the search goes on, as ld.so does.

// lnode is one object of a loader closure.
type lnode struct {
	obj    *elfObj
	path   string // where it was found (not resolved): l_name
	canon  string // resolved path inside the root
	origin string // $ORIGIN
	loader *lnode // the object whose DT_NEEDED loaded it (l_loader)
}

// found is a library located by findLib.
type found struct {
	path     string // candidate path as searched, e.g. /lib/x86_64-linux-gnu/libc.so.6
	res      *resolution
	obj      *elfObj
	how      string
	variants []*found // glibc-hwcaps variants of the same name
}

// defaultDirs are the directories ld.so searches last. Debian's ld.so
// searches the multiarch pair and /lib, /usr/lib; Red Hat style roots use
// /lib64, /usr/lib64. Candidates of another arch are skipped anyway.
func (a arch) defaultDirs() []string {
	var dirs []string
	if t := a.triplet(); t != "" {
		dirs = append(dirs, "/lib/"+t, "/usr/lib/"+t)
	}
	switch {
	case a.Class == elf.ELFCLASS64:
		dirs = append(dirs, "/lib64", "/usr/lib64")
	case a.Machine == elf.EM_X86_64:
		dirs = append(dirs, "/libx32", "/usr/libx32")
	case a.Machine == elf.EM_386:
		dirs = append(dirs, "/lib32", "/usr/lib32")
	}
	return append(dirs, "/lib", "/usr/lib")
}

// libDST is what ld.so substitutes for $LIB in this root: "lib/<triplet>"
// on a multiarch (Debian) root, "lib64" on a biarch (Red Hat) one.
func (d *discoverer) libDST(a arch) string {
	if t := a.triplet(); t != "" {
		for _, dir := range []string{"/usr/lib/" + t, "/lib/" + t} {
			if r, err := d.fs.resolve(dir); err == nil && r.node.isDir() {
				return "lib/" + t
			}
		}
	}
	if a.Class == elf.ELFCLASS64 {
		return "lib64"
	}
	return "lib"
}

// expandDST substitutes ld.so's dynamic string tokens in s.
func (d *discoverer) expandDST(s, origin string, a arch) string {
	if !strings.Contains(s, "$") {
		return s
	}
	r := strings.NewReplacer(
		"${ORIGIN}", origin, "$ORIGIN", origin,
		"${PLATFORM}", a.platform(), "$PLATFORM", a.platform(),
		"${LIB}", d.libDST(a), "$LIB", d.libDST(a),
	)
	return r.Replace(s)
}

// candidate checks one path: it must resolve to a regular ELF file of arch a.
func (d *discoverer) candidate(p string, a arch) *found {
	res, err := d.fs.resolve(p)
	if err != nil || !res.node.isRegular() {
		return nil
	}
	s := d.sniff(res.Path)
	if s.err != nil || s.obj == nil {
		return nil
	}
	if s.obj.arch != a {
		logrus.Debugf("elfdeps: skipping %s: %s, want %s", p, s.obj.arch, a)
		return nil
	}
	return &found{path: p, res: res, obj: s.obj}
}

// inDir looks for name in dir and in its glibc-hwcaps subdirectories.
//
// Paths are joined without lexical cleaning: ".." after a symlinked
// directory means its target's parent, as for the kernel; resolve handles it.
func (d *discoverer) inDir(dir, name string, a arch) *found {
	dir = strings.TrimRight(dir, "/")
	f := d.candidate(dir+"/"+name, a)
	var variants []*found
	if subs := a.hwcapsSubdirs(); subs != nil {
		if r, err := d.fs.resolve(dir + "/glibc-hwcaps"); err == nil && r.node.isDir() {
			for _, s := range subs {
				if v := d.candidate(dir+"/glibc-hwcaps/"+s+"/"+name, a); v != nil {
					variants = append(variants, v)
				}
			}
		}
	}
	if f == nil {
		if len(variants) == 0 {
			return nil
		}
		f, variants = variants[0], variants[1:]
	}
	f.variants = variants
	return f
}

// findLib finds DT_NEEDED name for the object req, or returns nil and the
// list of places searched.
func (d *discoverer) findLib(name string, req *lnode, a arch) (*found, []string) {
	if strings.Contains(name, "/") {
		p := d.expandDST(name, req.origin, a)
		if !strings.HasPrefix(p, "/") {
			return nil, []string{p + " (relative to the working directory: not followed)"}
		}
		if f := d.candidate(p, a); f != nil {
			f.how = "path in DT_NEEDED"
			return f, nil
		}
		return nil, []string{p}
	}
	var searched []string
	try := func(dirs []string, origin, how string) *found {
		for _, dir := range dirs {
			dir = d.expandDST(dir, origin, a)
			if !strings.HasPrefix(dir, "/") {
				continue // relative to the cwd of the process: unknowable
			}
			searched = append(searched, dir)
			if f := d.inDir(dir, name, a); f != nil {
				f.how = how
				return f
			}
		}
		return nil
	}
	if !req.obj.HasRunPath {
		for l := req; l != nil; l = l.loader {
			if l.obj.HasRunPath || len(l.obj.RPath) == 0 {
				continue
			}
			if f := try(l.obj.RPath, l.origin, "DT_RPATH of "+l.path); f != nil {
				return f, nil
			}
		}
	}
	if req.obj.HasRunPath {
		if f := try(req.obj.RunPath, req.origin, "DT_RUNPATH of "+req.path); f != nil {
			return f, nil
		}
	}
	if req.obj.NoDefLib {
		return nil, searched
	}
	c := d.ldCache()
	if c.byKey != nil {
		searched = append(searched, c.source)
		var f *found
		var variants []*found
		for _, v := range c.byKey[name] {
			cand := d.candidate(v, a)
			if cand == nil {
				continue
			}
			if strings.Contains(v, "/glibc-hwcaps/") {
				variants = append(variants, cand)
			} else if f == nil {
				f = cand
			}
		}
		if f == nil && len(variants) > 0 {
			f, variants = variants[0], variants[1:]
		}
		if f != nil {
			f.how, f.variants = c.source, variants
			return f, nil
		}
	} else if f := try(c.confDirs, "", c.source); f != nil {
		return f, nil
	}
	if f := try(a.defaultDirs(), "", "default directory"); f != nil {
		f.how = "default directory " + path.Dir(f.path)
		return f, nil
	}
	return nil, searched
}

// ldCache is the root's /etc/ld.so.cache, or when it has none, the list of
// directories its /etc/ld.so.conf names.
type ldCache struct {
	source   string              // what the lookups come from, for Detail strings
	byKey    map[string][]string // soname -> paths, in cache order
	confDirs []string
}

const ldCachePath = "/etc/ld.so.cache"

func (d *discoverer) ldCache() *ldCache {
	d.ldOnce.Do(func() {
		d.ld = &ldCache{}
		b, _, err := d.fs.readResolved(ldCachePath)
		if err == nil && len(b) >= maxLDCacheSize {
			// readFile stops at 64 MiB: the cache may be cut short.
			logrus.Warnf("elfdeps: %s in %s: %d MiB or more; using ld.so.conf instead", ldCachePath, d.fs.host, maxLDCacheSize>>20)
		} else if err == nil {
			byKey, perr := parseLDCache(b)
			if perr == nil {
				d.ld.source, d.ld.byKey = ldCachePath, byKey
				return
			}
			logrus.Warnf("elfdeps: %s in %s: %v; using ld.so.conf instead", ldCachePath, d.fs.host, perr)
		} else if !errors.Is(err, fs.ErrNotExist) {
			logrus.Warnf("elfdeps: reading %s in %s: %v; using ld.so.conf instead", ldCachePath, d.fs.host, err)
		}
		d.ld.source = "/etc/ld.so.conf"
		d.ld.confDirs = d.parseLDConf("/etc/ld.so.conf", 0, map[string]bool{})
	})
	return d.ld
}

const (
	ldCacheMagicOld = "ld.so-1.7.0"
	ldCacheMagicNew = "glibc-ld.so.cache1.1"

	// Bounds on a source root's ld.so.cache (a real one is well under a
	// megabyte, with a few thousand entries and a handful of paths per
	// name); a cache beyond them is refused as corrupt.
	maxLDCacheSize    = 64 << 20
	maxLDCacheEntries = 1 << 16
	maxLDCachePaths   = 256
)

// parseLDCache reads glibc's ld.so.cache: the "glibc-ld.so.cache1.1"
// format, alone (glibc >= 2.32 writes only that) or after an old
// "ld.so-1.7.0" table (the compat format of older ldconfig).
func parseLDCache(b []byte) (map[string][]string, error) {
	off := 0
	if len(b) >= 16 && string(b[:len(ldCacheMagicOld)]) == ldCacheMagicOld {
		n := int(binary.LittleEndian.Uint32(b[12:]))
		if n < 0 || n > len(b)/12 {
			return nil, fmt.Errorf("old-format header claims %d entries", n)
		}
		off = (16 + n*12 + 7) &^ 7
	}
	if len(b) < off+48 || string(b[off:off+len(ldCacheMagicNew)]) != ldCacheMagicNew {
		return nil, fmt.Errorf("no %q table", ldCacheMagicNew)
	}
	var bo binary.ByteOrder = binary.LittleEndian
	switch b[off+28] & 3 { // endianness recorded by ldconfig
	case 3:
		bo = binary.BigEndian
	case 0: // unset: written by the host, assume little-endian
	}
	nlibs := bo.Uint32(b[off+20:])
	if nlibs > maxLDCacheEntries {
		return nil, fmt.Errorf("header claims %d entries, more than %d", nlibs, maxLDCacheEntries)
	}
	if off+48+int(nlibs)*24 > len(b) {
		return nil, fmt.Errorf("header claims %d entries in %d bytes", nlibs, len(b))
	}
	// Keys and paths are substrings of one copy of the file: entries that
	// share (or overlap in) the string table cost no more memory. Each is
	// looked for within pathMax bytes, so the scan is linear in the entries.
	all := string(b)
	str := func(o uint32) (string, bool, error) {
		i := off + int(o)
		if o == 0 || i >= len(all) {
			return "", false, nil
		}
		w := all[i:min(len(all), i+pathMax)]
		j := strings.IndexByte(w, 0)
		if j < 0 {
			return "", false, fmt.Errorf("string at offset %d: no NUL within %d bytes (PATH_MAX)", o, pathMax)
		}
		return w[:j], true, nil
	}
	m := make(map[string][]string, min(nlibs, 4096))
	for i := 0; i < int(nlibs); i++ {
		e := b[off+48+i*24:]
		key, ok1, err := str(bo.Uint32(e[4:]))
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		val, ok2, err := str(bo.Uint32(e[8:]))
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		if !ok1 || !ok2 || !strings.HasPrefix(val, "/") || slices.Contains(m[key], val) {
			continue
		}
		if len(m[key]) == maxLDCachePaths {
			return nil, fmt.Errorf("more than %d paths for %q", maxLDCachePaths, key)
		}
		m[key] = append(m[key], val)
	}
	return m, nil
}

// parseLDConf returns the library directories named by an ld.so.conf file
// and the files it includes (include GLOB, relative to the including file's
// directory). "hwcap" lines (old glibc) are ignored.
func (d *discoverer) parseLDConf(file string, depth int, seen map[string]bool) []string {
	if depth > 8 || seen[file] {
		return nil
	}
	seen[file] = true
	b, _, err := d.fs.readResolved(file)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			logrus.Warnf("elfdeps: reading %s in %s: %v", file, d.fs.host, err)
		}
		return nil
	}
	var dirs []string
	for _, line := range strings.Split(string(b), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "include":
			for _, g := range f[1:] {
				if !strings.HasPrefix(g, "/") {
					g = path.Join(path.Dir(file), g)
				}
				for _, inc := range d.glob(g) {
					dirs = append(dirs, d.parseLDConf(inc, depth+1, seen)...)
				}
			}
		case "hwcap":
		default:
			for _, dir := range strings.FieldsFunc(line, func(r rune) bool {
				return r == ' ' || r == '\t' || r == ':' || r == ','
			}) {
				if i := strings.IndexByte(dir, '='); i >= 0 {
					dir = dir[:i] // libc5 "dir=TYPE"
				}
				if strings.HasPrefix(dir, "/") {
					dirs = append(dirs, path.Clean(dir))
				}
			}
		}
	}
	return dirs
}

// glob expands a shell pattern inside the root (path.Match syntax in each
// component), sorted, like glob(3) does for ld.so.conf includes.
func (d *discoverer) glob(pattern string) []string {
	cur := []string{"/"}
	for _, c := range strings.Split(pattern, "/") {
		if c == "" {
			continue
		}
		var next []string
		for _, base := range cur {
			if !strings.ContainsAny(c, `*?[\`) {
				next = append(next, path.Join(base, c))
				continue
			}
			r, err := d.fs.resolve(base)
			if err != nil || !r.node.isDir() {
				continue
			}
			names, err := d.fs.readDir(r.Path)
			if err != nil {
				continue
			}
			for _, n := range names {
				if strings.HasPrefix(n, ".") && !strings.HasPrefix(c, ".") {
					continue
				}
				if ok, _ := path.Match(c, n); ok {
					next = append(next, path.Join(base, n))
				}
			}
		}
		cur = next
	}
	var out []string
	for _, p := range cur {
		if _, err := d.fs.resolve(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}
