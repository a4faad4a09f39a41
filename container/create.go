package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/minirunc/minirunc/cgroup"
	"github.com/minirunc/minirunc/fault"
	"github.com/minirunc/minirunc/hooks"
	"github.com/minirunc/minirunc/specconv"
	"github.com/minirunc/minirunc/syncpipe"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// CreateOpts are create's arguments.
type CreateOpts struct {
	Root         string
	ID           string
	Bundle       *specconv.Bundle
	PidFile      string
	Console      *os.File // console socket (connected) for a terminal
	NoPivot      bool
	NoNewKeyring bool
	PreserveFDs  int
	// DieWithParent ties the container to the caller: init gets SIGKILL
	// when the caller dies (a foreground run).
	DieWithParent bool
}

// Create makes a container whose init waits for `start`. On success the
// init is running in all its namespaces and cgroups, blocked on the exec
// fifo; on failure nothing is left behind. For a foreground `run`, the
// init (State.Pid) is a child of the caller.
func Create(o CreateOpts) (*Container, error) {
	spec := o.Bundle.Spec
	if spec.Process.Terminal && o.Console == nil {
		return nil, errors.New("cannot allocate tty if minirunc will detach without setting console socket")
	}
	dir, err := stateDir(o.Root, o.ID)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Root, 0o711); err != nil {
		return nil, fmt.Errorf("create state root %s: %w", o.Root, err)
	}
	if err := os.Mkdir(dir, 0o711); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("container with id exists: %s", o.ID)
		}
		return nil, fmt.Errorf("create state dir: %w", err)
	}
	fault.Point("create:after-mkdir")
	lk, err := lockDir(dir, true)
	if errors.Is(err, ErrNotExist) {
		// A delete --force of the same id took the directory between
		// our mkdir and our lock: it is not ours to remove any more.
		return nil, fmt.Errorf("container %s was deleted while it was being created", o.ID)
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// The lock was taken by path: a delete of the same id may have removed
	// our directory meanwhile and another create made and filled a new
	// one, which is that create's container, not ours to fill or remove.
	if names, _ := lk.Readdirnames(1); len(names) > 0 {
		lk.Close()
		return nil, fmt.Errorf("container with id exists: %s", o.ID)
	}
	fault.Point("create:after-lock")
	c := &Container{Dir: dir, lock: lk}
	c.State = State{
		OCIVersion: spec.Version, ID: o.ID, Status: Creating, Bundle: o.Bundle.Dir,
		Rootfs: o.Bundle.Rootfs, Created: time.Now().UTC(), Owner: "", Annotations: spec.Annotations,
		NoNewKeyring: o.NoNewKeyring, OwnPidNS: ownPidNS(spec),
	}
	c.spec, c.specRaw = spec, o.Bundle.Raw // save() records it
	if err := c.create(o); err != nil {
		c.destroy()
		return nil, err
	}
	return c, nil
}

// destroy removes everything a failed create made. The caller holds the lock.
func (c *Container) destroy() {
	if err := cgroup.Remove(c.State.CgroupDirs); err != nil {
		fmt.Fprintf(os.Stderr, "minirunc: warning: %v\n", err)
	}
	os.RemoveAll(c.Dir)
	c.Unlock()
}

// ownPidNS reports whether spec gives the container a new pid namespace.
func ownPidNS(s *specs.Spec) bool {
	ns, ok := namespaceOf(s, specs.PIDNamespace)
	return ok && ns.Path == ""
}

// rootIDs returns the host uid and gid that are root in the container.
func rootIDs(s *specs.Spec) (int, int) {
	uid, gid := 0, 0
	for _, m := range s.Linux.UIDMappings {
		if m.ContainerID == 0 {
			uid = int(m.HostID)
		}
	}
	for _, m := range s.Linux.GIDMappings {
		if m.ContainerID == 0 {
			gid = int(m.HostID)
		}
	}
	return uid, gid
}

