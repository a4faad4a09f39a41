package container

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// rawStats is the part of `minirunc events --stats` stats reads.
type rawStats struct {
	Type string `json:"type"`
	Data struct {
		CPU struct {
			Usage struct {
				Total uint64 `json:"total"`
			} `json:"usage"`
		} `json:"cpu"`
		Memory struct {
			Usage struct {
				Usage uint64 `json:"usage"`
				Limit uint64 `json:"limit"`
			} `json:"usage"`
			Raw map[string]uint64 `json:"raw"`
		} `json:"memory"`
		Pids struct {
			Current uint64 `json:"current"`
		} `json:"pids"`
	} `json:"data"`
}

// Sample is one reading of a container's cgroup.
type Sample struct {
	At       time.Time
	CPUTotal uint64 // ns of CPU time used
	MemUsage uint64 // bytes, without the inactive page cache (as Docker)
	MemLimit uint64 // bytes; the host's memory when unlimited
	Pids     uint64
}

// ReadStats reads the container's cgroup through the runtime.
func (m *Manager) ReadStats(c *Container) (*Sample, error) {
	out, err := m.RT.Run("events", "--stats", c.ID)
	if err != nil {
		return nil, err
	}
	var r rawStats
	if err := json.Unmarshal(out, &r); err != nil || r.Type != "stats" {
		return nil, fmt.Errorf("unexpected stats from the runtime: %.200s", out)
	}
	d := r.Data
	s := &Sample{At: time.Now(), CPUTotal: d.CPU.Usage.Total, MemUsage: d.Memory.Usage.Usage,
		MemLimit: d.Memory.Usage.Limit, Pids: d.Pids.Current}
	for _, k := range []string{"inactive_file", "total_inactive_file"} {
		if v, ok := d.Memory.Raw[k]; ok && v < s.MemUsage {
			s.MemUsage -= v
			break
		}
	}
	if host := hostMemory(); host > 0 && (s.MemLimit == 0 || s.MemLimit > host) {
		s.MemLimit = host
	}
	return s, nil
}

// CPUPercent is the CPU use between two samples, 100% a full CPU.
func CPUPercent(prev, cur *Sample) float64 {
	if prev == nil || cur.CPUTotal < prev.CPUTotal {
		return 0
	}
	wall := cur.At.Sub(prev.At).Nanoseconds()
	if wall <= 0 {
		return 0
	}
	return float64(cur.CPUTotal-prev.CPUTotal) / float64(wall) * 100
}

// hostMemory is MemTotal in bytes.
func hostMemory() uint64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		var kb uint64
		if _, err := fmt.Sscanf(line, "MemTotal: %d kB", &kb); err == nil {
			return kb * 1024
		}
	}
	return 0
}

// OOMKilled reports whether the kernel's OOM killer killed a process of
// the container's memory cgroup (v1 memory.oom_control, v2 memory.events
// oom_kill); read before the runtime's delete removes the cgroup.
func (m *Manager) OOMKilled(c *Container) bool {
	cg := filepath.Join(m.CgroupParent, c.ID)
	for _, f := range []string{
		filepath.Join("/sys/fs/cgroup/memory", cg, "memory.oom_control"),
		filepath.Join("/sys/fs/cgroup", cg, "memory.events"),
	} {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, " "); ok && k == "oom_kill" {
				n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
				return n > 0
			}
		}
	}
	return false
}
