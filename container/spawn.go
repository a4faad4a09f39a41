package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/minirunc/minirunc/cgroup"
	"github.com/minirunc/minirunc/console"
	"github.com/minirunc/minirunc/exeseal"
	"github.com/minirunc/minirunc/fault"
	containerinit "github.com/minirunc/minirunc/init"
	"github.com/minirunc/minirunc/nsenter"
	"github.com/minirunc/minirunc/seccomp"
	"github.com/minirunc/minirunc/specconv"
	"github.com/minirunc/minirunc/syncpipe"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// spawn describes a `minirunc init` to start, for create or exec.
type spawn struct {
	preserve   int        // fds 3..3+preserve-1 handed on
	fifo       *os.File   // create: the exec fifo (O_PATH)
	console    *os.File   // the console socket, when the process has a terminal
	listener   *os.File   // connected to linux.seccomp.listenerPath
	setns      []*os.File // namespace files to join, user first (nsenter)
	cloneflags uintptr    // new namespaces made by clone itself
	unshare    uintptr    // new namespaces made by nsenter after joining
	uidMaps    []specs.LinuxIDMapping
	gidMaps    []specs.LinuxIDMapping
	becomeRoot bool              // nsenter: setresuid(0) after joining a user namespace
	fork       bool              // nsenter: fork into a joined or new pid/time namespace
	exec       bool              // exec mode: no rootfs, no fifo
	sealDir    string            // an empty directory for exeseal's overlay
	cgroups    *cgroup.Placement // how init gets into its cgroups; nil: the caller moves it
	pdeathsig  bool              // foreground run: init dies with its caller
}

// initProcess is a started init.
type initProcess struct {
	child  int // the process we started: init, or nsenter's intermediate
	reaped bool
	pipe   *syncpipe.Pipe
	pid    int             // the init itself: child's child after a fork
	seal   *exeseal.Binary // what init runs from, until releaseSeal
}

// releaseSeal drops our handle on the sealed binary init was started from,
// at a moment when we wait for init anyway (see exeseal.Binary.Close):
// create and exec call it once init is past the point, kill on failure.
func (p *initProcess) releaseSeal() {
	if p.seal != nil {
		p.seal.Close()
		p.seal = nil
	}
}

