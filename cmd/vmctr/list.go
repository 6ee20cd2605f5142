package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vmctr/vmctr/container"
)

var listCommand = &cli.Command{
	Name:     "list",
	Aliases:  []string{"ls"},
	Category: catRunc,
	Usage:    "list containers",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table or json"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only IDs"},
	},
	Action: func(c *cli.Context) error {
		if err := args(c, 0, 0); err != nil {
			return err
		}
		format := c.String("format")
		if format != "table" && format != "json" {
			return fmt.Errorf("invalid --format %q (want table or json)", format)
		}
		states, err := container.List(c.Context, c.String("root"))
		if err != nil {
			return err
		}
		w := c.App.Writer
		switch {
		case c.Bool("quiet"):
			for _, s := range states {
				fmt.Fprintln(w, s.ID)
			}
		case format == "json":
			return printJSON(w, states, false)
		default:
			tw := tabwriter.NewWriter(w, 12, 1, 3, ' ', 0)
			fmt.Fprint(tw, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
			for _, s := range states {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle, s.Created.Format(time.RFC3339Nano), s.Owner)
			}
			return tw.Flush()
		}
		return nil
	},
}
