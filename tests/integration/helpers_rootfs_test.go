package integration

import (
	"fmt"
	"github.com/minirunc/minirunc/tests/testenv"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Sh runs `sh -c script` in a fresh container and returns its stdout,
// failing the test when the container does not exit 0.
func (e *Env) Sh(script string, mutate func(*specs.Spec)) string {
	e.t.Helper()
	out, stderr, code := e.RunContainer([]string{"sh", "-c", script}, mutate)
	if code != 0 {
		e.t.Fatalf("sh -c %q: exit %d\nstdout: %s\nstderr: %s", script, code, out, stderr)
	}
	return out
}

// BundleDir is where Bundle(id, ...) puts the bundle; mutate functions may
// need it before the bundle exists.
func (e *Env) BundleDir(id string) string { return filepath.Join(e.dir, "bundle-"+id) }

// mountEntry is one line of /proc/self/mountinfo.
type mountEntry struct {
	Root       string
	Mountpoint string
	Options    []string // per-mount options (field 6)
	Optional   []string // shared:N, master:N, ...
	FSType     string
	Source     string
	Super      []string // per-superblock options
}

func (m mountEntry) has(opt string) bool {
	for _, o := range append(append([]string{}, m.Options...), m.Super...) {
		if o == opt {
			return true
		}
	}
	return false
}

func (m mountEntry) optional(prefix string) bool {
	for _, o := range m.Optional {
		if strings.HasPrefix(o, prefix) {
			return true
		}
	}
	return false
}

// parseMountinfo parses mountinfo text; for a mount point mounted over
// several times, the last (topmost) entry wins.
func parseMountinfo(t *testing.T, text string) map[string]mountEntry {
	t.Helper()
	out := map[string]mountEntry{}
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		sep := -1
		for i, x := range f {
			if x == "-" && i >= 6 {
				sep = i
				break
			}
		}
		if sep < 0 || sep+3 > len(f) {
			continue
		}
		m := mountEntry{
			Root: f[3], Mountpoint: f[4], Options: strings.Split(f[5], ","),
			Optional: f[6:sep], FSType: f[sep+1], Source: f[sep+2],
		}
		if sep+3 < len(f) {
			m.Super = strings.Split(f[sep+3], ",")
		}
		out[m.Mountpoint] = m
	}
	return out
}

// mustMount returns the mountinfo entry for mp or fails.
func mustMount(t *testing.T, mounts map[string]mountEntry, mp string) mountEntry {
	t.Helper()
	m, ok := mounts[mp]
	if !ok {
		var all []string
		for k := range mounts {
			all = append(all, k)
		}
		t.Fatalf("no mount at %s; mounts: %v", mp, all)
	}
	return m
}

// hostMount mounts a tmpfs at dir in the test's private mount namespace
// and unmounts it when the test ends.
func hostMount(t *testing.T, dir string, flags uintptr, data string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", flags, data); err != nil {
		t.Fatalf("mount tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
}

// writeFile writes content to path, creating its directory.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// capMask is the /proc/<pid>/status hex mask of the named capabilities.
func capMask(t *testing.T, names ...string) string {
	t.Helper()
	var m uint64
	for _, n := range names {
		c, ok := capByName[n]
		if !ok {
			t.Fatalf("unknown capability %s", n)
		}
		m |= 1 << uint(c)
	}
	return fmt.Sprintf("%016x", m)
}

var capByName = func() map[string]capability.Cap {
	m := map[string]capability.Cap{}
	for _, c := range capability.ListKnown() {
		m["CAP_"+strings.ToUpper(c.String())] = c
	}
	return m
}()

// statusField returns a field of /proc/self/status text ("CapEff", ...).
func statusField(t *testing.T, status, name string) string {
	t.Helper()
	for _, line := range strings.Split(status, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == name {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %s in status:\n%s", name, status)
	return ""
}

// hostCgroupDirs lists the container's cgroup directories that exist on
// the host, in any hierarchy.
func hostCgroupDirs(id string) []string {
	var out []string
	for _, h := range testenv.CgroupMounts() {
		d := filepath.Join(h, cgroupParent, id)
		if _, err := os.Stat(d); err == nil {
			out = append(out, d)
		}
	}
	return out
}

// assertNoResidue checks that a failed create left no state directory and
// no cgroup directory behind.
func (e *Env) assertNoResidue(id string) {
	e.t.Helper()
	if _, err := os.Stat(filepath.Join(e.Root, id)); !os.IsNotExist(err) {
		e.t.Errorf("state dir of %s left after a failed create (stat: %v)", id, err)
	}
	if d := hostCgroupDirs(id); len(d) > 0 {
		e.t.Errorf("cgroup dirs left after a failed create: %v", d)
	}
	if out, _, code := e.Run("state", id); code == 0 {
		e.t.Errorf("state %s succeeded after a failed create: %s", id, out)
	}
}

// readlinkHost returns the target of a symlink on the host.
func readlinkHost(t *testing.T, p string) string {
	t.Helper()
	s, err := os.Readlink(p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// writable makes the container's root read-write.
func writable(s *specs.Spec) { s.Root.Readonly = false }

// chainMutate runs several mutate functions in order.
func chainMutate(fs ...func(*specs.Spec)) func(*specs.Spec) {
	return func(s *specs.Spec) {
		for _, f := range fs {
			if f != nil {
				f(s)
			}
		}
	}
}

// shellPath is the host's sh, for hooks that run on the host.
func shellPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	return p
}
