package rootfs

import (
	"errors"
	"os"
	"path/filepath"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// openInRoot opens path inside root as an O_PATH handle, resolving every
// component (symlinks and ".." included) as if root were "/": the kernel's
// openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), as pathrs-lite does.
// pathrs-lite also names each handle by reading it back through a verified
// procfs handle, four more syscalls per lookup that matter only to error
// messages; a container's setup makes a hundred lookups, so the common
// case takes the kernel's answer directly. Kernels without openat2 get
// pathrs-lite's emulation.
func openInRoot(root *os.File, path string) (*os.File, error) {
	fd, err := unix.Openat2(int(root.Fd()), path, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if errors.Is(err, unix.ENOSYS) {
		return pathrs.OpenatInRoot(root, path)
	}
	if err != nil {
		return nil, &os.PathError{Op: "openat2", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// mkdirAllInRoot opens the directory path inside root, creating what is
// missing. An existing directory, the usual case, costs one openat2; a
// missing last component under an existing parent (a mount point in a
// tmpfs the setup just made) is made with mkdirat and opened without
// following symlinks. Anything else goes to pathrs-lite, which checks every
// component it makes.
func mkdirAllInRoot(root *os.File, path string, mode os.FileMode) (*os.File, error) {
	how := &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	fd, err := unix.Openat2(int(root.Fd()), path, how)
	if err == nil {
		return os.NewFile(uintptr(fd), path), nil
	}
	clean := filepath.Clean("/" + path)
	if base := filepath.Base(clean); errors.Is(err, unix.ENOENT) && base != "/" && base != ".." {
		if parent, perr := unix.Openat2(int(root.Fd()), filepath.Dir(clean), how); perr == nil {
			defer unix.Close(parent)
			if unix.Mkdirat(parent, base, uint32(mode.Perm())) == nil {
				if fd, err := unix.Openat(parent, base, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0); err == nil {
					return os.NewFile(uintptr(fd), path), nil
				}
			}
		}
	}
	return pathrs.MkdirAllHandle(root, path, mode)
}
