// Package clients drives the runtime under test (minirunc, or any binary
// named by CLIENTS_RUNTIME, e.g. /usr/sbin/runc) with the real engines from
// Debian: Docker 20.10 (dockerd over a private containerd), containerd's ctr,
// Podman 4.3 (conmon) and Kubernetes' CRI (containerd's CRI plugin, spoken to
// with k8s.io/cri-api). It needs root; missing packages are installed with
// apt-get.
//
// The test binary runs twice. The outer process (in the host's namespaces)
// makes a world directory, re-executes itself in a private mount and network
// namespace (the inner process, which starts the daemons and runs the tests),
// waits for it, and then reaps whatever the inner run left, even when it
// panicked or timed out: every process in this run's cgroup tree (daemons,
// shims, conmon, containers), the cgroups, the world directory and the mount
// points it made. Anything it had to reap is reported as a leak and fails
// the run.
package clients

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	envInner = "MINIRUNC_CLIENTS_INNER" // set in the inner process: the world dir
	envRun   = "MINIRUNC_CLIENTS_RUN"   // the outer pid, naming this run's cgroups
)

// The world of one run.
var (
	world        string // /tmp/minirunc-clients-*: daemons' roots, sockets, images
	cgroupParent string // /minirunc-clients/run-<pid>: every cgroup of this run
	runtimeBin   string // the runtime under test, absolute
	runtimeName  = "minirunc"
)

// maskedDirs are host directories that the daemons write to whatever their
// configuration says (containerd's shim sockets in /run/containerd/s,
// dockerd's trust key and plugin dir, Podman's caches, the runtimes' default
// roots). The inner process mounts a tmpfs on each, inside its private mount
// namespace, so nothing reaches the host.
var maskedDirs = []string{
	"/run/containerd", "/run/docker", "/etc/docker", "/var/lib/containers",
	"/run/containers", "/run/libpod", "/run/minirunc", "/run/runc", "/var/lib/cni",
	"/run/crun", "/run/minirunc-seal", "/dev/shm",
}

func TestMain(m *testing.M) {
	if os.Getuid() != 0 {
		fmt.Println("client tests need root; skipping")
		os.Exit(0)
	}
	if w := os.Getenv(envInner); w != "" {
		world = w
		os.Exit(inner(m))
	}
	os.Exit(outer())
}

// outer prepares the world, runs the inner process and reaps after it.
func outer() int {
	if err := installPackages(); err != nil {
		fmt.Println("install packages:", err)
		return 1
	}
	w, err := os.MkdirTemp("", "minirunc-clients-")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	run := strconv.Itoa(os.Getpid())
	cgroupParent = "/minirunc-clients/run-" + run
	var made []string
	for _, d := range maskedDirs {
		if _, err := os.Stat(d); os.IsNotExist(err) {
			if err := os.MkdirAll(d, 0o711); err == nil {
				made = append(made, d)
			}
		}
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		fmt.Println("unshare (util-linux) is required:", err)
		return 1
	}
	args := append([]string{"--mount", "--net", "--propagation", "private", os.Args[0]}, os.Args[1:]...)
	cmd := exec.Command(unshare, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), envInner+"="+w, envRun+"="+run)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT)
	code := 1
	if err := cmd.Start(); err != nil {
		fmt.Println("start the inner test process:", err)
	} else {
		go func() {
			for s := range sigs {
				cmd.Process.Signal(s)
			}
		}()
		err := cmd.Wait()
		code = cmd.ProcessState.ExitCode()
		if err != nil && code == 0 {
			code = 1
		}
	}
	signal.Stop(sigs)
	leaks := reap(cgroupParent)
	for _, d := range made {
		if err := os.Remove(d); err != nil {
			leaks = append(leaks, fmt.Sprintf("mask dir %s: %v", d, err))
		}
	}
	if err := os.RemoveAll(w); err != nil {
		leaks = append(leaks, fmt.Sprintf("world %s: %v", w, err))
	}
	for _, l := range leaks {
		fmt.Println("LEAK (reaped after the run):", l)
	}
	if len(leaks) > 0 && code == 0 {
		code = 1
	}
	return code
}

