package container

import (
	"reflect"
	"testing"

	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestMergeResources(t *testing.T) {
	base := func() *cgroups.Resources {
		return &cgroups.Resources{Memory: 64 << 20, MemorySwap: 128 << 20, CpuShares: 1024, CpuQuota: 50000, PidsLimit: valuePtr(int64(100)), Unified: map[string]string{"a": "1"}}
	}
	for _, tc := range []struct {
		name string
		in   specs.LinuxResources
		want func(*cgroups.Resources)
	}{
		{name: "nothing set changes nothing", want: func(*cgroups.Resources) {}},
		{name: "empty sections change nothing", in: specs.LinuxResources{Memory: &specs.LinuxMemory{}, CPU: &specs.LinuxCPU{}, Pids: &specs.LinuxPids{}, BlockIO: &specs.LinuxBlockIO{}},
			want: func(*cgroups.Resources) {}},
		{name: "memory", in: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: valuePtr(int64(96 << 20)), Reservation: valuePtr(int64(1 << 20))}},
			want: func(r *cgroups.Resources) { r.Memory = 96 << 20; r.MemoryReservation = 1 << 20 }},
		{name: "unlimited memory lifts swap too", in: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: valuePtr(int64(-1))}},
			want: func(r *cgroups.Resources) { r.Memory = -1; r.MemorySwap = -1 }},
		{name: "unlimited memory with explicit swap", in: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: valuePtr(int64(-1)), Swap: valuePtr(int64(1 << 30))}},
			want: func(r *cgroups.Resources) { r.Memory = -1; r.MemorySwap = 1 << 30 }},
		{name: "cpu", in: specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: valuePtr(uint64(512)), Quota: valuePtr(int64(-1)), Period: valuePtr(uint64(100000)), Cpus: "0-1", Mems: "0", Burst: valuePtr(uint64(10))}},
			want: func(r *cgroups.Resources) {
				r.CpuShares = 512
				r.CpuWeight = cgroups.ConvertCPUSharesToCgroupV2Value(512)
				r.CpuQuota, r.CpuPeriod, r.CpusetCpus, r.CpusetMems, r.CpuBurst = -1, 100000, "0-1", "0", valuePtr(uint64(10))
			}},
		{name: "realtime", in: specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimePeriod: valuePtr(uint64(1000000)), RealtimeRuntime: valuePtr(int64(950000))}},
			want: func(r *cgroups.Resources) { r.CpuRtPeriod, r.CpuRtRuntime = 1000000, 950000 }},
		{name: "pids and blkio", in: specs.LinuxResources{Pids: &specs.LinuxPids{Limit: valuePtr(int64(-1))}, BlockIO: &specs.LinuxBlockIO{Weight: valuePtr(uint16(500))}},
			want: func(r *cgroups.Resources) { r.PidsLimit = valuePtr(int64(-1)); r.BlkioWeight = 500 }},
		{name: "unified merges", in: specs.LinuxResources{Unified: map[string]string{"b": "2", "a": "3"}},
			want: func(r *cgroups.Resources) { r.Unified = map[string]string{"a": "3", "b": "2"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, want := base(), base()
			tc.want(want)
			if err := mergeResources(got, &tc.in); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("mergeResources:\n got  %+v\n want %+v", got, want)
			}
		})
	}
}

func valuePtr[T any](v T) *T { return &v }
