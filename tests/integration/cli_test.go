package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// startContainer creates and starts args in a fresh container and returns
// its id and bundle.
func (e *Env) startContainer(args []string, mutate func(*specs.Spec)) (string, string) {
	e.t.Helper()
	id := e.NewID()
	b := e.Bundle(id, args, mutate)
	e.MustRun("create", "--bundle", b, id)
	e.MustRun("start", id)
	return id, b
}

// statePid is the pid `state` reports.
func statePid(e *Env, id string) int {
	e.t.Helper()
	return int(e.State(id)["pid"].(float64))
}

func TestVersion(t *testing.T) {
	e := NewEnv(t)
	out, stderr, code := e.Run("--version")
	if code != 0 || stderr != "" {
		t.Fatalf("--version: exit %d, stderr %q", code, stderr)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if !regexp.MustCompile(`^minirunc version \S+$`).MatchString(lines[0]) {
		t.Errorf("line 1 %q, want `minirunc version X`", lines[0])
	}
	spec := false
	for _, l := range lines[1:] {
		if strings.Contains(l, "version") {
			t.Errorf("`version` must be on line 1 only (dockerd splits on it), also in %q", l)
		}
		if v, ok := strings.CutPrefix(l, "spec: "); ok && v != "" {
			spec = true
		}
	}
	if !spec {
		t.Errorf("no `spec: ` line in %q", out)
	}
}

// TestKillSignalForms: a number, a name without SIG and one with SIG all
// mean the same signal; the foreground run reports 128+9.
func TestKillSignalForms(t *testing.T) {
	for _, sig := range []string{"9", "KILL", "SIGKILL"} {
		t.Run(sig, func(t *testing.T) {
			e := NewEnv(t)
			id := e.NewID()
			b := e.Bundle(id, []string{"sh", "-c", "echo ready; sleep 100 & wait"}, nil)
			r := e.startBgRun(b, id)
			r.waitLine("ready")
			if _, stderr, code := e.Run("kill", id, sig); code != 0 {
				t.Fatalf("kill %s %s: exit %d: %s", id, sig, code, stderr)
			}
			if code := r.wait(); code != 137 {
				t.Fatalf("run exit %d after kill %s, want 137; stderr: %s", code, sig, r.Stderr())
			}
		})
	}
}

// TestKillDefaultTERM: kill without a signal sends TERM, which the
// container's trap turns into exit 7.
func TestKillDefaultTERM(t *testing.T) {
	e := NewEnv(t)
	id := e.NewID()
	b := e.Bundle(id, []string{"sh", "-c", `trap "exit 7" TERM; echo ready; sleep 100 & wait`}, nil)
	r := e.startBgRun(b, id)
	r.waitLine("ready")
	if _, stderr, code := e.Run("kill", id); code != 0 {
		t.Fatalf("kill %s: exit %d: %s", id, code, stderr)
	}
	if code := r.wait(); code != 7 {
		t.Fatalf("run exit %d after kill, want 7 (the TERM trap); stderr: %s", code, r.Stderr())
	}
}

// TestFlagValueForms: --flag=value works like --flag value, for global and
// command flags.
func TestFlagValueForms(t *testing.T) {
	e := NewEnv(t)
	id := e.NewID()
	b := e.Bundle(id, []string{"sleep", "100"}, nil)
	pidFile := filepath.Join(t.TempDir(), "pid")
	if _, stderr, code := cliRun(t, nil, nil, "--root="+e.Root, "create", "--bundle="+b, "--pid-file="+pidFile, id); code != 0 {
		t.Fatalf("--root=R create --bundle=B --pid-file=P: exit %d: %s", code, stderr)
	}
	st := e.State(id) // --root R
	if st["status"] != "created" || st["bundle"] != b {
		t.Fatalf("state after create with = flags: %v", st)
	}
	pid, err := os.ReadFile(pidFile)
	if err != nil || string(pid) != strconv.Itoa(int(st["pid"].(float64))) {
		t.Fatalf("pid file %q (%v), state pid %v", pid, err, st["pid"])
	}
	if _, stderr, code := cliRun(t, nil, nil, "--root="+e.Root, "start", id); code != 0 {
		t.Fatalf("--root=R start: exit %d: %s", code, stderr)
	}
	if st := e.State(id); st["status"] != "running" {
		t.Fatalf("status %v after start, want running", st["status"])
	}
	if _, stderr, code := cliRun(t, nil, nil, "--root", e.Root, "--log-format=text", "delete", "--force=true", id); code != 0 {
		t.Fatalf("delete --force=true: exit %d: %s", code, stderr)
	}
	requireNoResidue(t, e.Root, id)
}

// TestKillAll: kill --all signals every process in the container, not only
// init (here without a pid namespace, where killing init spares the rest).
func TestKillAll(t *testing.T) {
	e := NewEnv(t)
	id, _ := e.startContainer([]string{"sh", "-c", "sleep 100 & sleep 100 & wait"}, noPidNS)
	waitFor(t, "three processes in the container", func() bool { return len(procsInCgroup(id)) >= 3 })
	if _, stderr, code := e.Run("kill", "--all", id, "KILL"); code != 0 {
		t.Fatalf("kill --all: exit %d: %s", code, stderr)
	}
	waitFor(t, "every container process to die", func() bool { return len(procsInCgroup(id)) == 0 })
	waitStatus(t, e, id, "stopped")
}

// twoContainers makes one created and one running container.
func twoContainers(e *Env) (created, running string) {
	e.t.Helper()
	created = e.NewID()
	b := e.Bundle(created, []string{"sleep", "100"}, nil)
	e.MustRun("create", "--bundle", b, created)
	running, _ = e.startContainer([]string{"sleep", "100"}, nil)
	return created, running
}

func TestListTable(t *testing.T) {
	e := NewEnv(t)
	created, running := twoContainers(e)
	out := e.MustRun("list")
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if got := strings.Fields(lines[0]); strings.Join(got, " ") != "ID PID STATUS BUNDLE CREATED OWNER" {
		t.Fatalf("header %q, want ID PID STATUS BUNDLE CREATED OWNER", lines[0])
	}
	if len(lines) != 3 {
		t.Fatalf("list shows %d rows, want 2:\n%s", len(lines)-1, out)
	}
	rows := map[string][]string{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != 6 {
			t.Fatalf("row %q has %d columns, want 6", l, len(f))
		}
		rows[f[0]] = f
	}
	for id, status := range map[string]string{created: "created", running: "running"} {
		f, ok := rows[id]
		if !ok {
			t.Fatalf("no row for %s:\n%s", id, out)
		}
		st := e.State(id)
		if f[1] != strconv.Itoa(int(st["pid"].(float64))) || f[2] != status || f[3] != st["bundle"] {
			t.Errorf("row %q, want pid %v status %s bundle %v", f, st["pid"], status, st["bundle"])
		}
		if _, err := time.Parse(time.RFC3339Nano, f[4]); err != nil {
			t.Errorf("CREATED %q: %v", f[4], err)
		}
		if f[5] != "root" {
			t.Errorf("OWNER %q, want root (runc shows the state dir owner's name)", f[5])
		}
	}
}

func TestListJSON(t *testing.T) {
	e := NewEnv(t)
	created, running := twoContainers(e)
	out := e.MustRun("list", "--format", "json")
	var list []map[string]any
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("list --format json: %v: %s", err, out)
	}
	if len(list) != 2 {
		t.Fatalf("%d entries, want 2: %s", len(list), out)
	}
	byID := map[string]map[string]any{}
	for _, c := range list {
		id, _ := c["id"].(string)
		byID[id] = c
	}
	for id, status := range map[string]string{created: "created", running: "running"} {
		c, ok := byID[id]
		if !ok {
			t.Fatalf("no entry for %s: %s", id, out)
		}
		st := e.State(id)
		if c["status"] != status || c["pid"] != st["pid"] || c["bundle"] != st["bundle"] {
			t.Errorf("entry %v, want status %s pid %v bundle %v", c, status, st["pid"], st["bundle"])
		}
		if c["owner"] != "root" {
			t.Errorf("owner %v, want root", c["owner"])
		}
	}
}

