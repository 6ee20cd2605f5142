package main

import (
	"os"

	"github.com/urfave/cli/v2"

	"github.com/vmctr/vmctr/container"
)

// bundleFlags are shared by create and run (runc's flag names).
func bundleFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "path to the bundle (default: current directory)"},
		&cli.StringFlag{Name: "console-socket", Usage: "AF_UNIX socket that receives the pty master of a container with a terminal"},
		&cli.StringFlag{Name: "pid-file", Usage: "write the container's init PID to this file"},
		&cli.BoolFlag{Name: "no-pivot", Usage: "do not use pivot_root (for ramdisk roots)"},
		&cli.BoolFlag{Name: "no-new-keyring", Usage: "do not create a session keyring for the container"},
		&cli.IntFlag{Name: "preserve-fds", Usage: "pass this many extra fds (from 3 up) to the container"},
		&cli.StringFlag{Name: "pidfd-socket", Usage: "AF_UNIX socket that receives a pidfd of the container's init"},
	}
}

func createOpts(c *cli.Context) container.CreateOpts {
	bundle := c.String("bundle")
	if bundle == "" {
		bundle, _ = os.Getwd()
	}
	return container.CreateOpts{
		Root:          c.String("root"),
		ID:            c.Args().First(),
		Bundle:        bundle,
		PidFile:       c.String("pid-file"),
		IO:            container.IO{ConsoleSocket: c.String("console-socket"), PidfdSocket: c.String("pidfd-socket")},
		PreserveFDs:   c.Int("preserve-fds"),
		NoPivot:       c.Bool("no-pivot"),
		NoNewKeyring:  c.Bool("no-new-keyring"),
		SystemdCgroup: c.Bool("systemd-cgroup"),
	}
}

var createCommand = &cli.Command{
	Name:      "create",
	Category:  catRunc,
	Usage:     "create a container whose process waits for start",
	ArgsUsage: "<container-id>",
	Flags:     bundleFlags(),
	Action: func(c *cli.Context) error {
		if err := args(c, 1, 1); err != nil {
			return err
		}
		return container.Create(c.Context, createOpts(c))
	},
}
