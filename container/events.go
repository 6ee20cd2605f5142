package container

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/types"
	"github.com/sirupsen/logrus"
)

// Event is one line of `events` output (runc's shape): type "stats" or "oom".
type Event = types.Event

// Stats reads a container's resource usage once. As with runc, a stopped
// container has none to report: that is an ErrNotRunning error.
func Stats(ctx context.Context, root, id string) (*types.Stats, error) {
	c, _, err := load(root, id)
	if err != nil {
		return nil, err
	}
	if err := checkNotStopped(c); err != nil {
		return nil, err
	}
	return statsOf(c)
}

func statsOf(c *libcontainer.Container) (*types.Stats, error) {
	st, err := c.Stats()
	if err != nil {
		return nil, fmt.Errorf("reading stats of %q: %w", c.ID(), err)
	}
	return convertStats(st.CgroupStats), nil
}

// checkNotStopped returns an ErrNotRunning error if c has stopped (events
// accepts created, running and paused containers, as runc's does).
func checkNotStopped(c *libcontainer.Container) error {
	s, err := c.Status()
	if err != nil {
		return fmt.Errorf("reading the status of %q: %w", c.ID(), err)
	}
	if s == libcontainer.Stopped {
		return fmt.Errorf("container %q: %w", c.ID(), ErrNotRunning)
	}
	return nil
}

// WatchEvents writes a stats event at once and then every interval, and an
// oom event whenever the container hits its memory limit (only that: an oom
// event brings no stats event with it), until ctx ends or the container
// stops. A container that has already stopped is an ErrNotRunning error.
func WatchEvents(ctx context.Context, root, id string, interval time.Duration, w io.Writer) error {
	if interval <= 0 {
		return fmt.Errorf("events interval %v: must be positive", interval)
	}
	c, _, err := load(root, id)
	if err != nil {
		return err
	}
	if err := checkNotStopped(c); err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	oom, err := c.NotifyOOM()
	if err != nil {
		logrus.Debugf("events of %q: no OOM notifications: %v", id, err)
		oom = nil // not fatal: stats still work
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if checkNotStopped(c) != nil {
			return nil
		}
		if st, err := statsOf(c); err != nil {
			logrus.Warn(err)
		} else if err := enc.Encode(Event{Type: "stats", ID: id, Data: st}); err != nil {
			return err
		}
		// Wait for the next tick, writing oom events as they come.
		for tick := false; !tick; {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
				tick = true
			case _, ok := <-oom:
				if !ok {
					// The cgroup is gone: the container
					// has stopped, or is about to.
					oom = nil
					if checkNotStopped(c) != nil {
						return nil
					}
					continue
				}
				if err := enc.Encode(Event{Type: "oom", ID: id}); err != nil {
					return err
				}
			}
		}
	}
}

func convertStats(cg *cgroups.Stats) *types.Stats {
	s := &types.Stats{}
	if cg == nil {
		return s
	}
	u := cg.CpuStats.CpuUsage
	s.CPU.Usage = types.CpuUsage{Total: u.TotalUsage, Percpu: u.PercpuUsage, PercpuKernel: u.PercpuUsageInKernelmode,
		PercpuUser: u.PercpuUsageInUsermode, Kernel: u.UsageInKernelmode, User: u.UsageInUsermode}
	th := cg.CpuStats.ThrottlingData
	s.CPU.Throttling = types.Throttling{Periods: th.Periods, ThrottledPeriods: th.ThrottledPeriods, ThrottledTime: th.ThrottledTime}
	s.CPU.PSI = cg.CpuStats.PSI
	entry := func(m cgroups.MemoryData) types.MemoryEntry {
		return types.MemoryEntry{Limit: m.Limit, Usage: m.Usage, Max: m.MaxUsage, Failcnt: m.Failcnt}
	}
	ms := cg.MemoryStats
	s.Memory = types.Memory{Cache: ms.Cache, Usage: entry(ms.Usage), Swap: entry(ms.SwapUsage),
		Kernel: entry(ms.KernelUsage), KernelTCP: entry(ms.KernelTCPUsage), Raw: ms.Stats, PSI: ms.PSI}
	s.Pids = types.Pids{Current: cg.PidsStats.Current, Limit: cg.PidsStats.Limit}
	conv := func(in []cgroups.BlkioStatEntry) []types.BlkioEntry {
		var out []types.BlkioEntry
		for _, e := range in {
			out = append(out, types.BlkioEntry{Major: e.Major, Minor: e.Minor, Op: e.Op, Value: e.Value})
		}
		return out
	}
	b := cg.BlkioStats
	s.Blkio = types.Blkio{IoServiceBytesRecursive: conv(b.IoServiceBytesRecursive), IoServicedRecursive: conv(b.IoServicedRecursive),
		IoQueuedRecursive: conv(b.IoQueuedRecursive), IoServiceTimeRecursive: conv(b.IoServiceTimeRecursive),
		IoWaitTimeRecursive: conv(b.IoWaitTimeRecursive), IoMergedRecursive: conv(b.IoMergedRecursive),
		IoTimeRecursive: conv(b.IoTimeRecursive), SectorsRecursive: conv(b.SectorsRecursive), PSI: b.PSI}
	s.Hugetlb = map[string]types.Hugetlb{}
	for k, v := range cg.HugetlbStats {
		s.Hugetlb[k] = types.Hugetlb{Usage: v.Usage, Max: v.MaxUsage, Failcnt: v.Failcnt}
	}
	return s
}