// TestListDuringCreate: list does not wait for a create under way (its
// createRuntime hook holds it for seconds) and shows it as creating;
// once the create is done, created.
func TestListDuringCreate(t *testing.T) {
	e := NewEnv(t)
	id := e.NewID()
	b := e.Bundle(id, []string{"sleep", "100"}, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sleep", Args: []string{"sleep", "2"}}}}
	})
	a := e.runAsync("create", "--bundle", b, id)
	statusOf := func() string {
		var list []map[string]any
		out := e.MustRun("list", "--format", "json")
		if err := json.Unmarshal([]byte(out), &list); err != nil && strings.TrimSpace(out) != "null" {
			t.Fatalf("list --format json: %v: %s", err, out)
		}
		for _, c := range list {
			if c["id"] == id {
				s, _ := c["status"].(string)
				return s
			}
		}
		return ""
	}
	waitFor(t, "the create to record its state", func() bool {
		_, err := os.Stat(filepath.Join(e.Root, id, "state.json"))
		return err == nil
	})
	if st := statusOf(); st != "creating" {
		t.Errorf("list during the create: status %q, want creating", st)
	}
	<-a.done
	if a.code != 0 {
		t.Fatalf("create: exit %d", a.code)
	}
	if st := statusOf(); st != "created" {
		t.Errorf("list after the create: status %q, want created", st)
	}
	e.MustRun("delete", "--force", id)
}

