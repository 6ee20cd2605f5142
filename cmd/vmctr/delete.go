package main

import (
	"github.com/urfave/cli/v2"

	"github.com/vmctr/vmctr/container"
)

var deleteCommand = &cli.Command{
	Name:      "delete",
	Category:  catRunc,
	Usage:     "delete a stopped container (--force: also a running one, and no error if it is gone)",
	ArgsUsage: "<container-id>",
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "kill the container if it runs; succeed if it does not exist"},
	},
	Action: func(c *cli.Context) error {
		if err := args(c, 1, 1); err != nil {
			return err
		}
		return container.Delete(c.Context, c.String("root"), c.Args().First(), c.Bool("force"))
	},
}
