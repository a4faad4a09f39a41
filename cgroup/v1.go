package cgroup

import (
	"errors"
	"fmt"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The cgroup v1 writers. Zero values are "not set" and are skipped.

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func (a *applier) memoryV1(dir string, m *specs.LinuxMemory) error {
	if err := a.memoryAndSwapV1(dir, i64(m.Limit), i64(m.Swap)); err != nil {
		return err
	}
	if v := i64(m.Reservation); v != 0 {
		if err := writeFile(dir, "memory.soft_limit_in_bytes", itoa(v)); err != nil {
			return err
		}
	}
	// Kernel memory limits are gone from recent kernels (the files stay
	// but refuse writes), as runc now ignores them: written where the
	// kernel still takes them.
	//lint:ignore SA1019 deprecated but still sent by clients
	for file, p := range map[string]*int64{"memory.kmem.limit_in_bytes": m.Kernel, "memory.kmem.tcp.limit_in_bytes": m.KernelTCP} {
		if v := i64(p); v != 0 && exists(dir, file) {
			if err := writeFile(dir, file, itoa(v)); err != nil && !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.EINVAL) {
				return err
			}
		}
	}
	if m.Swappiness != nil {
		if err := writeFile(dir, "memory.swappiness", strconv.FormatUint(*m.Swappiness, 10)); err != nil {
			return err
		}
	}
	if m.DisableOOMKiller != nil && *m.DisableOOMKiller {
		if err := writeFile(dir, "memory.oom_control", "1"); err != nil {
			return err
		}
	}
	if m.UseHierarchy != nil {
		want := "0"
		if *m.UseHierarchy {
			want = "1"
		}
		// Recent kernels are always hierarchical and refuse a write of 0;
		// write only a change.
		if cur, err := readUint(dir, "memory.use_hierarchy"); err == nil && strconv.FormatUint(cur, 10) != want {
			if err := writeFile(dir, "memory.use_hierarchy", want); err != nil {
				return fmt.Errorf("linux.resources.memory.useHierarchy: %w", err)
			}
		}
	}
	return nil
}

// memoryAndSwapV1 writes memory.limit_in_bytes and memsw.limit_in_bytes.
// The kernel keeps limit <= memsw at every moment, so when both change
// the order depends on the direction: a raise writes memsw first, a cut
// writes the limit first (as runc does).
func (a *applier) memoryAndSwapV1(dir string, limit, swap int64) error {
	if limit == -1 && swap == 0 {
		swap = -1 // unlimited memory means unlimited swap too
	}
	hasMemsw := exists(dir, "memory.memsw.limit_in_bytes")
	if swap != 0 && !hasMemsw {
		if swap == -1 || swap == limit {
			swap = 0 // no swap accounting: nothing to limit
		} else {
			return errors.New("linux.resources.memory.swap: this host has no swap accounting (memory.memsw.limit_in_bytes)")
		}
	}
	writeLimit := func() error {
		if limit == 0 {
			return nil
		}
		if err := writeFile(dir, "memory.limit_in_bytes", itoa(limit)); err != nil {
			return fmt.Errorf("linux.resources.memory.limit: %w", err)
		}
		return nil
	}
	writeSwap := func() error {
		if swap == 0 {
			return nil
		}
		if err := writeFile(dir, "memory.memsw.limit_in_bytes", itoa(swap)); err != nil {
			return fmt.Errorf("linux.resources.memory.swap: %w", err)
		}
		return nil
	}
	first, second := writeLimit, writeSwap
	if swap != 0 {
		cur, err := readUint(dir, "memory.memsw.limit_in_bytes")
		if swap == -1 || (err == nil && uint64(swap) > cur) {
			first, second = writeSwap, writeLimit
		}
	}
	if err := first(); err != nil {
		return err
	}
	return second()
}

