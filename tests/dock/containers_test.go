package dock

import (
	"github.com/minirunc/minirunc/tests/testenv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRunLogsPsRmAndLayout(t *testing.T) {
	e := NewEnv(t)
	imageID := e.ImportBusybox()
	// The import: one layer, the tar as it was given, its diff ID its
	// chain ID, with no parent; the image config under its ID.
	tarData, err := os.ReadFile(busyboxTar)
	if err != nil {
		t.Fatal(err)
	}
	diffID := "sha256:" + sha256Hex(string(tarData))
	img := e.Inspect("busybox:local")
	if layers := img["RootFS"].(map[string]any)["Layers"].([]any); img["Id"] != imageID || len(layers) != 1 || layers[0] != diffID {
		t.Fatalf("imported image %v: layers %v, want [%s]", img["Id"], layers, diffID)
	}
	if ldb := e.layerdbEntries(); len(ldb) != 1 || "sha256:"+ldb[0] != diffID {
		t.Fatalf("layerdb after import: %v", ldb)
	}
	ldbDir := filepath.Join(e.Root, "image/overlay2/layerdb/sha256", strings.TrimPrefix(diffID, "sha256:"))
	if _, err := os.Stat(filepath.Join(ldbDir, "parent")); err == nil || readFile(t, filepath.Join(ldbDir, "diff")) != diffID {
		t.Fatalf("layerdb entry of the imported layer")
	}
	if cfg, err := os.ReadFile(filepath.Join(e.Root, "image/overlay2/imagedb/content/sha256", strings.TrimPrefix(imageID, "sha256:"))); err != nil || "sha256:"+sha256Hex(string(cfg)) != imageID {
		t.Fatalf("imagedb content of %s: %v", imageID, err)
	}
	id := strings.TrimSpace(e.MustRun("run", "-d", "--name", "web", "-e", "GREETING=hi", "busybox:local",
		"sh", "-c", "echo $GREETING; echo oops >&2; hostname; cat /.dockerenv /etc/hostname; readlink /etc/mtab; exec sleep 1000"))
	if len(id) != 64 {
		t.Fatalf("run -d printed %q", id)
	}
	e.WaitStatus("web", "running", 5*time.Second)
	// The overlay: lowerdir = the init layer, then the image's layer.
	mountID := readFile(t, filepath.Join(e.Root, "image/overlay2/layerdb/mounts", id, "mount-id"))
	if init := readFile(t, filepath.Join(e.Root, "image/overlay2/layerdb/mounts", id, "init-id")); init != mountID+"-init" {
		t.Fatalf("init-id %q", init)
	}
	initLink := readFile(t, filepath.Join(e.Root, "overlay2", mountID+"-init", "link"))
	lower := readFile(t, filepath.Join(e.Root, "overlay2", mountID, "lower"))
	if !strings.HasPrefix(lower, "l/"+initLink+":l/") || strings.Count(lower, ":") != 1 {
		t.Fatalf("rw lower %q (init link %s)", lower, initLink)
	}
	if tgt, _ := os.Readlink(filepath.Join(e.Root, "overlay2", mountID+"-init/diff/etc/mtab")); tgt != "/proc/mounts" {
		t.Fatalf("init layer mtab -> %q", tgt)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if !strings.Contains(string(mi), "lowerdir="+lower) {
		t.Fatalf("overlay mount with lowerdir=%s not found", lower)
	}
	deadline := time.Now().Add(5 * time.Second)
	var logs, logErr string
	for time.Now().Before(deadline) {
		logs, logErr, _ = e.Run("logs", "web")
		if strings.Contains(logs, "/proc/mounts") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if want := "hi\n" + id[:12] + "\n" + id[:12] + "\n/proc/mounts\n"; logs != want || logErr != "oops\n" {
		t.Fatalf("logs: %q / %q, want %q / oops", logs, logErr, want)
	}
	raw := readFile(t, filepath.Join(e.Root, "containers", id, id+"-json.log"))
	if !strings.Contains(raw, `{"log":"hi\n","stream":"stdout","time":"`) {
		t.Fatalf("json-file log: %s", raw)
	}
	ps := e.MustRun("ps")
	if !strings.Contains(ps, id[:12]) || !strings.Contains(ps, "Up ") || !strings.Contains(ps, "web") {
		t.Fatalf("ps: %s", ps)
	}
	_, stderr, code := e.Run("rm", "web")
	oneLine(t, "rm of a running container", stderr, code)
	if !strings.Contains(stderr, "Stop the container") {
		t.Fatalf("rm of running: %d %q", code, stderr)
	}
	e.WaitStatus("web", "running", time.Second)
	e.MustRun("rm", "-f", "web")
	if out := e.MustRun("ps", "-aq"); out != "" {
		t.Fatalf("ps -aq after rm: %q", out)
	}
	for _, d := range []string{"containers", "image/overlay2/layerdb/mounts"} {
		ents, _ := os.ReadDir(filepath.Join(e.Root, d))
		for _, x := range ents {
			if !strings.HasPrefix(x.Name(), ".") {
				t.Fatalf("%s left in %s", x.Name(), d)
			}
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(e.Root, "overlay2")); len(ents) != 2 {
		t.Fatalf("overlay2 has %d entries, want the image layer and l/", len(ents))
	}
}

func TestForegroundExitCodesStdinAndRm(t *testing.T) {
	e := NewEnv(t)
	e.ImportBusybox()
	out, stderr, code := e.Run("run", "--rm", "busybox:local", "sh", "-c", "echo out; echo err >&2; exit 7")
	if code != 7 || out != "out\n" || stderr != "err\n" {
		t.Fatalf("run: %d %q %q", code, out, stderr)
	}
	out, _, code = e.RunIn([]byte("from stdin\n"), "run", "--rm", "-i", "busybox:local", "cat")
	if code != 0 || out != "from stdin\n" {
		t.Fatalf("run -i: %d %q", code, out)
	}
	_, stderr, code = e.Run("run", "--rm", "busybox:local", "nosuchcmd")
	if code != 127 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Fatalf("not found: %d %q", code, stderr)
	}
	_, _, code = e.Run("run", "--rm", "busybox:local", "/etc/passwd")
	if code != 126 {
		t.Fatalf("not executable: %d", code)
	}
	if out := e.MustRun("ps", "-aq"); out != "" {
		t.Fatalf("--rm left %q", out)
	}
	// -d --rm: the monitor removes the container when it exits.
	id := strings.TrimSpace(e.MustRun("run", "-d", "--rm", "busybox:local", "sleep", "0.3"))
	waitUntil(t, "the -d --rm container to be removed and its monitor gone", 10*time.Second, func() bool {
		out, _, _ := e.Run("ps", "-aq", "--no-trunc")
		return out == "" && len(e.monitors()) == 0
	})
	for _, p := range []string{"containers/" + id, "image/overlay2/layerdb/mounts/" + id} {
		if _, err := os.Stat(filepath.Join(e.Root, p)); err == nil {
			t.Fatalf("-d --rm left %s", p)
		}
	}
	if l := e.overlayLayers(); len(l) != 1 {
		t.Fatalf("-d --rm left layers: %v", l)
	}
}

func TestStopKillPauseExecWait(t *testing.T) {
	e := NewEnv(t)
	e.ImportBusybox()
	// sh as PID 1 ignores SIGTERM: stop must SIGKILL after -t.
	e.MustRun("run", "-d", "--name", "c1", "busybox:local", "sh", "-c", "while true; do sleep 0.1; done")
	e.WaitStatus("c1", "running", 5*time.Second)
	if out := e.MustRun("exec", "c1", "sh", "-c", "echo $$; cat /proc/1/cmdline"); !strings.Contains(out, "while true") {
		t.Fatalf("exec: %q", out)
	}
	if _, _, code := e.Run("exec", "c1", "sh", "-c", "exit 5"); code != 5 {
		t.Fatalf("exec exit code %d", code)
	}
	e.MustRun("pause", "c1")
	e.WaitStatus("c1", "paused", time.Second)
	if st := freezerState(t, e.Inspect("c1")["Id"].(string)); st != "FROZEN" && st != "1" {
		t.Fatalf("paused, the container's freezer is %q", st)
	}
	if _, stderr, code := e.Run("exec", "c1", "true"); code != 125 || !strings.Contains(stderr, "paused") {
		t.Fatalf("exec in paused: %d %q", code, stderr)
	}
	e.MustRun("unpause", "c1")
	if st := freezerState(t, e.Inspect("c1")["Id"].(string)); st != "THAWED" && st != "0" {
		t.Fatalf("unpaused, the container's freezer is %q", st)
	}
	start := time.Now()
	e.MustRun("stop", "-t", "1", "c1")
	if d := time.Since(start); d < 900*time.Millisecond || d > 8*time.Second {
		t.Fatalf("stop -t 1 took %v", d)
	}
	st := e.Inspect("c1")["State"].(map[string]any)
	if st["ExitCode"].(float64) != 137 || st["Status"] != "exited" {
		t.Fatalf("after stop: %v", st)
	}
	// The monitor recorded the finish time: after the start, by about
	// the -t second.
	started, err1 := time.Parse(time.RFC3339Nano, st["StartedAt"].(string))
	finished, err2 := time.Parse(time.RFC3339Nano, st["FinishedAt"].(string))
	if err1 != nil || err2 != nil || finished.Before(started.Add(time.Second)) || time.Since(finished) > time.Minute {
		t.Fatalf("StartedAt %v, FinishedAt %v: %v %v", st["StartedAt"], st["FinishedAt"], err1, err2)
	}
	// A process that handles SIGTERM exits with its own code.
	e.MustRun("run", "-d", "--name", "c2", "busybox:local", "sh", "-c", "trap 'exit 3' TERM; while true; do sleep 0.1; done")
	e.WaitStatus("c2", "running", 5*time.Second)
	time.Sleep(200 * time.Millisecond)
	e.MustRun("stop", "c2")
	if out := strings.TrimSpace(e.MustRun("wait", "c2")); out != "3" {
		t.Fatalf("wait: %q", out)
	}
	// start again; restart gives a new process; then kill.
	e.MustRun("start", "c2")
	e.WaitStatus("c2", "running", 5*time.Second)
	pid1 := e.Inspect("c2")["State"].(map[string]any)["Pid"].(float64)
	time.Sleep(200 * time.Millisecond) // the trap is set
	e.MustRun("restart", "-t", "5", "c2")
	e.WaitStatus("c2", "running", 5*time.Second)
	if pid2 := e.Inspect("c2")["State"].(map[string]any)["Pid"].(float64); pid2 == pid1 || pid2 <= 0 || processAlive(int(pid1)) {
		t.Fatalf("restart: pid %v then %v", pid1, pid2)
	}
	if out := e.MustRun("exec", "c2", "cat", "/proc/1/cmdline"); !strings.Contains(out, "trap") {
		t.Fatalf("after restart, PID 1 is %q", out)
	}
	e.MustRun("kill", "c2")
	if out := strings.TrimSpace(e.MustRun("wait", "c2")); out != "137" {
		t.Fatalf("wait after kill: %q", out)
	}
	e.MustRun("rm", "c1", "c2")
}

func TestLimitsAndOptions(t *testing.T) {
	e := NewEnv(t)
	e.ImportBusybox()
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "f"), []byte("from host\n"), 0o644)
	id := strings.TrimSpace(e.MustRun("run", "-d", "--memory", "64m", "--pids-limit", "50", "--cpus", "0.5",
		"-v", host+":/mnt:ro", "--tmpfs", "/scratch", "--read-only", "-w", "/mnt", "-u", "1000",
		"--hostname", "box", "--cap-drop", "ALL", "--cap-add", "NET_BIND_SERVICE",
		"busybox:local", "sleep", "1000"))
	e.WaitStatus(id, "running", 5*time.Second)
	out := e.MustRun("exec", id, "sh", "-c",
		"cat f; pwd; id -u; hostname; touch /x 2>/dev/null || echo rootro; touch f 2>/dev/null || echo bindro; touch /scratch/ok && echo tmpfsrw; grep CapBnd /proc/self/status")
	want := "from host\n/mnt\n1000\nbox\nrootro\nbindro\ntmpfsrw\nCapBnd:\t0000000000000400\n"
	if out != want {
		t.Fatalf("inside: %q, want %q", out, want)
	}
	// The limits, seen on the container's cgroup.
	checked := 0
	for _, h := range testenv.CgroupMounts() {
		d := filepath.Join(h, cgroupParent, id)
		if b, err := os.ReadFile(filepath.Join(d, "memory.limit_in_bytes")); err == nil {
			checked++
			if strings.TrimSpace(string(b)) != strconv.Itoa(64<<20) {
				t.Fatalf("memory limit %s", b)
			}
		}
		if b, err := os.ReadFile(filepath.Join(d, "pids.max")); err == nil {
			checked++
			if strings.TrimSpace(string(b)) != "50" {
				t.Fatalf("pids.max %s", b)
			}
		}
		if b, err := os.ReadFile(filepath.Join(d, "cpu.cfs_quota_us")); err == nil {
			checked++
			if strings.TrimSpace(string(b)) != "50000" {
				t.Fatalf("cfs quota %s", b)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no cgroup files found for the container")
	}
	// The same limits seen from inside the container (its own cgroup at
	// /sys/fs/cgroup, v1 or v2), and the pids limit holds there: the
	// shell, which dies at the first fork that fails, makes no more
	// processes than the limit leaves (50, less sleep and itself): below.
	out = e.MustRun("exec", id, "sh", "-c", `
		cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max
		cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max
		cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cut -d' ' -f1 /sys/fs/cgroup/cpu.max`)
	if want := "67108864\n50\n50000\n"; out != want {
		t.Fatalf("limits inside: %q, want %q", out, want)
	}
	// The default seccomp profile is there; unconfined turns it off.
	if out := e.MustRun("exec", id, "grep", "Seccomp:", "/proc/self/status"); !strings.Contains(out, "2") {
		t.Fatalf("seccomp: %q", out)
	}
	out = e.MustRun("run", "--rm", "--security-opt", "seccomp=unconfined", "--security-opt", "no-new-privileges",
		"busybox:local", "grep", "-E", "^(Seccomp|NoNewPrivs):", "/proc/self/status")
	if !strings.Contains(out, "NoNewPrivs:\t1") || !strings.Contains(out, "Seccomp:\t0") {
		t.Fatalf("unconfined: %q", out)
	}
	// Last, as it leaves the container full for a few seconds.
	out, stderr, code := e.Run("exec", id, "sh", "-c", `i=0; while [ $i -lt 60 ]; do sleep 3 & i=$((i+1)); echo $i; done`)
	lines := strings.Fields(out)
	made := -1
	if len(lines) > 0 {
		made, _ = strconv.Atoi(lines[len(lines)-1])
	}
	if code == 0 || !strings.Contains(stderr, "can't fork") || made > 48 || made < 45 {
		t.Fatalf("60 processes with --pids-limit 50: exit %d, %q, made %v", code, stderr, lines)
	}
}

func TestRestartOnFailure(t *testing.T) {
	e := NewEnv(t)
	e.ImportBusybox()
	e.MustRun("run", "-d", "--name", "rr", "--restart", "on-failure:2", "busybox:local", "sh", "-c", "echo run; exit 2")
	deadline := time.Now().Add(15 * time.Second)
	for {
		st := e.Inspect("rr")
		if st["State"].(map[string]any)["Status"] == "exited" && st["RestartCount"].(float64) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not restarted twice: %v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if logs := e.MustRun("logs", "rr"); logs != "run\nrun\nrun\n" {
		t.Fatalf("logs: %q", logs)
	}
}

func TestMonitorKilled(t *testing.T) {
	e := NewEnv(t)
	e.ImportBusybox()
	e.MustRun("run", "-d", "--name", "mm", "busybox:local", "sleep", "1000")
	e.WaitStatus("mm", "running", 5*time.Second)
	c := e.Inspect("mm")
	id := c["Id"].(string)
	pid := int(c["State"].(map[string]any)["MonitorPid"].(float64))
	ctrPid := int(c["State"].(map[string]any)["Pid"].(float64))
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100 && processAlive(pid); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	ps := e.MustRun("ps", "-a")
	if !strings.Contains(ps, "Exited (137)") {
		t.Fatalf("ps -a after the monitor died: %s", ps)
	}
	// The truth is made true: the container's process is gone, its
	// overlay unmounted, the runtime's state deleted.
	if processAlive(ctrPid) {
		t.Fatalf("the container's process %d lives on after ps -a", ctrPid)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), id) {
		t.Fatalf("the container's overlay is still mounted after ps -a")
	}
	if _, err := os.Stat(filepath.Join(e.ExecRoot, "runtime", id)); err == nil {
		t.Fatalf("the runtime's state is left after ps -a")
	}
	if st := e.Inspect("mm")["State"].(map[string]any); st["Status"] != "exited" || st["Running"] != false || st["FinishedAt"] == "" {
		t.Fatalf("inspect after the monitor died: %v", st)
	}
	e.MustRun("rm", "mm")
	for _, p := range []string{"containers/" + id, "image/overlay2/layerdb/mounts/" + id} {
		if _, err := os.Stat(filepath.Join(e.Root, p)); err == nil {
			t.Fatalf("rm left %s", p)
		}
	}
	if l := e.overlayLayers(); len(l) != 1 {
		t.Fatalf("rm left layers: %v", l)
	}
}

// freezerState reads the container's freezer: v1's freezer.state or v2's
// cgroup.freeze.
func freezerState(t *testing.T, id string) string {
	t.Helper()
	for _, h := range testenv.CgroupMounts() {
		for _, f := range []string{"freezer.state", "cgroup.freeze"} {
			if b, err := os.ReadFile(filepath.Join(h, cgroupParent, id, f)); err == nil {
				return strings.TrimSpace(string(b))
			}
		}
	}
	t.Fatalf("no freezer file for %s", id)
	return ""
}

func processAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && !strings.Contains(string(b), ") Z ")
}

func TestBadInput(t *testing.T) {
	e := NewEnv(t)
	e.ImportBusybox()
	e.MustRun("create", "--name", "taken", "busybox:local")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown image", []string{"run", "nosuch:image"}, "unable to find image"},
		{"name in use", []string{"run", "--name", "taken", "busybox:local", "true"}, "already in use"},
		{"bad -v", []string{"run", "-v", "relative:/x", "busybox:local", "true"}, "invalid volume"},
		{"bad -v mode", []string{"run", "-v", "/tmp:/x:rx", "busybox:local", "true"}, "invalid volume"},
		{"bad network", []string{"run", "--network", "nosuch", "busybox:local", "true"}, "not supported"},
		{"bad cap", []string{"run", "--cap-add", "NOPE", "busybox:local", "true"}, "unknown capability"},
		{"rmi in use", []string{"rmi", "busybox:local"}, "is using its referenced image"},
		{"unknown container", []string{"rm", "nosuch"}, "no such container"},
		{"bad import", []string{"import", "/nonexistent.tar"}, "no such file"},
		{"bad -p", []string{"run", "-p", "8080", "busybox:local", "true"}, "invalid port specification"},
		{"bad -p port", []string{"run", "-p", "127.0.0.1:70000:80", "busybox:local", "true"}, "invalid port specification"},
		{"bad -p address", []string{"run", "-p", "300.1.1.1:8080:80", "busybox:local", "true"}, "invalid port specification"},
		{"bad -p protocol", []string{"run", "-p", "8080:80/sctp", "busybox:local", "true"}, "invalid port specification"},
		{"-p twice", []string{"run", "-p", "8080:80", "-p", "8080:81", "busybox:local", "true"}, "published twice"},
	}
	before := e.MustRun("ps", "-aq")
	beforeLayers := e.overlayLayers()
	for _, c := range cases {
		_, stderr, code := e.Run(c.args...)
		if code != 125 || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%s: exit %d, stderr %q (want 125 and %q on one line)", c.name, code, stderr, c.want)
		}
	}
	if after := e.MustRun("ps", "-aq"); after != before {
		t.Fatalf("a failed command left a container: %q vs %q", after, before)
	}
	// Nothing half-made: one container dir, one mounts record, the layer
	// dirs as they were (the image's and the created container's), no
	// address taken.
	for _, d := range []string{"containers", "image/overlay2/layerdb/mounts"} {
		var ids []string
		ents, _ := os.ReadDir(filepath.Join(e.Root, d))
		for _, x := range ents {
			if !strings.HasPrefix(x.Name(), ".") { // .locks
				ids = append(ids, x.Name())
			}
		}
		if len(ids) != 1 {
			t.Fatalf("%s: %v", d, ids)
		}
	}
	if after := e.overlayLayers(); strings.Join(after, " ") != strings.Join(beforeLayers, " ") {
		t.Fatalf("overlay2 dirs %v, before the bad commands %v", after, beforeLayers)
	}
	if allocs, _ := filepath.Glob(filepath.Join(e.Root, "network", "*.json")); len(allocs) > 0 {
		t.Fatalf("address allocations left: %v", allocs)
	}
	e.MustRun("rm", "taken")
	e.MustRun("rmi", "busybox:local")
	assertNoImages(t, e)
}
