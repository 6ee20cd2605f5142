// Command probe runs inside test containers and reports, as one JSON object
// on stdout, what the container looks like from the inside: host name, IDs,
// capabilities, rlimits, cgroup limits, mounts, namespaces and a few /proc
// files. The end-to-end tests in cmd/vmctr build it statically
// (CGO_ENABLED=0) and copy it into each test rootfs as /bin/probe.
//
// Flags ask for more: -file PATH (repeatable) adds a file's contents,
// -write PATH (repeatable) tries to create a file and records the error, and
// -alloc MiB touches that much memory before reporting (for OOM tests).
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Report is what probe prints. The tests decode it with the same type.
type Report struct {
	Hostname    string              `json:"hostname"`
	UID         int                 `json:"uid"`
	GID         int                 `json:"gid"`
	Groups      []int               `json:"groups"`
	Cwd         string              `json:"cwd"`
	Env         []string            `json:"env"`
	Status      map[string]string   `json:"status"`  // Cap*, NoNewPrivs, Seccomp from /proc/self/status
	Rlimits     map[string][2]int64 `json:"rlimits"` // soft NOFILE is the Go runtime's (raised at start-up)
	OOMScoreAdj string              `json:"oomScoreAdj"`
	UIDMap      string              `json:"uidMap"`
	GIDMap      string              `json:"gidMap"`
	Namespaces  map[string]string   `json:"namespaces"`
	Mounts      []Mount             `json:"mounts"`
	Cgroup      map[string]string   `json:"cgroup"` // limit files, by name, v1 or v2
	Files       map[string]string   `json:"files"`
	Errors      map[string]string   `json:"errors"`
}

// Mount is one line of /proc/self/mountinfo.
type Mount struct {
	MountPoint string   `json:"mountPoint"`
	Options    string   `json:"options"`
	Optional   []string `json:"optional"` // shared:N, master:N, ...
	FSType     string   `json:"fsType"`
	Source     string   `json:"source"`
	Super      string   `json:"super"`
}

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }

var rlimits = map[string]int{
	"RLIMIT_AS": 9, "RLIMIT_CORE": 4, "RLIMIT_CPU": 0, "RLIMIT_DATA": 2, "RLIMIT_FSIZE": 1,
	"RLIMIT_LOCKS": 10, "RLIMIT_MEMLOCK": 8, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
	"RLIMIT_NOFILE": 7, "RLIMIT_NPROC": 6, "RLIMIT_RSS": 5, "RLIMIT_RTPRIO": 14,
	"RLIMIT_RTTIME": 15, "RLIMIT_SIGPENDING": 11, "RLIMIT_STACK": 3,
}

var cgroupFiles = []string{
	"memory/memory.limit_in_bytes", "memory.max",
	"pids/pids.max", "pids.max",
	"cpu/cpu.shares", "cpu/cpu.cfs_quota_us", "cpu.max", "cpu.weight",
}

func main() {
	var files, writes list
	flag.Var(&files, "file", "report this file's contents (repeatable)")
	flag.Var(&writes, "write", "try to create this file (repeatable)")
	alloc := flag.Int("alloc", 0, "touch this many MiB of memory first")
	flag.Parse()

	if *alloc > 0 {
		b := make([]byte, *alloc<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		fmt.Fprintf(os.Stderr, "allocated %d MiB\n", *alloc)
	}

	r := Report{
		UID: os.Getuid(), GID: os.Getgid(), Env: os.Environ(),
		Status: map[string]string{}, Rlimits: map[string][2]int64{}, Namespaces: map[string]string{},
		Cgroup: map[string]string{}, Files: map[string]string{}, Errors: map[string]string{},
	}
	r.Hostname, _ = os.Hostname()
	r.Groups, _ = os.Getgroups()
	r.Cwd, _ = os.Getwd()
	if f, err := os.Open("/proc/self/status"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			k, v, _ := strings.Cut(s.Text(), ":")
			if strings.HasPrefix(k, "Cap") || k == "NoNewPrivs" || k == "Seccomp" {
				r.Status[k] = strings.TrimSpace(v)
			}
		}
		f.Close()
	}
	for name, res := range rlimits {
		var l syscall.Rlimit
		if err := syscall.Getrlimit(res, &l); err == nil {
			r.Rlimits[name] = [2]int64{int64(l.Cur), int64(l.Max)}
		}
	}
	r.OOMScoreAdj = readTrim("/proc/self/oom_score_adj")
	r.UIDMap = readTrim("/proc/self/uid_map")
	r.GIDMap = readTrim("/proc/self/gid_map")
	for _, ns := range []string{"cgroup", "ipc", "mnt", "net", "pid", "user", "uts"} {
		if l, err := os.Readlink("/proc/self/ns/" + ns); err == nil {
			r.Namespaces[ns] = l
		}
	}
	r.Mounts = mounts()
	for _, c := range cgroupFiles {
		if b, err := os.ReadFile("/sys/fs/cgroup/" + c); err == nil {
			r.Cgroup[c] = strings.TrimSpace(string(b))
		}
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			r.Errors[p] = err.Error()
			continue
		}
		r.Files[p] = string(b)
	}
	for _, p := range writes {
		err := os.WriteFile(p, []byte("probe\n"), 0o644)
		if err != nil {
			r.Errors[p] = err.Error()
		} else {
			r.Errors[p] = ""
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	if err := enc.Encode(r); err != nil {
		os.Exit(1)
	}
}

func readTrim(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return "error: " + err.Error()
	}
	return strings.TrimSpace(string(b))
}

func mounts() []Mount {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []Mount
	s := bufio.NewScanner(f)
	for s.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source super
		pre, post, ok := strings.Cut(s.Text(), " - ")
		if !ok {
			continue
		}
		a, b := strings.Fields(pre), strings.Fields(post)
		if len(a) < 6 || len(b) < 3 {
			continue
		}
		out = append(out, Mount{
			MountPoint: unescape(a[4]), Options: a[5], Optional: a[6:],
			FSType: b[0], Source: b[1], Super: b[2],
		})
	}
	return out
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				sb.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		sb.WriteByte(s[i])
	}
	return sb.String()
}
