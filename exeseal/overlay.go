package exeseal

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Sealed returns a handle on this binary that the container cannot write
// through, to exec as /proc/self/fd/N. Where it can, it opens the binary
// through a detached read-only overlayfs mount (no copy: writes fail with
// EROFS, and exec shares the page cache of the file on disk); otherwise it
// falls back to a sealed memfd copy. emptyDir is an empty directory that
// serves as the overlay's second lower layer.
//
// MINIRUNC_EXESEAL=memfd selects the memfd copy, for hosts whose overlayfs
// misbehaves (and for testing that path).
func Sealed(emptyDir string) (*Binary, error) {
	if os.Getenv("MINIRUNC_EXESEAL") != "memfd" {
		// The empty layer must not overlap the binary's directory; when
		// the state root does (a binary in /tmp, state in /tmp/x), try
		// others.
		for _, d := range []string{emptyDir, "/run/minirunc-seal", "/var/tmp/minirunc-seal"} {
			if b, err := overlaySelf(d); err == nil {
				return b, nil
			}
		}
	}
	f, err := SealedSelf()
	if err != nil {
		return nil, err
	}
	return &Binary{File: f}, nil
}

// Binary is the sealed handle on this binary that Sealed returns.
type Binary struct {
	*os.File
	mount *os.File // the detached overlay mount; nil for a memfd copy
}

// Close drops the handle and the mount. Whoever drops the last reference
// to a detached overlay waits for two RCU grace periods in the kernel (one
// to unmount the tree, one for the overlay's private lower mounts), 0.05 to
// 0.5 ms each here; init holds one for as long as it runs from the binary.
// So a caller closes it where it waits anyway: create while init sets up
// the root file system, exec once the program is running (else the
// program's first system call would mostly wait for them).
func (b *Binary) Close() error {
	err := b.File.Close()
	if b.mount != nil {
		if merr := b.mount.Close(); err == nil {
			err = merr
		}
	}
	return err
}

func overlaySelf(emptyDir string) (*Binary, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil || strings.HasSuffix(exe, " (deleted)") {
		return nil, fmt.Errorf("own binary: %v", err)
	}
	dir := filepath.Dir(exe)
	if rel, err := filepath.Rel(dir, emptyDir); err != nil || !strings.HasPrefix(rel, "..") {
		return nil, fmt.Errorf("%s lies under %s", emptyDir, dir)
	}
	if rel, err := filepath.Rel(emptyDir, dir); err != nil || !strings.HasPrefix(rel, "..") {
		return nil, fmt.Errorf("%s lies under %s", dir, emptyDir)
	}
	if err := os.MkdirAll(emptyDir, 0o700); err != nil {
		return nil, err
	}
	fsfd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fsfd)
	// With no upper layer overlayfs is read-only, and it wants two lower
	// layers then: the binary's directory over an empty one.
	for _, l := range []string{dir, emptyDir} {
		if err := unix.FsconfigSetString(fsfd, "lowerdir+", l); err != nil {
			return nil, fmt.Errorf("overlay lowerdir %s: %w", l, err)
		}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return nil, fmt.Errorf("overlay create: %w", err)
	}
	mnt, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID)
	if err != nil {
		return nil, fmt.Errorf("overlay mount: %w", err)
	}
	mount := os.NewFile(uintptr(mnt), "minirunc-seal-mount")
	fd, err := unix.Openat(mnt, filepath.Base(exe), unix.O_PATH|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		mount.Close()
		return nil, fmt.Errorf("open sealed binary: %w", err)
	}
	return &Binary{File: os.NewFile(uintptr(fd), "minirunc-sealed"), mount: mount}, nil
}
