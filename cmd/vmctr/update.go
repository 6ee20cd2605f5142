package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/docker/go-units"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"

	"github.com/vmctr/vmctr/container"
)

var updateCommand = &cli.Command{
	Name:      "update",
	Category:  catRunc,
	Usage:     "change a container's resource limits",
	ArgsUsage: "<container-id>",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "resources", Aliases: []string{"r"}, Usage: "JSON file with OCI LinuxResources; - for stdin"},
		&cli.StringFlag{Name: "blkio-weight", Usage: "block IO weight (10-1000)"},
		&cli.StringFlag{Name: "cpu-period", Usage: "CPU CFS period (µs)"},
		&cli.StringFlag{Name: "cpu-quota", Usage: "CPU CFS quota (µs)"},
		&cli.StringFlag{Name: "cpu-burst", Usage: "CPU CFS burst (µs)"},
		&cli.StringFlag{Name: "cpu-share", Usage: "CPU shares (relative weight)"},
		&cli.StringFlag{Name: "cpu-idle", Usage: "1: the cgroup's processes run as SCHED_IDLE; 0: normally"},
		&cli.StringFlag{Name: "cpu-rt-period", Usage: "CPU realtime period (µs)"},
		&cli.StringFlag{Name: "cpu-rt-runtime", Usage: "CPU realtime runtime (µs)"},
		&cli.StringFlag{Name: "cpuset-cpus", Usage: "CPUs to use (0-3, 0,1)"},
		&cli.StringFlag{Name: "cpuset-mems", Usage: "memory nodes to use (0-3, 0,1)"},
		&cli.StringFlag{Name: "memory", Usage: "memory limit (bytes, or 128m, 1g; -1 for none)"},
		&cli.StringFlag{Name: "memory-reservation", Usage: "memory soft limit"},
		&cli.StringFlag{Name: "memory-swap", Usage: "memory plus swap limit (-1 for none)"},
		&cli.Int64Flag{Name: "pids-limit", Usage: "maximum number of processes (-1 for none)"},
		&cli.StringFlag{Name: "kernel-memory", Usage: "accepted for runc compatibility; ignored", Hidden: true},
		&cli.StringFlag{Name: "kernel-memory-tcp", Usage: "accepted for runc compatibility; ignored", Hidden: true},
		&cli.StringFlag{Name: "l3-cache-schema", Usage: "accepted for runc compatibility; ignored", Hidden: true},
		&cli.StringFlag{Name: "mem-bw-schema", Usage: "accepted for runc compatibility; ignored", Hidden: true},
	},
	Action: func(c *cli.Context) error {
		if err := args(c, 1, 1); err != nil {
			return err
		}
		warnUnsupported(c, "kernel-memory", "kernel-memory-tcp", "l3-cache-schema", "mem-bw-schema")
		r, err := updateResources(c)
		if err != nil {
			return err
		}
		return container.Update(c.Context, c.String("root"), c.Args().First(), r)
	},
}

// updateResources reads --resources, then applies the per-resource flags.
func updateResources(c *cli.Context) (*specs.LinuxResources, error) {
	r := &specs.LinuxResources{}
	if path := c.String("resources"); path != "" {
		var b []byte
		var err error
		if path == "-" {
			b, err = readAllStdin()
		} else {
			b, err = os.ReadFile(path)
		}
		if err != nil {
			return nil, fmt.Errorf("reading --resources: %w", err)
		}
		if err := json.Unmarshal(b, r); err != nil {
			return nil, fmt.Errorf("--resources %s: malformed JSON: %w", path, err)
		}
	}
	if r.CPU == nil {
		r.CPU = &specs.LinuxCPU{}
	}
	if r.Memory == nil {
		r.Memory = &specs.LinuxMemory{}
	}
	u64 := func(name string, dst **uint64) error {
		if v := c.String(name); v != "" {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return fmt.Errorf("--%s %q: not a non-negative integer", name, v)
			}
			*dst = &n
		}
		return nil
	}
	i64 := func(name string, dst **int64) error {
		if v := c.String(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return fmt.Errorf("--%s %q: not an integer", name, v)
			}
			*dst = &n
		}
		return nil
	}
	bytesFlag := func(name string, dst **int64) error {
		if v := c.String(name); v != "" {
			var n int64 = -1
			if v != "-1" {
				var err error
				if n, err = units.RAMInBytes(v); err != nil {
					return fmt.Errorf("--%s %q: %w", name, v, err)
				}
			}
			*dst = &n
		}
		return nil
	}
	for _, f := range []func() error{
		func() error { return u64("cpu-period", &r.CPU.Period) },
		func() error { return u64("cpu-share", &r.CPU.Shares) },
		func() error { return u64("cpu-rt-period", &r.CPU.RealtimePeriod) },
		func() error { return u64("cpu-burst", &r.CPU.Burst) },
		func() error { return i64("cpu-quota", &r.CPU.Quota) },
		func() error { return i64("cpu-rt-runtime", &r.CPU.RealtimeRuntime) },
		func() error { return i64("cpu-idle", &r.CPU.Idle) },
		func() error { return bytesFlag("memory", &r.Memory.Limit) },
		func() error { return bytesFlag("memory-reservation", &r.Memory.Reservation) },
		func() error { return bytesFlag("memory-swap", &r.Memory.Swap) },
	} {
		if err := f(); err != nil {
			return nil, err
		}
	}
	if v := c.String("cpuset-cpus"); v != "" {
		r.CPU.Cpus = v
	}
	if v := c.String("cpuset-mems"); v != "" {
		r.CPU.Mems = v
	}
	if v := c.String("blkio-weight"); v != "" {
		n, err := strconv.ParseUint(v, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("--blkio-weight %q: not a weight", v)
		}
		w := uint16(n)
		if r.BlockIO == nil {
			r.BlockIO = &specs.LinuxBlockIO{}
		}
		r.BlockIO.Weight = &w
	}
	if c.IsSet("pids-limit") {
		n := c.Int64("pids-limit")
		if r.Pids == nil {
			r.Pids = &specs.LinuxPids{}
		}
		r.Pids.Limit = &n
	}
	return r, nil
}

func readAllStdin() ([]byte, error) { return io.ReadAll(os.Stdin) }
