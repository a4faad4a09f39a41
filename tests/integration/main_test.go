// Package integration runs real containers with the minirunc binary and
// checks what a user sees from inside and outside them. It needs root and
// busybox-static. The whole test binary re-executes itself in a private
// mount namespace so that nothing a test mounts can reach the host, and every
// container gets an absolute cgroupsPath under /minirunc-test, removed at the
// end.
package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/minirunc/minirunc/tests/testenv"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cgroupParent holds this run's containers: /minirunc-test/run-<pid>, so
// that two runs at once never take each other's cgroups for leftovers.
var cgroupParent = "/minirunc-test"

var (
	minirunc  string // the binary under test
	baseRoot  string // a busybox rootfs that bundles copy
	busybox   string
	idCounter atomic.Int64
)

func TestMain(m *testing.M) {
	if os.Getuid() != 0 {
		fmt.Println("integration tests need root; skipping")
		os.Exit(0)
	}
	// Nothing a test mounts (or, for minidock, configures on a network)
	// may reach the host.
	testenv.Reexec("MINIRUNC_TEST_MNTNS", "--mount")
	os.Exit(run(m))
}

func run(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "minirunc-it-")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer os.RemoveAll(tmp)
	cgroupParent = fmt.Sprintf("/minirunc-test/run-%d", os.Getpid())
	if minirunc = os.Getenv("MINIRUNC_BIN"); minirunc == "" {
		minirunc = filepath.Join(tmp, "minirunc")
		out, err := exec.Command("go", "build", "-o", minirunc, "../..").CombinedOutput()
		if err != nil {
			fmt.Printf("build minirunc: %v\n%s", err, out)
			return 1
		}
	}
	if minirunc, err = filepath.Abs(minirunc); err != nil {
		fmt.Println(err)
		return 1
	}
	if busybox, err = testenv.FindBusybox(); err != nil {
		fmt.Println(err)
		return 1
	}
	baseRoot = filepath.Join(tmp, "rootfs")
	if err := makeRootfs(baseRoot); err != nil {
		fmt.Println("make rootfs:", err)
		return 1
	}
	code := m.Run()
	if err := testenv.RemoveCgroupParent(cgroupParent); err != nil {
		fmt.Println("cleanup:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// makeRootfs builds a minimal busybox rootfs like Docker's busybox image.
func makeRootfs(dir string) error {
	for _, d := range []string{"bin", "etc", "proc", "sys", "dev", "tmp", "root", "home", "var"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	os.Chmod(filepath.Join(dir, "tmp"), 0o1777)
	data, err := os.ReadFile(busybox)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "busybox"), data, 0o755); err != nil {
		return err
	}
	out, err := exec.Command(filepath.Join(dir, "bin", "busybox"), "--list").Output()
	if err != nil {
		return err
	}
	for _, name := range strings.Fields(string(out)) {
		if name != "busybox" {
			os.Symlink("busybox", filepath.Join(dir, "bin", name))
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":  "root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// removeCgroupParent removes this run's cgroup parent in every hierarchy,
// reporting any container cgroup a test left, and /minirunc-test once empty.

// cgroupMounts lists the host's cgroup mount points.

// Env is one test's world: its own state root and bundles.
type Env struct {
	t    *testing.T
	Root string // --root
	dir  string
}

// NewEnv prepares a state root and registers cleanup that force-deletes
// every container and then checks nothing was left behind.
func NewEnv(t *testing.T) *Env {
	t.Helper()
	dir := t.TempDir()
	e := &Env{t: t, Root: filepath.Join(dir, "state"), dir: dir}
	t.Cleanup(e.cleanup)
	return e
}

func (e *Env) cleanup() {
	ids, _ := os.ReadDir(e.Root)
	for _, id := range ids {
		if strings.HasPrefix(id.Name(), ".") {
			continue // not a container (ids cannot start with a dot)
		}
		_, stderr, code := e.Run("delete", "--force", id.Name())
		if code != 0 {
			e.t.Errorf("cleanup: delete --force %s: %s", id.Name(), stderr)
		}
	}
	if left := containerDirs(e.Root); len(left) > 0 {
		e.t.Errorf("cleanup: state dirs left: %v", left)
		os.RemoveAll(e.Root)
	}
	data, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, e.dir) {
			e.t.Errorf("cleanup: mount left: %s", line)
		}
	}
}

var idSanitize = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// NewID returns a container id unique to this test run.
func (e *Env) NewID() string {
	name := idSanitize.ReplaceAllString(e.t.Name(), "-")
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	return fmt.Sprintf("%s-%d", strings.Trim(name, "-."), idCounter.Add(1))
}

// Bundle makes a bundle with a fresh copy of the busybox rootfs and a
// config that runs args, with terminal false and an absolute cgroupsPath.
// mutate may change the spec before it is written.
func (e *Env) Bundle(id string, args []string, mutate func(*specs.Spec)) string {
	e.t.Helper()
	b := filepath.Join(e.dir, "bundle-"+id)
	if err := os.MkdirAll(b, 0o755); err != nil {
		e.t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", baseRoot, filepath.Join(b, "rootfs")).CombinedOutput(); err != nil {
		e.t.Fatalf("copy rootfs: %v %s", err, out)
	}
	s := defaultSpec()
	s.Process.Args = args
	s.Linux.CgroupsPath = cgroupParent + "/" + id
	if mutate != nil {
		mutate(s)
	}
	e.WriteSpec(b, s)
	return b
}

// WriteSpec writes s as b/config.json.
func (e *Env) WriteSpec(b string, s *specs.Spec) {
	e.t.Helper()
	data, err := json.MarshalIndent(s, "", " ")
	if err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b, "config.json"), data, 0o644); err != nil {
		e.t.Fatal(err)
	}
}

