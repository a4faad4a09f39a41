package integration

//lint:file-ignore SA1019 prestart hooks are deprecated but Docker still sends them, so they are tested

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// recordHook is a hook that writes its stdin to dir/name.json, its mount
// and network namespaces to dir/name.ns and appends name to dir/order. sh
// is the shell's path where the hook runs (the host's, or the container's
// for startContainer).
func recordHook(sh, dir, name string) specs.Hook {
	script := fmt.Sprintf("cat > %[1]s/%[2]s.json.tmp && mv %[1]s/%[2]s.json.tmp %[1]s/%[2]s.json; "+
		"readlink /proc/self/ns/mnt > %[1]s/%[2]s.ns; readlink /proc/self/ns/net >> %[1]s/%[2]s.ns; echo %[2]s >> %[1]s/order", dir, name)
	return specs.Hook{Path: sh, Args: []string{"sh", "-c", script}}
}

// failHook fails with a message on stderr.
func failHook(sh string) specs.Hook {
	return specs.Hook{Path: sh, Args: []string{"sh", "-c", "echo hook-says-boom >&2; exit 7"}}
}

// hookState reads the state a recordHook got.
func hookState(t *testing.T, dir, name string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name+".json"))
	if err != nil {
		t.Fatalf("%s hook did not run: %v", name, err)
	}
	var st map[string]any
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatalf("%s hook got %q on stdin: %v", name, data, err)
	}
	return st
}

func readOrder(dir string) string {
	data, _ := os.ReadFile(filepath.Join(dir, "order"))
	return strings.Join(strings.Fields(string(data)), " ")
}

// waitFile polls until path exists.
func waitFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		sleepBriefly()
	}
	t.Fatalf("%s never appeared", path)
}

// TestHooksRunWithState: every kind of hook runs, in lifecycle order, in
// the right place, with the container's state on stdin.
func TestHooksRunWithState(t *testing.T) {
	e := NewEnv(t)
	sh := shellPath(t)
	dir := t.TempDir()
	id := e.NewID()
	b := e.Bundle(id, []string{"sleep", "100"}, func(s *specs.Spec) {
		s.Root.Readonly = false
		s.Annotations = map[string]string{"org.example.key": "value"}
		s.Hooks = &specs.Hooks{
			Prestart:        []specs.Hook{recordHook(sh, dir, "prestart")},
			CreateRuntime:   []specs.Hook{recordHook(sh, dir, "createRuntime")},
			CreateContainer: []specs.Hook{recordHook(sh, dir, "createContainer")},
			// Inside the container: its /bin/sh, its filesystem.
			StartContainer: []specs.Hook{recordHook("/bin/sh", "", "startContainer")},
			Poststart:      []specs.Hook{recordHook(sh, dir, "poststart")},
			Poststop:       []specs.Hook{recordHook(sh, dir, "poststop")},
		}
	})
	e.MustRun("create", "--bundle", b, id)
	pid := e.State(id)["pid"].(float64)
	if got := readOrder(dir); got != "prestart createRuntime createContainer" {
		t.Fatalf("hooks run by create: %q", got)
	}
	// prestart and createRuntime run in the runtime's namespaces,
	// createContainer in the container's.
	hostNS := readlinkHost(t, "/proc/self/ns/mnt") + "\n" + readlinkHost(t, "/proc/self/ns/net") + "\n"
	ctrNS := readlinkHost(t, fmt.Sprintf("/proc/%d/ns/mnt", int(pid))) + "\n" + readlinkHost(t, fmt.Sprintf("/proc/%d/ns/net", int(pid))) + "\n"
	for name, want := range map[string]string{"prestart": hostNS, "createRuntime": hostNS, "createContainer": ctrNS} {
		if got, _ := os.ReadFile(filepath.Join(dir, name+".ns")); string(got) != want {
			t.Errorf("%s hook ran in namespaces %q, want %q", name, got, want)
		}
	}
	e.MustRun("start", id)
	if got := readOrder(dir); got != "prestart createRuntime createContainer poststart" {
		t.Fatalf("hooks run by create and start: %q", got)
	}
	rootfs := filepath.Join(b, "rootfs")
	waitFile(t, filepath.Join(rootfs, "startContainer.json"))
	if got, _ := os.ReadFile(filepath.Join(rootfs, "startContainer.ns")); string(got) != ctrNS {
		t.Errorf("startContainer hook ran in namespaces %q, want the container's %q", got, ctrNS)
	}
	e.MustRun("kill", id, "KILL")
	waitStatus(t, e, id, "stopped")
	e.MustRun("delete", id)
	if got := readOrder(dir); got != "prestart createRuntime createContainer poststart poststop" {
		t.Fatalf("hooks run over the lifecycle: %q", got)
	}
	// runc's statuses: creating until create is done, created for
	// startContainer, running after start, stopped after delete.
	for _, h := range []struct{ dir, name, status string }{
		{dir, "prestart", "creating"}, {dir, "createRuntime", "creating"}, {dir, "createContainer", "creating"},
		{rootfs, "startContainer", "created"}, {dir, "poststart", "running"}, {dir, "poststop", "stopped"},
	} {
		st := hookState(t, h.dir, h.name)
		if st["id"] != id || st["bundle"] != b || st["status"] != h.status || st["ociVersion"] == nil {
			t.Errorf("%s hook state %v: want id %s, bundle %s, status %s", h.name, st, id, b, h.status)
		}
		if st["pid"] != pid {
			t.Errorf("%s hook state pid %v, want the container's pid %v as the host sees it", h.name, st["pid"], pid)
		}
		if a, _ := st["annotations"].(map[string]any); a["org.example.key"] != "value" {
			t.Errorf("%s hook state annotations %v", h.name, st["annotations"])
		}
	}
}

