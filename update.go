package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/minirunc/minirunc/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v3"
)

func updateCommand() *cli.Command {
	str := func(name, usage string, aliases ...string) cli.Flag {
		return &cli.StringFlag{Name: name, Usage: usage, Aliases: aliases}
	}
	return &cli.Command{
		Name:      "update",
		Usage:     "update container resource constraints",
		ArgsUsage: "<container-id>",
		Description: `The --resources option takes a file (or - for stdin) holding a
linux.resources JSON object, as containerd and Podman send it; a zero or
absent value leaves a setting unchanged. Without it, the other options set
single values.`,
		OnUsageError: usageError,
		Flags: []cli.Flag{
			str("resources", "path to the file containing the resources to update or '-' to read from the standard input", "r"),
			str("blkio-weight", "specifies per cgroup weight, range is from 10 to 1000"),
			str("cpu-period", "CPU CFS period to be used for hardcapping (in usecs). 0 to use system default"),
			str("cpu-quota", "CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period"),
			str("cpu-burst", "CPU CFS hardcap burst limit (in usecs). Allowed accumulated cpu time additionally for burst a given period"),
			str("cpu-share", "CPU shares (relative weight vs. other containers)", "cpu-shares"),
			str("cpu-rt-period", "CPU realtime period to be used for hardcapping (in usecs). 0 to use system default"),
			str("cpu-rt-runtime", "CPU realtime hardcap limit (in usecs). Allowed cpu time in a given period"),
			str("cpu-idle", "set cgroup SCHED_IDLE or not, 0: default behavior, 1: SCHED_IDLE"),
			str("cpuset-cpus", "CPU(s) to use"),
			str("cpuset-mems", "Memory node(s) to use"),
			str("memory", "Memory limit (in bytes, or with a unit: 100m, 1g; -1 for unlimited)"),
			str("memory-reservation", "Memory reservation or soft_limit (in bytes)"),
			str("memory-swap", "Total memory usage (memory + swap); set '-1' to enable unlimited swap"),
			str("kernel-memory", "(deprecated) Kernel memory limit (in bytes)"),
			str("kernel-memory-tcp", "(deprecated) Kernel memory limit (in bytes) for tcp buffer"),
			&cli.Int64Flag{Name: "pids-limit", Usage: "Maximum number of pids allowed in the container"},
		},
		Action: func(_ context.Context, cmd *cli.Command) error {
			if err := checkArgs(cmd, 1, 1); err != nil {
				return err
			}
			r, err := updateResources(cmd)
			if err != nil {
				return err
			}
			c, err := container.Load(root(cmd), cmd.Args().First(), true)
			if err != nil {
				return err
			}
			defer c.Unlock()
			return c.Update(r)
		},
	}
}

// updateResources reads the update: the --resources JSON, or else the
// per-field flags.
func updateResources(cmd *cli.Command) (*specs.LinuxResources, error) {
	r := &specs.LinuxResources{}
	if in := cmd.String("resources"); in != "" {
		var data []byte
		var err error
		if in == "-" {
			data, err = io.ReadAll(os.Stdin)
		} else {
			data, err = os.ReadFile(in)
		}
		if err != nil {
			return nil, fmt.Errorf("update: read resources: %w", err)
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		if err := dec.Decode(r); err != nil {
			return nil, fmt.Errorf("update: resources %s is not valid JSON for linux.resources: %w", in, err)
		}
		return r, nil
	}
	var err error
	setU := func(name string, dst **uint64, bits int) {
		if err != nil || !cmd.IsSet(name) {
			return
		}
		var v uint64
		if v, err = strconv.ParseUint(cmd.String(name), 10, bits); err != nil {
			err = fmt.Errorf("update: invalid value for --%s: %q", name, cmd.String(name))
			return
		}
		*dst = &v
	}
	setI := func(name string, dst **int64) {
		if err != nil || !cmd.IsSet(name) {
			return
		}
		var v int64
		if v, err = strconv.ParseInt(cmd.String(name), 10, 64); err != nil {
			err = fmt.Errorf("update: invalid value for --%s: %q", name, cmd.String(name))
			return
		}
		*dst = &v
	}
	setSize := func(name string, dst **int64) {
		if err != nil || !cmd.IsSet(name) {
			return
		}
		var v int64
		if v, err = parseSize(cmd.String(name)); err != nil {
			err = fmt.Errorf("update: invalid value for --%s: %w", name, err)
			return
		}
		*dst = &v
	}
	cpu := &specs.LinuxCPU{Cpus: cmd.String("cpuset-cpus"), Mems: cmd.String("cpuset-mems")}
	setU("cpu-period", &cpu.Period, 64)
	setI("cpu-quota", &cpu.Quota)
	setU("cpu-burst", &cpu.Burst, 64)
	setU("cpu-share", &cpu.Shares, 64)
	setU("cpu-rt-period", &cpu.RealtimePeriod, 64)
	setI("cpu-rt-runtime", &cpu.RealtimeRuntime)
	setI("cpu-idle", &cpu.Idle)
	mem := &specs.LinuxMemory{}
	setSize("memory", &mem.Limit)
	setSize("memory-reservation", &mem.Reservation)
	setSize("memory-swap", &mem.Swap)
	//lint:ignore SA1019 deprecated but still accepted, as by runc
	setSize("kernel-memory", &mem.Kernel)
	setSize("kernel-memory-tcp", &mem.KernelTCP)
	var weight *uint64
	setU("blkio-weight", &weight, 16)
	if err != nil {
		return nil, err
	}
	r.CPU, r.Memory = cpu, mem
	if weight != nil {
		w := uint16(*weight)
		r.BlockIO = &specs.LinuxBlockIO{Weight: &w}
	}
	if cmd.IsSet("pids-limit") {
		l := cmd.Int64("pids-limit")
		r.Pids = &specs.LinuxPids{Limit: &l}
	}
	return r, nil
}

// sizeRe is compiled on first use, not at every command's start.
var sizeRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)\s*([kKmMgGtTpP]?)(?:i?[bB])?$`)
})

// parseSize reads a byte count as runc's flags take it: a number with an
// optional binary unit (k, m, g, t, p; "100m", "1GiB"), or -1 for
// unlimited.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "-1" {
		return -1, nil
	}
	m := sizeRe().FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q is not a size (want bytes, e.g. 104857600, 100m or 1g, or -1)", s)
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	mult := map[string]float64{"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}[strings.ToLower(m[2])]
	v := n * mult
	if v > math.MaxInt64 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return int64(v), nil
}