func TestListQuiet(t *testing.T) {
	e := NewEnv(t)
	created, running := twoContainers(e)
	got := strings.Fields(e.MustRun("list", "-q"))
	want := []string{created, running}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("list -q = %q, want %q", got, want)
	}
}

func TestStateFields(t *testing.T) {
	e := NewEnv(t)
	before := time.Now()
	id, b := e.startContainer([]string{"sleep", "100"}, nil)
	st := e.State(id)
	for _, k := range []string{"ociVersion", "id", "pid", "status", "bundle", "rootfs", "created"} {
		if _, ok := st[k]; !ok {
			t.Errorf("state has no %q: %v", k, st)
		}
	}
	if st["ociVersion"] != defaultSpec().Version || st["id"] != id || st["status"] != "running" ||
		st["bundle"] != b || st["rootfs"] != filepath.Join(b, "rootfs") {
		t.Errorf("state %v: want ociVersion %s, id %s, running, bundle %s, rootfs %s/rootfs", st, defaultSpec().Version, id, b, b)
	}
	pid, _ := st["pid"].(float64)
	if pid <= 0 || pidGone(int(pid)) {
		t.Errorf("state pid %v is not a live process", st["pid"])
	}
	created, err := time.Parse(time.RFC3339Nano, st["created"].(string))
	if err != nil || created.Before(before.Add(-time.Second)) || created.After(time.Now().Add(time.Second)) {
		t.Errorf("created %v (%v): want an RFC 3339 time of the create", st["created"], err)
	}
}

func TestStateStopped(t *testing.T) {
	e := NewEnv(t)
	id, _ := e.startContainer([]string{"true"}, nil)
	waitStatus(t, e, id, "stopped")
	if st := e.State(id); st["pid"] != float64(0) {
		t.Fatalf("stopped container: pid %v, want 0", st["pid"])
	}
}

func TestRunExitCode(t *testing.T) {
	e := NewEnv(t)
	if _, stderr, code := e.RunContainer([]string{"sh", "-c", "exit 3"}, nil); code != 3 {
		t.Fatalf("run exit %d, want 3: %s", code, stderr)
	}
}

// TestRunExitCodeSignal: a container killed by signal N makes run exit
// 128+N. (A pid namespace init cannot SIGKILL itself, hence no pid ns.)
func TestRunExitCodeSignal(t *testing.T) {
	e := NewEnv(t)
	if _, stderr, code := e.RunContainer([]string{"sh", "-c", "kill -9 $$"}, noPidNS); code != 137 {
		t.Fatalf("run exit %d, want 137: %s", code, stderr)
	}
}

