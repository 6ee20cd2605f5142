package elfdeps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"runtime"
	"strings"
	"sync"

	"github.com/sirupsen/logrus"
)

// defaultPATH is where bare app names and `#!/usr/bin/env prog` are looked up
// inside the root (the PATH a built container gets by default).
var defaultPATH = []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}

// maxInterpDepth is the kernel's limit on nested #! interpreters (BINPRM_MAX_RECURSION).
const maxInterpDepth = 4

type fileKind int

const (
	kindOther fileKind = iota
	kindELF
	kindScript
)

// sniffResult is what the start of a file says it is.
type sniffResult struct {
	kind   fileKind
	obj    *elfObj // kindELF
	interp string  // kindScript: the #! interpreter
	arg    string  // kindScript: its optional argument
	err    error   // *resolveError
}

// sniff reads the start of the regular file at canonical path p (and the ELF
// headers if it is an ELF). Results are cached; safe for concurrent use.
func (d *discoverer) sniff(p string) *sniffResult {
	d.mu.Lock()
	s, ok := d.sniffs[p]
	d.mu.Unlock()
	if ok {
		return s
	}
	s = d.doSniff(p)
	d.mu.Lock()
	d.sniffs[p] = s
	d.mu.Unlock()
	return s
}

func (d *discoverer) doSniff(p string) *sniffResult {
	f, err := d.fs.open(p)
	if err != nil {
		return &sniffResult{err: err}
	}
	defer f.Close()
	head := make([]byte, 256) // the kernel reads BINPRM_BUF_SIZE = 256 bytes of a #! line
	n, err := f.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return &sniffResult{err: &resolveError{Err: ErrUnreadable, At: p, Detail: err.Error()}}
	}
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, elfMagic):
		obj, err := parseELF(f)
		if err != nil {
			return &sniffResult{err: &resolveError{Err: ErrUnreadable, At: p, Detail: err.Error()}}
		}
		return &sniffResult{kind: kindELF, obj: obj}
	case bytes.HasPrefix(head, []byte("#!")):
		interp, arg := parseShebang(head)
		if interp == "" {
			return &sniffResult{}
		}
		return &sniffResult{kind: kindScript, interp: interp, arg: arg}
	}
	return &sniffResult{}
}

// parseShebang splits a #! line the way the kernel's binfmt_script does:
// the interpreter up to the first blank, then at most one argument (the rest
// of the line, trimmed).
func parseShebang(head []byte) (interp, arg string) {
	line := head[2:]
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	s := strings.Trim(string(line), " \t\r")
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		return s[:i], strings.Trim(s[i:], " \t")
	}
	return s, ""
}

// envProgram is the program `#!/usr/bin/env ARG` runs: the first word of ARG
// that is not an option or a VAR=value assignment.
func envProgram(arg string) string {
	f := strings.Fields(arg)
	for i := 0; i < len(f); i++ {
		w := f[i]
		switch {
		case w == "--":
			if i+1 < len(f) {
				return f[i+1]
			}
			return ""
		case w == "-u" || w == "-C" || w == "--unset" || w == "--chdir":
			i++ // takes an argument
		case strings.HasPrefix(w, "-S") && len(w) > 2:
			return w[2:]
		case strings.HasPrefix(w, "-"):
		case strings.Contains(w, "="):
		default:
			return w
		}
	}
	return ""
}

// lookPath finds an executable name in defaultPATH inside the root.
func (d *discoverer) lookPath(name string) (string, bool) {
	for _, dir := range defaultPATH {
		p := path.Join(dir, name)
		res, err := d.fs.resolve(p)
		if err == nil && !res.node.isDir() && res.node.mode&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}

// mayExecute says whether a file is worth sniffing for an ELF or a #! line:
// executables and shared objects (which are often not executable).
func mayExecute(p string, n *node) bool {
	return n.isRegular() && (n.mode&0o111 != 0 || strings.Contains(path.Base(p), ".so"))
}

// prefetch sniffs many files in parallel, so the sequential walks that
// follow hit the cache.
func (d *discoverer) prefetch(ctx context.Context, paths []string) {
	if len(paths) < 8 {
		return
	}
	ch := make(chan string)
	var wg sync.WaitGroup
	for i := 0; i < runtime.GOMAXPROCS(0); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range ch {
				d.sniff(p)
			}
		}()
	}
	for _, p := range paths {
		if ctx.Err() != nil {
			break
		}
		ch <- p
	}
	close(ch)
	wg.Wait()
}

