package cgroup

import (
	"fmt"
	"sort"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Apply writes a new container's resources into its cgroups (dirs, as
// Resolve gave them), the device rules included: the spec's, then runc's
// default allow list. r is checked first (Validate); nil means no limits.
// It is called once init sits in the cgroups, before it runs container
// code; on error the caller removes the cgroups.
func Apply(dirs []string, r *specs.LinuxResources) error {
	if err := Validate(r, "config.json: linux.resources"); err != nil {
		return err
	}
	p, err := Open(dirs)
	if err != nil {
		return err
	}
	if r == nil {
		r = &specs.LinuxResources{}
	}
	a := &applier{p: p, r: r, full: r}
	if err := a.resources(); err != nil {
		return err
	}
	return a.devices(r.Devices)
}

// Update changes a running container's limits. cur is what the container
// has (its spec's resources as last updated), upd the update as runc's
// `update` takes it: a zero or absent value leaves a setting unchanged.
// It returns the merged resources, to be recorded. Device rules are not
// touched.
func Update(dirs []string, cur, upd *specs.LinuxResources) (*specs.LinuxResources, error) {
	if err := Validate(upd, "update: resources"); err != nil {
		return nil, err
	}
	merged := Merge(cur, upd)
	if err := Validate(merged, "update: resources"); err != nil {
		return nil, err
	}
	p, err := Open(dirs)
	if err != nil {
		return nil, err
	}
	w := Changes(cur, upd)
	a := &applier{p: p, r: w, full: merged, update: true}
	if err := a.resources(); err != nil {
		return nil, err
	}
	return merged, nil
}

// applier writes r into p's directories. full holds the complete
// resources r belongs to (for an update, r holds only what changes),
// which v2 conversions need: swap.max from memory plus swap, cpu.max from
// quota and period.
type applier struct {
	p      *Paths
	r      *specs.LinuxResources
	full   *specs.LinuxResources
	update bool
}

func (a *applier) resources() error {
	for _, step := range []func() error{a.cpuset, a.memory, a.cpu, a.pids, a.blkio, a.hugetlb, a.network, a.rdma, a.unified} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// pick finds a controller's directory, or fails naming the field that
// needs it.
func (a *applier) pick(ctrl, field string) (dir string, v2 bool, err error) {
	dir, v2, ok := a.p.controller(ctrl)
	if !ok {
		return "", false, errNoController(field, ctrl)
	}
	return dir, v2, nil
}

func (a *applier) cpuset() error {
	c := a.r.CPU
	if c == nil || (c.Cpus == "" && c.Mems == "") {
		return nil
	}
	dir, _, err := a.pick("cpuset", "cpu.cpus")
	if err != nil {
		return err
	}
	if c.Cpus != "" {
		if err := writeFile(dir, "cpuset.cpus", c.Cpus); err != nil {
			return fmt.Errorf("linux.resources.cpu.cpus: %w", err)
		}
	}
	if c.Mems != "" {
		if err := writeFile(dir, "cpuset.mems", c.Mems); err != nil {
			return fmt.Errorf("linux.resources.cpu.mems: %w", err)
		}
	}
	return nil
}

func (a *applier) memory() error {
	m := a.r.Memory
	if m == nil || *m == (specs.LinuxMemory{}) {
		return nil
	}
	dir, v2, err := a.pick("memory", "memory")
	if err != nil {
		return err
	}
	if a.update && m.CheckBeforeUpdate != nil && *m.CheckBeforeUpdate && i64(m.Limit) > 0 {
		file := "memory.usage_in_bytes"
		if v2 {
			file = "memory.current"
		}
		if use, err := readUint(dir, file); err == nil && use > uint64(*m.Limit) {
			return fmt.Errorf("update: resources.memory.limit %d is below the current usage %d (checkBeforeUpdate)", *m.Limit, use)
		}
	}
	if v2 {
		return a.memoryV2(dir, m)
	}
	return a.memoryV1(dir, m)
}

func (a *applier) cpu() error {
	c := a.r.CPU
	if c == nil {
		return nil
	}
	cc := *c
	cc.Cpus, cc.Mems = "", ""
	if cc == (specs.LinuxCPU{}) {
		return nil
	}
	dir, v2, err := a.pick("cpu", "cpu")
	if err != nil {
		return err
	}
	if v2 {
		return a.cpuV2(dir, c)
	}
	return a.cpuV1(dir, c)
}

func (a *applier) pids() error {
	if a.r.Pids == nil || i64(a.r.Pids.Limit) == 0 {
		return nil
	}
	dir, _, err := a.pick("pids", "pids.limit")
	if err != nil {
		return err
	}
	return writeFile(dir, "pids.max", v2Limit(*a.r.Pids.Limit))
}

func (a *applier) blkio() error {
	b := a.r.BlockIO
	if b == nil || (u16(b.Weight) == 0 && u16(b.LeafWeight) == 0 && len(b.WeightDevice) == 0 &&
		len(b.ThrottleReadBpsDevice)+len(b.ThrottleWriteBpsDevice)+len(b.ThrottleReadIOPSDevice)+len(b.ThrottleWriteIOPSDevice) == 0) {
		return nil
	}
	dir, v2, err := a.pick("blkio", "blockIO")
	if err != nil {
		return err
	}
	if v2 {
		return a.ioV2(dir, b)
	}
	return a.blkioV1(dir, b)
}

func (a *applier) hugetlb() error {
	if len(a.r.HugepageLimits) == 0 {
		return nil
	}
	dir, v2, err := a.pick("hugetlb", "hugepageLimits")
	if err != nil {
		return err
	}
	for _, h := range a.r.HugepageLimits {
		file := "hugetlb." + h.Pagesize + ".limit_in_bytes"
		if v2 {
			file = "hugetlb." + h.Pagesize + ".max"
		}
		if !exists(dir, file) {
			return fmt.Errorf("linux.resources.hugepageLimits: page size %s is not supported by this host", h.Pagesize)
		}
		if err := writeFile(dir, file, strconv.FormatUint(h.Limit, 10)); err != nil {
			return err
		}
	}
	return nil
}

func (a *applier) network() error {
	n := a.r.Network
	if n == nil {
		return nil
	}
	if n.ClassID != nil {
		dir, ok := a.p.V1["net_cls"]
		if !ok {
			return errNoController("network.classID", "net_cls")
		}
		if err := writeFile(dir, "net_cls.classid", strconv.FormatUint(uint64(*n.ClassID), 10)); err != nil {
			return err
		}
	}
	if len(n.Priorities) > 0 {
		dir, ok := a.p.V1["net_prio"]
		if !ok {
			return errNoController("network.priorities", "net_prio")
		}
		for _, p := range n.Priorities {
			if err := writeFile(dir, "net_prio.ifpriomap", fmt.Sprintf("%s %d", p.Name, p.Priority)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (a *applier) rdma() error {
	if len(a.r.Rdma) == 0 {
		return nil
	}
	dir, _, err := a.pick("rdma", "rdma")
	if err != nil {
		return err
	}
	names := make([]string, 0, len(a.r.Rdma))
	for n := range a.r.Rdma {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		l := a.r.Rdma[n]
		line := n
		if l.HcaHandles != nil {
			line += fmt.Sprintf(" hca_handle=%d", *l.HcaHandles)
		}
		if l.HcaObjects != nil {
			line += fmt.Sprintf(" hca_object=%d", *l.HcaObjects)
		}
		if line == n {
			continue
		}
		if err := writeFile(dir, "rdma.max", line); err != nil {
			return err
		}
	}
	return nil
}

// unified writes the raw v2 key/values, after every typed setting (so a
// key can refine one). The key must name an existing file of the
// container's cgroup2 directory.
func (a *applier) unified() error {
	if len(a.r.Unified) == 0 {
		return nil
	}
	if a.p.V2 == "" {
		return fmt.Errorf("linux.resources.unified: this host has no cgroup v2 hierarchy")
	}
	keys := make([]string, 0, len(a.r.Unified))
	for k := range a.r.Unified {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !exists(a.p.V2, k) {
			return fmt.Errorf("linux.resources.unified: unknown key %q: no such file in the container's cgroup %s", k, a.p.V2)
		}
	}
	for _, k := range keys {
		if err := writeFile(a.p.V2, k, a.r.Unified[k]); err != nil {
			return fmt.Errorf("linux.resources.unified[%q]: %w", k, err)
		}
	}
	return nil
}

func i64(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func u64(p *uint64) uint64 {
	if p == nil {
		return 0
	}
	return *p
}

func u16(p *uint16) uint16 {
	if p == nil {
		return 0
	}
	return *p
}
