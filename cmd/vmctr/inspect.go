package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf8"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/vmctr/vmctr/container"
	"github.com/vmctr/vmctr/rootfs"
)

var inspectCommand = &cli.Command{
	Name:      "inspect",
	Category:  catVmctr,
	Usage:     "show the manifest of a built container: every file, where it came from and why it is there",
	ArgsUsage: "<bundle-dir|container-id>",
	Description: `inspect reads the manifest vmctr build wrote into the container
(/.vmctr/manifest.json). With --file it answers "why is this file here?": the
file's entry, then the entry that needed it (its "via"), back to what was
asked for.

The argument is a bundle directory if it contains a slash or is . or ..;
otherwise it is the ID of a container in --root if there is one, else a
bundle directory. Write ./NAME for a directory that has a container's name.`,
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "file", Usage: "explain this path inside the container"},
		&cli.StringFlag{Name: "format", Value: "table", Usage: "output: table or json"},
	},
	Action: func(c *cli.Context) error {
		if err := args(c, 1, 1); err != nil {
			return err
		}
		format := c.String("format")
		if format != "table" && format != "json" {
			return fmt.Errorf("inspect: invalid --format %q (want table or json)", format)
		}
		arg := c.Args().First()
		rfs, err := inspectRootfs(c, arg)
		if err != nil {
			return fmt.Errorf("inspect: %w", err)
		}
		m, err := rootfs.ReadManifest(rfs)
		if err != nil {
			return fmt.Errorf("inspect %s: %w", arg, err)
		}
		w := c.App.Writer
		if p := c.String("file"); p != "" {
			chain := m.Why(p)
			if chain == nil && path.Clean("/"+p) == "/" {
				// Every container has a root; the manifest
				// lists what is in it.
				chain = []rootfs.Entry{rootEntry(rfs)}
			}
			if chain == nil {
				return fmt.Errorf("inspect %s: %s is not in the container (not in its manifest)", arg, p)
			}
			if format == "json" {
				return printJSON(w, chain, true)
			}
			printWhy(safeText{w}, chain)
			return nil
		}
		if format == "json" {
			return printJSON(w, m, true)
		}
		printManifest(safeText{w}, m)
		return nil
	},
}

// safeText writes text for a terminal: control characters other than
// newline and tab (an escape sequence in a file name, or in a manifest a
// container rewrote) are written as \xNN or \uNNNN instead. JSON output
// is escaped by its encoder.
type safeText struct{ w io.Writer }

