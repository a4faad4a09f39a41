package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestProcessArgs(t *testing.T) {
	e := NewEnv(t)
	out, stderr, code := e.RunContainer([]string{"sh", "-c", `printf '[%s]' "$0" "$@"`, "zero", "a b", "", "$HOME", "'q'"}, nil)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if want := "[zero][a b][][$HOME]['q']"; out != want {
		t.Fatalf("args %q, want %q (passed verbatim, no shell expansion)", out, want)
	}
}

func TestProcessEnv(t *testing.T) {
	e := NewEnv(t)
	out := e.Sh("env", func(s *specs.Spec) {
		s.Process.Env = append(s.Process.Env, "FOO=bar", "WITH_EQ=a=b", "EMPTY=")
	})
	env := "\n" + out
	for _, want := range []string{"FOO=bar", "WITH_EQ=a=b", "EMPTY=", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm", "HOME=/root"} {
		if !strings.Contains(env, "\n"+want+"\n") {
			t.Errorf("env lacks %s:\n%s", want, out)
		}
	}
	// Nothing of the runtime's own environment leaks in.
	if strings.Contains(out, "_MINIRUNC") || strings.Contains(out, "MINIRUNC_TEST_MNTNS") {
		t.Errorf("runtime variables leaked into the container:\n%s", out)
	}
}

// TestProcessHomeFromPasswd: HOME comes from the user's /etc/passwd entry
// when the spec does not set it, and an explicit HOME wins.
func TestProcessHomeFromPasswd(t *testing.T) {
	for _, tc := range []struct {
		name string
		uid  uint32
		env  string
		want string
	}{
		{"root", 0, "", "/root"},
		{"user", 1000, "", "/home/user"},
		{"unknown-uid", 4242, "", "/"},
		{"explicit", 1000, "HOME=/custom", "/custom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEnv(t)
			out := e.Sh("echo $HOME", func(s *specs.Spec) {
				s.Process.User = specs.User{UID: tc.uid, GID: tc.uid}
				if tc.env != "" {
					s.Process.Env = append(s.Process.Env, tc.env)
				}
			})
			if strings.TrimSpace(out) != tc.want {
				t.Fatalf("HOME=%q, want %q", strings.TrimSpace(out), tc.want)
			}
		})
	}
}

// TestProcessCwdCreated: a cwd missing from the rootfs is created.
func TestProcessCwdCreated(t *testing.T) {
	e := NewEnv(t)
	id := e.NewID()
	b := e.Bundle(id, []string{"pwd"}, func(s *specs.Spec) { s.Process.Cwd = "/work/deep/dir" })
	if out := e.MustRun("run", "--bundle", b, id); out != "/work/deep/dir\n" {
		t.Fatalf("pwd = %q, want /work/deep/dir", out)
	}
	if st, err := os.Stat(filepath.Join(b, "rootfs", "work", "deep", "dir")); err != nil || !st.IsDir() {
		t.Fatalf("cwd not created in the rootfs: %v", err)
	}
}

func TestProcessUserGroups(t *testing.T) {
	e := NewEnv(t)
	out := e.Sh("id -u; id -g; id -G; cat /proc/self/status | grep -E '^(Uid|Gid|Groups):'", func(s *specs.Spec) {
		s.Process.User = specs.User{UID: 1000, GID: 1001, AdditionalGids: []uint32{10, 20, 65534}}
	})
	lines := strings.Split(out, "\n")
	if len(lines) < 6 || lines[0] != "1000" || lines[1] != "1001" {
		t.Fatalf("id: %q, want uid 1000 gid 1001", out)
	}
	if f := strings.Fields(lines[2]); strings.Join(f, " ") != "1001 10 20 65534" {
		t.Errorf("id -G = %q, want 1001 10 20 65534", lines[2])
	}
	if f := strings.Fields(statusField(t, out, "Uid")); strings.Join(f, " ") != "1000 1000 1000 1000" {
		t.Errorf("Uid (real, effective, saved, fs) = %v, want all 1000", f)
	}
	if f := strings.Fields(statusField(t, out, "Groups")); strings.Join(f, " ") != "10 20 65534" {
		t.Errorf("Groups = %v, want exactly the additionalGids", f)
	}
}

// TestProcessUserRootHasNoGroups: without additionalGids the process has
// no supplementary groups left over from the runtime.
func TestProcessUserRootHasNoGroups(t *testing.T) {
	e := NewEnv(t)
	out := e.Sh("cat /proc/self/status", nil)
	if g := statusField(t, out, "Groups"); g != "" {
		t.Fatalf("Groups = %q, want none", g)
	}
}

