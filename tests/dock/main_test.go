// Package dock runs minidock for real: images imported, loaded and saved
// on Docker's overlay2 layout, containers run through their monitors by the
// real minirunc. It needs root and busybox-static. As the runtime's
// integration tests, the binary re-executes itself in a private mount
// namespace, every container's cgroup lives under this run's
// /minirunc-test/dock-<pid>, and after each test nothing may be left:
// no container, mount, monitor or cgroup.
package dock

import (
	"archive/tar"
	"bytes"
	"fmt"
	"github.com/minirunc/minirunc/tests/testenv"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

var (
	minirunc, minidock string
	busyboxTar         string // a busybox rootfs as a tar
	cgroupParent       string
)

func TestMain(m *testing.M) {
	if os.Getuid() != 0 {
		fmt.Println("minidock tests need root; skipping")
		os.Exit(0)
	}
	// The registry for the pull tests is fetched while the host's network
	// is still ours (the namespaces below have none).
	if os.Getenv("MINIDOCK_TEST_MNTNS") == "" {
		provideRegistry()
	}
	// Nothing a test mounts (or, for minidock, configures on a network)
	// may reach the host.
	testenv.Reexec("MINIDOCK_TEST_MNTNS", "--mount", "--net")
	os.Exit(run(m))
}

func run(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "minidock-it-")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		fmt.Printf("loopback up: %v: %s", err, out)
		return 1
	}
	cgroupParent = fmt.Sprintf("/minirunc-test/dock-%d", os.Getpid())
	minirunc = os.Getenv("MINIRUNC_BIN")
	if minirunc == "" {
		minirunc = filepath.Join(tmp, "minirunc")
		if out, err := exec.Command("go", "build", "-o", minirunc, "../..").CombinedOutput(); err != nil {
			fmt.Printf("build minirunc: %v\n%s", err, out)
			return 1
		}
	}
	minidock = os.Getenv("MINIDOCK_BIN")
	if minidock == "" {
		minidock = filepath.Join(tmp, "minidock")
		if out, err := exec.Command("go", "build", "-o", minidock, "../../cmd/minidock").CombinedOutput(); err != nil {
			fmt.Printf("build minidock: %v\n%s", err, out)
			return 1
		}
	}
	for _, p := range []*string{&minirunc, &minidock} {
		if *p, err = filepath.Abs(*p); err != nil {
			fmt.Println(err)
			return 1
		}
	}
	busyboxTar = filepath.Join(tmp, "busybox.tar")
	if err := makeBusyboxTar(busyboxTar); err != nil {
		fmt.Println("busybox rootfs:", err)
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

// makeBusyboxTar writes a rootfs tarball like Docker's busybox image.
func makeBusyboxTar(path string) error {
	bb, err := testenv.FindBusybox()
	if err != nil {
		return err
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		return err
	}
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return err
	}
	var b tarBuilder
	for _, d := range []string{"bin", "etc", "tmp", "root", "home", "var", "dev", "proc", "sys"} {
		mode := int64(0o755)
		if d == "tmp" {
			mode = 0o1777
		}
		b.add(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: mode}, nil)
	}
	b.add(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755}, data)
	for _, name := range strings.Fields(string(out)) {
		if name != "busybox" {
			b.add(&tar.Header{Name: "bin/" + name, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}, nil)
		}
	}
	b.add(&tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n"))
	b.add(&tar.Header{Name: "etc/group", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("root:x:0:\nuser:x:1000:\n"))
	return os.WriteFile(path, b.bytes(), 0o644)
}

// tarBuilder makes tarballs in memory.
type tarBuilder struct {
	buf bytes.Buffer
	tw  *tar.Writer
}

func (b *tarBuilder) add(h *tar.Header, data []byte) {
	if b.tw == nil {
		b.tw = tar.NewWriter(&b.buf)
	}
	if h.Typeflag == tar.TypeReg {
		h.Size = int64(len(data))
	}
	h.ModTime = time.Unix(1700000000, 0)
	if err := b.tw.WriteHeader(h); err != nil {
		panic(err)
	}
	if len(data) > 0 {
		b.tw.Write(data)
	}
}

func (b *tarBuilder) bytes() []byte {
	if b.tw == nil {
		b.tw = tar.NewWriter(&b.buf)
	}
	b.tw.Close()
	return b.buf.Bytes()
}

// Env is one test's minidock: its own root and exec root.
type Env struct {
	t        *testing.T
	dir      string
	Root     string
	ExecRoot string
	Global   []string // more global flags (--bridge, --bridge-subnet)
}

// NewEnv makes a minidock world whose cleanup removes every container and
// then checks that no mount, monitor or runtime state is left.
func NewEnv(t *testing.T) *Env {
	t.Helper()
	dir := t.TempDir()
	e := &Env{t: t, dir: dir, Root: filepath.Join(dir, "root"), ExecRoot: filepath.Join(dir, "run")}
	t.Cleanup(e.cleanup)
	return e
}

func (e *Env) cleanup() {
	out, _, _ := e.Run("ps", "-aq", "--no-trunc")
	for _, id := range strings.Fields(out) {
		if _, stderr, code := e.Run("rm", "-f", id); code != 0 {
			e.t.Errorf("cleanup: rm -f %s: %s", id, stderr)
		}
	}
	ents, _ := os.ReadDir(filepath.Join(e.ExecRoot, "runtime"))
	for _, ent := range ents {
		if !strings.HasPrefix(ent.Name(), ".") { // ids never start with a dot
			e.t.Errorf("cleanup: runtime state left: %s", ent.Name())
		}
	}
	data, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, e.dir) {
			e.t.Errorf("cleanup: mount left: %s", line)
			if f := strings.Fields(line); len(f) > 4 {
				syscall.Unmount(f[4], syscall.MNT_DETACH)
			}
		}
	}
	// No veth, bridge made by minidock (the default one, minidock0, is
	// every test's without --network), or address allocation.
	links, _ := net.Interfaces()
	for _, l := range links {
		if strings.HasPrefix(l.Name, "md") || l.Name == "minidock0" {
			e.t.Errorf("cleanup: link left: %s", l.Name)
		}
	}
	if allocs, _ := filepath.Glob(filepath.Join(e.Root, "network", "*.json")); len(allocs) > 0 {
		e.t.Errorf("cleanup: address allocations left: %v", allocs)
	}
	if pids := e.monitors(); len(pids) > 0 {
		e.t.Errorf("cleanup: monitors left: %v", pids)
	}
}

