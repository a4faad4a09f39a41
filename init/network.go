package containerinit

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// loopbackUp brings up lo in a network namespace the runtime made, as runc
// and crun do: a container with a network namespace of its own and nobody
// to configure it (runc run, ctr run, a Docker container with --network
// none) expects 127.0.0.1 to answer. A namespace that is joined belongs to
// whoever made it and is left alone.
func loopbackUp() error {
	// Any socket reaches the device ioctls; AF_UNIX needs no IP stack.
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bring up the loopback interface: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("bring up the loopback interface: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring up the loopback interface: read its flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring up the loopback interface: %w", err)
	}
	return nil
}
