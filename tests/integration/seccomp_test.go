package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dockerseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// mkdirCalls are the two syscalls busybox's mkdir may use.
var mkdirCalls = []string{"mkdir", "mkdirat"}

// withSeccomp sets linux.seccomp.
func withSeccomp(sc *specs.LinuxSeccomp) func(*specs.Spec) {
	return func(s *specs.Spec) { s.Linux.Seccomp = sc }
}

// withNNP sets process.noNewPrivileges, which decides when init loads the
// filter (before dropping capabilities, or just before execve).
func withNNP(nnp bool) func(*specs.Spec) {
	return func(s *specs.Spec) { s.Process.NoNewPrivileges = nnp }
}

func errnoPtr(e syscall.Errno) *uint {
	v := uint(e)
	return &v
}

// denyMkdir is a profile that allows everything but mkdir, which gets act.
func denyMkdir(act specs.LinuxSeccompAction, errno *uint) *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls:      []specs.LinuxSyscall{{Names: mkdirCalls, Action: act, ErrnoRet: errno}},
	}
}

// allSyscallsBut lists every syscall libseccomp knows for this
// architecture, numbered below below (0: all), except those in except.
func allSyscallsBut(t *testing.T, below int, except ...string) []string {
	t.Helper()
	skip := map[string]bool{}
	for _, e := range except {
		skip[e] = true
	}
	if below <= 0 {
		below = 1024
	}
	var names []string
	for n := 0; n < below; n++ {
		name, err := libseccomp.ScmpSyscall(n).GetName()
		if err != nil || skip[name] {
			continue
		}
		names = append(names, name)
	}
	if len(names) < 100 {
		t.Fatalf("libseccomp knows only %d syscalls below %d", len(names), below)
	}
	return names
}

// TestSeccompErrnoRet: a syscall with SCMP_ACT_ERRNO fails with the
// errnoRet asked for, or EPERM without one, whichever point init loads
// the filter at.
func TestSeccompErrnoRet(t *testing.T) {
	cases := []struct {
		name  string
		errno *uint
		want  string
	}{
		{"default-EPERM", nil, "Operation not permitted"},
		{"EXDEV", errnoPtr(unix.EXDEV), "Invalid cross-device link"},
		{"EDQUOT", errnoPtr(unix.EDQUOT), "Disk quota exceeded"},
	}
	for _, c := range cases {
		for _, nnp := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/nnp=%v", c.name, nnp), func(t *testing.T) {
				e := NewEnv(t)
				out := e.Sh("mkdir /tmp/x 2>&1; [ -d /tmp/x ] && echo created; grep ^Seccomp: /proc/self/status",
					chainMutate(writable, withNNP(nnp), withSeccomp(denyMkdir(specs.ActErrno, c.errno))))
				if !strings.Contains(out, c.want) || strings.Contains(out, "created") {
					t.Fatalf("output %q: want mkdir refused with %q", out, c.want)
				}
				if !strings.Contains(out, "Seccomp:\t2") {
					t.Fatalf("output %q: want Seccomp: 2 (filter mode)", out)
				}
			})
		}
	}
}

// TestSeccompDefaultErrnoRet: with defaultAction SCMP_ACT_ERRNO, a syscall
// the profile does not name fails with defaultErrnoRet (EPERM without it).
func TestSeccompDefaultErrnoRet(t *testing.T) {
	allowed := allSyscallsBut(t, 0, mkdirCalls...)
	for _, c := range []struct {
		errno *uint
		want  string
	}{
		{nil, "Operation not permitted"},
		{errnoPtr(unix.EXDEV), "Invalid cross-device link"},
	} {
		t.Run(c.want, func(t *testing.T) {
			e := NewEnv(t)
			out := e.Sh("mkdir /tmp/x 2>&1; echo done", chainMutate(writable, withSeccomp(&specs.LinuxSeccomp{
				DefaultAction:   specs.ActErrno,
				DefaultErrnoRet: c.errno,
				Syscalls:        []specs.LinuxSyscall{{Names: allowed, Action: specs.ActAllow}},
			})))
			if !strings.Contains(out, c.want) || !strings.Contains(out, "done") {
				t.Fatalf("output %q: want mkdir refused with %q", out, c.want)
			}
		})
	}
}

