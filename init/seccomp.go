package containerinit

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/minirunc/minirunc/seccomp"
	"github.com/minirunc/minirunc/syncpipe"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// EnvSeccompFD carries the socket connected to linux.seccomp.listenerPath.
const EnvSeccompFD = "_MINIRUNC_SECCOMPFD"

// seccompProg is the compiled filter, nil once loaded (or without one).
var seccompProg *seccomp.Program

// listenerFD is the socket connected to linux.seccomp.listenerPath, -1
// without one.
var listenerFD = -1

// decodeSeccomp takes the filter the runtime compiled, while allocation is
// still unconstrained by the container's rlimits.
func decodeSeccomp(cfg *syncpipe.Config) error {
	// The listener socket's fd comes in the environment, which
	// setupProcess replaces with the container's: take it now.
	if fd, err := envFD(EnvSeccompFD); err == nil {
		listenerFD = fd
	}
	if s := cfg.Spec.Linux.Seccomp; s != nil {
		p, err := seccomp.FromBPF(cfg.SeccompBPF, uintptr(cfg.SeccompFlags))
		if err != nil {
			return err
		}
		seccompProg = p
	}
	return nil
}

// loadSeccomp loads the compiled filter on this thread and hands the
// notify fd, if any, to the listener with the container process state.
func loadSeccomp(cfg *syncpipe.Config) error {
	if seccompProg == nil {
		return nil
	}
	fd, err := seccompProg.Load()
	seccompProg = nil
	if err != nil {
		return err
	}
	if fd < 0 {
		return nil
	}
	defer unix.Close(fd)
	return sendNotifyFd(cfg, fd)
}

// sendNotifyFd sends the notify fd over the listener socket the parent
// connected, with the state as runc sends it (specs.ContainerProcessState).
func sendNotifyFd(cfg *syncpipe.Config, fd int) error {
	sockFD := listenerFD
	if sockFD < 0 {
		return fmt.Errorf("linux.seccomp.listenerPath: no listener socket")
	}
	listenerFD = -1
	defer unix.Close(sockFD)
	st := specs.ContainerProcessState{
		Version:  specs.Version,
		Fds:      []string{specs.SeccompFdName},
		Metadata: cfg.Spec.Linux.Seccomp.ListenerMetadata,
	}
	if cfg.State != nil {
		st.Pid = cfg.State.Pid
		st.State = *cfg.State
	}
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := unix.Sendmsg(sockFD, data, unix.UnixRights(fd), nil, 0); err != nil {
		return fmt.Errorf("send seccomp notify fd to %s: %w", cfg.Spec.Linux.Seccomp.ListenerPath, err)
	}
	return nil
}

func envFD(name string) (int, error) {
	var fd int
	_, err := fmt.Sscan(os.Getenv(name), &fd)
	return fd, err
}
