// Command lifecycle measures the container lifecycle of vmctr, runc and crun
// side by side: `run` of /bin/true, create, start, state, exec of /bin/true,
// delete of a stopped container, delete --force of a running one, and a
// batch of containers created and started in sequence. Runtimes take turns
// within every operation of every iteration, in a random order, so drift in
// the machine's state affects them alike. It prints medians and p90s per
// operation and the ratios of the first runtime's medians to the others'
// (or, with -json, all samples as JSON).
//
// It needs root. Everything it makes lives in a temporary directory (a
// busybox-static bundle per container, one --root per runtime) and in the
// cgroup /vmctr/bench-<pid> of each hierarchy; it removes all of it when it
// ends, also on ^C. See docs/performance.md.
//
//	go run ./hack/bench/lifecycle -n 20
//	go run ./hack/bench/lifecycle -runtimes vmctr=/tmp/vmctr,runc -json
//	go run ./hack/bench/lifecycle -phases run -n 20
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

type op struct{ key, label string }

var allOps = []op{
	{"run", "run /bin/true"},
	{"create", "create"},
	{"start", "start"},
	{"state", "state"},
	{"exec", "exec /bin/true"},
	{"delete", "delete (stopped)"},
	{"delete-force", "delete --force (running)"},
	{"batch", "create+start x N"},
}

// unifiedMount is the cgroup2 mount of a hybrid cgroup layout.
const unifiedMount = "/sys/fs/cgroup/unified"

type options struct {
	n, warmup, batch, batchRuns int
	runtimes, vmctr, hide       string
	seccompFile, busybox        string
	phases, phasesChild         string
	bare, asJSON                bool
	seed                        int64
}

type bench struct {
	opts     options
	tmp      string
	rootfs   string
	cgParent string // relative to each hierarchy's mount: vmctr/bench-<pid>
	mounts   []string
	hadVmctr map[string]bool // hierarchies that had /vmctr before we started
	seccomp  *specs.LinuxSeccomp
	rts      []*rt
	priv     *privateRunner
	samples  map[string]map[string][]time.Duration // op -> runtime -> samples
	started  time.Time
	rng      *rand.Rand
}

func main() {
	var o options
	flag.IntVar(&o.n, "n", 10, "measured iterations of each single operation")
	flag.IntVar(&o.warmup, "warmup", 1, "unmeasured iterations first")
	flag.IntVar(&o.batch, "batch", 50, "containers per batch (created and started in sequence)")
	flag.IntVar(&o.batchRuns, "batch-runs", 3, "measured batches (0: skip)")
	flag.StringVar(&o.runtimes, "runtimes", "vmctr,runc,crun", "comma-separated runtimes, each NAME or NAME=PATH; ratios are of the first to the others")
	flag.StringVar(&o.vmctr, "vmctr", "", "vmctr binary (default: build ./cmd/vmctr of this module with the Makefile's tags)")
	flag.StringVar(&o.hide, "hide-unified", "crun", "runtimes run in a private mount namespace where "+unifiedMount+" shows no controllers (crun 1.8 refuses hybrid cgroups); \"all\" or \"none\"")
	flag.StringVar(&o.seccompFile, "seccomp", "", "file with an OCI linux.seccomp object to add to every container's config")
	flag.StringVar(&o.busybox, "busybox", "busybox", "static busybox for the bundle's rootfs")
	flag.BoolVar(&o.bare, "bare", true, "include the unshare+chroot baseline for run")
	flag.BoolVar(&o.asJSON, "json", false, "print the results as JSON instead of a table")
	flag.Int64Var(&o.seed, "seed", 1, "seed of the random order in which the runtimes take turns")
	flag.StringVar(&o.phases, "phases", "", "instead of the benchmark: where the time of `run` or `exec` goes, per runtime, from kernel tracepoints recorded with perf")
	flag.StringVar(&o.phasesChild, "phases-child", "", "internal: the side of -phases that perf records")
	flag.Parse()
	if o.n < 1 || o.warmup < 0 || o.batch < 1 || o.batchRuns < 0 {
		fatalf("-n and -batch must be at least 1; -warmup and -batch-runs at least 0")
	}
	if os.Geteuid() != 0 {
		fatalf("the lifecycle benchmark needs root")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop() // signals stay caught through cleanup: a second ^C cannot interrupt it
	b := &bench{opts: o, samples: map[string]map[string][]time.Duration{}, started: time.Now(), rng: rand.New(rand.NewSource(o.seed))}
	var phases map[string][]map[string]float64
	err := b.setup()
	if err == nil {
		switch {
		case o.phasesChild != "":
			err = b.phaseChild(ctx, o.phasesChild)
		case o.phases != "":
			phases, err = b.runPhases(ctx, o.phases)
		default:
			err = b.measure(ctx)
		}
	}
	b.cleanup()
	if err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(os.Stderr, "interrupted; cleaned up")
			os.Exit(130)
		}
		fatalf("%v", err)
	}
	switch {
	case o.phasesChild != "":
	case o.phases != "":
		err = b.writePhases(os.Stdout, o.phases, phases)
	case o.asJSON:
		err = b.writeJSON(os.Stdout)
	default:
		b.writeTable(os.Stdout)
	}
	if err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "lifecycle: "+format+"\n", a...)
	os.Exit(1)
}

