package console

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// ErrDetachNoSocket is runc's refusal of a terminal nobody could receive.
var ErrDetachNoSocket = errors.New("cannot allocate tty if minirunc will detach without setting console socket")

// Setup is the runtime side of a process's terminal: either the caller's
// console socket, or (foreground run/exec without one) a socketpair whose
// other end the runtime reads the pty from and relays.
type Setup struct {
	Child *os.File // the socket handed to init; nil without a terminal
	local *os.File // our end, when relaying
}

// NewSetup prepares the console for a process. With terminal false it
// does nothing.
func NewSetup(terminal bool, socketPath string, detach bool) (*Setup, error) {
	if !terminal {
		return &Setup{}, nil
	}
	if socketPath != "" {
		f, err := Connect(socketPath)
		if err != nil {
			return nil, err
		}
		return &Setup{Child: f}, nil
	}
	if detach {
		return nil, ErrDetachNoSocket
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &Setup{Child: os.NewFile(uintptr(fds[1]), "console-child"), local: os.NewFile(uintptr(fds[0]), "console-local")}, nil
}

// Relay receives the pty master init sent and starts relaying it to the
// caller's stdio; nil when the caller's console socket got the pty.
func (s *Setup) Relay() (*Relay, error) {
	if s.local == nil {
		return nil, nil
	}
	master, err := RecvFd(s.local)
	if err != nil {
		return nil, err
	}
	return StartRelay(master), nil
}

// Close releases the sockets (the pty master lives on in the relay).
func (s *Setup) Close() {
	if s.Child != nil {
		s.Child.Close()
	}
	if s.local != nil {
		s.local.Close()
	}
}
