package integration

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// consoleSocket is the receiving end of --console-socket, as containerd's
// shim and conmon are: it accepts one connection and takes exactly one fd
// sent by SCM_RIGHTS (tests/cmd/recvtty is the same as a program).
type consoleSocket struct {
	t    *testing.T
	Path string
	got  chan recvResult
}

type recvResult struct {
	f    *os.File
	name string
	n    int // fds in the message
	err  error
}

// newConsoleSocket listens on a fresh socket path (short: sun_path holds
// 108 bytes) and receives one fd in the background.
func newConsoleSocket(t *testing.T) *consoleSocket {
	t.Helper()
	dir, err := os.MkdirTemp("", "cs-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cs := &consoleSocket{t: t, Path: filepath.Join(dir, "sock"), got: make(chan recvResult, 1)}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: cs.Path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		conn, err := ln.AcceptUnix()
		if err != nil {
			cs.got <- recvResult{err: err}
			return
		}
		defer conn.Close()
		cs.got <- recvOneFd(conn)
	}()
	return cs
}

// recvOneFd reads one message and its SCM_RIGHTS fds.
func recvOneFd(conn *net.UnixConn) recvResult {
	name := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4*8))
	n, oobn, _, _, err := conn.ReadMsgUnix(name, oob)
	if err != nil {
		return recvResult{err: err}
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return recvResult{err: err}
	}
	var fds []int
	for i := range msgs {
		got, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			return recvResult{err: err}
		}
		fds = append(fds, got...)
	}
	if len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return recvResult{n: len(fds), err: fmt.Errorf("got %d fds, want exactly 1", len(fds))}
	}
	unix.CloseOnExec(fds[0])
	// Non-blocking, so that the runtime poller serves reads and Close
	// interrupts them.
	_ = unix.SetNonblock(fds[0], true)
	return recvResult{f: os.NewFile(uintptr(fds[0]), string(name[:n])), name: string(name[:n]), n: 1}
}

// Recv waits for the fd; the test fails when none arrives.
func (cs *consoleSocket) Recv() *os.File {
	cs.t.Helper()
	select {
	case r := <-cs.got:
		if r.err != nil {
			cs.t.Fatalf("console socket: %v", r.err)
		}
		cs.t.Cleanup(func() { r.f.Close() })
		return r.f
	case <-time.After(30 * time.Second):
		cs.t.Fatal("console socket: no fd received")
		return nil
	}
}

// ptyReader collects everything read from a pty master until it reports
// that every holder of the slave has closed it.
type ptyReader struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	done chan struct{}
}

func readPty(f *os.File) *ptyReader {
	r := &ptyReader{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		b := make([]byte, 4096)
		for {
			n, err := f.Read(b)
			r.mu.Lock()
			r.buf.Write(b[:n])
			r.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return r
}

func (r *ptyReader) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String()
}

// waitFor polls until the output matches re.
func (r *ptyReader) waitFor(t *testing.T, re string) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := rx.FindStringSubmatch(r.String()); m != nil {
			return m
		}
		select {
		case <-r.done:
			if m := rx.FindStringSubmatch(r.String()); m != nil {
				return m
			}
			t.Fatalf("pty closed without %q; output %q", re, r.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %q on the pty; output %q", re, r.String())
		}
		sleepBriefly()
	}
}

// wait waits until the slave is closed everywhere and returns the output.
func (r *ptyReader) wait(t *testing.T) string {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("pty still open; output so far %q", r.String())
	}
	return r.String()
}

// openPty allocates a pty pair on the host for the test to play the user's
// terminal.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetUint32(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// ptyCmd is minirunc run in the foreground on a pty the test allocated, as
// an interactive user's shell would start it.
type ptyCmd struct {
	cmd    *exec.Cmd
	master *os.File
	out    *ptyReader
	done   chan struct{}
	code   int
}