func (c *Container) create(o CreateOpts) error {
	spec := o.Bundle.Spec
	dirs, err := cgroup.Resolve(spec.Linux.CgroupsPath, o.ID)
	if err != nil {
		return err
	}
	// The fifo is writable by the container's root user (init may already
	// have switched to it) and by nobody else who could start it.
	fifo := filepath.Join(c.Dir, fifoName)
	if err := unix.Mkfifo(fifo, 0o622); err != nil {
		return fmt.Errorf("create exec fifo: %w", err)
	}
	// mkfifo honours the umask, which would take the write bit from a
	// non-root container user.
	if err := os.Chmod(fifo, 0o622); err != nil {
		return fmt.Errorf("chmod exec fifo: %w", err)
	}
	uid, gid := rootIDs(spec)
	if err := os.Chown(fifo, uid, gid); err != nil {
		return fmt.Errorf("chown exec fifo: %w", err)
	}
	fifoFile, err := os.OpenFile(fifo, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open exec fifo: %w", err)
	}
	defer fifoFile.Close()
	fault.Point("create:after-fifo")
	preserve := o.PreserveFDs
	initSpec := spec
	if n := listenFDs(); n > 0 {
		preserve += n
		initSpec = withListenEnv(spec, n)
	}
	sp := &spawn{preserve: preserve, fifo: fifoFile, sealDir: filepath.Join(o.Root, ".empty"), uidMaps: spec.Linux.UIDMappings, gidMaps: spec.Linux.GIDMappings}
	sp.pdeathsig = o.DieWithParent
	if spec.Process.Terminal {
		sp.console = o.Console
	}
	if sp.listener, err = connectListener(spec.Linux.Seccomp); err != nil {
		return err
	}
	if sp.listener != nil {
		defer sp.listener.Close()
	}
	if err := planNamespaces(sp, spec); err != nil {
		return err
	}
	defer closeAll(sp.setns)
	c.State.CgroupDirs = dirs // from here on, destroy removes them
	// Record the cgroups before any is made, so that a create that dies
	// from here on leaves a stopped container whose delete removes them,
	// never an unrecorded cgroup.
	if err := c.save(); err != nil {
		return err
	}
	fault.Point("create:after-state-cgroups")
	// init moves itself into its v1 cgroups unless it starts in a user
	// namespace of its own, where host cgroup files are not its to write.
	selfMove := sp.cloneflags&unix.CLONE_NEWUSER == 0 && sp.unshare&unix.CLONE_NEWUSER == 0
	if err := cgroup.Prepare(dirs); err != nil {
		return err
	}
	if sp.cgroups, err = cgroup.Place(dirs, selfMove); err != nil {
		return err
	}
	defer sp.cgroups.Close()
	proc, err := sp.start()
	if err != nil {
		return err
	}
	fault.Point("create:after-clone")
	pipe := proc.pipe
	defer pipe.Close()
	ok := false
	defer func() {
		if !ok {
			proc.kill()
		}
	}()
	c.State.Pid = proc.pid
	if c.State.InitStartTime, _, err = procStartTime(c.State.Pid); err != nil {
		return fmt.Errorf("read init start time: %w", err)
	}
	c.State.CgroupDirs = dirs
	// Record the container before anything else can fail, so that a crash
	// from here on leaves a state that delete --force can clean up.
	if err := c.save(); err != nil {
		return err
	}
	fault.Point("create:after-state-pid")
	// init makes its mounts while we move it into the cgroups it could
	// not enter itself (a move by cgroup.procs can wait milliseconds for
	// the kernel) and apply the limits. It waits for TypeCgroups before
	// anything that needs them (a cgroup namespace, hooks, the program).
	cfg := &syncpipe.Config{
		ID: o.ID, Bundle: o.Bundle.Dir, Rootfs: o.Bundle.Rootfs,
		NoPivot: o.NoPivot, NoNewKeyring: o.NoNewKeyring, PreserveFDs: preserve,
		CgroupDirs: dirs, State: c.specState(Created),
	}
	if !joinsMountNS(spec) {
		// init's mount table is a copy of ours: our parse serves it.
		cfg.CgroupMounts, _ = cgroup.Hierarchies()
	}
	if err := setSeccomp(cfg, o.Root, spec.Linux.Seccomp); err != nil {
		return err
	}
	var raw []byte
	if initSpec == spec {
		raw = o.Bundle.Raw
	}
	if err := cfg.SetSpec(initSpec, raw); err != nil {
		return err
	}
	if err := pipe.SendConfig(cfg); err != nil {
		return fmt.Errorf("send config to init: %w", err)
	}
	proc.releaseSeal() // init has its mounts to make
	fault.Point("create:after-config-sent")
	if err := cgroup.Enter(sp.cgroups.Rest, c.State.Pid); err != nil {
		return initFailed(proc, err)
	}
	fault.Point("create:after-cgroup-join")
	if err := cgroup.Apply(dirs, spec.Linux.Resources); err != nil {
		return initFailed(proc, err)
	}
	fault.Point("create:after-cgroup-apply")
	if err := pipe.Send(syncpipe.Message{Type: syncpipe.TypeCgroups}); err != nil {
		return initError(err)
	}
	if err := pipe.Expect(syncpipe.TypeHooks); err != nil {
		return initError(err)
	}
	if h := spec.Hooks; h != nil {
		st := c.specState(Creating)
		//lint:ignore SA1019 prestart is deprecated but still sent by Docker (libnetwork-setkey)
		if err := hooks.Run("prestart", h.Prestart, st); err != nil {
			return err
		}
		if err := hooks.Run("createRuntime", h.CreateRuntime, st); err != nil {
			return err
		}
	}
	fault.Point("create:after-hooks")
	if err := pipe.Send(syncpipe.Message{Type: syncpipe.TypeHooksDone}); err != nil {
		return initError(err)
	}
	if err := pipe.Expect(syncpipe.TypeReady); err != nil {
		return initError(err)
	}
	fault.Point("create:after-init-ready")
	c.State.Status = Created
	if err := c.save(); err != nil {
		return err
	}
	fault.Point("create:after-state-created")
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, c.State.Pid); err != nil {
			return err
		}
		fault.Point("create:after-pid-file")
	}
	ok = true
	return nil
}