// start starts init and, when nsenter forks, waits for the forked pid.
func (s *spawn) start() (*initProcess, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	parentSock := os.NewFile(uintptr(fds[0]), "sync-parent")
	childSock := os.NewFile(uintptr(fds[1]), "sync-child")
	defer childSock.Close()

	// init runs from a sealed copy of this binary (CVE-2019-5736).
	sealed, err := exeseal.Sealed(s.sealDir)
	if err != nil {
		parentSock.Close()
		return nil, err
	}
	// syscall.ForkExec, not os/exec: os's first start of a process forks
	// a throwaway child to probe for pidfd support, half a millisecond.
	cmd := struct {
		Env   []string
		Files []uintptr
	}{Files: []uintptr{0, 1, 2}}
	for i := 0; i < s.preserve; i++ {
		cmd.Files = append(cmd.Files, uintptr(3+i))
	}
	add := func(f *os.File) string {
		cmd.Files = append(cmd.Files, f.Fd())
		return strconv.Itoa(len(cmd.Files) - 1)
	}
	// GOMAXPROCS=1: init is one goroutine; a second P only adds threads
	// that spin and hand off. Init replaces its environment before exec.
	cmd.Env = []string{containerinit.EnvSyncFD + "=" + add(childSock), "GOMAXPROCS=1"}
	if s.fifo != nil {
		cmd.Env = append(cmd.Env, containerinit.EnvFifoFD+"="+add(s.fifo))
	}
	if s.console != nil {
		cmd.Env = append(cmd.Env, containerinit.EnvConsoleFD+"="+add(s.console))
	}
	if s.listener != nil {
		cmd.Env = append(cmd.Env, containerinit.EnvSeccompFD+"="+add(s.listener))
	}
	if s.exec {
		cmd.Env = append(cmd.Env, containerinit.EnvExec+"=1")
	}
	if s.pdeathsig {
		cmd.Env = append(cmd.Env, containerinit.EnvPdeathsig+"=1")
	}
	cmd.Env = append(cmd.Env, fault.Env()...)
	var nsfds []string
	for _, f := range s.setns {
		nsfds = append(nsfds, add(f))
	}
	if len(nsfds) > 0 {
		cmd.Env = append(cmd.Env, nsenter.EnvSetns+"="+strings.Join(nsfds, ","))
	}
	if s.unshare != 0 {
		cmd.Env = append(cmd.Env, nsenter.EnvUnshare+"="+strconv.FormatUint(uint64(s.unshare), 10))
	}
	if s.fork {
		cmd.Env = append(cmd.Env, nsenter.EnvFork+"=1")
	}
	if s.becomeRoot {
		cmd.Env = append(cmd.Env, nsenter.EnvRoot+"=1")
	}
	if s.cgroups != nil && len(s.cgroups.Tasks) > 0 {
		cmd.Env = append(cmd.Env, nsenter.EnvCgroupTasks+"="+strings.Join(s.cgroups.Tasks, "\n"))
	}
	// CVE-2024-21626: init inherits only stdio, the preserved fds and
	// ExtraFiles; whatever else our caller left open without
	// close-on-exec must not reach it (Go's exec does not close it).
	if err := unix.CloseRange(uint(3+s.preserve), ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		parentSock.Close()
		sealed.Close()
		return nil, fmt.Errorf("mark fds close-on-exec: %w", err)
	}
	attr := &syscall.SysProcAttr{Cloneflags: s.cloneflags}
	if s.cgroups != nil && s.cgroups.Into != nil {
		attr.UseCgroupFD = true
		attr.CgroupFD = int(s.cgroups.Into.Fd())
	}
	if s.cloneflags&unix.CLONE_NEWUSER != 0 {
		attr.UidMappings = idMaps(s.uidMaps)
		attr.GidMappings = idMaps(s.gidMaps)
		attr.GidMappingsEnableSetgroups = true
		// clone keeps the host uid; become the namespace's root (the
		// mapped host id) so that init has its capabilities there.
		attr.Credential = &syscall.Credential{Uid: 0, Gid: 0}
	}
	path := fmt.Sprintf("/proc/self/fd/%d", sealed.Fd())
	var pid int
	err = nsenter.WithOriginalSched(func() (err error) {
		pid, err = syscall.ForkExec(path, []string{"minirunc", "init"}, &syscall.ProcAttr{Env: cmd.Env, Files: cmd.Files, Sys: attr})
		return err
	})
	if err != nil {
		parentSock.Close()
		sealed.Close()
		return nil, fmt.Errorf("start container init: %w", &os.PathError{Op: "fork/exec", Path: path, Err: err})
	}
	childSock.Close()
	p := &initProcess{child: pid, pipe: syncpipe.New(parentSock), pid: pid, seal: sealed}
	if err := s.handshake(p); err != nil {
		p.kill()
		return nil, err
	}
	return p, nil
}

// handshake serves nsenter: id maps for a user namespace it made, then
// the pid of the child it forked.
func (s *spawn) handshake(p *initProcess) error {
	if s.unshare&unix.CLONE_NEWUSER != 0 {
		if err := p.pipe.Expect(nsenter.MsgUsermap); err != nil {
			return initError(err)
		}
		if err := writeIDMaps(p.child, s.uidMaps, s.gidMaps); err != nil {
			return err
		}
		if _, err := p.pipe.File().Write([]byte("\n")); err != nil {
			return fmt.Errorf("acknowledge id maps: %w", err)
		}
	}
	if !s.fork {
		return nil
	}
	var m syncpipe.Message
	if err := p.pipe.Recv(&m); err != nil {
		return initError(err)
	}
	if m.Type == syncpipe.TypeError {
		return errors.New(m.Msg)
	}
	if m.Type != nsenter.MsgPid || m.Pid <= 0 {
		return fmt.Errorf("sync: expected the forked pid, got %q", m.Type)
	}
	p.pid = m.Pid
	// The intermediate exits at once; reap it.
	if err := p.reapChild(); err != nil {
		return fmt.Errorf("nsenter intermediate: %w", err)
	}
	return nil
}