func TestProcessUmask(t *testing.T) {
	e := NewEnv(t)
	out := e.Sh("umask; touch /tmp/f; mkdir /tmp/d; stat -c %a /tmp/f /tmp/d", func(s *specs.Spec) {
		s.Process.User.Umask = ptr(uint32(0o027))
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"})
	})
	if out != "0027\n640\n750\n" {
		t.Fatalf("umask, file and dir modes: %q, want 0027 640 750", out)
	}
}

func TestProcessUmaskDefault(t *testing.T) {
	e := NewEnv(t)
	if out := e.Sh("umask", nil); out != "0022\n" {
		t.Fatalf("umask = %q, want 0022", out)
	}
}

// TestProcessCapabilitiesRoot: the five sets as root. execve as root makes
// permitted (and effective) the bounding set plus the inheritable set;
// with noNewPrivileges the kernel caps that at the permitted set the
// runtime applied.
func TestProcessCapabilitiesRoot(t *testing.T) {
	bnd := []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETUID"}
	prm := []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	for _, nnp := range []bool{true, false} {
		t.Run("noNewPrivileges="+strconv.FormatBool(nnp), func(t *testing.T) {
			e := NewEnv(t)
			out := e.Sh("cat /proc/self/status", func(s *specs.Spec) {
				s.Process.NoNewPrivileges = nnp
				s.Process.Capabilities = &specs.LinuxCapabilities{
					Bounding:    bnd,
					Permitted:   prm,
					Effective:   []string{"CAP_CHOWN", "CAP_KILL"},
					Inheritable: []string{"CAP_KILL", "CAP_NET_BIND_SERVICE"},
					Ambient:     []string{"CAP_NET_BIND_SERVICE"},
				}
			})
			eff := capMask(t, bnd...)
			if nnp {
				eff = capMask(t, prm...)
			}
			want := map[string]string{
				"CapBnd": capMask(t, bnd...),
				"CapPrm": eff,
				"CapEff": eff,
				"CapInh": capMask(t, "CAP_KILL", "CAP_NET_BIND_SERVICE"),
				"CapAmb": capMask(t, "CAP_NET_BIND_SERVICE"),
			}
			for k, v := range want {
				if got := statusField(t, out, k); got != v {
					t.Errorf("%s = %s, want %s", k, got, v)
				}
			}
		})
	}
}

// TestProcessCapabilitiesDefault: the default spec's three capabilities,
// nothing else.
func TestProcessCapabilitiesDefault(t *testing.T) {
	e := NewEnv(t)
	out := e.Sh("cat /proc/self/status", nil)
	caps := capMask(t, "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE")
	for _, k := range []string{"CapBnd", "CapPrm", "CapEff"} {
		if got := statusField(t, out, k); got != caps {
			t.Errorf("%s = %s, want %s", k, got, caps)
		}
	}
	for _, k := range []string{"CapInh", "CapAmb"} {
		if got := statusField(t, out, k); got != "0000000000000000" {
			t.Errorf("%s = %s, want none", k, got)
		}
	}
}

// TestProcessCapabilitiesNone: a spec without process.capabilities gives
// the container no capabilities at all, as runc does.
func TestProcessCapabilitiesNone(t *testing.T) {
	e := NewEnv(t)
	out := e.Sh("cat /proc/self/status", func(s *specs.Spec) {
		s.Process.Capabilities = nil
		s.Process.NoNewPrivileges = false
	})
	for _, k := range []string{"CapBnd", "CapPrm", "CapEff", "CapInh", "CapAmb"} {
		if got := statusField(t, out, k); got != "0000000000000000" {
			t.Errorf("%s = %s, want none", k, got)
		}
	}
}

