package main

import (
	"github.com/urfave/cli/v2"

	"github.com/vmctr/vmctr/container"
)

var stateCommand = &cli.Command{
	Name:      "state",
	Category:  catRunc,
	Usage:     "print a container's state as JSON",
	ArgsUsage: "<container-id>",
	Action: func(c *cli.Context) error {
		if err := args(c, 1, 1); err != nil {
			return err
		}
		s, err := container.GetState(c.Context, c.String("root"), c.Args().First())
		if err != nil {
			return err
		}
		return printJSON(c.App.Writer, s, true)
	},
}
