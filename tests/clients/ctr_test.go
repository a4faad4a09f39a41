package clients

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var ctrSeq atomic.Int64

// ctrID names a ctr container of this test.
func ctrID(t testing.TB) string {
	return fmt.Sprintf("ctr-%d-%d", os.Getpid(), ctrSeq.Add(1))
}

// ctrRunArgs is `ctr run` with the runtime under test and a cgroup of the
// run's tree.
func ctrRunArgs(id string, opts ...string) []string {
	args := []string{"-a", containerdSock(), "-n", ctrNS, "run", "--runc-binary", runtimeBin, "--cgroup", cgroupParent + "/ctr/" + id}
	return append(args, opts...)
}

// ctrRun runs a container in the foreground and removes it.
func ctrRun(t testing.TB, opts []string, cmd ...string) res {
	t.Helper()
	id := ctrID(t)
	args := append(ctrRunArgs(id, append([]string{"--rm"}, opts...)...), imageRef, id)
	t.Cleanup(func() { ctrRemove(t, id) })
	return command(t, 90*time.Second, nil, nil, "ctr", append(args, cmd...)...)
}

// ctrDetach starts a detached container and returns its id and pid.
func ctrDetach(t testing.TB, opts []string, cmd ...string) (string, int) {
	t.Helper()
	id := ctrID(t)
	args := append(ctrRunArgs(id, append([]string{"-d"}, opts...)...), imageRef, id)
	t.Cleanup(func() { ctrRemove(t, id) })
	expect(t, command(t, 90*time.Second, nil, nil, "ctr", append(args, cmd...)...), 0, "")
	return id, ctrTask(t, id).pid
}

func ctrRemove(t testing.TB, id string) {
	t.Helper()
	if r := ctr(quiet(t), ctrNS, "tasks", "ls", "-q"); strings.Contains(r.Out, id) {
		ctr(t, ctrNS, "tasks", "kill", "-a", "-s", "SIGKILL", id)
		poll(10*time.Second, func() bool { return ctrTask(quiet(t), id).status == "STOPPED" })
		ctr(t, ctrNS, "tasks", "rm", "-f", id)
	}
	if r := ctr(quiet(t), ctrNS, "containers", "ls", "-q"); strings.Contains(r.Out, id) {
		ctr(t, ctrNS, "containers", "rm", id)
	}
}

type ctrTaskInfo struct {
	pid    int
	status string
}

// ctrTask is the task's line of `ctr tasks ls`.
func ctrTask(t testing.TB, id string) ctrTaskInfo {
	t.Helper()
	r := ctr(t, ctrNS, "tasks", "ls")
	for _, l := range strings.Split(r.Out, "\n") {
		f := strings.Fields(l)
		if len(f) == 3 && f[0] == id {
			pid, _ := strconv.Atoi(f[1])
			return ctrTaskInfo{pid, f[2]}
		}
	}
	return ctrTaskInfo{}
}