func (a *applier) cpuV1(dir string, c *specs.LinuxCPU) error {
	if v := u64(c.Shares); v != 0 {
		if err := writeFile(dir, "cpu.shares", strconv.FormatUint(v, 10)); err != nil {
			return err
		}
	}
	// A new period can clash with the current quota or burst; then the
	// quota goes first.
	period, quota := u64(c.Period), i64(c.Quota)
	periodDone := false
	if period != 0 {
		periodDone = writeFile(dir, "cpu.cfs_period_us", strconv.FormatUint(period, 10)) == nil
	}
	if quota != 0 {
		if err := writeFile(dir, "cpu.cfs_quota_us", itoa(quota)); err != nil {
			return err
		}
	}
	if period != 0 && !periodDone {
		if err := writeFile(dir, "cpu.cfs_period_us", strconv.FormatUint(period, 10)); err != nil {
			return err
		}
	}
	if c.Burst != nil {
		if err := writeFile(dir, "cpu.cfs_burst_us", strconv.FormatUint(*c.Burst, 10)); err != nil {
			return err
		}
	}
	if v := u64(c.RealtimePeriod); v != 0 {
		if err := writeFile(dir, "cpu.rt_period_us", strconv.FormatUint(v, 10)); err != nil {
			return fmt.Errorf("linux.resources.cpu.realtimePeriod: %w", err)
		}
	}
	if v := i64(c.RealtimeRuntime); v != 0 {
		if err := writeFile(dir, "cpu.rt_runtime_us", itoa(v)); err != nil {
			return fmt.Errorf("linux.resources.cpu.realtimeRuntime: %w (the parent cgroups need a real-time budget)", err)
		}
	}
	if c.Idle != nil {
		if err := writeFile(dir, "cpu.idle", itoa(*c.Idle)); err != nil {
			return err
		}
	}
	return nil
}

// blkioV1 writes weights (CFQ's blkio.weight or BFQ's blkio.bfq.weight)
// and throttles.
func (a *applier) blkioV1(dir string, b *specs.LinuxBlockIO) error {
	weightFile := ""
	for _, f := range []string{"blkio.weight", "blkio.bfq.weight"} {
		if exists(dir, f) {
			weightFile = f
			break
		}
	}
	noWeight := func(field string) error {
		return fmt.Errorf("linux.resources.blockIO.%s: this host's blkio controller has no weight files (no CFQ or BFQ scheduler)", field)
	}
	if w := u16(b.Weight); w != 0 {
		if weightFile == "" {
			return noWeight("weight")
		}
		if err := writeFile(dir, weightFile, strconv.Itoa(int(w))); err != nil {
			return err
		}
	}
	if w := u16(b.LeafWeight); w != 0 {
		if !exists(dir, "blkio.leaf_weight") {
			return noWeight("leafWeight")
		}
		if err := writeFile(dir, "blkio.leaf_weight", strconv.Itoa(int(w))); err != nil {
			return err
		}
	}
	for i, d := range b.WeightDevice {
		if w := u16(d.Weight); w != 0 {
			if weightFile == "" {
				return noWeight(fmt.Sprintf("weightDevice[%d]", i))
			}
			if err := writeFile(dir, weightFile+"_device", fmt.Sprintf("%d:%d %d", d.Major, d.Minor, w)); err != nil {
				return err
			}
		}
		if w := u16(d.LeafWeight); w != 0 {
			if !exists(dir, "blkio.leaf_weight_device") {
				return noWeight(fmt.Sprintf("weightDevice[%d].leafWeight", i))
			}
			if err := writeFile(dir, "blkio.leaf_weight_device", fmt.Sprintf("%d:%d %d", d.Major, d.Minor, w)); err != nil {
				return err
			}
		}
	}
	for file, ts := range map[string][]specs.LinuxThrottleDevice{
		"blkio.throttle.read_bps_device": b.ThrottleReadBpsDevice, "blkio.throttle.write_bps_device": b.ThrottleWriteBpsDevice,
		"blkio.throttle.read_iops_device": b.ThrottleReadIOPSDevice, "blkio.throttle.write_iops_device": b.ThrottleWriteIOPSDevice,
	} {
		for _, t := range ts {
			if err := writeFile(dir, file, fmt.Sprintf("%d:%d %d", t.Major, t.Minor, t.Rate)); err != nil {
				return err
			}
		}
	}
	return nil
}
