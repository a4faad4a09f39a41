package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"runtime"

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
			if !detach {
				// The container's init gets SIGKILL when the thread that
				// started it ends (PR_SET_PDEATHSIG): keep create on this
				// thread, which lives as long as the run. If the run is
				// killed, the container dies with it and shows as stopped
				// until the next delete removes its state and cgroups.
				runtime.LockOSThread()
			}
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
	sigs  chan os.Signal
	ready chan struct{}
}

// catchSignals starts catching every signal. Go takes milliseconds to
// install handlers for all of them, so this runs beside create and exec;
// waitForward waits for it (a child that exits meanwhile is reaped by its
// first round anyway).
func catchSignals() *forwarder {
	f := &forwarder{sigs: make(chan os.Signal, 128), ready: make(chan struct{})}
	go func() {
		signal.Notify(f.sigs)
		close(f.ready)
	}()
	return f
}

// waitForward forwards signals to the container's init until it exits,
// reaping every child (as a subreaper), and returns the exit code: the
// process's own, or 128+N when a signal N killed it.
func waitForward(pid int, f *forwarder, tty bool) int {
	<-f.ready
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