// monitors lists the monitor processes of this env.
func (e *Env) monitors() []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		data, _ := os.ReadFile(p)
		s := string(data)
		if strings.Contains(s, e.Root+"\x00") && strings.Contains(s, "\x00monitor\x00") {
			out = append(out, strings.Split(p, "/")[2])
		}
	}
	return out
}

// Run runs minidock with this env's roots: stdout, stderr, exit code.
func (e *Env) Run(args ...string) (string, string, int) {
	return e.RunIn(nil, args...)
}

// command is minidock with this env's roots and global flags, and args.
func (e *Env) command(args ...string) *exec.Cmd {
	full := append([]string{"--root", e.Root, "--exec-root", e.ExecRoot, "--runtime", minirunc, "--cgroup-parent", cgroupParent}, e.Global...)
	return exec.Command(minidock, append(full, args...)...)
}

// RunIn is Run with stdin.
func (e *Env) RunIn(stdin []byte, args ...string) (string, string, int) {
	e.t.Helper()
	cmd := e.command(args...)
	// Files, not pipes: a monitor must never hold our pipes.
	so, _ := os.CreateTemp("", "stdout-")
	se, _ := os.CreateTemp("", "stderr-")
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
		e.t.Fatalf("minidock %v: %v", args, err)
	}
	timer := time.AfterFunc(90*time.Second, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	timer.Stop()
	outB, _ := os.ReadFile(so.Name())
	errB, _ := os.ReadFile(se.Name())
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("minidock %v: %v", args, err)
	}
	return string(outB), string(errB), code
}

// MustRun runs minidock and fails the test on a non-zero exit.
func (e *Env) MustRun(args ...string) string {
	e.t.Helper()
	out, stderr, code := e.Run(args...)
	if code != 0 {
		if _, log, ok := strings.Cut(stderr, "monitor failed: see "); ok {
			data, _ := os.ReadFile(strings.TrimSpace(log))
			stderr += "monitor.log: " + string(data)
		}
		e.t.Fatalf("minidock %s: exit %d: %s%s", strings.Join(args, " "), code, stderr, out)
	}
	return out
}

// ImportBusybox imports the busybox rootfs as busybox:local.
func (e *Env) ImportBusybox() string {
	e.t.Helper()
	return strings.TrimSpace(e.MustRun("import", "--change", `CMD ["sh"]`, busyboxTar, "busybox:local"))
}

// Inspect returns a field of `inspect` of ref as decoded JSON.
func (e *Env) Inspect(ref string) map[string]any {
	e.t.Helper()
	out := e.MustRun("inspect", ref)
	var v []map[string]any
	if err := jsonUnmarshal([]byte(out), &v); err != nil || len(v) != 1 {
		e.t.Fatalf("inspect %s: %v: %s", ref, err, out)
	}
	return v[0]
}

// WaitStatus waits until ref's status is want.
func (e *Env) WaitStatus(ref, want string, timeout time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := e.Inspect(ref)["State"].(map[string]any)["Status"]
		if st == want {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: status %v, want %s", ref, st, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
