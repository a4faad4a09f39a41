package integration

// One test (or a few) per runtime CVE: each builds the hostile rootfs,
// spec or process and watches the attack fail, while the container still
// starts or fails with one clear line.

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
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

// devNullBundle makes a bundle whose /dev is a bind mount of a host
// directory holding a planted "null" (made by plant), and whose
// maskedPaths include a file that the container then reads (boundedly: a
// fake null may be an endless device) and tries to write. hostDir is
// bind-mounted at /hostdir, so that a symlink to /hostdir/... reaches the
// host from inside.
func devNullBundle(t *testing.T, e *Env, id, hostDir string, plant func(dev string)) (string, string) {
	t.Helper()
	dev := t.TempDir()
	plant(filepath.Join(dev, "null"))
	script := `head -c 64 /etc/masked; echo pwned > /etc/masked 2>/dev/null; echo exit`
	b := e.Bundle(id, []string{"sh", "-c", script}, func(s *specs.Spec) {
		for i, m := range s.Mounts {
			if m.Destination == "/dev" {
				s.Mounts[i] = specs.Mount{Destination: "/dev", Type: "bind", Source: dev, Options: []string{"rbind"}}
			}
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/hostdir", Type: "bind", Source: hostDir, Options: []string{"bind"}})
		s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, "/etc/masked")
	})
	writeFile(t, filepath.Join(b, "rootfs", "etc", "masked"), "masked content\n")
	return b, dev
}

// TestCVE2025_31133_DevNullSwap: masked files are bound from /dev/null
// only when it is the real 1:3 character device. A /dev/null that is a
// regular file, a symlink to a host file, or another device fails create
// with one line, and nothing on the host is written.
func TestCVE2025_31133_DevNullSwap(t *testing.T) {
	hostDir := t.TempDir()
	hostFile := filepath.Join(hostDir, "host-file")
	writeFile(t, hostFile, "host\n")
	cases := map[string]func(null string){
		"regular-file": func(null string) { writeFile(t, null, "planted\n") },
		"symlink-to-host-file": func(null string) {
			if err := os.Symlink("/hostdir/host-file", null); err != nil {
				t.Fatal(err)
			}
		},
		"dev-zero": func(null string) {
			if err := unix.Mknod(null, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 5))); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, plant := range cases {
		t.Run(name, func(t *testing.T) {
			e := NewEnv(t)
			id := e.NewID()
			b, dev := devNullBundle(t, e, id, hostDir, plant)
			var nullBefore []byte
			if st, err := os.Lstat(filepath.Join(dev, "null")); err == nil && st.Mode().IsRegular() {
				nullBefore, _ = os.ReadFile(filepath.Join(dev, "null"))
			}
			out, stderr, code := e.Run("run", "--bundle", b, id)
			t.Logf("exit %d, stderr %q", code, stderr)
			if code == 0 {
				t.Errorf("run succeeded with a fake /dev/null: %q", out)
			} else {
				requireOneLine(t, stderr, "/dev/null is not the null device")
				requireNoResidue(t, e.Root, id)
			}
			if nullBefore != nil {
				if now, _ := os.ReadFile(filepath.Join(dev, "null")); !bytes.Equal(now, nullBefore) {
					t.Errorf("the planted file was written: %q", now)
				}
			}
			if data, _ := os.ReadFile(hostFile); string(data) != "host\n" {
				t.Errorf("host file written: %q", data)
			}
		})
	}
	t.Run("real-null", func(t *testing.T) {
		e := NewEnv(t)
		id := e.NewID()
		b, _ := devNullBundle(t, e, id, hostDir, func(null string) {
			if err := unix.Mknod(null, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
				t.Fatal(err)
			}
		})
		out, stderr, code := e.Run("run", "--bundle", b, id)
		if code != 0 || out != "exit\n" {
			t.Fatalf("exit %d, output %q, want the masked file empty; stderr %s", code, out, stderr)
		}
		if data, _ := os.ReadFile(filepath.Join(b, "rootfs", "etc", "masked")); string(data) != "masked content\n" {
			t.Errorf("masked file written through the mask: %q", data)
		}
	})
}