// TestProcessCapabilitiesNonRootAmbient: a non-root user keeps the
// capabilities given as ambient across execve and can use them.
func TestProcessCapabilitiesNonRootAmbient(t *testing.T) {
	e := NewEnv(t)
	bnd := []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"}
	out := e.Sh("cat /proc/self/status; touch /tmp/f; chown 0:0 /tmp/f && echo chowned", func(s *specs.Spec) {
		s.Process.User = specs.User{UID: 1000, GID: 1000}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"mode=1777"}})
		s.Process.Capabilities = &specs.LinuxCapabilities{
			Bounding:    bnd,
			Permitted:   []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"},
			Effective:   []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"},
			Inheritable: []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"},
			Ambient:     []string{"CAP_CHOWN", "CAP_NET_BIND_SERVICE"},
		}
	})
	amb := capMask(t, "CAP_CHOWN", "CAP_NET_BIND_SERVICE")
	want := map[string]string{
		"CapBnd": capMask(t, bnd...),
		"CapPrm": amb,
		"CapEff": amb,
		"CapInh": capMask(t, "CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"),
		"CapAmb": amb,
	}
	for k, v := range want {
		if got := statusField(t, out, k); got != v {
			t.Errorf("%s = %s, want %s", k, got, v)
		}
	}
	if !strings.Contains(out, "chowned\n") {
		t.Errorf("uid 1000 with ambient CAP_CHOWN could not chown")
	}
}

func TestProcessRlimits(t *testing.T) {
	e := NewEnv(t)
	out := e.Sh("ulimit -n; ulimit -Hn; ulimit -c", func(s *specs.Spec) {
		s.Process.Rlimits = []specs.POSIXRlimit{
			{Type: "RLIMIT_NOFILE", Soft: 512, Hard: 2048},
			{Type: "RLIMIT_CORE", Soft: 0, Hard: 0},
		}
	})
	if out != "512\n2048\n0\n" {
		t.Fatalf("ulimit -n, -Hn, -c = %q, want 512 2048 0", out)
	}
}

func TestProcessNoNewPrivileges(t *testing.T) {
	for _, nnp := range []bool{true, false} {
		t.Run(strconv.FormatBool(nnp), func(t *testing.T) {
			e := NewEnv(t)
			out := e.Sh("cat /proc/self/status", func(s *specs.Spec) { s.Process.NoNewPrivileges = nnp })
			want := "0"
			if nnp {
				want = "1"
			}
			if got := statusField(t, out, "NoNewPrivs"); got != want {
				t.Fatalf("NoNewPrivs = %s, want %s", got, want)
			}
		})
	}
}

// TestProcessOOMScoreAdj: raising the score needs no privilege (lowering it
// needs CAP_SYS_RESOURCE, which root lacks on this host).
func TestProcessOOMScoreAdj(t *testing.T) {
	e := NewEnv(t)
	cur, err := os.ReadFile("/proc/self/oom_score_adj")
	if err != nil {
		t.Fatal(err)
	}
	v, _ := strconv.Atoi(strings.TrimSpace(string(cur)))
	want := 500
	if v > want {
		want = v
	}
	out := e.Sh("cat /proc/self/oom_score_adj", func(s *specs.Spec) { s.Process.OOMScoreAdj = &want })
	if strings.TrimSpace(out) != strconv.Itoa(want) {
		t.Fatalf("oom_score_adj = %q, want %d", out, want)
	}
}

func TestProcessHostnameDomainname(t *testing.T) {
	e := NewEnv(t)
	hostBefore, _ := os.Hostname()
	out := e.Sh("hostname; cat /proc/sys/kernel/domainname", func(s *specs.Spec) {
		s.Hostname = "box1"
		s.Domainname = "example.org"
	})
	if out != "box1\nexample.org\n" {
		t.Fatalf("hostname, domainname = %q, want box1 example.org", out)
	}
	if h, _ := os.Hostname(); h != hostBefore {
		t.Fatalf("host's hostname changed: %s -> %s", hostBefore, h)
	}
}

func TestProcessSysctl(t *testing.T) {
	e := NewEnv(t)
	hostFwd, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	hostShm, _ := os.ReadFile("/proc/sys/kernel/shmmax")
	out := e.Sh("cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax", func(s *specs.Spec) {
		s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1", "kernel.shmmax": "123456789"}
	})
	if out != "1\n123456789\n" {
		t.Fatalf("sysctls inside = %q, want 1 123456789", out)
	}
	if f, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); string(f) != string(hostFwd) {
		t.Errorf("host ip_forward changed: %q -> %q", hostFwd, f)
	}
	if f, _ := os.ReadFile("/proc/sys/kernel/shmmax"); string(f) != string(hostShm) {
		t.Errorf("host shmmax changed: %q -> %q", hostShm, f)
	}
}

