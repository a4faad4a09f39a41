package integration

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/minirunc/minirunc/tests/testenv"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The cgroup tests run on this host's layout, whichever it is: v1 or hybrid
// (v1 controllers, cgroup2 at /sys/fs/cgroup/unified) here, pure v2 in the
// guest of `make test-cgroup2`. Each reads back what minirunc wrote from
// the host side and, where it can, checks the process feels it.

// pureV2 is true on a cgroup v2 only host.
var pureV2 = func() bool {
	_, err := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	return err == nil
}()

// cgDir is a container's directory for a controller (its v1 name).
func cgDir(ctrl, id string) string {
	if pureV2 {
		return filepath.Join("/sys/fs/cgroup", cgroupParent, id)
	}
	return filepath.Join("/sys/fs/cgroup", ctrl, cgroupParent, id)
}

// readCg reads a container's cgroup file, trimmed.
func readCg(t *testing.T, ctrl, id, file string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(cgDir(ctrl, id), file))
	if err != nil {
		t.Fatalf("read %s: %v", file, err)
	}
	return strings.TrimSpace(string(data))
}

// wantCg checks a cgroup file's content.
func wantCg(t *testing.T, ctrl, id, file, want string) {
	t.Helper()
	if got := readCg(t, ctrl, id, file); got != want {
		t.Errorf("%s = %q, want %q", file, got, want)
	}
}

// v1Only skips on a pure v2 host.
func v1Only(t *testing.T) {
	if pureV2 {
		t.Skip("cgroup v1 only")
	}
}

func i64p(v int64) *int64   { return &v }
func u64p(v uint64) *uint64 { return &v }
func u16p(v uint16) *uint16 { return &v }
func boolp(v bool) *bool    { return &v }
func withResources(r *specs.LinuxResources) func(*specs.Spec) {
	return func(s *specs.Spec) {
		r.Devices = s.Linux.Resources.Devices
		s.Linux.Resources = r
	}
}

// createStarted creates and starts a container running args, with a
// writable root (the tests talk to it through files in its /tmp).
func (e *Env) createStarted(args []string, mutate func(*specs.Spec)) (id, bundle string) {
	e.t.Helper()
	id = e.NewID()
	bundle = e.Bundle(id, args, chainMutate(writable, mutate))
	e.MustRun("create", "--bundle", bundle, id)
	e.MustRun("start", id)
	return id, bundle
}

// waitContent polls until the file in the bundle's rootfs satisfies ok.
func waitContent(t *testing.T, path string, what string, ok func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		data, _ := os.ReadFile(path)
		if s := strings.TrimSpace(string(data)); ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: timed out waiting for %s (now %q)", path, what, data)
		}
		sleepBriefly()
	}
}