// TestSeccompNewerSyscallsENOSYS: under a deny-by-default profile, a
// syscall numbered above every syscall the profile names gets ENOSYS (so
// libc falls back), while an unnamed older one gets the default errno.
func TestSeccompNewerSyscallsENOSYS(t *testing.T) {
	setns, err := libseccomp.GetSyscallFromName("setns")
	if err != nil {
		t.Fatal(err)
	}
	// Everything numbered below setns but mkdir; setns and later unnamed.
	allowed := allSyscallsBut(t, int(setns), mkdirCalls...)
	e := NewEnv(t)
	out := e.Sh("mkdir /tmp/x 2>&1; nsenter -t 1 -u true 2>&1; echo done", chainMutate(writable, withSeccomp(&specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Syscalls:      []specs.LinuxSyscall{{Names: allowed, Action: specs.ActAllow}},
	})))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "Operation not permitted") ||
		!strings.Contains(lines[1], "Function not implemented") || lines[2] != "done" {
		t.Fatalf("output %q: want mkdir EPERM (older, unnamed) and setns ENOSYS (newer than the profile)", out)
	}
}

// TestSeccompArgConditions: conditions filter only the matching calls.
// kill(2) from the shell's builtin: arg0 is the pid ($$ is 1), arg1 the
// signal. Conditions on different arguments are ANDed; several conditions
// on the same argument become separate rules (either matches), as in runc.
func TestSeccompArgConditions(t *testing.T) {
	const script = `trap 'echo got-usr1' USR1; trap 'echo got-usr2' USR2
kill -USR1 $$ || echo usr1-denied
kill -USR2 $$ || echo usr2-denied
kill -0 $$ && echo sig0-ok`
	arg := func(index uint, op specs.LinuxSeccompOperator, v, v2 uint64) specs.LinuxSeccompArg {
		return specs.LinuxSeccompArg{Index: index, Op: op, Value: v, ValueTwo: v2}
	}
	cases := []struct {
		name string
		args []specs.LinuxSeccompArg
		want string
	}{
		{"eq", []specs.LinuxSeccompArg{arg(1, specs.OpEqualTo, uint64(unix.SIGUSR1), 0)},
			"usr1-denied\ngot-usr2\nsig0-ok\n"},
		{"same-arg-or", []specs.LinuxSeccompArg{arg(1, specs.OpEqualTo, uint64(unix.SIGUSR1), 0), arg(1, specs.OpEqualTo, uint64(unix.SIGUSR2), 0)},
			"usr1-denied\nusr2-denied\nsig0-ok\n"},
		{"different-args-and-nomatch", []specs.LinuxSeccompArg{arg(0, specs.OpEqualTo, 4242, 0), arg(1, specs.OpEqualTo, uint64(unix.SIGUSR1), 0)},
			"got-usr1\ngot-usr2\nsig0-ok\n"},
		{"different-args-and-match", []specs.LinuxSeccompArg{arg(0, specs.OpEqualTo, 1, 0), arg(1, specs.OpEqualTo, uint64(unix.SIGUSR2), 0)},
			"got-usr1\nusr2-denied\nsig0-ok\n"},
		// SIGUSR1 is 10 (0b1010), SIGUSR2 12 (0b1100): bit 1 tells them apart.
		{"masked-eq", []specs.LinuxSeccompArg{arg(1, specs.OpMaskedEqual, 0x2, 0x2)},
			"usr1-denied\ngot-usr2\nsig0-ok\n"},
		{"greater-than", []specs.LinuxSeccompArg{arg(1, specs.OpGreaterThan, uint64(unix.SIGUSR1), 0)},
			"got-usr1\nusr2-denied\nsig0-ok\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := NewEnv(t)
			out, stderr, code := e.RunContainer([]string{"sh", "-c", script}, withSeccomp(&specs.LinuxSeccomp{
				DefaultAction: specs.ActAllow,
				Syscalls:      []specs.LinuxSyscall{{Names: []string{"kill"}, Action: specs.ActErrno, Args: c.args}},
			}))
			if code != 0 || out != c.want {
				t.Fatalf("exit %d, output %q, want %q; stderr %s", code, out, c.want, stderr)
			}
			if strings.Count(c.want, "denied") > 0 && !strings.Contains(stderr, "Operation not permitted") {
				t.Errorf("stderr %q: want kill's EPERM", stderr)
			}
		})
	}
}