// secConsole is the receiving end of a --console-socket.
type secConsole struct {
	Path string
	got  chan *os.File
}

func newSecConsole(t *testing.T) *secConsole {
	t.Helper()
	c := &secConsole{Path: filepath.Join(t.TempDir(), "console.sock"), got: make(chan *os.File, 4)}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: c.Path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			conn, err := ln.AcceptUnix()
			if err != nil {
				return
			}
			buf := make([]byte, 4096)
			oob := make([]byte, unix.CmsgSpace(4))
			_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
			conn.Close()
			if err != nil || oobn == 0 {
				continue
			}
			msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
			for _, m := range msgs {
				fds, _ := unix.ParseUnixRights(&m)
				for _, fd := range fds {
					c.got <- os.NewFile(uintptr(fd), "pty-master")
				}
			}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for {
			select {
			case f := <-c.got:
				f.Close()
			default:
				return
			}
		}
	})
	return c
}

// TestCVE2025_52565_PtmxSwap: the console's pty comes from the container's
// own devpts, opened without following symlinks and checked to be that
// instance's ptmx: a /dev/pts that is a symlink or a plain directory
// holding a planted ptmx (a symlink to the host's devpts or to a host
// file, or a regular file), or a devpts whose ptmx has the host's ptmx or
// a host file mounted over it, fails create with one line, and no host
// pty is handed out.
func TestCVE2025_52565_PtmxSwap(t *testing.T) {
	hostFile := filepath.Join(t.TempDir(), "f")
	writeFile(t, hostFile, "host\n")
	bindOverPtmx := func(src string) func(s *specs.Spec) {
		return func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/dev/pts/ptmx", Type: "bind", Source: src, Options: []string{"bind"}})
		}
	}
	cases := []struct {
		name   string
		devpts bool             // keep the spec's devpts on /dev/pts
		plant  func(pts string) // in the rootfs' own /dev/pts
		mutate func(s *specs.Spec)
	}{
		{"symlink-to-host-ptmx", false, func(pts string) { os.Symlink("/hostpts/ptmx", filepath.Join(pts, "ptmx")) }, nil},
		{"symlink-to-host-file", false, func(pts string) { os.Symlink("/hostfile/f", filepath.Join(pts, "ptmx")) }, nil},
		{"regular-file", false, func(pts string) { writeFile(t, filepath.Join(pts, "ptmx"), "") }, nil},
		{"dir-symlink-to-host-pts", false, func(pts string) { os.Remove(pts); os.Symlink("/hostpts", pts) }, nil},
		{"host-ptmx-mounted-over", true, nil, bindOverPtmx("/dev/pts/ptmx")},
		{"host-file-mounted-over", true, nil, bindOverPtmx(hostFile)},
	}
	var hostPts unix.Stat_t
	if err := unix.Stat("/dev/pts/ptmx", &hostPts); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := NewEnv(t)
			cs := newSecConsole(t)
			id := e.NewID()
			b := e.Bundle(id, []string{"sh", "-c", "echo pwned > /dev/console; echo pwned > /hostfile/f"}, func(s *specs.Spec) {
				s.Process.Terminal = true
				var mounts []specs.Mount
				for _, m := range s.Mounts {
					// The rootfs' own /dev (no tmpfs over it), and
					// its own /dev/pts unless the case keeps devpts.
					if m.Destination != "/dev" && (m.Destination != "/dev/pts" || c.devpts) {
						mounts = append(mounts, m)
					}
				}
				s.Mounts = append(mounts,
					specs.Mount{Destination: "/hostpts", Type: "bind", Source: "/dev/pts", Options: []string{"bind"}},
					specs.Mount{Destination: "/hostfile", Type: "bind", Source: filepath.Dir(hostFile), Options: []string{"bind"}})
				if c.mutate != nil {
					c.mutate(s)
				}
			})
			pts := filepath.Join(b, "rootfs", "dev", "pts")
			if err := os.MkdirAll(pts, 0o755); err != nil {
				t.Fatal(err)
			}
			if c.plant != nil {
				c.plant(pts)
			}
			out, stderr, code := e.Run("create", "--console-socket", cs.Path, "--bundle", b, id)
			t.Logf("exit %d, stderr %q", code, stderr)
			select {
			case f := <-cs.got:
				var st unix.Stat_t
				unix.Fstat(int(f.Fd()), &st)
				if st.Dev == hostPts.Dev {
					t.Errorf("the console is a pty of the host's devpts")
				}
				f.Close()
			default:
			}
			if code == 0 {
				t.Fatalf("create succeeded with a planted ptmx: %q", out)
			}
			requireOneLine(t, stderr, "/dev/pts")
			requireNoResidue(t, e.Root, id)
			if data, _ := os.ReadFile(hostFile); string(data) != "host\n" {
				t.Errorf("host file written: %q", data)
			}
		})
	}
}

