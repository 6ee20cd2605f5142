// Command vmctr is a secure-container runtime with a runc-compatible command
// line. This package only parses flags, prints results and maps errors to
// exit codes; the work happens in the library packages.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/vmctr/vmctr/container"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

const (
	catRunc  = "runc-compatible"
	catVmctr = "vmctr"
)

func main() {
	app := newApp()
	if err := app.Run(reorderArgs(app, os.Args)); err != nil {
		fatal(err)
	}
}

// commit is set at build time with -ldflags "-X main.commit=..." (the
// Makefile does), for builds without Go's VCS stamping (-buildvcs=false).
var commit string

// vcsRevision is the commit vmctr was built from: the one the Makefile
// set, or the one Go recorded ("-dirty" when the tree had changes), or "".
func vcsRevision() string {
	if commit != "" {
		return commit
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev == "" {
		return ""
	}
	return rev + dirty
}

func newApp() *cli.App {
	// runc's shape: tools that show a runtime's version (podman info)
	// read these lines.
	cli.VersionPrinter = func(c *cli.Context) {
		fmt.Fprintf(c.App.Writer, "vmctr version %s\n", c.App.Version)
		if commit := vcsRevision(); commit != "" {
			fmt.Fprintf(c.App.Writer, "commit: %s\n", commit)
		}
		fmt.Fprintf(c.App.Writer, "spec: %s\ngo: %s\n", specs.Version, runtime.Version())
		if v := container.SeccompVersion(); v != "" {
			fmt.Fprintf(c.App.Writer, "libseccomp: %s\n", v)
		}
	}
	app := &cli.App{
		Name:    "vmctr",
		Usage:   "a secure-container runtime with a runc-compatible command line",
		Version: version,
		Description: `vmctr runs OCI bundles in containers that share the host's kernel but nothing
else: each has its own root file system, namespaces and cgroup limits. Its
command line is runc's, so containerd, podman/conmon and Kubernetes can use it
in place of runc.`,
		DisableSliceFlagSeparator: true,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "debug", Usage: "enable debug logging"},
			&cli.StringFlag{Name: "log", Usage: "write vmctr's log to this file (default: stderr)"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log format: text or json"},
			&cli.StringFlag{Name: "root", Value: container.DefaultRoot, Usage: "directory for container state (should be on tmpfs)"},
			&cli.BoolFlag{Name: "systemd-cgroup", Usage: "use the systemd cgroup driver (cgroupsPath as slice:prefix:name)"},
			&cli.StringFlag{Name: "rootless", Value: "auto", Usage: "accepted for runc compatibility; ignored"},
			&cli.StringFlag{Name: "criu", Usage: "accepted for runc compatibility; ignored", Hidden: true},
		},
		Before: setup,
		Commands: []*cli.Command{
			createCommand, startCommand, runCommand, execCommand, stateCommand,
			killCommand, deleteCommand, listCommand, psCommand, pauseCommand,
			resumeCommand, updateCommand, eventsCommand, specCommand, featuresCommand,
			buildCommand, inspectCommand,
		},
		ExitErrHandler: func(*cli.Context, error) {}, // main's fatal handles errors
	}
	return app
}

// setup checks the global flags and configures logging, as runc does.
func setup(c *cli.Context) error {
	root, err := filepath.Abs(c.String("root"))
	if err != nil {
		return err
	}
	if root == "/" {
		return errors.New("--root must not be /")
	}
	if err := c.Set("root", root); err != nil {
		return err
	}
	if c.Bool("debug") {
		logrus.SetLevel(logrus.DebugLevel)
	}
	switch f := c.String("log-format"); f {
	case "", "text":
	case "json":
		logrus.SetFormatter(new(logrus.JSONFormatter))
	default:
		return fmt.Errorf("invalid --log-format %q (want text or json)", f)
	}
	if p := c.String("log"); p != "" {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_SYNC, 0o644)
		if err != nil {
			return fmt.Errorf("opening log file: %w", err)
		}
		logrus.SetOutput(f)
	}
	if c.IsSet("rootless") {
		logrus.Debug("--rootless is accepted for compatibility and ignored")
	}
	return nil
}

// exitError carries the exit status of a container process.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// codeError is a failure of vmctr itself that exits with a status other
// than 1: as with runc, a failed exec exits 255, so that a caller waiting for
// an attached process can tell vmctr's failure from the process's own status.
type codeError struct {
	err  error
	code int
}

func (e codeError) Error() string { return e.err.Error() }
func (e codeError) Unwrap() error { return e.err }

// fatal logs err (to --log, in its format) and on stderr, then exits 1 (or a
// codeError's code); a container's own exit status is passed through unchanged. Without --log and
// in text format the stderr line is plain "vmctr: msg": conmon hands a
// runtime's stderr to the user as it is when it does not pass --log (it only
// does for runtimes it knows by name).
func fatal(err error) {
	var ee exitError
	if errors.As(err, &ee) {
		os.Exit(ee.code)
	}
	code := 1
	var ce codeError
	if errors.As(err, &ce) {
		code = ce.code
	}
	msg := strings.TrimSpace(err.Error())
	_, text := logrus.StandardLogger().Formatter.(*logrus.TextFormatter)
	if !logsToStderr() || !text {
		logrus.Error(msg)
	}
	if !logsToStderr() || text {
		fmt.Fprintln(os.Stderr, "vmctr: "+msg)
	}
	os.Exit(code)
}

func logsToStderr() bool {
	f, ok := logrus.StandardLogger().Out.(*os.File)
	return ok && f.Fd() == os.Stderr.Fd()
}

// args checks the number of positional arguments.
func args(c *cli.Context, min, max int) error {
	n := c.NArg()
	if n < min || (max >= 0 && n > max) {
		want := fmt.Sprintf("%d", min)
		switch {
		case max < 0:
			want = fmt.Sprintf("at least %d", min)
		case max != min:
			want = fmt.Sprintf("%d to %d", min, max)
		}
		_ = cli.ShowCommandHelp(c, c.Command.Name)
		return fmt.Errorf("%s: expected %s argument(s), got %d", c.Command.Name, want, n)
	}
	return nil
}

// warnUnsupported logs a warning for each runc flag that vmctr accepts but ignores.
func warnUnsupported(c *cli.Context, names ...string) {
	for _, n := range names {
		if c.IsSet(n) {
			logrus.Warnf("--%s is accepted for runc compatibility and ignored", n)
		}
	}
}
