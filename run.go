package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"time"

	"github.com/minirunc/minirunc/container"
	"github.com/minirunc/minirunc/logs"
	"github.com/urfave/cli/v3"
	"golang.org/x/sys/unix"
)

func runCommand() *cli.Command {
	return &cli.Command{
		Name:         "run",
		Usage:        "create and run a container",
		ArgsUsage:    "<container-id>",
		OnUsageError: usageError,
		Flags: append(createFlags(),
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "detach from the container's process"},
			&cli.BoolFlag{Name: "keep", Usage: "do not delete the container after it exits"},
			&cli.BoolFlag{Name: "no-subreaper", Usage: "disable the use of the subreaper used to reap reparented processes"},
		),
		Action: func(_ context.Context, cmd *cli.Command) error {
			if err := checkArgs(cmd, 1, 1); err != nil {
				return err
			}
			detach := cmd.Bool("detach")
			if !detach && !cmd.Bool("no-subreaper") {
				// Processes the container leaves behind are reparented to
				// us and reaped here, not by the host's init.
				if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
					return err
				}
			}
			// Catch signals from the start so none is lost between create
			// and wait; they are forwarded to the container.
			var sigs *forwarder
			if !detach {
				sigs = catchSignals()
			}
			// The container's init gets SIGKILL when the thread that
			// started it ends (PR_SET_PDEATHSIG), so a killed run takes its
			// container along. Go ends a thread only when a goroutine
			// locked to it returns, which none in minirunc does, so any
			// thread lives as long as the run: no LockOSThread here (a
			// locked main goroutine hands off between threads at every
			// wait, about a hundred context switches per run).
			c, relay, err := createContainer(cmd, detach)
			if err != nil {
				return err
			}
			pid := c.State.Pid
			if err := startLoaded(c); err != nil {
				_, _ = c.Delete(true)
				c.Unlock()
				if relay != nil {
					relay.Stop()
				}
				return err
			}
			id := c.State.ID
			c.Unlock()
			if detach {
				return nil
			}
			code := waitForward(pid, sigs, relay != nil)
			if relay != nil {
				relay.Stop()
			}
			if !cmd.Bool("keep") {
				if err := deleteByID(cmd, id, true); err != nil && !errors.Is(err, container.ErrNotExist) {
					logs.Warn("delete after exit: %v", err)
				}
			}
			return exitCode(code)
		},
	}
}

// forwarder receives the signals run and exec forward to the container.
type forwarder struct {
	sigs    chan os.Signal
	ready   chan struct{}
	waiting chan struct{} // closed when waitForward starts
	done    chan struct{} // closed when the container has exited
}

// firstSignals are caught before the container starts: the ones a terminal,
// a shell or a supervisor sends, and SIGCHLD, which ends the wait.
var firstSignals = []os.Signal{unix.SIGCHLD, unix.SIGINT, unix.SIGTERM, unix.SIGHUP,
	unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGWINCH, unix.SIGPIPE, unix.SIGALRM, unix.SIGCONT}

// catchSignals starts catching signals beside create and exec; waitForward
// waits for firstSignals. Go installs each handler with a round trip to a
// thread of its own (two context switches), and all 64 cost about 1.5 ms of
// CPU, as much as the rest of a run's waiting. So the rest are caught once
// the process has run for restDelay, and not at all if it has exited by
// then: a short-lived process does not pay for them, a long-lived one gets
// every signal forwarded, as runc does.
func catchSignals() *forwarder {
	f := &forwarder{sigs: make(chan os.Signal, 128), ready: make(chan struct{}),
		waiting: make(chan struct{}), done: make(chan struct{})}
	go func() {
		signal.Notify(f.sigs, firstSignals...)
		close(f.ready)
		<-f.waiting
		select {
		case <-f.done:
			return
		case <-time.After(restDelay):
		}
		for n := 1; n < 65; n++ {
			if s := unix.Signal(n); s != unix.SIGKILL && s != unix.SIGSTOP {
				signal.Notify(f.sigs, s)
			}
		}
	}()
	return f
}

// restDelay is how long a process runs before the rarely sent signals are
// caught too.
const restDelay = 20 * time.Millisecond

func waitForward(pid int, f *forwarder, tty bool) int {
	<-f.ready
	close(f.waiting)
	sigs := f.sigs
	for {
		// Reap whatever has exited; init's status ends the wait.
		for {
			var ws unix.WaitStatus
			wpid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if err != nil || wpid <= 0 {
				break
			}
			if wpid == pid {
				close(f.done)
				if ws.Signaled() {
					return 128 + int(ws.Signal())
				}
				return ws.ExitStatus()
			}
		}
		s := <-sigs
		// SIGURG is the Go runtime's own; with a tty the relay handles
		// SIGWINCH.
		if s == unix.SIGCHLD || s == unix.SIGURG || (tty && s == unix.SIGWINCH) {
			continue
		}
		_ = unix.Kill(pid, s.(unix.Signal))
	}
}
