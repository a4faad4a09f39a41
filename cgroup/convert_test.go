package cgroup

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestSharesToWeight(t *testing.T) {
	for shares, want := range map[uint64]uint64{
		0: 0, 1: 1, 2: 1, 1024: 100, 262144: 10000, 1 << 30: 10000,
		512: 59, 2048: 174, 100: 17,
	} {
		if got := SharesToWeight(shares); got != want {
			t.Errorf("SharesToWeight(%d) = %d, want %d", shares, got, want)
		}
	}
	// Monotonic over the whole range.
	prev := uint64(0)
	for s := uint64(2); s <= 262144; s += 97 {
		w := SharesToWeight(s)
		if w < prev || w < 1 || w > 10000 {
			t.Fatalf("SharesToWeight(%d) = %d after %d", s, w, prev)
		}
		prev = w
	}
}

func TestBlkioWeightToIOWeight(t *testing.T) {
	for w, want := range map[uint64]uint64{0: 0, 10: 1, 1000: 10000, 500: 4950, 100: 910} {
		if got := BlkioWeightToIOWeight(w); got != want {
			t.Errorf("BlkioWeightToIOWeight(%d) = %d, want %d", w, got, want)
		}
	}
}

func TestSwapToV2(t *testing.T) {
	cases := []struct {
		swap, mem, want int64
		err             bool
	}{
		{0, 0, 0, false},
		{0, -1, -1, false},   // unlimited memory, swap unset: unlimited swap
		{-1, 100, -1, false}, // unlimited swap
		{0, 100, 0, false},   // unset
		{300, 100, 200, false},
		{100, 100, 0, false}, // no swap at all
		{50, 100, 0, true},   // memory+swap below memory
		{300, 0, 0, true},    // swap without a memory limit
		{300, -1, 0, true},
	}
	for _, c := range cases {
		got, err := SwapToV2(c.swap, c.mem)
		if (err != nil) != c.err || (!c.err && got != c.want) {
			t.Errorf("SwapToV2(%d, %d) = %d, %v; want %d, error %v", c.swap, c.mem, got, err, c.want, c.err)
		}
	}
}

func TestCPUMax(t *testing.T) {
	for _, c := range []struct {
		quota  int64
		period uint64
		want   string
	}{
		{50000, 100000, "50000 100000"}, {-1, 100000, "max 100000"}, {0, 100000, "max 100000"},
		{20000, 0, "20000"}, {-1, 0, "max"},
	} {
		if got := CPUMax(c.quota, c.period); got != c.want {
			t.Errorf("CPUMax(%d, %d) = %q, want %q", c.quota, c.period, got, c.want)
		}
	}
}

func i64p(v int64) *int64   { return &v }
func u64p(v uint64) *uint64 { return &v }
func u16p(v uint16) *uint16 { return &v }

