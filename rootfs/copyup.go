package rootfs

import (
	"errors"
	"fmt"
	"io"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// mountCopyUp mounts the tmpfs m on target (dest in the rootfs) with what
// the directory it covers holds copied in (runc's "tmpcopyup", which
// Podman puts on --tmpfs and on --read-only's /run, /tmp and /var/tmp). The
// directory is opened before the mount, so its handle still reaches what
// the tmpfs then hides; the copy walks both trees by handle, never
// following a symlink.
func (r *Rootfs) mountCopyUp(m specs.Mount, dest string, target *os.File, opts parsedOptions) error {
	under, err := os.OpenFile(procPath(target), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("tmpcopyup: open %s: %w", dest, err)
	}
	defer under.Close()
	if err := r.mountFS(m, target, opts); err != nil {
		return err
	}
	h, err := r.reopen(dest)
	if err != nil {
		return fmt.Errorf("tmpcopyup: reopen %s: %w", dest, err)
	}
	defer h.Close()
	top, err := os.OpenFile(procPath(h), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("tmpcopyup: open the tmpfs on %s: %w", dest, err)
	}
	defer top.Close()
	if err := copyTree(under, top); err != nil {
		return fmt.Errorf("tmpcopyup %s: %w", dest, err)
	}
	return nil
}

// copyTree copies the contents of the directory src into dst, keeping
// types, modes and owners; symlinks are copied, not followed.
func copyTree(src, dst *os.File) error {
	names, err := src.Readdirnames(-1)
	if err != nil {
		return err
	}
	sfd, dfd := int(src.Fd()), int(dst.Fd())
	for _, name := range names {
		var st unix.Stat_t
		if err := unix.Fstatat(sfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		mode := st.Mode & 0o7777
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			if err := unix.Mkdirat(dfd, name, 0o700); err != nil {
				return err
			}
			if err := copySubdir(sfd, dfd, name); err != nil {
				return err
			}
		case unix.S_IFREG:
			if err := copyFile(sfd, dfd, name); err != nil {
				return err
			}
		case unix.S_IFLNK:
			target, err := readlinkat(sfd, name)
			if err != nil {
				return err
			}
			if err := unix.Symlinkat(target, dfd, name); err != nil {
				return err
			}
		default: // devices, fifos, sockets
			if err := unix.Mknodat(dfd, name, st.Mode, int(st.Rdev)); err != nil {
				return err
			}
		}
		if err := unix.Fchownat(dfd, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFLNK {
			if err := unix.Fchmodat(dfd, name, mode, 0); err != nil {
				return err
			}
		}
	}
	return nil
}

func openDir(dirfd int, name string) (*os.File, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

func copySubdir(sfd, dfd int, name string) error {
	s, err := openDir(sfd, name)
	if err != nil {
		return err
	}
	defer s.Close()
	d, err := openDir(dfd, name)
	if err != nil {
		return err
	}
	defer d.Close()
	return copyTree(s, d)
}

func copyFile(sfd, dfd int, name string) error {
	in, err := unix.Openat(sfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	src := os.NewFile(uintptr(in), name)
	defer src.Close()
	out, err := unix.Openat(dfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	dst := os.NewFile(uintptr(out), name)
	_, err = io.Copy(dst, src)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	return err
}

func readlinkat(dirfd int, name string) (string, error) {
	for size := 256; size <= 1<<16; size *= 4 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
	return "", errors.New("symlink target too long")
}
