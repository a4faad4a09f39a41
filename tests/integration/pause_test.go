package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// counterScript counts up in /tmp/count, about every 10 ms.
var counterScript = []string{"sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /tmp/count.new; mv /tmp/count.new /tmp/count; sleep 0.01; done"}

func readCount(t *testing.T, bundle string) int {
	t.Helper()
	data, _ := os.ReadFile(filepath.Join(bundle, "rootfs/tmp/count"))
	n, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return n
}

// waitCount polls until the counter passes min.
func waitCount(t *testing.T, bundle string, min int) int {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if n := readCount(t, bundle); n > min {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("counter stuck at %d, want > %d", readCount(t, bundle), min)
		}
		sleepBriefly()
	}
}

func listStatus(t *testing.T, e *Env, id string) string {
	t.Helper()
	var list []map[string]any
	if err := json.Unmarshal([]byte(e.MustRun("list", "--format", "json")), &list); err != nil {
		t.Fatal(err)
	}
	for _, c := range list {
		if c["id"] == id {
			return c["status"].(string)
		}
	}
	t.Fatalf("%s not listed", id)
	return ""
}

// TestPauseResume: pause stops a counter (while a second, unpaused one
// goes on), state and list say paused; resume restarts it.
func TestPauseResume(t *testing.T) {
	e := NewEnv(t)
	id, b := e.createStarted(counterScript, nil)
	refID, ref := e.createStarted(counterScript, nil)
	waitCount(t, b, 2)
	e.MustRun("pause", id)
	if st := e.State(id)["status"]; st != "paused" {
		t.Fatalf("state after pause: %v", st)
	}
	if st := listStatus(t, e, id); st != "paused" {
		t.Fatalf("list after pause: %v", st)
	}
	frozen := readCount(t, b)
	waitCount(t, ref, readCount(t, ref)+30)
	if n := readCount(t, b); n != frozen {
		t.Fatalf("paused counter moved from %d to %d", frozen, n)
	}
	e.MustRun("resume", id)
	if st := e.State(id)["status"]; st != "running" {
		t.Fatalf("state after resume: %v", st)
	}
	waitCount(t, b, frozen+5)
	e.MustRun("delete", "--force", refID)
}

// TestPauseErrors: pause of a stopped container, resume of a running one,
// both of a missing one: one line, non-zero exit.
func TestPauseErrors(t *testing.T) {
	e := NewEnv(t)
	id, _ := e.createStarted([]string{"sleep", "1000"}, nil)
	_, stderr, code := e.Run("resume", id)
	if code == 0 {
		t.Fatal("resume of a running container succeeded")
	}
	requireOneLine(t, stderr, "container not paused")
	e.MustRun("pause", id)
	_, stderr, code = e.Run("pause", id)
	if code == 0 {
		t.Fatal("pause of a paused container succeeded")
	}
	requireOneLine(t, stderr, "paused")
	e.MustRun("resume", id)
	e.MustRun("kill", id, "KILL")
	waitStatus(t, e, id, "stopped")
	_, stderr, code = e.Run("pause", id)
	if code == 0 {
		t.Fatal("pause of a stopped container succeeded")
	}
	requireOneLine(t, stderr, "container not running")
	for _, verb := range []string{"pause", "resume"} {
		_, stderr, code = e.Run(verb, "nosuch")
		if code == 0 {
			t.Fatalf("%s of a missing container succeeded", verb)
		}
		requireOneLine(t, stderr, "container does not exist")
	}
}

// TestPausedKillAndDelete: a paused container can be killed and
// force-deleted; its cgroups go.
func TestPausedKillAndDelete(t *testing.T) {
	e := NewEnv(t)
	id, _ := e.createStarted([]string{"sleep", "1000"}, nil)
	e.MustRun("pause", id)
	e.MustRun("delete", "--force", id)
	requireNoResidue(t, e.Root, id)

	id, _ = e.createStarted([]string{"sleep", "1000"}, noPidNS)
	e.MustRun("pause", id)
	e.MustRun("kill", "--all", id, "KILL")
	waitStatus(t, e, id, "stopped")
	e.MustRun("delete", id)
	requireNoResidue(t, e.Root, id)
}
