package integration

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minirunc/minirunc/tests/testenv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestExecOutputAndExitCode: stdio passes through; the exit code, or 128+N
// for a signal, is exec's own.
func TestExecOutputAndExitCode(t *testing.T) {
	e := NewEnv(t)
	id, _ := e.sleeper(nil)
	if out, stderr, code := e.RunIn([]byte("in-put\n"), "exec", id, "sh", "-c", "cat; echo to-err >&2"); out != "in-put\n" || stderr != "to-err\n" || code != 0 {
		t.Errorf("stdin to stdout: %q, stderr %q, exit %d", out, stderr, code)
	}
	for _, tc := range []struct {
		script string
		want   int
	}{{"exit 5", 5}, {"kill -9 $$", 137}, {"kill -TERM $$", 143}, {"true", 0}} {
		if _, stderr, code := e.Run("exec", id, "sh", "-c", tc.script); code != tc.want {
			t.Errorf("exec sh -c %q: exit %d, want %d (%s)", tc.script, code, tc.want, stderr)
		}
	}
	// Arguments after the command are the command's, flags included.
	if out := e.MustRun("exec", id, "echo", "-n", "--cwd", "x"); out != "--cwd x" {
		t.Errorf("echo -n --cwd x printed %q", out)
	}
	if st := e.State(id)["status"]; st != "running" {
		t.Errorf("container %v after execs, want running", st)
	}
}

// TestExecForwardsSignals: a foreground exec passes the signals it gets to
// the process.
func TestExecForwardsSignals(t *testing.T) {
	e := NewEnv(t)
	id, _ := e.sleeper(nil)
	a := e.runAsync("exec", id, "sh", "-c", `trap 'echo got-term; exit 9' TERM; echo ready; while :; do sleep 0.05; done`)
	waitFor(t, "the exec'd shell to be ready", func() bool { return strings.Contains(a.Stdout(), "ready") })
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := a.wait(t)
	if code != 9 || !strings.Contains(out, "got-term") {
		t.Errorf("exit %d, stdout %q, stderr %q: want 9 and got-term", code, out, stderr)
	}
}

