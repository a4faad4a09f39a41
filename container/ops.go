package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/minirunc/minirunc/cgroup"
	"github.com/minirunc/minirunc/fault"
	"github.com/minirunc/minirunc/freezer"
	"github.com/minirunc/minirunc/hooks"
	"golang.org/x/sys/unix"
)

// Start lets a created container run its program: it opens the exec fifo,
// which releases init, and waits for init's go-ahead byte (or its death).
// poststart hooks run after; their failures only warn.
func (c *Container) Start() (warnings []error, err error) {
	switch st := c.Status(); st {
	case Created:
	case Stopped:
		return nil, errors.New("cannot start a container that has stopped")
	case Running, Paused:
		return nil, errors.New("cannot start an already running container")
	default:
		return nil, fmt.Errorf("cannot start a container in the %s state", st)
	}
	// The pidfd first: once the fifo is open, init may run and exit at
	// once, and a zombie init would read as not running.
	pidfd, err := c.pidfd()
	if err != nil {
		return nil, err
	}
	defer unix.Close(pidfd)
	fault.Point("start:after-pidfd")
	h := c.hooks()
	var execs *execWatch
	if h != nil && len(h.Poststart) > 0 {
		// Before the fifo lets init go on to exec the program.
		if execs = watchExec(); execs != nil {
			defer execs.close()
		}
	}
	fifo := filepath.Join(c.Dir, fifoName)
	fd, err := unix.Open(fifo, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open exec fifo: %w", err)
	}
	defer unix.Close(fd)
	fault.Point("start:after-fifo-open")
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(pidfd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return nil, fmt.Errorf("wait for container init: %w", err)
		}
		if fds[0].Revents&(unix.POLLIN|unix.POLLHUP) != 0 {
			buf := make([]byte, 1)
			if n, _ := unix.Read(fd, buf); n == 1 {
				break
			}
		}
		if fds[1].Revents&unix.POLLIN != 0 {
			return nil, errors.New("container init exited before start")
		}
	}
	fault.Point("start:after-fifo-read")
	os.Remove(fifo)
	fault.Point("start:after-fifo-remove")
	// With poststart hooks, return only once the user's program is
	// executed: init's write end of the fifo is close-on-exec, so its end
	// marks the execve (or init's death), and the exec event its success,
	// so that the hooks see the program running. Without them start
	// returns at once, as runc's does (the wait is a third of start's
	// time); a pause that catches init halfway through execve is handled
	// by the freezer's thaw-and-retry.
	if h != nil && len(h.Poststart) > 0 {
		waitHangup(fds)
		if execs != nil {
			execs.wait(c.State.Pid, pidfd)
		}
		fault.Point("start:after-exec")
		warnings = hooks.RunAll("poststart", h.Poststart, c.specState(Running))
		fault.Point("start:after-poststart")
	}
	return warnings, nil
}

// pidfd opens a pidfd on init and checks it is still our init, so that a
// recycled pid is never signalled.
func (c *Container) pidfd() (int, error) {
	if c.State.Pid <= 0 {
		return -1, ErrNotRunning // a create that died before its init ran
	}
	fd, err := unix.PidfdOpen(c.State.Pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return -1, ErrNotRunning
		}
		return -1, fmt.Errorf("pidfd_open: %w", err)
	}
	if !c.initAlive() {
		unix.Close(fd)
		return -1, ErrNotRunning
	}
	return fd, nil
}

// Kill sends sig to init, or with all to every process in its cgroup.
func (c *Container) Kill(sig unix.Signal, all bool) error {
	if all {
		// As runc: every process in the cgroup, init included, whatever
		// the status (containerd's kill --all after init exited). Init is
		// not signalled again: it may already be gone, which is no error.
		return c.signalCgroup(sig)
	}
	status := c.Status()
	if status == Stopped {
		return ErrNotRunning
	}
	fd, err := c.pidfd()
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return ErrNotRunning
		}
		return fmt.Errorf("signal init: %w", err)
	}
	return nil
}