func TestCgroupResourcesWritten(t *testing.T) {
	e := NewEnv(t)
	r := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64p(64 << 20), Reservation: i64p(32 << 20), Swap: i64p(64 << 20)},
		CPU:    &specs.LinuxCPU{Shares: u64p(512), Quota: i64p(50000), Period: u64p(100000), Cpus: "0", Mems: "0"},
		Pids:   &specs.LinuxPids{Limit: i64p(100)},
	}
	if !pureV2 {
		r.Memory.Swappiness = u64p(10)
		// Refused by recent kernels (the file stays): ignored, as by runc.
		//lint:ignore SA1019 clients still send it
		r.Memory.Kernel = i64p(64 << 20)
	}
	id := e.NewID()
	b := e.Bundle(id, []string{"sleep", "100"}, withResources(r))
	e.MustRun("create", "--bundle", b, id)
	if pureV2 {
		wantCg(t, "memory", id, "memory.max", "67108864")
		wantCg(t, "memory", id, "memory.low", "33554432")
		if _, err := os.Stat(filepath.Join(cgDir("memory", id), "memory.swap.max")); err == nil {
			wantCg(t, "memory", id, "memory.swap.max", "0") // swap == limit: no swap
		}
		wantCg(t, "cpu", id, "cpu.weight", "59") // 512 shares, as runc converts them
		wantCg(t, "cpu", id, "cpu.max", "50000 100000")
	} else {
		wantCg(t, "memory", id, "memory.limit_in_bytes", "67108864")
		wantCg(t, "memory", id, "memory.soft_limit_in_bytes", "33554432")
		wantCg(t, "memory", id, "memory.memsw.limit_in_bytes", "67108864")
		wantCg(t, "memory", id, "memory.swappiness", "10")
		wantCg(t, "cpu", id, "cpu.shares", "512")
		wantCg(t, "cpu", id, "cpu.cfs_quota_us", "50000")
		wantCg(t, "cpu", id, "cpu.cfs_period_us", "100000")
	}
	wantCg(t, "cpuset", id, "cpuset.cpus", "0")
	wantCg(t, "cpuset", id, "cpuset.mems", "0")
	wantCg(t, "pids", id, "pids.max", "100")
	// Init sits in every hierarchy, the cgroup2 one of a hybrid host too.
	pid := fmt.Sprint(e.State(id)["pid"])
	for _, m := range testenv.CgroupMounts() {
		data, err := os.ReadFile(filepath.Join(m, cgroupParent, id, "cgroup.procs"))
		if err != nil || !strings.Contains(" "+strings.Join(strings.Fields(string(data)), " ")+" ", " "+pid+" ") {
			t.Errorf("init %s not in %s: %q %v", pid, m, data, err)
		}
	}
	e.MustRun("delete", "--force", id)
	requireNoResidue(t, e.Root, id)
}

// TestCgroupSeenInside: the container's /sys/fs/cgroup shows its own
// limits.
func TestCgroupSeenInside(t *testing.T) {
	e := NewEnv(t)
	file := "/sys/fs/cgroup/memory/memory.limit_in_bytes"
	pids := "/sys/fs/cgroup/pids/pids.max"
	if pureV2 {
		file, pids = "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/pids.max"
	}
	r := &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64p(48 << 20)}, Pids: &specs.LinuxPids{Limit: i64p(42)}}
	out, stderr, code := e.RunContainer([]string{"cat", file, pids}, withResources(r))
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	if f := strings.Fields(out); len(f) != 2 || f[0] != "50331648" || f[1] != "42" {
		t.Fatalf("inside: %q, want 50331648 and 42", out)
	}
}

// TestCgroupDockerZeros: Docker sends cpu.shares 0 and blockIO.weight 0
// meaning "not set"; they must neither fail nor be written.
func TestCgroupDockerZeros(t *testing.T) {
	e := NewEnv(t)
	r := &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: i64p(0), Reservation: i64p(0), Swap: i64p(0), DisableOOMKiller: boolp(false)},
		CPU:     &specs.LinuxCPU{Shares: u64p(0), Quota: i64p(0), Period: u64p(0)},
		BlockIO: &specs.LinuxBlockIO{Weight: u16p(0)},
		Pids:    &specs.LinuxPids{Limit: i64p(0)},
	}
	id := e.NewID()
	b := e.Bundle(id, []string{"sleep", "100"}, withResources(r))
	e.MustRun("create", "--bundle", b, id)
	if pureV2 {
		wantCg(t, "cpu", id, "cpu.weight", "100")
		wantCg(t, "pids", id, "pids.max", "max")
	} else {
		wantCg(t, "cpu", id, "cpu.shares", "1024")
		wantCg(t, "pids", id, "pids.max", "max")
	}
}

