package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/vmctr/vmctr/container"
	"github.com/vmctr/vmctr/rootfs"
)

// initName is the file name of the static init program that `make` builds
// (rootfs/init/vmctr-init.c, into _output/).
const initName = "vmctr-init"

var buildCommand = &cli.Command{
	Name:     "build",
	Category: catVmctr,
	Usage:    "build a container (an OCI bundle) from programs installed on this server or another root",
	Description: `vmctr build finds the files the named programs need (their ELF closure,
the runtime files libc reaches, package contents, what they open when traced),
copies them into a private root file system, and writes an OCI bundle that
vmctr, runc and crun can run. See docs/build.md.

Examples:
   vmctr build --package nginx --keep-user www-data --file /var/www/html \
      --file /etc/nginx/sites-enabled --cmd "/usr/sbin/nginx -g 'daemon off;'" -o ./nginx
   vmctr build --app /usr/bin/python3 --file /srv/app.py --trace \
      --cmd "/usr/bin/python3 /srv/app.py" -o ./app
   vmctr build -f app.yaml -o ./app-bundle`,
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "definition", Aliases: []string{"f"}, Usage: "read the build from this definition file (YAML)"},
		&cli.StringSliceFlag{Name: "app", Usage: "a program to carry, by path (repeatable)"},
		&cli.StringSliceFlag{Name: "package", Usage: "a Debian package to carry, with its dependencies (repeatable)"},
		&cli.StringSliceFlag{Name: "file", Usage: "an extra file or directory to carry (repeatable)"},
		&cli.StringSliceFlag{Name: "exclude", Usage: "leave out paths matching this glob (repeatable; dir/** for a tree)"},
		&cli.BoolFlag{Name: "trace", Usage: "run the apps once under observation and carry what they open"},
		&cli.DurationFlag{Name: "trace-timeout", Value: 5 * time.Second, Usage: "how long --trace lets the apps run"},
		&cli.StringFlag{Name: "source-root", Value: "/", Usage: "take every file from this root file system (another server's)"},
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "the bundle directory to write"},
		&cli.StringFlag{Name: "tag", Aliases: []string{"t"}, Usage: "name the result in the local image store (not yet available)"},
		&cli.BoolFlag{Name: "force", Usage: "replace the output directory if it is not empty"},
		&cli.StringSliceFlag{Name: "cmd", Usage: "a start command line, started in order (repeatable; default: each --app)"},
		&cli.DurationFlag{Name: "stop-timeout", Value: rootfs.DefaultStopTimeout, Usage: "how long the init waits for the apps after a stop signal"},
		&cli.StringFlag{Name: "user", Usage: "run as this user: name, uid, name:group or uid:gid (default root)"},
		&cli.StringSliceFlag{Name: "keep-user", Usage: "also keep this user (and its group) in the container's /etc/passwd, e.g. one a config file names (repeatable)"},
		&cli.StringSliceFlag{Name: "env", Usage: "KEY=VALUE in every app's environment (repeatable)"},
		&cli.StringFlag{Name: "workdir", Usage: "the apps' working directory (default /)"},
		&cli.StringFlag{Name: "hostname", Usage: "the container's hostname (default: the first app's name)"},
		&cli.BoolFlag{Name: "keep-setuid", Usage: "keep setuid/setgid bits and file capabilities (stripped by default)"},
		&cli.Uint64Flag{Name: "userns", Usage: "run in a user namespace: the container's IDs 0-65535 are host IDs BASE..BASE+65535, and the copies are owned so (give each container its own BASE, e.g. 65536*N; 0: no user namespace)"},
		&cli.StringFlag{Name: "init", Usage: "the static init program to put in the container (default: " + initName + " beside vmctr)"},
		&cli.StringFlag{Name: "format", Value: "text", Usage: "output: text or json"},
	},
	Action: func(c *cli.Context) error {
		if err := args(c, 0, 0); err != nil {
			return err
		}
		if c.IsSet("tag") {
			return errors.New("build: -t/--tag needs the local image store, which is not available yet; write a bundle with -o DIR")
		}
		format := c.String("format")
		if format != "text" && format != "json" {
			return fmt.Errorf("build: invalid --format %q (want text or json)", format)
		}
		o, err := buildOpts(c)
		if err != nil {
			return fmt.Errorf("build: %w", err)
		}
		// A build allocates a few MB that live until it ends: collecting
		// at the default 4 MB heap costs an nginx build about 1 ms (10%)
		// for nothing. Collect at 5x the live heap instead, and harder
		// again when the heap nears 1 GiB (a build of a huge tree).
		// GOGC and GOMEMLIMIT in the environment still decide.
		if os.Getenv("GOGC") == "" {
			debug.SetGCPercent(400)
		}
		if os.Getenv("GOMEMLIMIT") == "" {
			debug.SetMemoryLimit(1 << 30)
		}
		ctx, stop := signal.NotifyContext(c.Context, unix.SIGINT, unix.SIGTERM)
		defer stop()
		bar := newProgressBar(c.App.ErrWriter)
		if bar != nil {
			o.Progress = bar.update
		}
		res, err := rootfs.Build(ctx, o)
		if bar != nil {
			bar.finish()
		}
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return errors.New("build: interrupted; nothing was written")
			}
			return fmt.Errorf("build: %w", err)
		}
		if format == "json" {
			return printJSON(c.App.Writer, res, true)
		}
		if res.Unchanged {
			fmt.Fprintf(c.App.Writer, "%s is up to date (built from the same inputs; --force rebuilds it)\n", res.Bundle)
			return nil
		}
		fmt.Fprintf(c.App.Writer, "built %s: %d files (%s), %d directories, %d symlinks, %d hard links, %d generated, in %.2fs\n",
			res.Bundle, res.Files, humanBytes(res.Bytes), res.Dirs, res.Symlinks, res.Hardlinks, res.Generated, res.Duration.Seconds())
		return nil
	},
}

