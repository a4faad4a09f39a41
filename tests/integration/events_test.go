package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// statsJSON is the part of runc's stats event the tests read.
type statsJSON struct {
	CPU struct {
		Usage struct {
			Total uint64 `json:"total"`
		} `json:"usage"`
	} `json:"cpu"`
	Memory struct {
		Usage struct {
			Usage   uint64 `json:"usage"`
			Limit   uint64 `json:"limit"`
			Failcnt uint64 `json:"failcnt"`
		} `json:"usage"`
		Swap struct {
			Limit uint64 `json:"limit"`
		} `json:"swap"`
		Raw map[string]uint64 `json:"raw"`
	} `json:"memory"`
	Pids struct {
		Current uint64 `json:"current"`
		Limit   uint64 `json:"limit"`
	} `json:"pids"`
	Blkio   map[string]any `json:"blkio"`
	Hugetlb map[string]any `json:"hugetlb"`
}

// statsOf runs events --stats and parses its one event.
func (e *Env) statsOf(id string) statsJSON {
	e.t.Helper()
	out := e.MustRun("events", "--stats", id)
	if n := strings.Count(strings.TrimSpace(out), "\n"); n != 0 {
		e.t.Fatalf("events --stats printed %d lines: %q", n+1, out)
	}
	var ev struct {
		Type string    `json:"type"`
		ID   string    `json:"id"`
		Data statsJSON `json:"data"`
	}
	if err := json.Unmarshal([]byte(out), &ev); err != nil {
		e.t.Fatalf("events --stats: %v: %q", err, out)
	}
	if ev.Type != "stats" || ev.ID != id {
		e.t.Fatalf("events --stats: type %q id %q", ev.Type, ev.ID)
	}
	return ev.Data
}

// TestEventsStatsMove: the numbers of events --stats follow the workload:
// memory when the container fills a tmpfs, cpu when it works, pids when
// it forks.
func TestEventsStatsMove(t *testing.T) {
	e := NewEnv(t)
	r := withResources(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64p(50)}})
	id, b := e.createStarted([]string{"sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.05; done; " +
		"head -c 20000000 /dev/zero > /dev/shm/fill; sleep 1000 & sleep 1000 & i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo done > /tmp/done; sleep 1000"}, r)
	s1 := e.statsOf(id)
	if s1.Pids.Limit != 50 || s1.Pids.Current == 0 || s1.Memory.Usage.Usage == 0 || s1.CPU.Usage.Total == 0 {
		t.Fatalf("first stats: %+v", s1)
	}
	if err := os.WriteFile(filepath.Join(b, "rootfs/tmp/go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitContent(t, filepath.Join(b, "rootfs/tmp/done"), "the workload", func(s string) bool { return s == "done" })
	s2 := e.statsOf(id)
	if s2.Memory.Usage.Usage < s1.Memory.Usage.Usage+15000000 {
		t.Errorf("memory usage %d -> %d after filling 20 MB of tmpfs", s1.Memory.Usage.Usage, s2.Memory.Usage.Usage)
	}
	if s2.CPU.Usage.Total <= s1.CPU.Usage.Total {
		t.Errorf("cpu total %d -> %d after a busy loop", s1.CPU.Usage.Total, s2.CPU.Usage.Total)
	}
	if s2.Pids.Current < 3 {
		t.Errorf("pids %d -> %d with the shell and two sleeps running", s1.Pids.Current, s2.Pids.Current)
	}
}

// TestEventsStream: without --stats, stats arrive every interval and the
// stream ends when the container stops.
func TestEventsStream(t *testing.T) {
	e := NewEnv(t)
	id, _ := e.createStarted([]string{"sleep", "1000"}, nil)
	ev := e.startEvents(id, "--interval", "100ms")
	for i := 0; i < 3; i++ {
		if l := ev.next(t, "stats"); l["data"] == nil {
			t.Fatalf("stats event without data: %v", l)
		}
	}
	e.MustRun("kill", id, "KILL")
	timeout := time.After(60 * time.Second)
	for {
		select {
		case _, ok := <-ev.lines:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("events did not end when the container stopped")
		}
	}
}

// TestEventsErrors: events on a missing or stopped container fails with
// one line; a bad interval too.
func TestEventsErrors(t *testing.T) {
	e := NewEnv(t)
	_, stderr, code := e.Run("events", "--stats", "nosuch")
	if code == 0 {
		t.Fatal("events on a missing container succeeded")
	}
	requireOneLine(t, stderr, "container does not exist")
	id, _ := e.createStarted([]string{"true"}, nil)
	waitStatus(t, e, id, "stopped")
	_, stderr, code = e.Run("events", "--stats", id)
	if code == 0 {
		t.Fatal("events on a stopped container succeeded")
	}
	requireOneLine(t, stderr, "is not running")
	_, stderr, code = e.Run("events", "--interval", "0s", id)
	if code == 0 {
		t.Fatal("events --interval 0 succeeded")
	}
	requireOneLine(t, stderr, "interval")
}
