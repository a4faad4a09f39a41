package clients

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// daemon is a server this run started: stopped by its pid at the end.
type daemon struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

func startDaemon(name string, args ...string) (*daemon, error) {
	logPath := filepath.Join(world, "logs", name+".log")
	os.MkdirAll(filepath.Dir(logPath), 0o755)
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer lf.Close()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	d := &daemon{name: name, cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() { cmd.Wait(); close(d.done) }()
	return d, nil
}

func (d *daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, waits, and SIGKILLs after timeout.
func (d *daemon) stop(timeout time.Duration) error {
	if d == nil || d.exited() {
		return nil
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
		return nil
	case <-time.After(timeout):
	}
	d.cmd.Process.Kill()
	<-d.done
	return fmt.Errorf("%s (pid %d) ignored SIGTERM for %v", d.name, d.cmd.Process.Pid, timeout)
}

func (d *daemon) tail() string {
	b, _ := os.ReadFile(d.log)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// The private containerd (with its CRI plugin, runtime handler minirunc)
// and dockerd.
var (
	containerd    *daemon
	dockerd       *daemon
	containerdDir string
	containerdOK  sync.Once
	containerdErr error
	dockerOK      sync.Once
	dockerErr     error
	dockerEnv     []string
	ctrNS         = "mrc"
)

func containerdSock() string { return filepath.Join(containerdDir, "containerd.sock") }

// ctr runs ctr against the private containerd in namespace ns.
func ctr(t testing.TB, ns string, args ...string) res {
	t.Helper()
	return command(t, 90*time.Second, nil, nil, "ctr", append([]string{"-a", containerdSock(), "-n", ns}, args...)...)
}

func needContainerd(t testing.TB) {
	t.Helper()
	containerdOK.Do(func() { containerdErr = startContainerd(t) })
	if containerdErr != nil {
		t.Fatalf("containerd: %v", containerdErr)
	}
}

func startContainerd(t testing.TB) error {
	containerdDir = filepath.Join(world, "containerd")
	cni := filepath.Join(world, "cni")
	for _, d := range []string{"root", "state"} {
		os.MkdirAll(filepath.Join(containerdDir, d), 0o711)
	}
	for _, d := range []string{"bin", "conf"} {
		os.MkdirAll(filepath.Join(cni, d), 0o755)
	}
	cfg := fmt.Sprintf(`version = 2
root = %q
state = %q
[grpc]
  address = %q
[ttrpc]
  address = %q
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  disable_apparmor = true
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.minirunc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.minirunc.options]
        BinaryName = %q
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %q
    conf_dir = %q
`, filepath.Join(containerdDir, "root"), filepath.Join(containerdDir, "state"),
		containerdSock(), containerdSock()+".ttrpc", pauseRef, runtimeBin,
		filepath.Join(cni, "bin"), filepath.Join(cni, "conf"))
	conf := filepath.Join(containerdDir, "config.toml")
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		return err
	}
	var err error
	containerd, err = startDaemon("containerd", "containerd", "--config", conf)
	if err != nil {
		return err
	}
	if !poll(30*time.Second, func() bool {
		return !containerd.exited() && exec.Command("ctr", "-a", containerdSock(), "version").Run() == nil
	}) {
		return fmt.Errorf("containerd did not come up:\n%s", containerd.tail())
	}
	for _, ns := range []string{ctrNS, "k8s.io"} {
		if r := ctr(t, ns, "images", "import", "--all-platforms", imageArchive); r.Code != 0 {
			return fmt.Errorf("ctr -n %s images import: %s", ns, r)
		}
	}
	return nil
}

// docker runs /usr/bin/docker (the 20.10 CLI that matches the daemon)
// against the private dockerd.
func docker(t testing.TB, args ...string) res {
	t.Helper()
	return command(t, 90*time.Second, nil, dockerEnv, "/usr/bin/docker", args...)
}

func dockerIn(t testing.TB, stdin string, args ...string) res {
	t.Helper()
	return command(t, 90*time.Second, strings.NewReader(stdin), dockerEnv, "/usr/bin/docker", args...)
}

func needDocker(t testing.TB) {
	t.Helper()
	needContainerd(t)
	dockerOK.Do(func() { dockerErr = startDocker(t) })
	if dockerErr != nil {
		t.Fatalf("dockerd: %v", dockerErr)
	}
}

func startDocker(t testing.TB) error {
	d := filepath.Join(world, "docker")
	os.MkdirAll(d, 0o711)
	sock := filepath.Join(d, "docker.sock")
	cfg := map[string]any{
		"data-root":      filepath.Join(d, "data"),
		"exec-root":      filepath.Join(d, "exec"),
		"pidfile":        filepath.Join(d, "dockerd.pid"),
		"hosts":          []string{"unix://" + sock},
		"containerd":     containerdSock(),
		"storage-driver": "overlay2",
		"cgroup-parent":  cgroupParent + "/docker",
		"iptables":       false,
		"ip6tables":      false,
		"ip-forward":     false,
		"ip-masq":        false,
		"bridge":         "none",
		"userland-proxy": false,
		"runtimes":       map[string]any{runtimeName: map[string]any{"path": runtimeBin}},
	}
	body, _ := json.MarshalIndent(cfg, "", "  ")
	conf := filepath.Join(d, "daemon.json")
	if err := os.WriteFile(conf, body, 0o644); err != nil {
		return err
	}
	dockerEnv = []string{"DOCKER_HOST=unix://" + sock, "DOCKER_CONFIG=" + filepath.Join(d, "cli")}
	var err error
	dockerd, err = startDaemon("dockerd", "dockerd", "--config-file", conf)
	if err != nil {
		return err
	}
	if !poll(60*time.Second, func() bool {
		if dockerd.exited() {
			return true
		}
		cmd := exec.Command("/usr/bin/docker", "version")
		cmd.Env = append(os.Environ(), dockerEnv...)
		return cmd.Run() == nil
	}) || dockerd.exited() {
		return fmt.Errorf("dockerd did not come up:\n%s", dockerd.tail())
	}
	if r := docker(t, "load", "-i", imageArchive); r.Code != 0 {
		return fmt.Errorf("docker load: %s", r)
	}
	return nil
}

// teardown removes every container the clients still have, stops the
// daemons by pid, and reports anything left behind: processes in the run's
// cgroups, container cgroups, mounts under the world, network devices.
func teardown() []string {
	var leaks []string
	t := &quietT{}
	criTeardown()
	if dockerd != nil && !dockerd.exited() {
		if r := docker(t, "ps", "-aq"); r.Code == 0 && strings.TrimSpace(r.Out) != "" {
			docker(t, append([]string{"rm", "-f"}, strings.Fields(r.Out)...)...)
		}
		if err := dockerd.stop(30 * time.Second); err != nil {
			leaks = append(leaks, err.Error())
		}
	}
	if containerd != nil && !containerd.exited() {
		for _, ns := range []string{ctrNS, "k8s.io", "moby"} {
			ctrCleanNamespace(t, ns)
		}
		if err := containerd.stop(30 * time.Second); err != nil {
			leaks = append(leaks, err.Error())
		}
	}
	podmanTeardown(t)
	// Shims, conmons and container processes exit on their own once the
	// containers are gone; give them a moment, then report and kill.
	self := os.Getpid()
	others := func() []int {
		var out []int
		for _, p := range cgroupTreePids(cgroupParent) {
			if p != self {
				out = append(out, p)
			}
		}
		return out
	}
	poll(10*time.Second, func() bool { return len(others()) == 0 })
	for _, p := range others() {
		leaks = append(leaks, fmt.Sprintf("process %d left: %s", p, cmdline(p)))
		syscall.Kill(p, syscall.SIGKILL)
	}
	leaks = append(leaks, containerCgroups()...)
	data, _ := os.ReadFile("/proc/self/mountinfo")
	var mounts []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], world+"/") {
			mounts = append(mounts, f[4])
		}
	}
	sort.Slice(mounts, func(i, j int) bool { return len(mounts[i]) > len(mounts[j]) })
	for _, m := range mounts {
		leaks = append(leaks, "mount left: "+m)
		syscall.Unmount(m, syscall.MNT_DETACH)
	}
	if out, err := exec.Command("ip", "-o", "link", "show").Output(); err == nil {
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Fields(line)
			if len(f) > 1 && f[1] != "lo:" {
				leaks = append(leaks, "network device left: "+strings.TrimSuffix(f[1], ":"))
			}
		}
	}
	for _, l := range t.logs {
		fmt.Println("teardown:", l)
	}
	return leaks
}

