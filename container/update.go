package container

import (
	"context"
	"fmt"
	"maps"
	"slices"

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
			if cpu.Shares == nil {
				// The kernel refuses a weight for an idle group (and
				// libcontainer writes the recorded one back): leave
				// the weight alone, as runc does.
				res.CpuShares, res.CpuWeight = 0, 0
			}
		}
	}
	if r.Pids != nil && r.Pids.Limit != nil {
		res.PidsLimit = r.Pids.Limit
	}
	if b := r.BlockIO; b != nil {
		if b.Weight != nil {
			res.BlkioWeight = *b.Weight
		}
		if b.LeafWeight != nil {
			res.BlkioLeafWeight = *b.LeafWeight
		}
		// Per-device values: a device already listed gets the new value,
		// another is added (as runc's update). The slices hold pointers
		// shared with the current config: copy, never change in place.
		for _, wd := range b.WeightDevice {
			res.BlkioWeightDevice = upsertWeightDevice(res.BlkioWeightDevice, wd)
		}
		for _, u := range []struct {
			dst *[]*cgroups.ThrottleDevice
			src []specs.LinuxThrottleDevice
		}{
			{&res.BlkioThrottleReadBpsDevice, b.ThrottleReadBpsDevice},
			{&res.BlkioThrottleWriteBpsDevice, b.ThrottleWriteBpsDevice},
			{&res.BlkioThrottleReadIOPSDevice, b.ThrottleReadIOPSDevice},
			{&res.BlkioThrottleWriteIOPSDevice, b.ThrottleWriteIOPSDevice},
		} {
			for _, td := range u.src {
				*u.dst = upsertThrottleDevice(*u.dst, td)
			}
		}
	}
	for k, v := range r.Unified {
		if res.Unified == nil {
			res.Unified = map[string]string{}
		}
		res.Unified[k] = v
	}
	return nil
}

// upsertWeightDevice returns devs with wd's weights set: on a copy of the
// entry for the same device if there is one (the last, as the kernel would
// apply it), else on a new entry.
func upsertWeightDevice(devs []*cgroups.WeightDevice, wd specs.LinuxWeightDevice) []*cgroups.WeightDevice {
	out := slices.Clone(devs)
	for i := len(out) - 1; i >= 0; i-- {
		if out[i].Major == wd.Major && out[i].Minor == wd.Minor {
			d := *out[i]
			if wd.Weight != nil {
				d.Weight = *wd.Weight
			}
			if wd.LeafWeight != nil {
				d.LeafWeight = *wd.LeafWeight
			}
			out[i] = &d
			return out
		}
	}
	var w, lw uint16
	if wd.Weight != nil {
		w = *wd.Weight
	}
	if wd.LeafWeight != nil {
		lw = *wd.LeafWeight
	}
	return append(out, cgroups.NewWeightDevice(wd.Major, wd.Minor, w, lw))
}

// upsertThrottleDevice is upsertWeightDevice for a throttle rate.
func upsertThrottleDevice(devs []*cgroups.ThrottleDevice, td specs.LinuxThrottleDevice) []*cgroups.ThrottleDevice {
	out := slices.Clone(devs)
	for i := len(out) - 1; i >= 0; i-- {
		if out[i].Major == td.Major && out[i].Minor == td.Minor {
			d := *out[i]
			d.Rate = td.Rate
			out[i] = &d
			return out
		}
	}
	return append(out, cgroups.NewThrottleDevice(td.Major, td.Minor, td.Rate))
}
