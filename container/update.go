package container

import (
	"context"
	"fmt"
	"maps"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/libcontainer"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Update changes the resource limits of a created, running or paused
// container. Only the fields set in r change.
func Update(ctx context.Context, root, id string, r *specs.LinuxResources) error {
	return locked(root, id, func(c *libcontainer.Container, _ *Record) error {
		status, err := c.Status()
		if err != nil {
			return err
		}
		if status == libcontainer.Stopped {
			return fmt.Errorf("container %q: %w", id, ErrNotRunning)
		}
		// Config() shares its Cgroups with the container: change a copy,
		// so that libcontainer can set the old values back if the
		// kernel refuses a new one.
		config := c.Config()
		cg := *config.Cgroups
		res := *cg.Resources
		res.Unified = maps.Clone(res.Unified)
		cg.Resources = &res
		config.Cgroups = &cg
		if err := mergeResources(&res, r); err != nil {
			return err
		}
		if err := c.Set(config); err != nil {
			return fmt.Errorf("updating %q: %w", id, err)
		}
		return nil
	})
}

func mergeResources(res *cgroups.Resources, r *specs.LinuxResources) error {
	if m := r.Memory; m != nil {
		if m.Limit != nil {
			res.Memory = *m.Limit
			if *m.Limit == -1 && m.Swap == nil {
				res.MemorySwap = -1
			}
		}
		if m.Reservation != nil {
			res.MemoryReservation = *m.Reservation
		}
		if m.Swap != nil {
			res.MemorySwap = *m.Swap
		}
		if m.CheckBeforeUpdate != nil {
			res.MemoryCheckBeforeUpdate = *m.CheckBeforeUpdate
		}
	}
	if cpu := r.CPU; cpu != nil {
		if cpu.Shares != nil {
			res.CpuShares = *cpu.Shares
			res.CpuWeight = cgroups.ConvertCPUSharesToCgroupV2Value(*cpu.Shares)
		}
		if cpu.Quota != nil {
			res.CpuQuota = *cpu.Quota
		}
		if cpu.Period != nil {
			res.CpuPeriod = *cpu.Period
		}
		if cpu.Burst != nil {
			res.CpuBurst = cpu.Burst
		}
		if cpu.RealtimePeriod != nil {
			res.CpuRtPeriod = *cpu.RealtimePeriod
		}
		if cpu.RealtimeRuntime != nil {
			res.CpuRtRuntime = *cpu.RealtimeRuntime
		}
		if cpu.Cpus != "" {
			res.CpusetCpus = cpu.Cpus
		}
		if cpu.Mems != "" {
			res.CpusetMems = cpu.Mems
		}
		if cpu.Idle != nil {
			res.CPUIdle = cpu.Idle
		}
	}
	if r.Pids != nil && r.Pids.Limit != nil {
		res.PidsLimit = r.Pids.Limit
	}
	if b := r.BlockIO; b != nil && b.Weight != nil {
		res.BlkioWeight = *b.Weight
	}
	for k, v := range r.Unified {
		if res.Unified == nil {
			res.Unified = map[string]string{}
		}
		res.Unified[k] = v
	}
	return nil
}
