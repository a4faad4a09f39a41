package integration

// One test (or a few) per runtime CVE: each builds the hostile rootfs,
// spec or process and watches the attack fail, while the container still
// starts or fails with one clear line.

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func fileHash(t *testing.T, path string) [32]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(data)
}

// runBin runs bin with args, output through files, and returns stdout,
// stderr and the exit code.
func runBin(t *testing.T, bin string, args ...string) (string, string, int) {
	t.Helper()
	dir := t.TempDir()
	so, _ := os.Create(filepath.Join(dir, "stdout"))
	se, _ := os.Create(filepath.Join(dir, "stderr"))
	defer so.Close()
	defer se.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = so, se
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	timer.Stop()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	out, _ := os.ReadFile(so.Name())
	errb, _ := os.ReadFile(se.Name())
	return string(out), string(errb), code
}

// exeAttack is CVE-2019-5736 from the host's side, as a container process
// would mount it: while the container is created, init (our binary) is
// its process; the attacker opens init's /proc/<pid>/exe, keeps it, and
// once init has exec'd the user's program (so the binary is no longer
// busy) reopens it for writing. bin is the minirunc binary to run, root
// its --root. It returns what init's /proc/<pid>/exe showed.
func exeAttack(t *testing.T, e *Env, bin, root string) string {
	t.Helper()
	before := fileHash(t, bin)
	id := e.NewID()
	b := e.Bundle(id, []string{"sleep", "100"}, nil)
	if _, stderr, code := runBin(t, bin, "--root", root, "create", "--bundle", b, id); code != 0 {
		t.Fatalf("create: exit %d: %s", code, stderr)
	}
	t.Cleanup(func() { runBin(t, bin, "--root", root, "delete", "--force", id) })
	out, _, _ := runBin(t, bin, "--root", root, "state", id)
	var st struct{ Pid int }
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.Pid <= 0 {
		t.Fatalf("no pid in state %q: %v", out, err)
	}
	pid := st.Pid
	exe := fmt.Sprintf("/proc/%d/exe", pid)
	link, _ := os.Readlink(exe)
	t.Logf("init's exe: %s", link)
	// Straight away, while init runs it.
	if f, err := os.OpenFile(exe, os.O_WRONLY|os.O_APPEND, 0); err == nil {
		f.Close()
		t.Errorf("opened %s (%s) for writing while init runs it", exe, link)
	} else {
		t.Logf("open for write while init runs: %v", err)
	}
	held, err := unix.Open(exe, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open %s O_PATH: %v", exe, err)
	}
	defer unix.Close(held)
	if _, stderr, code := runBin(t, bin, "--root", root, "start", id); code != 0 {
		t.Fatalf("start: exit %d: %s", code, stderr)
	}
	waitFor(t, "init to exec sleep", func() bool {
		l, _ := os.Readlink(exe)
		return strings.HasSuffix(l, "/busybox")
	})
	// Now nothing executes the binary any more: the kernel's ETXTBSY no
	// longer protects it.
	f, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", held), os.O_WRONLY|os.O_APPEND, 0)
	if err == nil {
		_, werr := f.Write([]byte("#"))
		f.Close()
		if werr == nil {
			t.Errorf("wrote to the file init ran from (%s) after start", link)
		} else {
			t.Logf("opened for write but the write failed: %v", werr)
		}
	} else {
		t.Logf("reopen for write after start: %v", err)
	}
	if fileHash(t, bin) != before {
		t.Fatalf("the host binary %s changed", bin)
	}
	return link
}

// copyBinary copies the binary under test into a directory of its own, so
// that a broken seal can damage only the copy.
func copyBinary(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(minirunc)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "minirunc")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestCVE2019_5736_OverlaySeal: init runs from a read-only overlay view
// of the binary: no open for writing, before start or after.
func TestCVE2019_5736_OverlaySeal(t *testing.T) {
	e := NewEnv(t)
	bin := copyBinary(t)
	if link := exeAttack(t, e, bin, e.Root); link == bin || strings.HasPrefix(link, "/memfd:") {
		t.Errorf("init ran from %s, not the overlay", link)
	}
}

