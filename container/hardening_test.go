package container

// Regression tests for bugs found by running runc's bats suite against vmctr
// and by the adversarial pass (hack/runc-compat.sh, docs/runc-compat.md).
// Unit tests only: no root needed. The end-to-end ones are in
// cmd/vmctr/e2e_hardening_test.go.

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// update.bats "update per-device iops/bps values": update used to drop
// per-device block IO values, and must not change the current config's
// entries in place (a refused update restores them).
func TestMergeResourcesBlkioDevices(t *testing.T) {
	old := &cgroups.ThrottleDevice{Rate: 100}
	old.Major, old.Minor = 7, 0
	oldW := cgroups.NewWeightDevice(7, 0, 100, 0)
	res := &cgroups.Resources{
		BlkioThrottleReadBpsDevice: []*cgroups.ThrottleDevice{old},
		BlkioWeightDevice:          []*cgroups.WeightDevice{oldW},
	}
	cur := *res
	w := uint16(500)
	r := &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
		LeafWeight:             valuePtr(uint16(300)),
		WeightDevice:           []specs.LinuxWeightDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 7, Minor: 0}, Weight: &w}},
		ThrottleReadBpsDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 7, Minor: 0}, Rate: 4096}},
		ThrottleWriteBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 1}, Rate: 1024}},
		ThrottleReadIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 1}, Rate: 10}},
		ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{
			{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 1}, Rate: 9},
			{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 1}, Rate: 11}, // the last one wins
		},
	}}
	if err := mergeResources(res, r); err != nil {
		t.Fatal(err)
	}
	if old.Rate != 100 || oldW.Weight != 100 || cur.BlkioThrottleReadBpsDevice[0] != old {
		t.Error("mergeResources changed the current config's devices in place")
	}
	check := func(name string, got []*cgroups.ThrottleDevice, major int64, rate uint64) {
		t.Helper()
		if len(got) != 1 || got[0].Major != major || got[0].Rate != rate {
			t.Errorf("%s = %v, want one device %d with rate %d", name, got, major, rate)
		}
	}
	check("read bps", res.BlkioThrottleReadBpsDevice, 7, 4096)
	check("write bps", res.BlkioThrottleWriteBpsDevice, 8, 1024)
	check("read iops", res.BlkioThrottleReadIOPSDevice, 8, 10)
	check("write iops", res.BlkioThrottleWriteIOPSDevice, 8, 11)
	if len(res.BlkioWeightDevice) != 1 || res.BlkioWeightDevice[0].Weight != 500 {
		t.Errorf("weight devices = %v, want one with weight 500", res.BlkioWeightDevice)
	}
	if res.BlkioLeafWeight != 300 {
		t.Errorf("leaf weight = %d, want 300", res.BlkioLeafWeight)
	}
}

// update.bats "update cgroup cpu.idle": with idle set and no shares, update
// must not write the recorded weight back (the kernel refuses it for an
// idle group).
func TestMergeResourcesCPUIdle(t *testing.T) {
	res := &cgroups.Resources{CpuShares: 100, CpuWeight: 4}
	if err := mergeResources(res, &specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: valuePtr(int64(1))}}); err != nil {
		t.Fatal(err)
	}
	if res.CPUIdle == nil || *res.CPUIdle != 1 || res.CpuShares != 0 || res.CpuWeight != 0 {
		t.Errorf("idle %v, shares %d, weight %d; want idle 1 and no shares or weight", res.CPUIdle, res.CpuShares, res.CpuWeight)
	}
	res = &cgroups.Resources{}
	if err := mergeResources(res, &specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: valuePtr(int64(0)), Shares: valuePtr(uint64(512))}}); err != nil {
		t.Fatal(err)
	}
	if res.CpuShares != 512 {
		t.Errorf("shares %d, want 512 (given together with idle)", res.CpuShares)
	}
}

// cpu_affinity.bats: process.execCPUAffinity was ignored. A bad value is an
// error in the config, found when it is parsed.
func TestExecCPUAffinity(t *testing.T) {
	p := &specs.Process{Args: []string{"true"}, Cwd: "/", ExecCPUAffinity: &specs.CPUAffinity{Initial: "0-1", Final: "1"}}
	if err := validateProcess(p); err != nil {
		t.Fatal(err)
	}
	lp := newProcess(p, false)
	if lp.CPUAffinity == nil || lp.CPUAffinity.Initial == nil || lp.CPUAffinity.Final == nil {
		t.Fatalf("CPUAffinity = %+v, want initial and final", lp.CPUAffinity)
	}
	for _, bad := range []string{"x", "1-", "3-1", "-1"} {
		p.ExecCPUAffinity = &specs.CPUAffinity{Initial: bad}
		if err := validateProcess(p); err == nil {
			t.Errorf("execCPUAffinity.initial %q: no error", bad)
		}
	}
}

