// Package containerinit is the container side of create: what runs as
// `minirunc init` in the new namespaces after the re-exec. It reads its
// instructions from the sync pipe, builds the root filesystem, sets up the
// process (hostname, sysctl, rlimits, user, capabilities, no_new_privs),
// closes every file descriptor it does not hand on, waits on the exec fifo
// for `start`, runs the startContainer hooks and finally execve()s the
// user's program. (Go will not import a package named init, hence the name.)
package containerinit

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/cyphar/filepath-securejoin/pathrs-lite/procfs"
	"github.com/minirunc/minirunc/cgroup"
	"github.com/minirunc/minirunc/console"
	"github.com/minirunc/minirunc/fault"
	"github.com/minirunc/minirunc/hooks"
	"github.com/minirunc/minirunc/nsenter"
	"github.com/minirunc/minirunc/rootfs"
	"github.com/minirunc/minirunc/syncpipe"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Environment variables carrying the inherited fds to init.
const (
	EnvSyncFD    = "_MINIRUNC_SYNCFD"
	EnvFifoFD    = "_MINIRUNC_FIFOFD"
	EnvConsoleFD = "_MINIRUNC_CONSOLEFD" // the console socket, with a terminal
	EnvExec      = "_MINIRUNC_EXEC"      // "1": an exec into a running container
	EnvPdeathsig = "_MINIRUNC_PDEATHSIG" // "1": die with the caller (foreground run)
)

func init() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		// Credentials, capabilities, no_new_privs and seccomp are per
		// thread: do everything on the thread that will call execve.
		// (One P from the start: spawn sets GOMAXPROCS=1.)
		runtime.LockOSThread()
	}
}

// Main is `minirunc init`. It never returns.
func Main() {
	syncFD, err := strconv.Atoi(os.Getenv(EnvSyncFD))
	if err != nil {
		fmt.Fprintln(os.Stderr, "minirunc init: must be started by minirunc create or exec")
		os.Exit(1)
	}
	if fd, err := strconv.Atoi(os.Getenv(EnvConsoleFD)); err == nil {
		consoleSock = os.NewFile(uintptr(fd), "console-socket")
	}
	if os.Getenv(EnvPdeathsig) != "" {
		// A foreground run: when it dies, so does the container, as a
		// containerd shim's containers die with it. Armed before the
		// first read, so a caller already dead shows as EOF below.
		dieWithParent = true
		if err := armPdeathsig(); err != nil {
			fmt.Fprintf(os.Stderr, "minirunc init: %v\n", err)
			os.Exit(1)
		}
	}
	pipe := syncpipe.New(os.NewFile(uintptr(syncFD), "sync"))
	// This thread executes the container's program, which must get the
	// timer slack we were started with; the runtime's threads, sysmon
	// among them, keep the wide one (see nsenter/affinity.go).
	if err := nsenter.RestoreSlack(); err != nil {
		pipe.SendError(err)
		os.Exit(1)
	}
	var cfg syncpipe.Config
	if err := pipe.Recv(&cfg); err != nil {
		// The parent died or gave up before placing us: nothing to do.
		os.Exit(1)
	}
	if err := cfg.DecodeSpec(); err != nil {
		pipe.SendError(err)
		os.Exit(1)
	}
	if cfg.CgroupMounts != nil {
		cgroup.UseHierarchies(cfg.CgroupMounts)
	}
	fault.Point(faultPrefix() + "after-config")
	if os.Getenv(EnvExec) != "" {
		execMain(pipe, &cfg)
	}
	fifoFD, err := strconv.Atoi(os.Getenv(EnvFifoFD))
	if err != nil {
		pipe.SendError(errors.New("init: no exec fifo"))
		os.Exit(1)
	}
	if err := setup(pipe, &cfg); err != nil {
		pipe.SendError(err)
		os.Exit(1)
	}
	fault.Point("init:before-ready")
	if err := pipe.Send(syncpipe.Message{Type: syncpipe.TypeReady}); err != nil {
		os.Exit(1)
	}
	pipe.Close()
	fault.Point("init:after-ready")
	if err := waitForStart(fifoFD); err != nil {
		fmt.Fprintf(os.Stderr, "minirunc init: %v\n", err)
		os.Exit(1)
	}
	fault.Point("init:after-fifo")
	if err := loadSeccomp(&cfg); err != nil {
		fmt.Fprintf(os.Stderr, "minirunc init: %v\n", err)
		os.Exit(1)
	}
	err = run(&cfg)
	fmt.Fprintf(os.Stderr, "minirunc init: %v\n", err)
	os.Exit(127)
}

