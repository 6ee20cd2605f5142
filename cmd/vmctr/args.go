package main

import (
	"errors"
	"fmt"
	"strconv"
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

// args checks the number of positional arguments (max < 0: no maximum). On
// a wrong count it prints the command's help on stdout and returns an error
// in runc's words ("state" requires exactly 1 argument(s)) that also names
// the arguments too many, or what is missing; exit status 1, as runc's.
func args(c *cli.Context, min, max int) error {
	n := c.NArg()
	if n >= min && (max < 0 || n <= max) {
		return nil
	}
	_ = cli.ShowCommandHelp(c, c.Command.Name)
	return argCountError(c.Command, c.Args().Slice(), min, max)
}

// argCountError says what is wrong with got, the positional arguments of
// cmd, given that it takes min to max (< 0: any number) of them.
func argCountError(cmd *cli.Command, got []string, min, max int) error {
	name, n := cmd.Name, len(got)
	if max == 0 {
		msg := fmt.Sprintf("%s takes no arguments; unexpected %s", name, quoteArgs(got))
		if hasValueFlags(cmd) {
			msg += " (a flag value without its flag?)"
		}
		return errors.New(msg)
	}
	var msg string
	switch {
	case min == max:
		msg = fmt.Sprintf("%q requires exactly %d argument(s)", name, min)
	case n < min:
		msg = fmt.Sprintf("%q requires a minimum of %d argument(s)", name, min)
	default:
		msg = fmt.Sprintf("%q requires a maximum of %d argument(s)", name, max)
	}
	if cmd.ArgsUsage != "" {
		msg += " (" + cmd.ArgsUsage + ")"
	}
	if n < min {
		return fmt.Errorf("%s, got %d", msg, n)
	}
	return fmt.Errorf("%s, got %d; unexpected %s", msg, n, quoteArgs(got[max:]))
}

// quoteArgs lists arguments as Go-quoted strings: "a", "b".
func quoteArgs(a []string) string {
	q := make([]string, len(a))
	for i, s := range a {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// hasValueFlags reports whether any of cmd's flags takes a value (so that a
// stray argument may be the value of a flag that was left out).
func hasValueFlags(cmd *cli.Command) bool {
	for _, f := range cmd.Flags {
		if takesValue(f) {
			return true
		}
	}
	return false
}