// TestSeccompKillActions: SCMP_ACT_KILL (thread), KILL_THREAD,
// KILL_PROCESS and an uncaught SCMP_ACT_TRAP end the process by SIGSYS:
// run exits 128+31.
func TestSeccompKillActions(t *testing.T) {
	for _, act := range []specs.LinuxSeccompAction{specs.ActKill, specs.ActKillThread, specs.ActKillProcess, specs.ActTrap} {
		t.Run(string(act), func(t *testing.T) {
			e := NewEnv(t)
			out, stderr, code := e.RunContainer([]string{"sh", "-c", "echo before; exec mkdir /tmp/x"},
				chainMutate(writable, withSeccomp(denyMkdir(act, nil))))
			if code != 128+int(unix.SIGSYS) || out != "before\n" {
				t.Fatalf("exit %d, output %q, want 159 (SIGSYS) after \"before\"; stderr %s", code, out, stderr)
			}
		})
	}
}

// TestSeccompKillInChild: KILL_PROCESS in a child of the shell kills only
// that process; the shell sees it die of SIGSYS and goes on.
func TestSeccompKillInChild(t *testing.T) {
	e := NewEnv(t)
	out := e.Sh("mkdir /tmp/x; echo child=$?", chainMutate(writable, withSeccomp(denyMkdir(specs.ActKillProcess, nil))))
	if out != fmt.Sprintf("child=%d\n", 128+int(unix.SIGSYS)) {
		t.Fatalf("output %q: want the mkdir child killed by SIGSYS", out)
	}
}

// TestSeccompTrapCaught: SCMP_ACT_TRAP sends SIGSYS, which a handler can
// catch; the call itself is not made.
func TestSeccompTrapCaught(t *testing.T) {
	e := NewEnv(t)
	out := e.Sh(`trap 'echo caught-sigsys' SYS; trap 'echo got-usr1' USR1; kill -USR1 $$; echo after`, withSeccomp(&specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{{Names: []string{"kill"}, Action: specs.ActTrap,
			Args: []specs.LinuxSeccompArg{{Index: 1, Op: specs.OpEqualTo, Value: uint64(unix.SIGUSR1)}}}},
	}))
	if !strings.Contains(out, "caught-sigsys\n") || strings.Contains(out, "got-usr1") || !strings.HasSuffix(out, "after\n") {
		t.Fatalf("output %q: want SIGSYS caught and SIGUSR1 never delivered", out)
	}
}

// TestSeccompLog: SCMP_ACT_LOG allows the call (and logs it), as a rule
// and as the default action.
func TestSeccompLog(t *testing.T) {
	for name, sc := range map[string]*specs.LinuxSeccomp{
		"rule":    denyMkdir(specs.ActLog, nil),
		"default": {DefaultAction: specs.ActLog, Syscalls: []specs.LinuxSyscall{{Names: []string{"kill"}, Action: specs.ActErrno}}},
	} {
		t.Run(name, func(t *testing.T) {
			e := NewEnv(t)
			out := e.Sh("mkdir /tmp/x && [ -d /tmp/x ] && echo created; grep ^Seccomp: /proc/self/status", chainMutate(writable, withSeccomp(sc)))
			if out != "created\nSeccomp:\t2\n" {
				t.Fatalf("output %q: want mkdir allowed under a filter", out)
			}
		})
	}
}

// TestSeccompTraceWithoutTracer: SCMP_ACT_TRACE with no tracer attached
// fails the call with ENOSYS (seccomp(2)), whatever errnoRet says (it is
// the tracer's event message).
func TestSeccompTraceWithoutTracer(t *testing.T) {
	e := NewEnv(t)
	out := e.Sh("mkdir /tmp/x 2>&1; [ -d /tmp/x ] && echo created; echo done",
		chainMutate(writable, withSeccomp(denyMkdir(specs.ActTrace, errnoPtr(unix.EXDEV)))))
	if !strings.Contains(out, "Function not implemented") || strings.Contains(out, "created") {
		t.Fatalf("output %q: want ENOSYS without a tracer", out)
	}
}

