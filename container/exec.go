package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/minirunc/minirunc/cgroup"
	"github.com/minirunc/minirunc/fault"
	"github.com/minirunc/minirunc/syncpipe"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// execSpec is the part of the spec exec sends its init. Encoding a whole
// specs.Spec, however empty, makes encoding/json analyse every spec type
// on first use (~0.5 ms of exec's critical path) for these three fields.
type execSpec struct {
	Version string         `json:"ociVersion"`
	Process *specs.Process `json:"process"`
	Linux   execLinux      `json:"linux"`
}

type execLinux struct {
	Seccomp *syncpipe.SeccompListener `json:"seccomp,omitempty"`
}

// ExecOpts are exec's arguments.
type ExecOpts struct {
	Process      *specs.Process
	PidFile      string
	Console      *os.File // console socket (connected) for a terminal
	PreserveFDs  int
	IgnorePaused bool
	Cgroup       []string // --cgroup: sub-cgroups of the container's to join
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
	// Socket activation's fds are create's only, as with runc.
	preserve := o.PreserveFDs
	sp := &spawn{preserve: preserve, exec: true, sealDir: filepath.Join(filepath.Dir(c.Dir), ".empty")}
	if o.Process.Terminal {
		sp.console = o.Console
	}
	var sc *specs.LinuxSeccomp
	if l := c.ProcessSpec().Linux; l != nil {
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
	fault.Point("exec:after-namespaces")
	// The namespaces are held open and were checked against the init's
	// pidfd: the lock can go. Holding it while the process starts would
	// deadlock `exec --ignore-paused` (its process freezes in the frozen
	// cgroup) against the `resume` that would thaw it.
	c.Unlock()
	// The process moves itself into the v1 cgroups before it joins the
	// container's namespaces (see cgroup.Placement).
	early := func(err error) (int, error) {
		closeAll(sp.setns)
		if !c.initAlive() {
			// The container died meanwhile (a kill or a delete that
			// removed its cgroups): say so, not how joining failed.
			return 0, ErrNotRunning
		}
		return 0, err
	}
	// The container's own cgroups were filled when made; a sub-cgroup
	// made by hand may not be.
	if len(o.Cgroup) > 0 {
		if err := cgroup.FillCpusets(dirs); err != nil {
			return early(err)
		}
	}
	if sp.cgroups, err = cgroup.Place(dirs, true); err != nil {
		return early(err)
	}
	defer sp.cgroups.Close()
	proc, err := sp.start()
	if err != nil {
		return early(err)
	}
	closeAll(sp.setns)
	fault.Point("exec:after-clone")
	defer proc.pipe.Close()
	fail := func(err error) (int, error) {
		// SIGKILLed by someone else: a kill --all or a delete of the
		// container reached it, maybe just before the container's init.
		var ws unix.WaitStatus
		outside := false
		if wpid, _ := unix.Wait4(proc.pid, &ws, unix.WNOHANG, nil); wpid == proc.pid {
			outside = ws.Signaled() && ws.Signal() == unix.SIGKILL
		}
		proc.kill()
		if outside || !c.initAlive() {
			return 0, ErrNotRunning // a kill or a delete took the container
		}
		return 0, err
	}
	if err := cgroup.Enter(sp.cgroups.Rest, proc.pid); err != nil {
		return fail(err)
	}
	// The lock is gone: a delete may have killed the container since its
	// namespaces were opened. Its init dead, the process would outlive
	// it in a cgroup the delete wants to remove; an init that dies after
	// this check is killed by that delete with everything in the cgroup.
	if !c.initAlive() {
		return fail(ErrNotRunning)
	}
	fault.Point("exec:after-cgroup-join")
	// The exec'd process gets the container's seccomp filter, as with runc.
	p := o.Process
	if base := c.ProcessSpec().Process; p.OOMScoreAdj == nil && base != nil && base.OOMScoreAdj != nil {
		// As runc: the container's oom_score_adj, not the caller's.
		cp := *p
		cp.OOMScoreAdj = base.OOMScoreAdj
		p = &cp
	}
	spec := &specs.Spec{Version: c.State.OCIVersion, Process: p, Linux: &specs.Linux{Seccomp: sc}}
	cfg := &syncpipe.Config{ID: c.State.ID, Bundle: c.State.Bundle, Rootfs: c.State.Rootfs, PreserveFDs: preserve,
		NoNewKeyring: c.State.NoNewKeyring}
	if sp.listener != nil {
		// An exec has no hooks: only the seccomp agent reads the state.
		cfg.State = c.specState(Running)
		cfg.State.Pid = proc.pid
	}
	if err := setSeccomp(cfg, filepath.Dir(c.Dir), sc); err != nil {
		return fail(err)
	}
	view := execSpec{Version: spec.Version, Process: p, Linux: execLinux{Seccomp: syncpipe.ListenerOf(sc)}}
	raw, err := json.Marshal(view)
	if err != nil {
		return fail(err)
	}
	if err := cfg.SetSpec(spec, raw); err != nil {
		return fail(err)
	}
	if err := proc.pipe.SendConfig(cfg); err != nil {
		return fail(fmt.Errorf("send config to exec init: %w", err))
	}
	fault.Point("exec:after-config-sent")
	if err := proc.pipe.Expect(syncpipe.TypeReady); err != nil {
		return fail(initError(err))
	}
	// The end of the sync socket: the program has been executed (its end
	// is close-on-exec); a message instead is why it could not be.
	var m syncpipe.Message
	if err := proc.pipe.Recv(&m); err == nil {
		if m.Type == syncpipe.TypeError {
			return fail(errors.New(m.Msg))
		}
		return fail(fmt.Errorf("sync: unexpected %q from exec init", m.Type))
	} else if !errors.Is(err, io.EOF) {
		return fail(fmt.Errorf("sync: wait for exec: %w", err))
	}
	fault.Point("exec:after-exec")
	// The program runs; init's hold on the seal went with its image, so
	// ours is mostly the last, and the kernel's unmount waits here
	// rather than in the program's first system call.
	proc.releaseSeal()
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, proc.pid); err != nil {
			return fail(err)
		}
		fault.Point("exec:after-pid-file")
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
		if !hasNamespace(c.ProcessSpec(), t) {
			continue
		}
		p := filepath.Join("/proc", strconv.Itoa(c.State.Pid), "ns", nsFile[t])
		f, err := openNamespace(p, t)
		if err != nil {
			closeAll(sp.setns)
			sp.setns = nil
			if !c.initAlive() {
				return ErrNotRunning // it died after the pidfd check
			}
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

// execCgroups is the container's cgroups, or with --cgroup sub-cgroups
// of them, in runc's syntax: PATH for every hierarchy, or
// CONTROLLER[,CONTROLLER]:PATH for some. A sub-cgroup must exist: exec
// never creates one.
func (c *Container) execCgroups(args []string) ([]string, error) {
	if len(args) == 0 {
		return c.State.CgroupDirs, nil
	}
	subs := map[string]string{}
	for _, a := range args {
		ctrls, p, ok := strings.Cut(a, ":")
		if !ok {
			if len(args) != 1 {
				return nil, fmt.Errorf("invalid --cgroup argument: %s (missing <controller>: prefix)", a)
			}
			subs[""] = a
			continue
		}
		for _, ctrl := range strings.Split(ctrls, ",") {
			if _, dup := subs[ctrl]; dup || ctrl == "" {
				return nil, fmt.Errorf("invalid --cgroup argument: %s", a)
			}
			subs[ctrl] = p
		}
	}
	hs, err := cgroup.Hierarchies()
	if err != nil {
		return nil, err
	}
	out := append([]string(nil), c.State.CgroupDirs...)
	used := map[string]bool{}
	for i, d := range out {
		sub, ok := subs[""]
		for _, k := range hierarchyKeys(hs, d) {
			if s, found := subs[k]; found {
				used[k] = true
				if !ok {
					sub, ok = s, true
				}
			}
		}
		if !ok {
			continue
		}
		p := filepath.Join(d, filepath.Clean("/"+sub))
		if st, err := os.Stat(p); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("--cgroup %s: no such sub-cgroup %s", sub, p)
		}
		out[i] = p
	}
	for k, sub := range subs {
		if k != "" && !used[k] {
			return nil, fmt.Errorf("--cgroup %s:%s: the container has no %s cgroup", k, sub, k)
		}
	}
	return out, nil
}

// hierarchyKeys are the v1 controllers (and name=) of the hierarchy that
// holds dir; none for v2.
func hierarchyKeys(hs []cgroup.Hierarchy, dir string) []string {
	for _, h := range hs {
		if !h.V2 && (dir == h.Mountpoint || strings.HasPrefix(dir, h.Mountpoint+"/")) {
			return strings.Split(h.Key, ",")
		}
	}
	return nil
}

func hasNamespace(s *specs.Spec, t specs.LinuxNamespaceType) bool {
	_, ok := namespaceOf(s, t)
	return ok
}

// namespaceOf returns the spec's entry for namespace type t.
func namespaceOf(s *specs.Spec, t specs.LinuxNamespaceType) (specs.LinuxNamespace, bool) {
	if s == nil || s.Linux == nil {
		return specs.LinuxNamespace{}, false
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == t {
			return ns, true
		}
	}
	return specs.LinuxNamespace{}, false
}

// listenFDs is the number of socket-activation fds (3 onwards) meant for
// us: $LISTEN_FDS when $LISTEN_PID is our pid (systemd, conmon
// --replace-listen-pid), else 0, as runc's activation.Files(false).
func listenFDs() int {
	if pid, err := strconv.Atoi(os.Getenv("LISTEN_PID")); err != nil || pid != os.Getpid() {
		return 0
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// withListenEnv is spec with LISTEN_FDS=n and LISTEN_PID=1 added to the
// process's environment, as runc passes socket activation on. The recorded
// spec is left alone: exec'd processes do not get them.
func withListenEnv(spec *specs.Spec, n int) *specs.Spec {
	s, p := *spec, *spec.Process
	p.Env = append(append([]string(nil), p.Env...), "LISTEN_FDS="+strconv.Itoa(n), "LISTEN_PID=1")
	s.Process = &p
	return &s
}