// buildOpts merges the definition file (if any) with the flags: list flags
// add to the file's lists, other flags replace the file's values, and
// --cmd replaces the file's start commands.
func buildOpts(c *cli.Context) (rootfs.BuildOpts, error) {
	var def rootfs.Definition
	if p := c.String("definition"); p != "" {
		d, err := rootfs.ReadDefinition(p)
		if err != nil {
			return rootfs.BuildOpts{}, err
		}
		def = *d
	}
	for name, sec := range map[string]map[string]any{"identity": def.Identity, "resources": def.Resources, "slcse": def.SLCSE} {
		if len(sec) > 0 {
			logrus.Warnf("build: the definition file's %s section is accepted but not used yet", name)
		}
	}
	str := func(flag, fromFile string) string {
		if c.IsSet(flag) || fromFile == "" {
			return c.String(flag)
		}
		return fromFile
	}
	o := rootfs.BuildOpts{
		SourceRoot:   str("source-root", def.SourceRoot),
		Apps:         append(def.Apps, c.StringSlice("app")...),
		Packages:     append(def.Packages, c.StringSlice("package")...),
		Files:        append(def.Files, c.StringSlice("file")...),
		Excludes:     append(def.Excludes, c.StringSlice("exclude")...),
		Trace:        c.Bool("trace") || def.Trace,
		TraceTimeout: c.Duration("trace-timeout"),
		Start:        def.Start,
		StopTimeout:  time.Duration(def.StopTimeout),
		User:         str("user", def.User),
		KeepUsers:    append(def.KeepUsers, c.StringSlice("keep-user")...),
		Env:          append(def.Env, c.StringSlice("env")...),
		Workdir:      str("workdir", def.Workdir),
		Hostname:     str("hostname", def.Hostname),
		KeepSetuid:   c.Bool("keep-setuid") || def.KeepSetuid,
		UsernsBase:   def.Userns,
		Output:       c.String("output"),
		Force:        c.Bool("force"),
	}
	spec, err := container.SecureSpec(rootfs.DefaultCapabilities)
	if err != nil {
		return o, err
	}
	o.Spec = spec
	if c.IsSet("userns") {
		v := c.Uint64("userns")
		if v > 1<<32-1 {
			return o, fmt.Errorf("--userns %d: out of range", v)
		}
		o.UsernsBase = uint32(v)
	}
	if !c.IsSet("trace-timeout") && def.TraceTimeout != 0 {
		o.TraceTimeout = time.Duration(def.TraceTimeout)
	}
	if c.IsSet("stop-timeout") {
		o.StopTimeout = c.Duration("stop-timeout")
	}
	if cmds := c.StringSlice("cmd"); len(cmds) > 0 {
		o.Start = nil
		for _, s := range cmds {
			words, err := rootfs.SplitCommand(s)
			if err != nil {
				return o, fmt.Errorf("--cmd: %w", err)
			}
			o.Start = append(o.Start, rootfs.Command{Args: words})
		}
	}
	if o.Output == "" {
		return o, errors.New("no output directory: give -o DIR")
	}
	if len(o.Apps) == 0 && len(o.Packages) == 0 && len(o.Start) == 0 {
		return o, errors.New("nothing to build: give --app, --package, --cmd or a definition file (-f)")
	}
	init, err := findInit(c.String("init"))
	if err != nil {
		return o, err
	}
	o.Init = init
	return o, nil
}

// findInit locates the init program: --init, $VMCTR_INIT, beside the vmctr
// executable, in _output/ beside it (a source tree built with make), or in
// the libexec directories of an installed vmctr.
func findInit(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if p := os.Getenv("VMCTR_INIT"); p != "" {
		return p, nil
	}
	var cands []string
	if exe, err := os.Executable(); err == nil {
		dir := filepath.Dir(exe)
		cands = append(cands, filepath.Join(dir, initName), filepath.Join(dir, "_output", initName),
			filepath.Join(dir, "..", "libexec", "vmctr", initName))
	}
	cands = append(cands, "/usr/local/libexec/vmctr/"+initName, "/usr/libexec/vmctr/"+initName)
	for _, p := range cands {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s (the container's init program) not found in %s; build it with make, or give --init: %w",
		initName, strings.Join(cands, ", "), fs.ErrNotExist)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// progressBar draws a build's progress on a terminal (stderr), at most ten
// times a second. It is nil (and silent) when stderr is not a terminal.
type progressBar struct {
	w     io.Writer
	mu    sync.Mutex
	last  time.Time
	drawn bool
	width int
}

func newProgressBar(w io.Writer) *progressBar {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return nil // not a terminal
	}
	width := int(ws.Col)
	if width < 40 {
		width = 80
	}
	return &progressBar{w: w, width: width}
}

func (b *progressBar) update(p rootfs.Progress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if now.Sub(b.last) < 100*time.Millisecond && !(p.Phase == "copying" && p.Done == p.Total) {
		return
	}
	b.last = now
	var line string
	if p.Phase == "copying" && p.Total > 0 {
		info := fmt.Sprintf(" %d/%d files %s", p.Done, p.Total, humanBytes(p.Bytes))
		n := b.width - len(info) - 12
		if n > 50 {
			n = 50
		}
		fill := n * p.Done / p.Total
		line = "copying [" + strings.Repeat("#", fill) + strings.Repeat(" ", n-fill) + "]" + info
	} else {
		line = p.Phase + "..."
	}
	fmt.Fprintf(b.w, "\r\033[K%s", line)
	b.drawn = true
}

func (b *progressBar) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.drawn {
		fmt.Fprint(b.w, "\r\033[K")
	}
}
