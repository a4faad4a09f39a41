package clients

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Podman with a private configuration (graphroot, runroot, tmp dir, file
// events, cgroupfs, no network by default) and the runtime under test given
// by path; its basename is listed in runtime_supports_json so that conmon
// passes the JSON --log flags. Only settings that conmon's exit command
// (`podman container cleanup`, run without CONTAINERS_CONF) gets as flags
// may differ from the defaults: a static_dir of its own, say, would leave
// that cleanup looking in another database and `run --rm` waiting 20 s.
var (
	podmanOK  sync.Once
	podmanErr error
	podmanEnv []string
	podmanDir string
	// podmanImage is the busybox image as podman load named it.
	podmanImage string
)

func podman(t testing.TB, args ...string) res {
	t.Helper()
	return command(t, 90*time.Second, nil, podmanEnv, "podman", append([]string{"--runtime", runtimeBin}, args...)...)
}

func podmanIn(t testing.TB, stdin string, args ...string) res {
	t.Helper()
	return command(t, 90*time.Second, strings.NewReader(stdin), podmanEnv, "podman", append([]string{"--runtime", runtimeBin}, args...)...)
}

// pr is `podman run --rm` in the run's cgroup tree.
func pr(t testing.TB, args ...string) res {
	t.Helper()
	return podman(t, append([]string{"run", "--rm", "--pull=never", "--cgroup-parent", cgroupParent + "/podman"}, args...)...)
}

// pd starts a detached container, removed when the test ends.
func pd(t testing.TB, args ...string) string {
	t.Helper()
	r := podman(t, append([]string{"run", "-d", "--pull=never", "--cgroup-parent", cgroupParent + "/podman"}, args...)...)
	if r.Code != 0 {
		t.Fatalf("podman run -d: %s", r)
	}
	id := strings.TrimSpace(r.Out)
	t.Cleanup(func() { podman(t, "rm", "-f", "-t", "0", id) })
	return id
}

func podmanInspect(t testing.TB, id, format string) string {
	t.Helper()
	r := podman(t, "inspect", "-f", format, id)
	if r.Code != 0 {
		t.Fatalf("podman inspect: %s", r)
	}
	return strings.TrimSpace(r.Out)
}

func podmanPid(t testing.TB, id string) int {
	t.Helper()
	pid := atoiTrim(podmanInspect(t, id, "{{.State.Pid}}"))
	if pid <= 0 {
		t.Fatalf("container %s has no pid", id)
	}
	return pid
}

func needPodman(t testing.TB) {
	t.Helper()
	podmanOK.Do(func() { podmanErr = setupPodman(t) })
	if podmanErr != nil {
		t.Fatalf("podman: %v", podmanErr)
	}
}

func setupPodman(t testing.TB) error {
	podmanDir = filepath.Join(world, "podman")
	for _, d := range []string{"root", "runroot", "tmp"} {
		os.MkdirAll(filepath.Join(podmanDir, d), 0o711)
	}
	conf := fmt.Sprintf(`[containers]
netns = "none"
default_capabilities = ["CHOWN","DAC_OVERRIDE","FOWNER","FSETID","KILL","NET_BIND_SERVICE","SETFCAP","SETGID","SETPCAP","SETUID","SYS_CHROOT"]
default_sysctls = []
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = %q
runtime = "runc"
runtime_supports_json = ["crun", "runc", "kata", "runsc", "youki", "krun", "minirunc", %q]
`, filepath.Join(podmanDir, "tmp"), filepath.Base(runtimeBin))
	storage := fmt.Sprintf("[storage]\ndriver = \"overlay\"\ngraphroot = %q\nrunroot = %q\n",
		filepath.Join(podmanDir, "root"), filepath.Join(podmanDir, "runroot"))
	cc, sc := filepath.Join(podmanDir, "containers.conf"), filepath.Join(podmanDir, "storage.conf")
	if err := os.WriteFile(cc, []byte(conf), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(sc, []byte(storage), 0o644); err != nil {
		return err
	}
	podmanEnv = []string{"CONTAINERS_CONF=" + cc, "CONTAINERS_STORAGE_CONF=" + sc}
	if r := podman(t, "load", "-i", imageArchive); r.Code != 0 {
		return fmt.Errorf("podman load: %s", r)
	}
	r := podman(t, "images", "--format", "{{.Repository}}:{{.Tag}}")
	for _, n := range strings.Fields(r.Out) {
		if strings.HasSuffix(n, "/"+imageTag) {
			podmanImage = n
		}
	}
	if podmanImage == "" {
		return fmt.Errorf("podman load: no %s: %s", imageTag, r)
	}
	return nil
}

func podmanTeardown(t testing.TB) {
	if podmanEnv == nil {
		return
	}
	podman(t, "rm", "-a", "-f", "-t", "0")
	podman(t, "system", "reset", "-f")
}

func TestPodman(t *testing.T) {
	const c = "podman"
	t.Run("setup", func(t *testing.T) {
		t.Cleanup(func() {
			if t.Failed() {
				record(c, false)
			}
		})
		needPodman(t)
	})
	if podmanErr != nil || podmanEnv == nil {
		t.FailNow()
	}
	img := podmanImage

	scenario(t, c, "runtime-used", func(t *testing.T) {
		id := pd(t, img, "sleep", "1000")
		// Podman gives no --root: the runtime's default root holds it.
		expect(t, command(t, 30*time.Second, nil, nil, runtimeBin, "state", id), 0, `"status": "running"`)
	})
	scenario(t, c, "run-echo", func(t *testing.T) {
		expect(t, pr(t, img, "echo", "hi"), 0, `^hi\n$`)
	})
	scenario(t, c, "exit-codes", func(t *testing.T) {
		expect(t, pr(t, img, "sh", "-c", "exit 3"), 3, "")
		r := pr(t, img, "/nonexistent")
		expect(t, r, 127, "")
		if !strings.Contains(r.Err, `/nonexistent`) || !strings.Contains(r.Err, "no such file or directory") {
			t.Fatalf("want the runtime's message: %s", r)
		}
		r = pr(t, img, "nosuchcmd")
		expect(t, r, 127, "")
		if !strings.Contains(r.Err, `executable file not found in $PATH`) {
			t.Fatalf("want the runtime's message: %s", r)
		}
		r = pr(t, img, "/etc/passwd")
		expect(t, r, 126, "")
		if !strings.Contains(r.Err, "permission denied") {
			t.Fatalf("want the runtime's message: %s", r)
		}
	})
	scenario(t, c, "stdin", func(t *testing.T) {
		in := strings.Repeat("line of stdin\n", 5000)
		r := podmanIn(t, in, "run", "--rm", "-i", "--pull=never", "--cgroup-parent", cgroupParent+"/podman", img, "sh", "-c", "wc -c; echo done")
		expect(t, r, 0, fmt.Sprintf(`^\s*%d\ndone\n$`, len(in)))
	})
	scenario(t, c, "stdout-stderr", func(t *testing.T) {
		r := pr(t, img, "sh", "-c", "seq 1 20000; echo err >&2")
		expect(t, r, 0, "")
		lines := strings.Split(strings.TrimSuffix(r.Out, "\n"), "\n")
		if len(lines) != 20000 || lines[19999] != "20000" || r.Err != "err\n" {
			t.Fatalf("got %d lines: %s", len(lines), r)
		}
	})
	scenario(t, c, "detach-logs", func(t *testing.T) {
		id := pd(t, img, "sh", "-c", "echo started; sleep 1000")
		var r res
		if !poll(20*time.Second, func() bool { r = podman(quiet(t), "logs", id); return r.Out == "started\n" }) {
			t.Fatalf("logs: %s", r)
		}
	})
	scenario(t, c, "exec", func(t *testing.T) {
		id := pd(t, img, "sleep", "1000")
		expect(t, podman(t, "exec", id, "echo", "hi"), 0, `^hi\n$`)
		expect(t, podman(t, "exec", id, "sh", "-c", "exit 5"), 5, "")
		expect(t, podmanIn(t, "from stdin\n", "exec", "-i", id, "cat"), 0, `^from stdin\n$`)
		expect(t, podman(t, "exec", "-u", "1000", "-w", "/tmp", "-e", "FOO=bar", id, "sh", "-c", `echo "$(id -u) $(pwd) $FOO"`), 0, `^1000 /tmp bar\n$`)
		pid := strconv.Itoa(podmanPid(t, id))
		expect(t, podman(t, "exec", id, "readlink", "/proc/self/ns/pid"), 0, "^"+regexp.QuoteMeta(nsLink(t, pid, "pid"))+"\n$")
		expect(t, podman(t, "exec", id, "nosuchcmd"), 127, "")
	})
	scenario(t, c, "exec-tty", func(t *testing.T) {
		id := pd(t, img, "sleep", "1000")
		p := startPty(t, 20, 80, podmanEnv, "podman", "--runtime", runtimeBin, "exec", "-it", id, "sh", "-c", sttyLoop)
		out, code := p.wait(60 * time.Second)
		if code != 0 || !regexp.MustCompile(`tty=/dev/pts/\d+ size=20 80`).MatchString(out) {
			t.Fatalf("exit %d, output %q", code, out)
		}
	})
	scenario(t, c, "tty-size", func(t *testing.T) {
		p := startPty(t, 30, 100, podmanEnv, "podman", "--runtime", runtimeBin, "run", "--rm", "-it", "--pull=never", "--cgroup-parent", cgroupParent+"/podman", img, "sh", "-c", sttyLoop)
		out, code := p.wait(60 * time.Second)
		if code != 0 || !strings.Contains(out, "tty=/dev/pts/0 size=30 100") {
			t.Fatalf("exit %d, output %q", code, out)
		}
	})
	scenario(t, c, "pause-unpause", func(t *testing.T) {
		id := pd(t, img, "sleep", "1000")
		pid := podmanPid(t, id)
		expect(t, podman(t, "pause", id), 0, "")
		if s := podmanInspect(t, id, "{{.State.Status}}"); s != "paused" {
			t.Fatalf("status %s", s)
		}
		if s := cgroupFile(t, pid, "freezer", "freezer.state"); s != "FROZEN" {
			t.Fatalf("freezer.state %s", s)
		}
		expect(t, podman(t, "unpause", id), 0, "")
		if s := cgroupFile(t, pid, "freezer", "freezer.state"); s != "THAWED" {
			t.Fatalf("freezer.state %s", s)
		}
		expect(t, podman(t, "exec", id, "echo", "ok"), 0, `^ok\n$`)
	})
	scenario(t, c, "stop-kill-restart", func(t *testing.T) {
		id := pd(t, img, "sleep", "1000")
		r := podman(t, "stop", "-t", "1", id)
		expect(t, r, 0, "")
		if code := podmanInspect(t, id, "{{.State.ExitCode}}"); code != "137" {
			t.Fatalf("exit code %s", code)
		}
		id = pd(t, img, "sh", "-c", `trap "exit 7" TERM; echo ready; while :; do sleep 0.1; done`)
		poll(20*time.Second, func() bool { return podman(quiet(t), "logs", id).Out == "ready\n" })
		r = podman(t, "stop", id)
		expect(t, r, 0, "")
		if code := podmanInspect(t, id, "{{.State.ExitCode}}"); code != "7" || r.Took > 5*time.Second {
			t.Fatalf("exit code %s after %v", code, r.Took)
		}
		id = pd(t, img, "sleep", "1000")
		pid := podmanPid(t, id)
		expect(t, podman(t, "restart", "-t", "1", id), 0, "")
		if p2 := podmanPid(t, id); p2 == pid {
			t.Fatalf("same pid after restart")
		}
		expect(t, podman(t, "kill", id), 0, "")
		expect(t, podman(t, "wait", id), 0, `^137\n$`)
	})
	scenario(t, c, "rm-force", func(t *testing.T) {
		r := podman(t, "run", "-d", "--pull=never", "--cgroup-parent", cgroupParent+"/podman", img, "sleep", "1000")
		expect(t, r, 0, "")
		id := strings.TrimSpace(r.Out)
		pid := podmanPid(t, id)
		expect(t, podman(t, "rm", "-f", "-t", "0", id), 0, "")
		if !poll(10*time.Second, func() bool { _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); return err != nil }) {
			t.Fatalf("pid %d still alive", pid)
		}
	})
	scenario(t, c, "limits", func(t *testing.T) {
		r := pr(t, "--memory", "64m", "--cpus", "0.5", "--pids-limit", "10", img, "cat",
			"/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/pids/pids.max")
		expect(t, r, 0, `^67108864\n50000\n10\n$`)
		r = pr(t, "--pids-limit", "10", img, "sh", "-c",
			`sh -c 'i=0; while [ $i -lt 20 ]; do sleep 100 & i=$((i+1)); done'; read n < /sys/fs/cgroup/pids/pids.current; echo $n; kill -9 -1`)
		expect(t, r, 0, `^(8|9|10)\n$`)
		if !strings.Contains(r.Err, "can't fork") {
			t.Fatalf("no fork failure: %s", r)
		}
	})
	scenario(t, c, "update", func(t *testing.T) {
		id := pd(t, "--memory", "64m", "--memory-swap", "128m", img, "sleep", "1000")
		pid := podmanPid(t, id)
		// Podman's update file holds only what was set (runtime update
		// --resources=FILE); memsw must grow before memory.
		expect(t, podman(t, "update", "--memory", "160m", "--memory-swap", "320m", "--cpus", "1.5", "--cpu-shares", "512", id), 0, "")
		for _, f := range [][3]string{{"memory", "memory.limit_in_bytes", "167772160"}, {"memory", "memory.memsw.limit_in_bytes", "335544320"}, {"cpu", "cpu.cfs_quota_us", "150000"}, {"cpu", "cpu.shares", "512"}} {
			if got := cgroupFile(t, pid, f[0], f[1]); got != f[2] {
				t.Errorf("%s = %s, want %s", f[1], got, f[2])
			}
		}
	})
	scenario(t, c, "user-readonly", func(t *testing.T) {
		expect(t, pr(t, "--user", "1000:1000", "--group-add", "1234", img, "sh", "-c", `id -u; id -g; id -G; umask`), 0, `^1000\n1000\n1000 1234\n0022\n$`)
		expect(t, pr(t, "--read-only", img, "sh", "-c", `touch /x 2>&1; touch /tmp/y && echo tmp-ok`), 0, `Read-only file system\ntmp-ok\n$`)
	})
	scenario(t, c, "caps", func(t *testing.T) {
		// Podman's 11 default capabilities.
		expect(t, pr(t, img, "grep", "^CapEff", "/proc/self/status"), 0, `CapEff:\s+00000000800405fb\n`)
		expect(t, pr(t, "--cap-drop", "ALL", img, "grep", "^CapEff", "/proc/self/status"), 0, `CapEff:\s+0000000000000000\n`)
		expect(t, pr(t, "--cap-add", "NET_ADMIN", img, "sh", "-c", `ip addr add 10.9.9.9/32 dev lo && echo added`), 0, `^added\n$`)
	})
	scenario(t, c, "network-host", func(t *testing.T) {
		expect(t, pr(t, "--network", "host", img, "readlink", "/proc/self/ns/net"), 0, "^"+regexp.QuoteMeta(nsLink(t, "self", "net"))+"\n$")
		expect(t, pr(t, img, "ls", "/sys/class/net"), 0, `^lo\n$`)
	})
	scenario(t, c, "device-volume-tmpfs", func(t *testing.T) {
		expect(t, pr(t, "--device", "/dev/null:/dev/mynull", img, "sh", "-c", `echo x > /dev/mynull && stat -c '%t:%T' /dev/mynull`), 0, `^1:3\n$`)
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "in"), []byte("from host\n"), 0o644)
		r := pr(t, "-v", dir+":/data:ro", img, "sh", "-c", `cat /data/in; echo x > /data/out`)
		if r.Out != "from host\n" || !strings.Contains(r.Err, "Read-only file system") {
			t.Fatalf(":ro: %s", r)
		}
		expect(t, pr(t, "--tmpfs", "/scratch:size=10m", img, "sh", "-c", `df -k /scratch | awk 'NR>1 {print $2}'`), 0, `^10240\n$`)
	})
	scenario(t, c, "sysctl-oom-score-adj", func(t *testing.T) {
		expect(t, pr(t, "--sysctl", "net.core.somaxconn=1234", "--oom-score-adj", "500", img, "cat", "/proc/sys/net/core/somaxconn", "/proc/self/oom_score_adj"), 0, `^1234\n500\n$`)
	})
	scenario(t, c, "pid-host-stop", func(t *testing.T) {
		// The stop of a --pid host container is kill --all 15.
		id := pd(t, "--pid", "host", img, "sleep", "1000")
		r := podman(t, "stop", "-t", "5", id)
		expect(t, r, 0, "")
		if code := podmanInspect(t, id, "{{.State.ExitCode}}"); code != "143" {
			t.Fatalf("exit code %s", code)
		}
	})
	scenario(t, c, "wait", func(t *testing.T) {
		id := pd(t, img, "sh", "-c", `sleep 0.3; exit 4`)
		expect(t, podman(t, "wait", id), 0, `^4\n$`)
	})
}
