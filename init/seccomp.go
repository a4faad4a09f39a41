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

// seccompLoaded is set once the filter is in place.
var seccompLoaded bool

// loadSeccomp loads the container's filter on this thread and hands the
// notify fd, if any, to the listener with the container process state.
func loadSeccomp(cfg *syncpipe.Config) error {
	s := cfg.Spec.Linux.Seccomp
	if s == nil || seccompLoaded {
		return nil
	}
	fd, err := seccomp.Load(s)
	if err != nil {
		return err
	}
	seccompLoaded = true
	if fd < 0 {
		return nil
	}
	defer unix.Close(fd)
	return sendNotifyFd(cfg, fd)
}

// sendNotifyFd sends the notify fd over the listener socket the parent
// connected, with the state as runc sends it (specs.ContainerProcessState).
func sendNotifyFd(cfg *syncpipe.Config, fd int) error {
	sockFD, err := envFD(EnvSeccompFD)
	if err != nil {
		return fmt.Errorf("linux.seccomp.listenerPath: no listener socket")
	}
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