// TestSeccompFlags: LOG, SPEC_ALLOW and TSYNC are accepted and the filter
// is in force.
func TestSeccompFlags(t *testing.T) {
	e := NewEnv(t)
	sc := denyMkdir(specs.ActErrno, errnoPtr(unix.EXDEV))
	sc.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow, "SECCOMP_FILTER_FLAG_TSYNC"}
	out := e.Sh("mkdir /tmp/x 2>&1; grep -E '^(Seccomp|Speculation_Store_Bypass):' /proc/self/status", chainMutate(writable, withSeccomp(sc)))
	if !strings.Contains(out, "Invalid cross-device link") || !strings.Contains(out, "Seccomp:\t2") {
		t.Fatalf("output %q: want the filter loaded with the flags", out)
	}
	// SPEC_ALLOW: the kernel must not force the SSB mitigation because a
	// filter was loaded (it may still be on for the whole host).
	if strings.Contains(out, "thread force mitigated") {
		t.Errorf("output %q: SPEC_ALLOW given but the kernel forced the SSB mitigation", out)
	}
}

// TestSeccompWaitKillableRecv: the flag is taken with a notify listener
// (the agent still answers) and without one (where the kernel refuses it,
// it changes nothing and the filter is still loaded).
func TestSeccompWaitKillableRecv(t *testing.T) {
	t.Run("without-listener", func(t *testing.T) {
		e := NewEnv(t)
		sc := denyMkdir(specs.ActErrno, nil)
		sc.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}
		out := e.Sh("mkdir /tmp/x 2>&1; true", chainMutate(writable, withSeccomp(sc)))
		if !strings.Contains(out, "Operation not permitted") {
			t.Fatalf("output %q: filter not in force", out)
		}
	})
	t.Run("with-listener", func(t *testing.T) {
		a := startSeccompAgent(t)
		e := NewEnv(t)
		sc := notifyProfile(a.Path)
		sc.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}
		out := e.Sh(notifyScript, chainMutate(writable, withSeccomp(sc)))
		a.waitState(t)
		checkNotifyOutput(t, a, out)
	})
}

// TestSeccompUnknownSyscallSkipped: a name libseccomp does not know is
// skipped (the rest of the rule still applies), as runc does.
func TestSeccompUnknownSyscallSkipped(t *testing.T) {
	e := NewEnv(t)
	out := e.Sh("mkdir /tmp/x 2>&1; echo done", chainMutate(writable, withSeccomp(&specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"minirunc_no_such_syscall"}, Action: specs.ActErrno},
			{Names: append([]string{"another_made_up_syscall"}, mkdirCalls...), Action: specs.ActErrno, ErrnoRet: errnoPtr(unix.EXDEV)},
		},
	})))
	if !strings.Contains(out, "Invalid cross-device link") || !strings.HasSuffix(out, "done\n") {
		t.Fatalf("output %q: want the known names filtered", out)
	}
}

// TestSeccompExecGetsFilter: a process started by exec runs under the
// container's filter.
func TestSeccompExecGetsFilter(t *testing.T) {
	for _, nnp := range []bool{true, false} {
		t.Run(fmt.Sprintf("nnp=%v", nnp), func(t *testing.T) {
			e := NewEnv(t)
			id, _ := e.startContainer([]string{"sleep", "100"}, chainMutate(writable, withNNP(nnp),
				withSeccomp(denyMkdir(specs.ActErrno, errnoPtr(unix.EXDEV)))))
			out, stderr, code := e.Run("exec", id, "sh", "-c", "grep -E '^Seccomp(_filters)?:' /proc/self/status; mkdir /tmp/y 2>&1; true")
			if code != 0 {
				t.Fatalf("exec: exit %d: %s", code, stderr)
			}
			if !strings.Contains(out, "Seccomp:\t2\n") || !strings.Contains(out, "Seccomp_filters:\t1\n") ||
				!strings.Contains(out, "Invalid cross-device link") {
				t.Fatalf("exec output %q: want exactly the container's one filter", out)
			}
		})
	}
}

