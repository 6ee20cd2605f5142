// Command sources prints what hack/bench/build/bench.sh needs from a built
// bundle's manifest, so that the benchmark needs no JSON tool: the source
// paths of its regular files, symbolic links and hard links, one a line,
// relative to the source root (what `cp -a --parents` copies), into the
// file LIST; and on stdout "SOURCES BYTES ENTRIES": their number, the bytes
// of the regular files, and the manifest's entries.
//
//	go run ./hack/bench/build/sources BUNDLE LIST
package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/vmctr/vmctr/rootfs"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: sources BUNDLE LIST")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "sources:", err)
		os.Exit(1)
	}
}

func run(bundle, list string) error {
	m, err := rootfs.ReadManifest(filepath.Join(bundle, "rootfs"))
	if err != nil {
		return err
	}
	f, err := os.Create(list)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	var n int
	var bytes int64
	for _, e := range m.Files {
		if e.Source == "" || e.Type != rootfs.TypeFile && e.Type != rootfs.TypeSymlink && e.Type != rootfs.TypeHardlink {
			continue
		}
		if strings.Contains(e.Source, "\n") {
			return fmt.Errorf("source path %q has a newline: cannot list it for xargs -d '\\n'", e.Source)
		}
		fmt.Fprintln(w, strings.TrimPrefix(e.Source, "/"))
		n++
		if e.Type == rootfs.TypeFile {
			bytes += e.Size
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Printf("%d %d %d\n", n, bytes, len(m.Files))
	return nil
}
