package main

import (
	"github.com/urfave/cli/v2"

	"github.com/vmctr/vmctr/container"
)

var killCommand = &cli.Command{
	Name:      "kill",
	Category:  catRunc,
	Usage:     "send a signal (default SIGTERM) to a container's init, or to all its processes",
	ArgsUsage: "<container-id> [signal]",
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "signal every process in the container"},
	},
	Action: func(c *cli.Context) error {
		if err := args(c, 1, 2); err != nil {
			return err
		}
		name := c.Args().Get(1)
		if name == "" {
			name = "SIGTERM"
		}
		sig, err := container.ParseSignal(name)
		if err != nil {
			return err
		}
		return container.Kill(c.Context, c.String("root"), c.Args().First(), sig, c.Bool("all"))
	},
}
