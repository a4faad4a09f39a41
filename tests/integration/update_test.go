package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// memWant checks the memory limit and the memory+swap limit, read back
// from v1's files or v2's (where swap.max holds swap alone).
func memWant(t *testing.T, id string, limit, swap int64) {
	t.Helper()
	if pureV2 {
		wantCg(t, "memory", id, "memory.max", itoa(limit))
		if _, err := os.Stat(filepath.Join(cgDir("memory", id), "memory.swap.max")); err == nil {
			wantCg(t, "memory", id, "memory.swap.max", itoa(swap-limit))
		}
		return
	}
	wantCg(t, "memory", id, "memory.limit_in_bytes", itoa(limit))
	wantCg(t, "memory", id, "memory.memsw.limit_in_bytes", itoa(swap))
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// TestUpdateDocker: Docker's update (every field, zeros meaning
// unchanged) on stdin, then runc's flags to lower the limits: the v1
// memory and memsw writes are ordered so that both directions work.
func TestUpdateDocker(t *testing.T) {
	e := NewEnv(t)
	r := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64p(64 << 20), Swap: i64p(64 << 20)},
		CPU:    &specs.LinuxCPU{Shares: u64p(512)},
		Pids:   &specs.LinuxPids{Limit: i64p(20)},
	}
	id, _ := e.createStarted([]string{"sleep", "1000"}, withResources(r))
	docker := `{"memory":{"limit":100663296,"reservation":0,"swap":201326592,"kernel":0},"cpu":{"shares":0,"quota":150000,"period":100000},"pids":{"limit":30},"blockIO":{"weight":0}}`
	if _, stderr, code := e.RunIn([]byte(docker), "update", "--resources", "-", id); code != 0 {
		t.Fatalf("update --resources -: exit %d: %s", code, stderr)
	}
	memWant(t, id, 100663296, 201326592)
	wantCg(t, "pids", id, "pids.max", "30")
	if pureV2 {
		wantCg(t, "cpu", id, "cpu.max", "150000 100000")
		wantCg(t, "cpu", id, "cpu.weight", "59") // shares 0: unchanged
	} else {
		wantCg(t, "cpu", id, "cpu.cfs_quota_us", "150000")
		wantCg(t, "cpu", id, "cpu.cfs_period_us", "100000")
		wantCg(t, "cpu", id, "cpu.shares", "512")
	}
	// Down again, with runc's flags; a quota alone keeps the period.
	e.MustRun("update", "--memory", "50m", "--memory-swap", "60m", "--cpu-quota", "20000", "--pids-limit", "10", "--cpuset-cpus", "0", id)
	memWant(t, id, 50<<20, 60<<20)
	wantCg(t, "pids", id, "pids.max", "10")
	wantCg(t, "cpuset", id, "cpuset.cpus", "0")
	if pureV2 {
		wantCg(t, "cpu", id, "cpu.max", "20000 100000")
	} else {
		wantCg(t, "cpu", id, "cpu.cfs_quota_us", "20000")
	}
	// Podman's file, with --resources=FILE: only what it sets changes.
	f := filepath.Join(t.TempDir(), "res.json")
	if err := os.WriteFile(f, []byte(`{"memory":{"limit":50331648,"swap":100663296},"cpu":{"shares":1024}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	e.MustRun("update", "--resources="+f, id)
	memWant(t, id, 50331648, 100663296)
	wantCg(t, "pids", id, "pids.max", "10")
	if pureV2 {
		wantCg(t, "cpu", id, "cpu.weight", "100")
	} else {
		wantCg(t, "cpu", id, "cpu.shares", "1024")
	}
}

// TestUpdateFelt: lowering pids.max of a live container stops its forks;
// raising it lets them go on.
func TestUpdateFelt(t *testing.T) {
	e := NewEnv(t)
	r := &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64p(100)}}
	// A shell that fails to fork dies, so the fork is tried by an inner
	// one: with the outer shell, the inner one and its subshell it needs
	// three pids.
	script := "while :; do if sh -c '(:); :' 2>/dev/null; then echo ok > /tmp/r; else echo fail > /tmp/r; fi; sleep 0.02; done"
	id, b := e.createStarted([]string{"sh", "-c", script}, withResources(r))
	res := filepath.Join(b, "rootfs/tmp/r")
	waitContent(t, res, "forks to work", func(s string) bool { return s == "ok" })
	e.MustRun("update", "--pids-limit", "2", id)
	wantCg(t, "pids", id, "pids.max", "2")
	waitContent(t, res, "forks to fail", func(s string) bool { return s == "fail" })
	e.MustRun("update", "--pids-limit", "100", id)
	waitContent(t, res, "forks to work again", func(s string) bool { return s == "ok" })
}

// TestUpdateErrors: a missing or stopped container, and bad values: one
// line, a non-zero exit, the limits unchanged.
func TestUpdateErrors(t *testing.T) {
	e := NewEnv(t)
	_, stderr, code := e.Run("update", "--memory", "10m", "nosuch")
	if code == 0 {
		t.Fatal("update of a missing container succeeded")
	}
	requireOneLine(t, stderr, "container does not exist")

	r := &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64p(20)}}
	id, _ := e.createStarted([]string{"sleep", "1000"}, withResources(r))
	for _, c := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{`{"memory":{"limit":-5}}`, []string{"--resources", "-"}, "update: resources.memory.limit -5 is not valid"},
		{`{"cpu":{"shares":1000000}}`, []string{"--resources", "-"}, "resources.cpu.shares 1000000 is not valid"},
		{`{"memory":`, []string{"--resources", "-"}, "not valid JSON"},
		{"", []string{"--memory", "lots"}, "invalid value for --memory"},
		{"", []string{"--pids-limit", "x"}, "pids-limit"},
		{`{"unified":{"a/b":"1"}}`, []string{"--resources", "-"}, "may not contain"},
	} {
		_, stderr, code := e.RunIn([]byte(c.stdin), append(append([]string{"update"}, c.args...), id)...)
		if code == 0 {
			t.Fatalf("update %v <<%s succeeded", c.args, c.stdin)
		}
		requireOneLine(t, stderr, c.want)
	}
	wantCg(t, "pids", id, "pids.max", "20")
	e.MustRun("kill", id, "KILL")
	waitStatus(t, e, id, "stopped")
	_, stderr, code = e.Run("update", "--pids-limit", "5", id)
	if code == 0 {
		t.Fatal("update of a stopped container succeeded")
	}
	requireOneLine(t, stderr, "container not running")
}
