package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// adoptOrphans makes the test process the child subreaper for the rest of
// the test and reaps the zombies it adopts, as a containerd shim does.
// Without it a process left by a dead minirunc (an exec'd program, an
// orphaned init) is reparented to this machine's pid 1, which reaps only
// every few seconds, and a pid namespace cannot finish dying while a
// zombie of it waits. Only adopted processes are reaped: the test's own
// minirunc calls (comm "minirunc...") are left to their exec.Cmd, and a
// test that adopts orphans must start no other program of its own.
func adoptOrphans(t *testing.T) {
	t.Helper()
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatalf("PR_SET_CHILD_SUBREAPER: %v", err)
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			reapAdopted()
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
		_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
	})
}

// reapAdopted reaps every zombie child of this process that is not a
// minirunc call.
func reapAdopted() {
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, task := range tasks {
		data, _ := os.ReadFile(filepath.Join("/proc/self/task", task.Name(), "children"))
		for _, f := range strings.Fields(string(data)) {
			pid, err := strconv.Atoi(f)
			if err != nil {
				continue
			}
			stat, err := os.ReadFile("/proc/" + f + "/stat")
			if err != nil {
				continue
			}
			s := string(stat)
			open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
			if open < 0 || end < open {
				continue
			}
			comm, rest := s[open+1:end], strings.Fields(s[end+1:])
			if len(rest) == 0 || rest[0] != "Z" || strings.HasPrefix(comm, "minirunc") {
				continue
			}
			var ws unix.WaitStatus
			_, _ = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		}
	}
}
