package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// DefaultDevices are the nodes every container gets in /dev, as runc and
// the runtime-spec list them.
var DefaultDevices = []specs.LinuxDevice{
	{Path: "/dev/null", Type: "c", Major: 1, Minor: 3},
	{Path: "/dev/zero", Type: "c", Major: 1, Minor: 5},
	{Path: "/dev/full", Type: "c", Major: 1, Minor: 7},
	{Path: "/dev/random", Type: "c", Major: 1, Minor: 8},
	{Path: "/dev/urandom", Type: "c", Major: 1, Minor: 9},
	{Path: "/dev/tty", Type: "c", Major: 5, Minor: 0},
}

// setupDev creates the default device nodes and /dev's symlinks.
func (r *Rootfs) setupDev() error {
	for _, d := range DefaultDevices {
		mode := os.FileMode(0o666)
		d.FileMode = &mode
		if err := r.makeDevice(d); err != nil {
			return fmt.Errorf("create default device %s: %w", d.Path, err)
		}
	}
	links := [][2]string{
		{"/proc/self/fd", "/dev/fd"},
		{"/proc/self/fd/0", "/dev/stdin"},
		{"/proc/self/fd/1", "/dev/stdout"},
		{"/proc/self/fd/2", "/dev/stderr"},
	}
	if _, err := os.Stat("/proc/kcore"); err == nil {
		links = append(links, [2]string{"/proc/kcore", "/dev/core"})
	}
	if h, err := openInRoot(r.root, "/dev/pts/ptmx"); err == nil {
		h.Close()
		links = append(links, [2]string{"pts/ptmx", "/dev/ptmx"})
	}
	for _, l := range links {
		parent, err := mkdirAllInRoot(r.root, filepath.Dir(l[1]), 0o755)
		if err != nil {
			return fmt.Errorf("create %s: %w", filepath.Dir(l[1]), err)
		}
		base := filepath.Base(l[1])
		if l[1] == "/dev/ptmx" {
			// A bind-less /dev may hold a ptmx node from the image; the
			// symlink to the container's own devpts instance wins.
			_ = unix.Unlinkat(int(parent.Fd()), base, 0)
		}
		err = unix.Symlinkat(l[0], int(parent.Fd()), base)
		parent.Close()
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("symlink %s: %w", l[1], err)
		}
	}
	return nil
}

// createDevices creates linux.devices.
func (r *Rootfs) createDevices() error {
	for i, d := range r.cfg.Spec.Linux.Devices {
		if err := r.makeDevice(d); err != nil {
			return fmt.Errorf("linux.devices[%d] (%s): %w", i, d.Path, err)
		}
	}
	return nil
}

func devType(t string) (uint32, error) {
	switch t {
	case "c", "u":
		return unix.S_IFCHR, nil
	case "b":
		return unix.S_IFBLK, nil
	case "p":
		return unix.S_IFIFO, nil
	}
	return 0, fmt.Errorf("device type %q is not one of c, u, b, p", t)
}

// makeDevice creates a device node inside the rootfs, or, where mknod is
// not allowed (a user namespace), bind-mounts the host's node.
func (r *Rootfs) makeDevice(d specs.LinuxDevice) error {
	dest := filepath.Clean("/" + d.Path)
	parent, err := mkdirAllInRoot(r.root, filepath.Dir(dest), 0o755)
	if err != nil {
		return err
	}
	defer parent.Close()
	base := filepath.Base(dest)
	typ, err := devType(d.Type)
	if err != nil {
		return err
	}
	perm := uint32(0o666)
	if d.FileMode != nil {
		perm = uint32(d.FileMode.Perm())
	}
	pfd := int(parent.Fd())
	if !r.cfg.UserNS {
		_ = unix.Unlinkat(pfd, base, 0)
		err = unix.Mknodat(pfd, base, typ|perm, int(unix.Mkdev(uint32(d.Major), uint32(d.Minor))))
		if err == nil {
			// mknod honours the umask; the spec's mode is exact.
			if err := unix.Fchmodat(pfd, base, perm, 0); err != nil {
				return err
			}
			uid, gid := -1, -1
			if d.UID != nil {
				uid = int(*d.UID)
			}
			if d.GID != nil {
				gid = int(*d.GID)
			}
			return unix.Fchownat(pfd, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
		}
		if !errors.Is(err, unix.EPERM) {
			return err
		}
	}
	return r.bindDevice(pfd, base, dest, d.Path)
}

// bindDevice binds the host's device node onto an empty file.
func (r *Rootfs) bindDevice(pfd int, base, dest, hostPath string) error {
	fd, err := unix.Openat(pfd, base, unix.O_CREAT|unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return err
	}
	if err == nil {
		unix.Close(fd)
	}
	h, err := openInRoot(r.root, dest)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := unix.Mount(hostPath, procPath(h), "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind host device %s: %w", hostPath, err)
	}
	return nil
}