// TestExecJoinsNamespaces: the exec'd process is in every namespace and
// cgroup of the container: the same namespace inodes as init, its
// hostname, its pid 1, its files.
func TestExecJoinsNamespaces(t *testing.T) {
	e := NewEnv(t)
	marker := "marker-" + strconv.Itoa(os.Getpid())
	id, pid := e.sleeper(func(s *specs.Spec) { s.Hostname = "exec-host" })
	writeFile(t, filepath.Join(e.BundleDir(id), "rootfs", marker), "in-the-rootfs\n")
	for _, ns := range []string{"ipc", "uts", "net", "pid", "mnt", "cgroup"} {
		want := readlinkHost(t, fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
		if want == readlinkHost(t, "/proc/self/ns/"+ns) {
			t.Fatalf("the container has no %s namespace of its own", ns)
		}
		if out := strings.TrimSpace(e.MustRun("exec", id, "readlink", "/proc/self/ns/"+ns)); out != want {
			t.Errorf("%s namespace %q, want the container's %q", ns, out, want)
		}
	}
	out := e.MustRun("exec", id, "sh", "-c", "hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; cat /"+marker+"; cat /proc/self/cgroup")
	lines := strings.SplitN(out, "\n", 4)
	if len(lines) < 4 || lines[0] != "exec-host" || lines[1] != "sleep 100000 " || lines[2] != "in-the-rootfs" {
		t.Fatalf("hostname, pid 1, marker = %q", lines)
	}
	// In the container's cgroup namespace, its cgroups are the root.
	for _, l := range strings.Split(strings.TrimSpace(lines[3]), "\n") {
		if !strings.HasSuffix(l, ":/") {
			t.Errorf("cgroup line %q, want the container's cgroup (/)", l)
		}
	}
	// ps from inside: init is pid 1 and nothing of the host is seen.
	ps := e.MustRun("exec", id, "ps", "-o", "pid,args")
	if !regexp.MustCompile(`(?m)^\s*1\s+sleep 100000$`).MatchString(ps) {
		t.Errorf("ps in the container does not show init as 1:\n%s", ps)
	}
	if n := len(strings.Split(strings.TrimSpace(ps), "\n")); n > 4 {
		t.Errorf("ps in the container sees %d lines, more than its own processes:\n%s", n, ps)
	}
}

// TestExecDetachPidFile: exec --detach --pid-file returns once the process
// runs; the pid file holds the bare pid; ps lists it; it is in the
// container's namespaces and cgroups.
func TestExecDetachPidFile(t *testing.T) {
	e := NewEnv(t)
	id, initPid := e.sleeper(nil)
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	out, stderr, code := e.Run("exec", "--detach", "--pid-file", pidFile, id, "sleep", "1000")
	if code != 0 || out != "" || stderr != "" {
		t.Fatalf("exec -d: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	pid := readPidFile(t, pidFile)
	if pidGone(pid) {
		t.Fatalf("exec'd pid %d is not running", pid)
	}
	if cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); string(cmd) != "sleep\x001000\x00" {
		t.Errorf("pid %d runs %q, want sleep 1000", pid, cmd)
	}
	if pids := psJSON(e, id); !containsPid(pids, pid) || !containsPid(pids, initPid) {
		t.Errorf("ps --format json = %v, want init %d and exec'd %d", pids, initPid, pid)
	}
	for _, ns := range []string{"ipc", "uts", "net", "pid", "mnt", "cgroup"} {
		if a, b := readlinkHost(t, fmt.Sprintf("/proc/%d/ns/%s", pid, ns)), readlinkHost(t, fmt.Sprintf("/proc/%d/ns/%s", initPid, ns)); a != b {
			t.Errorf("%s namespace of the exec'd process %s, init's %s", ns, a, b)
		}
	}
	a, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", initPid))
	if string(a) != string(b) {
		t.Errorf("cgroups of the exec'd process:\n%s\ninit's:\n%s", a, b)
	}
	// kill --all reaches it, and the container can be deleted.
	e.MustRun("kill", "--all", id, "KILL")
	waitFor(t, "the exec'd process to die", func() bool { return pidGone(pid) })
}

// TestExecProcessJSON: exec --process takes everything from the file (the
// form containerd and conmon use), and ignores the container's process.
func TestExecProcessJSON(t *testing.T) {
	e := NewEnv(t)
	id, _ := e.sleeper(nil)
	proc := e.processJSON(t, func(p *specs.Process) {
		p.Args = []string{"sh", "-c", `echo "$0|$1|$FOO|$(pwd)|$(id -u):$(id -g):$(id -G)|$(grep CapEff /proc/self/status | cut -f2)"`, "a b", ""}
		p.Env = []string{"PATH=/bin", "FOO=from-json"}
		p.Cwd = "/etc"
		p.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{5, 6}}
		p.Capabilities = &specs.LinuxCapabilities{}
	})
	out := e.MustRun("exec", "--process", proc, id)
	if want := "a b||from-json|/etc|1000:1000:1000 5 6|0000000000000000\n"; out != want {
		t.Errorf("output %q, want %q", out, want)
	}
	// The short form.
	if out := e.MustRun("exec", "-p", proc, id); !strings.Contains(out, "from-json") {
		t.Errorf("exec -p: %q", out)
	}
}

// TestExecCwdEnv: --cwd and --env/-e; -e replaces a variable the
// container's process sets and keeps the rest.
func TestExecCwdEnv(t *testing.T) {
	e := NewEnv(t)
	id, _ := e.sleeper(func(s *specs.Spec) { s.Process.Env = append(s.Process.Env, "KEEP=kept", "OVER=old") })
	out := e.MustRun("exec", "--cwd", "/etc", "--env", "FOO=bar", "-e", "OVER=new", "-e", "EMPTY=", id,
		"sh", "-c", `echo "$(pwd) $FOO $KEEP $OVER [$EMPTY] ${EMPTY+set}"; env | grep -c '^OVER='`)
	if want := "/etc bar kept new [] set\n1\n"; out != want {
		t.Errorf("output %q, want %q", out, want)
	}
	// The container's own cwd otherwise.
	if out := e.MustRun("exec", id, "pwd"); out != "/\n" {
		t.Errorf("default cwd %q, want /", out)
	}
	requireExecFails(t, e, id, "/no/such/dir", "exec", "--cwd", "/no/such/dir", id, "true")
}

// TestExecUser: --user uid[:gid] and by name, --additional-gids.
func TestExecUser(t *testing.T) {
	e := NewEnv(t)
	// The container's process runs with gid 100: a bare uid keeps it, as
	// with runc.
	id, _ := e.sleeper(func(s *specs.Spec) { s.Process.User = specs.User{UID: 0, GID: 100} })
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "0:100:100"},
		{[]string{"-u", "1000:1000"}, "1000:1000:1000"},
		{[]string{"--user", "1000"}, "1000:100:100"},
		{[]string{"-u", "2000:3000"}, "2000:3000:3000"},
		{[]string{"-u", "user"}, "1000:1000:1000"},
		{[]string{"-u", "user:root"}, "1000:0:0"},
		{[]string{"-u", "nobody:nogroup"}, "65534:65534:65534"},
		{[]string{"-u", "1000:1000", "--additional-gids", "10", "-g", "20"}, "1000:1000:1000 10 20"},
	} {
		args := append(append([]string{"exec"}, tc.args...), id, "sh", "-c", `echo "$(id -u):$(id -g):$(id -G)"`)
		out, stderr, code := e.Run(args...)
		if code != 0 || strings.TrimSpace(out) != tc.want {
			t.Errorf("exec %v: %q (exit %d, %s), want %s", tc.args, out, code, stderr, tc.want)
		}
	}
}

