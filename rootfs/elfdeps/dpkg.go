package elfdeps

import (
	"context"
	"errors"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/sirupsen/logrus"
)

// dpkgDir is the dpkg database inside a root.
const dpkgDir = "/var/lib/dpkg"

// packageSkip are directories whose package files are left out by default:
// documentation, manual pages and lint overrides are not needed to run.
// Explicit --file paths are never skipped.
var packageSkip = []string{"/usr/share/doc", "/usr/share/man", "/usr/share/info", "/usr/share/lintian"}

func skippedPackagePath(p string) bool {
	for _, s := range packageSkip {
		if p == s || strings.HasPrefix(p, s+"/") {
			return true
		}
	}
	return false
}

// dpkgPkg is one stanza of /var/lib/dpkg/status.
type dpkgPkg struct {
	Name, Arch, Status, MultiArch string
	Depends, PreDepends, Provides string
}

func (p *dpkgPkg) key() string { return p.Name + ":" + p.Arch }

// installed: dpkg's "install ok installed" (or hold, or with triggers pending).
func (p *dpkgPkg) installed() bool {
	f := strings.Fields(p.Status)
	if len(f) != 3 || f[1] != "ok" || (f[0] != "install" && f[0] != "hold") {
		return false
	}
	return f[2] == "installed" || f[2] == "triggers-pending" || f[2] == "triggers-awaited"
}

type diversion struct{ to, by string }

// dpkgDB is the part of a root's dpkg database discovery uses.
type dpkgDB struct {
	native     string
	all        map[string][]*dpkgPkg // by name, any status
	installed  map[string][]*dpkgPkg // by name
	provides   map[string][]*dpkgPkg // virtual name -> installed providers
	diversions map[string]diversion  // diverted path -> where the file really is, and by whom
}

// parseStanzas splits a deb822 file into field maps (continuation lines joined).
func parseStanzas(b []byte) []map[string]string {
	var out []map[string]string
	cur := map[string]string{}
	last := ""
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.TrimSpace(line) == "":
			if len(cur) > 0 {
				out = append(out, cur)
				cur, last = map[string]string{}, ""
			}
		case line[0] == ' ' || line[0] == '\t':
			if last != "" {
				cur[last] += "\n" + strings.TrimSpace(line)
			}
		default:
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			last = k
			cur[k] = strings.TrimSpace(v)
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

func (d *discoverer) loadDpkg() (*dpkgDB, error) {
	if d.pkgs != nil {
		return d.pkgs, nil
	}
	status := dpkgDir + "/status"
	b, _, err := d.fs.readResolved(status)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &PathError{What: "package database", Path: status, Err: ErrNotFound}
		}
		return nil, pathErr("package database", status, err)
	}
	db := &dpkgDB{all: map[string][]*dpkgPkg{}, installed: map[string][]*dpkgPkg{}, provides: map[string][]*dpkgPkg{}, diversions: map[string]diversion{}}
	for _, st := range parseStanzas(b) {
		p := &dpkgPkg{Name: st["Package"], Arch: st["Architecture"], Status: st["Status"], MultiArch: st["Multi-Arch"],
			Depends: st["Depends"], PreDepends: st["Pre-Depends"], Provides: st["Provides"]}
		if p.Name == "" {
			continue
		}
		db.all[p.Name] = append(db.all[p.Name], p)
		if !p.installed() {
			continue
		}
		db.installed[p.Name] = append(db.installed[p.Name], p)
		for _, v := range splitDeps(p.Provides) {
			name, _ := depName(v)
			db.provides[name] = append(db.provides[name], p)
		}
		if p.Name == "dpkg" {
			db.native = p.Arch
		}
	}
	if db.native == "" {
		db.native = debArch(d.host)
	}
	if b, _, err := d.fs.readResolved(dpkgDir + "/diversions"); err == nil {
		l := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		for i := 0; i+2 < len(l); i += 3 {
			db.diversions[l[i]] = diversion{to: l[i+1], by: l[i+2]}
		}
	}
	d.pkgs = db
	return db, nil
}