var specJSON []byte

// defaultSpec is `minirunc spec` with terminal false.
func defaultSpec() *specs.Spec {
	if specJSON == nil {
		dir, err := os.MkdirTemp("", "spec-")
		if err != nil {
			panic(err)
		}
		defer os.RemoveAll(dir)
		if out, err := exec.Command(minirunc, "spec", "--bundle", dir).CombinedOutput(); err != nil {
			panic(fmt.Sprintf("minirunc spec: %v %s", err, out))
		}
		specJSON, _ = os.ReadFile(filepath.Join(dir, "config.json"))
	}
	var s specs.Spec
	if err := json.Unmarshal(specJSON, &s); err != nil {
		panic(err)
	}
	s.Process.Terminal = false
	return &s
}

// Run runs minirunc --root <root> args... and returns stdout, stderr and
// the exit code.
func (e *Env) Run(args ...string) (string, string, int) {
	return e.RunIn(nil, args...)
}

// RunIn is Run with stdin.
func (e *Env) RunIn(stdin []byte, args ...string) (string, string, int) {
	e.t.Helper()
	cmd := exec.Command(minirunc, append([]string{"--root", e.Root}, args...)...)
	// Files, not pipes: a detached container keeps its stdio open, and
	// waiting for a pipe's end would wait for the container.
	so, err := os.CreateTemp("", "stdout-")
	if err != nil {
		e.t.Fatal(err)
	}
	se, err := os.CreateTemp("", "stderr-")
	if err != nil {
		e.t.Fatal(err)
	}
	defer func() {
		so.Close()
		se.Close()
		os.Remove(so.Name())
		os.Remove(se.Name())
	}()
	cmd.Stdout, cmd.Stderr = so, se
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("minirunc %v: %v", args, err)
	}
	// A hung call must not hang the suite.
	timer := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	err = cmd.Wait()
	timer.Stop()
	outB, _ := os.ReadFile(so.Name())
	errB, _ := os.ReadFile(se.Name())
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("minirunc %v: %v", args, err)
	}
	return string(outB), string(errB), code
}

// MustRun runs minirunc and fails the test on a non-zero exit.
func (e *Env) MustRun(args ...string) string {
	e.t.Helper()
	out, stderr, code := e.Run(args...)
	if code != 0 {
		e.t.Fatalf("minirunc %s: exit %d: %s%s", strings.Join(args, " "), code, stderr, out)
	}
	return out
}

// State returns the parsed `state` of id.
func (e *Env) State(id string) map[string]any {
	e.t.Helper()
	out := e.MustRun("state", id)
	var st map[string]any
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		e.t.Fatalf("state %s: %v: %s", id, err, out)
	}
	return st
}

// RunContainer runs args in a fresh container in the foreground and
// returns its stdout, stderr and exit code.
func (e *Env) RunContainer(args []string, mutate func(*specs.Spec)) (string, string, int) {
	e.t.Helper()
	id := e.NewID()
	b := e.Bundle(id, args, mutate)
	return e.Run("run", "--bundle", b, id)
}

func sleepBriefly() { time.Sleep(20 * time.Millisecond) }

// containerDirs lists the container state dirs under root.
func containerDirs(root string) []string {
	ents, _ := os.ReadDir(root)
	var out []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	return out
}

// makeTraversable opens the directories from dir up to (not including) the
// temp dir to everyone, so that a user-namespaced root reaches its rootfs.
// The temp dir itself (/tmp) keeps its own mode.
func makeTraversable(dir string) {
	tmp := filepath.Clean(os.TempDir())
	for d := filepath.Clean(dir); strings.HasPrefix(d, tmp+"/"); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
}