// TestExecCapNoNewPrivs: --cap adds to the container's capabilities;
// --no-new-privs sets NoNewPrivs.
func TestExecCapNoNewPrivs(t *testing.T) {
	e := NewEnv(t)
	id, _ := e.sleeper(func(s *specs.Spec) { s.Process.NoNewPrivileges = false })
	base := e.MustRun("exec", id, "cat", "/proc/self/status")
	caps := e.MustRun("exec", "--cap", "CAP_SYS_ADMIN", "-c", "CAP_NET_ADMIN", id, "cat", "/proc/self/status")
	if statusField(t, base, "CapEff") != capMask(t, "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE") {
		t.Errorf("default CapEff %s", statusField(t, base, "CapEff"))
	}
	want := capMask(t, "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SYS_ADMIN", "CAP_NET_ADMIN")
	for _, f := range []string{"CapEff", "CapPrm", "CapBnd"} {
		if got := statusField(t, caps, f); got != want {
			t.Errorf("--cap: %s %s, want %s", f, got, want)
		}
	}
	if statusField(t, base, "NoNewPrivs") != "0" {
		t.Errorf("NoNewPrivs set without --no-new-privs")
	}
	nnp := e.MustRun("exec", "--no-new-privs", id, "cat", "/proc/self/status")
	if statusField(t, nnp, "NoNewPrivs") != "1" {
		t.Errorf("--no-new-privs: NoNewPrivs %s", statusField(t, nnp, "NoNewPrivs"))
	}
	// The container's own noNewPrivileges holds for exec too (the default).
	id2, _ := e.sleeper(nil)
	if st := e.MustRun("exec", id2, "cat", "/proc/self/status"); statusField(t, st, "NoNewPrivs") != "1" {
		t.Errorf("the container's noNewPrivileges is not applied to exec")
	}
	requireExecFails(t, e, id, "CAP_BOGUS", "exec", "--cap", "CAP_BOGUS", id, "true")
}

// TestExecPreserveFDs: --preserve-fds N hands on fds 3..3+N-1 and nothing
// else the caller had open.
func TestExecPreserveFDs(t *testing.T) {
	e := NewEnv(t)
	id, _ := e.sleeper(nil)
	dir := t.TempDir()
	keep, err := os.Create(filepath.Join(dir, "keep-me"))
	if err != nil {
		t.Fatal(err)
	}
	defer keep.Close()
	drop, err := os.Create(filepath.Join(dir, "drop-me"))
	if err != nil {
		t.Fatal(err)
	}
	defer drop.Close()
	files := []*os.File{keep, drop} // fds 3 and 4
	out, stderr, code := e.RunFiles(files, "exec", "--preserve-fds", "1", id, "sh", "-c", "ls -l /proc/self/fd/; echo written >&3")
	if code != 0 {
		t.Fatalf("exec: exit %d: %s", code, stderr)
	}
	if !regexp.MustCompile(`(?m) 3 -> \S*keep-me$`).MatchString(out) {
		t.Errorf("fd 3 (keep-me) not handed on:\n%s", out)
	}
	if strings.Contains(out, "drop-me") {
		t.Errorf("fd 4 beyond --preserve-fds reached the process:\n%s", out)
	}
	if data, _ := os.ReadFile(keep.Name()); string(data) != "written\n" {
		t.Errorf("write through fd 3: file has %q", data)
	}
	// Without the flag, neither.
	out, _, _ = e.RunFiles(files, "exec", id, "ls", "-l", "/proc/self/fd/")
	if strings.Contains(out, "keep-me") || strings.Contains(out, "drop-me") {
		t.Errorf("fds reached the process without --preserve-fds:\n%s", out)
	}
	// Nothing of the runtime's own either: only 0-2 and ls's directory.
	if n := len(regexp.MustCompile(`(?m)^l.* \d+( -> .*)?$`).FindAllString(out, -1)); n != 4 {
		t.Errorf("%d fds open in the exec'd process, want 0, 1, 2 and ls's own:\n%s", n, out)
	}
}

