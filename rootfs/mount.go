package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/minirunc/minirunc/specconv"
	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Config is what the rootfs setup needs to know.
type Config struct {
	Rootfs     string      // absolute path of the rootfs on the host
	Spec       *specs.Spec // validated spec
	NoPivot    bool        // --no-pivot: MS_MOVE + chroot instead of pivot_root
	CgroupDirs []string    // the container's cgroup directories on the host
	UserNS     bool        // the container has its own user namespace
	// HostMountNS: the spec has no mount namespace, so the mounts are
	// made in the caller's, as runc makes them: the root is entered with
	// chroot, and the propagation of the caller's mounts is left alone.
	HostMountNS bool
}

// Rootfs is the container's root during setup: an O_PATH handle on the
// bind mount of root.path that every in-rootfs path is resolved against.
type Rootfs struct {
	cfg  *Config
	root *os.File
}

// Prepare makes the rootfs a mount of its own and mounts everything the spec
// asks for, then /dev. It runs in the container's mount namespace, before
// pivot_root.
func Prepare(cfg *Config) (*Rootfs, error) {
	if !cfg.HostMountNS {
		prop := uintptr(unix.MS_SLAVE | unix.MS_REC)
		if p := cfg.Spec.Linux.RootfsPropagation; p != "" {
			f, ok := PropagationFlags[p]
			if !ok {
				return nil, fmt.Errorf("linux.rootfsPropagation %q is not a propagation mode", p)
			}
			prop = f
		}
		if err := unix.Mount("", "/", "", prop, ""); err != nil {
			return nil, fmt.Errorf("set propagation of / : %w", err)
		}
		// After a recursive slave or private, no mount is shared: the
		// parent needs no look (a mountinfo parse, ~0.2 ms).
		if prop != unix.MS_SLAVE|unix.MS_REC && prop != unix.MS_PRIVATE|unix.MS_REC {
			if err := makeParentPrivate(cfg.Rootfs); err != nil {
				return nil, err
			}
		}
	}
	if err := unix.Mount(cfg.Rootfs, cfg.Rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return nil, fmt.Errorf("bind mount root.path %s: %w", cfg.Rootfs, err)
	}
	root, err := os.OpenFile(cfg.Rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open rootfs: %w", err)
	}
	r := &Rootfs{cfg: cfg, root: root}
	devBound := false
	for i, m := range cfg.Spec.Mounts {
		if err := r.mount(m); err != nil {
			r.Close()
			return nil, fmt.Errorf("mounts[%d] (%s on %s): %w", i, m.Type, m.Destination, err)
		}
		if filepath.Clean(m.Destination) == "/dev" && specconv.IsBind(m) {
			devBound = true
		}
	}
	if !devBound {
		if err := r.setupDev(); err != nil {
			r.Close()
			return nil, err
		}
	}
	if err := r.createDevices(); err != nil {
		r.Close()
		return nil, err
	}
	if cwd := cfg.Spec.Process.Cwd; cwd != "" {
		if h, err := mkdirAllInRoot(r.root, cwd, 0o755); err != nil {
			r.Close()
			return nil, fmt.Errorf("create process.cwd %s: %w", cwd, err)
		} else {
			h.Close()
		}
	}
	return r, nil
}

// Close releases the rootfs handle.
func (r *Rootfs) Close() {
	if r.root != nil {
		r.root.Close()
	}
}

// makeParentPrivate makes the mount holding the rootfs private when it is
// shared: pivot_root refuses a shared parent, and a shared parent would
// propagate the container's mounts back to the host.
func makeParentPrivate(rootfs string) error {
	mi, err := mountinfo.GetMounts(mountinfo.ParentsFilter(rootfs))
	if err != nil {
		return fmt.Errorf("read mountinfo: %w", err)
	}
	var best *mountinfo.Info
	for _, m := range mi {
		if best == nil || len(m.Mountpoint) > len(best.Mountpoint) {
			best = m
		}
	}
	if best != nil && strings.Contains(best.Optional, "shared:") {
		if err := unix.Mount("", best.Mountpoint, "", unix.MS_PRIVATE, ""); err != nil {
			return fmt.Errorf("make %s private: %w", best.Mountpoint, err)
		}
	}
	return nil
}

// procPath names an open fd through /proc so that mount(2) acts on the
// object already opened and checked, not on a path that could be swapped.
func procPath(f *os.File) string {
	return fmt.Sprintf("/proc/thread-self/fd/%d", f.Fd())
}

// openTarget creates (if missing) and opens the mount point dest inside the
// rootfs, as a directory or, when wantFile, as a regular file.
func (r *Rootfs) openTarget(dest string, wantFile bool) (*os.File, error) {
	if !wantFile {
		return mkdirAllInRoot(r.root, dest, 0o755)
	}
	parent, err := mkdirAllInRoot(r.root, filepath.Dir(dest), 0o755)
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	base := filepath.Base(dest)
	fd, err := unix.Openat(int(parent.Fd()), base, unix.O_CREAT|unix.O_EXCL|unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err == nil {
		unix.Close(fd)
	} else if !errors.Is(err, unix.EEXIST) {
		return nil, err
	}
	return openInRoot(r.root, dest)
}

// reopen returns a fresh handle on dest, which sees a mount made on it.
func (r *Rootfs) reopen(dest string) (*os.File, error) {
	return openInRoot(r.root, dest)
}

// resolve follows the symlinks of dest as if the rootfs were / (as runc
// does with SecureJoin), so that a destination reached through a symlink,
// even a dangling one such as evil -> /host/dir, names a path inside the
// rootfs that can be created. The result is only a name: it is opened with
// pathrs, which keeps every step inside the rootfs whatever changes later.
func (r *Rootfs) resolve(dest string) (string, error) {
	full, err := securejoin.SecureJoin(r.cfg.Rootfs, dest)
	if err != nil {
		return "", fmt.Errorf("resolve %s in the rootfs: %w", dest, err)
	}
	rel, err := filepath.Rel(r.cfg.Rootfs, full)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("resolve %s: %s is outside the rootfs", dest, full)
	}
	return filepath.Clean("/" + rel), nil
}

