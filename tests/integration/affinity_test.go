package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cpusAllowed is the Cpus_allowed_list line of a /proc/<pid>/status.
func cpusAllowed(t *testing.T, status string) string {
	t.Helper()
	for _, l := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(l, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no Cpus_allowed_list in %q", status)
	return ""
}

// timerSlack is the number after "slack " in out (what statusCmd printed).
func timerSlack(t *testing.T, out string) string {
	t.Helper()
	_, after, ok := strings.Cut(out, "slack ")
	if !ok {
		t.Fatalf("no timer slack in %q", out)
	}
	return strings.Fields(after)[0]
}

// statusCmd prints a process's status and its timer slack.
const statusCmd = "cat /proc/self/status; echo slack $(cat /proc/self/timerslack_ns)"

// TestAffinityInherited: minirunc keeps its own threads on one CPU and
// sleeps with a wide timer slack, but the container's process, an exec'd
// one and a hook get the affinity minirunc was started with, whether all
// CPUs or the one taskset gave, and its timer slack.
func TestAffinityInherited(t *testing.T) {
	e := NewEnv(t)
	self, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	all := cpusAllowed(t, string(self))
	slack, err := os.ReadFile("/proc/self/timerslack_ns")
	if err != nil {
		t.Fatal(err)
	}
	wantSlack := strings.TrimSpace(string(slack))
	last := strconv.Itoa(runtime.NumCPU() - 1)
	for _, tc := range []struct{ taskset, want string }{{"", all}, {last, last}} {
		id := e.NewID()
		hookOut := filepath.Join(e.dir, "hook-"+id)
		b := e.Bundle(id, []string{"sh", "-c", statusCmd}, func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "(" + statusCmd + ") > " + hookOut}}}}
		})
		args := []string{minirunc, "--root", e.Root, "run", "--bundle", b, id}
		if tc.taskset != "" {
			args = append([]string{"taskset", "-c", tc.taskset}, args...)
		}
		out, err := exec.Command(args[0], args[1:]...).Output()
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if got := cpusAllowed(t, string(out)); got != tc.want {
			t.Errorf("taskset %q: the container's process may run on %s, want %s", tc.taskset, got, tc.want)
		}
		if got := timerSlack(t, string(out)); got != wantSlack {
			t.Errorf("the container's process has a timer slack of %s ns, want %s", got, wantSlack)
		}
		hook, err := os.ReadFile(hookOut)
		if err != nil {
			t.Fatal(err)
		}
		if got := cpusAllowed(t, string(hook)); got != tc.want {
			t.Errorf("taskset %q: the createRuntime hook may run on %s, want %s", tc.taskset, got, tc.want)
		}
		if got := timerSlack(t, string(hook)); got != wantSlack {
			t.Errorf("the createRuntime hook has a timer slack of %s ns, want %s", got, wantSlack)
		}
	}
	id, _ := e.sleeper(nil)
	out, stderr, code := e.Run("exec", id, "sh", "-c", statusCmd)
	if code != 0 {
		t.Fatalf("exec: exit %d: %s", code, stderr)
	}
	if got := cpusAllowed(t, out); got != all {
		t.Errorf("the exec'd process may run on %s, want %s", got, all)
	}
	if got := timerSlack(t, out); got != wantSlack {
		t.Errorf("the exec'd process has a timer slack of %s ns, want %s", got, wantSlack)
	}
}
