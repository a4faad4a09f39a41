package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// asyncRun is a minirunc call running in the background. Its stdout and
// stderr go to files (a detached process may keep them open), which the
// test can poll.
type asyncRun struct {
	cmd            *exec.Cmd
	stdout, stderr string // file paths
	done           chan struct{}
	code           int
}

// runAsync starts minirunc --root R args... and returns at once.
func (e *Env) runAsync(args ...string) *asyncRun {
	e.t.Helper()
	return startAsync(e.t, exec.Command(minirunc, append([]string{"--root", e.Root}, args...)...))
}

func startAsync(t *testing.T, cmd *exec.Cmd) *asyncRun {
	t.Helper()
	dir := t.TempDir()
	a := &asyncRun{cmd: cmd, stdout: filepath.Join(dir, "stdout"), stderr: filepath.Join(dir, "stderr"), done: make(chan struct{})}
	so, err := os.Create(a.stdout)
	if err != nil {
		t.Fatal(err)
	}
	defer so.Close()
	se, err := os.Create(a.stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer se.Close()
	cmd.Stdout, cmd.Stderr = so, se
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitInBackground(t, cmd, &a.code, a.done)
	return a
}

// waitInBackground waits for the started cmd on a goroutine, sets *code
// to its exit code (-1 if it could not be had) and closes done; a cmd
// still running when the test ends is killed.
func waitInBackground(t *testing.T, cmd *exec.Cmd, code *int, done chan struct{}) {
	go func() {
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok {
			*code = ee.ExitCode()
		} else if err != nil {
			*code = -1
		}
		close(done)
	}()
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			cmd.Process.Kill()
			<-done
		}
	})
}

// Stdout is what the call has written to stdout so far.
func (a *asyncRun) Stdout() string {
	b, _ := os.ReadFile(a.stdout)
	return string(b)
}

// wait waits for the call to exit: stdout, stderr, exit code.
func (a *asyncRun) wait(t *testing.T) (string, string, int) {
	t.Helper()
	select {
	case <-a.done:
	case <-time.After(60 * time.Second):
		a.cmd.Process.Kill()
		<-a.done
		t.Fatalf("%v did not exit", a.cmd.Args)
	}
	se, _ := os.ReadFile(a.stderr)
	return a.Stdout(), string(se), a.code
}

// processJSON writes a process.json for exec --process: the default
// spec's process changed by mutate.
func (e *Env) processJSON(t *testing.T, mutate func(*specs.Process)) string {
	t.Helper()
	p := *defaultSpec().Process
	if mutate != nil {
		mutate(&p)
	}
	data, err := json.Marshal(&p)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "process.json")
	writeFile(t, path, string(data))
	return path
}

// psJSON is `ps --format json ID`.
func psJSON(e *Env, id string) []int {
	e.t.Helper()
	out := e.MustRun("ps", "--format", "json", id)
	var pids []int
	if err := json.Unmarshal([]byte(out), &pids); err != nil {
		e.t.Fatalf("ps --format json: %v: %q", err, out)
	}
	return pids
}

func containsPid(pids []int, pid int) bool { return slices.Contains(pids, pid) }

// requireExecFails runs a failing exec and checks the error line and that
// the container is untouched: still running, the same processes.
func requireExecFails(t *testing.T, e *Env, id, want string, args ...string) {
	t.Helper()
	before := strings.Join(procsInCgroup(id), ",")
	out, stderr, code := e.Run(args...)
	if code == 0 {
		t.Fatalf("minirunc %v succeeded: %q", args, out)
	}
	requireOneLine(t, stderr, want)
	if after := strings.Join(procsInCgroup(id), ","); after != before {
		t.Errorf("container processes changed from %s to %s", before, after)
	}
	if st := e.State(id)["status"]; st != "running" {
		t.Errorf("status %v after a failed exec, want running", st)
	}
}

// sleeper starts a container running sleep and returns its id and init pid.
func (e *Env) sleeper(mutate func(*specs.Spec)) (string, int) {
	e.t.Helper()
	id, _ := e.startContainer([]string{"sleep", "100000"}, mutate)
	return id, statePid(e, id)
}