// consoleSock is the console socket handed down when the process has a
// terminal: the pty master goes through it.
var consoleSock *os.File

// execMain is an exec into a running container: nsenter has already put
// us in its namespaces, and the parent in its cgroups. It never returns.
func execMain(pipe *syncpipe.Pipe, cfg *syncpipe.Config) {
	err := func() error {
		if cfg.Spec.Process.Terminal {
			if err := setupConsole(cfg.Spec.Process, false); err != nil {
				return err
			}
		}
		// The container's session keyring, not the caller's, as with runc.
		if !cfg.NoNewKeyring {
			if _, err := unix.KeyctlJoinSessionKeyring("_ses." + cfg.ID); err != nil && !errors.Is(err, unix.ENOSYS) {
				return fmt.Errorf("join session keyring: %w", err)
			}
		}
		// Not the caller's (a shim's is near -1000): the process's, else
		// the container's, as runc gives it.
		if p := cfg.Spec.Process; p.OOMScoreAdj != nil {
			if err := writeProcFile((*procfs.Handle).OpenSelf, "oom_score_adj", strconv.Itoa(*p.OOMScoreAdj)); err != nil {
				return fmt.Errorf("process.oomScoreAdj %d: %w", *p.OOMScoreAdj, err)
			}
		}
		if err := setupProcess(cfg); err != nil {
			return err
		}
		return loadSeccomp(cfg)
	}()
	if err != nil {
		pipe.SendError(err)
		os.Exit(1)
	}
	fault.Point("execinit:before-ready")
	if err := pipe.Send(syncpipe.Message{Type: syncpipe.TypeReady}); err != nil {
		os.Exit(1)
	}
	fault.Point("execinit:before-exec")
	// The sync socket stays open and is close-on-exec (setupProcess): the
	// parent sees its end once the program has been executed, as with
	// runc, or the error if it could not be.
	err = unix.Exec(exe, cfg.Spec.Process.Args, os.Environ())
	pipe.SendError(&exec.Error{Name: cfg.Spec.Process.Args[0], Err: err})
	os.Exit(127)
}

// setupConsole allocates a pty from the container's devpts, sends the
// master over the console socket and makes the slave the process's stdio
// and controlling terminal. For create, /dev/console shows the slave.
func setupConsole(p *specs.Process, mountConsole bool) error {
	if consoleSock == nil {
		return errors.New("process.terminal is true but no console socket was given")
	}
	master, slave, err := console.OpenPty("/dev/pts/ptmx")
	if err != nil {
		return fmt.Errorf("allocate pty: %w", err)
	}
	defer master.Close()
	if p.ConsoleSize != nil {
		if err := console.SetSize(master, uint16(p.ConsoleSize.Height), uint16(p.ConsoleSize.Width)); err != nil {
			return fmt.Errorf("process.consoleSize: %w", err)
		}
	}
	if mountConsole {
		if err := rootfs.MountConsole(slave); err != nil {
			return err
		}
	}
	if err := console.SendFd(consoleSock, master); err != nil {
		return fmt.Errorf("send pty to console socket: %w", err)
	}
	consoleSock.Close()
	if err := console.MakeControlling(slave); err != nil {
		return err
	}
	return slave.Close()
}

// exe is the resolved executable, found before the fifo wait so that a
// missing one fails create, as with runc.
var exe string