// TestCgroupMemoryOOM: a memory hog is killed at its limit, and events
// reports the oom.
func TestCgroupMemoryOOM(t *testing.T) {
	e := NewEnv(t)
	r := &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64p(24 << 20), Swap: i64p(24 << 20)}}
	id, b := e.createStarted([]string{"sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.05; done; tail /dev/zero; echo tail-exit=$? > /tmp/done; sleep 1000"}, withResources(r))
	ev := e.startEvents(id, "--interval", "200ms")
	if l := ev.next(t, "stats"); l["id"] != id {
		t.Fatalf("first event %v", l)
	}
	if err := os.WriteFile(filepath.Join(b, "rootfs/tmp/go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ev.next(t, "oom")
	// tail was SIGKILLed (128+9) and the container lives on.
	waitContent(t, filepath.Join(b, "rootfs/tmp/done"), "the hog to die", func(s string) bool { return s != "" })
	if got, _ := os.ReadFile(filepath.Join(b, "rootfs/tmp/done")); strings.TrimSpace(string(got)) != "tail-exit=137" {
		t.Fatalf("hog: %q, want tail-exit=137", got)
	}
	if st := e.State(id)["status"]; st != "running" {
		t.Fatalf("status %v after the OOM kill, want running", st)
	}
	st := e.statsOf(id)
	if st.Memory.Usage.Limit != 24<<20 {
		t.Errorf("stats memory limit %d, want %d", st.Memory.Usage.Limit, 24<<20)
	}
}

// TestCgroupPidsLimit: a fork loop stops at pids.max.
func TestCgroupPidsLimit(t *testing.T) {
	e := NewEnv(t)
	cur := "/sys/fs/cgroup/pids/pids.current"
	if pureV2 {
		cur = "/sys/fs/cgroup/pids.current"
	}
	r := &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64p(8)}}
	// The inner shell forks until it fails (and then exits): with the
	// outer shell and itself at the limit of 8 that leaves 6 sleeps.
	script := `sh -c 'i=0; while [ $i -lt 30 ]; do sleep 1000 & i=$((i+1)); done'; read n < ` + cur + `; echo current=$n`
	out, stderr, code := e.RunContainer([]string{"sh", "-c", script}, withResources(r))
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	if strings.TrimSpace(out) != "current=7" {
		t.Fatalf("pids.current inside: %q, want current=7 (the outer shell and 6 sleeps)", out)
	}
	if !strings.Contains(stderr, "can't fork") {
		t.Fatalf("stderr %q: want fork failures", stderr)
	}
}

// cpuUsage reads the container's cpu time (µs) and its CFS period count.
func cpuUsage(t *testing.T, id string) (usageUs, periods, throttled uint64) {
	t.Helper()
	stat := map[string]uint64{}
	for _, line := range strings.Split(readCg(t, "cpu", id, "cpu.stat"), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			stat[f[0]], _ = strconv.ParseUint(f[1], 10, 64)
		}
	}
	if pureV2 {
		return stat["usage_usec"], stat["nr_periods"], stat["nr_throttled"]
	}
	ns, _ := strconv.ParseUint(readCg(t, "cpuacct", id, "cpuacct.usage"), 10, 64)
	return ns / 1000, stat["nr_periods"], stat["nr_throttled"]
}

// TestCgroupCPUQuota: a busy loop under a 20% quota uses about 20% of the
// periods it runs through, over a second of them.
func TestCgroupCPUQuota(t *testing.T) {
	e := NewEnv(t)
	const quota, period = 20000, 100000
	r := &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64p(quota), Period: u64p(period)}}
	id, _ := e.createStarted([]string{"sh", "-c", "while :; do :; done"}, withResources(r))
	u0, p0, _ := cpuUsage(t, id)
	var u1, p1, thr uint64
	deadline := time.Now().Add(60 * time.Second)
	for {
		u1, p1, thr = cpuUsage(t, id)
		if p1 >= p0+10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d CFS periods passed", p1-p0)
		}
		sleepBriefly()
	}
	share := float64(u1-u0) / float64((p1-p0)*period)
	t.Logf("busy loop used %.2f of %d periods (quota %.2f), throttled %d", share, p1-p0, float64(quota)/period, thr)
	if share > 0.35 || share < 0.05 || thr == 0 {
		t.Fatalf("busy loop used %.2f of each period (throttled %d); want about %.2f", share, thr, float64(quota)/period)
	}
}

// deviceScript opens /dev/kmsg for writing (no syslog capability needed
// for that, unlike reading) and reports the outcome.
const deviceScript = "if exec 3>/dev/kmsg; then echo opened; fi"