// startOnPty starts minirunc args with a new pty as its controlling
// terminal and stdio; rows, cols (if not 0) are the pty's size.
func (e *Env) startOnPty(rows, cols uint16, args ...string) *ptyCmd {
	e.t.Helper()
	master, slave := openPty(e.t)
	if rows != 0 {
		if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
			e.t.Fatal(err)
		}
	}
	cmd := exec.Command(minirunc, append([]string{"--root", e.Root}, args...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	slave.Close()
	p := &ptyCmd{cmd: cmd, master: master, out: readPty(master), done: make(chan struct{})}
	waitInBackground(e.t, cmd, &p.code, p.done)
	return p
}

func (p *ptyCmd) write(t *testing.T, s string) {
	t.Helper()
	if _, err := p.master.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// wait waits for minirunc to exit and returns its exit code and output.
func (p *ptyCmd) wait(t *testing.T) (int, string) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("minirunc on the pty did not exit; output %q", p.out.String())
	}
	// The slave's last holder is gone with minirunc.
	return p.code, p.out.wait(t)
}

func terminal(s *specs.Spec) { s.Process.Terminal = true }

// TestRunTTYInteractive: `run -t` under a pty the test allocated: the
// user types a command, reads its output and gets the shell's exit code.
// The pty's size reaches the container at start and on every change.
func TestRunTTYInteractive(t *testing.T) {
	e := NewEnv(t)
	id := e.NewID()
	b := e.Bundle(id, []string{"sh"}, terminal)
	p := e.startOnPty(24, 80, "run", "--bundle", b, id)
	p.out.waitFor(t, `/ # `)
	p.write(t, "tty; stty size\n")
	p.out.waitFor(t, `/dev/pts/\d+\r\n24 80\r\n`)
	// A new size of the user's terminal: SIGWINCH reaches minirunc, which
	// copies the size on. Poll: the forward is asynchronous.
	if err := unix.IoctlSetWinsize(int(p.master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 50, Col: 132}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.out.String(), "\r\n50 132\r\n") {
		if time.Now().After(deadline) {
			t.Fatalf("window size change never reached the container: %q", p.out.String())
		}
		p.write(t, "stty size\n")
		time.Sleep(50 * time.Millisecond)
	}
	// hel''lo: the echo of the typed line does not contain the output.
	p.write(t, "echo hel''lo; exit 3\n")
	code, out := p.wait(t)
	if !strings.Contains(out, "hello\r\n") {
		t.Errorf("no hello in the output %q", out)
	}
	if code != 3 {
		t.Errorf("exit code %d, want 3; output %q", code, out)
	}
	requireNoResidue(t, e.Root, id)
}

