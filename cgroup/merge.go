package cgroup

import (
	"encoding/json"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Merge returns cur with the update upd laid over it, as runc's update
// reads an update (what Docker, containerd and Podman send): a zero or
// absent number, an empty string or list leaves the current value; a
// per-device entry replaces the one for the same device; unified keys are
// added or replaced. Device rules are never updated. cur is not changed.
func Merge(cur, upd *specs.LinuxResources) *specs.LinuxResources {
	out := &specs.LinuxResources{}
	if cur != nil {
		data, _ := json.Marshal(cur)
		_ = json.Unmarshal(data, out)
	}
	if upd == nil {
		return out
	}
	if m := upd.Memory; m != nil {
		if out.Memory == nil {
			out.Memory = &specs.LinuxMemory{}
		}
		o := out.Memory
		setI64(&o.Limit, m.Limit)
		setI64(&o.Reservation, m.Reservation)
		setI64(&o.Swap, m.Swap)
		//lint:ignore SA1019 deprecated but still sent by clients
		setI64(&o.Kernel, m.Kernel)
		setI64(&o.KernelTCP, m.KernelTCP)
		if m.Swappiness != nil {
			o.Swappiness = m.Swappiness
		}
		if m.DisableOOMKiller != nil {
			o.DisableOOMKiller = m.DisableOOMKiller
		}
		if m.CheckBeforeUpdate != nil {
			o.CheckBeforeUpdate = m.CheckBeforeUpdate
		}
	}
	if c := upd.CPU; c != nil {
		if out.CPU == nil {
			out.CPU = &specs.LinuxCPU{}
		}
		o := out.CPU
		setU64(&o.Shares, c.Shares)
		setI64(&o.Quota, c.Quota)
		setU64(&o.Period, c.Period)
		setI64(&o.RealtimeRuntime, c.RealtimeRuntime)
		setU64(&o.RealtimePeriod, c.RealtimePeriod)
		if c.Burst != nil {
			o.Burst = c.Burst
		}
		if c.Idle != nil {
			o.Idle = c.Idle
		}
		if c.Cpus != "" {
			o.Cpus = c.Cpus
		}
		if c.Mems != "" {
			o.Mems = c.Mems
		}
	}
	if p := upd.Pids; p != nil && i64(p.Limit) != 0 {
		out.Pids = &specs.LinuxPids{Limit: p.Limit}
	}
	if b := upd.BlockIO; b != nil {
		if out.BlockIO == nil {
			out.BlockIO = &specs.LinuxBlockIO{}
		}
		o := out.BlockIO
		if u16(b.Weight) != 0 {
			o.Weight = b.Weight
		}
		if u16(b.LeafWeight) != 0 {
			o.LeafWeight = b.LeafWeight
		}
		for _, d := range b.WeightDevice {
			o.WeightDevice = replaceWeight(o.WeightDevice, d)
		}
		o.ThrottleReadBpsDevice = mergeThrottle(o.ThrottleReadBpsDevice, b.ThrottleReadBpsDevice)
		o.ThrottleWriteBpsDevice = mergeThrottle(o.ThrottleWriteBpsDevice, b.ThrottleWriteBpsDevice)
		o.ThrottleReadIOPSDevice = mergeThrottle(o.ThrottleReadIOPSDevice, b.ThrottleReadIOPSDevice)
		o.ThrottleWriteIOPSDevice = mergeThrottle(o.ThrottleWriteIOPSDevice, b.ThrottleWriteIOPSDevice)
	}
	for _, h := range upd.HugepageLimits {
		replaced := false
		for i := range out.HugepageLimits {
			if out.HugepageLimits[i].Pagesize == h.Pagesize {
				out.HugepageLimits[i] = h
				replaced = true
			}
		}
		if !replaced {
			out.HugepageLimits = append(out.HugepageLimits, h)
		}
	}
	if n := upd.Network; n != nil {
		if out.Network == nil {
			out.Network = &specs.LinuxNetwork{}
		}
		if n.ClassID != nil {
			out.Network.ClassID = n.ClassID
		}
		if len(n.Priorities) > 0 {
			out.Network.Priorities = n.Priorities
		}
	}
	for k, v := range upd.Rdma {
		if out.Rdma == nil {
			out.Rdma = map[string]specs.LinuxRdma{}
		}
		out.Rdma[k] = v
	}
	for k, v := range upd.Unified {
		if out.Unified == nil {
			out.Unified = map[string]string{}
		}
		out.Unified[k] = v
	}
	return out
}

// Changes is what an update writes: the update itself without device
// rules (zero values are skipped by the writers).
func Changes(_, upd *specs.LinuxResources) *specs.LinuxResources {
	if upd == nil {
		return &specs.LinuxResources{}
	}
	w := *upd
	w.Devices = nil
	return &w
}

func setI64(dst **int64, v *int64) {
	if v != nil && *v != 0 {
		x := *v
		*dst = &x
	}
}

func setU64(dst **uint64, v *uint64) {
	if v != nil && *v != 0 {
		x := *v
		*dst = &x
	}
}

func replaceWeight(list []specs.LinuxWeightDevice, d specs.LinuxWeightDevice) []specs.LinuxWeightDevice {
	for i := range list {
		if list[i].Major == d.Major && list[i].Minor == d.Minor {
			list[i] = d
			return list
		}
	}
	return append(list, d)
}

func mergeThrottle(list, upd []specs.LinuxThrottleDevice) []specs.LinuxThrottleDevice {
	for _, d := range upd {
		found := false
		for i := range list {
			if list[i].Major == d.Major && list[i].Minor == d.Minor {
				list[i] = d
				found = true
			}
		}
		if !found {
			list = append(list, d)
		}
	}
	return list
}
