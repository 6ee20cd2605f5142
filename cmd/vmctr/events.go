package main

import (
	"errors"
	"os"
	"os/signal"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/vmctr/vmctr/container"
)

var eventsCommand = &cli.Command{
	Name:      "events",
	Category:  catRunc,
	Usage:     "print a container's resource usage (and OOM events) as JSON lines",
	ArgsUsage: "<container-id>",
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "stats", Usage: "print the stats once and exit"},
		&cli.DurationFlag{Name: "interval", Value: 5 * time.Second, Usage: "time between stats events"},
	},
	Action: func(c *cli.Context) error {
		if err := args(c, 1, 1); err != nil {
			return err
		}
		root, id := c.String("root"), c.Args().First()
		if c.Bool("stats") {
			s, err := container.Stats(c.Context, root, id)
			if err != nil {
				return err
			}
			return printJSON(c.App.Writer, container.Event{Type: "stats", ID: id, Data: s}, false)
		}
		if c.Duration("interval") <= 0 {
			return errors.New("--interval must be positive")
		}
		ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, unix.SIGTERM)
		defer stop()
		return container.WatchEvents(ctx, root, id, c.Duration("interval"), c.App.Writer)
	},
}
