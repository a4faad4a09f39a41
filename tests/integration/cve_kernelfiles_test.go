package integration

// One test (or a few) per runtime CVE: each builds the hostile rootfs,
// spec or process and watches the attack fail, while the container still
// starts or fails with one clear line.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// devNullBundle makes a bundle whose /dev is a bind mount of a host
// directory holding a planted "null" (made by plant), and whose
// maskedPaths include a file that the container then reads (boundedly: a
// fake null may be an endless device) and tries to write. hostDir is
// bind-mounted at /hostdir, so that a symlink to /hostdir/... reaches the
// host from inside.
func devNullBundle(t *testing.T, e *Env, id, hostDir string, plant func(dev string)) (string, string) {
	t.Helper()
	dev := t.TempDir()
	plant(filepath.Join(dev, "null"))
	script := `head -c 64 /etc/masked; echo pwned > /etc/masked 2>/dev/null; echo exit`
	b := e.Bundle(id, []string{"sh", "-c", script}, func(s *specs.Spec) {
		for i, m := range s.Mounts {
			if m.Destination == "/dev" {
				s.Mounts[i] = specs.Mount{Destination: "/dev", Type: "bind", Source: dev, Options: []string{"rbind"}}
			}
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/hostdir", Type: "bind", Source: hostDir, Options: []string{"bind"}})
		s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, "/etc/masked")
	})
	writeFile(t, filepath.Join(b, "rootfs", "etc", "masked"), "masked content\n")
	return b, dev
}

// TestCVE2025_31133_DevNullSwap: masked files are bound from /dev/null
// only when it is the real 1:3 character device. A /dev/null that is a
// regular file, a symlink to a host file, or another device fails create
// with one line, and nothing on the host is written.
func TestCVE2025_31133_DevNullSwap(t *testing.T) {
	hostDir := t.TempDir()
	hostFile := filepath.Join(hostDir, "host-file")
	writeFile(t, hostFile, "host\n")
	cases := map[string]func(null string){
		"regular-file": func(null string) { writeFile(t, null, "planted\n") },
		"symlink-to-host-file": func(null string) {
			if err := os.Symlink("/hostdir/host-file", null); err != nil {
				t.Fatal(err)
			}
		},
		"dev-zero": func(null string) {
			if err := unix.Mknod(null, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 5))); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, plant := range cases {
		t.Run(name, func(t *testing.T) {
			e := NewEnv(t)
			id := e.NewID()
			b, dev := devNullBundle(t, e, id, hostDir, plant)
			var nullBefore []byte
			if st, err := os.Lstat(filepath.Join(dev, "null")); err == nil && st.Mode().IsRegular() {
				nullBefore, _ = os.ReadFile(filepath.Join(dev, "null"))
			}
			out, stderr, code := e.Run("run", "--bundle", b, id)
			t.Logf("exit %d, stderr %q", code, stderr)
			if code == 0 {
				t.Errorf("run succeeded with a fake /dev/null: %q", out)
			} else {
				requireOneLine(t, stderr, "/dev/null is not the null device")
				requireNoResidue(t, e.Root, id)
			}
			if nullBefore != nil {
				if now, _ := os.ReadFile(filepath.Join(dev, "null")); !bytes.Equal(now, nullBefore) {
					t.Errorf("the planted file was written: %q", now)
				}
			}
			if data, _ := os.ReadFile(hostFile); string(data) != "host\n" {
				t.Errorf("host file written: %q", data)
			}
		})
	}
	t.Run("real-null", func(t *testing.T) {
		e := NewEnv(t)
		id := e.NewID()
		b, _ := devNullBundle(t, e, id, hostDir, func(null string) {
			if err := unix.Mknod(null, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
				t.Fatal(err)
			}
		})
		out, stderr, code := e.Run("run", "--bundle", b, id)
		if code != 0 || out != "exit\n" {
			t.Fatalf("exit %d, output %q, want the masked file empty; stderr %s", code, out, stderr)
		}
		if data, _ := os.ReadFile(filepath.Join(b, "rootfs", "etc", "masked")); string(data) != "masked content\n" {
			t.Errorf("masked file written through the mask: %q", data)
		}
	})
}

