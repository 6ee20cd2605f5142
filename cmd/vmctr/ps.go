package main

import (
	"bytes"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vmctr/vmctr/container"
)

var psCommand = &cli.Command{
	Name:      "ps",
	Category:  catRunc,
	Usage:     "list a container's processes (host PIDs)",
	ArgsUsage: "<container-id> [ps options]",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table (ps output) or json (array of PIDs)"},
	},
	Action: func(c *cli.Context) error {
		if err := args(c, 1, -1); err != nil {
			return err
		}
		format := c.String("format")
		if format != "table" && format != "json" {
			return fmt.Errorf("invalid --format %q (want table or json)", format)
		}
		pids, err := container.Processes(c.Context, c.String("root"), c.Args().First())
		if err != nil {
			return err
		}
		if format == "json" {
			return printJSON(c.App.Writer, pids, false)
		}
		psArgs := c.Args().Slice()[1:]
		if len(psArgs) == 0 {
			psArgs = []string{"-ef"}
		}
		out, err := exec.Command("ps", psArgs...).Output()
		if err != nil {
			return fmt.Errorf("running ps %s: %w", strings.Join(psArgs, " "), err)
		}
		lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
		col := slices.Index(strings.Fields(lines[0]), "PID")
		if col < 0 {
			return fmt.Errorf("ps output has no PID column")
		}
		var buf bytes.Buffer
		buf.WriteString(lines[0] + "\n")
		for _, l := range lines[1:] {
			f := strings.Fields(l)
			if len(f) <= col {
				continue
			}
			if pid, err := strconv.Atoi(f[col]); err == nil && slices.Contains(pids, pid) {
				buf.WriteString(l + "\n")
			}
		}
		_, err = c.App.Writer.Write(buf.Bytes())
		return err
	},
}
