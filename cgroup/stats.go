package cgroup

import (
	"bufio"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Stats is the usage `events` prints, in runc's JSON (runc's
// types/events.go): the same names, so that tools reading runc's events
// read ours.
type Stats struct {
	CPU               CPU                `json:"cpu"`
	CPUSet            CPUSet             `json:"cpuset"`
	Memory            Memory             `json:"memory"`
	Pids              Pids               `json:"pids"`
	Blkio             Blkio              `json:"blkio"`
	Hugetlb           map[string]Hugetlb `json:"hugetlb"`
	IntelRdt          struct{}           `json:"intel_rdt"`
	NetworkInterfaces []struct{}         `json:"network_interfaces"`
}

// CPU usage in nanoseconds, and CFS throttling.
type CPU struct {
	Usage      CPUUsage   `json:"usage,omitempty"`
	Throttling Throttling `json:"throttling,omitempty"`
}

// CPUUsage is cpuacct (v1) or cpu.stat (v2), in nanoseconds.
type CPUUsage struct {
	Total        uint64   `json:"total,omitempty"`
	Percpu       []uint64 `json:"percpu,omitempty"`
	PercpuKernel []uint64 `json:"percpu_kernel,omitempty"`
	PercpuUser   []uint64 `json:"percpu_user,omitempty"`
	Kernel       uint64   `json:"kernel"`
	User         uint64   `json:"user"`
}

// Throttling counts CFS periods.
type Throttling struct {
	Periods          uint64 `json:"periods,omitempty"`
	ThrottledPeriods uint64 `json:"throttledPeriods,omitempty"`
	ThrottledTime    uint64 `json:"throttledTime,omitempty"`
}

// CPUSet is the cpuset configuration.
type CPUSet struct {
	CPUs []uint16 `json:"cpus,omitempty"`
	Mems []uint16 `json:"mems,omitempty"`
}

// MemoryEntry is one memory counter with its limit.
type MemoryEntry struct {
	Limit   uint64 `json:"limit"`
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

// Memory usage; Swap counts memory plus swap, as v1's memsw does.
type Memory struct {
	Cache     uint64            `json:"cache,omitempty"`
	Usage     MemoryEntry       `json:"usage,omitempty"`
	Swap      MemoryEntry       `json:"swap,omitempty"`
	Kernel    MemoryEntry       `json:"kernel,omitempty"`
	KernelTCP MemoryEntry       `json:"kernelTCP,omitempty"`
	Raw       map[string]uint64 `json:"raw,omitempty"`
}

// Pids counts tasks.
type Pids struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}

// BlkioEntry is one per-device counter.
type BlkioEntry struct {
	Major uint64 `json:"major,omitempty"`
	Minor uint64 `json:"minor,omitempty"`
	Op    string `json:"op,omitempty"`
	Value uint64 `json:"value,omitempty"`
}

// Blkio holds the per-device I/O counters.
type Blkio struct {
	IoServiceBytesRecursive []BlkioEntry `json:"ioServiceBytesRecursive,omitempty"`
	IoServicedRecursive     []BlkioEntry `json:"ioServicedRecursive,omitempty"`
}

// Hugetlb is one page size's usage.
type Hugetlb struct {
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

// GetStats reads the container's usage from whichever hierarchy holds
// each controller. Missing files leave zeros.
func GetStats(dirs []string) (*Stats, error) {
	p, err := Open(dirs)
	if err != nil {
		return nil, err
	}
	s := &Stats{Hugetlb: map[string]Hugetlb{}}
	p.cpuStats(s)
	p.memoryStats(s)
	if dir, _, ok := p.controller("pids"); ok {
		s.Pids.Current, _ = readUint(dir, "pids.current")
		if l, err := readUint(dir, "pids.max"); err == nil && l != ^uint64(0) {
			s.Pids.Limit = l
		}
	}
	if dir, _, ok := p.controller("cpuset"); ok {
		s.CPUSet.CPUs = parseList(readString(dir, "cpuset.cpus.effective", "cpuset.effective_cpus", "cpuset.cpus"))
		s.CPUSet.Mems = parseList(readString(dir, "cpuset.mems.effective", "cpuset.effective_mems", "cpuset.mems"))
	}
	p.blkioStats(s)
	p.hugetlbStats(s)
	return s, nil
}

func (p *Paths) cpuStats(s *Stats) {
	if dir, ok := p.V1["cpuacct"]; ok {
		s.CPU.Usage.Total, _ = readUint(dir, "cpuacct.usage")
		s.CPU.Usage.Percpu = readUints(dir, "cpuacct.usage_percpu")
		s.CPU.Usage.PercpuUser = readUints(dir, "cpuacct.usage_percpu_user")
		s.CPU.Usage.PercpuKernel = readUints(dir, "cpuacct.usage_percpu_sys")
		// cpuacct.stat is in USER_HZ ticks.
		st := readKV(dir, "cpuacct.stat")
		const nsPerTick = 1e9 / 100
		s.CPU.Usage.User = st["user"] * nsPerTick
		s.CPU.Usage.Kernel = st["system"] * nsPerTick
	}
	if dir, ok := p.V1["cpu"]; ok {
		st := readKV(dir, "cpu.stat")
		s.CPU.Throttling = Throttling{Periods: st["nr_periods"], ThrottledPeriods: st["nr_throttled"], ThrottledTime: st["throttled_time"]}
	}
	if p.V2 != "" && (p.V1["cpuacct"] == "" || p.V1["cpu"] == "") {
		// cpu.stat's usage figures are there even without the cpu
		// controller; microseconds.
		st := readKV(p.V2, "cpu.stat")
		if p.V1["cpuacct"] == "" {
			s.CPU.Usage.Total = st["usage_usec"] * 1000
			s.CPU.Usage.User = st["user_usec"] * 1000
			s.CPU.Usage.Kernel = st["system_usec"] * 1000
		}
		if p.V1["cpu"] == "" {
			s.CPU.Throttling = Throttling{Periods: st["nr_periods"], ThrottledPeriods: st["nr_throttled"], ThrottledTime: st["throttled_usec"] * 1000}
		}
	}
}

func (p *Paths) memoryStats(s *Stats) {
	dir, v2, ok := p.controller("memory")
	if !ok {
		return
	}
	m := &s.Memory
	m.Raw = readKV(dir, "memory.stat")
	if !v2 {
		entry := func(prefix string) MemoryEntry {
			var e MemoryEntry
			e.Usage, _ = readUint(dir, prefix+".usage_in_bytes")
			e.Max, _ = readUint(dir, prefix+".max_usage_in_bytes")
			e.Limit, _ = readUint(dir, prefix+".limit_in_bytes")
			e.Failcnt, _ = readUint(dir, prefix+".failcnt")
			return e
		}
		m.Cache = m.Raw["total_cache"]
		m.Usage = entry("memory")
		m.Swap = entry("memory.memsw")
		m.Kernel = entry("memory.kmem")
		m.KernelTCP = entry("memory.kmem.tcp")
		return
	}
	m.Cache = m.Raw["file"]
	m.Usage.Usage, _ = readUint(dir, "memory.current")
	m.Usage.Max, _ = readUint(dir, "memory.peak")
	m.Usage.Limit, _ = readUint(dir, "memory.max")
	m.Usage.Failcnt = readKV(dir, "memory.events")["max"]
	// As runc: swap counts memory plus swap, to read like v1's memsw.
	if sw, err := readUint(dir, "memory.swap.current"); err == nil {
		m.Swap.Usage = sw + m.Usage.Usage
		m.Swap.Max, _ = readUint(dir, "memory.swap.peak")
		m.Swap.Limit, _ = readUint(dir, "memory.swap.max")
		if m.Swap.Limit != ^uint64(0) && m.Usage.Limit != ^uint64(0) {
			m.Swap.Limit += m.Usage.Limit
		}
		m.Swap.Failcnt = readKV(dir, "memory.swap.events")["max"]
	}
	m.Kernel.Usage = m.Raw["kernel"]
	if m.Kernel.Usage == 0 {
		m.Kernel.Usage = m.Raw["kernel_stack"] + m.Raw["slab"] + m.Raw["sock"]
	}
}

func (p *Paths) blkioStats(s *Stats) {
	dir, v2, ok := p.controller("blkio")
	if !ok {
		return
	}
	if v2 {
		// io.stat: "maj:min rbytes=.. wbytes=.. rios=.. wios=.. ..."
		data, _ := os.ReadFile(filepath.Join(dir, "io.stat"))
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			maj, min := parseDev(f[0])
			for _, kv := range f[1:] {
				k, v, _ := strings.Cut(kv, "=")
				n, _ := strconv.ParseUint(v, 10, 64)
				e := BlkioEntry{Major: maj, Minor: min, Value: n}
				switch k {
				case "rbytes", "wbytes":
					e.Op = map[string]string{"rbytes": "Read", "wbytes": "Write"}[k]
					s.Blkio.IoServiceBytesRecursive = append(s.Blkio.IoServiceBytesRecursive, e)
				case "rios", "wios":
					e.Op = map[string]string{"rios": "Read", "wios": "Write"}[k]
					s.Blkio.IoServicedRecursive = append(s.Blkio.IoServicedRecursive, e)
				}
			}
		}
		return
	}
	s.Blkio.IoServiceBytesRecursive = readBlkio(dir, "blkio.throttle.io_service_bytes_recursive", "blkio.io_service_bytes_recursive")
	s.Blkio.IoServicedRecursive = readBlkio(dir, "blkio.throttle.io_serviced_recursive", "blkio.io_serviced_recursive")
}

// readBlkio reads the first existing v1 "maj:min Op value" file.
func readBlkio(dir string, names ...string) []BlkioEntry {
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			continue
		}
		var out []BlkioEntry
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) != 3 {
				continue
			}
			maj, min := parseDev(f[0])
			v, _ := strconv.ParseUint(f[2], 10, 64)
			out = append(out, BlkioEntry{Major: maj, Minor: min, Op: f[1], Value: v})
		}
		return out
	}
	return nil
}

