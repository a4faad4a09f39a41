package rootfs

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Enter makes the rootfs the container's root: pivot_root, or with
// --no-pivot a move of the rootfs onto / and a chroot (for a rootfs on a
// ramdisk, where pivot_root is impossible).
func (r *Rootfs) Enter() error {
	defer r.Close()
	if r.cfg.HostMountNS {
		// No mount namespace of its own: pivot_root would move the
		// caller's root. chroot, as runc does.
		if err := unix.Chdir(r.cfg.Rootfs); err != nil {
			return fmt.Errorf("chdir to rootfs: %w", err)
		}
		if err := unix.Chroot("."); err != nil {
			return fmt.Errorf("chroot: %w", err)
		}
		return unix.Chdir("/")
	}
	if r.cfg.NoPivot {
		if err := unix.Chdir(r.cfg.Rootfs); err != nil {
			return fmt.Errorf("chdir to rootfs: %w", err)
		}
		if err := unix.Mount(r.cfg.Rootfs, "/", "", unix.MS_MOVE, ""); err != nil {
			return fmt.Errorf("move rootfs to /: %w", err)
		}
		if err := unix.Chroot("."); err != nil {
			return fmt.Errorf("chroot: %w", err)
		}
		return unix.Chdir("/")
	}
	oldroot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /: %w", err)
	}
	defer unix.Close(oldroot)
	newroot, err := unix.Open(r.cfg.Rootfs, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open rootfs: %w", err)
	}
	defer unix.Close(newroot)
	// pivot_root(".", ".") stacks the old root on top of the new one, so no
	// directory inside the rootfs is needed to hold it.
	if err := unix.Fchdir(newroot); err != nil {
		return fmt.Errorf("chdir to rootfs: %w", err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Fchdir(oldroot); err != nil {
		return fmt.Errorf("chdir to old root: %w", err)
	}
	// Keep the unmount of the old root from propagating to the host.
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make old root slave: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("unmount old root: %w", err)
	}
	return unix.Chdir("/")
}

// Finalize runs after the container's root is in place: masked and
// read-only paths, then a read-only root and the final root propagation.
func Finalize(cfg *Config) error {
	root, err := os.OpenFile("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer root.Close()
	for i, p := range cfg.Spec.Linux.MaskedPaths {
		if err := maskPath(root, p); err != nil {
			return fmt.Errorf("linux.maskedPaths[%d] %s: %w", i, p, err)
		}
	}
	for i, p := range cfg.Spec.Linux.ReadonlyPaths {
		if err := readonlyPath(root, p); err != nil {
			return fmt.Errorf("linux.readonlyPaths[%d] %s: %w", i, p, err)
		}
	}
	if cfg.Spec.Root.Readonly {
		h, err := os.OpenFile("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		err = remountHandle(h, unix.MS_RDONLY)
		h.Close()
		if err != nil {
			return fmt.Errorf("root.readonly: %w", err)
		}
	}
	if p := cfg.Spec.Linux.RootfsPropagation; p != "" && !cfg.HostMountNS {
		if err := unix.Mount("", "/", "", PropagationFlags[p], ""); err != nil {
			return fmt.Errorf("linux.rootfsPropagation %s: %w", p, err)
		}
	}
	return nil
}

// maskPath hides p: a directory under an empty read-only tmpfs, a file
// under /dev/null. A path that does not exist needs no mask.
func maskPath(root *os.File, p string) error {
	h, err := openOptional(root, p)
	if h == nil {
		return err
	}
	defer h.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(h.Fd()), &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return unix.Mount("tmpfs", procPath(h), "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=0k,mode=755")
	}
	// Bind from an opened and verified /dev/null (CVE-2025-31133): a
	// /dev/null swapped for something else must not be mounted.
	null, err := os.OpenFile("/dev/null", unix.O_PATH|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return fmt.Errorf("open /dev/null: %w", err)
	}
	defer null.Close()
	var nst unix.Stat_t
	if err := unix.Fstat(int(null.Fd()), &nst); err != nil {
		return err
	}
	if nst.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(nst.Rdev) != 1 || unix.Minor(nst.Rdev) != 3 {
		return errors.New("/dev/null is not the null device")
	}
	return unix.Mount(procPath(null), procPath(h), "", unix.MS_BIND, "")
}

// readonlyPath bind-mounts p onto itself and makes the whole tree read-only.
func readonlyPath(root *os.File, p string) error {
	h, err := openOptional(root, p)
	if h == nil {
		return err
	}
	defer h.Close()
	if err := unix.Mount(procPath(h), procPath(h), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	nh, err := openInRoot(root, p)
	if err != nil {
		return err
	}
	defer nh.Close()
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	if err := unix.MountSetattr(int(nh.Fd()), "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, attr); err != nil {
		return remountHandle(nh, unix.MS_RDONLY|unix.MS_REC)
	}
	return nil
}

// openOptional opens p inside root; a missing p gives (nil, nil).
func openOptional(root *os.File, p string) (*os.File, error) {
	h, err := openInRoot(root, p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return h, err
}

// MountConsole binds the pty slave onto /dev/console (created if missing)
// inside the container's root, through the slave's fd.
func MountConsole(slave *os.File) error {
	root, err := os.OpenFile("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer root.Close()
	r := &Rootfs{root: root}
	target, err := r.openTarget("/dev/console", true)
	if err != nil {
		return fmt.Errorf("create /dev/console: %w", err)
	}
	defer target.Close()
	if err := unix.Mount(procPath(slave), procPath(target), "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind pty onto /dev/console: %w", err)
	}
	return nil
}
