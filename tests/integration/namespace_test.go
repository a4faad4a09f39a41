package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// newNetns makes a named network namespace with `ip netns add` (removed at
// the end of the test) holding a veth pair d0/d1 (the dummy driver is not
// in every kernel), and returns its path. The bind mounts ip makes stay in
// the test's private mount namespace; a /run/netns directory it had to
// create is removed again.
func newNetns(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip (iproute2) is not installed")
	}
	_, err := os.Lstat("/run/netns")
	madeDir := os.IsNotExist(err)
	name := fmt.Sprintf("mrt-%d-%d", os.Getpid(), idCounter.Add(1))
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v %s", name, err, out)
		}
		if madeDir {
			_ = unix.Unmount("/run/netns", unix.MNT_DETACH)
			_ = os.Remove("/run/netns") // fails if someone else uses it
		}
	})
	if out, err := exec.Command("ip", "-n", name, "link", "add", "d0", "type", "veth", "peer", "name", "d1").CombinedOutput(); err != nil {
		t.Fatalf("ip link add: %v %s", err, out)
	}
	for _, dir := range []string{"/run/netns", "/var/run/netns"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return filepath.Join(dir, name)
		}
	}
	t.Fatalf("ip netns add %s made no file under /run/netns", name)
	return ""
}

// setNamespacePath gives namespace type typ the path p (adding the type
// when the spec lacks it).
func setNamespacePath(typ specs.LinuxNamespaceType, p string) func(*specs.Spec) {
	return func(s *specs.Spec) {
		for i, ns := range s.Linux.Namespaces {
			if ns.Type == typ {
				s.Linux.Namespaces[i].Path = p
				return
			}
		}
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: typ, Path: p})
	}
}

// nsInode is the "net:[N]" form of a namespace file, as readlink shows it.
func nsInode(t *testing.T, path, typ string) string {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s:[%d]", typ, st.Ino)
}

// TestNamedNetns: a container whose network namespace is one `ip netns
// add` made sees its interfaces, and so does an exec into it.
func TestNamedNetns(t *testing.T) {
	e := NewEnv(t)
	netns := newNetns(t)
	id, _ := e.sleeper(setNamespacePath(specs.NetworkNamespace, netns))
	want := nsInode(t, netns, "net")
	out := e.MustRun("exec", id, "sh", "-c", "readlink /proc/self/ns/net; ip link")
	if !strings.HasPrefix(out, want+"\n") || !regexp.MustCompile(`\d+: d0[@:]`).MatchString(out) {
		t.Errorf("exec in the container: want %s and d0:\n%s", want, out)
	}
	// The container's init too, and only the network namespace is shared.
	pid := statePid(e, id)
	if got := readlinkHost(t, fmt.Sprintf("/proc/%d/ns/net", pid)); got != want {
		t.Errorf("init's network namespace %s, want %s", got, want)
	}
	if readlinkHost(t, fmt.Sprintf("/proc/%d/ns/uts", pid)) == readlinkHost(t, "/proc/self/ns/uts") {
		t.Error("the container lost its own uts namespace")
	}
	// A fresh container's own view of it, from its first process.
	out = e.Sh("ip link", setNamespacePath(specs.NetworkNamespace, netns))
	if !regexp.MustCompile(`\d+: d0[@:]`).MatchString(out) {
		t.Errorf("ip link in a container on the named netns:\n%s", out)
	}
}

// TestJoinOtherContainerNamespaces: a container joins another one's ipc,
// uts and pid namespaces by /proc/PID/ns path; the rest are its own.
func TestJoinOtherContainerNamespaces(t *testing.T) {
	e := NewEnv(t)
	a, apid := e.sleeper(func(s *specs.Spec) { s.Hostname = "shared-host" })
	nsOf := func(pid int, typ string) string { return readlinkHost(t, fmt.Sprintf("/proc/%d/ns/%s", pid, typ)) }
	id := e.NewID()
	b := e.Bundle(id, []string{"sh", "-c", "hostname; for n in ipc uts pid net; do readlink /proc/self/ns/$n; done; tr '\\0' ' ' < /proc/1/cmdline; echo; echo $$; exec sleep 100000"},
		chainMutate(
			func(s *specs.Spec) { s.Hostname = "" },
			setNamespacePath(specs.IPCNamespace, fmt.Sprintf("/proc/%d/ns/ipc", apid)),
			setNamespacePath(specs.UTSNamespace, fmt.Sprintf("/proc/%d/ns/uts", apid)),
			setNamespacePath(specs.PIDNamespace, fmt.Sprintf("/proc/%d/ns/pid", apid)),
		))
	r := e.startBgRun(b, id)
	var lines []string
	for i := 0; i < 7; i++ {
		select {
		case l, ok := <-r.lines:
			if !ok {
				t.Fatalf("container output ended after %q; stderr %s", lines, r.Stderr())
			}
			lines = append(lines, l)
		case <-time.After(30 * time.Second):
			t.Fatalf("container printed only %q; stderr %s", lines, r.Stderr())
		}
	}
	want := []string{"shared-host", nsOf(apid, "ipc"), nsOf(apid, "uts"), nsOf(apid, "pid")}
	if !slices.Equal(lines[:4], want) {
		t.Errorf("hostname and namespaces %q, want %q", lines[:4], want)
	}
	if lines[4] == nsOf(apid, "net") {
		t.Errorf("the network namespace was shared too (%s)", lines[4])
	}
	// In A's pid namespace, A's init is 1 and we are someone else.
	if lines[5] != "sleep 100000 " || lines[6] == "1" {
		t.Errorf("pid 1 is %q and we are %s: want A's sleep and another pid", lines[5], lines[6])
	}
	// An exec into the joining container lands in the shared namespaces.
	waitFor(t, "the container to run", func() bool {
		st, _, code := e.Run("state", id)
		return code == 0 && strings.Contains(st, `"running"`)
	})
	if out := e.MustRun("exec", id, "hostname"); out != "shared-host\n" {
		t.Errorf("exec hostname %q", out)
	}
	e.MustRun("kill", id, "KILL")
	r.wait()
	if st := e.State(a)["status"]; st != "running" {
		t.Errorf("container A is %v after B exited", st)
	}
}

