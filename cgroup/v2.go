package cgroup

import (
	"errors"
	"fmt"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The cgroup v2 writers: the spec's v1-style values converted as runc and
// crun convert them. Zero values are "not set" and are skipped.

func (a *applier) memoryV2(dir string, m *specs.LinuxMemory) error {
	if m.Swappiness != nil {
		return errors.New("linux.resources.memory.swappiness is not supported on cgroup v2")
	}
	if m.DisableOOMKiller != nil && *m.DisableOOMKiller {
		return errors.New("linux.resources.memory.disableOOMKiller is not supported on cgroup v2")
	}
	limit, swap := i64(m.Limit), i64(m.Swap)
	if swap != 0 || limit == -1 {
		fullLimit := limit
		if a.full.Memory != nil && fullLimit == 0 {
			fullLimit = i64(a.full.Memory.Limit)
		}
		v, err := SwapToV2(swap, fullLimit)
		if err != nil {
			return fmt.Errorf("linux.resources.%w", err)
		}
		// swap == limit converts to 0: no swap at all, which is a value
		// to write, unlike an unset swap.
		if swap != 0 || v != 0 {
			if !exists(dir, "memory.swap.max") {
				if v != 0 && v != -1 {
					return errors.New("linux.resources.memory.swap: this host has no swap accounting (memory.swap.max)")
				}
			} else if err := writeFile(dir, "memory.swap.max", v2Limit(v)); err != nil {
				return fmt.Errorf("linux.resources.memory.swap: %w", err)
			}
		}
	}
	if limit != 0 {
		if err := writeFile(dir, "memory.max", v2Limit(limit)); err != nil {
			return fmt.Errorf("linux.resources.memory.limit: %w", err)
		}
	}
	if v := i64(m.Reservation); v != 0 {
		if err := writeFile(dir, "memory.low", v2Limit(v)); err != nil {
			return err
		}
	}
	// Kernel memory and useHierarchy have no v2 counterpart: v2 accounts
	// kernel memory with the rest and is always hierarchical.
	return nil
}

func (a *applier) cpuV2(dir string, c *specs.LinuxCPU) error {
	if u64(c.RealtimePeriod) != 0 || i64(c.RealtimeRuntime) != 0 {
		return errors.New("linux.resources.cpu.realtimeRuntime and realtimePeriod are not supported on cgroup v2")
	}
	if v := SharesToWeight(u64(c.Shares)); v != 0 {
		if err := writeFile(dir, "cpu.weight", strconv.FormatUint(v, 10)); err != nil {
			return err
		}
	}
	if i64(c.Quota) != 0 || u64(c.Period) != 0 {
		// cpu.max takes both; an update that gives one keeps the other.
		quota, period := i64(c.Quota), u64(c.Period)
		if f := a.full.CPU; f != nil {
			if quota == 0 {
				quota = i64(f.Quota)
			}
			if period == 0 {
				period = u64(f.Period)
			}
		}
		if err := writeFile(dir, "cpu.max", CPUMax(quota, period)); err != nil {
			return err
		}
	}
	if c.Burst != nil {
		if err := writeFile(dir, "cpu.max.burst", strconv.FormatUint(*c.Burst, 10)); err != nil {
			return err
		}
	}
	if c.Idle != nil {
		if err := writeFile(dir, "cpu.idle", itoa(*c.Idle)); err != nil {
			return err
		}
	}
	return nil
}

// ioV2 writes weights (BFQ's io.bfq.weight takes the v1 value as it is,
// io.weight a converted one) and throttles as io.max lines.
func (a *applier) ioV2(dir string, b *specs.LinuxBlockIO) error {
	bfq := exists(dir, "io.bfq.weight")
	weight := func(dev string, w uint16) error {
		if bfq {
			return writeFile(dir, "io.bfq.weight", dev+strconv.Itoa(int(w)))
		}
		if !exists(dir, "io.weight") {
			return errors.New("linux.resources.blockIO.weight: this host's io controller has no weight files")
		}
		return writeFile(dir, "io.weight", dev+strconv.FormatUint(BlkioWeightToIOWeight(uint64(w)), 10))
	}
	if w := u16(b.Weight); w != 0 {
		if err := weight("default ", w); err != nil {
			return err
		}
	}
	if u16(b.LeafWeight) != 0 {
		return errors.New("linux.resources.blockIO.leafWeight is not supported on cgroup v2")
	}
	for _, d := range b.WeightDevice {
		if w := u16(d.Weight); w != 0 {
			if err := weight(fmt.Sprintf("%d:%d ", d.Major, d.Minor), w); err != nil {
				return err
			}
		}
	}
	for key, ts := range map[string][]specs.LinuxThrottleDevice{
		"rbps": b.ThrottleReadBpsDevice, "wbps": b.ThrottleWriteBpsDevice,
		"riops": b.ThrottleReadIOPSDevice, "wiops": b.ThrottleWriteIOPSDevice,
	} {
		for _, t := range ts {
			rate := "max"
			if t.Rate != 0 {
				rate = strconv.FormatUint(t.Rate, 10)
			}
			if err := writeFile(dir, "io.max", fmt.Sprintf("%d:%d %s=%s", t.Major, t.Minor, key, rate)); err != nil {
				return err
			}
		}
	}
	return nil
}
