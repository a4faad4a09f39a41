package dock

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNamespacesHost: --pid, --ipc and --uts host give the container the
// host's namespaces (and, for --ipc host, the host's /dev/shm), the
// default gives it its own.
func TestNamespacesHost(t *testing.T) {
	e := NewEnv(t)
	e.ImportBusybox()
	hostComm, err := os.ReadFile("/proc/1/comm")
	if err != nil {
		t.Fatal(err)
	}
	// --pid host: PID 1 is the host's, the container's own processes are
	// not PID 1.
	if out := e.MustRun("run", "--rm", "--pid", "host", "busybox:local", "cat", "/proc/1/comm"); out != string(hostComm) {
		t.Fatalf("--pid host: /proc/1/comm %q, the host's is %q", out, hostComm)
	}
	if out := e.MustRun("run", "--rm", "busybox:local", "sh", "-c", "echo $$"); out != "1\n" {
		t.Fatalf("own PID namespace: the shell is pid %q", out)
	}
	if out := e.MustRun("run", "--rm", "--pid", "host", "busybox:local", "sh", "-c", "echo $$"); out == "1\n" {
		t.Fatalf("--pid host: the shell is pid 1")
	}

	// --uts host: the host's hostname, in /etc/hostname too.
	host, _ := os.Hostname()
	if out := e.MustRun("run", "--rm", "--uts", "host", "busybox:local", "sh", "-c", "hostname; cat /etc/hostname"); out != host+"\n"+host+"\n" {
		t.Fatalf("--uts host: %q, the host is %q", out, host)
	}
	if out := e.MustRun("run", "--rm", "--hostname", "own", "busybox:local", "hostname"); out != "own\n" {
		t.Fatalf("own UTS namespace: %q", out)
	}
	_, stderr, code := e.Run("run", "--rm", "--uts", "host", "--hostname", "x", "busybox:local", "true")
	oneLine(t, "--uts host --hostname", stderr, code)
	if !strings.Contains(stderr, "conflicting options: hostname and the UTS mode") {
		t.Fatalf("--uts host --hostname: %q", stderr)
	}

	// --ipc host: the host's IPC namespace and its /dev/shm.
	hostIPC, err := os.Readlink("/proc/self/ns/ipc")
	if err != nil {
		t.Fatal(err)
	}
	marker := fmt.Sprintf("minidock-test-%d", os.Getpid())
	if err := os.WriteFile(filepath.Join("/dev/shm", marker), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(filepath.Join("/dev/shm", marker)) })
	out := e.MustRun("run", "--rm", "--ipc", "host", "busybox:local", "sh", "-c", "readlink /proc/self/ns/ipc; cat /dev/shm/"+marker)
	if out != hostIPC+"\nfrom the host\n" {
		t.Fatalf("--ipc host: %q, the host's is %q", out, hostIPC)
	}
	out = e.MustRun("run", "--rm", "busybox:local", "sh", "-c", "readlink /proc/self/ns/ipc; ls /dev/shm")
	if strings.Contains(out, hostIPC) || strings.Contains(out, marker) {
		t.Fatalf("private IPC sees the host's: %q", out)
	}
	// --ipc none: an IPC namespace of its own and no /dev/shm mount.
	if out := e.MustRun("run", "--rm", "--ipc", "none", "busybox:local", "sh", "-c", "grep -c ' /dev/shm ' /proc/mounts || true"); out != "0\n" {
		t.Fatalf("--ipc none: /dev/shm mounts %q", out)
	}
}