// TestRunTTYRawRelay: the caller's terminal is raw while the container has
// it (a ^C reaches the container's pty as a byte, and the container's
// line discipline turns it into SIGINT for the shell's foreground job), and
// is restored afterwards.
func TestRunTTYRawRelay(t *testing.T) {
	e := NewEnv(t)
	id := e.NewID()
	b := e.Bundle(id, []string{"sh"}, terminal)
	p := e.startOnPty(0, 0, "run", "--bundle", b, id)
	// TCGETS on the master reads the slave's (the user's terminal's) modes.
	before, err := unix.IoctlGetTermios(int(p.master.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	p.out.waitFor(t, `/ # `)
	raw, err := unix.IoctlGetTermios(int(p.master.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if raw.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG) != 0 {
		t.Errorf("the user's terminal is not raw while the container has it: lflag %#x", raw.Lflag)
	}
	p.write(t, "sleep 1000\n")
	waitFor(t, "sleep in the container", func() bool {
		for _, pid := range procsInCgroup(id) {
			if cmd, _ := os.ReadFile("/proc/" + pid + "/cmdline"); strings.HasPrefix(string(cmd), "sleep\x00") {
				return true
			}
		}
		return false
	})
	p.write(t, "\x03")
	p.write(t, "echo after-$?\n")
	p.out.waitFor(t, `after-130`)
	p.write(t, "exit 0\n")
	if code, out := p.wait(t); code != 0 {
		t.Fatalf("exit %d; output %q", code, out)
	}
	after, err := unix.IoctlGetTermios(int(p.master.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if after.Lflag != before.Lflag || after.Iflag != before.Iflag || after.Oflag != before.Oflag {
		t.Errorf("terminal modes not restored: lflag %#x iflag %#x oflag %#x, were %#x %#x %#x",
			after.Lflag, after.Iflag, after.Oflag, before.Lflag, before.Iflag, before.Oflag)
	}
}

// TestExecTTYForeground: `exec -t` without a console socket relays the
// caller's pty, like `docker exec -it` with runc directly.
func TestExecTTYForeground(t *testing.T) {
	e := NewEnv(t)
	id, _ := e.startContainer([]string{"sleep", "1000"}, nil)
	p := e.startOnPty(30, 90, "exec", "-t", id, "sh")
	p.out.waitFor(t, `/ # `)
	p.write(t, "tty; stty size; echo $((6*7)); exit 4\n")
	code, out := p.wait(t)
	if !regexp.MustCompile(`/dev/pts/\d+\r\n30 90\r\n42\r\n`).MatchString(out) {
		t.Errorf("output %q, want a /dev/pts tty, size 30 90 and 42", out)
	}
	if code != 4 {
		t.Errorf("exit code %d, want 4", code)
	}
}

// TestExecTTYConsoleSocket: exec -t --console-socket sends the pty master
// as one fd; the process sees a /dev/pts tty whose size is what the
// receiver set; the exit code passes through.
func TestExecTTYConsoleSocket(t *testing.T) {
	e := NewEnv(t)
	id, _ := e.startContainer([]string{"sleep", "1000"}, nil)
	cs := newConsoleSocket(t)
	// The process waits for a line, so the size is set before stty.
	a := e.runAsync("exec", "-t", "--console-socket", cs.Path, id, "sh", "-c", "read x; tty; stty size; exit 7")
	master := cs.Recv()
	if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 33, Col: 77}); err != nil {
		t.Fatal(err)
	}
	out := readPty(master)
	if _, err := master.WriteString("go\n"); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := a.wait(t)
	if code != 7 {
		t.Errorf("exec exit %d, want 7; stderr %q", code, stderr)
	}
	if stdout != "" {
		t.Errorf("exec wrote %q on its own stdout; the pty carries the output", stdout)
	}
	got := out.wait(t)
	if !regexp.MustCompile(`\r\n/dev/pts/\d+\r\n33 77\r\n`).MatchString(got) {
		t.Errorf("pty output %q, want /dev/pts/N and 33 77", got)
	}
}

// TestExecTTYConsoleSize: process.json's consoleSize is the pty's size
// from the start.
func TestExecTTYConsoleSize(t *testing.T) {
	e := NewEnv(t)
	id, _ := e.startContainer([]string{"sleep", "1000"}, nil)
	proc := e.processJSON(t, func(p *specs.Process) {
		p.Args = []string{"stty", "size"}
		p.Terminal = true
		p.ConsoleSize = &specs.Box{Height: 41, Width: 101}
	})
	cs := newConsoleSocket(t)
	a := e.runAsync("exec", "--process", proc, "--console-socket", cs.Path, id)
	master := cs.Recv()
	out := readPty(master).wait(t)
	if _, stderr, code := a.wait(t); code != 0 {
		t.Fatalf("exec exit %d: %s", code, stderr)
	}
	if out != "41 101\r\n" {
		t.Errorf("stty size %q, want 41 101", out)
	}
}

// TestExecTTYDetached: the containerd/conmon form: exec --detach --tty
// --console-socket --pid-file returns at once; the process runs on the pty
// the receiver holds.
func TestExecTTYDetached(t *testing.T) {
	e := NewEnv(t)
	id, _ := e.startContainer([]string{"sleep", "1000"}, nil)
	cs := newConsoleSocket(t)
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	e.MustRun("exec", "--detach", "--tty", "--console-socket", cs.Path, "--pid-file", pidFile, id, "sh")
	master := cs.Recv()
	out := readPty(master)
	pid := readPidFile(t, pidFile)
	if !containsPid(psJSON(e, id), pid) {
		t.Errorf("exec'd pid %d not in ps --format json", pid)
	}
	if _, err := master.WriteString("echo $((2+3))x; exit\n"); err != nil {
		t.Fatal(err)
	}
	if got := out.wait(t); !strings.Contains(got, "5x\r\n") {
		t.Errorf("pty output %q lacks 5x", got)
	}
	waitFor(t, "the detached shell to exit", func() bool { return pidGone(pid) })
}

// TestCreateConsoleSocketDevConsole: create --console-socket with
// terminal true sends exactly one fd, the pty master, before create
// returns; /dev/console inside is the container's pty slave.
func TestCreateConsoleSocketDevConsole(t *testing.T) {
	e := NewEnv(t)
	id := e.NewID()
	b := e.Bundle(id, []string{"sh", "-c", `read x; t=$(tty); echo "tty=$t"; stat -c 'console=%t:%T' /dev/console; stat -c 'pty=%t:%T' $t; [ /dev/console -ef $t ] && echo same; echo via-console > /dev/console; ls /dev/pts`}, terminal)
	cs := newConsoleSocket(t)
	e.MustRun("create", "--bundle", b, "--console-socket", cs.Path, id)
	// The fd is there when create has returned.
	var r recvResult
	select {
	case r = <-cs.got:
	default:
		t.Fatal("create returned before sending the pty master")
	}
	if r.err != nil || r.n != 1 {
		t.Fatalf("console socket: %d fds, %v", r.n, r.err)
	}
	master := r.f
	defer master.Close()
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(master.Fd()), &st); err != nil || st.Type != unix.DEVPTS_SUPER_MAGIC {
		t.Errorf("the fd received is not on a devpts (statfs %v, type %x)", err, st.Type)
	}
	out := readPty(master)
	e.MustRun("start", id)
	if _, err := master.WriteString("go\n"); err != nil {
		t.Fatal(err)
	}
	got := out.wait(t)
	m := regexp.MustCompile(`tty=/dev/pts/(\d+)\r\nconsole=88:(\d+)\r\npty=88:(\d+)\r\nsame\r\nvia-console\r\n`).FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("output %q: want /dev/console to be the pty slave (char 136:N)", got)
	}
	n, _ := strconv.ParseInt(m[2], 16, 32)
	if strconv.Itoa(int(n)) != m[1] || m[2] != m[3] {
		t.Errorf("tty %s, /dev/console minor %s, pty minor %s: not the same", m[1], m[2], m[3])
	}
}

// TestRunDetachConsoleSocket: run --detach --console-socket: the
// container's shell is driven through the received pty.
func TestRunDetachConsoleSocket(t *testing.T) {
	e := NewEnv(t)
	id := e.NewID()
	b := e.Bundle(id, []string{"sh"}, terminal)
	cs := newConsoleSocket(t)
	e.MustRun("run", "--detach", "--bundle", b, "--console-socket", cs.Path, id)
	master := cs.Recv()
	out := readPty(master)
	out.waitFor(t, `/ # `)
	if _, err := master.WriteString("echo $((40+2)); exit 0\n"); err != nil {
		t.Fatal(err)
	}
	if got := out.wait(t); !strings.Contains(got, "\r\n42\r\n") {
		t.Errorf("output %q lacks 42", got)
	}
	waitFor(t, "the container to stop", func() bool { return e.State(id)["status"] == "stopped" })
}

// TestTTYBadInput: a terminal nobody could receive, or a console socket
// that is not there: one clear line, non-zero, nothing left behind.
func TestTTYBadInput(t *testing.T) {
	e := NewEnv(t)
	t.Run("create-terminal-without-socket", func(t *testing.T) {
		id := e.NewID()
		b := e.Bundle(id, []string{"true"}, terminal)
		_, stderr, code := e.Run("create", "--bundle", b, id)
		if code == 0 {
			t.Fatal("create with terminal true and no --console-socket succeeded")
		}
		requireOneLine(t, stderr, "cannot allocate tty if minirunc will detach without setting console socket")
		requireNoResidue(t, e.Root, id)
	})
	t.Run("run-detach-terminal-without-socket", func(t *testing.T) {
		id := e.NewID()
		b := e.Bundle(id, []string{"true"}, terminal)
		_, stderr, code := e.Run("run", "-d", "--bundle", b, id)
		if code == 0 {
			t.Fatal("run -d with terminal true and no --console-socket succeeded")
		}
		requireOneLine(t, stderr, "cannot allocate tty")
		requireNoResidue(t, e.Root, id)
	})
	t.Run("create-missing-socket", func(t *testing.T) {
		id := e.NewID()
		b := e.Bundle(id, []string{"true"}, terminal)
		missing := filepath.Join(t.TempDir(), "no-such.sock")
		_, stderr, code := e.Run("create", "--bundle", b, "--console-socket", missing, id)
		if code == 0 {
			t.Fatal("create with a missing console socket succeeded")
		}
		requireOneLine(t, stderr, missing)
		requireNoResidue(t, e.Root, id)
	})
	t.Run("create-socket-not-listening", func(t *testing.T) {
		// A plain file where the socket should be.
		id := e.NewID()
		b := e.Bundle(id, []string{"true"}, terminal)
		notSock := filepath.Join(t.TempDir(), "file")
		writeFile(t, notSock, "")
		_, stderr, code := e.Run("create", "--bundle", b, "--console-socket", notSock, id)
		if code == 0 {
			t.Fatal("create with a console socket that is a plain file succeeded")
		}
		requireOneLine(t, stderr, notSock)
		requireNoResidue(t, e.Root, id)
	})

	id, _ := e.startContainer([]string{"sleep", "1000"}, nil)
	before := strings.Join(procsInCgroup(id), ",")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"exec-detach-tty-without-socket", []string{"exec", "-d", "-t", id, "true"}, "cannot allocate tty if minirunc will detach without setting console socket"},
		{"exec-missing-socket", []string{"exec", "-t", "--console-socket", "/nonexistent/dir/sock", id, "true"}, "/nonexistent/dir/sock"},
		{"exec-detach-missing-socket", []string{"exec", "-d", "-t", "--console-socket", "/nonexistent/dir/sock", id, "sleep", "100"}, "/nonexistent/dir/sock"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := e.Run(tc.args...)
			if code == 0 {
				t.Fatalf("%v succeeded", tc.args)
			}
			requireOneLine(t, stderr, tc.want)
			if after := strings.Join(procsInCgroup(id), ","); after != before {
				t.Errorf("container processes changed from %s to %s", before, after)
			}
			if st := e.State(id)["status"]; st != "running" {
				t.Errorf("status %v after a failed exec", st)
			}
		})
	}
}

