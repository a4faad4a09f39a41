// Package console owns terminals: allocating a pty inside the container
// from its own devpts (checked to be a real pty, so a planted file cannot
// pose as one), passing the master over a console socket as exactly one
// SCM_RIGHTS fd (runc's protocol, which containerd's shim and conmon
// speak), receiving it, and relaying a pty to the caller's terminal for a
// foreground `run -t` or `exec -t`.
package console

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Connect dials the console socket at path and returns it as a file that
// can be handed to init. Bare syscalls, not package net: its start-up
// work runs in every command of a binary that imports it.
func Connect(path string) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("console socket %s: %w", path, os.NewSyscallError("socket", err))
	}
	for {
		err = unix.Connect(fd, &unix.SockaddrUnix{Name: path})
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("console socket %s: %w", path, os.NewSyscallError("connect", err))
	}
	return os.NewFile(uintptr(fd), path), nil
}

// SendFd sends f over the unix socket sock, with f's name as the payload.
func SendFd(sock *os.File, f *os.File) error {
	name := []byte(f.Name())
	if len(name) == 0 || len(name) >= 4096 {
		name = []byte("pty")
	}
	rights := unix.UnixRights(int(f.Fd()))
	return unix.Sendmsg(int(sock.Fd()), name, rights, nil, 0)
}

// RecvFd receives one fd sent with SendFd.
func RecvFd(sock *os.File) (*os.File, error) {
	name := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), name, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("receive console fd: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, errors.New("receive console fd: no file descriptor in the message")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, errors.New("receive console fd: expected exactly one file descriptor")
	}
	return os.NewFile(uintptr(fds[0]), string(name[:n])), nil
}

// OpenPty opens a new pty from the devpts instance at ptmx (the
// container's /dev/pts/ptmx) and returns master and slave. Both are checked
// to belong to a devpts filesystem.
func OpenPty(ptmx string) (master, slave *os.File, err error) {
	mfd, err := openPtmx(ptmx)
	if err != nil {
		return nil, nil, err
	}
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(mfd)
		return nil, nil, fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetUint32(mfd, unix.TIOCGPTN)
	if err != nil {
		unix.Close(mfd)
		return nil, nil, fmt.Errorf("pty number: %w", err)
	}
	// TIOCGPTPEER opens the slave through the master, never by a path
	// that could have been swapped.
	sfdRaw, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(mfd), unix.TIOCGPTPEER, uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC))
	if errno != 0 {
		unix.Close(mfd)
		return nil, nil, fmt.Errorf("open pty slave: %w", errno)
	}
	if err := checkDevpts(int(sfdRaw)); err != nil {
		unix.Close(mfd)
		unix.Close(int(sfdRaw))
		return nil, nil, fmt.Errorf("pty slave: %w", err)
	}
	name := fmt.Sprintf("/dev/pts/%d", n)
	return os.NewFile(uintptr(mfd), name), os.NewFile(sfdRaw, name), nil
}

// openPtmx opens ptmx (CVE-2025-52565): its directory reached without
// following any symlink and on a devpts filesystem, then the ptmx node of
// that very instance (not a symlink; inode 2, char 5:2, same device), so
// that a planted ptmx cannot hand out a host pty or some other file.
func openPtmx(ptmx string) (int, error) {
	dir, base := filepath.Dir(ptmx), filepath.Base(ptmx)
	dfd, err := unix.Openat2(unix.AT_FDCWD, dir, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if errors.Is(err, unix.ENOSYS) {
		dfd, err = unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	}
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
		return -1, fmt.Errorf("%s: a symlink on the way to the devpts instance", ptmx)
	}
	if err != nil {
		return -1, fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(dfd)
	if err := checkDevpts(dfd); err != nil {
		return -1, fmt.Errorf("%s: %w", dir, err)
	}
	mfd, err := unix.Openat(dfd, base, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if errors.Is(err, unix.ELOOP) {
		return -1, fmt.Errorf("%s is a symlink, not the devpts ptmx", ptmx)
	}
	if err != nil {
		return -1, fmt.Errorf("open %s: %w", ptmx, err)
	}
	var st, dst unix.Stat_t
	err = unix.Fstat(mfd, &st)
	if err == nil {
		err = unix.Fstat(dfd, &dst)
	}
	if err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != 5 || unix.Minor(st.Rdev) != 2 ||
		st.Ino != 2 || st.Dev != dst.Dev {
		unix.Close(mfd)
		return -1, fmt.Errorf("%s is not the ptmx of the devpts instance at %s", ptmx, dir)
	}
	return mfd, nil
}

func checkDevpts(fd int) error {
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		return err
	}
	if st.Type != unix.DEVPTS_SUPER_MAGIC {
		return errors.New("not on a devpts filesystem")
	}
	return nil
}

// SetSize sets the window size of a terminal.
func SetSize(f *os.File, rows, cols uint16) error {
	return unix.IoctlSetWinsize(int(f.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
}

// MakeControlling makes slave the session's controlling terminal and the
// process's stdio.
func MakeControlling(slave *os.File) error {
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("setsid: %w", err)
	}
	if err := unix.IoctlSetInt(int(slave.Fd()), unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("set controlling terminal: %w", err)
	}
	for fd := 0; fd <= 2; fd++ {
		if err := unix.Dup3(int(slave.Fd()), fd, 0); err != nil {
			return fmt.Errorf("dup pty to fd %d: %w", fd, err)
		}
	}
	return nil
}