// TestCVE2025_52881_SysctlRedirect: linux.sysctl is written through a
// procfs of the runtime's own, not through the container's /proc: a
// bind mount over /proc/sys cannot redirect the write to a host file,
// and the value still reaches the container's namespace. Also in a user
// namespace, where a fresh procfs is harder to get.
func TestCVE2025_52881_SysctlRedirect(t *testing.T) {
	// kernel.* uts sysctls are writable by the host's root only; the
	// user-namespaced case uses a network sysctl of its own netns.
	cases := []struct {
		userns    bool
		key, file string
		ns, value string
	}{
		{false, "kernel.domainname", "kernel/domainname", "uts", "from-sysctl"},
		{false, "net.ipv4.ip_forward", "net/ipv4/ip_forward", "net", "1"},
		{true, "net.ipv4.ip_forward", "net/ipv4/ip_forward", "net", "1"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/userns=%v", c.key, c.userns), func(t *testing.T) {
			e := NewEnv(t)
			fake := t.TempDir()
			target := filepath.Join(fake, c.file)
			writeFile(t, target, "host-file\n")
			id := e.NewID()
			b := e.Bundle(id, []string{"sleep", "100"}, func(s *specs.Spec) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/proc/sys", Type: "bind", Source: fake, Options: []string{"rbind"}})
				s.Linux.Sysctl = map[string]string{c.key: c.value}
				if c.userns {
					s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
					s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
					s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
				}
			})
			if c.userns {
				if out, err := exec.Command("chown", "-R", "100000:100000", filepath.Join(b, "rootfs")).CombinedOutput(); err != nil {
					t.Fatalf("chown rootfs: %v %s", err, out)
				}
				for _, leaf := range []string{b, fake} {
					makeTraversable(leaf)
				}
			}
			e.MustRun("create", "--bundle", b, id)
			e.MustRun("start", id)
			if data, _ := os.ReadFile(target); string(data) != "host-file\n" {
				t.Fatalf("the sysctl write went to the host file: %q", data)
			}
			pid := statePid(e, id)
			out, err := exec.Command("nsenter", "--"+c.ns+"=/proc/"+strconv.Itoa(pid)+"/ns/"+c.ns, "cat", "/proc/sys/"+c.file).CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != c.value {
				t.Fatalf("%s in the container's %s namespace: %q, %v", c.key, c.ns, out, err)
			}
		})
	}
}