// TestTTYReceiverProgram: tests/cmd/recvtty, the manual receiver, drives
// an exec'd pty: sets the size, types input, prints the output.
func TestTTYReceiverProgram(t *testing.T) {
	e := NewEnv(t)
	id, _ := e.startContainer([]string{"sleep", "1000"}, nil)
	bin := filepath.Join(t.TempDir(), "recvtty")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/recvtty").CombinedOutput(); err != nil {
		t.Fatalf("build recvtty: %v %s", err, out)
	}
	dir, err := os.MkdirTemp("", "rt-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "sock")
	recv := exec.Command(bin, "-size", "21x61", "-input", `go\n`, sock)
	var out bytes.Buffer
	recv.Stdout = &out
	recv.Stderr = &out
	if err := recv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if recv.ProcessState == nil {
			recv.Process.Kill()
			recv.Wait()
		}
	}()
	waitFor(t, "recvtty to listen", func() bool {
		st, err := os.Stat(sock)
		return err == nil && st.Mode()&os.ModeSocket != 0
	})
	e.MustRun("exec", "-t", "--console-socket", sock, id, "sh", "-c", "read x; stty size")
	done := make(chan error, 1)
	go func() { done <- recv.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("recvtty: %v: %s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("recvtty did not exit")
	}
	if !strings.Contains(out.String(), "21 61\r\n") {
		t.Errorf("recvtty output %q lacks 21 61", out.String())
	}
}

// readPidFile reads a pid file: a bare decimal pid, no newline.
func readPidFile(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(string(data))
	if err != nil || pid <= 0 {
		t.Fatalf("pid file %q is not a bare pid", data)
	}
	return pid
}