func kmsgDevice(s *specs.Spec) {
	s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{Path: "/dev/kmsg", Type: "c", Major: 1, Minor: 11, FileMode: func() *os.FileMode { m := os.FileMode(0o666); return &m }()})
}

// TestCgroupDeviceDenied: a device node that the rules do not allow
// cannot be opened (v1 devices.deny, v2 eBPF).
func TestCgroupDeviceDenied(t *testing.T) {
	e := NewEnv(t)
	out, stderr, _ := e.RunContainer([]string{"sh", "-c", deviceScript}, kmsgDevice)
	if strings.Contains(out, "opened") || !strings.Contains(stderr, "Operation not permitted") {
		t.Fatalf("denied device: stdout %q stderr %q; want Operation not permitted", out, stderr)
	}
	// Allowed by a rule, the same open works; the defaults stay usable.
	allow := func(s *specs.Spec) {
		kmsgDevice(s)
		s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: i64p(1), Minor: i64p(11), Access: "w"})
	}
	out, stderr, code := e.RunContainer([]string{"sh", "-c", deviceScript + "; echo x > /dev/null && head -c 1 /dev/zero | wc -c"}, allow)
	if code != 0 || strings.Fields(out)[0] != "opened" || strings.TrimSpace(strings.Fields(out)[1]) != "1" {
		t.Fatalf("allowed device: exit %d stdout %q stderr %q", code, out, stderr)
	}
}

// TestCgroupDevicesListV1: v1's devices.list holds the default allow list
// after the spec's deny-all.
func TestCgroupDevicesListV1(t *testing.T) {
	v1Only(t)
	e := NewEnv(t)
	id := e.NewID()
	b := e.Bundle(id, []string{"true"}, nil)
	e.MustRun("create", "--bundle", b, id)
	list := readCg(t, "devices", id, "devices.list")
	for _, want := range []string{"c 1:3 rwm", "c 1:5 rwm", "c 136:* rwm", "c 5:2 rwm", "c *:* m", "b *:* m"} {
		if !strings.Contains(list, want) {
			t.Errorf("devices.list lacks %q:\n%s", want, list)
		}
	}
	if strings.Contains(list, "a *:* rwm") {
		t.Errorf("devices.list allows everything:\n%s", list)
	}
}

// TestCgroupUnified: unified keys are written to the cgroup2 directory;
// an unknown one fails without leaving a cgroup.
func TestCgroupUnified(t *testing.T) {
	if _, err := os.Stat("/sys/fs/cgroup/unified"); !pureV2 && err != nil {
		t.Skip("no cgroup2 hierarchy")
	}
	e := NewEnv(t)
	r := &specs.LinuxResources{Unified: map[string]string{"cgroup.max.descendants": "7"}}
	if pureV2 {
		r.Unified["memory.high"] = "100000000"
	}
	id := e.NewID()
	b := e.Bundle(id, []string{"true"}, withResources(r))
	e.MustRun("create", "--bundle", b, id)
	v2dir := "unified"
	wantCg(t, v2dir, id, "cgroup.max.descendants", "7")
	if pureV2 {
		wantCg(t, v2dir, id, "memory.high", "99999744") // rounded to pages
	}
	e.MustRun("delete", id)
	requireNoResidue(t, e.Root, id)

	id = e.NewID()
	b = e.Bundle(id, []string{"true"}, withResources(&specs.LinuxResources{Unified: map[string]string{"memory.nonexistent": "1"}}))
	_, stderr, code := e.Run("create", "--bundle", b, id)
	if code == 0 {
		t.Fatal("create with an unknown unified key succeeded")
	}
	requireOneLine(t, stderr, `unknown key "memory.nonexistent"`)
	requireNoResidue(t, e.Root, id)
}