// listenCmd runs minirunc under sh so that LISTEN_PID is minirunc's own
// pid, as systemd socket activation (and conmon --replace-listen-pid) sets
// it.
func (e *Env) listenCmd(extra []*os.File, nfds int, args ...string) *exec.Cmd {
	cmd := exec.Command("sh", append([]string{"-c", `LISTEN_PID=$$ LISTEN_FDS=` + strconv.Itoa(nfds) + ` exec "$@"`, "sh", minirunc, "--root", e.Root}, args...)...)
	cmd.ExtraFiles = extra
	return cmd
}

// TestListenFDs: as runc: create/run hand on $LISTEN_FDS fds (when
// LISTEN_PID is the runtime's pid) and tell the process LISTEN_FDS=N,
// LISTEN_PID=1; exec does not use them.
func TestListenFDs(t *testing.T) {
	e := NewEnv(t)
	sock, err := os.Create(filepath.Join(t.TempDir(), "listen-sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	id := e.NewID()
	b := e.Bundle(id, []string{"sh", "-c", `echo "$LISTEN_FDS $LISTEN_PID"; ls -l /proc/self/fd/`}, nil)
	a := startAsync(t, e.listenCmd([]*os.File{sock}, 1, "run", "--bundle", b, id))
	out, stderr, code := a.wait(t)
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	if !strings.HasPrefix(out, "1 1\n") || !regexp.MustCompile(`(?m) 3 -> \S*listen-sock$`).MatchString(out) {
		t.Errorf("LISTEN_FDS/LISTEN_PID and fd 3 not handed on:\n%s", out)
	}
	// LISTEN_PID for another process: not ours, nothing passed.
	id2 := e.NewID()
	b2 := e.Bundle(id2, []string{"sh", "-c", `echo "[$LISTEN_FDS]"; ls -l /proc/self/fd/`}, nil)
	cmd := exec.Command(minirunc, "--root", e.Root, "run", "--bundle", b2, id2)
	cmd.Env = append(os.Environ(), "LISTEN_FDS=1", "LISTEN_PID=1")
	cmd.ExtraFiles = []*os.File{sock}
	out, stderr, code = startAsync(t, cmd).wait(t)
	if code != 0 || !strings.HasPrefix(out, "[]\n") || strings.Contains(out, "listen-sock") {
		t.Errorf("LISTEN_PID of another process: exit %d, %s\n%s", code, stderr, out)
	}
	// exec ignores them.
	id3, _ := e.sleeper(nil)
	out, stderr, code = startAsync(t, e.listenCmd([]*os.File{sock}, 1, "exec", id3, "sh", "-c", `echo "[$LISTEN_FDS]"; ls -l /proc/self/fd/`)).wait(t)
	if code != 0 || !strings.HasPrefix(out, "[]\n") || strings.Contains(out, "listen-sock") {
		t.Errorf("exec with LISTEN_FDS: exit %d, %s\n%s", code, stderr, out)
	}
}

// containerCgroupDir is the container's directory in the v1 hierarchy
// mounted at /sys/fs/cgroup/<name> (or the v2 one for "").
func containerCgroupDir(t *testing.T, id, name string) string {
	t.Helper()
	for _, d := range hostCgroupDirs(id) {
		if rel, _ := filepath.Rel("/sys/fs/cgroup", d); name != "" && strings.HasPrefix(rel, name+"/") {
			return d
		}
	}
	if name == "" {
		if d := hostCgroupDirs(id); len(d) == 1 {
			return d[0]
		}
	}
	t.Skipf("no %q cgroup hierarchy on this host", name)
	return ""
}

// TestExecCgroup: --cgroup puts the process in an existing sub-cgroup of
// the container's: PATH in every hierarchy, CONTROLLER:PATH in one (runc's
// syntax); a missing one is an error and nothing is created.
func TestExecCgroup(t *testing.T) {
	e := NewEnv(t)
	id, _ := e.sleeper(nil)
	mem := containerCgroupDir(t, id, "memory")
	sub := filepath.Join(mem, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(sub) })
	memLine := func(out string) string {
		for _, l := range strings.Split(out, "\n") {
			if f := strings.SplitN(l, ":", 3); len(f) == 3 && slices.Contains(strings.Split(f[1], ","), "memory") {
				return f[2]
			}
		}
		t.Fatalf("no memory line in %q", out)
		return ""
	}
	out := e.MustRun("exec", "--cgroup", "memory:sub", id, "cat", "/proc/self/cgroup")
	if got := memLine(out); got != "/sub" {
		t.Errorf("--cgroup memory:sub: memory cgroup %q, want /sub\n%s", got, out)
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.Contains(l, ":memory:") && !strings.HasSuffix(l, ":/") {
			t.Errorf("--cgroup memory:sub moved another hierarchy: %s", l)
		}
	}
	// The plain form needs the sub-cgroup in every hierarchy.
	requireExecFails(t, e, id, "sub", "exec", "--cgroup", "sub", id, "true")
	for _, d := range hostCgroupDirs(id) {
		s := filepath.Join(d, "sub")
		if err := os.MkdirAll(s, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(s) })
	}
	out = e.MustRun("exec", "--cgroup", "sub", id, "cat", "/proc/self/cgroup")
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasSuffix(l, ":/sub") {
			t.Errorf("--cgroup sub: %s, want /sub in every hierarchy", l)
		}
	}
	requireExecFails(t, e, id, "nosuch", "exec", "--cgroup", "memory:nosuch", id, "true")
	requireExecFails(t, e, id, "bogus", "exec", "--cgroup", "bogus:sub", id, "true")
	for _, d := range hostCgroupDirs(id) {
		if _, err := os.Stat(filepath.Join(d, "nosuch")); err == nil {
			t.Errorf("exec created %s/nosuch", d)
		}
	}
}

