package integration

import (
	"bufio"
	"bytes"
	"github.com/minirunc/minirunc/tests/testenv"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cliRun runs the minirunc binary with exactly args (no --root added),
// stdin (nil: none) and extra files as fds 3, 4, ... It returns stdout,
// stderr and the exit code. Output goes through files, not pipes, so a
// container that keeps its stdio open does not hold the call up.
func cliRun(t *testing.T, stdin []byte, extra []*os.File, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(minirunc, args...)
	dir := t.TempDir()
	so, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer so.Close()
	se, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer se.Close()
	cmd.Stdout, cmd.Stderr = so, se
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	cmd.ExtraFiles = extra
	if err := cmd.Start(); err != nil {
		t.Fatalf("minirunc %v: %v", args, err)
	}
	timer := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	err = cmd.Wait()
	timer.Stop()
	outB, _ := os.ReadFile(so.Name())
	errB, _ := os.ReadFile(se.Name())
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("minirunc %v: %v", args, err)
	}
	return string(outB), string(errB), code
}

// RunFiles is Env.Run with extra files passed as fds 3, 4, ...
func (e *Env) RunFiles(extra []*os.File, args ...string) (string, string, int) {
	e.t.Helper()
	return cliRun(e.t, nil, extra, append([]string{"--root", e.Root}, args...)...)
}

// bgRun is a `minirunc run` in the background whose stdout is read line by
// line.
type bgRun struct {
	t      *testing.T
	cmd    *exec.Cmd
	lines  chan string
	stderr string // file
	done   chan struct{}
	code   int
}

// startBgRun starts `minirunc --root R run --bundle b id` and returns at
// once.
func (e *Env) startBgRun(b, id string) *bgRun {
	e.t.Helper()
	cmd := exec.Command(minirunc, "--root", e.Root, "run", "--bundle", b, id)
	out, err := cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	r := &bgRun{t: e.t, cmd: cmd, lines: make(chan string, 100), done: make(chan struct{}),
		stderr: filepath.Join(e.t.TempDir(), "stderr")}
	se, err := os.Create(r.stderr)
	if err != nil {
		e.t.Fatal(err)
	}
	defer se.Close()
	cmd.Stderr = se
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			r.lines <- sc.Text()
		}
		close(r.lines)
	}()
	go func() {
		err := cmd.Wait()
		r.code = 0
		if ee, ok := err.(*exec.ExitError); ok {
			r.code = ee.ExitCode()
		} else if err != nil {
			r.code = -1
		}
		close(r.done)
	}()
	e.t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			cmd.Process.Kill()
			<-r.done
		}
	})
	return r
}

// waitLine waits until the container prints want on a line of its own.
func (r *bgRun) waitLine(want string) {
	r.t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-r.lines:
			if !ok {
				r.t.Fatalf("container output ended before %q; stderr: %s", want, r.Stderr())
			}
			if l == want {
				return
			}
		case <-timeout:
			r.t.Fatalf("container never printed %q; stderr: %s", want, r.Stderr())
		}
	}
}

// wait waits for minirunc run to exit and returns its exit code.
func (r *bgRun) wait() int {
	r.t.Helper()
	select {
	case <-r.done:
		return r.code
	case <-time.After(60 * time.Second):
		r.cmd.Process.Kill()
		<-r.done
		r.t.Fatalf("minirunc run did not exit; stderr: %s", r.Stderr())
		return -1
	}
}

// Stderr is what minirunc run wrote on stderr so far.
func (r *bgRun) Stderr() string {
	b, _ := os.ReadFile(r.stderr)
	return string(b)
}

// signal sends sig to the minirunc run process.
func (r *bgRun) signal(sig syscall.Signal) {
	r.t.Helper()
	if err := r.cmd.Process.Signal(sig); err != nil {
		r.t.Fatal(err)
	}
}

// noPidNS removes the pid namespace, so that the program is not a pid
// namespace init (which ignores signals it has no handler for).
func noPidNS(s *specs.Spec) {
	var ns []specs.LinuxNamespace
	for _, n := range s.Linux.Namespaces {
		if n.Type != specs.PIDNamespace {
			ns = append(ns, n)
		}
	}
	s.Linux.Namespaces = ns
}

// cliCgroupDirs is every directory the container id would have, one per
// cgroup hierarchy, whether it exists or not.
func cliCgroupDirs(id string) []string {
	var out []string
	for _, h := range testenv.CgroupMounts() {
		out = append(out, filepath.Join(h, cgroupParent, id))
	}
	return out
}

// procsInCgroup lists live host pids whose /proc/<pid>/cgroup puts them in
// the container's cgroup in some hierarchy. Zombies are left out: who reaps
// an orphaned container process (the host's init here) is not the
// runtime's business.
func procsInCgroup(id string) []string {
	suffix := cgroupParent + "/" + id
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, ent := range ents {
		if ent.Name()[0] < '0' || ent.Name()[0] > '9' {
			continue
		}
		data, err := os.ReadFile("/proc/" + ent.Name() + "/cgroup")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasSuffix(line, ":"+suffix) || strings.Contains(line, ":"+suffix+"/") {
				if pid, err := strconv.Atoi(ent.Name()); err == nil && !pidGone(pid) {
					out = append(out, ent.Name())
				}
				break
			}
		}
	}
	return out
}

// requireNoResidue checks that nothing of container id is left: no state
// dir under root, no cgroup dir in any hierarchy, no process in them.
func requireNoResidue(t *testing.T, root, id string) {
	t.Helper()
	if id != "" {
		if _, err := os.Lstat(filepath.Join(root, id)); !os.IsNotExist(err) {
			t.Errorf("state dir %s left behind (lstat: %v)", filepath.Join(root, id), err)
		}
	}
	for _, d := range cliCgroupDirs(id) {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("cgroup dir %s left behind", d)
		}
	}
	if p := procsInCgroup(id); len(p) > 0 {
		t.Errorf("processes left in the cgroup of %s: %v", id, p)
	}
}

// requireOneLine checks that stderr is exactly one line and contains want.
func requireOneLine(t *testing.T, stderr, want string) {
	t.Helper()
	s := strings.TrimRight(stderr, "\n")
	if s == "" || strings.Contains(s, "\n") {
		t.Errorf("stderr is not one line: %q", stderr)
	}
	if !strings.Contains(s, want) {
		t.Errorf("stderr %q does not contain %q", stderr, want)
	}
}

// pidGone reports whether pid has exited (gone or a zombie).
func pidGone(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	f := strings.Fields(s[i+1:])
	return len(f) > 0 && (f[0] == "Z" || f[0] == "X")
}

// waitFor polls cond until it holds or about ten seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		sleepBriefly()
	}
}
