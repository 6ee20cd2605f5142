package main

import (
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/vmctr/vmctr/container"
)

var eventsCommand = &cli.Command{
	Name:     "events",
	Category: catRunc,
	Usage:    "print a container's resource usage (and OOM events) as JSON lines",
	Description: `events prints a stats event at once and then every --interval, and an oom
event each time the container hits its memory limit, until the container
stops or vmctr is interrupted. --stats prints one stats event and exits. A
stopped container is an error.`,
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
		// As runc: the interval is checked with --stats too, and a
		// stopped container is an error in both modes.
		if d := c.Duration("interval"); d <= 0 {
			return fmt.Errorf("--interval %v: must be positive", d)
		}
		if c.Bool("stats") {
			s, err := container.Stats(c.Context, root, id)
			if err != nil {
				return err
			}
			return printJSON(c.App.Writer, container.Event{Type: "stats", ID: id, Data: s}, false)
		}
		ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, unix.SIGTERM)
		defer stop()
		return container.WatchEvents(ctx, root, id, c.Duration("interval"), c.App.Writer)
	},
}
