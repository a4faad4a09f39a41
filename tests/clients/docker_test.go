package clients

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// dr is `docker run --rm --runtime=<runtime under test> args...`.
func dr(t testing.TB, args ...string) res {
	t.Helper()
	return docker(t, append([]string{"run", "--rm", "--runtime=" + runtimeName}, args...)...)
}

// dd starts a detached container and removes it when the test ends.
func dd(t testing.TB, args ...string) string {
	t.Helper()
	r := docker(t, append([]string{"run", "-d", "--runtime=" + runtimeName}, args...)...)
	if r.Code != 0 {
		t.Fatalf("docker run -d: %s", r)
	}
	id := strings.TrimSpace(r.Out)
	t.Cleanup(func() { docker(t, "rm", "-f", id) })
	return id
}

func inspect(t testing.TB, id, format string) string {
	t.Helper()
	r := docker(t, "inspect", "-f", format, id)
	if r.Code != 0 {
		t.Fatalf("docker inspect: %s", r)
	}
	return strings.TrimSpace(r.Out)
}

func dockerPid(t testing.TB, id string) int {
	t.Helper()
	pid := atoiTrim(inspect(t, id, "{{.State.Pid}}"))
	if pid <= 0 {
		t.Fatalf("container %s has no pid", id)
	}
	return pid
}

// waitLogs waits until the container's logs match re.
func waitLogs(t testing.TB, id, re string) {
	t.Helper()
	rx := regexp.MustCompile(re)
	var last res
	if !poll(20*time.Second, func() bool {
		last = docker(quiet(t), "logs", id)
		return rx.MatchString(last.Out + last.Err)
	}) {
		t.Fatalf("logs of %s never matched %q: %s", id, re, last)
	}
}

// quiet is t without the per-command log (for polling loops).
func quiet(t testing.TB) testing.TB { return &quietT{TB: t} }

// cgroupFile reads file of the cgroup controller ctrl that pid is in.
func cgroupFile(t testing.TB, pid int, ctrl, file string) string {
	t.Helper()
	return strings.TrimSpace(readFile(t, filepath.Join(cgroupDir(t, pid, ctrl), file)))
}

func cgroupDir(t testing.TB, pid int, ctrl string) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) == 3 {
			for _, c := range strings.Split(f[1], ",") {
				if c == ctrl {
					return filepath.Join("/sys/fs/cgroup", ctrl, f[2])
				}
			}
		}
	}
	t.Fatalf("pid %d has no %s cgroup: %s", pid, ctrl, data)
	return ""
}