// TestNamespacesContainer: --pid, --ipc and --uts container:X join X's
// namespaces; X must be running (and, for IPC, shareable), and a bad
// value or an unknown container leaves nothing behind.
func TestNamespacesContainer(t *testing.T) {
	e := NewEnv(t)
	e.ImportBusybox()
	e.MustRun("run", "-d", "--name", "nsa", "--hostname", "nsahost", "--ipc", "shareable", "busybox:local",
		"sh", "-c", "echo shared-by-a > /dev/shm/marker && exec sleep 1000")
	e.MustRun("run", "-d", "--name", "nspriv", "busybox:local", "sleep", "1000")
	e.MustRun("create", "--name", "nsstopped", "busybox:local", "true")
	// Wait for a's marker: its shell has run once sleep is its pid 1.
	var aIPC string
	for i := 0; i < 100 && !strings.HasPrefix(aIPC, "ipc:"); i++ {
		out, _, _ := e.Run("exec", "nsa", "sh", "-c", "cat /dev/shm/marker >/dev/null && readlink /proc/self/ns/ipc")
		aIPC = strings.TrimSpace(out)
	}

	// --pid container:nsa sees a's sleep as PID 1, and a's processes.
	if out := e.MustRun("run", "--rm", "--pid", "container:nsa", "busybox:local", "cat", "/proc/1/comm"); out != "sleep\n" {
		t.Fatalf("--pid container:nsa: pid 1 is %q, want a's sleep", out)
	}
	// --ipc container:nsa: the same IPC namespace and the same /dev/shm.
	out := e.MustRun("run", "--rm", "--ipc", "container:nsa", "busybox:local", "sh", "-c", "readlink /proc/self/ns/ipc; cat /dev/shm/marker; echo from-b > /dev/shm/back")
	if out != aIPC+"\nshared-by-a\n" {
		t.Fatalf("--ipc container:nsa: %q, a's namespace is %q", out, aIPC)
	}
	if out := e.MustRun("exec", "nsa", "cat", "/dev/shm/back"); out != "from-b\n" {
		t.Fatalf("a does not see b's /dev/shm file: %q", out)
	}
	// --uts container:nsa: a's hostname.
	if out := e.MustRun("run", "--rm", "--uts", "container:nsa", "busybox:local", "sh", "-c", "hostname; cat /etc/hostname"); out != "nsahost\nnsahost\n" {
		t.Fatalf("--uts container:nsa: %q", out)
	}
	// By ID as well as by name.
	idA := e.Inspect("nsa")["Id"].(string)
	if out := e.MustRun("run", "--rm", "--pid", "container:"+idA[:12], "busybox:local", "cat", "/proc/1/comm"); out != "sleep\n" {
		t.Fatalf("--pid container:<id>: %q", out)
	}

	// Refused, each with one line, exit 125 and nothing left on disk.
	layersBefore := overlayDirs(t, e)
	psBefore := e.MustRun("ps", "-a", "-q")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--pid", "foo"}, "--pid: invalid PID mode"},
		{[]string{"--ipc", "bar"}, "--ipc: invalid IPC mode"},
		{[]string{"--uts", "container:"}, "--uts: invalid UTS mode"},
		{[]string{"--pid", "container:nosuch"}, "no such container"},
		{[]string{"--uts", "container:nosuch"}, "no such container"},
		{[]string{"--pid", "container:nsstopped"}, "container nsstopped is not running"},
		{[]string{"--ipc", "container:nsstopped"}, "container nsstopped is not running"},
		{[]string{"--ipc", "container:nspriv"}, "non-shareable IPC"},
		{[]string{"--uts", "container:nsa", "--hostname", "h"}, "conflicting options: hostname and the UTS mode"},
	} {
		args := append(append([]string{"run", "--rm"}, tc.args...), "busybox:local", "true")
		_, stderr, code := e.Run(args...)
		oneLine(t, strings.Join(tc.args, " "), stderr, code)
		if !strings.Contains(stderr, tc.want) {
			t.Fatalf("%v: %q, want %q", tc.args, stderr, tc.want)
		}
	}
	if ps := e.MustRun("ps", "-a", "-q"); ps != psBefore {
		t.Fatalf("a refused run left a container: %q, before %q", ps, psBefore)
	}
	if after := overlayDirs(t, e); after != layersBefore {
		t.Fatalf("a refused run left layers: %s, before %s", after, layersBefore)
	}

	// create does not need the container running; start does.
	id := strings.TrimSpace(e.MustRun("create", "--pid", "container:nsstopped", "busybox:local", "true"))
	_, stderr, code := e.Run("start", id)
	oneLine(t, "start joining a stopped container", stderr, code)
	if !strings.Contains(stderr, "is not running") {
		t.Fatalf("start: %q", stderr)
	}
	hc := e.Inspect(id)["HostConfig"].(map[string]any)
	if !strings.HasPrefix(hc["PidMode"].(string), "container:") || len(hc["PidMode"].(string)) != len("container:")+64 {
		t.Fatalf("HostConfig.PidMode %v: want container:<full id>", hc["PidMode"])
	}
	e.MustRun("rm", "-f", "nsa", "nspriv", "nsstopped", id)
	if mounts, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mounts), filepath.Join(e.ExecRoot, idA, "shm")) {
		t.Fatalf("a's /dev/shm is still mounted")
	}
}

// overlayDirs lists the overlay2 layer dirs of an env, for before/after
// comparisons.
func overlayDirs(t *testing.T, e *Env) string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(e.Root, "overlay2"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ent := range ents {
		names = append(names, ent.Name())
	}
	return strings.Join(names, ",")
}
