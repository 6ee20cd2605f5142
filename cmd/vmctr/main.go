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
	"strconv"
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
			&cli.StringFlag{Name: "rootless", Value: "auto", Usage: "true, false or auto, as runc's; accepted for runc compatibility and ignored"},
			&cli.StringFlag{Name: "criu", Usage: "accepted for runc compatibility; ignored", Hidden: true},
		},
		Before: setup,
		Commands: []*cli.Command{
			createCommand, startCommand, runCommand, execCommand, stateCommand,
			killCommand, deleteCommand, listCommand, psCommand, pauseCommand,
			resumeCommand, updateCommand, eventsCommand, specCommand, featuresCommand,
			checkpointCommand, restoreCommand,
			buildCommand, inspectCommand,
		},
		Action:         unknownCommand,
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
		if err := checkRootless(c.App, c.String("rootless")); err != nil {
			return err
		}
		logrus.Debug("--rootless is accepted for compatibility and ignored")
	}
	return nil
}

// checkRootless accepts the values runc's --rootless accepts: auto (or
// empty) and what strconv.ParseBool takes. A command name there means the
// flag took the command as its value (`vmctr --rootless list`).
func checkRootless(app *cli.App, v string) error {
	if v == "" || strings.EqualFold(v, "auto") {
		return nil
	}
	if _, err := strconv.ParseBool(v); err == nil {
		return nil
	}
	if app.Command(v) != nil {
		return fmt.Errorf("--rootless %q: want true, false or auto (the flag takes a value, as runc's does, and took the command as one: write --rootless=VALUE %s)", v, v)
	}
	return fmt.Errorf("--rootless %q: want true, false or auto", v)
}

// unknownCommand is the app's action: it runs when the first argument names
// no command. As runc, it exits 3; `vmctr foo -h` keeps urfave/cli's "No
// help topic for 'foo'" (runc's help.bats looks for it).
func unknownCommand(c *cli.Context) error {
	if !c.Args().Present() {
		return cli.ShowAppHelp(c)
	}
	name := c.Args().First()
	for _, a := range c.Args().Tail() {
		if a == "-h" || a == "--help" {
			return cli.ShowCommandHelp(c, name) // "No help topic for 'foo'", exit 3
		}
	}
	return codeError{fmt.Errorf("unknown command %q (vmctr --help lists the commands)", name), 3}
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
// codeError's or cli.ExitCoder's code); a container's own exit status is passed through unchanged. Without --log and
// in text format the stderr line is plain "vmctr: msg": conmon hands a
// runtime's stderr to the user as it is when it does not pass --log (it only
// does for runtimes it knows by name).
func fatal(err error) {
	var ee exitError
	if errors.As(err, &ee) {
		os.Exit(ee.code)
	}
	code := errorExitCode(err)
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

// errorExitCode is the exit status for a failure of vmctr itself: a
// codeError's code, a cli.ExitCoder's (urfave/cli's "No help topic for
// 'foo'" exits 3, as with runc), or 1.
func errorExitCode(err error) int {
	var ce codeError
	var ec cli.ExitCoder
	switch {
	case errors.As(err, &ce):
		return ce.code
	case errors.As(err, &ec) && ec.ExitCode() != 0:
		return ec.ExitCode()
	}
	return 1
}

func logsToStderr() bool {
	f, ok := logrus.StandardLogger().Out.(*os.File)
	return ok && f.Fd() == os.Stderr.Fd()
}

// warnUnsupported logs a warning for each runc flag that vmctr accepts but ignores.
func warnUnsupported(c *cli.Context, names ...string) {
	for _, n := range names {
		if c.IsSet(n) {
			logrus.Warnf("--%s is accepted for runc compatibility and ignored", n)
		}
	}
}