// initFailed ends init after a step of ours failed while it was at work.
// If init had failed first (its setup error is what made our step fail:
// a dead process cannot join a cgroup), its message is the one to report.
func initFailed(proc *initProcess, err error) error {
	_ = unix.Kill(proc.pid, unix.SIGKILL)
	for {
		var m syncpipe.Message
		if proc.pipe.Recv(&m) != nil {
			return err
		}
		if m.Type == syncpipe.TypeError {
			return errors.New(m.Msg)
		}
	}
}

func initError(err error) error {
	if errors.Is(err, os.ErrClosed) || err.Error() == "EOF" {
		return errors.New("container init exited unexpectedly")
	}
	return err
}

// writePidFile writes the bare pid, no newline, via a temp file and rename.
func writePidFile(path string, pid int) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(abs), "."+filepath.Base(abs))
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	if err := os.Rename(tmp, abs); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write pid file: %w", err)
	}
	return nil
}

// planNamespaces decides how init gets its namespaces. Without paths, clone
// makes them all (the fast path). When the spec joins namespaces, nsenter
// joins them first (user first) and then creates the new ones, so that
// they are owned by a joined user namespace.
func planNamespaces(sp *spawn, spec *specs.Spec) error {
	var flags uintptr
	joins := false
	for _, ns := range spec.Linux.Namespaces {
		switch {
		case ns.Path != "":
			joins = true
		case ns.Type == specs.CgroupNamespace:
			// unshared by init once it is in its cgroups
		default:
			flags |= specconv.Namespaces[ns.Type]
		}
	}
	if !joins {
		sp.cloneflags = flags
		return nil
	}
	for _, t := range nsOrder {
		for i, ns := range spec.Linux.Namespaces {
			if ns.Type != t || ns.Path == "" {
				continue
			}
			f, err := openNamespace(ns.Path, t)
			if err != nil {
				closeAll(sp.setns)
				sp.setns = nil
				return fmt.Errorf("config.json: linux.namespaces[%d].path: %w", i, err)
			}
			sp.setns = append(sp.setns, f)
			switch t {
			case specs.UserNamespace:
				sp.becomeRoot = true
			case specs.PIDNamespace, specs.TimeNamespace:
				sp.fork = true
			}
		}
	}
	sp.unshare = flags
	if flags&(unix.CLONE_NEWPID|unix.CLONE_NEWTIME) != 0 {
		sp.fork = true
	}
	return nil
}

// joinsMountNS reports a spec that puts init in an existing mount
// namespace, whose mounts are not ours.
func joinsMountNS(s *specs.Spec) bool {
	ns, ok := namespaceOf(s, specs.MountNamespace)
	return ok && ns.Path != ""
}
