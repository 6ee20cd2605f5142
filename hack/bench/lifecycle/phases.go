package main

// The -phases mode: where a runtime's time goes, from kernel tracepoints
// only (no instrumentation of the runtimes), so vmctr, runc and crun are
// observed alike. The benchmark re-executes itself under `perf record` in a
// hidden child mode that runs the operation n times per runtime; then it
// splits the recording into runs (one per exec of a runtime binary, with
// every process that run forks) and reports, per runtime, the median time
// from the runtime's exec to each milestone.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// phaseEvents are the tracepoints recorded. cgroup_mkdir and
// cgroup_attach_task bracket the cgroup v1 join (a cgroup.procs write
// takes cgroup_threadgroup_rwsem for writing, which waits for an RCU grace
// period unless one is already under way).
var phaseEvents = []string{
	"sched:sched_process_exec", "sched:sched_process_exit", "sched:sched_process_fork",
	"cgroup:cgroup_mkdir", "cgroup:cgroup_attach_task",
	"syscalls:sys_enter_unshare", "syscalls:sys_enter_clone", "syscalls:sys_enter_setns",
	"syscalls:sys_enter_pivot_root",
}

// milestones in the order libcontainer reaches them (crun creates the
// namespaces first); each is the first occurrence in a run.
var milestones = []struct{ key, label string }{
	{"init-exec", "re-exec (sealed binary)"},
	{"cgroup-mkdir", "first cgroup mkdir"},
	{"cgroup-join", "first cgroup join done"},
	{"namespaces", "namespaces created/joined"},
	{"pivot", "pivot_root"},
	{"ctr-exec", "container process exec"},
	{"ctr-exit", "container process exit"},
	{"exit", "runtime exit"},
}

const cloneNewNS = 0x20000

