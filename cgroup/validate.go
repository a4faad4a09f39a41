package cgroup

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Ranges the kernel accepts (0 means "not set" for the first four, as
// Docker sends it).
const (
	minShares, maxShares = 2, 262144
	minPeriod, maxPeriod = 1000, 1000000 // µs
	minQuota             = 1000          // µs
	minWeight, maxWeight = 10, 1000      // blkio
)

var (
	cpuListRe  = lazyRegexp(`^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$`)
	pageSizeRe = lazyRegexp(`^[0-9]+(B|KB|MB|GB|TB|PB)$`)
	unifiedRe  = lazyRegexp(`^[a-z_]+\.[A-Za-z0-9_.]+$`)
)

// placementFiles are cgroup files a unified key may not name: they move,
// freeze or kill processes or change the tree rather than set a limit.
var placementFiles = map[string]bool{
	"cgroup.procs": true, "cgroup.threads": true, "cgroup.subtree_control": true,
	"cgroup.kill": true, "cgroup.freeze": true, "cgroup.type": true,
}

// Validate checks r before anything is written and returns the first
// problem as one line naming the field: prefix is how the caller names r
// ("config.json: linux.resources", "update: resources").
func Validate(r *specs.LinuxResources, prefix string) error {
	if r == nil {
		return nil
	}
	v := validator{prefix: prefix}
	v.memory(r.Memory)
	v.cpu(r.CPU)
	v.blockIO(r.BlockIO)
	for i, h := range r.HugepageLimits {
		if !pageSizeRe().MatchString(h.Pagesize) {
			v.failf("hugepageLimits[%d].pageSize %q is not valid (want a size such as 2MB or 1GB)", i, h.Pagesize)
		}
	}
	if n := r.Network; n != nil {
		for i, p := range n.Priorities {
			if p.Name == "" || strings.ContainsAny(p.Name, " \t\n/") {
				v.failf("network.priorities[%d].name %q is not a valid interface name", i, p.Name)
			}
		}
	}
	for name := range r.Rdma {
		if name == "" || strings.ContainsAny(name, " \t\n") {
			v.failf("rdma: device name %q is not valid", name)
		}
	}
	for k, val := range r.Unified {
		v.unified(k, val)
	}
	for i, d := range r.Devices {
		v.device(i, d)
	}
	return v.err
}

type validator struct {
	prefix string
	err    error
}

func (v *validator) failf(format string, args ...any) {
	if v.err == nil {
		v.err = fmt.Errorf("%s.%s", v.prefix, fmt.Sprintf(format, args...))
	}
}

// atLeastMinus1 checks a value where -1 means unlimited.
func (v *validator) atLeastMinus1(field string, p *int64, what string) {
	if p != nil && *p < -1 {
		v.failf("%s %d is not valid (want -1 for unlimited or %s)", field, *p, what)
	}
}

func (v *validator) memory(m *specs.LinuxMemory) {
	if m == nil {
		return
	}
	v.atLeastMinus1("memory.limit", m.Limit, "a number of bytes")
	v.atLeastMinus1("memory.reservation", m.Reservation, "a number of bytes")
	v.atLeastMinus1("memory.swap", m.Swap, "a number of bytes of memory plus swap")
	//lint:ignore SA1019 kernel memory is deprecated but still sent
	v.atLeastMinus1("memory.kernel", m.Kernel, "a number of bytes")
	v.atLeastMinus1("memory.kernelTCP", m.KernelTCP, "a number of bytes")
	if m.Swappiness != nil && *m.Swappiness > 100 {
		v.failf("memory.swappiness %d is not valid (want 0 to 100)", *m.Swappiness)
	}
	if m.Limit != nil && m.Swap != nil && *m.Limit > 0 && *m.Swap > 0 && *m.Swap < *m.Limit {
		v.failf("memory.swap %d is less than memory.limit %d (swap counts memory plus swap)", *m.Swap, *m.Limit)
	}
}

func (v *validator) cpu(c *specs.LinuxCPU) {
	if c == nil {
		return
	}
	if c.Shares != nil && *c.Shares != 0 && (*c.Shares < minShares || *c.Shares > maxShares) {
		v.failf("cpu.shares %d is not valid (want %d to %d, or 0 for unset)", *c.Shares, minShares, maxShares)
	}
	if c.Quota != nil && *c.Quota != 0 && *c.Quota != -1 && *c.Quota < minQuota {
		v.failf("cpu.quota %d is not valid (want -1 for unlimited or at least %d µs)", *c.Quota, minQuota)
	}
	if c.Period != nil && *c.Period != 0 && (*c.Period < minPeriod || *c.Period > maxPeriod) {
		v.failf("cpu.period %d is not valid (want %d to %d µs)", *c.Period, minPeriod, maxPeriod)
	}
	v.atLeastMinus1("cpu.realtimeRuntime", c.RealtimeRuntime, "a number of µs")
	if c.Cpus != "" && !cpuListRe().MatchString(c.Cpus) {
		v.failf("cpu.cpus %q is not a valid cpu list (want e.g. 0-3,5)", c.Cpus)
	}
	if c.Mems != "" && !cpuListRe().MatchString(c.Mems) {
		v.failf("cpu.mems %q is not a valid node list (want e.g. 0-1)", c.Mems)
	}
	if c.Idle != nil && *c.Idle != 0 && *c.Idle != 1 {
		v.failf("cpu.idle %d is not valid (want 0 or 1)", *c.Idle)
	}
}

func (v *validator) weight(field string, w *uint16) {
	if w != nil && *w != 0 && (*w < minWeight || *w > maxWeight) {
		v.failf("%s %d is not valid (want %d to %d, or 0 for unset)", field, *w, minWeight, maxWeight)
	}
}

func (v *validator) blockIO(b *specs.LinuxBlockIO) {
	if b == nil {
		return
	}
	v.weight("blockIO.weight", b.Weight)
	v.weight("blockIO.leafWeight", b.LeafWeight)
	for i, d := range b.WeightDevice {
		if d.Major < 0 || d.Minor < 0 {
			v.failf("blockIO.weightDevice[%d] %d:%d is not a valid device number", i, d.Major, d.Minor)
		}
		v.weight(fmt.Sprintf("blockIO.weightDevice[%d].weight", i), d.Weight)
		v.weight(fmt.Sprintf("blockIO.weightDevice[%d].leafWeight", i), d.LeafWeight)
	}
	for name, ts := range map[string][]specs.LinuxThrottleDevice{
		"throttleReadBpsDevice": b.ThrottleReadBpsDevice, "throttleWriteBpsDevice": b.ThrottleWriteBpsDevice,
		"throttleReadIOPSDevice": b.ThrottleReadIOPSDevice, "throttleWriteIOPSDevice": b.ThrottleWriteIOPSDevice,
	} {
		for i, d := range ts {
			if d.Major < 0 || d.Minor < 0 {
				v.failf("blockIO.%s[%d] %d:%d is not a valid device number", name, i, d.Major, d.Minor)
			}
		}
	}
}

func (v *validator) unified(k, val string) {
	switch {
	case strings.Contains(k, "/") || strings.Contains(k, ".."):
		v.failf("unified key %q is not valid: it may not contain / or ..", k)
	case !unifiedRe().MatchString(k):
		v.failf("unified key %q is not valid (want controller.file, e.g. memory.high)", k)
	case placementFiles[k]:
		v.failf("unified key %q is not allowed: it is not a resource setting", k)
	case strings.ContainsAny(val, "\n\x00"):
		v.failf("unified[%q] value %q is not valid: one line only", k, val)
	}
}

func (v *validator) device(i int, d specs.LinuxDeviceCgroup) {
	switch d.Type {
	case "", "a", "b", "c":
	default:
		v.failf("devices[%d].type %q is not valid (want a, b or c)", i, d.Type)
	}
	if strings.Trim(d.Access, "rwm") != "" {
		v.failf("devices[%d].access %q is not valid (want letters from rwm)", i, d.Access)
	}
	if d.Major != nil && *d.Major < -1 {
		v.failf("devices[%d].major %d is not valid", i, *d.Major)
	}
	if d.Minor != nil && *d.Minor < -1 {
		v.failf("devices[%d].minor %d is not valid", i, *d.Minor)
	}
}

// lazyRegexp compiles expr on first use: most commands never validate
// these resources, and every command would pay the compile at start.
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