// secConsole is the receiving end of a --console-socket.
type secConsole struct {
	Path string
	got  chan *os.File
}

func newSecConsole(t *testing.T) *secConsole {
	t.Helper()
	c := &secConsole{Path: filepath.Join(t.TempDir(), "console.sock"), got: make(chan *os.File, 4)}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: c.Path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			conn, err := ln.AcceptUnix()
			if err != nil {
				return
			}
			buf := make([]byte, 4096)
			oob := make([]byte, unix.CmsgSpace(4))
			_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
			conn.Close()
			if err != nil || oobn == 0 {
				continue
			}
			msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
			for _, m := range msgs {
				fds, _ := unix.ParseUnixRights(&m)
				for _, fd := range fds {
					c.got <- os.NewFile(uintptr(fd), "pty-master")
				}
			}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for {
			select {
			case f := <-c.got:
				f.Close()
			default:
				return
			}
		}
	})
	return c
}

// TestCVE2025_52565_PtmxSwap: the console's pty comes from the container's
// own devpts, opened without following symlinks and checked to be that
// instance's ptmx: a /dev/pts that is a symlink or a plain directory
// holding a planted ptmx (a symlink to the host's devpts or to a host
// file, or a regular file), or a devpts whose ptmx has the host's ptmx or
// a host file mounted over it, fails create with one line, and no host
// pty is handed out.
func TestCVE2025_52565_PtmxSwap(t *testing.T) {
	hostFile := filepath.Join(t.TempDir(), "f")
	writeFile(t, hostFile, "host\n")
	bindOverPtmx := func(src string) func(s *specs.Spec) {
		return func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/dev/pts/ptmx", Type: "bind", Source: src, Options: []string{"bind"}})
		}
	}
	cases := []struct {
		name   string
		devpts bool             // keep the spec's devpts on /dev/pts
		plant  func(pts string) // in the rootfs' own /dev/pts
		mutate func(s *specs.Spec)
	}{
		{"symlink-to-host-ptmx", false, func(pts string) { os.Symlink("/hostpts/ptmx", filepath.Join(pts, "ptmx")) }, nil},
		{"symlink-to-host-file", false, func(pts string) { os.Symlink("/hostfile/f", filepath.Join(pts, "ptmx")) }, nil},
		{"regular-file", false, func(pts string) { writeFile(t, filepath.Join(pts, "ptmx"), "") }, nil},
		{"dir-symlink-to-host-pts", false, func(pts string) { os.Remove(pts); os.Symlink("/hostpts", pts) }, nil},
		{"host-ptmx-mounted-over", true, nil, bindOverPtmx("/dev/pts/ptmx")},
		{"host-file-mounted-over", true, nil, bindOverPtmx(hostFile)},
	}
	var hostPts unix.Stat_t
	if err := unix.Stat("/dev/pts/ptmx", &hostPts); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := NewEnv(t)
			cs := newSecConsole(t)
			id := e.NewID()
			b := e.Bundle(id, []string{"sh", "-c", "echo pwned > /dev/console; echo pwned > /hostfile/f"}, func(s *specs.Spec) {
				s.Process.Terminal = true
				var mounts []specs.Mount
				for _, m := range s.Mounts {
					// The rootfs' own /dev (no tmpfs over it), and
					// its own /dev/pts unless the case keeps devpts.
					if m.Destination != "/dev" && (m.Destination != "/dev/pts" || c.devpts) {
						mounts = append(mounts, m)
					}
				}
				s.Mounts = append(mounts,
					specs.Mount{Destination: "/hostpts", Type: "bind", Source: "/dev/pts", Options: []string{"bind"}},
					specs.Mount{Destination: "/hostfile", Type: "bind", Source: filepath.Dir(hostFile), Options: []string{"bind"}})
				if c.mutate != nil {
					c.mutate(s)
				}
			})
			pts := filepath.Join(b, "rootfs", "dev", "pts")
			if err := os.MkdirAll(pts, 0o755); err != nil {
				t.Fatal(err)
			}
			if c.plant != nil {
				c.plant(pts)
			}
			out, stderr, code := e.Run("create", "--console-socket", cs.Path, "--bundle", b, id)
			t.Logf("exit %d, stderr %q", code, stderr)
			select {
			case f := <-cs.got:
				var st unix.Stat_t
				unix.Fstat(int(f.Fd()), &st)
				if st.Dev == hostPts.Dev {
					t.Errorf("the console is a pty of the host's devpts")
				}
				f.Close()
			default:
			}
			if code == 0 {
				t.Fatalf("create succeeded with a planted ptmx: %q", out)
			}
			requireOneLine(t, stderr, "/dev/pts")
			requireNoResidue(t, e.Root, id)
			if data, _ := os.ReadFile(hostFile); string(data) != "host\n" {
				t.Errorf("host file written: %q", data)
			}
		})
	}
}