func TestCtr(t *testing.T) {
	const c = "ctr"
	t.Run("setup", func(t *testing.T) {
		t.Cleanup(func() {
			if t.Failed() {
				record(c, false)
			}
		})
		needContainerd(t)
	})
	if containerdErr != nil || containerd == nil {
		t.FailNow()
	}

	scenario(t, c, "run-echo", func(t *testing.T) {
		expect(t, ctrRun(t, nil, "echo", "hi"), 0, `^hi\n$`)
	})
	scenario(t, c, "exit-code", func(t *testing.T) {
		expect(t, ctrRun(t, nil, "sh", "-c", "exit 3"), 3, "")
	})
	scenario(t, c, "missing-command", func(t *testing.T) {
		r := ctrRun(t, nil, "/nonexistent")
		if r.Code == 0 || !regexp.MustCompile(`OCI runtime create failed: .*exec: "/nonexistent": stat /nonexistent: no such file or directory: unknown`).MatchString(r.Err) {
			t.Fatalf("want the runtime's message from log.json: %s", r)
		}
	})
	scenario(t, c, "tty-size", func(t *testing.T) {
		id := ctrID(t)
		t.Cleanup(func() { ctrRemove(t, id) })
		args := append(ctrRunArgs(id, "--rm", "-t"), imageRef, id, "sh", "-c", sttyLoop)
		p := startPty(t, 33, 111, nil, "ctr", args...)
		out, code := p.wait(60 * time.Second)
		if code != 0 || !strings.Contains(out, "tty=/dev/pts/0 size=33 111") {
			t.Fatalf("exit %d, output %q", code, out)
		}
	})
	scenario(t, c, "tasks-exec", func(t *testing.T) {
		id, pid := ctrDetach(t, nil, "sleep", "1000")
		expect(t, ctr(t, ctrNS, "tasks", "exec", "--exec-id", "e1", id, "echo", "hi"), 0, `^hi\n$`)
		expect(t, ctr(t, ctrNS, "tasks", "exec", "--exec-id", "e2", id, "sh", "-c", "exit 6"), 6, "")
		expect(t, ctr(t, ctrNS, "tasks", "exec", "--exec-id", "e3", id, "readlink", "/proc/self/ns/pid"), 0,
			"^"+regexp.QuoteMeta(nsLink(t, strconv.Itoa(pid), "pid"))+"\n$")
		p := startPty(t, 21, 81, nil, "ctr", "-a", containerdSock(), "-n", ctrNS, "tasks", "exec", "-t", "--exec-id", "e4", id, "sh", "-c", sttyLoop)
		out, code := p.wait(60 * time.Second)
		if code != 0 || !regexp.MustCompile(`tty=/dev/pts/\d+ size=21 81`).MatchString(out) {
			t.Fatalf("exec -t: exit %d, output %q", code, out)
		}
	})
	scenario(t, c, "pause-resume", func(t *testing.T) {
		id, pid := ctrDetach(t, nil, "sleep", "1000")
		expect(t, ctr(t, ctrNS, "tasks", "pause", id), 0, "")
		if s := ctrTask(t, id).status; s != "PAUSED" {
			t.Fatalf("status %s", s)
		}
		if s := cgroupFile(t, pid, "freezer", "freezer.state"); s != "FROZEN" {
			t.Fatalf("freezer.state %s", s)
		}
		expect(t, ctr(t, ctrNS, "tasks", "resume", id), 0, "")
		if s := ctrTask(t, id).status; s != "RUNNING" {
			t.Fatalf("status %s", s)
		}
		if s := cgroupFile(t, pid, "freezer", "freezer.state"); s != "THAWED" {
			t.Fatalf("freezer.state %s", s)
		}
	})
	scenario(t, c, "tasks-ps", func(t *testing.T) {
		id, pid := ctrDetach(t, nil, "sh", "-c", "sleep 1000 & wait")
		var r res
		if !poll(10*time.Second, func() bool {
			r = ctr(quiet(t), ctrNS, "tasks", "ps", id)
			return len(regexp.MustCompile(`(?m)^\d+\s`).FindAllString(r.Out, -1)) == 2
		}) {
			t.Fatalf("want two processes: %s", r)
		}
		expect(t, r, 0, `(?m)^`+strconv.Itoa(pid)+`\s`)
	})
	scenario(t, c, "kill", func(t *testing.T) {
		id, _ := ctrDetach(t, nil, "sh", "-c", `trap "exit 9" USR1; while :; do sleep 0.1; done`)
		// Wait for the trap to be set: the shell has forked a sleep.
		poll(10*time.Second, func() bool {
			return strings.Count(ctr(quiet(t), ctrNS, "tasks", "ps", id).Out, "\n") >= 3
		})
		expect(t, ctr(t, ctrNS, "tasks", "kill", "-s", "SIGUSR1", id), 0, "")
		if !poll(10*time.Second, func() bool { return ctrTask(quiet(t), id).status == "STOPPED" }) {
			t.Fatalf("still %s", ctrTask(t, id).status)
		}
		id2, _ := ctrDetach(t, nil, "sleep", "1000")
		expect(t, ctr(t, ctrNS, "tasks", "kill", "-s", "SIGKILL", id2), 0, "")
		if !poll(10*time.Second, func() bool { return ctrTask(quiet(t), id2).status == "STOPPED" }) {
			t.Fatalf("still %s", ctrTask(t, id2).status)
		}
		expect(t, ctr(t, ctrNS, "tasks", "rm", id2), 0, "")
	})
	scenario(t, c, "memory-limit", func(t *testing.T) {
		_, pid := ctrDetach(t, []string{"--memory-limit", "67108864"}, "sleep", "1000")
		if s := cgroupFile(t, pid, "memory", "memory.limit_in_bytes"); s != "67108864" {
			t.Fatalf("memory.limit_in_bytes %s", s)
		}
	})
	scenario(t, c, "net-host", func(t *testing.T) {
		r := ctrRun(t, []string{"--net-host"}, "readlink", "/proc/self/ns/net")
		expect(t, r, 0, "^"+regexp.QuoteMeta(nsLink(t, "self", "net"))+"\n$")
		r = ctrRun(t, nil, "readlink", "/proc/self/ns/net")
		if r.Code != 0 || strings.Contains(r.Out, nsLink(t, "self", "net")) {
			t.Fatalf("want a network namespace of its own: %s", r)
		}
	})
}
