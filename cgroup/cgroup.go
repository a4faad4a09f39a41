// Package cgroup owns the container's control groups on cgroup v1, v2 and
// hybrid hosts (v1 controllers plus a cgroup2 mount, as runc handles them).
//
//   - cgroup.go: the host's hierarchies, a spec cgroupsPath turned into one
//     directory per hierarchy, placement of a process (joining every
//     hierarchy, the cgroup2 one of a hybrid host included), listing and
//     killing members, removal.
//   - paths.go: which directory holds which controller (Paths), and the
//     small file helpers every writer uses.
//   - validate.go: checks of linux.resources before anything is written,
//     each error one line naming the field.
//   - convert.go: v1 values turned into v2 ones as runc and crun do.
//   - apply.go: Apply (create) and Update, which route each resource to
//     the v1 or the v2 writer; v1.go and v2.go hold the writers.
//   - devices.go, ebpf.go: device rules: devices.allow/deny on v1, an eBPF
//     program on v2, with runc's default allow list.
//   - merge.go: an update merged into the recorded resources (0 leaves a
//     value unchanged).
//   - stats.go, oom.go: usage for `events` in runc's JSON, and OOM
//     notification.
//
// Nothing is written outside the container's own directories, except
// cgroup.subtree_control of the v2 parents below the mount root, which a
// v2 cgroup needs to get its controllers.
package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"github.com/minirunc/minirunc/kfile"
	"github.com/minirunc/minirunc/specconv"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
//
// A command parses mountinfo once: create asks for the hierarchies at every
// step (resolve, prepare, join, apply), and they do not change meanwhile.
func Hierarchies() ([]Hierarchy, error) { return hierarchies() }

var hierarchies = sync.OnceValues(func() ([]Hierarchy, error) {
	hs, err := readHierarchies()
	if err == nil {
		known.Store(&hs)
	}
	return hs, err
})

// known holds the hierarchies once this process has them, for IsV2.
var known atomic.Pointer[[]Hierarchy]

// UseHierarchies makes Hierarchies answer hs without reading mountinfo.
// Init is handed the runtime's: its mount namespace is a copy of the
// runtime's, made by the clone, and a mountinfo parse costs it ~0.2 ms.
// It must come before any call to Hierarchies.
func UseHierarchies(hs []Hierarchy) {
	known.Store(&hs)
	hierarchies = func() ([]Hierarchy, error) { return hs, nil }
}

func readHierarchies() ([]Hierarchy, error) {
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
		return nil, fmt.Errorf("config.json: linux.cgroupsPath %q looks like a systemd slice; the systemd cgroup driver is not supported yet", cgroupsPath)
	}
	if specconv.EscapesRoot(p) {
		return nil, fmt.Errorf("config.json: linux.cgroupsPath %q is not valid: it leads out of its cgroup hierarchy", cgroupsPath)
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
		return nil, fmt.Errorf("config.json: linux.cgroupsPath %q is outside every mounted cgroup hierarchy", cgroupsPath)
	}
	return dirs, nil
}

// Join creates each directory and moves pid into it. The caller removes
// the directories (Remove) if this fails, once pid is gone.
func Join(dirs []string, pid int) error {
	if err := Prepare(dirs); err != nil {
		return err
	}
	return Enter(dirs, pid)
}