// TestCVE2025_52881_SysctlRedirect: linux.sysctl is written through a
// procfs of the runtime's own, not through the container's /proc: a
// bind mount over /proc/sys cannot redirect the write to a host file,
// and the value still reaches the container's namespace. Also in a user
// namespace, where a fresh procfs is harder to get.
func TestCVE2025_52881_SysctlRedirect(t *testing.T) {
	// kernel.* uts sysctls are writable by the host's root only; the
	// user-namespaced case uses a network sysctl of its own netns.
	cases := []struct {
		userns    bool
		key, file string
		ns, value string
	}{
		{false, "kernel.domainname", "kernel/domainname", "uts", "from-sysctl"},
		{false, "net.ipv4.ip_forward", "net/ipv4/ip_forward", "net", "1"},
		{true, "net.ipv4.ip_forward", "net/ipv4/ip_forward", "net", "1"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/userns=%v", c.key, c.userns), func(t *testing.T) {
			e := NewEnv(t)
			fake := t.TempDir()
			target := filepath.Join(fake, c.file)
			writeFile(t, target, "host-file\n")
			id := e.NewID()
			b := e.Bundle(id, []string{"sleep", "100"}, func(s *specs.Spec) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/proc/sys", Type: "bind", Source: fake, Options: []string{"rbind"}})
				s.Linux.Sysctl = map[string]string{c.key: c.value}
				if c.userns {
					s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
					s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
					s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
				}
			})
			if c.userns {
				if out, err := exec.Command("chown", "-R", "100000:100000", filepath.Join(b, "rootfs")).CombinedOutput(); err != nil {
					t.Fatalf("chown rootfs: %v %s", err, out)
				}
				for _, leaf := range []string{b, fake} {
					makeTraversable(leaf)
				}
			}
			e.MustRun("create", "--bundle", b, id)
			e.MustRun("start", id)
			if data, _ := os.ReadFile(target); string(data) != "host-file\n" {
				t.Fatalf("the sysctl write went to the host file: %q", data)
			}
			pid := statePid(e, id)
			out, err := exec.Command("nsenter", "--"+c.ns+"=/proc/"+strconv.Itoa(pid)+"/ns/"+c.ns, "cat", "/proc/sys/"+c.file).CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != c.value {
				t.Fatalf("%s in the container's %s namespace: %q, %v", c.key, c.ns, out, err)
			}
		})
	}
}