func readFile(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func expect(t testing.TB, r res, code int, outRe string) {
	t.Helper()
	if r.Code != code {
		t.Fatalf("want exit %d: %s", code, r)
	}
	if outRe != "" && !regexp.MustCompile(outRe).MatchString(r.Out) {
		t.Fatalf("stdout does not match %q: %s", outRe, r)
	}
}

func nsLink(t testing.TB, pid string, ns string) string {
	t.Helper()
	l, err := os.Readlink("/proc/" + pid + "/ns/" + ns)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestDocker(t *testing.T) {
	const c = "docker"
	t.Run("setup", func(t *testing.T) {
		t.Cleanup(func() {
			if t.Failed() {
				record(c, false)
			}
		})
		needDocker(t)
	})
	if dockerErr != nil || dockerd == nil {
		t.FailNow()
	}
	img := imageTag

	scenario(t, c, "runtime-used", func(t *testing.T) {
		id := dd(t, img, "sleep", "1000")
		// The runtime's own state for the container is in the shim's root.
		root := filepath.Join(world, "docker", "exec", "runtime-runc", "moby")
		r := command(t, 30*time.Second, nil, nil, runtimeBin, "--root", root, "state", id)
		expect(t, r, 0, `"status": "running"`)
	})
	scenario(t, c, "run-echo", func(t *testing.T) {
		expect(t, dr(t, img, "echo", "hi"), 0, `^hi\n$`)
	})
	scenario(t, c, "exit-code", func(t *testing.T) {
		expect(t, dr(t, img, "sh", "-c", "exit 3"), 3, "")
	})
	scenario(t, c, "missing-command-127", func(t *testing.T) {
		r := dr(t, img, "/nonexistent")
		expect(t, r, 127, "")
		// The shim read the runtime's message from log.json: it shows
		// it as is, with no "exit status" of its own.
		if !regexp.MustCompile(`OCI runtime create failed: .*exec: "/nonexistent": stat /nonexistent: no such file or directory: unknown`).MatchString(r.Err) {
			t.Fatalf("want the runtime's message from log.json: %s", r)
		}
		r = dr(t, img, "nosuchcmd")
		expect(t, r, 127, "")
		if !strings.Contains(r.Err, `exec: "nosuchcmd": executable file not found in $PATH`) {
			t.Fatalf("want runc's message: %s", r)
		}
	})
	scenario(t, c, "not-executable-126", func(t *testing.T) {
		r := dr(t, img, "/etc/passwd")
		expect(t, r, 126, "")
		if !regexp.MustCompile(`OCI runtime create failed: .*exec: "/etc/passwd": permission denied: unknown`).MatchString(r.Err) {
			t.Fatalf("want runc's message: %s", r)
		}
	})
	scenario(t, c, "stdin", func(t *testing.T) {
		in := strings.Repeat("line of stdin\n", 5000)
		r := command(t, 60*time.Second, strings.NewReader(in), dockerEnv, "/usr/bin/docker", "run", "--rm", "-i", "--runtime="+runtimeName, img, "sh", "-c", "wc -c; echo done")
		expect(t, r, 0, fmt.Sprintf(`^\s*%d\ndone\n$`, len(in)))
	})
	scenario(t, c, "stdout-20000-lines", func(t *testing.T) {
		r := dr(t, img, "seq", "1", "20000")
		expect(t, r, 0, "")
		lines := strings.Split(strings.TrimSuffix(r.Out, "\n"), "\n")
		if len(lines) != 20000 || lines[0] != "1" || lines[19999] != "20000" {
			t.Fatalf("got %d lines", len(lines))
		}
	})
	scenario(t, c, "stderr", func(t *testing.T) {
		r := dr(t, img, "sh", "-c", "echo out; echo err >&2; exit 2")
		expect(t, r, 2, `^out\n$`)
		if r.Err != "err\n" {
			t.Fatalf("stderr: %s", r)
		}
	})
	scenario(t, c, "tty-size", func(t *testing.T) {
		p := startPty(t, 30, 100, dockerEnv, "/usr/bin/docker", "run", "--rm", "-it", "--runtime="+runtimeName, img, "sh", "-c", sttyLoop)
		out, code := p.wait(60 * time.Second)
		if code != 0 || !strings.Contains(out, "tty=/dev/pts/0 size=30 100") {
			t.Fatalf("exit %d, output %q", code, out)
		}
	})
	scenario(t, c, "tty-interactive-shell", func(t *testing.T) {
		p := startPty(t, 24, 80, dockerEnv, "/usr/bin/docker", "run", "--rm", "-it", "--runtime="+runtimeName, img, "sh")
		p.waitFor(`/ # `, 30*time.Second)
		p.write("echo $((6*7))\r")
		p.waitFor(`42\r\n`, 10*time.Second)
		p.write("exit 5\r")
		if _, code := p.wait(30 * time.Second); code != 5 {
			t.Fatalf("exit %d", code)
		}
	})
	scenario(t, c, "detach-logs", func(t *testing.T) {
		id := dd(t, img, "sh", "-c", "echo started; echo to-stderr >&2; sleep 1000")
		waitLogs(t, id, `started`)
		r := docker(t, "logs", id)
		if r.Out != "started\n" || r.Err != "to-stderr\n" {
			t.Fatalf("logs: %s", r)
		}
	})
	scenario(t, c, "exec", func(t *testing.T) {
		id := dd(t, img, "sleep", "1000")
		expect(t, docker(t, "exec", id, "echo", "hi"), 0, `^hi\n$`)
		expect(t, docker(t, "exec", id, "sh", "-c", "exit 5"), 5, "")
		expect(t, dockerIn(t, "from stdin\n", "exec", "-i", id, "cat"), 0, `^from stdin\n$`)
		expect(t, docker(t, "exec", "-u", "1000", "-w", "/tmp", "-e", "FOO=bar", id, "sh", "-c", `echo "$(id -u) $(pwd) $FOO"`), 0, `^1000 /tmp bar\n$`)
		// Same pid namespace as the container's init: pid 1 is sleep.
		expect(t, docker(t, "exec", id, "cat", "/proc/1/cmdline"), 0, `^sleep`)
		pid := strconv.Itoa(dockerPid(t, id))
		expect(t, docker(t, "exec", id, "readlink", "/proc/self/ns/pid"), 0, "^"+regexp.QuoteMeta(nsLink(t, pid, "pid"))+"\n$")
		// Docker 20.10 gives 126 for an exec of a missing command, with
		// runc's message.
		r := docker(t, "exec", id, "nosuchcmd")
		expect(t, r, 126, `exec: "nosuchcmd": executable file not found in \$PATH: unknown`)
		// The shim took that message from the last error line of the
		// runtime's --log file in the bundle: lower-case level, RFC 3339
		// time.
		logJSON := filepath.Join(containerdDir, "state", "io.containerd.runtime.v2.task", "moby", id, "log.json")
		lines := strings.Split(strings.TrimSpace(readFile(t, logJSON)), "\n")
		var entry struct{ Level, Msg, Time string }
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &entry); err != nil {
			t.Fatalf("log.json: %v: %q", err, lines)
		}
		if _, err := time.Parse(time.RFC3339, entry.Time); err != nil || entry.Level != "error" || !strings.Contains(entry.Msg, `exec: "nosuchcmd": executable file not found in $PATH`) {
			t.Fatalf("log.json's last line: %+v (time: %v)", entry, err)
		}
	})
	scenario(t, c, "exec-tty", func(t *testing.T) {
		id := dd(t, img, "sleep", "1000")
		p := startPty(t, 20, 80, dockerEnv, "/usr/bin/docker", "exec", "-it", id, "sh", "-c", sttyLoop)
		out, code := p.wait(60 * time.Second)
		if code != 0 || !regexp.MustCompile(`tty=/dev/pts/\d+ size=20 80`).MatchString(out) {
			t.Fatalf("exit %d, output %q", code, out)
		}
	})
	scenario(t, c, "pause-unpause", func(t *testing.T) {
		id := dd(t, img, "sleep", "1000")
		pid := dockerPid(t, id)
		expect(t, docker(t, "pause", id), 0, "")
		if s := inspect(t, id, "{{.State.Status}}"); s != "paused" {
			t.Fatalf("status %s", s)
		}
		if s := cgroupFile(t, pid, "freezer", "freezer.state"); s != "FROZEN" {
			t.Fatalf("freezer.state %s", s)
		}
		r := docker(t, "exec", id, "true")
		if r.Code == 0 || !strings.Contains(r.Err, "is paused") {
			t.Fatalf("exec into a paused container: %s", r)
		}
		expect(t, docker(t, "unpause", id), 0, "")
		if s := cgroupFile(t, pid, "freezer", "freezer.state"); s != "THAWED" {
			t.Fatalf("freezer.state %s", s)
		}
		if s := inspect(t, id, "{{.State.Status}}"); s != "running" {
			t.Fatalf("status %s", s)
		}
		expect(t, docker(t, "exec", id, "echo", "ok"), 0, `^ok\n$`)
	})
	scenario(t, c, "top", func(t *testing.T) {
		id := dd(t, img, "sleep", "1000")
		pid := dockerPid(t, id)
		r := docker(t, "top", id)
		expect(t, r, 0, `(?m)^\S+\s+`+strconv.Itoa(pid)+`\s.*sleep 1000$`)
	})
	scenario(t, c, "stats", func(t *testing.T) {
		id := dd(t, "--memory", "64m", img, "sleep", "1000")
		r := docker(t, "stats", "--no-stream", "--format", "{{.MemUsage}}|{{.PIDs}}", id)
		expect(t, r, 0, `^[0-9.]+[KMG]?i?B / 64MiB\|1\n$`)
	})
	scenario(t, c, "update", func(t *testing.T) {
		id := dd(t, "--memory", "64m", "--memory-swap", "128m", "--cpus", "0.5", "--pids-limit", "10", img, "sleep", "1000")
		pid := dockerPid(t, id)
		check := func(mem, swap, quota, pids string) {
			t.Helper()
			for _, f := range [][3]string{{"memory", "memory.limit_in_bytes", mem}, {"memory", "memory.memsw.limit_in_bytes", swap}, {"cpu", "cpu.cfs_quota_us", quota}, {"pids", "pids.max", pids}} {
				if got := cgroupFile(t, pid, f[0], f[1]); got != f[2] {
					t.Errorf("%s = %s, want %s", f[1], got, f[2])
				}
			}
		}
		check("67108864", "134217728", "50000", "10")
		// Up past the old swap limit (memsw must be written first), then down.
		expect(t, docker(t, "update", "--memory", "160m", "--memory-swap", "320m", "--cpus", "1.5", "--pids-limit", "30", id), 0, "")
		check("167772160", "335544320", "150000", "30")
		expect(t, docker(t, "update", "--memory", "48m", "--memory-swap", "96m", id), 0, "")
		check("50331648", "100663296", "150000", "30")
	})
	scenario(t, c, "stop-escalates-to-kill", func(t *testing.T) {
		// PID 1 has no TERM handler, so TERM does nothing: KILL after 2s.
		id := dd(t, img, "sleep", "1000")
		r := docker(t, "stop", "-t", "2", id)
		expect(t, r, 0, "")
		if r.Took < 2*time.Second {
			t.Fatalf("stop took %v, want >= 2s", r.Took)
		}
		if code := inspect(t, id, "{{.State.ExitCode}}"); code != "137" {
			t.Fatalf("exit code %s", code)
		}
	})
	scenario(t, c, "stop-term-trap", func(t *testing.T) {
		id := dd(t, img, "sh", "-c", `trap "exit 7" TERM; echo ready; while :; do sleep 0.1; done`)
		waitLogs(t, id, "ready")
		r := docker(t, "stop", id)
		expect(t, r, 0, "")
		if r.Took > 5*time.Second {
			t.Fatalf("stop took %v", r.Took)
		}
		if code := inspect(t, id, "{{.State.ExitCode}}"); code != "7" {
			t.Fatalf("exit code %s", code)
		}
	})
	scenario(t, c, "kill-signal", func(t *testing.T) {
		id := dd(t, img, "sh", "-c", `trap "echo got-usr1" USR1; echo ready; while :; do sleep 0.1; done`)
		waitLogs(t, id, "ready")
		expect(t, docker(t, "kill", "-s", "USR1", id), 0, "")
		waitLogs(t, id, "got-usr1")
		if s := inspect(t, id, "{{.State.Status}}"); s != "running" {
			t.Fatalf("status %s after USR1", s)
		}
		expect(t, docker(t, "kill", id), 0, "")
		expect(t, docker(t, "wait", id), 0, `^137\n$`)
	})
	scenario(t, c, "restart", func(t *testing.T) {
		id := dd(t, img, "sleep", "1000")
		pid := dockerPid(t, id)
		expect(t, docker(t, "restart", "-t", "1", id), 0, "")
		if s := inspect(t, id, "{{.State.Status}}"); s != "running" {
			t.Fatalf("status %s", s)
		}
		if p2 := dockerPid(t, id); p2 == pid {
			t.Fatalf("same pid %d after restart", pid)
		}
		expect(t, docker(t, "exec", id, "echo", "ok"), 0, `^ok\n$`)
	})
	scenario(t, c, "rm-force", func(t *testing.T) {
		r := docker(t, "run", "-d", "--runtime="+runtimeName, img, "sleep", "1000")
		expect(t, r, 0, "")
		id := strings.TrimSpace(r.Out)
		pid := dockerPid(t, id)
		expect(t, docker(t, "rm", "-f", id), 0, "")
		if r := docker(t, "inspect", id); r.Code == 0 {
			t.Fatalf("container still there")
		}
		if !poll(10*time.Second, func() bool { _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); return err != nil }) {
			t.Fatalf("pid %d still alive", pid)
		}
	})
	scenario(t, c, "limits-seen-inside", func(t *testing.T) {
		r := dr(t, "--memory", "64m", "--cpus", "0.5", "--pids-limit", "10", img, "cat",
			"/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/pids/pids.max")
		expect(t, r, 0, `^67108864\n50000\n10\n$`)
	})
	scenario(t, c, "pids-limit-enforced", func(t *testing.T) {
		r := dr(t, "--pids-limit", "10", img, "sh", "-c",
			`sh -c 'i=0; while [ $i -lt 20 ]; do sleep 100 & i=$((i+1)); done'; read n < /sys/fs/cgroup/pids/pids.current; echo $n; kill -9 -1`)
		// The forking shell dies at the limit; its sleeps stay, counted.
		expect(t, r, 0, `^(8|9|10)\n$`)
		if !strings.Contains(r.Err, "can't fork") {
			t.Fatalf("no fork failure: %s", r)
		}
	})
	scenario(t, c, "oom-kill", func(t *testing.T) {
		r := docker(t, "run", "-d", "--runtime="+runtimeName, "--memory", "32m", "--memory-swap", "32m", img, "sh", "-c", "tail /dev/zero")
		expect(t, r, 0, "")
		id := strings.TrimSpace(r.Out)
		t.Cleanup(func() { docker(t, "rm", "-f", id) })
		expect(t, docker(t, "wait", id), 0, `^137\n$`)
		if s := inspect(t, id, "{{.State.OOMKilled}}"); s != "true" {
			t.Fatalf("OOMKilled=%s", s)
		}
	})
	scenario(t, c, "read-only-tmpfs", func(t *testing.T) {
		r := dr(t, "--read-only", "--tmpfs", "/tmp", img, "sh", "-c", `touch /x 2>&1; touch /tmp/y && echo tmp-ok`)
		expect(t, r, 0, `Read-only file system\ntmp-ok\n$`)
	})
	scenario(t, c, "user-group-add", func(t *testing.T) {
		r := dr(t, "--user", "1000:1000", "--group-add", "1234", img, "sh", "-c", `id -u; id -g; id -G`)
		expect(t, r, 0, `^1000\n1000\n1000 1234\n$`)
	})
	scenario(t, c, "cap-drop-all", func(t *testing.T) {
		r := dr(t, "--cap-drop", "ALL", img, "grep", "^Cap", "/proc/self/status")
		expect(t, r, 0, "")
		for _, l := range strings.Split(strings.TrimSpace(r.Out), "\n") {
			if !strings.HasSuffix(l, "0000000000000000") {
				t.Errorf("%s", l)
			}
		}
	})
	scenario(t, c, "default-caps", func(t *testing.T) {
		expect(t, dr(t, img, "grep", "^CapEff", "/proc/self/status"), 0, `CapEff:\s+00000000a80425fb\n`)
	})
	scenario(t, c, "cap-add", func(t *testing.T) {
		r := dr(t, "--cap-add", "NET_ADMIN", img, "sh", "-c", `grep ^CapEff /proc/self/status; ip addr add 10.9.9.9/32 dev lo && echo added`)
		expect(t, r, 0, `CapEff:\s+00000000a80435fb\nadded\n`)
	})
	scenario(t, c, "network-none", func(t *testing.T) {
		expect(t, dr(t, "--network", "none", img, "ls", "/sys/class/net"), 0, `^lo\n$`)
	})
	scenario(t, c, "hostname-env-workdir", func(t *testing.T) {
		r := dr(t, "--hostname", "box1", "-e", "GREETING=hello there", "-w", "/tmp", img, "sh", "-c", `echo "$(hostname)|$GREETING|$(pwd)"`)
		expect(t, r, 0, `^box1\|hello there\|/tmp\n$`)
	})
	scenario(t, c, "volumes", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "in"), []byte("from host\n"), 0o644)
		r := dr(t, "-v", dir+":/data", img, "sh", "-c", `cat /data/in; echo from container > /data/out`)
		expect(t, r, 0, `^from host\n$`)
		if got := readFile(t, filepath.Join(dir, "out")); got != "from container\n" {
			t.Fatalf("out: %q", got)
		}
		r = dr(t, "-v", dir+":/data:ro", img, "sh", "-c", `cat /data/in; echo x > /data/out2`)
		if r.Code == 0 || !strings.Contains(r.Err, "Read-only file system") {
			t.Fatalf("write to :ro: %s", r)
		}
	})
	scenario(t, c, "tmpfs-size-shm-size", func(t *testing.T) {
		r := dr(t, "--tmpfs", "/scratch:size=10m", "--shm-size", "32m", img, "sh", "-c", `df -k /scratch /dev/shm | awk 'NR>1 {print $2}'`)
		expect(t, r, 0, `^10240\n32768\n$`)
	})
	scenario(t, c, "pid-namespace", func(t *testing.T) {
		// sh is 1; ps, its only other process, sees nothing of the host.
		expect(t, dr(t, img, "sh", "-c", `echo $$; ps -o pid,comm; true`), 0, `^1\nPID\s+COMMAND\n\s*1 sh\n\s*\d+ ps\n$`)
	})
	scenario(t, c, "init", func(t *testing.T) {
		r := dr(t, "--init", img, "sh", "-c", `cat /proc/1/cmdline | tr '\0' ' '; echo; echo $$`)
		expect(t, r, 0, `^/sbin/docker-init -- sh -c .*\n[0-9]+\n$`)
		if strings.HasSuffix(r.Out, "\n1\n") {
			t.Fatalf("the command is pid 1")
		}
	})
	scenario(t, c, "privileged", func(t *testing.T) {
		status := readFile(t, "/proc/self/status")
		m := regexp.MustCompile(`CapBnd:\s+([0-9a-f]+)`).FindStringSubmatch(status)
		bnd, _ := strconv.ParseUint(m[1], 16, 64)
		r := dr(t, "--privileged", img, "true")
		if bnd&(1<<24) != 0 { // CAP_SYS_RESOURCE
			expect(t, r, 0, "")
			return
		}
		// This host's bounding set lacks CAP_SYS_RESOURCE: every runtime
		// fails, and must say why.
		if r.Code == 0 || !regexp.MustCompile(`OCI runtime create failed: .*(caps|capabilit).*operation not permitted: unknown`).MatchString(r.Err) {
			t.Fatalf("want a clear capability error: %s", r)
		}
	})
	scenario(t, c, "cap-add-all-unconfined-mount", func(t *testing.T) {
		r := dr(t, "--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE", "--security-opt", "seccomp=unconfined", img, "sh", "-c", `mkdir /m && mount -t tmpfs none /m && grep " /m " /proc/mounts`)
		expect(t, r, 0, `^none /m tmpfs`)
	})
	scenario(t, c, "seccomp", func(t *testing.T) {
		expect(t, dr(t, img, "grep", "^Seccomp:", "/proc/self/status"), 0, `Seccomp:\s+2\n`)
		expect(t, dr(t, "--security-opt", "seccomp=unconfined", img, "grep", "^Seccomp:", "/proc/self/status"), 0, `Seccomp:\s+0\n`)
		// The default profile refuses what it does not list.
		r := dr(t, img, "sh", "-c", `unshare -U true 2>&1; echo rc=$?`)
		expect(t, r, 0, `Operation not permitted\nrc=1\n`)
	})
	scenario(t, c, "no-new-privileges", func(t *testing.T) {
		expect(t, dr(t, "--security-opt", "no-new-privileges", img, "grep", "^NoNewPrivs:", "/proc/self/status"), 0, `NoNewPrivs:\s+1\n`)
		expect(t, dr(t, img, "grep", "^NoNewPrivs:", "/proc/self/status"), 0, `NoNewPrivs:\s+0\n`)
	})
	scenario(t, c, "masked-readonly-paths", func(t *testing.T) {
		// Docker's masked paths that this kernel has read as empty; its
		// read-only ones refuse writes.
		script := ""
		for _, p := range []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/proc/latency_stats"} {
			if _, err := os.Stat(p); err == nil {
				script += fmt.Sprintf("echo %s=$(wc -c < %s);", p, p)
			}
		}
		script += `echo fw=$(ls /sys/firmware | wc -l); echo 1 > /proc/sys/kernel/domainname; grep -E " /proc/(bus|fs|irq|sys) " /proc/mounts`
		r := dr(t, img, "sh", "-c", script)
		expect(t, r, 0, "")
		for _, l := range strings.Split(strings.TrimSpace(r.Out), "\n") {
			if strings.HasPrefix(l, "/proc/") && !strings.HasSuffix(l, "=0") || strings.HasPrefix(l, "fw=") && l != "fw=0" {
				t.Errorf("not masked: %s", l)
			}
		}
		if !strings.Contains(r.Err, "Read-only file system") {
			t.Errorf("want a refused write: %s", r)
		}
		ro := regexp.MustCompile(`(?m)^\S+ /proc/(bus|fs|irq|sys) \S+ ro,`).FindAllString(r.Out, -1)
		if len(ro) != 4 {
			t.Errorf("want /proc/{bus,fs,irq,sys} read-only: %s", r)
		}
	})
	scenario(t, c, "ulimit-sysctl-oom-score-adj", func(t *testing.T) {
		r := dr(t, "--ulimit", "nofile=1024:2048", "--sysctl", "net.core.somaxconn=1234", "--oom-score-adj", "500", img, "sh", "-c",
			`ulimit -n; ulimit -Hn; cat /proc/sys/net/core/somaxconn /proc/self/oom_score_adj`)
		expect(t, r, 0, `^1024\n2048\n1234\n500\n$`)
	})
	scenario(t, c, "device", func(t *testing.T) {
		r := dr(t, "--device", "/dev/null:/dev/mynull", img, "sh", "-c", `echo x > /dev/mynull && stat -c '%t:%T %F' /dev/mynull`)
		expect(t, r, 0, `^1:3 character special file\n$`)
	})
	scenario(t, c, "host-pid-ipc-uts", func(t *testing.T) {
		r := dr(t, "--pid", "host", "--ipc", "host", "--uts", "host", img, "sh", "-c", `for n in pid ipc uts; do readlink /proc/self/ns/$n; done; hostname`)
		host, _ := os.Hostname()
		want := nsLink(t, "self", "pid") + "\n" + nsLink(t, "self", "ipc") + "\n" + nsLink(t, "self", "uts") + "\n" + host + "\n"
		if r.Code != 0 || r.Out != want {
			t.Fatalf("want %q: %s", want, r)
		}
		// Once the init of a --pid host container exits, the shim kills
		// what is left in its cgroup with kill --all.
		id := dd(t, "--pid", "host", img, "sh", "-c", "sleep 1000 & exec sleep 1001")
		pid := dockerPid(t, id)
		var procs []string
		poll(10*time.Second, func() bool {
			procs = strings.Fields(cgroupFile(t, pid, "pids", "cgroup.procs"))
			return len(procs) == 2
		})
		if len(procs) != 2 {
			t.Fatalf("want init and its child in the cgroup: %v", procs)
		}
		expect(t, docker(t, "stop", "-t", "1", id), 0, "")
		if s := inspect(t, id, "{{.State.Status}}"); s != "exited" {
			t.Fatalf("status %s", s)
		}
		for _, p := range procs {
			if !poll(10*time.Second, func() bool { _, err := os.Stat("/proc/" + p); return err != nil }) {
				t.Errorf("process %s (%s) survived the stop", p, cmdline(atoiTrim(p)))
			}
		}
	})
	scenario(t, c, "cp-wait", func(t *testing.T) {
		id := dd(t, img, "sh", "-c", `while [ ! -f /tmp/go ]; do sleep 0.05; done; exit $(cat /tmp/go)`)
		f := filepath.Join(t.TempDir(), "go")
		os.WriteFile(f, []byte("4\n"), 0o644)
		expect(t, docker(t, "cp", f, id+":/tmp/go"), 0, "")
		expect(t, docker(t, "wait", id), 0, `^4\n$`)
		out := filepath.Join(t.TempDir(), "back")
		expect(t, docker(t, "cp", id+":/tmp/go", out), 0, "")
		if got := readFile(t, out); got != "4\n" {
			t.Fatalf("cp back: %q", got)
		}
	})
	scenario(t, c, "bridge-ping", func(t *testing.T) {
		// A bridge network of this test, in the run's private network
		// namespace; dockerd sets the containers' eth0 up from the
		// prestart hook it puts in the spec.
		const net = "mrc-br"
		expect(t, docker(t, "network", "create", "--driver", "bridge", "--subnet", "10.213.7.0/24",
			"-o", "com.docker.network.bridge.name=mrcbr0", "-o", "com.docker.network.bridge.enable_ip_masquerade=false", net), 0, "")
		t.Cleanup(func() { docker(t, "network", "rm", net) })
		a := dd(t, "--network", net, "--name", "mrc-ping-a", img, "sleep", "1000")
		_ = a
		expect(t, dr(t, "--network", net, img, "ip", "-4", "-o", "addr", "show", "eth0"), 0, `inet 10\.213\.7\.`)
		expect(t, dr(t, "--network", net, img, "ping", "-c", "2", "-W", "5", "mrc-ping-a"), 0, `2 packets received`)
	})
}