// TestRunForwardsSignals: run passes signals on to the container's
// process: a common one at once, and a rarely sent one (caught a moment
// after the process starts) too.
func TestRunForwardsSignals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		sig    syscall.Signal
		script string
		code   int
	}{
		{"TERM", syscall.SIGTERM, `trap "exit 7" TERM; echo ready; sleep 100 & wait`, 7},
		{"PWR", syscall.SIGPWR, `trap "exit 6" PWR; sleep 0.5; echo ready; sleep 100 & wait`, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEnv(t)
			id := e.NewID()
			r := e.startBgRun(e.Bundle(id, []string{"sh", "-c", tc.script}, nil), id)
			r.waitLine("ready")
			r.signal(tc.sig)
			if code := r.wait(); code != tc.code {
				t.Fatalf("run exit %d after %v, want %d; stderr: %s", code, tc.sig, tc.code, r.Stderr())
			}
			requireNoResidue(t, e.Root, id)
		})
	}
}

func TestRunDetach(t *testing.T) {
	e := NewEnv(t)
	id := e.NewID()
	b := e.Bundle(id, []string{"sleep", "100"}, nil)
	if _, stderr, code := e.Run("run", "--detach", "--bundle", b, id); code != 0 {
		t.Fatalf("run --detach: exit %d: %s", code, stderr)
	}
	st := e.State(id)
	if st["status"] != "running" || pidGone(int(st["pid"].(float64))) {
		t.Fatalf("after run --detach: %v, want running", st)
	}
}

func TestRunKeep(t *testing.T) {
	e := NewEnv(t)
	id := e.NewID()
	b := e.Bundle(id, []string{"sh", "-c", "exit 3"}, nil)
	if _, stderr, code := e.Run("run", "--keep", "--bundle", b, id); code != 3 {
		t.Fatalf("run --keep: exit %d, want 3: %s", code, stderr)
	}
	if st := e.State(id); st["status"] != "stopped" || st["pid"] != float64(0) {
		t.Fatalf("state after run --keep: %v, want stopped, pid 0", st)
	}
	e.MustRun("delete", id)
	requireNoResidue(t, e.Root, id)
}

func TestRunDeletesByDefault(t *testing.T) {
	e := NewEnv(t)
	id := e.NewID()
	b := e.Bundle(id, []string{"true"}, nil)
	if _, stderr, code := e.Run("run", "--bundle", b, id); code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	if _, stderr, code := e.Run("state", id); code == 0 || !strings.Contains(stderr, "container does not exist") {
		t.Fatalf("state after run: exit %d, stderr %q; want container does not exist", code, stderr)
	}
	requireNoResidue(t, e.Root, id)
}

func TestRunStdio(t *testing.T) {
	e := NewEnv(t)
	id := e.NewID()
	b := e.Bundle(id, []string{"sh", "-c", `echo to-stdout; echo to-stderr >&2; read line; echo "got $line"`}, nil)
	out, stderr, code := e.RunIn([]byte("hello\n"), "run", "--bundle", b, id)
	if code != 0 || out != "to-stdout\ngot hello\n" || stderr != "to-stderr\n" {
		t.Fatalf("run: exit %d, stdout %q, stderr %q; want 0, \"to-stdout\\ngot hello\\n\", \"to-stderr\\n\"", code, out, stderr)
	}
}