// TestCVE2019_5736_MemfdSeal: with the memfd seal chosen
// (MINIRUNC_EXESEAL=memfd, also the fallback where no overlay can be
// made) init runs from a sealed memfd: writes to it fail, and the binary
// is untouched.
func TestCVE2019_5736_MemfdSeal(t *testing.T) {
	t.Setenv("MINIRUNC_EXESEAL", "memfd")
	e := NewEnv(t)
	bin := copyBinary(t)
	if link := exeAttack(t, e, bin, filepath.Join(filepath.Dir(bin), "state")); !strings.HasPrefix(link, "/memfd:") {
		t.Errorf("init ran from %s, not a memfd", link)
	}
}

// TestCVE2019_5736_FromContainer: the attack from inside. Container A
// (the attacker) shares its pid namespace with container B, which is
// created but not started, so B's init (our binary) is visible in A. A
// opens B's init's /proc/<pid>/exe, tries to open it for writing, keeps
// it, and after B starts tries again through the kept fd. A runs
// detached and reports through a bind-mounted directory, so that no
// minirunc process keeps the binary busy (ETXTBSY) while A tries.
func TestCVE2019_5736_FromContainer(t *testing.T) {
	e := NewEnv(t)
	before := fileHash(t, minirunc)
	ctl := t.TempDir()
	// A failed redirection on a plain exec would end the shell (and with
	// it the pid namespace and B): "command exec" keeps it alive.
	const script = `exec >> /ctl/log 2>&1
p=
while :; do
  for d in /proc/[0-9]*; do
    case "$(tr '\0' ' ' < $d/cmdline 2>/dev/null)" in "minirunc init"*) p=${d#/proc/};; esac
  done
  [ -n "$p" ] && { command exec 3< /proc/$p/exe; } 2>/dev/null && break
  p=
done
echo "held: $(readlink /proc/self/fd/3)"
command exec 4>> /proc/$p/exe && echo OPENED-WHILE-INIT-RUNS || echo refused-while-init-runs
echo ready
while [ ! -e /ctl/go ]; do usleep 10000; done
command exec 5>> /proc/self/fd/3 && echo OPENED-AFTER-START || echo refused-after-start
echo done`
	idA, _ := e.startContainer([]string{"sh", "-c", script}, chainMutate(
		addMount(specs.Mount{Destination: "/ctl", Type: "bind", Source: ctl, Options: []string{"bind"}}),
		func(s *specs.Spec) {
			c := s.Process.Capabilities
			c.Bounding = append(c.Bounding, "CAP_SYS_PTRACE")
			c.Effective = append(c.Effective, "CAP_SYS_PTRACE")
			c.Permitted = append(c.Permitted, "CAP_SYS_PTRACE")
		}))
	pidA := statePid(e, idA)
	idB := e.NewID()
	bB := e.Bundle(idB, []string{"true"}, func(s *specs.Spec) {
		for i, ns := range s.Linux.Namespaces {
			if ns.Type == specs.PIDNamespace {
				s.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/pid", pidA)
			}
		}
	})
	e.MustRun("create", "--bundle", bB, idB)
	log := func() string { data, _ := os.ReadFile(filepath.Join(ctl, "log")); return string(data) }
	waitFor(t, "A to open B's init", func() bool { return strings.Contains(log(), "ready\n") || strings.Contains(log(), "done\n") })
	e.MustRun("start", idB)
	waitStatus(t, e, idB, "stopped")
	writeFile(t, filepath.Join(ctl, "go"), "")
	waitFor(t, "A to finish", func() bool { return strings.Contains(log(), "done\n") })
	out := log()
	t.Logf("A: %s", out)
	if !strings.Contains(out, "held: /") {
		t.Fatalf("container A never held B's init's binary:\n%s", out)
	}
	if !strings.Contains(out, "refused-while-init-runs") || !strings.Contains(out, "refused-after-start") {
		t.Errorf("container A could open the runtime's binary for writing:\n%s", out)
	}
	if fileHash(t, minirunc) != before {
		t.Fatalf("the host binary %s changed", minirunc)
	}
}