// TestSeccompDockerDefaultProfile: Docker's default profile (moby/profiles)
// loads, a busybox shell works under it, and what it refuses is refused.
// The container holds CAP_SYS_ADMIN but the profile is built for the
// default capabilities, so it is the filter that refuses unshare and mount.
func TestSeccompDockerDefaultProfile(t *testing.T) {
	base := defaultSpec()
	profile, err := dockerseccomp.GetDefaultProfile(base)
	if err != nil {
		t.Fatal(err)
	}
	const script = `echo hello; ls / | wc -l; grep -c root /etc/passwd; mkdir -p /tmp/a/b && echo mkdir-ok
sh -c 'exit 3'; echo sub=$?; date +%Y >/dev/null && echo date-ok; cat /proc/self/status | grep ^Seccomp:
unshare -m true 2>&1 || echo unshare-refused
mount -t tmpfs t /mnt 2>&1 || echo mount-refused`
	sysAdmin := func(s *specs.Spec) {
		c := s.Process.Capabilities
		c.Bounding = append(c.Bounding, "CAP_SYS_ADMIN")
		c.Effective = append(c.Effective, "CAP_SYS_ADMIN")
		c.Permitted = append(c.Permitted, "CAP_SYS_ADMIN")
		os.MkdirAll(filepath.Join(s.Root.Path, "mnt"), 0o755)
	}
	mnt := func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "tmpfs", Source: "tmpfs"})
	}
	e := NewEnv(t)
	out := e.Sh(script, chainMutate(writable, mnt, sysAdmin, withSeccomp(profile)))
	for _, want := range []string{"hello\n", "mkdir-ok\n", "sub=3\n", "date-ok\n", "Seccomp:\t2\n", "unshare-refused\n", "mount-refused\n", "Operation not permitted"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Without the filter the same capabilities let both through.
	out = e.Sh(script, chainMutate(writable, mnt, sysAdmin))
	if strings.Contains(out, "refused") || strings.Contains(out, "Seccomp:\t2") {
		t.Errorf("control without seccomp: %s", out)
	}
}

// seccompAgent is a seccomp notify agent: it listens on a unix socket,
// receives the container process state with the notify fd (SCM_RIGHTS),
// and answers mkdir notifications by path: .../agent-errno fails with
// EDQUOT, .../agent-fake succeeds without being made, others go ahead.
type seccompAgent struct {
	t      *testing.T
	Path   string
	ln     *net.UnixListener
	states chan specs.ContainerProcessState
	mu     sync.Mutex
	seen   []string // "syscall path" for each notification
	stop   chan struct{}
	wg     sync.WaitGroup
}

func startSeccompAgent(t *testing.T) *seccompAgent {
	t.Helper()
	a := &seccompAgent{t: t, Path: filepath.Join(t.TempDir(), "agent.sock"),
		states: make(chan specs.ContainerProcessState, 10), stop: make(chan struct{})}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: a.Path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	a.ln = ln
	a.wg.Add(1)
	go a.accept()
	t.Cleanup(func() {
		close(a.stop)
		ln.Close()
		a.wg.Wait()
	})
	return a
}

func (a *seccompAgent) accept() {
	defer a.wg.Done()
	for {
		conn, err := a.ln.AcceptUnix()
		if err != nil {
			return
		}
		st, fd, err := recvProcessState(conn)
		conn.Close()
		if err != nil {
			a.t.Errorf("agent: %v", err)
			continue
		}
		a.states <- st
		a.wg.Add(1)
		go a.serve(fd)
	}
}

// recvProcessState reads the state JSON and the one fd sent with it.
func recvProcessState(conn *net.UnixConn) (specs.ContainerProcessState, int, error) {
	var st specs.ContainerProcessState
	buf := make([]byte, 1<<16)
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return st, -1, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return st, -1, fmt.Errorf("want one control message, got %d (%v)", len(msgs), err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return st, -1, fmt.Errorf("want one fd, got %v (%v)", fds, err)
	}
	if err := json.Unmarshal(buf[:n], &st); err != nil {
		unix.Close(fds[0])
		return st, -1, fmt.Errorf("state %q: %v", buf[:n], err)
	}
	return st, fds[0], nil
}