// signalCgroup signals every process in the container's cgroups
// (cgroup.kill for SIGKILL on v2). A frozen container is thawed after a
// SIGKILL so that it takes effect.
func (c *Container) signalCgroup(sig unix.Signal) error {
	err := cgroup.Signal(c.State.CgroupDirs, sig)
	if sig == unix.SIGKILL {
		c.thaw()
	}
	return err
}

// Delete removes a stopped container: its cgroups, its state, then the
// poststop hooks. A created container is killed first (as runc does); a
// running or paused one only with force. The caller holds the exclusive lock.
func (c *Container) Delete(force bool) (warnings []error, err error) {
	status := c.Status()
	fault.Point("delete:after-status")
	switch status {
	case Stopped:
		if c.State.Status == Creating {
			// A create that died: its init may still wait on the
			// fifo (killAndWait leaves a dead or recycled pid alone).
			if err := c.killAndWait(); err != nil {
				return nil, err
			}
		}
	case Created, Creating:
		if err := c.killAndWait(); err != nil {
			return nil, err
		}
	default:
		if !force {
			return nil, fmt.Errorf("cannot delete container %s that is not stopped: %s", c.State.ID, status)
		}
		if err := c.killAndWait(); err != nil {
			return nil, err
		}
	}
	fault.Point("delete:after-kill")
	// Stragglers outside a pid namespace of the container's own outlive
	// init. In one, the kernel killed them with init (runc relies on it
	// too): only a process put in the cgroups from outside the namespace,
	// or one stuck frozen, can be left, and one cgroup tells.
	if force && (!c.State.OwnPidNS || cgroup.Populated(c.State.CgroupDirs)) {
		_ = c.signalCgroup(unix.SIGKILL)
	}
	fault.Point("delete:after-cgroup-kill")
	if err := cgroup.Remove(c.State.CgroupDirs); err != nil {
		return nil, err
	}
	fault.Point("delete:after-cgroup-remove")
	if err := os.RemoveAll(c.Dir); err != nil {
		return nil, fmt.Errorf("remove state: %w", err)
	}
	fault.Point("delete:after-state-remove")
	c.Unlock()
	if h := c.hooks(); h != nil && len(h.Poststop) > 0 {
		warnings = hooks.RunAll("poststop", h.Poststop, c.specState(Stopped))
	}
	return warnings, nil
}

// killAndWait SIGKILLs everything in the container (thawing a frozen
// cgroup so the signal is delivered) and waits on a pidfd until init has
// exited: no fixed sleeps.
func (c *Container) killAndWait() error {
	fd, err := c.pidfd()
	if errors.Is(err, ErrNotRunning) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if !c.State.OwnPidNS {
		// Init's death takes a pid namespace of its own with it; without
		// one, every process must be killed.
		_ = c.signalCgroup(unix.SIGKILL)
	}
	c.thaw()
	if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("kill init: %w", err)
	}
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := unix.Poll(fds, int(time.Until(deadline).Milliseconds()))
		if err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("wait for init: %w", err)
		}
		if n > 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("container init %d did not exit after SIGKILL", c.State.Pid)
		}
	}
}

// thaw unfreezes a paused container so SIGKILL can take effect.
func (c *Container) thaw() {
	if st, err := freezer.GetState(c.State.CgroupDirs); err == nil && st != freezer.Thawed {
		_ = freezer.Thaw(c.State.CgroupDirs)
	}
}

// waitHangup waits until the fifo's writer is gone or init has exited.
func waitHangup(fds []unix.PollFd) {
	buf := make([]byte, 16)
	for {
		if _, err := unix.Poll(fds, -1); err != nil && !errors.Is(err, unix.EINTR) {
			return
		}
		if fds[1].Revents&unix.POLLIN != 0 {
			return
		}
		if fds[0].Revents&(unix.POLLHUP|unix.POLLIN) != 0 {
			if n, err := unix.Read(int(fds[0].Fd), buf); n == 0 && err == nil {
				return
			}
		}
	}
}