// TestCVE2024_21626_NoHostFdInContainer: fds the caller passes beyond
// --preserve-fds reach neither init nor the container's process; the
// preserved one does.
func TestCVE2024_21626_NoHostFdInContainer(t *testing.T) {
	e := NewEnv(t)
	hostDir := t.TempDir()
	writeFile(t, filepath.Join(hostDir, "secret"), "host secret\n")
	var extra []*os.File
	for i := 0; i < 10; i++ {
		f, err := os.Open(hostDir)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		extra = append(extra, f)
	}
	// fd 3 (preserved) is a pipe the container writes to.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	extra[0] = w
	id := e.NewID()
	// ls runs in a child with the shell's fds: the shell's own, as
	// execve left them, plus the redirection.
	b := e.Bundle(id, []string{"sh", "-c", "ls -l /proc/$$/fd >&3"}, nil)
	if _, stderr, code := e.RunFiles(extra, "create", "--preserve-fds", "1", "--bundle", b, id); code != 0 {
		t.Fatalf("create: exit %d: %s", code, stderr)
	}
	w.Close()
	// init itself holds nothing of the caller's but the preserved fd.
	pid := statePid(e, id)
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, ent := range ents {
		l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, ent.Name()))
		if l == hostDir {
			t.Errorf("init holds fd %s on the caller's %s", ent.Name(), hostDir)
		}
	}
	e.MustRun("start", id)
	out, _ := io.ReadAll(r)
	waitStatus(t, e, id, "stopped")
	fds := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[len(f)-2] == "->" {
			fds[f[len(f)-3]] = f[len(f)-1]
		}
	}
	if !strings.HasPrefix(fds["3"], "pipe:") {
		t.Errorf("fd 3 is %q, want the preserved pipe; fds %v", fds["3"], fds)
	}
	for n, l := range fds {
		if x, _ := strconv.Atoi(n); x > 3 {
			t.Errorf("fd %s -> %s leaked into the container; fds %v", n, l, fds)
		}
		if strings.Contains(l, hostDir) {
			t.Errorf("fd %s -> %s is the caller's host directory", n, l)
		}
	}
}

// TestCVE2024_21626_CwdThroughFd: process.cwd naming /proc/self/fd/N, or a
// symlink in the rootfs to it, is refused at create: the working directory
// can never be an fd init holds on the host.
func TestCVE2024_21626_CwdThroughFd(t *testing.T) {
	for n := 3; n <= 20; n++ {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			badBundle(t, "process.cwd", []string{"pwd"}, func(s *specs.Spec) { s.Process.Cwd = fmt.Sprintf("/proc/self/fd/%d", n) })
		})
	}
	t.Run("symlink", func(t *testing.T) {
		e := NewEnv(t)
		id := e.NewID()
		b := e.Bundle(id, []string{"pwd"}, func(s *specs.Spec) { s.Process.Cwd = "/work" })
		if err := os.Symlink("/proc/self/fd/7", filepath.Join(b, "rootfs", "work")); err != nil {
			t.Fatal(err)
		}
		requireCreateFails(e, b, id, "process.cwd")
	})
}

