package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// reorderArgs moves a command's flags in front of its positional arguments,
// so that `vmctr update ID --memory 1g` and `vmctr delete ID --force` work as
// they do with runc, whose command line (urfave/cli v1) reorders them;
// urfave/cli v2 stops parsing flags at the first positional argument. As in
// runc, exec and ps are left alone: what follows their container ID is the
// command to run or ps's own options. Everything after "--" stays as it is.
// A flag that takes a value moves together with the value that follows it.
func reorderArgs(app *cli.App, args []string) []string {
	// Skip the global flags to find the command.
	i := 1
	for i < len(args) && isFlagArg(args[i]) {
		f := lookupFlag(app.Flags, args[i])
		i++
		if f != nil && takesValue(f) && !strings.Contains(args[i-1], "=") {
			i++
		}
	}
	if i >= len(args) {
		return args
	}
	cmd := app.Command(args[i])
	if cmd == nil || cmd.Name == "exec" || cmd.Name == "ps" {
		return args
	}
	var flags, rest []string
	tail := args[i+1:]
	for j := 0; j < len(tail); j++ {
		a := tail[j]
		if a == "--" {
			rest = append(append([]string{"--"}, rest...), tail[j+1:]...)
			break
		}
		if !isFlagArg(a) {
			rest = append(rest, a)
			continue
		}
		f := lookupFlag(cmd.Flags, a)
		if f == nil {
			if n := flagArgName(a); n == "h" || n == "help" {
				flags = append(flags, a)
			} else {
				rest = append(rest, a) // let the parser report it
			}
			continue
		}
		flags = append(flags, a)
		if takesValue(f) && !strings.Contains(a, "=") && j+1 < len(tail) {
			j++
			flags = append(flags, tail[j])
		}
	}
	out := make([]string, 0, len(args))
	out = append(out, args[:i+1]...)
	out = append(out, flags...)
	return append(out, rest...)
}

func isFlagArg(a string) bool { return len(a) > 1 && a[0] == '-' && a != "--" }

// flagArgName turns "--name=value", "-name" or "-n" into "name" or "n".
func flagArgName(a string) string {
	a = strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
	name, _, _ := strings.Cut(a, "=")
	return name
}

func lookupFlag(flags []cli.Flag, a string) cli.Flag {
	name := flagArgName(a)
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

// takesValue reports whether a flag consumes the next argument when no
// "=value" is attached: every kind but booleans.
func takesValue(f cli.Flag) bool {
	_, isBool := f.(*cli.BoolFlag)
	return !isBool
}
