package rootfs

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/minirunc/minirunc/cgroup"
	"golang.org/x/sys/unix"
)

// mountCgroup gives the container its cgroups at dest. On a pure cgroup v2
// host with a cgroup namespace it mounts a fresh cgroup2 (whose root is the
// container's cgroup). Otherwise, as runc does on v1 and hybrid hosts, it
// mounts a tmpfs and binds each hierarchy's container directory under it,
// so the container sees its own limits in the usual places.
func (r *Rootfs) mountCgroup(dest, typ string, opts parsedOptions) error {
	hs, err := cgroup.Hierarchies()
	if err != nil {
		return err
	}
	pureV2 := len(hs) == 1 && hs[0].V2
	flags := opts.flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT)
	target, err := r.openTarget(dest, false)
	if err != nil {
		return fmt.Errorf("create mount point: %w", err)
	}
	defer target.Close()
	if pureV2 && r.cgroupNS() {
		if err := unix.Mount("cgroup2", procPath(target), "cgroup2", flags, ""); err != nil {
			return fmt.Errorf("mount cgroup2: %w", err)
		}
		return r.applyAttrs(dest, opts)
	}
	if pureV2 {
		if len(r.cfg.CgroupDirs) == 0 {
			return nil
		}
		if err := unix.Mount(r.cfg.CgroupDirs[0], procPath(target), "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind cgroup %s: %w", r.cfg.CgroupDirs[0], err)
		}
		if err := r.remountBind(dest, flags|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC); err != nil {
			return err
		}
		return r.applyAttrs(dest, opts)
	}
	if err := unix.Mount("tmpfs", procPath(target), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=755"); err != nil {
		return fmt.Errorf("mount tmpfs for cgroups: %w", err)
	}
	for _, h := range hs {
		var src string
		for _, d := range r.cfg.CgroupDirs {
			if rel, err := filepath.Rel(h.Mountpoint, d); err == nil && rel != ".." && !filepath.IsAbs(rel) && (len(rel) < 3 || rel[:3] != "../") {
				src = d
				break
			}
		}
		if src == "" {
			continue
		}
		sub := filepath.Join(dest, filepath.Base(h.Mountpoint))
		t, err := r.openTarget(sub, false)
		if err != nil {
			return fmt.Errorf("create %s: %w", sub, err)
		}
		err = unix.Mount(src, procPath(t), "", unix.MS_BIND, "")
		t.Close()
		if err != nil {
			return fmt.Errorf("bind cgroup %s: %w", src, err)
		}
		if err := r.remountBind(sub, flags|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC); err != nil {
			return err
		}
	}
	// Combined hierarchies (cpu,cpuacct) get their usual per-name symlinks.
	dh, err := r.reopen(dest)
	if err != nil {
		return err
	}
	for _, h := range hs {
		base := filepath.Base(h.Mountpoint)
		for _, name := range strings.Split(h.Key, ",") {
			if name != base && name != "" && !strings.HasPrefix(name, "name=") && strings.Contains(h.Key, ",") {
				_ = unix.Symlinkat(base, int(dh.Fd()), name)
			}
		}
	}
	dh.Close()
	if flags&unix.MS_RDONLY != 0 {
		if err := r.remountBind(dest, unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC); err != nil {
			return err
		}
	}
	return r.applyAttrs(dest, opts)
}

func (r *Rootfs) cgroupNS() bool {
	for _, ns := range r.cfg.Spec.Linux.Namespaces {
		if ns.Type == "cgroup" {
			return true
		}
	}
	return false
}