// TestCVE2026_41579_DevSymlink: a rootfs whose /dev (or /dev/pts) is a
// symlink to a host directory, absolute or climbing out with "..", cannot
// make device setup create nodes, symlinks or mounts on the host.
func TestCVE2026_41579_DevSymlink(t *testing.T) {
	cases := []struct {
		name     string
		link     string // which rootfs path becomes the symlink
		relative bool
		tmpfsDev bool // keep the spec's tmpfs on /dev
	}{
		{"dev-absolute", "dev", false, false},
		{"dev-relative", "dev", true, false},
		{"dev-absolute-tmpfs", "dev", false, true},
		{"dev-pts-absolute", "dev/pts", false, false},
		{"dev-pts-relative", "dev/pts", true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := NewEnv(t)
			hostDir := t.TempDir()
			id := e.NewID()
			b := e.Bundle(id, []string{"sh", "-c", "stat -c '%F %t:%T' /dev/null /dev/full /dev/mine; ls /dev/pts | head -1"}, func(s *specs.Spec) {
				if !c.tmpfsDev {
					for i, m := range s.Mounts {
						if m.Destination == "/dev" {
							s.Mounts = append(s.Mounts[:i], s.Mounts[i+1:]...)
							break
						}
					}
				}
				s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{Path: "/dev/mine", Type: "c", Major: 1, Minor: 7})
			})
			rootfs := filepath.Join(b, "rootfs")
			p := filepath.Join(rootfs, c.link)
			os.RemoveAll(p)
			os.MkdirAll(filepath.Dir(p), 0o755)
			target := hostDir
			if c.relative {
				target = strings.Repeat("../", 12) + strings.TrimPrefix(hostDir, "/")
			}
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			out, stderr, code := e.Run("run", "--bundle", b, id)
			t.Logf("exit %d, stdout %q, stderr %q", code, out, stderr)
			if ents, _ := os.ReadDir(hostDir); len(ents) != 0 {
				var names []string
				for _, ent := range ents {
					names = append(names, ent.Name())
				}
				t.Fatalf("device setup wrote into the host directory: %v", names)
			}
			if code != 0 {
				requireOneLine(t, stderr, "/dev")
				requireNoResidue(t, e.Root, id)
				return
			}
			// The devpts instance must be where the container looks.
			if out != "character special file 1:3\ncharacter special file 1:7\ncharacter special file 1:7\nptmx\n" {
				t.Errorf("devices in the container: %q, want null, full, mine and a devpts at /dev/pts", out)
			}
		})
	}
}

// capbb installs a copy of busybox as /capbin/busybox (busybox wants to be
// called busybox) with the file capability
// CAP_CHOWN in its inheritable set (and the effective bit): execve gives
// it CAP_CHOWN only if the process's inheritable set has CAP_CHOWN.
func capbb(t *testing.T, rootfs string) {
	t.Helper()
	data, err := os.ReadFile(busybox)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(rootfs, "capbin", "busybox")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o755); err != nil {
		t.Fatal(err)
	}
	// struct vfs_cap_data, revision 2: magic|effective, then
	// {permitted, inheritable} for the low and the high 32 capabilities.
	var xattr bytes.Buffer
	for _, v := range []uint32{0x02000000 | 0x1, 0, 1 << unix.CAP_CHOWN, 0, 0} {
		binary.Write(&xattr, binary.LittleEndian, v)
	}
	if err := unix.Setxattr(p, "security.capability", xattr.Bytes(), 0); err != nil {
		t.Skipf("cannot set file capabilities here: %v", err)
	}
}