// TestCgroupBadInput: each bad value fails create with one line naming
// the field, and leaves no cgroup and no state.
func TestCgroupBadInput(t *testing.T) {
	cases := []struct {
		name string
		r    *specs.LinuxResources
		path string
		want string
	}{
		{"negative memory", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64p(-5)}}, "", "config.json: linux.resources.memory.limit -5 is not valid"},
		{"absurd shares", &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64p(1 << 40)}}, "", "linux.resources.cpu.shares 1099511627776 is not valid"},
		{"short period", &specs.LinuxResources{CPU: &specs.LinuxCPU{Period: u64p(10)}}, "", "linux.resources.cpu.period 10 is not valid"},
		{"swap below limit", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64p(64 << 20), Swap: i64p(32 << 20)}}, "", "linux.resources.memory.swap"},
		{"bad cpus", &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0-x"}}, "", "linux.resources.cpu.cpus"},
		{"unified slash", &specs.LinuxResources{Unified: map[string]string{"../memory.max": "1"}}, "", "may not contain / or .."},
		{"unified procs", &specs.LinuxResources{Unified: map[string]string{"cgroup.procs": "1"}}, "", "not allowed"},
		{"device type", &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Type: "x", Access: "r"}}}, "", "linux.resources.devices[0].type"},
		{"escaping path", nil, "../../x", "linux.cgroupsPath \"../../x\" is not valid"},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "-"), func(t *testing.T) {
			e := NewEnv(t)
			id := e.NewID()
			b := e.Bundle(id, []string{"true"}, func(s *specs.Spec) {
				if c.r != nil {
					s.Linux.Resources = c.r
				}
				if c.path != "" {
					s.Linux.CgroupsPath = c.path
				}
			})
			_, stderr, code := e.Run("create", "--bundle", b, id)
			if code == 0 {
				t.Fatal("create succeeded")
			}
			requireOneLine(t, stderr, c.want)
			requireNoResidue(t, e.Root, id)
			ents, _ := os.ReadDir(e.Root)
			for _, ent := range ents {
				if !strings.HasPrefix(ent.Name(), ".") {
					t.Fatalf("state left: %v", ent.Name())
				}
			}
		})
	}
}

// TestCgroupSystemdFlag: --systemd-cgroup fails with one clear line and
// makes nothing.
func TestCgroupSystemdFlag(t *testing.T) {
	e := NewEnv(t)
	id := e.NewID()
	b := e.Bundle(id, []string{"true"}, nil)
	_, stderr, code := e.Run("--systemd-cgroup", "create", "--bundle", b, id)
	if code == 0 {
		t.Fatal("create --systemd-cgroup succeeded")
	}
	requireOneLine(t, stderr, "--systemd-cgroup")
	requireNoResidue(t, e.Root, id)
}

func procsOf(t *testing.T, id string) []string {
	t.Helper()
	return strings.Fields(readCg(t, "pids", id, "cgroup.procs"))
}

// waitProcs waits until the container's cgroup holds n processes.
func waitProcs(t *testing.T, id string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(procsOf(t, id)) < n {
		if time.Now().After(deadline) {
			t.Fatalf("container processes: %v, want %d", procsOf(t, id), n)
		}
		sleepBriefly()
	}
}

// TestCgroupKillAll: kill --all reaches every process in the cgroup, not
// only init, when there is no pid namespace to take them down.
func TestCgroupKillAll(t *testing.T) {
	e := NewEnv(t)
	id, _ := e.createStarted([]string{"sh", "-c", "sleep 1000 & sleep 1000 & (sleep 1000 &) ; exec sleep 1000"}, noPidNS)
	waitProcs(t, id, 4)
	e.MustRun("kill", "--all", id, "KILL")
	deadline := time.Now().Add(30 * time.Second)
	for len(procsOf(t, id)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("processes left after kill --all: %v", procsOf(t, id))
		}
		sleepBriefly()
	}
	waitStatus(t, e, id, "stopped")
	e.MustRun("delete", id)
	requireNoResidue(t, e.Root, id)
}