func TestValidate(t *testing.T) {
	ok := []*specs.LinuxResources{
		nil,
		{},
		// Docker's zeros and -1s.
		{Memory: &specs.LinuxMemory{Limit: i64p(0), Swap: i64p(-1)}, CPU: &specs.LinuxCPU{Shares: u64p(0), Quota: i64p(-1)}, BlockIO: &specs.LinuxBlockIO{Weight: u16p(0)}},
		{Memory: &specs.LinuxMemory{Limit: i64p(64 << 20), Swap: i64p(128 << 20), Swappiness: u64p(60)}},
		{CPU: &specs.LinuxCPU{Shares: u64p(2), Period: u64p(1000), Quota: i64p(1000), Cpus: "0-3,5", Mems: "0"}},
		{Unified: map[string]string{"memory.high": "1G", "cgroup.max.depth": "3"}},
		{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}, {Allow: true, Type: "c", Major: i64p(1), Minor: i64p(-1), Access: "rw"}}},
		{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1 << 20}}},
		{Pids: &specs.LinuxPids{Limit: i64p(-1)}},
	}
	for i, r := range ok {
		if err := Validate(r, "config.json: linux.resources"); err != nil {
			t.Errorf("ok[%d]: %v", i, err)
		}
	}
	bad := []struct {
		r    *specs.LinuxResources
		want string
	}{
		{&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64p(-5)}}, "config.json: linux.resources.memory.limit -5 is not valid"},
		{&specs.LinuxResources{Memory: &specs.LinuxMemory{Reservation: i64p(-2)}}, "memory.reservation -2"},
		{&specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: u64p(101)}}, "memory.swappiness 101"},
		{&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64p(100), Swap: i64p(50)}}, "memory.swap 50 is less than memory.limit 100"},
		{&specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64p(1)}}, "cpu.shares 1 is not valid"},
		{&specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64p(1 << 20)}}, "cpu.shares 1048576"},
		{&specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64p(5)}}, "cpu.quota 5"},
		{&specs.LinuxResources{CPU: &specs.LinuxCPU{Period: u64p(2000000)}}, "cpu.period 2000000"},
		{&specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "a"}}, "cpu.cpus \"a\""},
		{&specs.LinuxResources{CPU: &specs.LinuxCPU{Mems: "0,"}}, "cpu.mems"},
		{&specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: i64p(2)}}, "cpu.idle 2"},
		{&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: u16p(5)}}, "blockIO.weight 5"},
		{&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{WeightDevice: []specs.LinuxWeightDevice{{Weight: u16p(2000)}}}}, "blockIO.weightDevice[0].weight 2000"},
		{&specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2M"}}}, "hugepageLimits[0].pageSize"},
		{&specs.LinuxResources{Unified: map[string]string{"../../etc/passwd": "x"}}, "may not contain / or .."},
		{&specs.LinuxResources{Unified: map[string]string{"memory": "x"}}, "want controller.file"},
		{&specs.LinuxResources{Unified: map[string]string{"cgroup.procs": "1"}}, "not allowed"},
		{&specs.LinuxResources{Unified: map[string]string{"memory.high": "1\n2"}}, "one line"},
		{&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Type: "z"}}}, "devices[0].type \"z\""},
		{&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Access: "rx"}}}, "devices[0].access"},
		{&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Major: i64p(-3)}}}, "devices[0].major -3"},
	}
	for _, c := range bad {
		err := Validate(c.r, "config.json: linux.resources")
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("Validate: %v; want one line containing %q", err, c.want)
		}
	}
}

func TestMerge(t *testing.T) {
	cur := &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: i64p(100), Swap: i64p(200)},
		CPU:     &specs.LinuxCPU{Shares: u64p(512), Quota: i64p(1000), Period: u64p(100000), Cpus: "0"},
		Pids:    &specs.LinuxPids{Limit: i64p(20)},
		BlockIO: &specs.LinuxBlockIO{ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{Rate: 5}}},
		Unified: map[string]string{"a.b": "1"},
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
	}
	// Docker's update: every field, zeros meaning unchanged.
	upd := &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: i64p(300), Reservation: i64p(0), Swap: i64p(600)},
		CPU:     &specs.LinuxCPU{Shares: u64p(0), Quota: i64p(2000), Period: u64p(0)},
		Pids:    &specs.LinuxPids{Limit: i64p(0)},
		BlockIO: &specs.LinuxBlockIO{Weight: u16p(0), ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{Rate: 9}}},
		Unified: map[string]string{"c.d": "2"},
	}
	m := Merge(cur, upd)
	if *m.Memory.Limit != 300 || *m.Memory.Swap != 600 || m.Memory.Reservation != nil {
		t.Errorf("memory %+v", m.Memory)
	}
	if *m.CPU.Shares != 512 || *m.CPU.Quota != 2000 || *m.CPU.Period != 100000 || m.CPU.Cpus != "0" {
		t.Errorf("cpu %+v", m.CPU)
	}
	if *m.Pids.Limit != 20 || m.BlockIO.Weight != nil || len(m.BlockIO.ThrottleReadBpsDevice) != 1 || m.BlockIO.ThrottleReadBpsDevice[0].Rate != 9 {
		t.Errorf("pids %+v blkio %+v", m.Pids, m.BlockIO)
	}
	if m.Unified["a.b"] != "1" || m.Unified["c.d"] != "2" || len(m.Devices) != 1 {
		t.Errorf("unified %v devices %v", m.Unified, m.Devices)
	}
	if *cur.Memory.Limit != 100 || cur.Unified["c.d"] != "" {
		t.Error("Merge changed its input")
	}
	if w := Changes(cur, upd); w.Devices != nil || w.Memory != upd.Memory {
		t.Errorf("Changes: %+v", w)
	}
}