// TestProcessStdio: with terminal false the container's stdin, stdout,
// stderr and exit code are the caller's.
func TestProcessStdio(t *testing.T) {
	e := NewEnv(t)
	id := e.NewID()
	b := e.Bundle(id, []string{"sh", "-c", "tr a-z A-Z; echo to-stderr >&2; exit 3"}, nil)
	out, stderr, code := e.RunIn([]byte("hello\nworld\n"), "run", "--bundle", b, id)
	if out != "HELLO\nWORLD\n" || code != 3 || !strings.Contains(stderr, "to-stderr") {
		t.Fatalf("stdout %q, stderr %q, exit %d; want HELLO WORLD, to-stderr, 3", out, stderr, code)
	}
}

// TestUserNamespace: a user namespace mapping container root to host uid
// 100000; the rootfs is owned by that uid so container root owns it.
func TestUserNamespace(t *testing.T) {
	e := NewEnv(t)
	id := e.NewID()
	b := e.Bundle(id, []string{"sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u; stat -c %u:%g /bin/busybox; touch /tmp/x && echo wrote; echo x > /dev/null && head -c 3 /dev/zero | wc -c"},
		func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
			s.Root.Readonly = false
		})
	if out, err := exec.Command("chown", "-R", "100000:100000", filepath.Join(b, "rootfs")).CombinedOutput(); err != nil {
		t.Fatalf("chown rootfs: %v %s", err, out)
	}
	// The mapped root must be able to reach its rootfs.
	makeTraversable(b)
	out, stderr, code := e.Run("run", "--bundle", b, id)
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 6 {
		t.Fatalf("output %q", out)
	}
	for i, name := range []string{"uid_map", "gid_map"} {
		if f := strings.Join(strings.Fields(lines[i]), " "); f != "0 100000 65536" {
			t.Errorf("%s = %q, want 0 100000 65536", name, f)
		}
	}
	if lines[2] != "0" || lines[3] != "0:0" || lines[4] != "wrote" || lines[5] != "3" {
		t.Errorf("id -u, owner of /bin/busybox, write, /dev/zero = %q; want 0, 0:0, wrote, 3", lines[2:])
	}
	st, err := os.Stat(filepath.Join(b, "rootfs", "tmp", "x"))
	if err != nil {
		t.Fatal(err)
	}
	// Created by container root: host uid 100000.
	if sys := st.Sys().(*syscall.Stat_t); sys.Uid != 100000 || sys.Gid != 100000 {
		t.Errorf("file made by container root is owned by %d:%d on the host, want 100000:100000", sys.Uid, sys.Gid)
	}
}

// TestTimeNamespace: the container gets a time namespace of its own.
func TestTimeNamespace(t *testing.T) {
	host, err := os.Readlink("/proc/self/ns/time")
	if err != nil {
		t.Skipf("no time namespaces here: %v", err)
	}
	e := NewEnv(t)
	out := e.Sh("readlink /proc/self/ns/time; readlink /proc/self/ns/time_for_children", func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
	})
	lines := strings.Fields(out)
	if len(lines) != 2 || lines[0] == host || lines[0] != lines[1] || !strings.HasPrefix(lines[0], "time:[") {
		t.Fatalf("time ns inside %q, host %s: want a new one, the same for children", out, host)
	}
}

// TestCgroupNamespace: with a cgroup namespace the container sees itself at
// the root of every hierarchy; without, at its cgroupsPath.
func TestCgroupNamespace(t *testing.T) {
	for _, withNS := range []bool{true, false} {
		t.Run("cgroupns="+strconv.FormatBool(withNS), func(t *testing.T) {
			e := NewEnv(t)
			id := e.NewID()
			b := e.Bundle(id, []string{"cat", "/proc/self/cgroup"}, func(s *specs.Spec) {
				if !withNS {
					var ns []specs.LinuxNamespace
					for _, n := range s.Linux.Namespaces {
						if n.Type != specs.CgroupNamespace {
							ns = append(ns, n)
						}
					}
					s.Linux.Namespaces = ns
				}
			})
			out := e.MustRun("run", "--bundle", b, id)
			want := "/"
			if !withNS {
				want = cgroupParent + "/" + id
			}
			seenV2 := false
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				f := strings.SplitN(line, ":", 3)
				if len(f) != 3 {
					t.Fatalf("bad /proc/self/cgroup line %q", line)
				}
				if f[0] == "0" && f[1] == "" {
					seenV2 = true
				}
				if f[2] != want {
					t.Errorf("%s: path %s, want %s", line, f[2], want)
				}
			}
			if !seenV2 {
				t.Errorf("no 0::%s line in\n%s", want, out)
			}
		})
	}
}
