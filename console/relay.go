package console

import (
	"io"
	"os"
	"os/signal"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// Relay connects the caller's stdin and stdout to the pty master for a
// foreground `run -t` or `exec -t`: the caller's terminal goes raw, and its
// size is copied to the pty now and on every SIGWINCH.
type Relay struct {
	master  *os.File
	restore func()
	done    chan struct{}
	out     chan struct{}
}

// StartRelay begins relaying. stdin need not be a terminal.
func StartRelay(master *os.File) *Relay {
	r := &Relay{master: master, restore: func() {}, done: make(chan struct{}), out: make(chan struct{})}
	in := int(os.Stdin.Fd())
	if term.IsTerminal(in) {
		if st, err := term.MakeRaw(in); err == nil {
			r.restore = func() { _ = term.Restore(in, st) }
		}
		r.resize()
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, unix.SIGWINCH)
		go func() {
			defer signal.Stop(winch)
			for {
				select {
				case <-winch:
					r.resize()
				case <-r.done:
					return
				}
			}
		}()
	}
	go func() { _, _ = io.Copy(master, os.Stdin) }()
	go func() {
		_, _ = io.Copy(os.Stdout, master)
		close(r.out)
	}()
	return r
}

// Stop waits for the output still buffered in the pty (until every holder
// of the slave has closed it, at most a second after the process exited)
// and restores the caller's terminal.
func (r *Relay) Stop() {
	close(r.done)
	select {
	case <-r.out:
	case <-time.After(time.Second):
	}
	r.restore()
}

func (r *Relay) resize() {
	if ws, err := unix.IoctlGetWinsize(int(os.Stdin.Fd()), unix.TIOCGWINSZ); err == nil {
		_ = unix.IoctlSetWinsize(int(r.master.Fd()), unix.TIOCSWINSZ, ws)
	}
}