// TestCVE2026_41579_DevSymlink: a rootfs whose /dev (or /dev/pts) is a
// symlink to a host directory, absolute or climbing out with "..", cannot
// make device setup create nodes, symlinks or mounts on the host.
func TestCVE2026_41579_DevSymlink(t *testing.T) {
	cases := []struct {
		name     string
		link     string // which rootfs path becomes the symlink
		relative bool
		tmpfsDev bool // keep the spec's tmpfs on /dev
	}{
		{"dev-absolute", "dev", false, false},
		{"dev-relative", "dev", true, false},
		{"dev-absolute-tmpfs", "dev", false, true},
		{"dev-pts-absolute", "dev/pts", false, false},
		{"dev-pts-relative", "dev/pts", true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := NewEnv(t)
			hostDir := t.TempDir()
			id := e.NewID()
			b := e.Bundle(id, []string{"sh", "-c", "stat -c '%F %t:%T' /dev/null /dev/full /dev/mine; ls /dev/pts | head -1"}, func(s *specs.Spec) {
				if !c.tmpfsDev {
					for i, m := range s.Mounts {
						if m.Destination == "/dev" {
							s.Mounts = append(s.Mounts[:i], s.Mounts[i+1:]...)
							break
						}
					}
				}
				s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{Path: "/dev/mine", Type: "c", Major: 1, Minor: 7})
			})
			rootfs := filepath.Join(b, "rootfs")
			p := filepath.Join(rootfs, c.link)
			os.RemoveAll(p)
			os.MkdirAll(filepath.Dir(p), 0o755)
			target := hostDir
			if c.relative {
				target = strings.Repeat("../", 12) + strings.TrimPrefix(hostDir, "/")
			}
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			out, stderr, code := e.Run("run", "--bundle", b, id)
			t.Logf("exit %d, stdout %q, stderr %q", code, out, stderr)
			if ents, _ := os.ReadDir(hostDir); len(ents) != 0 {
				var names []string
				for _, ent := range ents {
					names = append(names, ent.Name())
				}
				t.Fatalf("device setup wrote into the host directory: %v", names)
			}
			if code != 0 {
				requireOneLine(t, stderr, "/dev")
				requireNoResidue(t, e.Root, id)
				return
			}
			// The devpts instance must be where the container looks.
			if out != "character special file 1:3\ncharacter special file 1:7\ncharacter special file 1:7\nptmx\n" {
				t.Errorf("devices in the container: %q, want null, full, mine and a devpts at /dev/pts", out)
			}
		})
	}
}

// capbb installs a copy of busybox as /capbin/busybox (busybox wants to be
// called busybox) with the file capability
// CAP_CHOWN in its inheritable set (and the effective bit): execve gives
// it CAP_CHOWN only if the process's inheritable set has CAP_CHOWN.
func capbb(t *testing.T, rootfs string) {
	t.Helper()
	data, err := os.ReadFile(busybox)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(rootfs, "capbin", "busybox")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o755); err != nil {
		t.Fatal(err)
	}
	// struct vfs_cap_data, revision 2: magic|effective, then
	// {permitted, inheritable} for the low and the high 32 capabilities.
	var xattr bytes.Buffer
	for _, v := range []uint32{0x02000000 | 0x1, 0, 1 << unix.CAP_CHOWN, 0, 0} {
		binary.Write(&xattr, binary.LittleEndian, v)
	}
	if err := unix.Setxattr(p, "security.capability", xattr.Bytes(), 0); err != nil {
		t.Skipf("cannot set file capabilities here: %v", err)
	}
}