func debArch(a arch) string {
	switch t := a.triplet(); t {
	case "x86_64-linux-gnu":
		return "amd64"
	case "i386-linux-gnu":
		return "i386"
	case "aarch64-linux-gnu":
		return "arm64"
	case "arm-linux-gnueabihf":
		return "armhf"
	case "powerpc64le-linux-gnu":
		return "ppc64el"
	case "s390x-linux-gnu":
		return "s390x"
	case "riscv64-linux-gnu":
		return "riscv64"
	default:
		return t
	}
}

// splitDeps splits a Depends-style field at commas.
func splitDeps(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// depName strips version constraints, architecture restrictions and build
// profiles from one alternative and returns its name and arch qualifier.
func depName(alt string) (name, qual string) {
	alt = strings.TrimSpace(alt)
	if i := strings.IndexAny(alt, " ([<"); i >= 0 {
		alt = alt[:i]
	}
	name, qual, _ = strings.Cut(alt, ":")
	return name, qual
}

// pick chooses the installed instance of name satisfying a dependency of a
// package of arch from (or a user request when from is ""), honouring an arch
// qualifier: same arch, then "all", then native, then any (Multi-Arch:
// foreign packages satisfy every arch).
func (db *dpkgDB) pick(name, qual, from string) *dpkgPkg {
	cands := db.installed[name]
	switch qual {
	case "":
	case "any":
		from = ""
	case "native":
		from = db.native
	default:
		for _, p := range cands {
			if p.Arch == qual {
				return p
			}
		}
		return nil
	}
	if from == "" || from == "all" {
		from = db.native
	}
	for _, want := range []string{from, "all"} {
		for _, p := range cands {
			if p.Arch == want {
				return p
			}
		}
	}
	for _, p := range cands {
		if p.MultiArch == "foreign" || qual == "any" {
			return p
		}
	}
	return nil
}

// satisfy returns the installed package satisfying one dependency group
// ("a | b (>= 1) | c:any"): the first alternative installed, real or virtual.
func (db *dpkgDB) satisfy(group, from string) *dpkgPkg {
	for _, alt := range strings.Split(group, "|") {
		name, qual := depName(alt)
		if p := db.pick(name, qual, from); p != nil {
			return p
		}
		for _, p := range db.provides[name] {
			if qual == "" || qual == "any" || p.Arch == qual || p.Arch == "all" {
				return p
			}
		}
	}
	return nil
}

// pkgVia is one package of the closure and the package that pulled it in.
type pkgVia struct {
	pkg   *dpkgPkg
	via   string // "" for packages the user named
	named bool
}

// closure is the Depends + Pre-Depends closure of the named packages, named
// ones first, then breadth first.
func (db *dpkgDB) closure(names []string) ([]pkgVia, error) {
	var out []pkgVia
	seen := map[string]bool{}
	for _, n := range names {
		name, _ := depName(n)
		p := db.satisfy(n, "") // a virtual name picks its first installed provider
		if p == nil {
			detail := "unknown package"
			if all := db.all[name]; len(all) > 0 {
				detail = "not installed (status " + all[0].Status + ")"
			}
			return nil, &PathError{What: "package", Path: n, Err: ErrNotFound, Detail: detail}
		}
		if !seen[p.key()] {
			seen[p.key()] = true
			out = append(out, pkgVia{pkg: p, named: true})
		}
	}
	for i := 0; i < len(out); i++ {
		p := out[i].pkg
		for _, group := range append(splitDeps(p.PreDepends), splitDeps(p.Depends)...) {
			q := db.satisfy(group, p.Arch)
			if q == nil {
				return nil, &PathError{What: "dependency of package " + p.Name, Path: group, Err: ErrNotFound, Detail: "no alternative is installed"}
			}
			if !seen[q.key()] {
				seen[q.key()] = true
				out = append(out, pkgVia{pkg: q, via: p.Name})
			}
		}
	}
	return out, nil
}

// listFiles reads a package's .list file.
func (d *discoverer) listFiles(p *dpkgPkg) ([]string, error) {
	for _, name := range []string{p.Name + ":" + p.Arch + ".list", p.Name + ".list"} {
		b, _, err := d.fs.readResolved(dpkgDir + "/info/" + name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, pathErr("file list of package "+p.Name, dpkgDir+"/info/"+name, err)
		}
		var out []string
		for _, l := range strings.Split(string(b), "\n") {
			if l != "" && l != "/." {
				out = append(out, l)
			}
		}
		return out, nil
	}
	logrus.Debugf("elfdeps: package %s has no file list", p.key())
	return nil, nil
}

// addPackages lists every file of the packages' dependency closure, the
// loader closure of their ELF files and the interpreters of their scripts,
// and their empty directories.
func (d *discoverer) addPackages(ctx context.Context) error {
	if len(d.o.Packages) == 0 {
		return nil
	}
	db, err := d.loadDpkg()
	if err != nil {
		return err
	}
	pkgs, err := db.closure(d.o.Packages)
	if err != nil {
		return err
	}
	type dirOf struct {
		res      *resolution
		why, pkg string
	}
	var dirs []dirOf
	var execs []string
	for _, pv := range pkgs {
		p := pv.pkg
		why := "package " + p.Name
		if pv.via != "" {
			why += " (dependency of " + pv.via + ")"
		}
		files, err := d.listFiles(p)
		if err != nil {
			return err
		}
		for _, f := range files {
			if div, ok := db.diversions[f]; ok && div.by != p.Name {
				f = div.to
			}
			if skippedPackagePath(f) {
				continue
			}
			if isKernelPath(f) {
				if pv.named {
					return &PathError{What: "package", Path: p.Name, Err: ErrKernelFile, Detail: "ships " + f}
				}
				continue
			}
			res, err := d.fs.resolve(f)
			if err != nil {
				d.addDangling(f, why, p.Name, err)
				continue
			}
			if kernelIn(f, res) != "" || skippedPackagePath(res.Path) {
				continue
			}
			if res.node.isDir() {
				dirs = append(dirs, dirOf{res, why, p.Name})
				continue
			}
			d.addResolved(res, ReasonPackage, why, p.Name)
			if mayExecute(res.Path, res.node) {
				execs = append(execs, res.Path)
			}
			if isUnitFile(res.Path) {
				if b, err := d.fs.readFile(res.Path); err == nil {
					u, g := unitAccounts(b)
					d.unitUsers = append(d.unitUsers, u...)
					d.unitGroups = append(d.unitGroups, g...)
				}
			}
		}
	}
	// Debian packages declare the interpreters their scripts need, except
	// essential ones (/bin/sh, perl-base): a script's interpreter is only
	// followed when the closure already has it.
	if err := d.addExecutables(ctx, execs, false); err != nil {
		return err
	}
	// Directories with nothing listed below them (/var/lib/nginx) must exist all the same.
	parents := map[string]bool{}
	markParents := func(p string) {
		for q := path.Dir(p); !parents[q]; q = path.Dir(q) {
			parents[q] = true
			if q == "/" {
				break
			}
		}
	}
	for p := range d.files {
		markParents(p)
	}
	for _, dr := range dirs {
		markParents(dr.res.Path)
	}
	for _, dr := range dirs {
		if !parents[dr.res.Path] {
			d.addResolved(dr.res, ReasonPackage, dr.why, dr.pkg)
		}
	}
	return nil
}

// addDangling lists a package's symlink whose target is missing (the link is
// the package's file all the same); missing files are skipped.
func (d *discoverer) addDangling(f, why, pkg string, err error) {
	if !errors.Is(err, ErrBrokenSymlink) {
		logrus.Debugf("elfdeps: %s (%s): %v", f, why, err)
		return
	}
	dir, derr := d.fs.resolve(path.Dir(f))
	if derr != nil {
		logrus.Debugf("elfdeps: %s (%s): %v", f, why, err)
		return
	}
	p := path.Join(dir.Path, path.Base(f))
	if n := d.fs.lstat(p); n.err == nil && n.isLink() {
		hops := slices.Clone(dir.Hops)
		for i := range hops {
			hops[i].Final = false
		}
		d.addResolved(&resolution{Path: p, Hops: hops, node: n}, ReasonPackage, why, pkg)
		logrus.Debugf("elfdeps: %s (%s) is a dangling symlink: listed without its target", f, why)
	}
}

func isUnitFile(p string) bool {
	return (strings.HasPrefix(p, "/usr/lib/systemd/system/") || strings.HasPrefix(p, "/lib/systemd/system/")) &&
		(strings.HasSuffix(p, ".service") || strings.HasSuffix(p, ".socket"))
}