func setup(pipe *syncpipe.Pipe, cfg *syncpipe.Config) error {
	spec := cfg.Spec
	hasNS := func(t specs.LinuxNamespaceType) bool {
		for _, ns := range spec.Linux.Namespaces {
			if ns.Type == t {
				return true
			}
		}
		return false
	}
	// The parent finishes placing us in our cgroups and applies their
	// limits while we mount (a move can wait on the kernel). A cgroup
	// namespace is made only after that, so that its root is the
	// container's own cgroup. Namespaces are per thread; this is the
	// thread that execs.
	inCgroups := false
	if hasNewNS(spec, specs.CgroupNamespace) {
		if err := pipe.Expect(syncpipe.TypeCgroups); err != nil {
			return err
		}
		inCgroups = true
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return fmt.Errorf("create cgroup namespace: %w", err)
		}
	}
	if hasNewNS(spec, specs.NetworkNamespace) {
		if err := loopbackUp(); err != nil {
			return err
		}
	}
	if !cfg.NoNewKeyring {
		id, err := unix.KeyctlJoinSessionKeyring("_ses." + cfg.ID)
		if err != nil && !errors.Is(err, unix.ENOSYS) {
			return fmt.Errorf("join session keyring: %w", err)
		}
		if err == nil {
			if err := searchableKeyring(id); err != nil {
				return err
			}
		}
	}
	rcfg := &rootfs.Config{
		Rootfs:      cfg.Rootfs,
		Spec:        spec,
		NoPivot:     cfg.NoPivot,
		CgroupDirs:  cfg.CgroupDirs,
		UserNS:      hasNS(specs.UserNamespace),
		HostMountNS: !hasNS(specs.MountNamespace),
	}
	r, err := rootfs.Prepare(rcfg)
	if err != nil {
		return err
	}
	fault.Point("init:after-mounts")
	if !inCgroups {
		if err := pipe.Expect(syncpipe.TypeCgroups); err != nil {
			return err
		}
	}
	// prestart and createRuntime hooks run in the runtime's namespaces,
	// in the parent; createContainer hooks here, before pivot_root.
	if err := pipe.Send(syncpipe.Message{Type: syncpipe.TypeHooks}); err != nil {
		return err
	}
	if err := pipe.Expect(syncpipe.TypeHooksDone); err != nil {
		return err
	}
	if spec.Hooks != nil && len(spec.Hooks.CreateContainer) > 0 {
		// create is not done yet: the state says creating, as runc's does.
		st := *cfg.State
		st.Status = specs.StateCreating
		if err := hooks.Run("createContainer", spec.Hooks.CreateContainer, &st); err != nil {
			return err
		}
	}
	if p := spec.Process; p.OOMScoreAdj != nil {
		if err := writeProcFile((*procfs.Handle).OpenSelf, "oom_score_adj", strconv.Itoa(*p.OOMScoreAdj)); err != nil {
			return fmt.Errorf("process.oomScoreAdj %d: %w", *p.OOMScoreAdj, err)
		}
	}
	if err := r.Enter(); err != nil {
		return err
	}
	fault.Point("init:after-pivot-root")
	if spec.Process.Terminal {
		if err := setupConsole(spec.Process, true); err != nil {
			return err
		}
	}
	if spec.Hostname != "" {
		if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
			return fmt.Errorf("hostname: %w", err)
		}
	}
	if spec.Domainname != "" {
		if err := unix.Setdomainname([]byte(spec.Domainname)); err != nil {
			return fmt.Errorf("domainname: %w", err)
		}
	}
	for k, v := range spec.Linux.Sysctl {
		p := "sys/" + strings.ReplaceAll(k, ".", "/")
		if err := writeProcFile((*procfs.Handle).OpenRoot, p, v); err != nil {
			return fmt.Errorf("linux.sysctl %s=%s: %w", k, v, err)
		}
	}
	if err := rootfs.Finalize(rcfg); err != nil {
		return err
	}
	return setupProcess(cfg)
}