// TestCVE2022_29162_InheritableCaps: the inheritable set holds only what
// the spec asks for, so a binary with inheritable file capabilities gains
// nothing for a non-root user unless asked; the bounding set is the spec's
// and the ambient set empty unless asked. exec --cap does not fill the
// inheritable set either.
func TestCVE2022_29162_InheritableCaps(t *testing.T) {
	const script = `touch /tmp/f; /capbin/busybox chown 0:0 /tmp/f 2>&1 && echo CHOWNED || echo chown-refused
grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb):' /proc/self/status; echo ===; /capbin/busybox grep -E '^Cap(Inh|Prm|Eff):' /proc/self/status`
	bnd := []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	mutate := func(inh []string) func(*specs.Spec) {
		return func(s *specs.Spec) {
			s.Process.User = specs.User{UID: 1000, GID: 1000}
			s.Process.NoNewPrivileges = false
			s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: bnd, Effective: bnd, Permitted: bnd, Inheritable: inh}
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"mode=1777"}})
		}
	}
	run := func(t *testing.T, inh []string) (string, string) {
		e := NewEnv(t)
		id := e.NewID()
		b := e.Bundle(id, []string{"sh", "-c", script}, mutate(inh))
		capbb(t, filepath.Join(b, "rootfs"))
		out, stderr, code := e.Run("run", "--bundle", b, id)
		if code != 0 {
			t.Fatalf("run: exit %d: %s", code, stderr)
		}
		own, viaFile, _ := strings.Cut(out, "===\n")
		return own, viaFile
	}
	none := "0000000000000000"
	t.Run("not-asked", func(t *testing.T) {
		own, viaFile := run(t, nil)
		if !strings.Contains(own, "chown-refused") {
			t.Errorf("capbb gained CAP_CHOWN from an inheritable set nobody asked for:\n%s", own)
		}
		for k, v := range map[string]string{"CapInh": none, "CapAmb": none, "CapBnd": capMask(t, bnd...), "CapPrm": none} {
			if got := statusField(t, own, k); got != v {
				t.Errorf("%s = %s, want %s", k, got, v)
			}
		}
		for _, k := range []string{"CapInh", "CapPrm", "CapEff"} {
			if got := statusField(t, viaFile, k); got != none {
				t.Errorf("capbb's %s = %s, want none", k, got)
			}
		}
	})
	// The control: the same binary does gain CAP_CHOWN when the spec puts
	// it in the inheritable set, so the test above can fail.
	t.Run("asked", func(t *testing.T) {
		own, viaFile := run(t, []string{"CAP_CHOWN"})
		if !strings.Contains(own, "CHOWNED") {
			t.Errorf("capbb did not get CAP_CHOWN though it is inheritable:\n%s", own)
		}
		if got := statusField(t, own, "CapInh"); got != capMask(t, "CAP_CHOWN") {
			t.Errorf("CapInh = %s, want CAP_CHOWN only", got)
		}
		if got := statusField(t, viaFile, "CapPrm"); got != capMask(t, "CAP_CHOWN") {
			t.Errorf("capbb's CapPrm = %s, want CAP_CHOWN", got)
		}
	})
	t.Run("exec-cap", func(t *testing.T) {
		e := NewEnv(t)
		id := e.NewID()
		b := e.Bundle(id, []string{"sleep", "100"}, mutate(nil))
		capbb(t, filepath.Join(b, "rootfs"))
		e.MustRun("create", "--bundle", b, id)
		e.MustRun("start", id)
		// runc's CVE-2022-29162 was exec --cap filling the inheritable set.
		out := e.MustRun("exec", "--cap", "CAP_CHOWN", "--cap", "CAP_FOWNER", id, "sh", "-c", script)
		own, viaFile, _ := strings.Cut(out, "===\n")
		if !strings.Contains(own, "chown-refused") {
			t.Errorf("exec --cap: capbb gained CAP_CHOWN:\n%s", own)
		}
		if got := statusField(t, own, "CapInh"); got != none {
			t.Errorf("exec --cap: CapInh = %s, want none", got)
		}
		if got := statusField(t, own, "CapBnd"); got != capMask(t, append(bnd, "CAP_FOWNER")...) {
			t.Errorf("exec --cap: CapBnd = %s", got)
		}
		if got := statusField(t, viaFile, "CapPrm"); got != none {
			t.Errorf("exec --cap: capbb's CapPrm = %s, want none", got)
		}
	})
}
