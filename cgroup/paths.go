package cgroup

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/minirunc/minirunc/kfile"
)

// Paths says which of a container's directories holds which controller.
type Paths struct {
	V1 map[string]string // v1 controller ("memory", "cpu", "name=systemd") -> directory
	V2 string            // the cgroup2 directory; "" on a pure v1 host
	// v2ctrl is the set of controllers the cgroup2 directory has (its
	// cgroup.controllers); on a hybrid host usually few or none.
	v2ctrl map[string]bool
}

// Open maps the directories recorded for a container (Resolve's result)
// to their hierarchies.
func Open(dirs []string) (*Paths, error) {
	hs, err := Hierarchies()
	if err != nil {
		return nil, err
	}
	return openPaths(hs, dirs), nil
}

// hierarchyOf is the hierarchy holding dir: the deepest mount point above
// it.
func hierarchyOf(hs []Hierarchy, dir string) (Hierarchy, bool) {
	best := -1
	for i, h := range hs {
		rel, err := filepath.Rel(h.Mountpoint, dir)
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			continue
		}
		if best < 0 || len(h.Mountpoint) > len(hs[best].Mountpoint) {
			best = i
		}
	}
	if best < 0 {
		return Hierarchy{}, false
	}
	return hs[best], true
}

func openPaths(hs []Hierarchy, dirs []string) *Paths {
	p := &Paths{V1: map[string]string{}, v2ctrl: map[string]bool{}}
	for _, d := range dirs {
		h, ok := hierarchyOf(hs, d)
		if !ok {
			continue
		}
		if h.V2 {
			p.V2 = d
			for _, c := range readFields(filepath.Join(d, "cgroup.controllers")) {
				p.v2ctrl[c] = true
			}
			continue
		}
		for _, k := range strings.Split(h.Key, ",") {
			p.V1[k] = d
		}
	}
	return p
}

// Mode names the layout the container's cgroups are on: "v1", "v2" or
// "hybrid".
func (p *Paths) Mode() string {
	v1 := false
	for k := range p.V1 {
		if !strings.HasPrefix(k, "name=") {
			v1 = true
		}
	}
	switch {
	case v1 && p.V2 != "":
		return "hybrid"
	case v1:
		return "v1"
	default:
		return "v2"
	}
}

// controller returns where a controller lives: its v1 directory, or the
// cgroup2 directory when that has it (v2 true). ok is false when the
// container has the controller nowhere. v1 names are used; "blkio" is
// "io" on v2.
func (p *Paths) controller(name string) (dir string, v2, ok bool) {
	if d, ok := p.V1[name]; ok {
		return d, false, true
	}
	v2name := name
	if name == "blkio" {
		v2name = "io"
	}
	if p.V2 != "" && p.v2ctrl[v2name] {
		return p.V2, true, true
	}
	return "", false, false
}

// Dirs lists every directory, v1 first (for readers that take the first
// one that has a file).
func (p *Paths) Dirs() []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range p.V1 {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	if p.V2 != "" {
		out = append(out, p.V2)
	}
	return out
}

// writeFile writes one value to a cgroup file, with an error that names
// the file and the value.
func writeFile(dir, name, value string) error {
	p := filepath.Join(dir, name)
	if err := kfile.Write(p, value); err != nil {
		return fmt.Errorf("write %q to %s: %w", value, p, err)
	}
	return nil
}

// exists reports whether a cgroup file exists.
func exists(dir, name string) bool {
	_, err := os.Stat(filepath.Join(dir, name))
	return err == nil
}

// readUint reads a file holding one number; "max" reads as the largest
// value.
func readUint(dir, name string) (uint64, error) {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(data))
	if s == "max" {
		return ^uint64(0), nil
	}
	return strconv.ParseUint(s, 10, 64)
}

// readKV reads a flat keyed file ("key value" per line).
func readKV(dir, name string) map[string]uint64 {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil
	}
	out := map[string]uint64{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		if n, err := strconv.ParseUint(f[1], 10, 64); err == nil {
			out[f[0]] = n
		}
	}
	return out
}

// errNoController is the error for a resource whose controller the
// container does not have.
func errNoController(field, ctrl string) error {
	return fmt.Errorf("linux.resources.%s: the %s cgroup controller is not available on this host", field, ctrl)
}