func TestCreatePidFile(t *testing.T) {
	e := NewEnv(t)
	id := e.NewID()
	b := e.Bundle(id, []string{"sleep", "100"}, nil)
	pidFile := filepath.Join(t.TempDir(), "init.pid")
	e.MustRun("create", "--bundle", b, "--pid-file", pidFile, id)
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[1-9][0-9]*$`).Match(data) {
		t.Fatalf("pid file %q: want a bare decimal pid, no newline", data)
	}
	if want := strconv.Itoa(statePid(e, id)); string(data) != want {
		t.Fatalf("pid file %q, state pid %s", data, want)
	}
}

// TestCreatePreserveFDs: --preserve-fds 1 hands fd 3 to the container, and
// nothing above it.
func TestCreatePreserveFDs(t *testing.T) {
	e := NewEnv(t)
	dir := t.TempDir()
	f3, err := os.Create(filepath.Join(dir, "fd3"))
	if err != nil {
		t.Fatal(err)
	}
	defer f3.Close()
	f4, err := os.Create(filepath.Join(dir, "fd4"))
	if err != nil {
		t.Fatal(err)
	}
	defer f4.Close()
	id := e.NewID()
	b := e.Bundle(id, []string{"sh", "-c", `echo via-fd3 >&3; if [ -e /proc/$$/fd/4 ]; then echo fd4-leaked >&3; fi`}, nil)
	if _, stderr, code := e.RunFiles([]*os.File{f3, f4}, "create", "--preserve-fds", "1", "--bundle", b, id); code != 0 {
		t.Fatalf("create --preserve-fds 1: exit %d: %s", code, stderr)
	}
	e.MustRun("start", id)
	waitStatus(t, e, id, "stopped")
	if got, _ := os.ReadFile(f3.Name()); string(got) != "via-fd3\n" {
		t.Fatalf("fd 3 file holds %q, want \"via-fd3\\n\"", got)
	}
}

func TestStartRunningFails(t *testing.T) {
	e := NewEnv(t)
	id, _ := e.startContainer([]string{"sleep", "100"}, nil)
	_, stderr, code := e.Run("start", id)
	if code == 0 || !strings.Contains(stderr, "cannot start an already running container") {
		t.Fatalf("start of a running container: exit %d, stderr %q", code, stderr)
	}
	if st := e.State(id); st["status"] != "running" {
		t.Fatalf("status %v after the failed start, want running", st["status"])
	}
}

func TestStartStoppedFails(t *testing.T) {
	e := NewEnv(t)
	id, _ := e.startContainer([]string{"true"}, nil)
	waitStatus(t, e, id, "stopped")
	_, stderr, code := e.Run("start", id)
	if code == 0 || !strings.Contains(stderr, "cannot start a container that has stopped") {
		t.Fatalf("start of a stopped container: exit %d, stderr %q", code, stderr)
	}
}

func TestDeleteRunningRefused(t *testing.T) {
	e := NewEnv(t)
	id, _ := e.startContainer([]string{"sleep", "100"}, nil)
	_, stderr, code := e.Run("delete", id)
	if code == 0 || !strings.Contains(stderr, "not stopped") {
		t.Fatalf("delete of a running container: exit %d, stderr %q; want failure, not stopped", code, stderr)
	}
	if st := e.State(id); st["status"] != "running" {
		t.Fatalf("status %v after the refused delete, want running", st["status"])
	}
}

func TestDeleteForceRunning(t *testing.T) {
	e := NewEnv(t)
	id, _ := e.startContainer([]string{"sleep", "100"}, nil)
	pid := statePid(e, id)
	mem := filepath.Join("/sys/fs/cgroup/memory", cgroupParent, id)
	if _, err := os.Stat(mem); err != nil {
		t.Fatalf("running container has no memory cgroup: %v", err)
	}
	if _, stderr, code := e.Run("delete", "--force", id); code != 0 {
		t.Fatalf("delete --force: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(mem); !os.IsNotExist(err) {
		t.Errorf("%s left after delete --force (%v)", mem, err)
	}
	requireNoResidue(t, e.Root, id)
	if !pidGone(pid) {
		t.Errorf("init %d still runs after delete --force", pid)
	}
}

func TestDeleteCreated(t *testing.T) {
	e := NewEnv(t)
	id := e.NewID()
	b := e.Bundle(id, []string{"sleep", "100"}, nil)
	e.MustRun("create", "--bundle", b, id)
	pid := statePid(e, id)
	if _, stderr, code := e.Run("delete", id); code != 0 {
		t.Fatalf("delete of a created container: exit %d: %s", code, stderr)
	}
	requireNoResidue(t, e.Root, id)
	if !pidGone(pid) {
		t.Errorf("init %d still runs after delete", pid)
	}
}