func logf(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) }

func (b *bench) setup() error {
	// Container inits outlive the create command that made them; as
	// subreaper we get them as children and reap them (this machine's PID 1
	// does not).
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("becoming child subreaper: %w", err)
	}
	var err error
	if b.tmp, err = os.MkdirTemp("", "vmctr-bench-"); err != nil {
		return err
	}
	b.rootfs = filepath.Join(b.tmp, "rootfs")
	if err := makeRootfs(b.rootfs, b.opts.busybox); err != nil {
		return err
	}
	if b.seccomp, err = loadSeccomp(b.opts.seccompFile); err != nil {
		return err
	}
	b.cgParent = filepath.Join("vmctr", "bench-"+strconv.Itoa(os.Getpid()))
	b.mounts = cgroupMounts()
	b.hadVmctr = existingDirs(b.mounts, "vmctr")

	hybrid := false
	for _, m := range b.mounts {
		hybrid = hybrid || m == unifiedMount
	}
	hide := map[string]bool{}
	for _, n := range strings.Split(b.opts.hide, ",") {
		hide[strings.TrimSpace(n)] = true
	}
	for _, spec := range strings.Split(b.opts.runtimes, ",") {
		name, path, _ := strings.Cut(strings.TrimSpace(spec), "=")
		if name == "" {
			continue
		}
		r := &rt{name: name, path: path, live: map[string]int{}, run: hostRunner{}}
		if r.path == "" && name == "vmctr" {
			r.path = b.opts.vmctr
		}
		if r.path == "" && name == "vmctr" {
			// Not in b.tmp itself: see checkExeseal.
			r.path = filepath.Join(b.tmp, "bin", "vmctr")
			logf("building vmctr (hack/build-vmctr.sh) ...")
			if err := buildVmctr(r.path); err != nil {
				return err
			}
		} else if r.path == "" {
			r.path = name
		}
		if r.path, err = exec.LookPath(r.path); err != nil {
			return fmt.Errorf("runtime %s: %w", name, err)
		}
		if r.path, err = filepath.Abs(r.path); err != nil {
			return err
		}
		r.version = versionOf(r.path)
		if hybrid && (hide["all"] || hide[name]) {
			if b.priv == nil {
				empty := filepath.Join(b.tmp, "empty")
				if err := os.WriteFile(empty, nil, 0o444); err != nil {
					return err
				}
				if b.priv, err = newPrivateRunner(unifiedMount, empty); err != nil {
					return err
				}
			}
			r.run = b.priv
			r.version += " (private mount ns: no controllers on " + unifiedMount + ")"
		}
		if err := b.addRuntime(r); err != nil {
			return err
		}
		checkExeseal(r)
	}
	if len(b.rts) == 0 {
		return errors.New("no runtimes given")
	}
	if b.opts.bare {
		r := &rt{name: "unshare+chroot", bare: true, run: hostRunner{}, live: map[string]int{}}
		r.version = "util-linux unshare + chroot (no cgroups, no mounts)"
		if err := b.addRuntime(r); err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) addRuntime(r *rt) error {
	base := filepath.Join(b.tmp, "rt-"+r.name)
	r.root = filepath.Join(base, "root")
	r.logDir = filepath.Join(base, "log")
	r.bundles = filepath.Join(base, "bundles")
	for _, d := range []string{r.root, r.logDir, r.bundles} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	b.rts = append(b.rts, r)
	return nil
}

// checkExeseal warns when a runtime's binary lies in a directory that
// contains its state root. libcontainer (vmctr, runc >= 1.2) seals
// /proc/self/exe for the container's init with a private overlayfs whose
// lower layers are the binary's directory and the container's state dir;
// overlayfs refuses nested layers (ELOOP), and libcontainer then falls back
// to copying the whole binary into a memfd, about 15 ms per container here.
func checkExeseal(r *rt) {
	dir := filepath.Dir(r.path)
	if rel, err := filepath.Rel(dir, r.root); err == nil && !strings.HasPrefix(rel, "..") {
		logf("warning: %s's state root %s lies inside its binary's directory %s: libcontainer cannot seal the binary with overlayfs and copies it for every container instead", r.name, r.root, dir)
	}
}

