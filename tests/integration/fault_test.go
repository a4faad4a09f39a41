package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The crash-at-every-step test (issue 11). A second minirunc is built with
// the faultinject tag: it SIGKILLs itself at the step $MINIRUNC_FAULT
// names (package fault). The steps are found by tracing one whole
// lifecycle ($MINIRUNC_FAULT_TRACE), so a step added to the runtime is
// tested without touching this file; minFaultPoints is the floor.

var minFaultPoints = []string{
	"create:after-mkdir", "create:after-lock", "create:after-fifo", "create:after-state-cgroups",
	"create:after-clone", "create:after-state-pid", "create:after-cgroup-join", "create:after-cgroup-apply",
	"create:after-config-sent", "create:after-hooks", "create:after-init-ready", "create:after-state-created",
	"create:after-pid-file",
	"init:after-config", "init:after-mounts", "init:after-pivot-root", "init:before-ready", "init:after-ready", "init:after-fifo",
	"start:after-pidfd", "start:after-fifo-open", "start:after-fifo-read", "start:after-fifo-remove", "start:after-exec", "start:after-poststart",
	"exec:after-namespaces", "exec:after-clone", "exec:after-cgroup-join", "exec:after-config-sent", "exec:after-exec", "exec:after-pid-file",
	"execinit:after-config", "execinit:before-ready", "execinit:before-exec",
	"delete:after-status", "delete:after-kill", "delete:after-cgroup-kill", "delete:after-cgroup-remove", "delete:after-state-remove",
}

var (
	faultBinOnce sync.Once
	faultBin     string
	faultBinErr  error
)

// faultBinary builds (once) minirunc with the faultinject tag, or takes
// $MINIRUNC_FAULT_BIN.
func faultBinary(t *testing.T) string {
	t.Helper()
	faultBinOnce.Do(func() {
		if faultBin = os.Getenv("MINIRUNC_FAULT_BIN"); faultBin != "" {
			return
		}
		if _, err := exec.LookPath("go"); err != nil {
			faultBinErr = err
			return
		}
		faultBin = filepath.Join(filepath.Dir(baseRoot), "minirunc-faultinject")
		out, err := exec.Command("go", "build", "-tags", "faultinject", "-o", faultBin, "../..").CombinedOutput()
		if err != nil {
			faultBinErr = errors.New(err.Error() + ": " + string(out))
		}
	})
	if faultBinErr != nil {
		t.Skipf("cannot build the faultinject binary: %v", faultBinErr)
	}
	return faultBin
}

// call is one finished minirunc invocation.
type call struct {
	args           []string
	stdout, stderr string
	code           int
	killed         bool // by SIGKILL
}

// runCall runs bin --root root args with extra environment; output goes
// through files so a container holding its stdio does not hold us.
func runCall(t *testing.T, bin, root string, env []string, args ...string) call {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--root", root}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	dir := t.TempDir()
	so, _ := os.Create(filepath.Join(dir, "out"))
	se, _ := os.Create(filepath.Join(dir, "err"))
	defer so.Close()
	defer se.Close()
	cmd.Stdout, cmd.Stderr = so, se
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	timer := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	timer.Stop()
	c := call{args: args}
	if ee, ok := err.(*exec.ExitError); ok {
		c.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			c.killed = true
		}
	} else if err != nil {
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	o, _ := os.ReadFile(so.Name())
	e, _ := os.ReadFile(se.Name())
	c.stdout, c.stderr = string(o), string(e)
	return c
}

// faultBundle is a bundle whose every step runs: hooks of each kind, a
// marker in the environment to find the container's processes by. Its
// root is the shared read-only rootfs: no copy is made (no cp runs while
// adoptOrphans reaps).
func faultBundle(e *Env, id string) string {
	e.t.Helper()
	b := filepath.Join(e.dir, "bundle-"+id)
	if err := os.MkdirAll(b, 0o755); err != nil {
		e.t.Fatal(err)
	}
	s := defaultSpec()
	s.Root = &specs.Root{Path: baseRoot, Readonly: true}
	s.Process.Args = []string{"sleep", "1000"}
	s.Process.Env = append(s.Process.Env, "MINIRUNC_FAULT_MARK="+id)
	s.Linux.CgroupsPath = cgroupParent + "/" + id
	h := specs.Hook{Path: "/bin/true"}
	s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{h}, Poststart: []specs.Hook{h}, Poststop: []specs.Hook{h}}
	e.WriteSpec(b, s)
	return b
}

// lifecycle runs create (with a pid file), start, exec -d (with a pid
// file) and delete --force with bin and env, stopping at the first call
// that is killed or fails. It returns the calls made.
func lifecycle(t *testing.T, e *Env, bin string, env []string, id, b string) []call {
	t.Helper()
	dir := t.TempDir()
	steps := [][]string{
		{"create", "--bundle", b, "--pid-file", filepath.Join(dir, "create.pid"), id},
		{"start", id},
		{"exec", "--detach", "--pid-file", filepath.Join(dir, "exec.pid"), id, "sleep", "1000"},
		{"delete", "--force", id},
	}
	var calls []call
	for _, s := range steps {
		c := runCall(t, bin, e.Root, env, s...)
		calls = append(calls, c)
		if c.killed || c.code != 0 {
			break
		}
	}
	return calls
}