// reap kills every process left in the run's cgroup tree (they were all
// started by this run: it moved itself there first), thawing frozen ones
// first, and removes the run's cgroups in every hierarchy.
func reap(parent string) []string {
	var leaks []string
	for h := range cgroupHierarchies() {
		if filepath.Base(h) == "freezer" {
			walkCgroups(filepath.Join(h, parent), func(d string) {
				if b, _ := os.ReadFile(filepath.Join(d, "freezer.state")); strings.TrimSpace(string(b)) != "THAWED" && len(b) > 0 {
					os.WriteFile(filepath.Join(d, "freezer.state"), []byte("THAWED"), 0)
				}
			})
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	reported := map[int]bool{}
	for {
		pids := cgroupTreePids(parent)
		if len(pids) == 0 || time.Now().After(deadline) {
			for _, p := range pids {
				leaks = append(leaks, fmt.Sprintf("process %d survived SIGKILL", p))
			}
			break
		}
		for _, p := range pids {
			if !reported[p] {
				reported[p] = true
				leaks = append(leaks, fmt.Sprintf("process %d (%s)", p, cmdline(p)))
			}
			syscall.Kill(p, syscall.SIGKILL)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for h := range cgroupHierarchies() {
		top := filepath.Join(h, parent)
		var dirs []string
		walkCgroups(top, func(d string) { dirs = append(dirs, d) })
		sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
		for _, d := range dirs {
			for i := 0; i < 50; i++ {
				if err := os.Remove(d); err == nil || os.IsNotExist(err) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if _, err := os.Stat(d); err == nil {
				leaks = append(leaks, "cgroup "+d+" cannot be removed")
			}
		}
		os.Remove(filepath.Dir(top)) // /minirunc-clients, unless another run uses it
	}
	return leaks
}

// cgroupHierarchies maps each cgroup mount point to its filesystem type.
func cgroupHierarchies() map[string]string {
	data, _ := os.ReadFile("/proc/self/mountinfo")
	out := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		for i, x := range f {
			if x == "-" && i+1 < len(f) && (f[i+1] == "cgroup" || f[i+1] == "cgroup2") {
				out[f[4]] = f[i+1]
			}
		}
	}
	return out
}

func walkCgroups(top string, fn func(string)) {
	filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			fn(p)
		}
		return nil
	})
}

// cgroupTreePids lists the processes in parent and below, in the pids
// hierarchy (every process has a place there on this host).
func cgroupTreePids(parent string) []int {
	seen := map[int]bool{}
	for h := range cgroupHierarchies() {
		b := filepath.Base(h)
		if b != "pids" && b != "unified" && b != "cgroup" {
			continue
		}
		walkCgroups(filepath.Join(h, parent), func(d string) {
			data, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
			for _, f := range strings.Fields(string(data)) {
				if n, err := strconv.Atoi(f); err == nil {
					seen[n] = true
				}
			}
		})
	}
	var out []int
	for p := range seen {
		out = append(out, p)
	}
	sort.Ints(out)
	return out
}

func cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

// inner runs in the private namespaces: it joins the run's harness cgroup,
// masks the host directories, runs the tests and tears the daemons down.
func inner(m *testing.M) int {
	cgroupParent = "/minirunc-clients/run-" + os.Getenv(envRun)
	if err := joinHarnessCgroup(); err != nil {
		fmt.Println("harness cgroup:", err)
		return 1
	}
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		fmt.Printf("ip link set lo up: %v %s\n", err, out)
		return 1
	}
	for _, d := range maskedDirs {
		mode := "mode=0711"
		if d == "/dev/shm" {
			mode = "mode=1777"
		}
		if err := syscall.Mount("tmpfs", d, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, mode); err != nil {
			fmt.Printf("mask %s: %v\n", d, err)
			return 1
		}
	}
	if err := findRuntime(); err != nil {
		fmt.Println(err)
		return 1
	}
	fmt.Printf("runtime under test: %s\n", runtimeBin)
	if err := buildImages(); err != nil {
		fmt.Println("build images:", err)
		return 1
	}
	code := m.Run()
	leaks := teardown()
	for _, l := range leaks {
		fmt.Println("LEAK:", l)
	}
	printSummary()
	if len(leaks) > 0 && code == 0 {
		code = 1
	}
	return code
}

