package main

import (
	"bufio"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// mountsOf returns the mount points in /proc/self/mountinfo whose file
// system type is one of types, or all of them if no type is given.
func mountsOf(types ...string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		for i, fld := range fields {
			if fld == "-" && i+1 < len(fields) && len(fields) > 4 {
				if len(types) == 0 || slices.Contains(types, fields[i+1]) {
					out = append(out, unescapeMount(fields[4]))
				}
				break
			}
		}
	}
	return out
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space, ...).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cgroupMounts are the mount points of every cgroup hierarchy (v1 and v2).
func cgroupMounts() []string { return mountsOf("cgroup", "cgroup2") }

// existingDirs returns which of mount/rel exist, per mount.
func existingDirs(mounts []string, rel string) map[string]bool {
	out := map[string]bool{}
	for _, m := range mounts {
		if fi, err := os.Stat(filepath.Join(m, rel)); err == nil && fi.IsDir() {
			out[m] = true
		}
	}
	return out
}

// removeCgroupTree removes dir (a cgroup this benchmark owns: every
// container's cgroup lies below it) in every hierarchy: first SIGKILL for
// anything left in it, then rmdir from the leaves up.
func removeCgroupTree(mounts []string, rel string) {
	var dirs []string
	for _, m := range mounts {
		root := filepath.Join(m, rel)
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
	}
	if len(dirs) == 0 {
		return
	}
	// Deepest first.
	sort.Slice(dirs, func(i, j int) bool { return strings.Count(dirs[i], "/") > strings.Count(dirs[j], "/") })
	for _, d := range dirs {
		for _, pid := range cgroupPids(d) {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	}
	for _, d := range dirs {
		for i := 0; i < 100; i++ {
			err := unix.Rmdir(d)
			if err == nil || errors.Is(err, unix.ENOENT) || !errors.Is(err, unix.EBUSY) {
				break
			}
			reapAny()
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func cgroupPids(dir string) []int {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// reapAny reaps every exited child without blocking. Only called when no
// command of ours is running, so it cannot steal an exec.Cmd's child.
func reapAny() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