func buildVmctr(dst string) error {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		return errors.New("not inside the vmctr module: run from the repository or pass -vmctr PATH")
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	// As the Makefile builds it.
	cmd := exec.Command("bash", "hack/build-vmctr.sh", dst)
	cmd.Dir = filepath.Dir(gomod)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building vmctr: %w", err)
	}
	return nil
}

// bundle writes the config of container id of runtime r and returns the
// bundle directory. Its cgroup is /vmctr/bench-<pid>/<runtime>-<id>.
func (b *bench) bundle(r *rt, id string, args ...string) (string, error) {
	dir := filepath.Join(r.bundles, id)
	cg := "/" + filepath.Join(b.cgParent, r.name+"-"+id)
	return dir, writeBundle(dir, b.rootfs, cg, args, b.seccomp)
}

func (b *bench) record(key, name string, d time.Duration) {
	if b.samples[key] == nil {
		b.samples[key] = map[string][]time.Duration{}
	}
	b.samples[key][name] = append(b.samples[key][name], d)
}

// shuffled returns the runtimes in a random order. Random, not rotating:
// with a fixed cyclic order every runtime would always follow the same one,
// and what a runtime pays depends on its predecessor (a cgroup join waits
// for an RCU grace period unless another join happened just before it).
func (b *bench) shuffled(rts []*rt) []*rt {
	out := append([]*rt(nil), rts...)
	b.rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

var (
	trueArgs  = []string{"/bin/true"}
	sleepArgs = []string{"/bin/sleep", "1000000"}
)

func (b *bench) measure(ctx context.Context) error {
	total := b.opts.warmup + b.opts.n
	for k := 0; k < total; k++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		logf("iteration %d/%d%s", k+1, total, map[bool]string{true: " (warm-up)"}[k < b.opts.warmup])
		if err := b.iteration(ctx, k, k >= b.opts.warmup); err != nil {
			return err
		}
	}
	for j := 0; j < b.opts.batchRuns; j++ {
		logf("batch %d/%d: %d containers per runtime", j+1, b.opts.batchRuns, b.opts.batch)
		if err := b.batchRun(ctx, j); err != nil {
			return err
		}
	}
	return nil
}