// joinHarnessCgroup moves this process into <parent>/harness in the pids
// hierarchy (and cgroup2's), so that everything it starts can be found.
func joinHarnessCgroup() error {
	n := 0
	for h, typ := range cgroupHierarchies() {
		b := filepath.Base(h)
		if !(typ == "cgroup" && b == "pids") && typ != "cgroup2" {
			continue
		}
		d := filepath.Join(h, cgroupParent, "harness")
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0); err != nil {
			return fmt.Errorf("join %s: %w", d, err)
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("no pids cgroup hierarchy")
	}
	return nil
}

// findRuntime picks the runtime under test: CLIENTS_RUNTIME, else
// MINIRUNC_BIN, else minirunc built from this checkout. Podman gives the
// JSON log flags only to a runtime whose basename it knows; minirunc is
// built under that name.
func findRuntime() error {
	runtimeBin = os.Getenv("CLIENTS_RUNTIME")
	if runtimeBin == "" {
		runtimeBin = os.Getenv("MINIRUNC_BIN")
	}
	if runtimeBin == "" {
		runtimeBin = filepath.Join(world, "bin", "minirunc")
		out, err := exec.Command("go", "build", "-C", "../..", "-o", runtimeBin, ".").CombinedOutput()
		if err != nil {
			return fmt.Errorf("build minirunc: %v\n%s", err, out)
		}
	}
	var err error
	if runtimeBin, err = filepath.Abs(runtimeBin); err != nil {
		return err
	}
	if _, err := os.Stat(runtimeBin); err != nil {
		return fmt.Errorf("runtime under test: %w", err)
	}
	return nil
}

// aptPackages are what the clients need: the engines, runc (the reference,
// and Podman's default), tini (docker --init), the CNI plugins Podman's
// package expects, busybox-static for the images.
var aptPackages = []string{
	"docker.io", "containerd", "podman", "conmon", "tini", "runc", "busybox-static",
	"iproute2", "util-linux", "containernetworking-plugins", "golang-github-containers-common",
}

func installPackages() error {
	var missing []string
	for _, p := range aptPackages {
		out, _ := exec.Command("dpkg-query", "-W", "-f=${Status}", p).Output()
		if !strings.Contains(string(out), "install ok installed") {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	fmt.Println("installing:", strings.Join(missing, " "))
	env := append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	for _, args := range [][]string{{"update", "-qq"}, append([]string{"install", "-y", "-qq"}, missing...)} {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// Per-client results, counted from the scenarios as they finish.
var (
	resultsMu sync.Mutex
	results   = map[string][2]int{} // client -> passed, failed
	clients   []string
)

func record(client string, passed bool) {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	r, ok := results[client]
	if !ok {
		clients = append(clients, client)
	}
	if passed {
		r[0]++
	} else {
		r[1]++
	}
	results[client] = r
}

// scenario runs fn as subtest name of client and counts its result.
func scenario(t *testing.T, client, name string, fn func(t *testing.T)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		t.Cleanup(func() { record(client, !t.Failed()) })
		fn(t)
	})
}

func printSummary() {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	fmt.Printf("client scenarios with %s:\n", runtimeBin)
	tp, tf := 0, 0
	for _, c := range clients {
		r := results[c]
		fmt.Printf("%s: %d passed, %d failed\n", c, r[0], r[1])
		tp += r[0]
		tf += r[1]
	}
	fmt.Printf("clients: %d passed, %d failed\n", tp, tf)
}