// TestHookArgsAndEnv: a hook gets exactly its args and env.
func TestHookArgsAndEnv(t *testing.T) {
	e := NewEnv(t)
	sh := shellPath(t)
	out := filepath.Join(t.TempDir(), "out")
	_, stderr, code := e.RunContainer([]string{"true"}, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{Prestart: []specs.Hook{{
			Path: sh,
			Args: []string{"sh", "-c", `echo "$0|$1|$2" > "$OUT"; env >> "$OUT"`, "arg0", "arg 1", "arg2"},
			Env:  []string{"OUT=" + out, "FOO=bar"},
		}}}
	})
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("hook did not run: %v", err)
	}
	lines := strings.Split(string(data), "\n")
	if lines[0] != "arg0|arg 1|arg2" {
		t.Errorf("hook args %q, want arg0|arg 1|arg2", lines[0])
	}
	env := "\n" + strings.Join(lines[1:], "\n")
	if !strings.Contains(env, "\nFOO=bar\n") {
		t.Errorf("hook env lacks FOO=bar:%s", env)
	}
	if strings.Contains(env, "MINIRUNC_TEST_MNTNS") || strings.Contains(env, "\nHOME=") {
		t.Errorf("hook env has the runtime's environment:%s", env)
	}
}

// TestHookTimeout: a hook that outlives its timeout is killed and create
// fails, leaving nothing behind.
func TestHookTimeout(t *testing.T) {
	e := NewEnv(t)
	sh := shellPath(t)
	id := e.NewID()
	b := e.Bundle(id, []string{"true"}, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{Prestart: []specs.Hook{{Path: sh, Args: []string{"sh", "-c", "exec sleep 60"}, Timeout: ptr(1)}}}
	})
	start := time.Now()
	_, stderr, code := e.Run("create", "--bundle", b, id)
	took := time.Since(start)
	if code == 0 {
		t.Fatal("create succeeded with a hook that times out")
	}
	if took > 30*time.Second {
		t.Fatalf("create took %v: the hook was not killed at its 1s timeout", took)
	}
	if !strings.Contains(stderr, "prestart") || !strings.Contains(stderr, "timed out") {
		t.Errorf("stderr %q: want the prestart hook named and timed out", stderr)
	}
	e.assertNoResidue(id)
}