func (r *Rootfs) mount(m specs.Mount) error {
	dest, err := r.resolve(m.Destination)
	if err != nil {
		return err
	}
	if dest == "/" {
		return errors.New("cannot mount over the container's root")
	}
	opts := parseOptions(m.Options)
	if m.Type == "cgroup" || m.Type == "cgroup2" {
		return r.mountCgroup(dest, m.Type, opts)
	}
	bind := specconv.IsBind(m)
	wantFile := false
	if bind {
		st, err := os.Stat(m.Source)
		if err != nil {
			return fmt.Errorf("bind source: %w", err)
		}
		wantFile = !st.IsDir()
	}
	target, err := r.openTarget(dest, wantFile)
	if err != nil {
		return fmt.Errorf("create mount point: %w", err)
	}
	defer target.Close()
	if bind {
		if err := unix.Mount(m.Source, procPath(target), "", opts.flags&(unix.MS_BIND|unix.MS_REC), ""); err != nil {
			return fmt.Errorf("bind %s: %w", m.Source, err)
		}
		if rest := opts.flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT); rest != 0 {
			if err := r.remountBind(dest, rest); err != nil {
				return err
			}
		}
	} else if opts.copyUp && m.Type == "tmpfs" {
		if err := r.mountCopyUp(m, dest, target, opts); err != nil {
			return err
		}
	} else {
		if err := r.mountFS(m, target, opts); err != nil {
			return err
		}
	}
	return r.applyAttrs(dest, opts)
}

// mountFS mounts a filesystem (proc, tmpfs, sysfs, devpts, mqueue, ...).
func (r *Rootfs) mountFS(m specs.Mount, target *os.File, opts parsedOptions) error {
	flags := opts.flags &^ unix.MS_REMOUNT
	err := unix.Mount(m.Source, procPath(target), m.Type, flags, opts.dataString())
	if err == nil {
		return nil
	}
	// Without a network namespace of its own, a user-namespaced container
	// may not mount sysfs; runc binds the host's /sys instead.
	if m.Type == "sysfs" && errors.Is(err, unix.EPERM) {
		if berr := unix.Mount("/sys", procPath(target), "", unix.MS_BIND|unix.MS_REC, ""); berr == nil {
			if rest := flags &^ (unix.MS_BIND | unix.MS_REC); rest != 0 {
				return r.remountBind(filepath.Clean("/"+m.Destination), rest)
			}
			return nil
		}
	}
	return err
}

// remountBind applies flags (ro, nosuid, ...) to the bind mount at dest,
// keeping the flags the kernel locked on it (a user namespace may not clear
// nodev/nosuid/noexec of the source).
func (r *Rootfs) remountBind(dest string, flags uintptr) error {
	h, err := r.reopen(dest)
	if err != nil {
		return fmt.Errorf("reopen mount point: %w", err)
	}
	defer h.Close()
	return remountHandle(h, flags)
}

func remountHandle(h *os.File, flags uintptr) error {
	p := procPath(h)
	err := unix.Mount("", p, "", unix.MS_BIND|unix.MS_REMOUNT|flags, "")
	if errors.Is(err, unix.EPERM) {
		var st unix.Statfs_t
		if serr := unix.Fstatfs(int(h.Fd()), &st); serr == nil {
			locked := uintptr(st.Flags) & (unix.MS_NODEV | unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_RDONLY |
				unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME)
			err = unix.Mount("", p, "", unix.MS_BIND|unix.MS_REMOUNT|flags|locked, "")
		}
	}
	if err != nil {
		return fmt.Errorf("remount: %w", err)
	}
	return nil
}

// applyAttrs sets propagation and the recursive attributes on dest.
func (r *Rootfs) applyAttrs(dest string, opts parsedOptions) error {
	if len(opts.propagation) == 0 && opts.setAttr == 0 && opts.clearAttr == 0 {
		return nil
	}
	h, err := r.reopen(dest)
	if err != nil {
		return fmt.Errorf("reopen mount point: %w", err)
	}
	defer h.Close()
	for _, p := range opts.propagation {
		if err := unix.Mount("", procPath(h), "", p, ""); err != nil {
			return fmt.Errorf("set propagation: %w", err)
		}
	}
	if opts.setAttr != 0 || opts.clearAttr != 0 {
		attr := &unix.MountAttr{Attr_set: opts.setAttr, Attr_clr: opts.clearAttr}
		if opts.setAttr&unix.MOUNT_ATTR_STRICTATIME != 0 || opts.clearAttr&(unix.MOUNT_ATTR_NOATIME|unix.MOUNT_ATTR_RELATIME) != 0 {
			attr.Attr_clr |= unix.MOUNT_ATTR__ATIME
		}
		if err := unix.MountSetattr(int(h.Fd()), "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, attr); err != nil {
			return fmt.Errorf("mount_setattr: %w", err)
		}
	}
	return nil
}