// writeProcFile writes a procfs file through a verified procfs handle
// (CVE-2025-52881): a private procfs mount, and a lookup that refuses
// symlinks and over-mounts, so that neither the container's /proc nor
// anything mounted on it can redirect the write. open is OpenSelf or
// OpenRoot.
func writeProcFile(open func(*procfs.Handle, string) (*os.File, error), subpath, value string) error {
	proc, err := procfs.OpenProcRoot()
	if err != nil {
		return fmt.Errorf("open procfs: %w", err)
	}
	defer proc.Close()
	h, err := open(proc, subpath)
	if err != nil {
		return err
	}
	defer h.Close()
	f, err := pathrs.Reopen(h, unix.O_WRONLY|unix.O_CLOEXEC)
	if err != nil {
		var errno unix.Errno
		if errors.As(err, &errno) {
			err = errno
		}
		return fmt.Errorf("open /proc/%s for writing: %w", subpath, err)
	}
	defer f.Close()
	_, err = f.WriteString(value)
	return err
}

// threadSelf opens /proc/thread-self/<subpath> for writeProcFile. init
// stays locked to its one thread, so the handle remains this thread's.
func threadSelf(proc *procfs.Handle, subpath string) (*os.File, error) {
	f, closer, err := proc.OpenThreadSelf(subpath)
	if err != nil {
		return nil, err
	}
	closer()
	return f, nil
}

// waitForStart blocks until `start` opens the exec fifo, then tells it we
// are going ahead. The fifo is reopened write-only through our O_PATH fd.
func waitForStart(fifoFD int) error {
	fd, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", fifoFD), unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open exec fifo: %w", err)
	}
	if _, err := unix.Write(fd, []byte("0")); err != nil {
		return fmt.Errorf("write exec fifo: %w", err)
	}
	// fd stays open: it is close-on-exec, so `start` sees the fifo's end
	// exactly when the user's program has been executed, and runs the
	// poststart hooks only then.
	unix.Close(fifoFD)
	return nil
}

// run is the last step: startContainer hooks, then execve. It returns only
// on failure.
func run(cfg *syncpipe.Config) error {
	if h := cfg.Spec.Hooks; h != nil && len(h.StartContainer) > 0 {
		if err := hooks.Run("startContainer", h.StartContainer, cfg.State); err != nil {
			return err
		}
	}
	err := unix.Exec(exe, cfg.Spec.Process.Args, os.Environ())
	return &exec.Error{Name: cfg.Spec.Process.Args[0], Err: err}
}

// hasNewNS reports whether the spec asks for a new namespace of type t
// (not one joined by path).
func hasNewNS(spec *specs.Spec, t specs.LinuxNamespaceType) bool {
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == t && ns.Path == "" {
			return true
		}
	}
	return false
}

// keyUsrSearch is KEY_USR_SEARCH of <linux/keyctl.h>.
const keyUsrSearch = 0x00080000

// searchableKeyring lets the keyring's user search it, so that an exec'd
// process joining the container's session keyring by name finds this one
// instead of making its own (runc's ModKeyringPerm).
func searchableKeyring(id int) error {
	desc, err := unix.KeyctlString(unix.KEYCTL_DESCRIBE, id)
	if err != nil {
		return fmt.Errorf("describe session keyring: %w", err)
	}
	// type;uid;gid;perm;description
	f := strings.SplitN(desc, ";", 5)
	if len(f) < 5 {
		return fmt.Errorf("describe session keyring: %q", desc)
	}
	perm, err := strconv.ParseUint(f[3], 16, 32)
	if err != nil {
		return fmt.Errorf("describe session keyring: %q", desc)
	}
	if err := unix.KeyctlSetperm(id, uint32(perm)|keyUsrSearch); err != nil {
		return fmt.Errorf("make session keyring searchable: %w", err)
	}
	return nil
}