// root.path must not be the host's root, nor reached through a symlink.
func TestCheckRootfs(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "rootfs")
	if err := os.Mkdir(real, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"toslash": "/", "link": real, "up": ".."} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ path, want string }{
		{real, ""},
		{"/", "host's root directory"},
		{filepath.Join(dir, "toslash"), "host's root directory"},
		{filepath.Join(dir, "link"), "symlink"},
		{filepath.Join(dir, "up"), "symlink"},
		{filepath.Join(dir, "missing"), "no such file"},
	} {
		err := checkRootfs(tc.path)
		if tc.want == "" {
			if err != nil {
				t.Errorf("checkRootfs(%s) = %v", tc.path, err)
			}
			continue
		}
		if err == nil || !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("checkRootfs(%s) = %v, want ErrInvalidSpec with %q", tc.path, err, tc.want)
		}
	}
}

// A container's cgroup may exist beforehand only empty and without child
// cgroups (the file system here stands in for cgroupfs).
func TestCheckCgroupsUnused(t *testing.T) {
	dir := t.TempDir()
	mk := func(name, procs string, child bool) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, "cgroup.procs"), []byte(procs), 0o644); err != nil {
			t.Fatal(err)
		}
		if child {
			if err := os.Mkdir(filepath.Join(p, "child"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	empty, busy, parent := mk("empty", "\n", false), mk("busy", "1\n42\n", false), mk("parent", "", true)
	missing := filepath.Join(dir, "missing")
	for _, tc := range []struct {
		paths map[string]string
		want  string
	}{
		{map[string]string{"memory": missing, "cpu": missing}, ""},
		{map[string]string{"memory": empty, "cpu": missing}, ""},
		{map[string]string{"memory": missing, "cpu": busy}, "has processes"},
		{map[string]string{"": parent}, "child cgroups"},
	} {
		err := checkCgroupsUnused(tc.paths)
		if tc.want == "" {
			if err != nil {
				t.Errorf("checkCgroupsUnused(%v) = %v", tc.paths, err)
			}
		} else if err == nil || !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("checkCgroupsUnused(%v) = %v, want ErrInvalidSpec with %q", tc.paths, err, tc.want)
		}
	}
}

// A state root others can write to, or a symlinked lock dir, is refused
// before vmctr creates anything in it.
func TestStoreRootPermissions(t *testing.T) {
	ok := filepath.Join(t.TempDir(), "root")
	unlock, err := store{root: ok}.lock("ct")
	if err != nil {
		t.Fatalf("fresh root: %v", err)
	}
	unlock()
	if fi, err := os.Stat(ok); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("new root: %v, mode %v; want 0700", err, fi.Mode())
	}

	open := t.TempDir()
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := (store{root: open}).lock("ct"); err == nil || !strings.Contains(err.Error(), "writable by its group or by others") {
		t.Errorf("root with mode 0777: %v", err)
	}

	linked := t.TempDir()
	elsewhere := t.TempDir()
	if err := os.Symlink(elsewhere, filepath.Join(linked, lockDir)); err != nil {
		t.Fatal(err)
	}
	if _, err := (store{root: linked}).lock("ct"); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("symlinked lock dir: %v", err)
	}
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
		t.Errorf("lock file created through the symlink: %v", entries)
	}
}

// config.json is capped at MaxConfigSize.
func TestLoadSpecTooLarge(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxConfigSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := LoadSpec(dir); err == nil || !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("LoadSpec of a %d-byte config: %v", MaxConfigSize+1, err)
	}
}

// A non-ASCII ID is named by its byte, not misread as a Latin-1 letter.
func TestValidateIDNonASCII(t *testing.T) {
	err := ValidateID("é")
	if err == nil || !strings.Contains(err.Error(), "non-ASCII byte 0xc3") {
		t.Errorf("ValidateID(\"é\") = %v", err)
	}
}
