package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/minirunc/minirunc/dock/container"
	"github.com/minirunc/minirunc/dock/monitor"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// startAttached starts container id with this process attached to its
// stream (stdin when interactive, a raw terminal with a tty) and returns
// the container's exit code.
func startAttached(m *container.Manager, c *container.Container) error {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "attach"), os.NewFile(uintptr(fds[1]), "attach-monitor")
	defer ours.Close()
	res, err := m.Start(c.ID, theirs)
	theirs.Close()
	if err != nil {
		return err
	}
	if res.Err != "" {
		io.Copy(io.Discard, ours) // until the monitor is done (--rm)
		return codeError{res.Code, fmt.Errorf("%s", res.Err)}
	}
	tty := c.Config.Tty && term.IsTerminal(int(os.Stdin.Fd()))
	if tty {
		if old, err := term.MakeRaw(int(os.Stdin.Fd())); err == nil {
			defer term.Restore(int(os.Stdin.Fd()), old)
		}
		sendSize := func() {
			if w, h, err := term.GetSize(int(os.Stdin.Fd())); err == nil {
				monitor.WriteFrame(ours, monitor.FrameResize, fmt.Appendf(nil, "%d %d", h, w))
			}
		}
		sendSize()
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		defer signal.Stop(winch)
		go func() {
			for range winch {
				sendSize()
			}
		}()
	} else {
		// Docker's sig-proxy: signals to the client go to the container.
		sigs := make(chan os.Signal, 4)
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
		defer signal.Stop(sigs)
		go func() {
			for s := range sigs {
				m.RT.Kill(c.ID, strconv.Itoa(int(s.(syscall.Signal))), false)
			}
		}()
	}
	if c.Config.OpenStdin {
		go func() {
			buf := make([]byte, 32*1024)
			for {
				n, err := os.Stdin.Read(buf)
				if n > 0 {
					if monitor.WriteFrame(ours, monitor.FrameStdin, buf[:n]) != nil {
						return
					}
				}
				if err != nil {
					monitor.WriteFrame(ours, monitor.FrameStdinClose, nil)
					return
				}
			}
		}()
	}
	for {
		t, p, err := monitor.ReadFrame(ours)
		if err != nil {
			// The monitor went away without an exit frame.
			if cur, _, err := m.Load(c.ID); err == nil && !cur.IsActive() {
				return exitCode(cur.State.ExitCode)
			}
			return fmt.Errorf("lost the container's stream")
		}
		switch t {
		case monitor.FrameStdout:
			os.Stdout.Write(p)
		case monitor.FrameStderr:
			os.Stderr.Write(p)
		case monitor.FrameExit:
			code, _ := strconv.Atoi(string(p))
			if code == 0 {
				return nil
			}
			return exitCode(code)
		}
	}
}