// addApps lists the apps and everything they need to start.
func (d *discoverer) addApps(ctx context.Context) error {
	for _, a := range d.o.Apps {
		req := cleanRequest(a)
		if !strings.Contains(a, "/") {
			p, ok := d.lookPath(a)
			if !ok {
				return &PathError{What: "app", Path: a, Err: ErrNotFound, Detail: "no executable of that name in " + strings.Join(defaultPATH, ":")}
			}
			req = p
		}
		if isKernelPath(req) {
			return &PathError{What: "app", Path: a, Err: ErrKernelFile}
		}
		res, err := d.fs.resolve(req)
		if err != nil {
			return pathErr("app", a, err)
		}
		if k := kernelIn(req, res); k != "" {
			return &PathError{What: "app", Path: a, Err: ErrKernelFile, Detail: k}
		}
		if !res.node.isRegular() {
			return &PathError{What: "app", Path: a, Err: ErrNotProgram, Detail: res.Path + " is " + fileType(res.node.mode)}
		}
		if res.node.mode&0o111 == 0 {
			logrus.Warnf("elfdeps: app %s (%s) is not executable", a, res.Path)
		}
		detail := d.o.AppDetail[a]
		if detail == "" {
			detail = "--app " + a
		}
		d.addResolved(res, ReasonApp, detail, "")
		d.apps = append(d.apps, resolvedApp{given: a, path: req, res: res})
		if err := d.addExecutable(req, res, "app", a, true, 0); err != nil {
			return err
		}
	}
	return nil
}

// addExecutable adds what the file at req needs to run: its loader closure
// if it is an ELF, its #! interpreter chain if it is a script. strict makes
// every problem an error (apps); otherwise problems are logged and skipped
// (package files, explicit files, runtime modules).
func (d *discoverer) addExecutable(req string, res *resolution, what, given string, strict bool, depth int) error {
	s := d.sniff(res.Path)
	if s.err != nil {
		if strict {
			return pathErr(what, given, s.err)
		}
		// Copied all the same; what it would load is not followed.
		logrus.Warnf("elfdeps: %s: %v; copied without following its dependencies", req, s.err)
		return nil
	}
	switch s.kind {
	case kindELF:
		if !d.host.runnable(s.obj.arch) {
			if strict {
				return &PathError{What: what, Path: given, Err: ErrWrongArch,
					Detail: fmt.Sprintf("%s is %s, this host runs %s", res.Path, s.obj.arch, d.host)}
			}
			logrus.Debugf("elfdeps: %s is %s: not following its dependencies", req, s.obj.arch)
			return nil
		}
		return d.closeELF(req, res, s.obj, strict)
	case kindScript:
		return d.addInterpreter(req, s, strict, depth)
	}
	if strict {
		// The container starts programs with execve(2), which has no
		// fallback to /bin/sh for scripts without #!.
		detail := res.Path + " is neither an ELF file nor a #! script"
		if res.node.size == 0 {
			detail += " (empty file)"
		}
		return &PathError{What: what, Path: given, Err: ErrNotProgram, Detail: detail}
	}
	return nil
}

