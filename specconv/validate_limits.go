package specconv

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Limits of execve(2) (include/uapi/linux/binfmts.h, fs/exec.c): one
// argument or environment string, and the floor and ceiling of the room
// they all share, which is otherwise a quarter of RLIMIT_STACK.
const (
	maxArgStrlen  = 32 * 4096       // MAX_ARG_STRLEN
	minArgSpace   = 32 * 4096       // ARG_MAX
	maxArgSpace   = 8 << 20 / 4 * 3 // _STK_LIM / 4 * 3
	defaultRStack = 8 << 20
)

// validateExecSize refuses process.args and process.env that execve would
// refuse (E2BIG) at start, naming the field now instead.
func validateExecSize(p *specs.Process) error {
	total := 0
	for _, set := range []struct {
		name string
		strs []string
	}{{"process.args", p.Args}, {"process.env", p.Env}} {
		for i, s := range set.strs {
			if len(s)+1 > maxArgStrlen {
				return fmt.Errorf("%s[%d] is %d bytes long, over the kernel's limit of %d", set.name, i, len(s), maxArgStrlen-1)
			}
			total += len(s) + 1 + 8 // the string and its pointer
		}
	}
	// The process's RLIMIT_STACK: the spec's, else the one it inherits.
	stack, set := uint64(defaultRStack), false
	for _, r := range p.Rlimits {
		if r.Type == "RLIMIT_STACK" {
			stack, set = r.Soft, true
		}
	}
	var lim unix.Rlimit
	if !set && unix.Getrlimit(unix.RLIMIT_STACK, &lim) == nil {
		stack = lim.Cur
	}
	room := uint64(maxArgSpace)
	if stack/4 < room {
		room = stack / 4
	}
	room = max(room, minArgSpace)
	if uint64(total) > room {
		return fmt.Errorf("process.args and process.env take %d bytes, more than the %d execve accepts (%d strings)", total, room, len(p.Args)+len(p.Env))
	}
	return nil
}

// validateIDMappings refuses an empty range, which the kernel refuses
// with a bare EINVAL when the map is written.
func validateIDMappings(field string, ms []specs.LinuxIDMapping) error {
	for i, m := range ms {
		if m.Size == 0 {
			return fmt.Errorf("%s[%d].size must not be 0", field, i)
		}
		if uint64(m.ContainerID)+uint64(m.Size) > 1<<32 || uint64(m.HostID)+uint64(m.Size) > 1<<32 {
			return fmt.Errorf("%s[%d]: the range runs past the last id", field, i)
		}
	}
	return nil
}

// EscapesRoot reports whether a path climbs above where it starts with
// "..": a container path above its root, a cgroup path above its
// hierarchy.
func EscapesRoot(p string) bool {
	depth := 0
	for _, el := range strings.Split(p, "/") {
		switch el {
		case "", ".":
		case "..":
			if depth--; depth < 0 {
				return true
			}
		default:
			depth++
		}
	}
	return false
}

// sameMount is the index, among the earlier mounts at m's destination,
// of one identical to m, or -1. Mounts over one another are allowed; the
// same mount twice is a mistake.
func sameMount(mounts []specs.Mount, sameDest []int, m specs.Mount) int {
	for _, j := range sameDest {
		o := mounts[j]
		if o.Type == m.Type && o.Source == m.Source && slices.Equal(o.Options, m.Options) {
			return j
		}
	}
	return -1
}

// validatePathList checks linux.maskedPaths and linux.readonlyPaths:
// absolute paths inside the container.
func validatePathList(field string, paths []string) error {
	for i, p := range paths {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("%s[%d] %q must be absolute", field, i, p)
		}
		if EscapesRoot(p) {
			return fmt.Errorf("%s[%d] %q leads out of the container's root", field, i, p)
		}
	}
	return nil
}