// tracePoints runs one lifecycle with tracing and returns the steps met,
// in order.
func tracePoints(t *testing.T, bin string) []string {
	e := NewEnv(t)
	id := e.NewID()
	trace := filepath.Join(t.TempDir(), "trace")
	for _, c := range lifecycle(t, e, bin, []string{"MINIRUNC_FAULT_TRACE=" + trace}, id, faultBundle(e, id)) {
		if c.code != 0 {
			t.Fatalf("traced %v: exit %d: %s", c.args, c.code, c.stderr)
		}
	}
	data, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	seen := map[string]bool{}
	for _, p := range strings.Fields(string(data)) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

func TestFaultInjectionEveryStep(t *testing.T) {
	bin := faultBinary(t)
	adoptOrphans(t)
	points := tracePoints(t, bin)
	met := map[string]bool{}
	for _, p := range points {
		met[p] = true
	}
	for _, p := range minFaultPoints {
		// An init cannot write the trace once it is in the container's
		// mount namespace (after pivot_root, or an exec's from the
		// start): those steps are taken from the list.
		if !met[p] && !strings.HasPrefix(p, "init:") && !strings.HasPrefix(p, "execinit:") {
			t.Errorf("fault point %s was not reached by a lifecycle", p)
		}
		if !met[p] {
			met[p] = true
			points = append(points, p)
		}
	}
	start := time.Now()
	for _, p := range points {
		t.Run(p, func(t *testing.T) { crashAt(t, bin, p) })
	}
	t.Logf("%d steps injected in %v", len(points), time.Since(start).Round(time.Millisecond))
}

// crashAt runs a lifecycle that dies at point p, then checks that state
// and list tell the truth, that delete --force removes everything and
// that nothing is left.
func crashAt(t *testing.T, bin, p string) {
	e := NewEnv(t)
	id := e.NewID()
	b := faultBundle(e, id)
	calls := lifecycle(t, e, bin, []string{"MINIRUNC_FAULT=" + p, "MINIRUNC_FAULT_MARK=" + id}, id, b)
	last := calls[len(calls)-1]
	t.Logf("%v: exit %d, killed %v: %s", last.args[0], last.code, last.killed, strings.TrimSpace(last.stderr))
	switch {
	case last.killed:
	case strings.HasPrefix(p, "init:") || strings.HasPrefix(p, "execinit:"):
		// The container's init died, not minirunc: the call fails or
		// (after the fifo) start still returns; either way some call
		// must show it, or the container must be stopped.
	case last.code == 0:
		t.Fatalf("no call died at %s: %v", p, calls)
	default:
		t.Fatalf("%v failed without dying at %s: exit %d: %s", last.args, p, last.code, last.stderr)
	}
	if strings.HasPrefix(p, "init:") && !strings.HasPrefix(p, "init:after-fifo") && last.code == 0 {
		t.Fatalf("init died at %s but %v succeeded", p, last.args)
	}
	if strings.HasPrefix(last.args[0], "create") && !last.killed && last.code != 0 {
		requireOneLine(t, last.stderr, "")
	}
	checkTruth(t, e, id)
	t0 := time.Now()
	d := runCall(t, minirunc, e.Root, nil, "delete", "--force", id)
	t.Logf("delete --force took %v", time.Since(t0).Round(time.Millisecond))
	if d.code != 0 || d.stderr != "" {
		t.Fatalf("delete --force after a crash at %s: exit %d: %s", p, d.code, d.stderr)
	}
	requireNothingLeft(t, e, id, b)
}

// checkTruth: the container is absent, or there with a real status and
// a live init for created and running; list agrees with state.
func checkTruth(t *testing.T, e *Env, id string) {
	t.Helper()
	st := runCall(t, minirunc, e.Root, nil, "state", id)
	ls := runCall(t, minirunc, e.Root, nil, "list", "--format", "json")
	if ls.code != 0 {
		t.Fatalf("list: exit %d: %s", ls.code, ls.stderr)
	}
	var listed []map[string]any
	if err := json.Unmarshal([]byte(ls.stdout), &listed); err != nil && strings.TrimSpace(ls.stdout) != "null" {
		t.Fatalf("list: %v: %s", err, ls.stdout)
	}
	var inList map[string]any
	for _, c := range listed {
		if c["id"] == id {
			inList = c
		}
	}
	if st.code != 0 {
		requireOneLine(t, st.stderr, "container does not exist")
		if inList != nil {
			t.Errorf("state says %s does not exist, list shows it: %v", id, inList)
		}
		return
	}
	var s map[string]any
	if err := json.Unmarshal([]byte(st.stdout), &s); err != nil {
		t.Fatalf("state: %v: %s", err, st.stdout)
	}
	status, _ := s["status"].(string)
	pid := int(s["pid"].(float64))
	switch status {
	case "created", "running":
		if pid <= 0 || pidGone(pid) {
			t.Errorf("state says %s with pid %d, which is not alive", status, pid)
		}
		if status == "created" && !holdsExecFifo(pid) {
			t.Errorf("state says created, but init %d has executed the program", pid)
		}
	case "stopped":
		if pid != 0 {
			t.Errorf("stopped with pid %d", pid)
		}
	default:
		t.Errorf("state after a crash: status %q", status)
	}
	if inList == nil {
		t.Errorf("state shows %s (%s), list does not", id, status)
	} else if inList["status"] != status && !(status == "created" && inList["status"] == "running") {
		t.Errorf("state says %s, list says %v", status, inList["status"])
	}
}

// holdsExecFifo reports whether pid has an fd on a fifo named exec.fifo.
func holdsExecFifo(pid int) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	ents, _ := os.ReadDir(dir)
	for _, ent := range ents {
		if l, err := os.Readlink(filepath.Join(dir, ent.Name())); err == nil && strings.HasSuffix(l, "exec.fifo") {
			return true
		}
	}
	return false
}