// freeze freezes or thaws the container's cgroup directly.
func freeze(t *testing.T, id string, frozen bool) {
	t.Helper()
	for _, h := range testenv.CgroupMounts() {
		d := filepath.Join(h, cgroupParent, id)
		if _, err := os.Stat(filepath.Join(d, "freezer.state")); err == nil {
			v := map[bool]string{true: "FROZEN", false: "THAWED"}[frozen]
			if err := os.WriteFile(filepath.Join(d, "freezer.state"), []byte(v), 0); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	for _, d := range hostCgroupDirs(id) {
		if _, err := os.Stat(filepath.Join(d, "cgroup.freeze")); err == nil {
			if err := os.WriteFile(filepath.Join(d, "cgroup.freeze"), []byte(map[bool]string{true: "1", false: "0"}[frozen]), 0); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Skip("no freezer")
}

// TestExecPaused: exec into a paused container is refused unless
// --ignore-paused; with it, the process starts once the container thaws.
func TestExecPaused(t *testing.T) {
	e := NewEnv(t)
	id, _ := e.sleeper(nil)
	freeze(t, id, true)
	t.Cleanup(func() { freeze(t, id, false) })
	waitFor(t, "the container to be paused", func() bool { return e.State(id)["status"] == "paused" })
	before := strings.Join(procsInCgroup(id), ",")
	_, stderr, code := e.Run("exec", id, "echo", "hi")
	if code == 0 {
		t.Fatal("exec into a paused container succeeded")
	}
	requireOneLine(t, stderr, "cannot exec in a paused container (use --ignore-paused to override)")
	if after := strings.Join(procsInCgroup(id), ","); after != before {
		t.Errorf("processes changed from %s to %s", before, after)
	}
	a := e.runAsync("exec", "--ignore-paused", id, "echo", "hi")
	// The new process joins the frozen cgroup and waits there.
	waitFor(t, "the exec'd process to join the cgroup", func() bool { return len(procsInCgroup(id)) > len(strings.Split(before, ",")) })
	// resume, not a direct thaw: the waiting exec must not hold the
	// container's lock against it.
	e.MustRun("resume", id)
	if out, stderr, code := a.wait(t); code != 0 || out != "hi\n" {
		t.Errorf("exec --ignore-paused: exit %d, %q, %s", code, out, stderr)
	}
}

// TestExecAppArmor: a profile on a host without AppArmor is an error, not
// silently dropped.
func TestExecAppArmor(t *testing.T) {
	if data, err := os.ReadFile("/sys/module/apparmor/parameters/enabled"); err == nil && strings.HasPrefix(string(data), "Y") {
		t.Skip("AppArmor is enabled on this host")
	}
	e := NewEnv(t)
	id, _ := e.sleeper(nil)
	requireExecFails(t, e, id, "AppArmor is not enabled", "exec", "--apparmor", "some-profile", id, "true")
}

// TestExecProcessLabel: an SELinux label on a host without SELinux is an
// error, as with runc.
func TestExecProcessLabel(t *testing.T) {
	if _, err := os.Stat("/sys/fs/selinux/enforce"); err == nil {
		t.Skip("SELinux is enabled on this host")
	}
	e := NewEnv(t)
	id, _ := e.sleeper(nil)
	requireExecFails(t, e, id, "SELinux", "exec", "--process-label", "system_u:system_r:container_t:s0", id, "true")
}

// TestExecPidfdSocket: --pidfd-socket receives a pidfd of the exec'd
// process, which can signal it.
func TestExecPidfdSocket(t *testing.T) {
	e := NewEnv(t)
	id, _ := e.sleeper(nil)
	dir, err := os.MkdirTemp("", "pidfd-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan recvResult, 1)
	go func() {
		conn, err := ln.AcceptUnix()
		if err != nil {
			got <- recvResult{err: err}
			return
		}
		defer conn.Close()
		got <- recvOneFd(conn)
	}()
	pidFile := filepath.Join(t.TempDir(), "pid")
	e.MustRun("exec", "-d", "--pid-file", pidFile, "--pidfd-socket", path, id, "sleep", "1000")
	pid := readPidFile(t, pidFile)
	var r recvResult
	select {
	case r = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no pidfd received")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.f.Close()
	info, _ := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", r.f.Fd()))
	if !regexp.MustCompile(`(?m)^Pid:\s+` + strconv.Itoa(pid) + `$`).Match(info) {
		t.Fatalf("the fd received is not a pidfd of %d:\n%s", pid, info)
	}
	if err := unix.PidfdSendSignal(int(r.f.Fd()), unix.SIGKILL, nil, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the exec'd process to die", func() bool { return pidGone(pid) })
}

// TestExecNotRunning: exec into a stopped, a created or a missing
// container fails with one line.
func TestExecNotRunning(t *testing.T) {
	e := NewEnv(t)
	id := e.NewID()
	b := e.Bundle(id, []string{"true"}, nil)
	e.MustRun("create", "--bundle", b, id)
	e.MustRun("start", id)
	waitFor(t, "the container to stop", func() bool { return e.State(id)["status"] == "stopped" })
	_, stderr, code := e.Run("exec", id, "true")
	if code == 0 {
		t.Fatal("exec into a stopped container succeeded")
	}
	requireOneLine(t, stderr, "container not running")
	if st := e.State(id)["status"]; st != "stopped" {
		t.Errorf("status %v after the failed exec", st)
	}

	_, stderr, code = e.Run("exec", "no-such-container", "true")
	if code == 0 {
		t.Fatal("exec into a missing container succeeded")
	}
	requireOneLine(t, stderr, "container does not exist")
	if _, err := os.Stat(filepath.Join(e.Root, "no-such-container")); err == nil {
		t.Error("exec into a missing container created its state dir")
	}
}

// TestExecBadInput: each bad exec is one line, non-zero, and leaves the
// container as it was.
func TestExecBadInput(t *testing.T) {
	e := NewEnv(t)
	id, _ := e.sleeper(nil)
	dir := t.TempDir()
	notJSON := filepath.Join(dir, "not.json")
	writeFile(t, notJSON, `{"args": ["true"`)
	noArgs := e.processJSON(t, func(p *specs.Process) { p.Args = nil })
	relCwd := e.processJSON(t, func(p *specs.Process) { p.Args = []string{"true"}; p.Cwd = "relative" })
	// Executable by its mode, but not a program: execve fails after every
	// check, and a detached exec must still report it.
	if err := os.WriteFile(filepath.Join(e.BundleDir(id), "rootfs", "not-a-program"), []byte("\x00\x01garbage"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"invalid-json", []string{"exec", "--process", notJSON, id}, "process.json"},
		{"no-args", []string{"exec", "--process", noArgs, id}, "process.args"},
		{"relative-cwd", []string{"exec", "--process", relCwd, id}, "process.cwd"},
		{"missing-process-file", []string{"exec", "--process", filepath.Join(dir, "none.json"), id}, "none.json"},
		{"no-command", []string{"exec", id}, "exec"},
		{"no-such-user", []string{"exec", "-u", "nobodyhere", id, "true"}, "nobodyhere"},
		{"no-such-group", []string{"exec", "-u", "user:nogrouphere", id, "true"}, "nogrouphere"},
		{"negative-preserve-fds", []string{"exec", "--preserve-fds", "-1", id, "true"}, "preserve-fds"},
		{"missing-executable", []string{"exec", id, "/no/such/binary"}, "/no/such/binary"},
		{"exec-format-error", []string{"exec", id, "/not-a-program"}, "exec format error"},
		{"exec-format-error-detached", []string{"exec", "-d", "--pid-file", filepath.Join(dir, "pid"), id, "/not-a-program"}, "exec format error"},
		{"bad-cap", []string{"exec", "--cap", "NOT_A_CAP", id, "true"}, "NOT_A_CAP"},
	} {
		t.Run(tc.name, func(t *testing.T) { requireExecFails(t, e, id, tc.want, tc.args...) })
	}
}

// TestExecUserNamespace: exec into a container with a user namespace joins
// it: the same mapping, container root.
func TestExecUserNamespace(t *testing.T) {
	e := NewEnv(t)
	id := e.NewID()
	b := e.Bundle(id, []string{"sleep", "100000"}, func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	})
	if out, err := exec.Command("chown", "-R", "100000:100000", filepath.Join(b, "rootfs")).CombinedOutput(); err != nil {
		t.Fatalf("chown rootfs: %v %s", err, out)
	}
	makeTraversable(b)
	e.MustRun("create", "--bundle", b, id)
	e.MustRun("start", id)
	pid := statePid(e, id)
	out := e.MustRun("exec", "-u", "1000", id, "sh", "-c", "id -u; cat /proc/self/uid_map; readlink /proc/self/ns/user")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || lines[0] != "1000" || strings.Join(strings.Fields(lines[1]), " ") != "0 100000 65536" ||
		lines[2] != readlinkHost(t, fmt.Sprintf("/proc/%d/ns/user", pid)) {
		t.Fatalf("exec in the user namespace: %q", lines)
	}
	pidFile := filepath.Join(t.TempDir(), "pid")
	e.MustRun("exec", "-d", "--pid-file", pidFile, id, "sleep", "1000")
	st, err := os.Stat(fmt.Sprintf("/proc/%d", readPidFile(t, pidFile)))
	if err != nil {
		t.Fatal(err)
	}
	if uid := st.Sys().(*syscall.Stat_t).Uid; uid != 100000 {
		t.Errorf("exec'd root runs as host uid %d, want 100000", uid)
	}
}

// TestPs: `ps --format json` lists the container's pids, an exec'd one
// included; the table keeps ps's header and only the container's rows.
func TestPs(t *testing.T) {
	e := NewEnv(t)
	id, initPid := e.sleeper(nil)
	pidFile := filepath.Join(t.TempDir(), "pid")
	e.MustRun("exec", "-d", "--pid-file", pidFile, id, "sleep", "2000")
	execPid := readPidFile(t, pidFile)
	pids := psJSON(e, id)
	slices.Sort(pids)
	want := []int{initPid, execPid}
	slices.Sort(want)
	if !slices.Equal(pids, want) {
		t.Errorf("ps --format json = %v, want %v", pids, want)
	}
	table := e.MustRun("ps", id)
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 3 || !slices.Contains(strings.Fields(lines[0]), "PID") {
		t.Fatalf("ps table:\n%s", table)
	}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) < 2 || (f[1] != strconv.Itoa(initPid) && f[1] != strconv.Itoa(execPid)) {
			t.Errorf("ps row %q is not one of the container's", l)
		}
	}
	// ps arguments after the id go to ps.
	table = e.MustRun("ps", id, "-o", "pid,comm")
	if lines := strings.Split(strings.TrimSpace(table), "\n"); len(lines) != 3 || strings.Fields(lines[0])[0] != "PID" || !strings.Contains(table, "sleep") {
		t.Errorf("ps -o pid,comm:\n%s", table)
	}
	// A stopped container has no processes: null, exit 0 (as runc).
	e.MustRun("kill", id, "KILL")
	e.MustRun("kill", "--all", id, "KILL")
	waitFor(t, "the container to stop", func() bool { return pidGone(execPid) && e.State(id)["status"] == "stopped" })
	if out := strings.TrimSpace(e.MustRun("ps", "--format", "json", id)); out != "null" && out != "[]" {
		t.Errorf("ps of a stopped container: %q", out)
	}
	_, stderr, code := e.Run("ps", "--format", "yaml", id)
	if code == 0 {
		t.Error("ps --format yaml succeeded")
	}
	requireOneLine(t, stderr, "yaml")
	_, stderr, code = e.Run("ps", "no-such-container")
	if code == 0 {
		t.Error("ps of a missing container succeeded")
	}
	requireOneLine(t, stderr, "container does not exist")
}

// TestExecOOMScoreAdj: the exec'd process gets process.oomScoreAdj, else
// the container's, never the caller's (a shim runs near -1000: its
// exec'd processes must not inherit that).
func TestExecOOMScoreAdj(t *testing.T) {
	e := NewEnv(t)
	adj := 100
	id, _ := e.sleeper(func(s *specs.Spec) { s.Process.OOMScoreAdj = &adj })
	// minirunc runs with a value of its own, as under a shim (whose -998
	// some hosts do not allow a test to set: 500 here).
	execAs := func(args ...string) (string, string, int) {
		cmd := exec.Command("sh", append([]string{"-c", `echo 500 > /proc/self/oom_score_adj && exec "$@"`, "sh", minirunc, "--root", e.Root}, args...)...)
		return startAsync(t, cmd).wait(t)
	}
	if out, stderr, code := execAs("exec", id, "cat", "/proc/self/oom_score_adj"); code != 0 || out != "100\n" {
		t.Errorf("exec: oom_score_adj %q (exit %d, %s), want the container's 100", out, code, stderr)
	}
	own := 300
	proc := e.processJSON(t, func(p *specs.Process) {
		p.Args = []string{"cat", "/proc/self/oom_score_adj"}
		p.OOMScoreAdj = &own
	})
	if out, stderr, code := execAs("exec", "--process", proc, id); code != 0 || out != "300\n" {
		t.Errorf("exec --process: oom_score_adj %q (exit %d, %s), want the process's 300", out, code, stderr)
	}
	noAdj := e.processJSON(t, func(p *specs.Process) {
		p.Args = []string{"cat", "/proc/self/oom_score_adj"}
		p.OOMScoreAdj = nil
	})
	if out, stderr, code := execAs("exec", "--process", noAdj, id); code != 0 || out != "100\n" {
		t.Errorf("exec --process without oomScoreAdj: %q (exit %d, %s), want the container's 100", out, code, stderr)
	}
}

// sessionKeyringProgram prints the serial of its session keyring; built
// static from the standard library only, to run inside the busybox rootfs.
const sessionKeyringProgram = `package main

import (
	"fmt"
	"os"
	"syscall"
)

func main() {
	// keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)
	id, _, errno := syscall.Syscall(syscall.SYS_KEYCTL, 0, ^uintptr(2), 0)
	if errno != 0 {
		fmt.Fprintln(os.Stderr, errno)
		os.Exit(1)
	}
	fmt.Printf("%08x\n", id)
}
`

// TestExecSessionKeyring: as runc, an exec'd process joins the container's
// session keyring (_ses.<id>, made searchable by create for this), never
// the caller's; with --no-new-keyring neither does.
func TestExecSessionKeyring(t *testing.T) {
	if _, err := os.Stat("/proc/keys"); err != nil {
		t.Skip("no /proc/keys")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "sesskey.go")
	writeFile(t, src, sessionKeyringProgram)
	bin := filepath.Join(dir, "sesskey")
	build := exec.Command("go", "build", "-o", bin, src)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v %s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	hostOut, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimSpace(string(hostOut))
	e := NewEnv(t)
	// The keyring is found by name: a name unique to this run.
	start := func(noNewKeyring bool) string {
		id := fmt.Sprintf("%s-%d", e.NewID(), os.Getpid())
		b := e.Bundle(id, []string{"sleep", "100000"}, nil)
		if err := os.WriteFile(filepath.Join(b, "rootfs", "sesskey"), data, 0o755); err != nil {
			t.Fatal(err)
		}
		args := []string{"create", "--bundle", b}
		if noNewKeyring {
			args = append(args, "--no-new-keyring")
		}
		e.MustRun(append(args, id)...)
		e.MustRun("start", id)
		return id
	}
	id := start(false)
	var keyrings []string
	keys, _ := os.ReadFile("/proc/keys")
	for _, l := range strings.Split(string(keys), "\n") {
		if f := strings.Fields(l); len(f) > 8 && f[7] == "keyring" && f[8] == "_ses."+id+":" {
			keyrings = append(keyrings, f[0])
			if perm, _ := strconv.ParseUint(f[4], 16, 32); perm&0x080000 == 0 {
				t.Errorf("the container's session keyring is not searchable by its user: perm %s", f[4])
			}
		}
	}
	if len(keyrings) != 1 {
		t.Fatalf("keyrings named _ses.%s: %v, want one", id, keyrings)
	}
	for i := 0; i < 2; i++ {
		if out := strings.TrimSpace(e.MustRun("exec", id, "/sesskey")); out != keyrings[0] {
			t.Errorf("exec'd process's session keyring %s, want the container's %s (the caller's is %s)", out, keyrings[0], host)
		}
	}
	id2 := start(true)
	if out := strings.TrimSpace(e.MustRun("exec", id2, "/sesskey")); out != host {
		t.Errorf("--no-new-keyring container: exec'd session keyring %s, want the caller's %s", out, host)
	}
}
