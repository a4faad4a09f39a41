package cgroup

import (
	"os"
	"path/filepath"
	"testing"
)

// TestFillCpusetFromHalfFilledParent: a parent cpuset whose cpus a
// concurrent create has set but not yet its mems counts as empty, and a
// child filled from it gets the mems from above, not none (with none,
// every process joining the child fails with ENOSPC).
func TestFillCpusetFromHalfFilledParent(t *testing.T) {
	root := t.TempDir()
	parent := filepath.Join(root, "bench")
	child := filepath.Join(parent, "c1")
	write := func(d, f, v string) {
		t.Helper()
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, f), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(root, "cpuset.cpus", "0-1\n")
	write(root, "cpuset.mems", "0\n")
	write(parent, "cpuset.cpus", "0-1\n")
	write(parent, "cpuset.mems", "\n")
	write(child, "cpuset.cpus", "\n")
	write(child, "cpuset.mems", "\n")
	if !cpusetEmpty(parent) {
		t.Error("a cpuset with cpus but no mems counts as filled")
	}
	if err := fillCpuset(child, parent); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{parent, child} {
		for f, want := range map[string]string{"cpuset.cpus": "0-1\n", "cpuset.mems": "0\n"} {
			if got, _ := os.ReadFile(filepath.Join(d, f)); string(got) != want {
				t.Errorf("%s/%s = %q, want %q", d, f, got, want)
			}
		}
	}
	if cpusetEmpty(child) {
		t.Error("the filled child still counts as empty")
	}
}