func (s safeText) Write(p []byte) (int, error) {
	clean := true
	for _, r := range string(p) {
		if r != '\n' && r != '\t' && (unicode.IsControl(r) || r == utf8.RuneError) {
			clean = false
			break
		}
	}
	if clean {
		return s.w.Write(p)
	}
	var b strings.Builder
	for i := 0; i < len(p); {
		r, n := utf8.DecodeRune(p[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, "\\x%02x", p[i])
		case r != '\n' && r != '\t' && unicode.IsControl(r):
			if r < 0x80 {
				fmt.Fprintf(&b, "\\x%02x", r)
			} else {
				fmt.Fprintf(&b, "\\u%04x", r)
			}
		default:
			b.WriteRune(r)
		}
		i += n
	}
	if _, err := io.WriteString(s.w, b.String()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// inspectRootfs finds the root file system of a bundle directory or of a
// container. An argument with a slash, or "." or "..", is a directory;
// any other is the ID of a container in --root if one exists, else a
// directory. A directory named like a container is ./NAME.
func inspectRootfs(c *cli.Context, arg string) (string, error) {
	isPath := strings.ContainsRune(arg, '/') || arg == "." || arg == ".."
	if !isPath {
		root := c.String("root")
		st, err := container.GetState(c.Context, root, arg)
		switch {
		case err == nil:
			if fi, err := os.Stat(arg); err == nil && fi.IsDir() {
				logrus.Warnf("inspect: %s is the container of that ID in %s, not the directory ./%s (write ./%s for that)", arg, root, arg, arg)
			}
			return st.Rootfs, nil
		case errors.Is(err, container.ErrNotExist), errors.Is(err, container.ErrInvalidID):
			// Not a container: a directory.
			if _, serr := os.Stat(arg); errors.Is(serr, fs.ErrNotExist) {
				return "", fmt.Errorf("%s is neither a container in %s nor a bundle directory", arg, root)
			}
		default:
			return "", err
		}
	}
	fi, err := os.Stat(arg)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("bundle %s: %w", arg, fs.ErrNotExist)
	} else if err != nil {
		return "", fmt.Errorf("bundle %s: %w", arg, err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("bundle %s: not a directory", arg)
	}
	spec, err := container.LoadSpec(arg)
	if err != nil {
		return "", fmt.Errorf("bundle %s: %w", arg, err)
	}
	r := spec.Root.Path
	if !filepath.IsAbs(r) {
		r = filepath.Join(arg, r)
	}
	return r, nil
}

// rootEntry describes a container's root directory, rfs, which manifests
// do not list.
func rootEntry(rfs string) rootfs.Entry {
	e := rootfs.Entry{Path: "/", Type: rootfs.TypeDir, Reason: rootfs.ReasonSkeleton,
		Detail: "the container's root directory (the bundle's root.path), always there; the manifest lists what is in it"}
	var st unix.Stat_t
	if err := unix.Stat(rfs, &st); err == nil {
		e.Mode = fmt.Sprintf("%04o", st.Mode&0o7777)
		e.UID, e.GID = int(st.Uid), int(st.Gid)
	}
	return e
}

func printManifest(w io.Writer, m *rootfs.Manifest) {
	fmt.Fprintf(w, "source root: %s\nbuilt:       %s\n", m.SourceRoot, m.Created.Format("2006-01-02 15:04:05 MST"))
	if len(m.Apps) > 0 {
		fmt.Fprintf(w, "apps:        %s\n", strings.Join(m.Apps, " "))
	}
	if len(m.Packages) > 0 {
		fmt.Fprintf(w, "packages:    %s\n", strings.Join(m.Packages, " "))
	}
	for i, s := range m.Start {
		fmt.Fprintf(w, "start %d:     %s\n", i+1, strings.Join(s.Args, " "))
	}
	fmt.Fprintf(w, "users:       %s\ngroups:      %s\n", strings.Join(m.Users, " "), strings.Join(m.Groups, " "))
	var files, bytes int64
	for _, e := range m.Files {
		if e.Type == rootfs.TypeFile {
			files++
			bytes += e.Size
		}
	}
	fmt.Fprintf(w, "files:       %d entries, %d regular files, %s\n\n", len(m.Files), files, humanBytes(bytes))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PATH\tTYPE\tMODE\tSIZE\tREASON\tMODIFIED\tDETAIL")
	for _, e := range m.Files {
		mod := ""
		if e.Modified {
			mod = "yes"
		}
		name := e.Path
		if e.Link != "" {
			if e.Type == rootfs.TypeSymlink {
				name += " -> " + e.Link
			} else {
				name += " => " + e.Link
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", name, e.Type, e.Mode, e.Size, e.Reason, mod, e.Detail)
	}
	tw.Flush()
}

// printWhy prints a reason chain: the file, then what needed it (each
// entry's via). The last entry's via, if any, names no file of the
// container: a package.
func printWhy(w io.Writer, chain []rootfs.Entry) {
	for i, e := range chain {
		prefix := ""
		if i > 0 {
			prefix = strings.Repeat("  ", i-1) + "<- needed by "
		}
		fmt.Fprintf(w, "%s%s (%s)\n", prefix, e.Path, e.Type)
		ind := strings.Repeat("  ", i+1)
		fmt.Fprintf(w, "%sreason: %s", ind, e.Reason)
		if e.Detail != "" {
			fmt.Fprintf(w, ": %s", e.Detail)
		}
		fmt.Fprintln(w)
		if e.Source != "" {
			fmt.Fprintf(w, "%ssource: %s", ind, e.Source)
			if e.Modified {
				fmt.Fprint(w, " (modified)")
			}
			fmt.Fprintln(w)
		}
		if e.SHA256 != "" {
			fmt.Fprintf(w, "%ssha256: %s, %d bytes, mode %s\n", ind, e.SHA256, e.Size, e.Mode)
		}
		if e.Link != "" {
			fmt.Fprintf(w, "%slink:   %s\n", ind, e.Link)
		}
		if i == len(chain)-1 && e.Via != "" {
			via := e.Via
			if !strings.HasPrefix(via, "/") {
				via = "package " + via
			}
			fmt.Fprintf(w, "%svia:    %s\n", ind, via)
		}
	}
}
