package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/vmctr/vmctr/container"
)

var specCommand = &cli.Command{
	Name:     "spec",
	Category: catRunc,
	Usage:    "write a default config.json into the bundle",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "bundle directory (default: current directory)"},
		&cli.BoolFlag{Name: "rootless", Usage: "a config for an unprivileged user"},
	},
	Action: func(c *cli.Context) error {
		if err := args(c, 0, 0); err != nil {
			return err
		}
		path := filepath.Join(c.String("bundle"), container.ConfigFile)
		b, err := json.MarshalIndent(container.DefaultSpec(c.Bool("rootless")), "", "\t")
		if err != nil {
			return err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s exists; remove it first", path)
		}
		if err != nil {
			return err
		}
		_, err = f.Write(append(b, '\n'))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	},
}

var featuresCommand = &cli.Command{
	Name:     "features",
	Category: catRunc,
	Usage:    "print the runtime-spec features this vmctr supports, as JSON",
	Action: func(c *cli.Context) error {
		if err := args(c, 0, 0); err != nil {
			return err
		}
		return printJSON(c.App.Writer, container.Features(c.App.Version), true)
	},
}
