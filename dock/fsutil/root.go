package fsutil

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrEscape is a path whose symlinks climb out of the root.
var ErrEscape = errors.New("path escapes the container's root filesystem")

const maxSymlinks = 40

// ResolveIn resolves p (a path as the container sees it) inside root:
// symlinks are followed with root as "/", and one whose target climbs
// above the root ("..", at the root) is refused with ErrEscape. The last
// component's symlink is followed only when followLast is set. It returns
// the path relative to root ("." for the root itself); components that do
// not exist are kept as given. The result is only a name: every open of it
// goes through OpenIn, so a tree changed in the meantime still cannot lead
// outside root.
func ResolveIn(root, p string, followLast bool) (string, error) {
	queue := split(path.Clean("/" + p))
	var done []string
	links := 0
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) == 0 {
				return "", fmt.Errorf("%s: %w", p, ErrEscape)
			}
			done = done[:len(done)-1]
			continue
		}
		cand := append(append([]string{}, done...), c)
		fi, err := os.Lstat(filepath.Join(root, filepath.Join(cand...)))
		if err != nil || fi.Mode()&os.ModeSymlink == 0 || (len(queue) == 0 && !followLast) {
			done = cand
			continue
		}
		if links++; links > maxSymlinks {
			return "", fmt.Errorf("%s: too many levels of symbolic links", p)
		}
		target, err := os.Readlink(filepath.Join(root, filepath.Join(cand...)))
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(target, "/") {
			done = nil
		}
		queue = append(split(target), queue...)
	}
	if len(done) == 0 {
		return ".", nil
	}
	return filepath.Join(done...), nil
}

func split(p string) []string {
	return strings.Split(strings.Trim(p, "/"), "/")
}

// OpenIn opens rel under the directory fd root, never leaving it
// (openat2 RESOLVE_IN_ROOT, no magic links).
func OpenIn(root int, rel string, flags int) (int, error) {
	for {
		fd, err := unix.Openat2(root, rel, &unix.OpenHow{
			Flags:   uint64(flags | unix.O_CLOEXEC),
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
		})
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		return fd, err
	}
}

// Side is one end of a copy: a directory fd and a name in it.
type Side struct {
	Dir  int
	Name string
}

// OpenSide opens the parent dir of rel (relative to root, from ResolveIn)
// inside root, for a copy from or to rel.
func OpenSide(root int, rel string) (Side, error) {
	dir, base := filepath.Split(rel)
	if dir == "" {
		dir = "."
	}
	fd, err := OpenIn(root, dir, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return Side{}, fmt.Errorf("%s: %w", dir, err)
	}
	return Side{Dir: fd, Name: base}, nil
}

// Stat is fstatat without following a last symlink.
func (s Side) Stat() (*unix.Stat_t, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(s.Dir, s.Name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, err
	}
	return &st, nil
}

// CopyTree copies src (a file, symlink, device or a whole directory) to
// dst, replacing what dst holds unless a directory stays a directory.
// Every step is relative to an fd and never follows a symlink, so neither
// side can be redirected out of the directory it was opened in. Owners,
// modes and modification times are kept.
func CopyTree(src, dst Side) error {
	st, err := src.Stat()
	if err != nil {
		return fmt.Errorf("%s: %w", src.Name, err)
	}
	mode := st.Mode & 0o7777
	var old unix.Stat_t
	exists := unix.Fstatat(dst.Dir, dst.Name, &old, unix.AT_SYMLINK_NOFOLLOW) == nil
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	if exists && !(isDir && old.Mode&unix.S_IFMT == unix.S_IFDIR) {
		if old.Mode&unix.S_IFMT == unix.S_IFDIR {
			return fmt.Errorf("cannot overwrite directory %q with non-directory", dst.Name)
		}
		if err := unix.Unlinkat(dst.Dir, dst.Name, 0); err != nil {
			return err
		}
		exists = false
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if !exists {
			if err := unix.Mkdirat(dst.Dir, dst.Name, 0o700); err != nil {
				return err
			}
		}
		if err := copyDir(src, dst); err != nil {
			return err
		}
	case unix.S_IFREG:
		if err := copyFile(src, dst); err != nil {
			return err
		}
	case unix.S_IFLNK:
		buf := make([]byte, unix.PathMax)
		n, err := unix.Readlinkat(src.Dir, src.Name, buf)
		if err != nil {
			return err
		}
		if err := unix.Symlinkat(string(buf[:n]), dst.Dir, dst.Name); err != nil {
			return err
		}
	default:
		if err := unix.Mknodat(dst.Dir, dst.Name, st.Mode, int(st.Rdev)); err != nil {
			return err
		}
	}
	if err := unix.Fchownat(dst.Dir, dst.Name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		if err := fchmodNoFollow(dst, mode); err != nil {
			return err
		}
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	return unix.UtimesNanoAt(dst.Dir, dst.Name, ts, unix.AT_SYMLINK_NOFOLLOW)
}

// fchmodNoFollow sets the mode through an O_PATH fd of the entry itself.
func fchmodNoFollow(s Side, mode uint32) error {
	fd, err := unix.Openat(s.Dir, s.Name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Fchmodat(unix.AT_FDCWD, fmt.Sprintf("/proc/self/fd/%d", fd), mode, 0)
}

func copyFile(src, dst Side) error {
	sfd, err := unix.Openat(src.Dir, src.Name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	in := os.NewFile(uintptr(sfd), src.Name)
	defer in.Close()
	dfd, err := unix.Openat(dst.Dir, dst.Name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	out := os.NewFile(uintptr(dfd), dst.Name)
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

func copyDir(src, dst Side) error {
	sfd, err := unix.Openat(src.Dir, src.Name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	sd := os.NewFile(uintptr(sfd), src.Name)
	defer sd.Close()
	dfd, err := unix.Openat(dst.Dir, dst.Name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	names, err := sd.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := CopyTree(Side{Dir: sfd, Name: n}, Side{Dir: dfd, Name: n}); err != nil {
			return fmt.Errorf("%s/%w", src.Name, err)
		}
	}
	return nil
}
