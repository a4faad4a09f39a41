// Package kfile reads and writes the small files a command touches by the
// dozen (cgroup knobs, /proc/<pid>/stat, state.json) with bare open, read
// or write, and close. os.File adds an fstat, fcntl calls and a poller
// registration to each, as many syscalls again as the work itself.
package kfile

import (
	"bytes"
	"io"
	"sync"

	"golang.org/x/sys/unix"
)

// bufs are read buffers. A command reads these files by the hundred (list
// reads three per container) and keeps a few bytes of each: a fresh 4 KiB
// buffer apiece made the heap grow page by page.
var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// Read returns the contents of the file at p; errors are bare errnos.
func Read(p string) ([]byte, error) {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	bp := bufs.Get().(*[]byte)
	defer bufs.Put(bp)
	buf, err := readAll(fd, (*bp)[:0])
	*bp = buf[:0] // keep a buffer that grew
	if err != nil {
		return nil, err
	}
	return bytes.Clone(buf), nil
}

// readAll appends fd's contents to buf up to end of file.
func readAll(fd int, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return buf, err
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
