package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/minirunc/minirunc/cgroup"
	"github.com/minirunc/minirunc/syncpipe"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ExecOpts are exec's arguments.
type ExecOpts struct {
	Process      *specs.Process
	PidFile      string
	Console      *os.File // console socket (connected) for a terminal
	PreserveFDs  int
	IgnorePaused bool
	Cgroup       string // --cgroup: a sub-cgroup of the container's to join
}

// ErrPaused refuses an exec that would hang in a frozen cgroup.
var ErrPaused = errors.New("cannot exec in a paused container (use --ignore-paused to override)")

// Exec starts a process in the container's namespaces and cgroups. It
// returns once the process has started (its pid is written to PidFile);
// the process is a child of the caller.
func (c *Container) Exec(o ExecOpts) (int, error) {
	switch c.Status() {
	case Stopped, Creating:
		return 0, ErrNotRunning
	case Paused:
		if !o.IgnorePaused {
			return 0, ErrPaused
		}
	}
	if o.Process.Terminal && o.Console == nil {
		return 0, errors.New("process.terminal is true but no console socket was given")
	}
	preserve := o.PreserveFDs
	if n, err := strconv.Atoi(os.Getenv("LISTEN_FDS")); err == nil && n > 0 {
		preserve += n
	}
	sp := &spawn{preserve: preserve, exec: true, sealDir: filepath.Join(filepath.Dir(c.Dir), ".empty")}
	if o.Process.Terminal {
		sp.console = o.Console
	}
	var sc *specs.LinuxSeccomp
	if l := c.State.Config.Linux; l != nil {
		sc = l.Seccomp
	}
	listener, err := connectListener(sc)
	if err != nil {
		return 0, err
	}
	if listener != nil {
		defer listener.Close()
	}
	sp.listener = listener
	dirs, err := c.execCgroups(o.Cgroup)
	if err != nil {
		return 0, err
	}
	if err := c.execNamespaces(sp); err != nil {
		return 0, err
	}
	proc, err := sp.start()
	closeAll(sp.setns)
	if err != nil {
		return 0, err
	}
	defer proc.pipe.Close()
	fail := func(err error) (int, error) {
		proc.kill()
		return 0, err
	}
	if err := cgroup.Join(dirs, proc.pid); err != nil {
		return fail(err)
	}
	// The exec'd process gets the container's seccomp filter, as with runc.
	spec := &specs.Spec{Version: c.State.OCIVersion, Process: o.Process, Linux: &specs.Linux{Seccomp: sc}}
	st := c.specState(Running)
	st.Pid = proc.pid
	cfg := &syncpipe.Config{ID: c.State.ID, Bundle: c.State.Bundle, Rootfs: c.State.Rootfs, Spec: spec, PreserveFDs: preserve, State: st}
	if err := proc.pipe.Send(cfg); err != nil {
		return fail(fmt.Errorf("send config to exec init: %w", err))
	}
	if err := proc.pipe.Expect(syncpipe.TypeReady); err != nil {
		return fail(initError(err))
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, proc.pid); err != nil {
			return fail(err)
		}
	}
	return proc.pid, nil
}

// execNamespaces opens the container's namespaces for nsenter, user first,
// holding a pidfd so that a recycled init pid is never entered.
func (c *Container) execNamespaces(sp *spawn) error {
	pidfd, err := c.pidfd()
	if err != nil {
		return err
	}
	defer unix.Close(pidfd)
	for _, t := range nsOrder {
		if !hasNamespace(c.State.Config, t) {
			continue
		}
		p := filepath.Join("/proc", strconv.Itoa(c.State.Pid), "ns", nsFile[t])
		f, err := openNamespace(p, t)
		if err != nil {
			closeAll(sp.setns)
			sp.setns = nil
			return fmt.Errorf("open the container's %s namespace: %w", t, err)
		}
		sp.setns = append(sp.setns, f)
		switch t {
		case specs.UserNamespace:
			sp.becomeRoot = true
		case specs.PIDNamespace, specs.TimeNamespace:
			sp.fork = true
		}
	}
	// The files opened belong to init only if it is still the same process.
	if !c.initAlive() {
		closeAll(sp.setns)
		sp.setns = nil
		return ErrNotRunning
	}
	return nil
}

// execCgroups is the container's cgroups, or with --cgroup a sub-cgroup
// of them (which must exist).
func (c *Container) execCgroups(sub string) ([]string, error) {
	if sub == "" {
		return c.State.CgroupDirs, nil
	}
	clean := filepath.Clean("/" + sub)
	var out []string
	for _, d := range c.State.CgroupDirs {
		p := filepath.Join(d, clean)
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		} else {
			out = append(out, d)
		}
	}
	if len(out) > 0 && out[0] == c.State.CgroupDirs[0] && clean != "/" {
		return nil, fmt.Errorf("--cgroup %s: no such sub-cgroup in the container", sub)
	}
	return out, nil
}

func hasNamespace(s *specs.Spec, t specs.LinuxNamespaceType) bool {
	if s == nil || s.Linux == nil {
		return false
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == t {
			return true
		}
	}
	return false
}