// TestHookFailureFailsCreate: a failing prestart, createRuntime or
// createContainer hook fails create, with the hook's message, and leaves
// no state and no cgroup.
func TestHookFailureFailsCreate(t *testing.T) {
	for _, kind := range []string{"prestart", "createRuntime", "createContainer"} {
		t.Run(kind, func(t *testing.T) {
			e := NewEnv(t)
			sh := shellPath(t)
			id := e.NewID()
			b := e.Bundle(id, []string{"true"}, func(s *specs.Spec) {
				h := []specs.Hook{failHook(sh)}
				s.Hooks = &specs.Hooks{}
				switch kind {
				case "prestart":
					s.Hooks.Prestart = h
				case "createRuntime":
					s.Hooks.CreateRuntime = h
				case "createContainer":
					s.Hooks.CreateContainer = h
				}
			})
			_, stderr, code := e.Run("create", "--bundle", b, id)
			if code == 0 {
				t.Fatalf("create succeeded with a failing %s hook", kind)
			}
			if !strings.Contains(stderr, kind) || !strings.Contains(stderr, "hook-says-boom") {
				t.Errorf("stderr %q: want the %s hook named and its message", stderr, kind)
			}
			e.assertNoResidue(id)
		})
	}
}

// TestHookStartContainerFailure: a failing startContainer hook stops the
// container's process from running.
func TestHookStartContainerFailure(t *testing.T) {
	e := NewEnv(t)
	out, stderr, code := e.RunContainer([]string{"echo", "process-ran"}, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo hook-says-boom >&2; exit 7"}}}}
	})
	if code == 0 || strings.Contains(out, "process-ran") {
		t.Fatalf("exit %d, stdout %q: want the process never run", code, out)
	}
	if !strings.Contains(stderr, "startContainer") || !strings.Contains(stderr, "hook-says-boom") {
		t.Errorf("stderr %q: want the startContainer hook named and its message", stderr)
	}
}

// TestHookPoststartFailureWarns: a failing poststart hook is a warning;
// start succeeds and the container runs.
func TestHookPoststartFailureWarns(t *testing.T) {
	e := NewEnv(t)
	sh := shellPath(t)
	id := e.NewID()
	dir := t.TempDir()
	b := e.Bundle(id, []string{"sleep", "100"}, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{Poststart: []specs.Hook{failHook(sh), recordHook(sh, dir, "second")}}
	})
	e.MustRun("create", "--bundle", b, id)
	_, stderr, code := e.Run("start", id)
	if code != 0 {
		t.Fatalf("start: exit %d with a failing poststart hook: %s", code, stderr)
	}
	if !strings.Contains(stderr, "poststart") || !strings.Contains(stderr, "hook-says-boom") {
		t.Errorf("stderr %q: want a warning naming the poststart hook", stderr)
	}
	if st := e.State(id); st["status"] != "running" {
		t.Errorf("status after start = %v, want running", st["status"])
	}
	if readOrder(dir) != "second" {
		t.Errorf("the poststart hook after the failing one did not run")
	}
}

// TestHookPoststopFailureWarns: a failing poststop hook is a warning;
// delete succeeds and removes the container.
func TestHookPoststopFailureWarns(t *testing.T) {
	e := NewEnv(t)
	sh := shellPath(t)
	id := e.NewID()
	b := e.Bundle(id, []string{"true"}, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{Poststop: []specs.Hook{failHook(sh)}}
	})
	e.MustRun("run", "--keep", "--bundle", b, id)
	_, stderr, code := e.Run("delete", id)
	if code != 0 {
		t.Fatalf("delete: exit %d with a failing poststop hook: %s", code, stderr)
	}
	if !strings.Contains(stderr, "poststop") || !strings.Contains(stderr, "hook-says-boom") {
		t.Errorf("stderr %q: want a warning naming the poststop hook", stderr)
	}
	if _, _, code := e.Run("state", id); code == 0 {
		t.Error("container still exists after delete")
	}
	if d := hostCgroupDirs(id); len(d) > 0 {
		t.Errorf("cgroups left: %v", d)
	}
}