// runPhases is the parent side: record the child under perf, analyse.
func (b *bench) runPhases(ctx context.Context, op string) (map[string][]map[string]float64, error) {
	perf, err := exec.LookPath("perf")
	if err != nil {
		return nil, fmt.Errorf("-phases needs perf (apt-get install linux-perf): %w", err)
	}
	data := filepath.Join(b.tmp, "perf.data")
	var specs []string
	for _, r := range b.rts {
		if !r.bare {
			specs = append(specs, r.name+"="+r.path)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{"record", "-q", "-o", data}
	for _, e := range phaseEvents {
		args = append(args, "-e", e)
	}
	args = append(args, "--", self, "-phases-child", op, "-n", strconv.Itoa(b.opts.n),
		"-warmup", strconv.Itoa(b.opts.warmup), "-runtimes", strings.Join(specs, ","),
		"-seed", strconv.FormatInt(b.opts.seed, 10), "-hide-unified", b.opts.hide, "-busybox", b.opts.busybox, "-seccomp", b.opts.seccompFile, "-bare=false")
	logf("recording %d x %s per runtime under perf ...", b.opts.n, op)
	cmd := exec.Command(perf, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("perf record: %w", err)
	}
	script := exec.Command(perf, "script", "-i", data, "-F", "comm,pid,tid,time,event,trace")
	out, err := script.StdoutPipe()
	if err != nil {
		return nil, err
	}
	script.Stderr = io.Discard
	if err := script.Start(); err != nil {
		return nil, fmt.Errorf("perf script: %w", err)
	}
	paths := map[string]string{}
	for _, r := range b.rts {
		if !r.bare {
			paths[r.path] = r.name
		}
	}
	res := parsePhases(out, paths, "/bin/true", b.opts.warmup)
	if err := script.Wait(); err != nil {
		return nil, fmt.Errorf("perf script: %w", err)
	}
	return res, nil
}

// phaseChild is the child side (under perf): run op n times per runtime.
func (b *bench) phaseChild(ctx context.Context, op string) error {
	var real []*rt
	for _, r := range b.rts {
		if !r.bare {
			real = append(real, r)
		}
	}
	if op == "exec" {
		for _, r := range real {
			bundle, err := b.bundle(r, "x", sleepArgs...)
			if err == nil {
				_, err = r.create(bundle, "x")
			}
			if err == nil {
				_, err = r.timed("start", "x")
			}
			if err != nil {
				return err
			}
		}
	}
	for k := 0; k < b.opts.warmup+b.opts.n; k++ {
		for _, r := range b.shuffled(real) {
			if err := ctx.Err(); err != nil {
				return err
			}
			var err error
			switch op {
			case "run":
				id := "p" + strconv.Itoa(k)
				var bundle string
				if bundle, err = b.bundle(r, id, trueArgs...); err == nil {
					r.live[id] = 0
					if _, err = r.timed("run", "--bundle", bundle, id); err == nil {
						delete(r.live, id)
					}
				}
			case "exec":
				_, err = r.timed("exec", "x", "/bin/true")
			default:
				return fmt.Errorf("-phases: unknown operation %q (want run or exec)", op)
			}
			if err != nil {
				return err
			}
			time.Sleep(5 * time.Millisecond) // let the previous run's processes go
		}
	}
	return nil
}

var (
	perfLine = regexp.MustCompile(`^\s*(.*?)\s+(\d+)/(\d+)\s+(\d+\.\d+):\s+(\S+):\s*(.*)$`)
	kvRe     = regexp.MustCompile(`(\w+)=(\S+)`)
	flagsRe  = regexp.MustCompile(`(?:unshare_flags|clone_flags): (0x[0-9a-f]+)`)
)

type phaseRun struct {
	runtime  string
	tgid     int
	t0       float64
	at       map[string]float64
	ctrTgid  int
	complete bool
}

// parsePhases reads `perf script` output. Runs start at an exec of one of
// the runtime paths; processes forked by a run belong to it. It returns,
// per runtime, the runs that exec'd ctrPath (skipping each runtime's first
// skip runs), each as the milliseconds from the runtime's exec to each
// milestone reached.
func parsePhases(r io.Reader, paths map[string]string, ctrPath string, skip int) map[string][]map[string]float64 {
	runOf := map[int]*phaseRun{} // tid -> run
	var runs []*phaseRun
	mark := func(pr *phaseRun, key string, t float64) {
		if pr == nil {
			return
		}
		if _, ok := pr.at[key]; !ok {
			pr.at[key] = (t - pr.t0) * 1000
		}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := perfLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		tgid, _ := strconv.Atoi(m[2])
		tid, _ := strconv.Atoi(m[3])
		t, _ := strconv.ParseFloat(m[4], 64)
		ev, rest := m[5], m[6]
		kv := map[string]string{}
		for _, p := range kvRe.FindAllStringSubmatch(rest, -1) {
			if _, ok := kv[p[1]]; !ok {
				kv[p[1]] = p[2]
			}
		}
		pr := runOf[tid]
		switch ev {
		case "sched:sched_process_exec":
			fn := kv["filename"]
			if name, ok := paths[fn]; ok {
				pr = &phaseRun{runtime: name, tgid: tgid, t0: t, at: map[string]float64{}}
				runs = append(runs, pr)
				runOf[tid] = pr
			} else if fn == ctrPath {
				mark(pr, "ctr-exec", t)
				if pr != nil && pr.ctrTgid == 0 {
					pr.ctrTgid = tgid
				}
			} else {
				mark(pr, "init-exec", t)
			}
		case "sched:sched_process_fork":
			if pr != nil {
				if child, err := strconv.Atoi(kv["child_pid"]); err == nil {
					runOf[child] = pr
				}
			}
		case "sched:sched_process_exit":
			if pr != nil && kv["group_dead"] == "true" {
				if tgid == pr.ctrTgid {
					mark(pr, "ctr-exit", t)
				}
				if tgid == pr.tgid {
					mark(pr, "exit", t)
					pr.complete = true
				}
			}
		case "cgroup:cgroup_mkdir":
			mark(pr, "cgroup-mkdir", t)
		case "cgroup:cgroup_attach_task":
			mark(pr, "cgroup-join", t)
		case "syscalls:sys_enter_unshare", "syscalls:sys_enter_clone":
			if f := flagsRe.FindStringSubmatch(rest); f != nil {
				if v, err := strconv.ParseUint(f[1], 0, 64); err == nil && v&cloneNewNS != 0 {
					mark(pr, "namespaces", t)
				}
			}
		case "syscalls:sys_enter_setns":
			mark(pr, "namespaces", t)
		case "syscalls:sys_enter_pivot_root":
			mark(pr, "pivot", t)
		}
	}
	out := map[string][]map[string]float64{}
	seen := map[string]int{}
	for _, pr := range runs {
		if _, ok := pr.at["ctr-exec"]; !ok || !pr.complete {
			continue
		}
		seen[pr.runtime]++
		if seen[pr.runtime] > skip {
			out[pr.runtime] = append(out[pr.runtime], pr.at)
		}
	}
	return out
}

// phaseStats summarises one runtime's runs: the median offset of each
// milestone reached in at least half of them, the milestones in the order
// of those medians, and for each milestone the median of its per-run
// distance from the previous one in that order. (Differences of medians
// mislead when the runs are bimodal, as cgroup joins are.)
func phaseStats(runs []map[string]float64) (at, delta map[string]float64, order []string) {
	at, delta = map[string]float64{}, map[string]float64{}
	for _, m := range milestones {
		var v []float64
		for _, r := range runs {
			if x, ok := r[m.key]; ok {
				v = append(v, x)
			}
		}
		if len(v) > 0 && 2*len(v) >= len(runs) {
			at[m.key] = median(v)
			order = append(order, m.key)
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return at[order[i]] < at[order[j]] })
	prev := ""
	for _, k := range order {
		var d []float64
		for _, r := range runs {
			x, ok := r[k]
			p, pok := r[prev]
			if prev == "" {
				p, pok = 0, true
			}
			if ok && pok {
				d = append(d, x-p)
			}
		}
		delta[k] = median(d)
		prev = k
	}
	return at, delta, order
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// phaseReport is the JSON form of -phases.
type phaseReport struct {
	Op       string                        `json:"op"`
	Machine  machine                       `json:"machine"`
	Runtimes []runtimeInfo                 `json:"runtimes"`
	Runs     map[string]int                `json:"runs"`
	At       map[string]map[string]float64 `json:"median_ms_since_exec"`
	Delta    map[string]map[string]float64 `json:"median_ms_since_previous"`
	Order    map[string][]string           `json:"order"`
}

func (b *bench) writePhases(w io.Writer, op string, res map[string][]map[string]float64) error {
	rep := phaseReport{Op: op, Machine: describeMachine(b.mounts), Runs: map[string]int{},
		At: map[string]map[string]float64{}, Delta: map[string]map[string]float64{}, Order: map[string][]string{}}
	var names []string
	for _, r := range b.rts {
		if r.bare || len(res[r.name]) == 0 {
			continue
		}
		names = append(names, r.name)
		rep.Runtimes = append(rep.Runtimes, runtimeInfo{Name: r.name, Path: r.path, Version: r.version})
		rep.Runs[r.name] = len(res[r.name])
		rep.At[r.name], rep.Delta[r.name], rep.Order[r.name] = phaseStats(res[r.name])
	}
	if len(names) == 0 {
		return errors.New("-phases: no complete runs found in the recording")
	}
	if b.opts.asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(w, "phases of %s /bin/true (kernel tracepoints via perf): median ms from the runtime's exec,\n", op)
	fmt.Fprintf(w, "and (+) the median per-run time since the previous milestone in that runtime's own order\n")
	fmt.Fprintf(w, "machine: kernel %s, %d CPUs, cgroups %s\n", rep.Machine.Kernel, rep.Machine.CPUs, rep.Machine.Cgroups)
	fmt.Fprintf(w, "%-30s", "")
	for _, n := range names {
		fmt.Fprintf(w, " %16s", n)
	}
	fmt.Fprintf(w, "\n%-30s", "runs")
	for _, n := range names {
		fmt.Fprintf(w, " %16d", rep.Runs[n])
	}
	fmt.Fprintln(w)
	for _, m := range milestones {
		fmt.Fprintf(w, "%-30s", m.label)
		for _, n := range names {
			if v, ok := rep.At[n][m.key]; ok {
				fmt.Fprintf(w, " %7.1f (+%5.1f)", v, rep.Delta[n][m.key])
			} else {
				fmt.Fprintf(w, " %16s", "-")
			}
		}
		fmt.Fprintln(w)
	}
	return nil
}
