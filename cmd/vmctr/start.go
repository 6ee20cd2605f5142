package main

import (
	"github.com/urfave/cli/v2"

	"github.com/vmctr/vmctr/container"
)

var startCommand = &cli.Command{
	Name:      "start",
	Category:  catRunc,
	Usage:     "let a created container's process run",
	ArgsUsage: "<container-id>",
	Action: func(c *cli.Context) error {
		if err := args(c, 1, 1); err != nil {
			return err
		}
		return container.Start(c.Context, c.String("root"), c.Args().First())
	},
}
