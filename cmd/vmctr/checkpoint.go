package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// checkpoint and restore exist so that a client's runc command line parses
// (every runc flag is accepted) and fails with a clear error instead of
// urfave/cli's "No help topic": vmctr does not checkpoint containers. CRIU,
// which runc uses for it, cannot checkpoint on the kernels vmctr is tested
// on (CRIU 3.17: "vdso: Unexpected rt vDSO area bounds"); see
// docs/command-reference.md.

// errNoCheckpoint is the error of both commands.
func errNoCheckpoint(c *cli.Context) error {
	what := "nothing was created"
	if c.Command.Name == "checkpoint" {
		what = "nothing was changed"
		if id := c.Args().First(); id != "" {
			what = fmt.Sprintf("container %q is unchanged", id)
		}
	}
	return fmt.Errorf("%s is not supported: vmctr does not implement checkpoint/restore (CRIU); %s", c.Command.Name, what)
}

// criuFlags are the flags runc's checkpoint and restore share.
func criuFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "image-path", Usage: "path of the criu image files"},
		&cli.StringFlag{Name: "work-path", Usage: "path for saving work files and logs"},
		&cli.BoolFlag{Name: "tcp-established", Usage: "allow open tcp connections"},
		&cli.BoolFlag{Name: "ext-unix-sk", Usage: "allow external unix sockets"},
		&cli.BoolFlag{Name: "shell-job", Usage: "allow shell jobs"},
		&cli.BoolFlag{Name: "file-locks", Usage: "handle file locks, for safety"},
		&cli.StringFlag{Name: "manage-cgroups-mode", Usage: "cgroups mode: soft, full, strict or ignore"},
		&cli.StringSliceFlag{Name: "empty-ns", Usage: "create a namespace, but don't restore its properties"},
		&cli.BoolFlag{Name: "auto-dedup", Usage: "enable auto deduplication of memory images"},
		&cli.BoolFlag{Name: "lazy-pages", Usage: "use userfaultfd to lazily restore memory pages"},
	}
}

var checkpointCommand = &cli.Command{
	Name:      "checkpoint",
	Category:  catRunc,
	Usage:     "not supported: checkpoint/restore needs CRIU, which vmctr does not use (exits 1)",
	ArgsUsage: "<container-id>",
	Description: `checkpoint accepts runc's flags so that a client's command line parses, and
fails: vmctr cannot checkpoint a container. The container is left as it is.`,
	Flags: append(criuFlags(),
		&cli.StringFlag{Name: "parent-path", Usage: "path for previous criu image files in pre-dump"},
		&cli.BoolFlag{Name: "leave-running", Usage: "leave the process running after checkpointing"},
		&cli.BoolFlag{Name: "tcp-skip-in-flight", Usage: "skip in-flight tcp connections"},
		&cli.BoolFlag{Name: "link-remap", Usage: "allow one to link unlinked files back when possible"},
		&cli.IntFlag{Name: "status-fd", Value: -1, Usage: "criu writes \\0 to this FD once lazy-pages is ready"},
		&cli.StringFlag{Name: "page-server", Usage: "ADDRESS:PORT of the page server"},
		&cli.BoolFlag{Name: "pre-dump", Usage: "dump the container's memory only, leave it running"},
	),
	Action: errNoCheckpoint,
}

var restoreCommand = &cli.Command{
	Name:      "restore",
	Category:  catRunc,
	Usage:     "not supported: checkpoint/restore needs CRIU, which vmctr does not use (exits 1)",
	ArgsUsage: "<container-id>",
	Description: `restore accepts runc's flags so that a client's command line parses, and
fails: vmctr cannot restore a container. Nothing is created.`,
	Flags: append(criuFlags(),
		&cli.StringFlag{Name: "console-socket", Usage: "AF_UNIX socket that receives the pty master"},
		&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "path to the bundle directory"},
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "detach from the container's process"},
		&cli.StringFlag{Name: "pid-file", Usage: "write the process's PID to this file"},
		&cli.BoolFlag{Name: "no-subreaper", Usage: "do not become a subreaper"},
		&cli.BoolFlag{Name: "no-pivot", Usage: "do not use pivot_root"},
		&cli.StringFlag{Name: "lsm-profile", Usage: "LSM profile for the restore, TYPE:NAME"},
		&cli.StringFlag{Name: "lsm-mount-context", Usage: "LSM mount context for the restore"},
	),
	Action: errNoCheckpoint,
}