// TestCVE2024_21626_CwdSwappedAfterCheck: the cwd is a plain directory
// when create checks it, and a createContainer hook (standing in for a
// racing attacker) turns it into a symlink to /proc/self/fd/N, where N is
// a directory fd init holds outside the rootfs. init refuses to run the
// process there.
func TestCVE2024_21626_CwdSwappedAfterCheck(t *testing.T) {
	e := NewEnv(t)
	id := e.NewID()
	rootfs := filepath.Join(e.BundleDir(id), "rootfs")
	hook := `n=
for f in "$1"/proc/1/fd/*; do
  [ -d "$f" ] || continue
  l=$(readlink "$f")
  case "$l" in "$1"*) continue;; esac
  n=${f##*/}
done
echo "$n" > "$2"
[ -n "$n" ] && rm -rf "$1/work" && ln -s /proc/self/fd/$n "$1/work"`
	report := filepath.Join(t.TempDir(), "fd")
	b := e.Bundle(id, []string{"sh", "-c", "pwd; ls"}, func(s *specs.Spec) {
		s.Process.Cwd = "/work"
		s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: shellPath(t), Args: []string{"sh", "-c", hook, "hook", rootfs, report}}}}
	})
	out, stderr, code := e.Run("run", "--bundle", b, id)
	fd, _ := os.ReadFile(report)
	t.Logf("cwd swapped to fd %q: exit %d, stdout %q, stderr %q", strings.TrimSpace(string(fd)), code, out, stderr)
	if strings.TrimSpace(string(fd)) == "" {
		t.Skip("init holds no directory fd outside the rootfs to swap to")
	}
	if code == 0 {
		t.Fatalf("the process ran with its cwd swapped to a directory outside the rootfs: %q", out)
	}
	if !strings.Contains(stderr, "process.cwd /work") {
		t.Errorf("stderr %q: want the cwd refused", stderr)
	}
	requireNoResidue(t, e.Root, id)
}

// TestCVE2021_30465_MountThroughSymlink: see
// TestMountThroughSymlinkStaysInRootfs (rootfs_test.go) for the static
// symlinks; this is the race. While containers are created, a rootfs
// directory on the mount's path is swapped (renameat2 RENAME_EXCHANGE)
// with a symlink to a host directory, as a co-tenant writing the rootfs
// would. Every mount must land inside the rootfs: visible in the
// container, nothing made in the host directory.
func TestCVE2021_30465_MountRace(t *testing.T) {
	e := NewEnv(t)
	// The host directory has a "sub", so that a mount that follows the
	// symlink out of the rootfs would succeed (and vanish with the old
	// root) rather than fail.
	hostDir := t.TempDir()
	if err := os.Mkdir(filepath.Join(hostDir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	const rounds = 25
	for i := 0; i < rounds; i++ {
		id := e.NewID()
		src := fmt.Sprintf("race-%d", i)
		b := e.Bundle(id, []string{"cat", "/proc/self/mountinfo"},
			addMount(specs.Mount{Destination: "/race/sub", Type: "tmpfs", Source: src, Options: []string{"size=1m"}}))
		rootfs := filepath.Join(b, "rootfs")
		if err := os.MkdirAll(filepath.Join(rootfs, "race", "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(hostDir, filepath.Join(rootfs, "race-link")); err != nil {
			t.Fatal(err)
		}
		var stop atomic.Bool
		var wg sync.WaitGroup
		var swaps atomic.Int64
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if unix.Renameat2(unix.AT_FDCWD, filepath.Join(rootfs, "race"), unix.AT_FDCWD, filepath.Join(rootfs, "race-link"), unix.RENAME_EXCHANGE) == nil {
					swaps.Add(1)
				}
			}
		}()
		out, stderr, code := e.Run("run", "--bundle", b, id)
		stop.Store(true)
		wg.Wait()
		ents, _ := os.ReadDir(hostDir)
		sub, _ := os.ReadDir(filepath.Join(hostDir, "sub"))
		if len(ents) != 1 || len(sub) != 0 {
			t.Fatalf("round %d: the host directory got %v, sub %v", i, ents, sub)
		}
		t.Logf("round %d: %d swaps, exit %d %s", i, swaps.Load(), code, strings.TrimSpace(stderr))
		if code != 0 {
			// The race may make the destination unreachable; that must
			// be a clean, one-line failure.
			requireOneLine(t, stderr, "mounts[")
			requireNoResidue(t, e.Root, id)
			continue
		}
		found := false
		for _, m := range parseMountinfo(t, out) {
			if m.Source == src && m.FSType == "tmpfs" {
				found = true
			}
		}
		if !found {
			t.Fatalf("round %d (%d swaps): the tmpfs %s is not in the container's mount tree:\n%s", i, swaps.Load(), src, out)
		}
	}
}
