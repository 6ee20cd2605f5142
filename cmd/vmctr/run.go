package main

import (
	"github.com/urfave/cli/v2"

	"github.com/vmctr/vmctr/container"
)

var runCommand = &cli.Command{
	Name:      "run",
	Category:  catRunc,
	Usage:     "create and start a container; attached, exit with its status",
	ArgsUsage: "<container-id>",
	Flags: append(bundleFlags(),
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "return once the container runs"},
		&cli.BoolFlag{Name: "keep", Usage: "attached: keep the stopped container (delete it with delete) instead of deleting it"},
		&cli.BoolFlag{Name: "no-subreaper", Usage: "accepted for runc compatibility; ignored", Hidden: true},
	),
	Action: func(c *cli.Context) error {
		if err := args(c, 1, 1); err != nil {
			return err
		}
		warnUnsupported(c, "no-subreaper")
		o := createOpts(c)
		o.Detach = c.Bool("detach")
		o.Keep = c.Bool("keep") // detached, nothing deletes the container anyway
		status, err := container.Run(c.Context, o)
		if err != nil {
			return err
		}
		if status != 0 {
			return exitError{status}
		}
		return nil
	},
}