// TestCVE2022_29162_InheritableCaps: the inheritable set holds only what
// the spec asks for, so a binary with inheritable file capabilities gains
// nothing for a non-root user unless asked; the bounding set is the spec's
// and the ambient set empty unless asked. exec --cap does not fill the
// inheritable set either.
func TestCVE2022_29162_InheritableCaps(t *testing.T) {
	const script = `touch /tmp/f; /capbin/busybox chown 0:0 /tmp/f 2>&1 && echo CHOWNED || echo chown-refused
grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb):' /proc/self/status; echo ===; /capbin/busybox grep -E '^Cap(Inh|Prm|Eff):' /proc/self/status`
	bnd := []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	mutate := func(inh []string) func(*specs.Spec) {
		return func(s *specs.Spec) {
			s.Process.User = specs.User{UID: 1000, GID: 1000}
			s.Process.NoNewPrivileges = false
			s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: bnd, Effective: bnd, Permitted: bnd, Inheritable: inh}
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"mode=1777"}})
		}
	}
	run := func(t *testing.T, inh []string) (string, string) {
		e := NewEnv(t)
		id := e.NewID()
		b := e.Bundle(id, []string{"sh", "-c", script}, mutate(inh))
		capbb(t, filepath.Join(b, "rootfs"))
		out, stderr, code := e.Run("run", "--bundle", b, id)
		if code != 0 {
			t.Fatalf("run: exit %d: %s", code, stderr)
		}
		own, viaFile, _ := strings.Cut(out, "===\n")
		return own, viaFile
	}
	none := "0000000000000000"
	t.Run("not-asked", func(t *testing.T) {
		own, viaFile := run(t, nil)
		if !strings.Contains(own, "chown-refused") {
			t.Errorf("capbb gained CAP_CHOWN from an inheritable set nobody asked for:\n%s", own)
		}
		for k, v := range map[string]string{"CapInh": none, "CapAmb": none, "CapBnd": capMask(t, bnd...), "CapPrm": none} {
			if got := statusField(t, own, k); got != v {
				t.Errorf("%s = %s, want %s", k, got, v)
			}
		}
		for _, k := range []string{"CapInh", "CapPrm", "CapEff"} {
			if got := statusField(t, viaFile, k); got != none {
				t.Errorf("capbb's %s = %s, want none", k, got)
			}
		}
	})
	// The control: the same binary does gain CAP_CHOWN when the spec puts
	// it in the inheritable set, so the test above can fail.
	t.Run("asked", func(t *testing.T) {
		own, viaFile := run(t, []string{"CAP_CHOWN"})
		if !strings.Contains(own, "CHOWNED") {
			t.Errorf("capbb did not get CAP_CHOWN though it is inheritable:\n%s", own)
		}
		if got := statusField(t, own, "CapInh"); got != capMask(t, "CAP_CHOWN") {
			t.Errorf("CapInh = %s, want CAP_CHOWN only", got)
		}
		if got := statusField(t, viaFile, "CapPrm"); got != capMask(t, "CAP_CHOWN") {
			t.Errorf("capbb's CapPrm = %s, want CAP_CHOWN", got)
		}
	})
	t.Run("exec-cap", func(t *testing.T) {
		e := NewEnv(t)
		id := e.NewID()
		b := e.Bundle(id, []string{"sleep", "100"}, mutate(nil))
		capbb(t, filepath.Join(b, "rootfs"))
		e.MustRun("create", "--bundle", b, id)
		e.MustRun("start", id)
		// runc's CVE-2022-29162 was exec --cap filling the inheritable set.
		out := e.MustRun("exec", "--cap", "CAP_CHOWN", "--cap", "CAP_FOWNER", id, "sh", "-c", script)
		own, viaFile, _ := strings.Cut(out, "===\n")
		if !strings.Contains(own, "chown-refused") {
			t.Errorf("exec --cap: capbb gained CAP_CHOWN:\n%s", own)
		}
		if got := statusField(t, own, "CapInh"); got != none {
			t.Errorf("exec --cap: CapInh = %s, want none", got)
		}
		if got := statusField(t, own, "CapBnd"); got != capMask(t, append(bnd, "CAP_FOWNER")...) {
			t.Errorf("exec --cap: CapBnd = %s", got)
		}
		if got := statusField(t, viaFile, "CapPrm"); got != none {
			t.Errorf("exec --cap: capbb's CapPrm = %s, want none", got)
		}
	})
}
