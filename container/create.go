package container

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/minirunc/minirunc/cgroup"
	"github.com/minirunc/minirunc/hooks"
	containerinit "github.com/minirunc/minirunc/init"
	"github.com/minirunc/minirunc/specconv"
	"github.com/minirunc/minirunc/syncpipe"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// CreateOpts are create's arguments.
type CreateOpts struct {
	Root          string
	ID            string
	Bundle        *specconv.Bundle
	PidFile       string
	ConsoleSocket string
	NoPivot       bool
	NoNewKeyring  bool
	PreserveFDs   int
}

// Create makes a container whose init waits for `start`. On success the
// init is running in all its namespaces and cgroups, blocked on the exec
// fifo; on failure nothing is left behind. The returned command is the
// init, for a foreground `run` to wait on.
func Create(o CreateOpts) (*Container, *exec.Cmd, error) {
	spec := o.Bundle.Spec
	if spec.Process.Terminal {
		return nil, nil, errors.New("config.json: process.terminal: terminals are not supported yet; set terminal to false")
	}
	dir, err := stateDir(o.Root, o.ID)
	if err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(o.Root, 0o711); err != nil {
		return nil, nil, fmt.Errorf("create state root %s: %w", o.Root, err)
	}
	if err := os.Mkdir(dir, 0o711); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, nil, fmt.Errorf("container with id exists: %s", o.ID)
		}
		return nil, nil, fmt.Errorf("create state dir: %w", err)
	}
	lk, err := lockDir(dir, true)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	c := &Container{Dir: dir, lock: lk}
	c.State = State{
		OCIVersion: spec.Version, ID: o.ID, Status: Creating, Bundle: o.Bundle.Dir,
		Rootfs: o.Bundle.Rootfs, Created: time.Now().UTC(), Owner: "", Annotations: spec.Annotations,
		Config: spec,
	}
	cmd, err := c.create(o)
	if err != nil {
		c.destroy()
		return nil, nil, err
	}
	return c, cmd, nil
}

// destroy removes everything a failed create made. The caller holds the lock.
func (c *Container) destroy() {
	if err := cgroup.Remove(c.State.CgroupDirs); err != nil {
		fmt.Fprintf(os.Stderr, "minirunc: warning: %v\n", err)
	}
	os.RemoveAll(c.Dir)
	c.Unlock()
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

func (c *Container) create(o CreateOpts) (*exec.Cmd, error) {
	spec := o.Bundle.Spec
	dirs, err := cgroup.Resolve(spec.Linux.CgroupsPath, o.ID)
	if err != nil {
		return nil, err
	}
	// The fifo is writable by the container's root user (init may already
	// have switched to it) and by nobody else who could start it.
	fifo := filepath.Join(c.Dir, fifoName)
	if err := unix.Mkfifo(fifo, 0o622); err != nil {
		return nil, fmt.Errorf("create exec fifo: %w", err)
	}
	// mkfifo honours the umask, which would take the write bit from a
	// non-root container user.
	if err := os.Chmod(fifo, 0o622); err != nil {
		return nil, fmt.Errorf("chmod exec fifo: %w", err)
	}
	uid, gid := rootIDs(spec)
	if err := os.Chown(fifo, uid, gid); err != nil {
		return nil, fmt.Errorf("chown exec fifo: %w", err)
	}
	fifoFile, err := os.OpenFile(fifo, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open exec fifo: %w", err)
	}
	defer fifoFile.Close()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	parentSock := os.NewFile(uintptr(fds[0]), "sync-parent")
	childSock := os.NewFile(uintptr(fds[1]), "sync-child")
	defer childSock.Close()
	pipe := syncpipe.New(parentSock)
	defer pipe.Close()

	preserve := o.PreserveFDs
	if n, err := strconv.Atoi(os.Getenv("LISTEN_FDS")); err == nil && n > 0 {
		preserve += n
	}
	cmd := exec.Command("/proc/self/exe", "init")
	cmd.Args[0] = "minirunc"
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	for i := 0; i < preserve; i++ {
		cmd.ExtraFiles = append(cmd.ExtraFiles, os.NewFile(uintptr(3+i), "preserved"))
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, childSock, fifoFile)
	cmd.Env = []string{
		containerinit.EnvSyncFD + "=" + strconv.Itoa(3+preserve),
		containerinit.EnvFifoFD + "=" + strconv.Itoa(4+preserve),
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == specs.CgroupNamespace {
			continue // unshared by init once it is in its cgroups
		}
		cmd.SysProcAttr.Cloneflags |= specconv.Namespaces[ns.Type]
	}
	if specconv.HasNamespace(spec, specs.UserNamespace) {
		for _, m := range spec.Linux.UIDMappings {
			cmd.SysProcAttr.UidMappings = append(cmd.SysProcAttr.UidMappings, syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
		}
		for _, m := range spec.Linux.GIDMappings {
			cmd.SysProcAttr.GidMappings = append(cmd.SysProcAttr.GidMappings, syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
		}
		cmd.SysProcAttr.GidMappingsEnableSetgroups = true
		// clone keeps the host uid; become the namespace's root (the
		// mapped host id) so that init has its capabilities there.
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 0, Gid: 0}
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start container init: %w", err)
	}
	childSock.Close()
	ok := false
	defer func() {
		if !ok {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	c.State.Pid = cmd.Process.Pid
	if c.State.InitStartTime, _, err = procStartTime(c.State.Pid); err != nil {
		return nil, fmt.Errorf("read init start time: %w", err)
	}
	c.State.CgroupDirs = dirs
	// Record the container before anything else can fail, so that a crash
	// from here on leaves a state that delete --force can clean up.
	if err := c.save(); err != nil {
		return nil, err
	}
	if err := cgroup.Join(dirs, c.State.Pid); err != nil {
		return nil, err
	}
	cfg := &syncpipe.Config{
		ID: o.ID, Bundle: o.Bundle.Dir, Rootfs: o.Bundle.Rootfs, Spec: spec,
		NoPivot: o.NoPivot, NoNewKeyring: o.NoNewKeyring, PreserveFDs: preserve,
		CgroupDirs: dirs, State: c.specState(Created),
	}
	if err := pipe.Send(cfg); err != nil {
		return nil, fmt.Errorf("send config to init: %w", err)
	}
	if err := pipe.Expect(syncpipe.TypeHooks); err != nil {
		return nil, initError(err)
	}
	if h := spec.Hooks; h != nil {
		st := c.specState(Creating)
		//lint:ignore SA1019 prestart is deprecated but still sent by Docker (libnetwork-setkey)
		if err := hooks.Run("prestart", h.Prestart, st); err != nil {
			return nil, err
		}
		if err := hooks.Run("createRuntime", h.CreateRuntime, st); err != nil {
			return nil, err
		}
	}
	if err := pipe.Send(syncpipe.Message{Type: syncpipe.TypeHooksDone}); err != nil {
		return nil, initError(err)
	}
	if err := pipe.Expect(syncpipe.TypeReady); err != nil {
		return nil, initError(err)
	}
	c.State.Status = Created
	if err := c.save(); err != nil {
		return nil, err
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, c.State.Pid); err != nil {
			return nil, err
		}
	}
	ok = true
	return cmd, nil
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
