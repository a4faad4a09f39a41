// Package cgroup owns the container's control groups: finding the host's
// hierarchies (cgroup v1, v2 or both on a hybrid host), turning a spec's
// cgroupsPath into one directory per hierarchy, placing a process there,
// listing and signalling its members, and removing the directories.
//
// Resource limits come later; this is the placement runc does for every
// mounted hierarchy, so a container sits in its cgroups before it runs.
package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// Hierarchy is one mounted cgroup hierarchy.
type Hierarchy struct {
	Mountpoint string // where it is mounted
	Root       string // the cgroup path the mount shows at Mountpoint
	Key        string // the /proc/self/cgroup key: "memory", "name=systemd", "" for v2
	V2         bool
}

// Hierarchies lists the host's cgroup mounts, one per hierarchy.
func Hierarchies() ([]Hierarchy, error) {
	mounts, err := mountinfo.GetMounts(func(i *mountinfo.Info) (skip, stop bool) {
		return i.FSType != "cgroup" && i.FSType != "cgroup2", false
	})
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	seen := map[string]bool{}
	var out []Hierarchy
	for _, m := range mounts {
		h := Hierarchy{Mountpoint: m.Mountpoint, Root: m.Root, V2: m.FSType == "cgroup2"}
		if !h.V2 {
			var keys []string
			for _, o := range strings.Split(m.VFSOptions, ",") {
				switch o {
				case "rw", "ro", "":
				default:
					if strings.HasPrefix(o, "name=") || !strings.Contains(o, "=") {
						keys = append(keys, o)
					}
				}
			}
			h.Key = strings.Join(keys, ",")
		}
		if seen[h.Key] {
			continue // the same hierarchy mounted twice
		}
		seen[h.Key] = true
		out = append(out, h)
	}
	return out, nil
}

// ownCgroups reads /proc/self/cgroup: key -> cgroup path.
func ownCgroups() (map[string]string, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) == 3 {
			out[parts[1]] = parts[2]
		}
	}
	return out, sc.Err()
}

// Resolve turns a spec cgroupsPath into one directory per hierarchy. An
// absolute path is taken from each hierarchy's root; a relative or empty one
// (empty means the container id) nests under the caller's own cgroup, as runc
// does.
func Resolve(cgroupsPath, id string) ([]string, error) {
	hs, err := Hierarchies()
	if err != nil {
		return nil, err
	}
	var own map[string]string
	if !filepath.IsAbs(cgroupsPath) {
		if own, err = ownCgroups(); err != nil {
			return nil, fmt.Errorf("read own cgroups: %w", err)
		}
	}
	return resolve(hs, own, cgroupsPath, id)
}

// resolve is Resolve's pure part: own maps hierarchy keys to the caller's
// cgroups and is used only for a relative path.
func resolve(hs []Hierarchy, own map[string]string, cgroupsPath, id string) ([]string, error) {
	p := cgroupsPath
	if p == "" {
		p = id
	}
	if strings.Contains(p, ":") {
		return nil, fmt.Errorf("linux.cgroupsPath %q looks like a systemd slice; the systemd cgroup driver is not supported yet", cgroupsPath)
	}
	var dirs []string
	for _, h := range hs {
		cg := filepath.Clean("/" + p)
		if !filepath.IsAbs(p) {
			cg = filepath.Join(own[h.Key], cg)
		}
		rel, err := filepath.Rel(h.Root, cg)
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			continue // not visible through this mount
		}
		dirs = append(dirs, filepath.Join(h.Mountpoint, rel))
	}
	if len(dirs) == 0 && len(hs) > 0 {
		return nil, fmt.Errorf("linux.cgroupsPath %q is outside every mounted cgroup hierarchy", cgroupsPath)
	}
	return dirs, nil
}

// Join creates each directory and moves pid into it. The caller removes
// the directories (Remove) if this fails, once pid is gone.
func Join(dirs []string, pid int) error {
	for _, d := range dirs {
		if err := mkdirCgroup(d); err != nil {
			return fmt.Errorf("create cgroup %s: %w", d, err)
		}
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
			return fmt.Errorf("join cgroup %s: %w", d, err)
		}
	}
	return nil
}

// mkdirCgroup creates d and its missing parents. A v1 cpuset cgroup starts
// with no cpus and mems and accepts no process until they are filled, so
// each new level copies its parent's.
func mkdirCgroup(d string) error {
	parent := filepath.Dir(d)
	if _, err := os.Stat(d); err == nil {
		if !cpusetEmpty(d) {
			return nil
		}
		// Left empty by an earlier, interrupted create.
		if err := mkdirCgroup(parent); err != nil {
			return err
		}
		return fillCpuset(d, parent)
	}
	if err := mkdirCgroup(parent); err != nil {
		return err
	}
	if err := os.Mkdir(d, 0o755); err != nil && !os.IsExist(err) {
		return err
	}
	return fillCpuset(d, parent)
}

func cpusetEmpty(d string) bool {
	cur, err := os.ReadFile(filepath.Join(d, "cpuset.cpus"))
	return err == nil && strings.TrimSpace(string(cur)) == ""
}

func fillCpuset(d, parent string) error {
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		cur, err := os.ReadFile(filepath.Join(d, f))
		if err != nil || strings.TrimSpace(string(cur)) != "" {
			continue // not a v1 cpuset, or already set
		}
		val, err := os.ReadFile(filepath.Join(parent, f))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(d, f), val, 0); err != nil {
			return fmt.Errorf("copy %s from parent: %w", f, err)
		}
	}
	return nil
}

// Procs lists the pids in the container's cgroup, read from the first
// hierarchy that has the directory.
func Procs(dirs []string) ([]int, error) {
	for _, d := range dirs {
		data, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return nil, err
		}
		var pids []int
		for _, f := range strings.Fields(string(data)) {
			if n, err := strconv.Atoi(f); err == nil {
				pids = append(pids, n)
			}
		}
		return pids, nil
	}
	return nil, nil
}

// Remove deletes the directories. A cgroup stays busy for a moment while
// its last processes are reaped, so EBUSY is retried with backoff for up to
// about two seconds.
func Remove(dirs []string) error {
	var errs []error
	for _, d := range dirs {
		delay := time.Millisecond
		for total := time.Duration(0); ; total += delay {
			err := unix.Rmdir(d)
			if err == nil || errors.Is(err, unix.ENOENT) {
				break
			}
			if !errors.Is(err, unix.EBUSY) || total > 2*time.Second {
				errs = append(errs, fmt.Errorf("remove cgroup %s: %w", d, err))
				break
			}
			time.Sleep(delay)
			if delay < 100*time.Millisecond {
				delay *= 2
			}
		}
	}
	return errors.Join(errs...)
}