func (p *Paths) hugetlbStats(s *Stats) {
	dir, v2, ok := p.controller("hugetlb")
	if !ok {
		return
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, "hugetlb.") {
			continue
		}
		size, rest, _ := strings.Cut(strings.TrimPrefix(name, "hugetlb."), ".")
		var h Hugetlb
		switch {
		case v2 && rest == "current":
			h.Usage, _ = readUint(dir, name)
			h.Failcnt = readKV(dir, "hugetlb."+size+".events")["max"]
		case !v2 && rest == "usage_in_bytes":
			h.Usage, _ = readUint(dir, name)
			h.Max, _ = readUint(dir, "hugetlb."+size+".max_usage_in_bytes")
			h.Failcnt, _ = readUint(dir, "hugetlb."+size+".failcnt")
		default:
			continue
		}
		s.Hugetlb[size] = h
	}
}

func parseDev(s string) (uint64, uint64) {
	a, b, _ := strings.Cut(s, ":")
	maj, _ := strconv.ParseUint(a, 10, 64)
	min, _ := strconv.ParseUint(b, 10, 64)
	return maj, min
}

// readUints reads a file of space-separated numbers.
func readUints(dir, name string) []uint64 {
	var out []uint64
	for _, f := range readFields(filepath.Join(dir, name)) {
		if n, err := strconv.ParseUint(f, 10, 64); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// readString returns the first non-empty of the named files, trimmed.
func readString(dir string, names ...string) string {
	for _, n := range names {
		if data, err := os.ReadFile(filepath.Join(dir, n)); err == nil && strings.TrimSpace(string(data)) != "" {
			return strings.TrimSpace(string(data))
		}
	}
	return ""
}

// parseList expands a cpu list ("0-2,4") into its numbers.
func parseList(s string) []uint16 {
	var out []uint16
	sc := bufio.NewScanner(strings.NewReader(strings.ReplaceAll(s, ",", "\n")))
	for sc.Scan() {
		a, b, isRange := strings.Cut(strings.TrimSpace(sc.Text()), "-")
		lo, err := strconv.ParseUint(a, 10, 16)
		if err != nil {
			continue
		}
		hi := lo
		if isRange {
			if hi, err = strconv.ParseUint(b, 10, 16); err != nil {
				continue
			}
		}
		for i := lo; i <= hi; i++ {
			out = append(out, uint16(i))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