// addInterpreter adds the #! interpreter of the script req, recursively, and
// for `#!/usr/bin/env prog` the prog found in PATH inside the root.
func (d *discoverer) addInterpreter(req string, s *sniffResult, strict bool, depth int) error {
	what := "#! interpreter of " + req
	fail := func(err error) error {
		if strict {
			return err
		}
		logrus.Debugf("elfdeps: %v", err)
		return nil
	}
	if depth >= maxInterpDepth {
		return fail(&PathError{What: what, Path: s.interp, Err: ErrUnreadable, Detail: fmt.Sprintf("more than %d nested #! interpreters", maxInterpDepth)})
	}
	if !strings.HasPrefix(s.interp, "/") {
		return fail(&PathError{What: what, Path: s.interp, Err: ErrNotFound, Detail: "a relative interpreter depends on the working directory"})
	}
	ires, err := d.fs.resolve(s.interp)
	if err != nil {
		return fail(pathErr(what, s.interp, err))
	}
	if k := kernelIn(s.interp, ires); k != "" {
		return fail(&PathError{What: what, Path: s.interp, Err: ErrKernelFile, Detail: k})
	}
	if !ires.node.isRegular() {
		return fail(&PathError{What: what, Path: s.interp, Err: ErrNotProgram, Detail: ires.Path + " is " + fileType(ires.node.mode)})
	}
	d.addResolved(ires, ReasonInterp, what, req)
	if err := d.addExecutable(s.interp, ires, what, s.interp, strict, depth+1); err != nil {
		return err
	}
	if path.Base(ires.Path) != "env" && path.Base(s.interp) != "env" {
		return nil
	}
	prog := envProgram(s.arg)
	if prog == "" {
		return nil
	}
	what = fmt.Sprintf("%s run by %s in #! of %s", prog, s.interp, req)
	p := prog
	if !strings.Contains(prog, "/") {
		var ok bool
		if p, ok = d.lookPath(prog); !ok {
			return fail(&PathError{What: what, Path: prog, Err: ErrNotFound, Detail: "no executable of that name in " + strings.Join(defaultPATH, ":")})
		}
	}
	pres, err := d.fs.resolve(p)
	if err != nil {
		return fail(pathErr(what, p, err))
	}
	if !pres.node.isRegular() {
		return fail(&PathError{What: what, Path: p, Err: ErrNotProgram, Detail: pres.Path + " is " + fileType(pres.node.mode)})
	}
	d.addResolved(pres, ReasonInterp, what, req)
	return d.addExecutable(p, pres, what, p, strict, depth+1)
}

// closeELF adds the loader closure of the ELF object at req: its PT_INTERP
// and, breadth first as ld.so loads them, every DT_NEEDED object.
func (d *discoverer) closeELF(req string, res *resolution, obj *elfObj, strict bool) error {
	d.objs[res.Path] = obj
	if d.done[res.Path] {
		return nil
	}
	d.done[res.Path] = true
	a := obj.arch
	top := &lnode{obj: obj, path: req, canon: res.Path, origin: path.Dir(res.Path)}
	loaded := map[string]*lnode{} // DT_NEEDED names and sonames already satisfied
	byCanon := map[string]*lnode{res.Path: top}
	if obj.Soname != "" {
		loaded[obj.Soname] = top
	}
	queue := []*lnode{top}
	fail := func(err error) error {
		if strict {
			return err
		}
		logrus.Debugf("elfdeps: %v", err)
		return nil
	}
	if obj.Interp != "" {
		what := "PT_INTERP of " + req
		ires, err := d.fs.resolve(obj.Interp)
		if err != nil {
			if err := fail(pathErr(what, obj.Interp, err)); err != nil {
				return err
			}
		} else if s := d.sniff(ires.Path); s.err != nil {
			if err := fail(pathErr(what, obj.Interp, s.err)); err != nil {
				return err
			}
		} else if s.obj == nil || s.obj.arch != a {
			if err := fail(&PathError{What: what, Path: obj.Interp, Err: ErrWrongArch, Detail: "not an ELF for " + a.String()}); err != nil {
				return err
			}
		} else {
			d.addResolved(ires, ReasonELF, what, req)
			d.objs[ires.Path] = s.obj
			in := &lnode{obj: s.obj, path: obj.Interp, canon: ires.Path, origin: path.Dir(obj.Interp), loader: top}
			loaded[obj.Interp] = in
			if s.obj.Soname != "" {
				loaded[s.obj.Soname] = in
			}
			byCanon[ires.Path] = in
		}
	}
	for i := 0; i < len(queue); i++ {
		n := queue[i]
		for _, name := range n.obj.Needed {
			if _, ok := loaded[name]; ok {
				continue
			}
			f, searched := d.findLib(name, n, a)
			if f == nil {
				if err := fail(&PathError{What: "library needed by " + n.path, Path: name, Err: ErrNotFound,
					Detail: "searched " + strings.Join(searched, ", ")}); err != nil {
					return err
				}
				loaded[name] = nil
				continue
			}
			detail := fmt.Sprintf("DT_NEEDED %s of %s (%s)", name, n.path, f.how)
			for _, v := range append([]*found{f}, f.variants...) {
				d.addResolved(v.res, ReasonELF, detail, n.path)
				d.objs[v.res.Path] = v.obj
				if prev, ok := byCanon[v.res.Path]; ok {
					if v == f {
						loaded[name] = prev
					}
					continue
				}
				c := &lnode{obj: v.obj, path: v.path, canon: v.res.Path, origin: path.Dir(v.path), loader: n}
				byCanon[v.res.Path] = c
				if v == f {
					loaded[name] = c
					if v.obj.Soname != "" {
						if _, ok := loaded[v.obj.Soname]; !ok {
							loaded[v.obj.Soname] = c
						}
					}
				}
				queue = append(queue, c)
			}
		}
	}
	return nil
}

