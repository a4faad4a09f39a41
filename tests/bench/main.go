// Command bench measures minirunc against runc and crun on one busybox
// bundle, interleaved and rotated so that all runtimes see the same machine
// state, and prints medians and paired ratios. It is a benchmark, not a
// test: it never fails on a number.
//
// It re-executes itself in a private mount namespace. crun 1.8.1 refuses a
// hybrid cgroup host, so inside that namespace an empty file covers
// /sys/fs/cgroup/unified/cgroup.controllers for every runtime alike (host
// mounts are untouched).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const cgParent = "/minirunc-bench"

type sample struct{ wall, cpu float64 }

type runtimeUnderTest struct {
	name, path, root string
	samples          map[string][]sample
}

var (
	rounds = flag.Int("rounds", 20, "rounds of every operation")
	mrBin  = flag.String("minirunc", "bin/minirunc", "minirunc binary")
)

func main() {
	flag.Parse()
	if os.Getenv("MINIRUNC_BENCH_NS") == "" {
		self, err := os.Executable()
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		args := append([]string{"unshare", "--mount", "--propagation", "private", self}, os.Args[1:]...)
		path, err := exec.LookPath("unshare")
		if err == nil {
			err = syscall.Exec(path, args, append(os.Environ(), "MINIRUNC_BENCH_NS=1"))
		}
		fmt.Fprintln(os.Stderr, "bench: re-exec in a mount namespace:", err)
		os.Exit(1)
	}
	if err := bench(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func bench() error {
	work, err := os.MkdirTemp("", "minirunc-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	defer removeCgroups()
	if st, err := os.Stat("/sys/fs/cgroup/unified/cgroup.controllers"); err == nil && st.Mode().IsRegular() {
		empty := filepath.Join(work, "empty")
		os.WriteFile(empty, nil, 0o644)
		if err := unix.Mount(empty, "/sys/fs/cgroup/unified/cgroup.controllers", "", unix.MS_BIND, ""); err == nil {
			fmt.Println("note: hybrid cgroup host; an empty cgroup.controllers covers /sys/fs/cgroup/unified in this mount namespace (for crun), for every runtime")
		}
	}
	// As a subreaper the bench reaps detached containers itself, so it
	// knows when one has stopped without asking the runtime.
	unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	bundle, err := makeBundle(work)
	if err != nil {
		return err
	}
	mr, _ := filepath.Abs(*mrBin)
	var rts []*runtimeUnderTest
	for _, c := range [][2]string{{"minirunc", mr}, {"crun", "crun"}, {"runc", "runc"}} {
		p, err := exec.LookPath(c[1])
		if err != nil {
			fmt.Printf("note: %s not found, skipped\n", c[0])
			continue
		}
		rts = append(rts, &runtimeUnderTest{name: c[0], path: p, root: filepath.Join(work, "root-"+c[0]), samples: map[string][]sample{}})
	}
	floor := []sample{}
	for r := 0; r < *rounds; r++ {
		for i := range rts {
			rt := rts[(i+r)%len(rts)]
			if err := round(rt, bundle, r); err != nil {
				return fmt.Errorf("%s: %w", rt.name, err)
			}
		}
		s, err := timed("unshare", "--mount", "--uts", "--ipc", "--pid", "--net", "--fork", "chroot", filepath.Join(bundle, "rootfs"), "/bin/true")
		if err == nil {
			floor = append(floor, s)
		}
	}
	report(rts, floor)
	return nil
}

// round runs each operation once for rt.
func round(rt *runtimeUnderTest, bundle string, r int) error {
	id := fmt.Sprintf("%s-%d", rt.name, r)
	if err := setCgroup(bundle, id); err != nil {
		return err
	}
	base := []string{"--root", rt.root}
	ops := []struct {
		name string
		args []string
	}{
		{"run", []string{"run", "--bundle", bundle, id + "-run"}},
		{"create", []string{"create", "--bundle", bundle, "--pid-file", filepath.Join(bundle, "pid"), id}},
		{"state", []string{"state", id}},
		{"list", []string{"list"}},
		{"start", []string{"start", id}},
	}
	for _, op := range ops {
		if op.name == "run" {
			setCgroup(bundle, id+"-run")
		} else if op.name == "create" {
			setCgroup(bundle, id)
		}
		s, err := timed(rt.path, append(base, op.args...)...)
		if err != nil {
			return fmt.Errorf("%s: %w", op.name, err)
		}
		rt.samples[op.name] = append(rt.samples[op.name], s)
	}
	// /bin/true has exited once the subreaper reaps it.
	data, _ := os.ReadFile(filepath.Join(bundle, "pid"))
	var pid int
	fmt.Sscan(string(data), &pid)
	var ws unix.WaitStatus
	unix.Wait4(pid, &ws, 0, nil)
	s, err := timed(rt.path, append(base, "delete", id)...)
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	rt.samples["delete"] = append(rt.samples["delete"], s)
	// exec and delete --force need a running container.
	long := id + "-long"
	if err := setCgroup(bundle, long, "/bin/sleep", "1000"); err != nil {
		return err
	}
	for _, args := range [][]string{{"create", "--bundle", bundle, long}, {"start", long}} {
		if _, err := timed(rt.path, append(base, args...)...); err != nil {
			return err
		}
	}
	for _, op := range []struct {
		name string
		args []string
	}{{"exec", []string{"exec", long, "/bin/true"}}, {"delete -f", []string{"delete", "--force", long}}} {
		s, err := timed(rt.path, append(base, op.args...)...)
		if err != nil {
			return fmt.Errorf("%s: %w", op.name, err)
		}
		rt.samples[op.name] = append(rt.samples[op.name], s)
	}
	reapAll()
	return nil
}

// reapAll reaps the containers that ended under this subreaper.
func reapAll() {
	for {
		var ws unix.WaitStatus
		if pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil); err != nil || pid <= 0 {
			return
		}
	}
}

func timed(path string, args ...string) (sample, error) {
	cmd := exec.Command(path, args...)
	// A file, not a pipe: a detached container keeps its stderr open, and
	// waiting for a pipe's end would time the container.
	errFile, err := os.CreateTemp("", "bench-stderr-")
	if err != nil {
		return sample{}, err
	}
	defer os.Remove(errFile.Name())
	defer errFile.Close()
	cmd.Stderr = errFile
	t0 := time.Now()
	err = cmd.Run()
	wall := time.Since(t0)
	if err != nil {
		msg, _ := os.ReadFile(errFile.Name())
		return sample{}, fmt.Errorf("%s %s: %v: %s", path, strings.Join(args, " "), err, msg)
	}
	// No peak RSS here: Go's vfork makes a child's maxrss include the
	// parent's, so it needs a small external timer (GNU time).
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return sample{wall: ms(wall), cpu: ms(cpu)}, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func field(ss []sample, f func(sample) float64) []float64 {
	var out []float64
	for _, s := range ss {
		out = append(out, f(s))
	}
	return out
}

// pairedRatio is the median of per-round ratios a/b.
func pairedRatio(a, b []sample) float64 {
	var rs []float64
	for i := range a {
		if i < len(b) && b[i].wall > 0 {
			rs = append(rs, a[i].wall/b[i].wall)
		}
	}
	return median(rs)
}

func report(rts []*runtimeUnderTest, floor []sample) {
	fmt.Printf("\n%d rounds, runtimes rotated each round; medians of wall and user+sys CPU in ms; ratios are medians of per-round wall ratios\n\n", *rounds)
	fmt.Printf("%-9s", "op")
	for _, rt := range rts {
		fmt.Printf(" | %-18s", rt.name+" wall/cpu")
	}
	for _, rt := range rts[1:] {
		fmt.Printf(" | %-14s", "minirunc/"+rt.name)
	}
	fmt.Println()
	for _, op := range []string{"run", "create", "start", "state", "list", "delete", "exec", "delete -f"} {
		fmt.Printf("%-9s", op)
		for _, rt := range rts {
			ss := rt.samples[op]
			fmt.Printf(" | %8.2f %8.2f ", median(field(ss, func(s sample) float64 { return s.wall })),
				median(field(ss, func(s sample) float64 { return s.cpu })))
		}
		if rts[0].name == "minirunc" {
			for _, rt := range rts[1:] {
				fmt.Printf(" | %14.2f", pairedRatio(rts[0].samples[op], rt.samples[op]))
			}
		}
		fmt.Println()
	}
	fmt.Printf("\nfloor (unshare mnt/uts/ipc/pid/net + chroot /bin/true): wall %.2f ms, cpu %.2f ms\n",
		median(field(floor, func(s sample) float64 { return s.wall })), median(field(floor, func(s sample) float64 { return s.cpu })))
}

func makeBundle(work string) (string, error) {
	b := filepath.Join(work, "bundle")
	rootfs := filepath.Join(b, "rootfs")
	for _, d := range []string{"bin", "proc", "sys", "dev", "tmp", "etc"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			return "", err
		}
	}
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return "", fmt.Errorf("busybox-static is required: %w", err)
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(rootfs, "bin", "busybox"), data, 0o755); err != nil {
		return "", err
	}
	for _, app := range []string{"true", "sh", "sleep"} {
		os.Symlink("busybox", filepath.Join(rootfs, "bin", app))
	}
	if out, err := exec.Command(*mrBin, "spec", "--bundle", b).CombinedOutput(); err != nil {
		return "", fmt.Errorf("spec: %v %s", err, out)
	}
	return b, nil
}

// setCgroup rewrites the bundle's config for container id: /bin/true,
// no terminal, read-only root, pid/net/ipc/uts/mount namespaces, an
// absolute cgroupsPath of its own.
func setCgroup(bundle, id string, args ...string) error {
	p := filepath.Join(bundle, "config.json")
	data, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	var s map[string]any
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	proc := s["process"].(map[string]any)
	// crun 1.8.1 rejects spec versions newer than it knows.
	s["ociVersion"] = "1.0.2-dev"
	proc["terminal"] = false
	if len(args) == 0 {
		args = []string{"/bin/true"}
	}
	proc["args"] = args
	s["root"] = map[string]any{"path": "rootfs", "readonly": true}
	linux := s["linux"].(map[string]any)
	linux["cgroupsPath"] = cgParent + "/" + id
	linux["namespaces"] = []map[string]string{{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}}
	out, _ := json.Marshal(s)
	return os.WriteFile(p, out, 0o644)
}

func removeCgroups() {
	data, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		for i, x := range f {
			if x == "-" && i+1 < len(f) && (f[i+1] == "cgroup" || f[i+1] == "cgroup2") {
				d := filepath.Join(f[4], cgParent)
				subs, _ := os.ReadDir(d)
				for _, s := range subs {
					if s.IsDir() {
						os.Remove(filepath.Join(d, s.Name()))
					}
				}
				os.Remove(d)
			}
		}
	}
}