// requireNothingLeft: no state dir (so no fifo and no lock), no cgroup, no
// process of the container (in its cgroups, carrying its marker, or a
// minirunc init of its bundle), no mount of its bundle.
func requireNothingLeft(t *testing.T, e *Env, id, bundle string) {
	t.Helper()
	requireNoResidue(t, e.Root, id)
	if left := containerDirs(e.Root); len(left) > 0 {
		t.Errorf("state root holds %v", left)
	}
	// An init whose create died exits when it reads the end of its sync
	// socket: give it that moment, no more.
	deadline := time.Now().Add(10 * time.Second)
	var procs []string
	for {
		procs = containerProcs(id)
		if len(procs) == 0 || time.Now().After(deadline) {
			break
		}
		sleepBriefly()
	}
	if len(procs) > 0 {
		t.Errorf("processes of %s left: %v", id, procs)
	}
	data, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, bundle) || strings.Contains(line, baseRoot) {
			t.Errorf("mount left: %s", line)
		}
	}
}

// containerProcs lists live processes carrying id's marker: the
// container's own (from its spec's environment) and its inits (handed
// on by the faultinject binary, see fault.Env).
func containerProcs(id string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || pidGone(pid) {
			continue
		}
		env, _ := os.ReadFile("/proc/" + ent.Name() + "/environ")
		cmdline, _ := os.ReadFile("/proc/" + ent.Name() + "/cmdline")
		if bytes.Contains(env, []byte("MINIRUNC_FAULT_MARK="+id+"\x00")) {
			out = append(out, ent.Name()+" "+strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return out
}

// TestCreateOverReplacedDir: a create whose fresh state directory is
// removed (by a delete of the same id) and made again by a second create
// before the first one locks it must not take the second one's container
// for its own: it fails with "container with id exists" and leaves that
// container whole. The first create is stopped between its mkdir and its
// lock (MINIRUNC_FAULT_STOP) to hold that window open.
func TestCreateOverReplacedDir(t *testing.T) {
	e := NewEnv(t)
	bin := faultBinary(t)
	id := e.NewID()
	b := faultBundle(e, id)
	first := exec.Command(bin, "--root", e.Root, "create", "--bundle", b, id)
	first.Env = append(os.Environ(), "MINIRUNC_FAULT_STOP=create:after-mkdir")
	var stderr strings.Builder
	first.Stderr = &stderr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer first.Process.Kill()
	stat := fmt.Sprintf("/proc/%d/stat", first.Process.Pid)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		data, err := os.ReadFile(stat)
		if err != nil {
			t.Fatal(err)
		}
		if f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:])); len(f) > 0 && f[0] == "T" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first create never reached create:after-mkdir: %s", stderr.String())
		}
	}
	// What a delete does to a create's directory, then a second create.
	if err := os.Remove(filepath.Join(e.Root, id)); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := e.Run("create", "--bundle", b, id); code != 0 {
		t.Fatalf("second create: exit %d: %s", code, stderr)
	}
	defer e.Run("delete", "--force", id)
	if err := first.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	err := first.Wait()
	if err == nil || !strings.Contains(stderr.String(), "container with id exists: "+id) {
		t.Errorf("first create: %v, stderr %q; want it refused with \"container with id exists\"", err, stderr.String())
	}
	out, serr, code := e.Run("state", id)
	if code != 0 || !strings.Contains(out, `"status": "created"`) {
		t.Errorf("the second create's container after the first create ended: state exit %d: %s%s", code, out, serr)
	}
}