// addExplicit lists the --file paths, directories recursively.
func (d *discoverer) addExplicit(ctx context.Context) error {
	for _, f := range d.o.Files {
		req := cleanRequest(f)
		if isKernelPath(req) {
			return &PathError{What: "file", Path: f, Err: ErrKernelFile}
		}
		res, err := d.fs.resolve(req)
		if err != nil {
			return pathErr("file", f, err)
		}
		if k := kernelIn(req, res); k != "" {
			return &PathError{What: "file", Path: f, Err: ErrKernelFile, Detail: k}
		}
		why := "--file " + f
		d.addResolved(res, ReasonExplicit, why, "")
		var execs []string
		switch {
		case res.node.isDir():
			if err := d.walk(ctx, res.Path, ReasonExplicit, why, req, &execs); err != nil {
				return err
			}
		case res.node.isRegular():
			if mayExecute(res.Path, res.node) {
				execs = append(execs, res.Path)
			}
		default:
			return &PathError{What: "file", Path: f, Err: ErrUnreadable, Detail: res.Path + " is " + fileType(res.node.mode)}
		}
		if err := d.addExecutables(ctx, execs, true); err != nil {
			return err
		}
	}
	return nil
}

// addExecutables follows ELF and #! dependencies of many canonical paths,
// leniently, after sniffing them in parallel. Unless newInterps, scripts
// whose interpreter is not listed yet are left alone.
func (d *discoverer) addExecutables(ctx context.Context, paths []string, newInterps bool) error {
	d.prefetch(ctx, paths)
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return err
		}
		res, err := d.fs.resolve(p)
		if err != nil {
			continue
		}
		if !newInterps {
			if s := d.sniff(res.Path); s.kind == kindScript && !d.listed(s.interp) {
				logrus.Debugf("elfdeps: %s: not adding its #! interpreter %s", p, s.interp)
				continue
			}
		}
		if err := d.addExecutable(p, res, "file", p, false, 0); err != nil {
			return err
		}
	}
	return nil
}

// walk lists everything below canonical directory dir, with reason, why
// and via. Symlinks are listed with their targets but not followed into
// directories; kernel files, broken links and special files are skipped.
func (d *discoverer) walk(ctx context.Context, dir string, reason Reason, why, via string, execs *[]string) error {
	names, err := d.fs.readDir(dir)
	if err != nil {
		return pathErr("file", dir, err)
	}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := path.Join(dir, name)
		if isKernelPath(p) {
			continue
		}
		n := d.fs.lstat(p)
		switch {
		case n.err != nil:
			logrus.Debugf("elfdeps: %s: %v", p, n.err)
		case n.isLink():
			res, err := d.fs.resolve(p)
			if err != nil || kernelIn(p, res) != "" {
				logrus.Warnf("elfdeps: %s: listing the link only: %v", p, errOr(err, "leads to a kernel file"))
				d.put(p, reason, why, via)
				continue
			}
			d.addResolved(res, reason, why, via)
			if mayExecute(res.Path, res.node) {
				*execs = append(*execs, res.Path)
			}
		case n.isDir():
			d.put(p, reason, why, via)
			if err := d.walk(ctx, p, reason, why, via, execs); err != nil {
				return err
			}
		case n.isRegular():
			d.put(p, reason, why, via)
			if mayExecute(p, n) {
				*execs = append(*execs, p)
			}
		default:
			logrus.Debugf("elfdeps: %s is %s: skipped", p, fileType(n.mode))
		}
	}
	return nil
}

// listed reports whether p resolves to a listed file.
func (d *discoverer) listed(p string) bool {
	res, err := d.fs.resolve(p)
	if err != nil {
		return false
	}
	_, ok := d.files[res.Path]
	return ok
}

func errOr(err error, s string) error {
	if err != nil {
		return err
	}
	return errors.New(s)
}