// TestCgroupDeleteForceStragglers: delete --force of a running container
// whose processes outlive init removes them and its cgroups.
func TestCgroupDeleteForceStragglers(t *testing.T) {
	e := NewEnv(t)
	id, _ := e.createStarted([]string{"sh", "-c", "(sleep 1000 &); exec sleep 1000"}, noPidNS)
	waitProcs(t, id, 2)
	e.MustRun("delete", "--force", id)
	requireNoResidue(t, e.Root, id)
}

// TestCgroupDeleteForceOwnPidNS: in a pid namespace of the container's
// own, delete --force kills init only (the kernel takes the rest with it),
// and nothing is left, its children and grandchildren included.
func TestCgroupDeleteForceOwnPidNS(t *testing.T) {
	e := NewEnv(t)
	id, _ := e.createStarted([]string{"sh", "-c", "sleep 1000 & (sleep 1000 &); exec sleep 1000"}, nil)
	waitProcs(t, id, 3)
	procs := procsOf(t, id)
	e.MustRun("delete", "--force", id)
	requireNoResidue(t, e.Root, id)
	for _, p := range procs {
		// Init stays a zombie until the host's init reaps it.
		if st, err := os.ReadFile("/proc/" + p + "/status"); err == nil && !strings.Contains(string(st), "State:\tZ") {
			t.Errorf("container process %s outlived delete --force: %s", p, st)
		}
	}
}

// TestCgroupDeleteAfterCrash: a runtime killed in the middle of create
// leaves a state and an empty cgroup; delete --force removes both.
func TestCgroupDeleteAfterCrash(t *testing.T) {
	e := NewEnv(t)
	id := e.NewID()
	b := e.Bundle(id, []string{"true"}, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "kill -9 $PPID"}}}}
	})
	_, _, code := e.Run("create", "--bundle", b, id)
	if code == 0 {
		t.Fatal("create survived its own kill")
	}
	if _, err := os.Stat(cgDir("pids", id)); err != nil {
		t.Fatalf("the crashed create left no cgroup (nothing to test): %v", err)
	}
	e.MustRun("delete", "--force", id)
	requireNoResidue(t, e.Root, id)
	if _, _, code := e.Run("state", id); code == 0 {
		t.Fatal("state still there after delete --force")
	}
}

// TestCgroupDefaultPath: with no cgroupsPath the container's cgroup is its
// id under the runtime's own cgroup, as runc's. Only where that is the
// root (the v2 guest): on this host it is the machine manager's.
func TestCgroupDefaultPath(t *testing.T) {
	own, _ := os.ReadFile("/proc/self/cgroup")
	for _, line := range strings.Split(strings.TrimSpace(string(own)), "\n") {
		if !strings.HasSuffix(line, ":/") {
			t.Skip("the test process is not in the root cgroups")
		}
	}
	e := NewEnv(t)
	id := e.NewID()
	b := e.Bundle(id, []string{"true"}, func(s *specs.Spec) { s.Linux.CgroupsPath = "" })
	e.MustRun("create", "--bundle", b, id)
	dir := filepath.Join("/sys/fs/cgroup", id)
	if !pureV2 {
		dir = filepath.Join("/sys/fs/cgroup/pids", id)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("default cgroup: %v", err)
	}
	e.MustRun("delete", id)
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("default cgroup left: %v", err)
	}
}

// eventsStream is a running `minirunc events`.
type eventsStream struct {
	cmd   *exec.Cmd
	lines chan map[string]any
}

func (e *Env) startEvents(id string, args ...string) *eventsStream {
	e.t.Helper()
	cmd := exec.Command(minirunc, append(append([]string{"--root", e.Root, "events"}, args...), id)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	s := &eventsStream{cmd: cmd, lines: make(chan map[string]any, 1000)}
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				s.lines <- m
			}
		}
	}()
	e.t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return s
}

// next waits for the next event of a type, skipping others.
func (s *eventsStream) next(t *testing.T, typ string) map[string]any {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				t.Fatalf("events ended before a %s event", typ)
			}
			if l["type"] == typ {
				return l
			}
		case <-timeout:
			t.Fatalf("no %s event", typ)
		}
	}
}
