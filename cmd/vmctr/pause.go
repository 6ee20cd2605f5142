package main

import (
	"github.com/urfave/cli/v2"

	"github.com/vmctr/vmctr/container"
)

var pauseCommand = &cli.Command{
	Name:      "pause",
	Category:  catRunc,
	Usage:     "freeze every process of a container",
	ArgsUsage: "<container-id>",
	Action: func(c *cli.Context) error {
		if err := args(c, 1, 1); err != nil {
			return err
		}
		return container.Pause(c.Context, c.String("root"), c.Args().First())
	},
}

var resumeCommand = &cli.Command{
	Name:      "resume",
	Category:  catRunc,
	Usage:     "thaw a paused container",
	ArgsUsage: "<container-id>",
	Action: func(c *cli.Context) error {
		if err := args(c, 1, 1); err != nil {
			return err
		}
		return container.Resume(c.Context, c.String("root"), c.Args().First())
	},
}