// Enter moves pid into the cgroups dirs, which Prepare made. On cgroup v1
// the first move after a quiet spell waits for an RCU grace period
// (milliseconds), which create overlaps with init's mounts.
func Enter(dirs []string, pid int) error {
	for _, d := range dirs {
		if err := kfile.Write(filepath.Join(d, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
			return fmt.Errorf("join cgroup %s: %w", d, err)
		}
	}
	return nil
}

// Prepare creates each directory, with the v2 controllers its parents
// must hand down, without moving anyone in.
func Prepare(dirs []string) error {
	var v2Mounts []string
	hs, _ := Hierarchies()
	for _, h := range hs {
		if h.V2 {
			v2Mounts = append(v2Mounts, h.Mountpoint)
		}
	}
	for _, d := range dirs {
		if err := mkdirCgroup(d, mayBeCpuset(hierarchyOf(hs, d))); err != nil {
			return fmt.Errorf("create cgroup %s: %w", d, err)
		}
		for _, m := range v2Mounts {
			if rel, err := filepath.Rel(m, d); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
				if err := enableControllers(m, d); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Placement is how a new process gets into the container's cgroups. A
// move by cgroup.procs takes the kernel's global migration lock, whose
// first taker after a quiet spell waits for an RCU grace period (up to
// ~15 ms on this kind of machine); a thread that moves itself through a v1
// "tasks" file skips that lock, and so does a clone into a v2 cgroup.
type Placement struct {
	Into  *os.File // a v2 cgroup to clone the process into (CLONE_INTO_CGROUP)
	Tasks []string // v1 tasks files the process writes "0" to while single-threaded
	Rest  []string // cgroups the parent still moves it into (Enter)
}

// Close releases Into.
func (p *Placement) Close() {
	if p.Into != nil {
		p.Into.Close()
	}
}

// FillCpusets gives each existing v1 cpuset cgroup among dirs that has no
// cpus or mems its parent's, as Prepare does for the ones it makes: an
// exec's sub-cgroup made by hand accepts no process until then. Missing
// dirs are left alone.
func FillCpusets(dirs []string) error {
	for _, d := range dirs {
		if cpusetEmpty(d) {
			if err := fillCpuset(d, filepath.Dir(d)); err != nil {
				return fmt.Errorf("cgroup %s: %w", d, err)
			}
		}
	}
	return nil
}

// Place plans how to place a new process in the existing cgroups dirs
// (create makes them first; exec never does, so that an exec racing a
// delete cannot bring back what the delete removed). selfMove says the
// process can write host cgroup files before anything else (it is not yet
// in a user namespace of its own).
func Place(dirs []string, selfMove bool) (*Placement, error) {
	p := &Placement{}
	for _, d := range dirs {
		v2 := IsV2(d)
		switch {
		case v2 && p.Into == nil:
			f, err := os.OpenFile(d, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				p.Close()
				return nil, fmt.Errorf("open cgroup %s: %w", d, err)
			}
			p.Into = f
		case selfMove && !v2 && !strings.Contains(d, "\n"):
			p.Tasks = append(p.Tasks, filepath.Join(d, "tasks"))
		default:
			p.Rest = append(p.Rest, d)
		}
	}
	return p, nil
}

// mkdirCgroup creates d and its missing parents, trying the mkdir first
// (cgroup file system lookups are not cheap, and the parent is usually
// there). A v1 cpuset cgroup starts with no cpus and mems and accepts no
// process until they are filled, so with cpuset each new level copies its
// parent's, and an existing one left empty (by an earlier, interrupted
// create, or a concurrent one still filling it) is filled too; fillCpuset
// fills an empty parent first.
func mkdirCgroup(d string, cpuset bool) error {
	parent := filepath.Dir(d)
	err := unix.Mkdir(d, 0o755)
	if errors.Is(err, unix.ENOENT) && parent != d {
		if err := mkdirCgroup(parent, cpuset); err != nil {
			return err
		}
		err = unix.Mkdir(d, 0o755)
	}
	switch {
	case err == nil:
	case errors.Is(err, unix.EEXIST):
		if !cpuset || !cpusetEmpty(d) {
			return nil
		}
	default:
		return &os.PathError{Op: "mkdir", Path: d, Err: err}
	}
	if !cpuset {
		return nil
	}
	return fillCpuset(d, parent)
}

// IsV2 reports whether the cgroup directory d is on a cgroup2 file system:
// from the hierarchies when this process has them (create), else by one
// statfs rather than a mountinfo parse (exec, kill and delete need nothing
// else from them).
func IsV2(d string) bool {
	if hs := known.Load(); hs != nil {
		h, ok := hierarchyOf(*hs, d)
		return ok && h.V2
	}
	var st unix.Statfs_t
	return unix.Statfs(d, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// mayBeCpuset says whether d, in hierarchy h (known), can be a v1 cpuset
// cgroup; only those need filling.
func mayBeCpuset(h Hierarchy, known bool) bool {
	return !known || !h.V2 && slices.Contains(strings.Split(h.Key, ","), "cpuset")
}

// cpusetEmpty says whether d is a v1 cpuset with its cpus or its mems
// not set yet: made, or being filled, by a concurrent create (which sets
// cpus first; a child copying from it then would get no mems).
func cpusetEmpty(d string) bool {
	if IsV2(d) {
		return false
	}
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		if cur, err := os.ReadFile(filepath.Join(d, f)); err == nil && strings.TrimSpace(string(cur)) == "" {
			return true
		}
	}
	return false
}

// fillCpuset copies what d lacks of cpus and mems from parent, filling a
// parent still empty (a concurrent create made it and has not filled it
// yet) from its own parent first.
func fillCpuset(d, parent string) error {
	if IsV2(d) {
		return nil
	}
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		cur, err := os.ReadFile(filepath.Join(d, f))
		if err != nil || strings.TrimSpace(string(cur)) != "" {
			continue // not a v1 cpuset, or already set
		}
		val, err := os.ReadFile(filepath.Join(parent, f))
		if err != nil {
			return err
		}
		if strings.TrimSpace(string(val)) == "" && filepath.Dir(parent) != parent {
			if err := fillCpuset(parent, filepath.Dir(parent)); err != nil {
				return err
			}
			if val, err = os.ReadFile(filepath.Join(parent, f)); err != nil {
				return err
			}
		}
		if err := os.WriteFile(filepath.Join(d, f), val, 0); err != nil {
			return fmt.Errorf("copy %s from parent: %w", f, err)
		}
	}
	return nil
}

// enableControllers makes every controller available at the v2 mount
// root reach dir: each level below the root enables, in its
// cgroup.subtree_control, what its own cgroup.controllers offers. Only
// missing controllers are written, and the root itself (the host's) is
// never touched.
func enableControllers(mount, dir string) error {
	rel, _ := filepath.Rel(mount, filepath.Dir(dir))
	if rel == "." {
		return nil
	}
	level := mount
	for _, el := range strings.Split(rel, "/") {
		level = filepath.Join(level, el)
		avail := readFields(filepath.Join(level, "cgroup.controllers"))
		have := map[string]bool{}
		for _, c := range readFields(filepath.Join(level, "cgroup.subtree_control")) {
			have[c] = true
		}
		var add []string
		for _, c := range avail {
			if !have[c] {
				add = append(add, "+"+c)
			}
		}
		if len(add) == 0 {
			continue
		}
		if err := kfile.Write(filepath.Join(level, "cgroup.subtree_control"), strings.Join(add, " ")); err != nil {
			return fmt.Errorf("enable controllers %s in %s: %w", strings.Join(add, " "), level, err)
		}
	}
	return nil
}

// readFields reads a file of space-separated words; a missing file is empty.
func readFields(p string) []string {
	data, _ := os.ReadFile(p)
	return strings.Fields(string(data))
}

// Procs lists the pids in the container's cgroups: the union over every
// hierarchy, so a process moved out of one of them is still found.
func Procs(dirs []string) ([]int, error) {
	seen := map[int]bool{}
	var pids []int
	for _, d := range dirs {
		data, err := kfile.Read(filepath.Join(d, "cgroup.procs"))
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return nil, fmt.Errorf("read %s: %w", filepath.Join(d, "cgroup.procs"), err)
		}
		for _, f := range strings.Fields(string(data)) {
			if n, err := strconv.Atoi(f); err == nil && !seen[n] {
				seen[n] = true
				pids = append(pids, n)
			}
		}
	}
	return pids, nil
}

// Populated reports whether the first of dirs holds a process: every
// process of a container is in all its cgroups, so one tells.
func Populated(dirs []string) bool {
	if len(dirs) == 0 {
		return false
	}
	pids, err := Procs(dirs[:1])
	return err != nil || len(pids) > 0
}

// Signal sends sig to every process in the container's cgroups. SIGKILL
// goes through cgroup.kill where a v2 directory has it, which reaches
// processes forked while the list is read.
func Signal(dirs []string, sig unix.Signal) error {
	if sig == unix.SIGKILL {
		for _, d := range dirs {
			if !IsV2(d) {
				continue // cgroup.kill is v2's
			}
			p := filepath.Join(d, "cgroup.kill")
			if _, err := os.Stat(p); err == nil {
				if err := kfile.Write(p, "1"); err != nil && !errors.Is(err, unix.ENOENT) {
					return fmt.Errorf("write %s: %w", p, err)
				}
			}
		}
	}
	pids, err := Procs(dirs)
	if err != nil {
		return fmt.Errorf("list container processes: %w", err)
	}
	for _, p := range pids {
		if err := unix.Kill(p, sig); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("signal pid %d: %w", p, err)
		}
	}
	return nil
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

// SystemdUnsupported is the error for --systemd-cgroup: one line saying
// why the driver cannot be used here.
func SystemdUnsupported() error {
	if _, err := os.Stat("/run/systemd/system"); err != nil {
		return fmt.Errorf("--systemd-cgroup: systemd is not running on this host (no /run/systemd/system); use the default cgroupfs driver")
	}
	return fmt.Errorf("--systemd-cgroup: the systemd cgroup driver is not supported yet; use the default cgroupfs driver")
}
