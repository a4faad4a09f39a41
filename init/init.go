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

	"github.com/minirunc/minirunc/hooks"
	"github.com/minirunc/minirunc/rootfs"
	"github.com/minirunc/minirunc/syncpipe"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Environment variables carrying the inherited fds to init.
const (
	EnvSyncFD = "_MINIRUNC_SYNCFD"
	EnvFifoFD = "_MINIRUNC_FIFOFD"
)

func init() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		// Credentials, capabilities, no_new_privs and seccomp are per
		// thread: do everything on the thread that will call execve.
		runtime.GOMAXPROCS(1)
		runtime.LockOSThread()
	}
}

// Main is `minirunc init`. It never returns.
func Main() {
	syncFD, err1 := strconv.Atoi(os.Getenv(EnvSyncFD))
	fifoFD, err2 := strconv.Atoi(os.Getenv(EnvFifoFD))
	if err1 != nil || err2 != nil {
		fmt.Fprintln(os.Stderr, "minirunc init: must be started by minirunc create")
		os.Exit(1)
	}
	pipe := syncpipe.New(os.NewFile(uintptr(syncFD), "sync"))
	var cfg syncpipe.Config
	if err := pipe.Recv(&cfg); err != nil {
		// The parent died or gave up before placing us: nothing to do.
		os.Exit(1)
	}
	if err := setup(pipe, &cfg); err != nil {
		pipe.SendError(err)
		os.Exit(1)
	}
	if err := pipe.Send(syncpipe.Message{Type: syncpipe.TypeReady}); err != nil {
		os.Exit(1)
	}
	pipe.Close()
	if err := waitForStart(fifoFD); err != nil {
		fmt.Fprintf(os.Stderr, "minirunc init: %v\n", err)
		os.Exit(1)
	}
	err := run(&cfg)
	fmt.Fprintf(os.Stderr, "minirunc init: %v\n", err)
	os.Exit(127)
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
	// The cgroup namespace is made only now, after the parent placed us
	// in the container's cgroups, so that its root is the container's own
	// cgroup. Namespaces are per thread; this is the thread that execs.
	if hasNS(specs.CgroupNamespace) {
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return fmt.Errorf("create cgroup namespace: %w", err)
		}
	}
	if !cfg.NoNewKeyring {
		if _, err := unix.KeyctlJoinSessionKeyring("_ses." + cfg.ID); err != nil && !errors.Is(err, unix.ENOSYS) {
			return fmt.Errorf("join session keyring: %w", err)
		}
	}
	rcfg := &rootfs.Config{
		Rootfs:     cfg.Rootfs,
		Spec:       spec,
		NoPivot:    cfg.NoPivot,
		CgroupDirs: cfg.CgroupDirs,
		UserNS:     hasNS(specs.UserNamespace),
	}
	r, err := rootfs.Prepare(rcfg)
	if err != nil {
		return err
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
		if err := os.WriteFile("/proc/self/oom_score_adj", []byte(strconv.Itoa(*p.OOMScoreAdj)), 0); err != nil {
			return fmt.Errorf("process.oomScoreAdj %d: %w", *p.OOMScoreAdj, err)
		}
	}
	if err := r.Enter(); err != nil {
		return err
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
		p := "/proc/sys/" + strings.ReplaceAll(k, ".", "/")
		if err := writeProcFile(p, v); err != nil {
			return fmt.Errorf("linux.sysctl %s=%s: %w", k, v, err)
		}
	}
	if err := rootfs.Finalize(rcfg); err != nil {
		return err
	}
	return setupProcess(cfg)
}

// writeProcFile writes a /proc file without following symlinks out of it.
func writeProcFile(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteString(value)
	return err
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
	unix.Close(fd)
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
