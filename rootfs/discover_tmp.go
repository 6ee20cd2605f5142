package rootfs

// TEMPORARY: a tiny stand-in for rootfs/elfdeps.Discover, used until that
// package lands. Apps, their ELF closure (standard directories only) and
// explicit files. Delete when switching to elfdeps.

import (
	"context"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

type discoverOpts struct {
	Root         string
	Apps         []string
	Packages     []string
	Files        []string
	Excludes     []string
	Trace        bool
	TraceTimeout time.Duration
	TraceArgs    map[string][]string
}

type discoveredFile struct{ Path, Reason, Detail string }

type discovered struct {
	Files         []discoveredFile
	Users, Groups []string
}

func discover(ctx context.Context, o discoverOpts) (*discovered, error) {
	if len(o.Packages) > 0 {
		return nil, fmt.Errorf("%w: --package needs rootfs/elfdeps", ErrInvalidOptions)
	}
	seen := map[string]bool{}
	var out []discoveredFile
	add := func(p, reason, detail string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, discoveredFile{p, reason, detail})
		}
	}
	host := func(p string) string { return filepath.Join(o.Root, p) }
	dirs := []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"}
	var elfs func(p string) error
	elfs = func(p string) error {
		f, err := elf.Open(host(p))
		if err != nil {
			return nil
		}
		defer f.Close()
		for _, pr := range f.Progs {
			if pr.Type == elf.PT_INTERP {
				b := make([]byte, pr.Filesz)
				_, _ = pr.ReadAt(b, 0)
				ip := strings.TrimRight(string(b), "\x00")
				if !seen[ip] {
					add(ip, "interpreter", "PT_INTERP of "+p)
				}
			}
		}
		libs, _ := f.ImportedLibraries()
		for _, l := range libs {
			found := false
			for _, d := range dirs {
				c := path.Join(d, l)
				if _, err := os.Stat(host(c)); err == nil {
					found = true
					if !seen[c] {
						add(c, "elf-dep", "DT_NEEDED "+l+" of "+p)
						if err := elfs(c); err != nil {
							return err
						}
					}
					break
				}
			}
			if !found {
				return fmt.Errorf("library %s of %s: %w", l, p, ErrNotFound)
			}
		}
		return nil
	}
	for _, a := range o.Apps {
		if _, err := os.Stat(host(a)); err != nil {
			return nil, fmt.Errorf("app %s: %w", a, ErrNotFound)
		}
		add(a, "app", "named with --app")
		if err := elfs(a); err != nil {
			return nil, err
		}
	}
	for _, f := range o.Files {
		err := filepath.WalkDir(host(f), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel := "/" + strings.TrimPrefix(strings.TrimPrefix(p, o.Root), "/")
			add(path.Clean(rel), "explicit", "named with --file "+f)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("file %s: %w", f, ErrNotFound)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return &discovered{Files: out, Users: []string{"root"}, Groups: []string{"root"}}, ctx.Err()
}