// containerCgroups lists container cgroups left under the run's parent
// (<parent>/<client>/<container>) in any hierarchy.
func containerCgroups() []string {
	var out []string
	seen := map[string]bool{}
	for h := range cgroupHierarchies() {
		top := filepath.Join(h, cgroupParent)
		walkCgroups(top, func(d string) {
			rel, _ := filepath.Rel(top, d)
			parts := strings.Split(rel, string(filepath.Separator))
			if len(parts) >= 2 && parts[len(parts)-1] != "conmon" && !seen[rel] {
				seen[rel] = true
				out = append(out, "cgroup left: "+rel)
			}
		})
	}
	return out
}

func ctrCleanNamespace(t testing.TB, ns string) {
	r := ctr(t, ns, "tasks", "ls", "-q")
	for _, id := range strings.Fields(r.Out) {
		ctr(t, ns, "tasks", "kill", "-a", "-s", "SIGKILL", id)
		ctr(t, ns, "tasks", "rm", "-f", id)
	}
	r = ctr(t, ns, "containers", "ls", "-q")
	for _, id := range strings.Fields(r.Out) {
		ctr(t, ns, "containers", "rm", id)
	}
}

// quietT collects what commands log during teardown, outside any test.
type quietT struct {
	testing.TB
	logs []string
}

func (q *quietT) Helper()                 {}
func (q *quietT) Logf(f string, a ...any) { q.logs = append(q.logs, fmt.Sprintf(f, a...)) }
func (q *quietT) Errorf(f string, a ...any) {
	q.logs = append(q.logs, "ERROR: "+fmt.Sprintf(f, a...))
}
func (q *quietT) Fatalf(f string, a ...any) {
	q.logs = append(q.logs, "FATAL: "+fmt.Sprintf(f, a...))
}

// atoiTrim parses a number that a client printed.
func atoiTrim(s string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(s))
	return n
}