// iteration runs every single operation once per runtime. Within each
// operation the runtimes take turns in a new random order.
func (b *bench) iteration(ctx context.Context, k int, rec bool) error {
	order := b.shuffled(b.rts)
	note := func(key string, r *rt, res result) {
		if rec {
			b.record(key, r.name, res.d)
		}
	}
	step := func(key string, fn func(r *rt) (result, error), bare bool) error {
		for _, r := range b.shuffled(b.rts) {
			if r.bare && !bare {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			res, err := fn(r)
			if err != nil {
				return err
			}
			note(key, r, res)
		}
		return nil
	}
	n := strconv.Itoa(k)
	run, ctr, forced := "r"+n, "c"+n, "f"+n

	err := step("run", func(r *rt) (result, error) {
		if r.bare {
			return r.timed("unshare", "--mount", "--uts", "--ipc", "--net", "--pid", "--fork", "chroot", b.rootfs, "/bin/true")
		}
		bundle, err := b.bundle(r, run, trueArgs...)
		if err != nil {
			return result{}, err
		}
		r.live[run] = 0
		res, err := r.timed("run", "--bundle", bundle, run)
		if err == nil {
			delete(r.live, run) // run deleted it
		}
		return res, err
	}, true)
	if err != nil {
		return err
	}
	if err := step("create", func(r *rt) (result, error) {
		bundle, err := b.bundle(r, ctr, sleepArgs...)
		if err != nil {
			return result{}, err
		}
		return r.create(bundle, ctr)
	}, false); err != nil {
		return err
	}
	if err := step("start", func(r *rt) (result, error) { return r.timed("start", ctr) }, false); err != nil {
		return err
	}
	if err := step("state", func(r *rt) (result, error) {
		res, err := r.timed("state", ctr)
		if err == nil {
			var s struct{ Status string }
			if jerr := json.Unmarshal(res.stdout, &s); jerr != nil || s.Status != "running" {
				err = fmt.Errorf("%s state %s: want status running, got %q (%v)", r.name, ctr, s.Status, jerr)
			}
		}
		return res, err
	}, false); err != nil {
		return err
	}
	if err := step("exec", func(r *rt) (result, error) { return r.timed("exec", ctr, "/bin/true") }, false); err != nil {
		return err
	}
	for _, r := range order {
		if !r.bare {
			r.killAndReap(ctr)
		}
	}
	if err := step("delete", func(r *rt) (result, error) {
		res, err := r.timed("delete", ctr)
		if err == nil {
			delete(r.live, ctr)
		}
		return res, err
	}, false); err != nil {
		return err
	}
	// delete --force of a running container.
	for _, r := range order {
		if r.bare {
			continue
		}
		bundle, err := b.bundle(r, forced, sleepArgs...)
		if err == nil {
			_, err = r.create(bundle, forced)
		}
		if err == nil {
			_, err = r.timed("start", forced)
		}
		if err != nil {
			return err
		}
	}
	return step("delete-force", func(r *rt) (result, error) {
		pid := r.live[forced]
		fd := -1
		if pid > 0 {
			fd, _ = unix.PidfdOpen(pid, 0)
		}
		res, err := r.timed("delete", "--force", forced)
		reap(pid, fd)
		if err == nil {
			delete(r.live, forced)
		}
		return res, err
	}, false)
}

// batchRun creates and starts b.opts.batch containers per runtime, each
// runtime's in sequence, and records each runtime's total. The runtimes take
// turns container by container (in a random order), so that a burst of
// load on the machine hits them alike and every runtime starts its k-th
// container with the same number of containers running. Bundles are
// written beforehand and the containers deleted afterwards, both untimed.
func (b *bench) batchRun(ctx context.Context, j int) error {
	var real []*rt
	for _, r := range b.rts {
		if !r.bare {
			real = append(real, r)
		}
	}
	ids := make([]string, b.opts.batch)
	bundles := map[*rt][]string{}
	for _, r := range real {
		for i := range ids {
			ids[i] = fmt.Sprintf("b%d-%d", j, i)
			bundle, err := b.bundle(r, ids[i], sleepArgs...)
			if err != nil {
				return err
			}
			bundles[r] = append(bundles[r], bundle)
		}
	}
	defer func() {
		for _, r := range real {
			for _, id := range ids {
				if _, ok := r.live[id]; ok {
					r.killAndReap(id)
					r.remove(id)
				}
			}
		}
	}()
	total := map[*rt]time.Duration{}
	for i, id := range ids {
		for _, r := range b.shuffled(real) {
			if err := ctx.Err(); err != nil {
				return err
			}
			res, err := r.create(bundles[r][i], id)
			if err != nil {
				return err
			}
			total[r] += res.d
			if res, err = r.timed("start", id); err != nil {
				return err
			}
			total[r] += res.d
		}
	}
	for _, r := range real {
		b.record("batch", r.name, total[r])
	}
	return nil
}

// cleanup removes every container, cgroup and file the benchmark made.
func (b *bench) cleanup() {
	for _, r := range b.rts {
		r.cleanup()
	}
	if b.cgParent != "" {
		removeCgroupTree(b.mounts, b.cgParent)
		for _, m := range b.mounts {
			if !b.hadVmctr[m] {
				_ = unix.Rmdir(filepath.Join(m, "vmctr")) // only if empty: others may use it now
			}
		}
	}
	reapAny()
	if b.priv != nil {
		b.priv.close()
	}
	if b.tmp == "" {
		return
	}
	for _, m := range mountsOf() {
		if strings.HasPrefix(m, b.tmp+"/") {
			logf("not removing %s: %s is still mounted", b.tmp, m)
			return
		}
	}
	if err := os.RemoveAll(b.tmp); err != nil {
		logf("removing %s: %v", b.tmp, err)
	}
}

// machine describes where the benchmark ran.
type machine struct {
	Kernel  string `json:"kernel"`
	CPUs    int    `json:"cpus"`
	CPU     string `json:"cpu"`
	Cgroups string `json:"cgroups"`
	Go      string `json:"go"`
}

func describeMachine(mounts []string) machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	v1, v2 := 0, 0
	for _, mp := range mounts {
		if mp == unifiedMount || mp == "/sys/fs/cgroup" {
			v2++
		} else {
			v1++
		}
	}
	switch {
	case v1 > 0 && v2 > 0:
		m.Cgroups = fmt.Sprintf("hybrid (%d v1 hierarchies + v2 at %s)", v1, unifiedMount)
	case v1 > 0:
		m.Cgroups = fmt.Sprintf("v1 (%d hierarchies)", v1)
	default:
		m.Cgroups = "v2"
	}
	return m
}