// reapChild waits for the process start started and reports how it ended.
func (p *initProcess) reapChild() error {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(p.child, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		p.reaped = true
		switch {
		case err != nil:
			return err
		case ws.Exited() && ws.ExitStatus() == 0:
			return nil
		case ws.Signaled():
			return fmt.Errorf("signal: %v", ws.Signal())
		default:
			return fmt.Errorf("exit status %d", ws.ExitStatus())
		}
	}
}

// kill ends a failed init and reaps it. A forked init is our child too
// (CLONE_PARENT).
func (p *initProcess) kill() {
	_ = unix.Kill(p.pid, unix.SIGKILL)
	if p.pid != p.child {
		var ws unix.WaitStatus
		_, _ = unix.Wait4(p.pid, &ws, 0, nil)
	}
	if !p.reaped {
		_ = unix.Kill(p.child, unix.SIGKILL)
		_ = p.reapChild()
	}
	p.pipe.Close()
	p.releaseSeal()
}

func idMaps(ms []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	var out []syscall.SysProcIDMap
	for _, m := range ms {
		out = append(out, syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
	}
	return out
}

func writeIDMaps(pid int, uids, gids []specs.LinuxIDMapping) error {
	format := func(ms []specs.LinuxIDMapping) []byte {
		var b strings.Builder
		for _, m := range ms {
			fmt.Fprintf(&b, "%d %d %d\n", m.ContainerID, m.HostID, m.Size)
		}
		return []byte(b.String())
	}
	dir := filepath.Join("/proc", strconv.Itoa(pid))
	if err := os.WriteFile(filepath.Join(dir, "uid_map"), format(uids), 0); err != nil {
		return fmt.Errorf("linux.uidMappings: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "setgroups"), []byte("allow"), 0); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "gid_map"), format(gids), 0); err != nil {
		return fmt.Errorf("linux.gidMappings: %w", err)
	}
	return nil
}

// nsFile is the /proc file name of each namespace type.
var nsFile = map[specs.LinuxNamespaceType]string{
	specs.UserNamespace: "user", specs.IPCNamespace: "ipc", specs.UTSNamespace: "uts",
	specs.NetworkNamespace: "net", specs.PIDNamespace: "pid", specs.MountNamespace: "mnt",
	specs.CgroupNamespace: "cgroup", specs.TimeNamespace: "time",
}

// nsOrder is the order namespaces are joined in: user first, so the
// rest are joined with the capabilities it grants; mount last but cgroup
// and time, whose files are reached before the mount namespace changes.
var nsOrder = []specs.LinuxNamespaceType{
	specs.UserNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.NetworkNamespace,
	specs.PIDNamespace, specs.CgroupNamespace, specs.TimeNamespace, specs.MountNamespace,
}

// openNamespace opens a namespace file and checks it is of type t.
func openNamespace(path string, t specs.LinuxNamespaceType) (*os.File, error) {
	f, err := os.OpenFile(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	got, err := unix.IoctlRetInt(int(f.Fd()), unix.NS_GET_NSTYPE)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s is not a namespace file", path)
	}
	if uintptr(got) != specconv.Namespaces[t] {
		f.Close()
		for name, flag := range specconv.Namespaces {
			if flag == uintptr(got) {
				return nil, fmt.Errorf("%s is a %s namespace, not %s", path, name, t)
			}
		}
		return nil, fmt.Errorf("%s is not a %s namespace", path, t)
	}
	return f, nil
}

func closeAll(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

// connectListener connects to the seccomp agent when the filter notifies.
func connectListener(s *specs.LinuxSeccomp) (*os.File, error) {
	if !seccomp.NeedsListener(s) {
		return nil, nil
	}
	f, err := console.Connect(s.ListenerPath)
	if err != nil {
		return nil, fmt.Errorf("linux.seccomp.listenerPath: %w", err)
	}
	return f, nil
}

// setSeccomp compiles linux.seccomp into cfg for init, through the compile
// cache in the state root (a name no container id can take).
func setSeccomp(cfg *syncpipe.Config, root string, s *specs.LinuxSeccomp) error {
	if s == nil {
		return nil
	}
	p, err := seccomp.CompileCached(filepath.Join(root, ".seccomp"), s)
	if err != nil {
		return err
	}
	cfg.SeccompBPF, cfg.SeccompFlags = p.BPF(), uint64(p.Flags())
	return nil
}