// TestJoinUserNamespaceByPath: a container joins another's user namespace
// by path (and gives no id mappings: they are the namespace's); its new
// namespaces are owned by it and its root is that namespace's root.
func TestJoinUserNamespaceByPath(t *testing.T) {
	e := NewEnv(t)
	userns := func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	}
	chownRootfs := func(b string) {
		if out, err := exec.Command("chown", "-R", "100000:100000", filepath.Join(b, "rootfs")).CombinedOutput(); err != nil {
			t.Fatalf("chown rootfs: %v %s", err, out)
		}
		makeTraversable(b)
	}
	a := e.NewID()
	ba := e.Bundle(a, []string{"sleep", "100000"}, userns)
	chownRootfs(ba)
	e.MustRun("create", "--bundle", ba, a)
	e.MustRun("start", a)
	apid := statePid(e, a)
	id := e.NewID()
	b := e.Bundle(id, []string{"sh", "-c", "id -u; cat /proc/self/uid_map; readlink /proc/self/ns/user; hostname"}, chainMutate(userns,
		setNamespacePath(specs.UserNamespace, fmt.Sprintf("/proc/%d/ns/user", apid)),
		func(s *specs.Spec) {
			s.Hostname = "joiner"
			s.Linux.UIDMappings, s.Linux.GIDMappings = nil, nil
		}))
	chownRootfs(b)
	out, stderr, code := e.Run("run", "--bundle", b, id)
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || lines[0] != "0" || strings.Join(strings.Fields(lines[1]), " ") != "0 100000 65536" ||
		lines[2] != readlinkHost(t, fmt.Sprintf("/proc/%d/ns/user", apid)) || lines[3] != "joiner" {
		t.Errorf("in the joined user namespace: %q", lines)
	}
}

// TestNamespacePathErrors: a namespace path of the wrong type, not a
// namespace, or missing: one clear line, non-zero, no residue.
func TestNamespacePathErrors(t *testing.T) {
	e := NewEnv(t)
	netns := newNetns(t)
	_, apid := e.sleeper(nil)
	for _, tc := range []struct {
		name   string
		typ    specs.LinuxNamespaceType
		path   string
		want   string
		detail string
	}{
		{"netns-as-ipc", specs.IPCNamespace, netns, "is a network namespace, not ipc", netns},
		{"self-net-as-uts", specs.UTSNamespace, "/proc/self/ns/net", "is a network namespace, not uts", "/proc/self/ns/net"},
		{"other-container-uts-as-pid", specs.PIDNamespace, fmt.Sprintf("/proc/%d/ns/uts", apid), "is a uts namespace, not pid", "/ns/uts"},
		{"regular-file", specs.NetworkNamespace, "/etc/hostname", "is not a namespace file", "/etc/hostname"},
		{"missing", specs.NetworkNamespace, "/run/netns/no-such-netns-here", "no such file or directory", "no-such-netns-here"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := os.Stat(tc.path); tc.name == "regular-file" && err != nil {
				t.Skipf("%s: %v", tc.path, err)
			}
			id := e.NewID()
			b := e.Bundle(id, []string{"true"}, setNamespacePath(tc.typ, tc.path))
			_, stderr, code := e.Run("create", "--bundle", b, id)
			if code == 0 {
				t.Fatalf("create with %s as the %s namespace succeeded", tc.path, tc.typ)
			}
			requireOneLine(t, stderr, tc.want)
			requireOneLine(t, stderr, tc.detail)
			requireNoResidue(t, e.Root, id)
		})
	}
}

// TestLoopbackUpInNewNetns: in a network namespace the runtime makes, lo is
// up and answers on 127.0.0.1, as with runc and crun.
func TestLoopbackUpInNewNetns(t *testing.T) {
	e := NewEnv(t)
	out := e.Sh("cat /sys/class/net/lo/flags; ip -4 -o addr show dev lo", nil)
	flags, addr, _ := strings.Cut(out, "\n")
	if f, err := strconv.ParseUint(strings.TrimPrefix(flags, "0x"), 16, 32); err != nil || f&unix.IFF_UP == 0 {
		t.Fatalf("lo flags %q: want IFF_UP", flags)
	}
	if !strings.Contains(addr, "127.0.0.1/8") {
		t.Fatalf("lo addresses %q: want 127.0.0.1/8", addr)
	}
}

// TestJoinedNetnsLeftAlone: a network namespace the container joins is its
// maker's: its lo stays as it was (down).
func TestJoinedNetnsLeftAlone(t *testing.T) {
	e := NewEnv(t)
	holder := exec.Command("unshare", "--net", "sleep", "1000")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Process.Kill(); holder.Wait() })
	pid := strconv.Itoa(holder.Process.Pid)
	// The namespace is made once unshare has become sleep.
	for i := 0; i < 500; i++ {
		if comm, _ := os.ReadFile("/proc/" + pid + "/comm"); strings.TrimSpace(string(comm)) == "sleep" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	out := e.Sh("cat /sys/class/net/lo/flags", setNamespacePath(specs.NetworkNamespace, "/proc/"+pid+"/ns/net"))
	if strings.TrimSpace(out) != "0x8" {
		t.Fatalf("lo flags in a joined namespace = %q, want 0x8 (down, untouched)", strings.TrimSpace(out))
	}
}