type runtimeInfo struct {
	Name    string `json:"name"`
	Path    string `json:"path,omitempty"`
	Version string `json:"version"`
}

type opResult struct {
	Op      string             `json:"op"`
	Label   string             `json:"label"`
	Results map[string]summary `json:"results"`
	Ratios  map[string]float64 `json:"ratios,omitempty"` // first runtime's median / other's
}

type report struct {
	Date       time.Time     `json:"date"`
	Machine    machine       `json:"machine"`
	Iterations int           `json:"iterations"`
	Warmup     int           `json:"warmup"`
	BatchSize  int           `json:"batch_size"`
	BatchRuns  int           `json:"batch_runs"`
	Seed       int64         `json:"seed"`
	Seccomp    string        `json:"seccomp,omitempty"`
	Runtimes   []runtimeInfo `json:"runtimes"`
	Ops        []opResult    `json:"ops"`
}

func (b *bench) report() report {
	rep := report{
		Date: b.started.UTC().Truncate(time.Second), Machine: describeMachine(b.mounts),
		Iterations: b.opts.n, Warmup: b.opts.warmup, BatchSize: b.opts.batch, BatchRuns: b.opts.batchRuns, Seed: b.opts.seed,
		Seccomp: b.opts.seccompFile,
	}
	for _, r := range b.rts {
		rep.Runtimes = append(rep.Runtimes, runtimeInfo{Name: r.name, Path: r.path, Version: r.version})
	}
	first := b.rts[0]
	for _, o := range allOps {
		s := b.samples[o.key]
		if len(s) == 0 {
			continue
		}
		res := opResult{Op: o.key, Label: o.label, Results: map[string]summary{}, Ratios: map[string]float64{}}
		if o.key == "batch" {
			res.Label = fmt.Sprintf("create+start x %d", b.opts.batch)
		}
		for _, r := range b.rts {
			if d, ok := s[r.name]; ok {
				res.Results[r.name] = summarize(d)
			}
		}
		if f, ok := res.Results[first.name]; ok {
			for _, r := range b.rts[1:] {
				if o, ok := res.Results[r.name]; ok && !r.bare && o.Median > 0 {
					res.Ratios[first.name+"/"+r.name] = f.Median / o.Median
				}
			}
		}
		rep.Ops = append(rep.Ops, res)
	}
	return rep
}

func (b *bench) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(b.report())
}

func (b *bench) writeTable(w io.Writer) {
	rep := b.report()
	m := rep.Machine
	fmt.Fprintf(w, "lifecycle benchmark, %s: %d iterations (+%d warm-up), batches %d x %d\n",
		rep.Date.Format(time.RFC3339), rep.Iterations, rep.Warmup, rep.BatchRuns, rep.BatchSize)
	fmt.Fprintf(w, "machine: kernel %s, %d CPUs (%s), cgroups %s\n", m.Kernel, m.CPUs, m.CPU, m.Cgroups)
	if rep.Seccomp != "" {
		fmt.Fprintf(w, "seccomp profile: %s\n", rep.Seccomp)
	}
	for _, r := range rep.Runtimes {
		fmt.Fprintf(w, "  %-15s %s\n", r.Name, r.Version)
	}
	fmt.Fprintf(w, "\nmilliseconds, median and p90:\n")
	var ratioCols []string
	first := b.rts[0].name
	for _, r := range b.rts[1:] {
		if !r.bare {
			ratioCols = append(ratioCols, first+"/"+r.name)
		}
	}
	fmt.Fprintf(w, "%-26s", "")
	for _, r := range b.rts {
		fmt.Fprintf(w, " %17s", r.name)
	}
	for _, c := range ratioCols {
		fmt.Fprintf(w, " %11s", c)
	}
	fmt.Fprintf(w, "\n%-26s", "")
	for range b.rts {
		fmt.Fprintf(w, " %8s %8s", "median", "p90")
	}
	fmt.Fprintln(w)
	for _, o := range rep.Ops {
		fmt.Fprintf(w, "%-26s", o.Label)
		for _, r := range b.rts {
			if s, ok := o.Results[r.name]; ok {
				fmt.Fprintf(w, " %8.1f %8.1f", s.Median, s.P90)
			} else {
				fmt.Fprintf(w, " %17s", "-")
			}
		}
		for _, c := range ratioCols {
			if v, ok := o.Ratios[c]; ok {
				fmt.Fprintf(w, " %11.2f", v)
			} else {
				fmt.Fprintf(w, " %11s", "-")
			}
		}
		fmt.Fprintln(w)
	}
}
