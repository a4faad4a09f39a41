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

// TestAffinityInherited: minirunc keeps its own threads on one CPU, but
// the container's process, an exec'd one and a hook get the affinity
// minirunc was started with, whether all CPUs or the one taskset gave.
func TestAffinityInherited(t *testing.T) {
	e := NewEnv(t)
	self, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	all := cpusAllowed(t, string(self))
	last := strconv.Itoa(runtime.NumCPU() - 1)
	for _, tc := range []struct{ taskset, want string }{{"", all}, {last, last}} {
		id := e.NewID()
		hookOut := filepath.Join(e.dir, "hook-"+id)
		b := e.Bundle(id, []string{"sh", "-c", "cat /proc/self/status"}, func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "cat /proc/self/status > " + hookOut}}}}
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
		hook, err := os.ReadFile(hookOut)
		if err != nil {
			t.Fatal(err)
		}
		if got := cpusAllowed(t, string(hook)); got != tc.want {
			t.Errorf("taskset %q: the createRuntime hook may run on %s, want %s", tc.taskset, got, tc.want)
		}
	}
	id, _ := e.sleeper(nil)
	out, stderr, code := e.Run("exec", id, "cat", "/proc/self/status")
	if code != 0 {
		t.Fatalf("exec: exit %d: %s", code, stderr)
	}
	if got := cpusAllowed(t, out); got != all {
		t.Errorf("the exec'd process may run on %s, want %s", got, all)
	}
}
