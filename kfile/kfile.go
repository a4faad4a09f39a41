// Package kfile reads and writes the small files a command touches by the
// dozen (cgroup knobs, /proc/<pid>/stat, state.json) with bare open, read
// or write, and close. os.File adds an fstat, fcntl calls and a poller
// registration to each, as many syscalls again as the work itself.
package kfile

import (
	"io"

	"golang.org/x/sys/unix"
)

// Read returns the contents of the file at p; errors are bare errnos.
func Read(p string) ([]byte, error) {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	buf := make([]byte, 0, 4096)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}

// Write writes value to the existing file at p in one write(2), as the
// kernel's files want it; errors are bare errnos.
func Write(p, value string) error {
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	n, err := unix.Write(fd, []byte(value))
	if err == nil && n < len(value) {
		err = io.ErrShortWrite
	}
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	return err
}