func TestDeviceRules(t *testing.T) {
	// Docker's rules: deny all, a few allows, an explicit deny.
	spec := []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: i64p(1), Minor: i64p(5), Access: "rwm"},
		{Allow: false, Type: "c", Major: i64p(10), Minor: i64p(229), Access: "rwm"},
	}
	rules := deviceRules(spec)
	if len(rules) != len(spec)+len(DefaultAllow) {
		t.Fatalf("%d rules", len(rules))
	}
	var v1 []string
	for _, r := range rules {
		v1 = append(v1, r.v1String())
	}
	got := strings.Join(v1, "|")
	for _, want := range []string{"a|c 1:5 rwm|c 10:229 rwm|c *:* m|b *:* m|c 1:3 rwm", "c 136:* rwm|c 5:2 rwm"} {
		if !strings.Contains(got, want) {
			t.Errorf("v1 rules %s lack %s", got, want)
		}
	}
	s := emulate(rules)
	if s.defaultAllow {
		t.Fatal("deny-all lost")
	}
	find := func(typ byte, maj, min int64) *devRule {
		for i := range s.exceptions {
			if e := &s.exceptions[i]; e.typ == typ && e.major == maj && e.minor == min {
				return e
			}
		}
		return nil
	}
	if e := find('c', 1, 5); e == nil || e.access != "rwm" || !e.allow {
		t.Errorf("zero: %+v", e)
	}
	if find('c', 10, 229) != nil {
		t.Error("a deny in a deny-all list became an exception")
	}
	// Allowing all and then denying a device makes a deny exception; an
	// allow of part of its access takes that part out again.
	s = emulate([]devRule{{typ: 'a', allow: true}, {typ: 'c', major: 1, minor: 3, access: "rw"}, {typ: 'c', major: 1, minor: 3, access: "w", allow: true}})
	if !s.defaultAllow || len(s.exceptions) != 1 || s.exceptions[0].access != "r" || s.exceptions[0].allow {
		t.Errorf("allow-all state %+v", s)
	}
	// No rules at all: v2 denies everything but the default list.
	s = emulate(deviceRules(nil))
	if s.defaultAllow || len(s.exceptions) != len(DefaultAllow) {
		t.Errorf("empty spec: %+v", s)
	}
	if n := len(deviceProgram(s)); n < len(DefaultAllow)*3 {
		t.Errorf("program of %d instructions", n)
	}
}

func TestOpenPaths(t *testing.T) {
	hs := []Hierarchy{
		{Mountpoint: "/sys/fs/cgroup/memory", Key: "memory"},
		{Mountpoint: "/sys/fs/cgroup/cpu,cpuacct", Key: "cpu,cpuacct"},
		{Mountpoint: "/sys/fs/cgroup/unified", V2: true},
	}
	p := openPaths(hs, []string{"/sys/fs/cgroup/memory/a/b", "/sys/fs/cgroup/cpu,cpuacct/a/b", "/sys/fs/cgroup/unified/a/b"})
	if p.V1["memory"] != "/sys/fs/cgroup/memory/a/b" || p.V1["cpuacct"] != "/sys/fs/cgroup/cpu,cpuacct/a/b" || p.V2 != "/sys/fs/cgroup/unified/a/b" {
		t.Fatalf("paths %+v", p)
	}
	if p.Mode() != "hybrid" {
		t.Errorf("mode %s", p.Mode())
	}
	if _, _, ok := p.controller("pids"); ok {
		t.Error("pids found where there is none")
	}
	if d, v2, ok := p.controller("memory"); !ok || v2 || d != "/sys/fs/cgroup/memory/a/b" {
		t.Errorf("memory: %s %v %v", d, v2, ok)
	}
	v2 := openPaths([]Hierarchy{{Mountpoint: "/sys/fs/cgroup", V2: true}}, []string{"/sys/fs/cgroup/x"})
	if v2.Mode() != "v2" || v2.V2 != "/sys/fs/cgroup/x" {
		t.Errorf("v2 paths %+v", v2)
	}
}
