package integration

import (
	"os"
	"strings"
	"testing"
)

func TestRunShowsIsolation(t *testing.T) {
	e := NewEnv(t)
	out, stderr, code := e.RunContainer([]string{"sh", "-c", "hostname; echo pid=$$; ip -o link | cut -d: -f2; ps -o pid,comm; true"}, nil)
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 5 {
		t.Fatalf("short output %q", out)
	}
	if lines[0] != "minirunc" || lines[1] != "pid=1" || strings.TrimSpace(lines[2]) != "lo" {
		t.Fatalf("hostname, pid, interfaces = %q; want minirunc, pid=1, only lo", lines[:3])
	}
	if f := strings.Fields(lines[4]); len(f) != 2 || f[0] != "1" || f[1] != "sh" {
		t.Fatalf("ps: first process %q, want 1 sh", lines[4])
	}
}

func TestCreateStartStateDelete(t *testing.T) {
	e := NewEnv(t)
	id := e.NewID()
	b := e.Bundle(id, []string{"sleep", "100"}, nil)
	pidFile := b + "/pid"
	e.MustRun("create", "--bundle", b, "--pid-file", pidFile, id)
	st := e.State(id)
	if st["status"] != "created" {
		t.Fatalf("status after create = %v, want created", st["status"])
	}
	pid, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(string(pid), "\n ") || string(pid) == "" {
		t.Fatalf("pid file %q: want a bare pid", pid)
	}
	if st["pid"].(float64) <= 0 {
		t.Fatalf("state pid = %v", st["pid"])
	}
	e.MustRun("start", id)
	if st := e.State(id); st["status"] != "running" {
		t.Fatalf("status after start = %v, want running", st["status"])
	}
	e.MustRun("kill", id, "KILL")
	waitStatus(t, e, id, "stopped")
	e.MustRun("delete", id)
	if _, _, code := e.Run("state", id); code == 0 {
		t.Fatal("state succeeded after delete")
	}
}

// waitStatus polls state until id has status want.
func waitStatus(t *testing.T, e *Env, id, want string) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if e.State(id)["status"] == want {
			return
		}
		sleepBriefly()
	}
	t.Fatalf("%s never reached status %s (now %v)", id, want, e.State(id)["status"])
}