// serve answers notifications until the filter has no more users.
func (a *seccompAgent) serve(fd int) {
	defer a.wg.Done()
	defer unix.Close(fd)
	for {
		select {
		case <-a.stop:
			return
		default:
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, 100)
		if err != nil && !errors.Is(err, unix.EINTR) {
			a.t.Errorf("agent: poll: %v", err)
			return
		}
		if n == 0 {
			continue
		}
		if pfd[0].Revents&unix.POLLIN == 0 {
			return // POLLHUP: every process under the filter is gone
		}
		req, err := libseccomp.NotifReceive(libseccomp.ScmpFd(fd))
		if err != nil {
			continue // the caller died meanwhile
		}
		a.answer(fd, req)
	}
}

func (a *seccompAgent) answer(fd int, req *libseccomp.ScmpNotifReq) {
	name, _ := req.Data.Syscall.GetName()
	addr := req.Data.Args[0]
	if name == "mkdirat" {
		addr = req.Data.Args[1]
	}
	path := readString(int(req.Pid), addr)
	// The pid could have been reused between receive and read.
	if libseccomp.NotifIDValid(libseccomp.ScmpFd(fd), req.ID) != nil {
		return
	}
	a.mu.Lock()
	a.seen = append(a.seen, name+" "+path)
	a.mu.Unlock()
	resp := &libseccomp.ScmpNotifResp{ID: req.ID}
	switch filepath.Base(path) {
	case "agent-errno":
		resp.Error = int32(unix.EDQUOT)
	case "agent-fake":
		resp.Val = 0
	default:
		resp.Flags = libseccomp.NotifRespFlagContinue
	}
	if err := libseccomp.NotifRespond(libseccomp.ScmpFd(fd), resp); err != nil && !errors.Is(err, unix.ENOENT) {
		a.t.Errorf("agent: respond: %v", err)
	}
}

// readString reads a NUL-terminated string at addr in pid's memory.
func readString(pid int, addr uint64) string {
	f, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		return ""
	}
	defer f.Close()
	var out []byte
	for len(out) < 8192 {
		chunk := make([]byte, 4096-int(addr%4096))
		n, _ := f.ReadAt(chunk, int64(addr))
		if n == 0 {
			break
		}
		if i := bytes.IndexByte(chunk[:n], 0); i >= 0 {
			return string(append(out, chunk[:i]...))
		}
		out = append(out, chunk[:n]...)
		addr += uint64(n)
	}
	return string(out)
}

func (a *seccompAgent) waitState(t *testing.T) specs.ContainerProcessState {
	t.Helper()
	select {
	case st := <-a.states:
		return st
	case <-time.After(30 * time.Second):
		t.Fatal("the agent never got the container's notify fd")
	}
	return specs.ContainerProcessState{}
}

func (a *seccompAgent) Seen() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.seen...)
}

func notifyProfile(path string) *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{
		DefaultAction:    specs.ActAllow,
		ListenerPath:     path,
		ListenerMetadata: "meta-42",
		Syscalls:         []specs.LinuxSyscall{{Names: mkdirCalls, Action: specs.ActNotify}},
	}
}

const notifyScript = `mkdir /tmp/agent-errno 2>&1
mkdir /tmp/agent-fake && echo fake-ok; [ -d /tmp/agent-fake ] || echo fake-not-created
mkdir /tmp/agent-real && [ -d /tmp/agent-real ] && echo real-created`

func checkNotifyOutput(t *testing.T, a *seccompAgent, out string) {
	t.Helper()
	for _, want := range []string{"Disk quota exceeded", "fake-ok\nfake-not-created\n", "real-created\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output %q lacks %q: the agent's replies did not reach the process", out, want)
		}
	}
	seen := strings.Join(a.Seen(), ",")
	for _, p := range []string{"/tmp/agent-errno", "/tmp/agent-fake", "/tmp/agent-real"} {
		if !strings.Contains(seen, p) {
			t.Errorf("agent saw %q, not a mkdir of %s", seen, p)
		}
	}
}

