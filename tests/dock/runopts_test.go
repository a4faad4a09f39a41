package dock

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// oneLine checks a front-end error: exit 125 and one line on stderr.
func oneLine(t *testing.T, what, stderr string, code int) {
	t.Helper()
	if code != 125 || strings.Count(strings.TrimRight(stderr, "\n"), "\n") != 0 || stderr == "" {
		t.Fatalf("%s: exit %d, stderr %q; want 125 and one line", what, code, stderr)
	}
}

func TestRunEnvFile(t *testing.T) {
	e := NewEnv(t)
	e.ImportBusybox()
	f := filepath.Join(t.TempDir(), "env")
	t.Setenv("FROM_HOST", "hostval")
	os.Unsetenv("NOT_SET_ANYWHERE")
	data := "# a comment\n\nA=1\nB=two words\n  # indented comment\nFROM_HOST\nNOT_SET_ANYWHERE\nC=x=y\nA=override\n"
	if err := os.WriteFile(f, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	out := e.MustRun("run", "--rm", "--env-file", f, "-e", "C=fromflag", "busybox:local", "sh", "-c",
		`echo "A=$A|B=$B|H=$FROM_HOST|C=$C|N=${NOT_SET_ANYWHERE-unset}"`)
	if want := "A=override|B=two words|H=hostval|C=fromflag|N=unset\n"; out != want {
		t.Fatalf("env-file: %q, want %q", out, want)
	}
	_, stderr, code := e.Run("run", "--rm", "--env-file", filepath.Join(t.TempDir(), "missing"), "busybox:local", "true")
	oneLine(t, "missing env file", stderr, code)
	if ps := e.MustRun("ps", "-a", "-q"); ps != "" {
		t.Fatalf("a container was left: %q", ps)
	}
}

func TestRunDevice(t *testing.T) {
	e := NewEnv(t)
	e.ImportBusybox()
	out := e.MustRun("run", "--rm", "--device", "/dev/null:/dev/mynull", "busybox:local", "sh", "-c",
		`stat -c '%t:%T %F' /dev/mynull; echo hi > /dev/mynull && echo wrote`)
	if want := "1:3 character special file\nwrote\n"; out != want {
		t.Fatalf("--device: %q, want %q", out, want)
	}
	// The spec has the node and its cgroup rule with the given perms.
	id := strings.TrimSpace(e.MustRun("create", "--device", "/dev/zero:/dev/z:r", "busybox:local", "true"))
	hc := e.Inspect(id)["HostConfig"].(map[string]any)
	devs, _ := hc["Devices"].([]any)
	if len(devs) != 1 || devs[0].(map[string]any)["CgroupPermissions"] != "r" {
		t.Fatalf("HostConfig.Devices %v", hc["Devices"])
	}
	_, stderr, code := e.Run("run", "--rm", "--device", "/dev/no-such-device", "busybox:local", "true")
	oneLine(t, "missing device", stderr, code)
	_, stderr, code = e.Run("run", "--rm", "--device", "/dev/null:/dev/x:rwz", "busybox:local", "true")
	oneLine(t, "bad device perms", stderr, code)
	e.MustRun("rm", id)
}

func TestRunInit(t *testing.T) {
	if _, err := os.Stat("/usr/bin/tini-static"); err != nil {
		t.Skip("no /usr/bin/tini-static (Debian's tini)")
	}
	e := NewEnv(t)
	e.ImportBusybox()
	out, stderr, code := e.Run("run", "--rm", "--init", "busybox:local", "sh", "-c", "ps -o pid,args; exit 7")
	if code != 7 {
		t.Fatalf("--init: exit %d, want 7: %s%s", code, stderr, out)
	}
	var pid1 string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "1" {
			pid1 = strings.Join(f[1:], " ")
		}
	}
	if !strings.HasPrefix(pid1, "/sbin/docker-init -- sh -c") {
		t.Fatalf("PID 1 is %q; ps:\n%s", pid1, out)
	}
}

func TestRunOOMKilled(t *testing.T) {
	e := NewEnv(t)
	e.ImportBusybox()
	_, stderr, code := e.Run("run", "--name", "hog", "--memory", "32m", "--memory-swap", "32m", "busybox:local",
		"sh", "-c", "x=a; while :; do x=$x$x; done")
	if code != 137 {
		t.Fatalf("memory hog: exit %d, want 137: %s", code, stderr)
	}
	st := e.Inspect("hog")["State"].(map[string]any)
	if st["OOMKilled"] != true || st["ExitCode"] != float64(137) {
		t.Fatalf("State %v", st)
	}
	e.MustRun("rm", "hog")
	// A plain exit is not an OOM kill.
	e.Run("run", "--name", "calm", "--memory", "32m", "busybox:local", "sh", "-c", "exit 3")
	if st := e.Inspect("calm")["State"].(map[string]any); st["OOMKilled"] != false {
		t.Fatalf("calm State %v", st)
	}
	e.MustRun("rm", "calm")
}

// openPty opens a pseudo-terminal pair.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m, s
}

func TestRunInteractiveTTY(t *testing.T) {
	e := NewEnv(t)
	e.ImportBusybox()
	master, slave := openPty(t)
	defer master.Close()
	full := []string{"--root", e.Root, "--exec-root", e.ExecRoot, "--runtime", minirunc, "--cgroup-parent", cgroupParent,
		"run", "-it", "--rm", "busybox:local", "sh"}
	cmd := exec.Command(minidock, full...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	timer := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	got := make(chan string, 1)
	fallback := time.AfterFunc(5*time.Second, func() { master.Write([]byte("echo h''i; exit 3\n")) })
	defer fallback.Stop()
	go func() {
		var buf bytes.Buffer
		b := make([]byte, 4096)
		sent := false
		for {
			n, err := master.Read(b)
			buf.Write(b[:n])
			if !sent && buf.Len() > 0 && fallback.Stop() {
				// The shell is up (its prompt): type the command.
				master.Write([]byte("echo h''i; exit 3\n"))
				sent = true
			}
			if err != nil {
				got <- buf.String()
				return
			}
		}
	}()
	err := cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	master.SetReadDeadline(time.Now().Add(2 * time.Second))
	var out string
	select {
	case out = <-got:
	case <-time.After(3 * time.Second):
	}
	if code != 3 {
		t.Fatalf("run -it: exit %d, want 3; output %q", code, out)
	}
	if !strings.Contains(out, "hi\r\n") {
		t.Fatalf("run -it output %q lacks hi", out)
	}
}
