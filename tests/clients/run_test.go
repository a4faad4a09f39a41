package clients

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// res is what a command showed its user.
type res struct {
	Out, Err string
	Code     int
	Took     time.Duration
}

func (r res) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", r.Code, trunc(r.Out), trunc(r.Err))
}

func trunc(s string) string {
	if len(s) > 2000 {
		return s[:1000] + "..." + s[len(s)-1000:]
	}
	return s
}

// command runs name args with stdin (may be nil) and env additions, for at
// most timeout, and returns its output and exit code. A process that
// survives its command holding the pipes does not hold the call up.
func command(t testing.TB, timeout time.Duration, stdin io.Reader, env []string, name string, args ...string) res {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.Stdin = &so, &se, stdin
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	r := res{Out: so.String(), Err: dropWarnings(se.String()), Took: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	case err != nil && !errors.Is(err, exec.ErrWaitDelay):
		r.Code = -1
		r.Err += err.Error()
	}
	if ctx.Err() != nil {
		t.Errorf("%s %s: timed out after %v", name, strings.Join(args, " "), timeout)
	}
	t.Logf("$ %s %s  [%v] -> %s", name, strings.Join(args, " "), r.Took.Round(time.Millisecond), r)
	return r
}

// poll calls fn until it returns true or timeout passes.
func poll(timeout time.Duration, fn func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if fn() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ptyCmd is a client run on a terminal of a given size, as a user at a
// terminal runs `docker run -it`.
type ptyCmd struct {
	t      testing.TB
	cmd    *exec.Cmd
	master *os.File
	mu     sync.Mutex
	buf    bytes.Buffer
	done   chan struct{} // closed when the output ends
	exited chan struct{}
	code   int
}

func startPty(t testing.TB, rows, cols uint16, env []string, name string, args ...string) *ptyCmd {
	t.Helper()
	master, slave, err := openPty(rows, cols)
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	slave.Close()
	p := &ptyCmd{t: t, cmd: cmd, master: master, done: make(chan struct{}), exited: make(chan struct{})}
	t.Logf("$ (pty %dx%d) %s %s", rows, cols, name, strings.Join(args, " "))
	go func() {
		defer close(p.done)
		b := make([]byte, 4096)
		for {
			n, err := master.Read(b)
			p.mu.Lock()
			p.buf.Write(b[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() {
		cmd.Wait()
		p.code = cmd.ProcessState.ExitCode()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			cmd.Process.Kill()
			<-p.exited
		}
		master.Close()
	})
	return p
}

func (p *ptyCmd) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.String()
}

// waitFor waits until the output matches re and returns the submatches.
func (p *ptyCmd) waitFor(re string, timeout time.Duration) []string {
	p.t.Helper()
	rx := regexp.MustCompile(re)
	var m []string
	if !poll(timeout, func() bool { m = rx.FindStringSubmatch(p.output()); return m != nil }) {
		p.t.Fatalf("pty: no %q within %v in %q", re, timeout, p.output())
	}
	return m
}

func (p *ptyCmd) write(s string) {
	p.t.Helper()
	if _, err := p.master.Write([]byte(s)); err != nil {
		p.t.Fatalf("pty write: %v", err)
	}
}

// wait waits for the client to exit and its output to end.
func (p *ptyCmd) wait(timeout time.Duration) (string, int) {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(timeout):
		p.t.Fatalf("pty: the client did not exit within %v; output %q", timeout, p.output())
	}
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
	}
	out := p.output()
	p.t.Logf("pty -> exit %d, output %q", p.code, trunc(out))
	return out, p.code
}

// sttyLoop polls the terminal size inside a container until the client has
// set it (the shim and conmon set it after start) and prints tty and size.
// (busybox stty prints nothing and exits 0 while the size is unset).
const sttyLoop = `i=0; s=$(stty size 2>/dev/null); while { [ -z "$s" ] || [ "$s" = "0 0" ]; } && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); s=$(stty size 2>/dev/null); done; echo "tty=$(tty) size=$s"`

// dropWarnings removes the warning docker run prints because the private
// dockerd has ip-forward off.
func dropWarnings(s string) string {
	return strings.ReplaceAll(s, "WARNING: IPv4 forwarding is disabled. Networking will not work.\n", "")
}

// openPty opens a pty pair of the given size.
func openPty(rows, cols uint16) (master, slave *os.File, err error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		return nil, nil, err
	}
	if err := unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		m.Close()
		return nil, nil, err
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	return m, s, nil
}