// TestSeccompNotify: SCMP_ACT_NOTIFY sends the notify fd to the agent with
// the container process state; the agent sees each mkdir and its reply
// (an errno, a fake success, or continue) reaches the process. An exec'd
// process brings the agent a second fd.
func TestSeccompNotify(t *testing.T) {
	for _, nnp := range []bool{true, false} {
		t.Run(fmt.Sprintf("nnp=%v", nnp), func(t *testing.T) {
			a := startSeccompAgent(t)
			e := NewEnv(t)
			id := e.NewID()
			b := e.Bundle(id, []string{"sh", "-c", notifyScript}, chainMutate(writable, withNNP(nnp), withSeccomp(notifyProfile(a.Path))))
			out, stderr, code := e.Run("run", "--bundle", b, id)
			if code != 0 {
				t.Fatalf("run: exit %d: %s", code, stderr)
			}
			st := a.waitState(t)
			if st.Version != specs.Version || st.Metadata != "meta-42" || len(st.Fds) != 1 || st.Fds[0] != specs.SeccompFdName ||
				st.State.ID != id || st.Pid <= 0 || st.State.Pid != st.Pid || st.State.Bundle != b {
				t.Errorf("container process state: %+v", st)
			}
			checkNotifyOutput(t, a, out)
		})
	}
	t.Run("exec", func(t *testing.T) {
		a := startSeccompAgent(t)
		e := NewEnv(t)
		id, _ := e.startContainer([]string{"sleep", "100"}, chainMutate(writable, withSeccomp(notifyProfile(a.Path))))
		a.waitState(t)
		out, stderr, code := e.Run("exec", id, "sh", "-c", notifyScript)
		if code != 0 {
			t.Fatalf("exec: exit %d: %s", code, stderr)
		}
		// The exec'd process's pid, not init's, in the state as well.
		if st := a.waitState(t); st.State.ID != id || st.State.Status != specs.StateRunning || st.Pid <= 0 ||
			st.Pid == statePid(e, id) || st.State.Pid != st.Pid {
			t.Errorf("exec's process state: %+v", st)
		}
		checkNotifyOutput(t, a, out)
	})
}

// TestSeccompBadInput: what is wrong with linux.seccomp is one clear line,
// a non-zero exit and nothing left behind.
func TestSeccompBadInput(t *testing.T) {
	notAsocket := filepath.Join(t.TempDir(), "file")
	writeFile(t, notAsocket, "")
	rule := func(r specs.LinuxSyscall) *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{r}}
	}
	cases := []struct {
		name string
		sc   *specs.LinuxSeccomp
		want string
	}{
		{"unknown-action", rule(specs.LinuxSyscall{Names: []string{"mkdir"}, Action: "SCMP_ACT_BOGUS"}), `linux.seccomp.syscalls[0].action "SCMP_ACT_BOGUS"`},
		{"unknown-default-action", &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_NOPE"}, `linux.seccomp.defaultAction "SCMP_ACT_NOPE"`},
		{"empty-default-action", &specs.LinuxSeccomp{}, `linux.seccomp.defaultAction ""`},
		{"unknown-arch", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{"SCMP_ARCH_VAX"}}, `linux.seccomp.architectures[0] "SCMP_ARCH_VAX"`},
		{"unknown-flag", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_BOGUS"}}, `linux.seccomp.flags[0] "SECCOMP_FILTER_FLAG_BOGUS"`},
		{"arg-index-9", rule(specs.LinuxSyscall{Names: []string{"kill"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 9, Op: specs.OpEqualTo}}}), "linux.seccomp.syscalls[0].args[0].index 9"},
		{"arg-unknown-op", rule(specs.LinuxSyscall{Names: []string{"kill"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 1, Op: "SCMP_CMP_FOO"}}}), `linux.seccomp.syscalls[0].args[0].op "SCMP_CMP_FOO"`},
		{"no-names", rule(specs.LinuxSyscall{Action: specs.ActErrno}), "linux.seccomp.syscalls[0].names is empty"},
		{"notify-without-listener", rule(specs.LinuxSyscall{Names: []string{"mkdir"}, Action: specs.ActNotify}), "linux.seccomp.listenerPath is required"},
		{"default-notify", &specs.LinuxSeccomp{DefaultAction: specs.ActNotify, ListenerPath: "/x"}, "linux.seccomp.defaultAction SCMP_ACT_NOTIFY"},
		{"listener-missing", notifyProfile("/nonexistent/minirunc-agent.sock"), "linux.seccomp.listenerPath"},
		{"listener-not-a-socket", notifyProfile(notAsocket), "linux.seccomp.listenerPath"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			badBundle(t, c.want, nil, withSeccomp(c.sc))
		})
	}
}

// TestSeccompListenerClosesEarly: an agent that takes the connection and
// closes it without reading makes the container fail cleanly, not hang.
func TestSeccompListenerClosesEarly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	e := NewEnv(t)
	id := e.NewID()
	b := e.Bundle(id, []string{"true"}, chainMutate(withNNP(false), withSeccomp(notifyProfile(path))))
	_, stderr, code := e.Run("run", "--bundle", b, id)
	if code == 0 {
		t.Skip("the fd reached the socket buffer before the agent closed it; nothing to check")
	}
	requireOneLine(t, stderr, "send seccomp notify fd to "+path)
	requireNoResidue(t, e.Root, id)
}

// TestSeccompCompileCache: the compiled filter is cached in the state root
// (.seccomp), one program per profile; a container started from the cache
// gets its own profile's filter, in create and in exec, and a damaged
// entry is compiled again and replaced, never loaded.
func TestSeccompCompileCache(t *testing.T) {
	e := NewEnv(t)
	cache := filepath.Join(e.Root, ".seccomp")
	entries := func() []string {
		ents, _ := os.ReadDir(cache)
		var names []string
		for _, en := range ents {
			names = append(names, en.Name())
		}
		return names
	}
	const script = "mkdir /tmp/x 2>&1; [ -d /tmp/x ] && echo created; true"
	run := func(errno syscall.Errno) string {
		return e.Sh(script, chainMutate(writable, withSeccomp(denyMkdir(specs.ActErrno, errnoPtr(errno)))))
	}
	want := map[syscall.Errno]string{unix.EXDEV: "Invalid cross-device link", unix.EDQUOT: "Disk quota exceeded"}
	for round := 0; round < 2; round++ {
		for _, errno := range []syscall.Errno{unix.EXDEV, unix.EDQUOT} {
			if out := run(errno); !strings.Contains(out, want[errno]) || strings.Contains(out, "created") {
				t.Fatalf("round %d: output %q: want mkdir refused with %q", round, out, want[errno])
			}
		}
		if n := len(entries()); n != 2 {
			t.Fatalf("round %d: cache holds %v: want one program per profile", round, entries())
		}
	}
	// exec takes the container's program from the cache too.
	id, _ := e.startContainer([]string{"sleep", "100"}, chainMutate(writable, withSeccomp(denyMkdir(specs.ActErrno, errnoPtr(unix.EXDEV)))))
	out, stderr, code := e.Run("exec", id, "sh", "-c", script)
	if code != 0 || !strings.Contains(out, want[unix.EXDEV]) {
		t.Fatalf("exec: exit %d, output %q %s: want mkdir refused with EXDEV", code, out, stderr)
	}
	// Swap the two programs: each file is whole but filed under the other
	// profile's key. Both must be refused and compiled again.
	names := entries()
	a, b := filepath.Join(cache, names[0]), filepath.Join(cache, names[1])
	da, _ := os.ReadFile(a)
	db, _ := os.ReadFile(b)
	if err := os.WriteFile(a, db, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, da, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, errno := range []syscall.Errno{unix.EXDEV, unix.EDQUOT} {
		if out := run(errno); !strings.Contains(out, want[errno]) {
			t.Fatalf("after the swap: output %q: want mkdir refused with %q", out, want[errno])
		}
	}
	if na, _ := os.ReadFile(a); !bytes.Equal(na, da) {
		t.Errorf("entry %s was not compiled again", names[0])
	}
	if nb, _ := os.ReadFile(b); !bytes.Equal(nb, db) {
		t.Errorf("entry %s was not compiled again", names[1])
	}
}
