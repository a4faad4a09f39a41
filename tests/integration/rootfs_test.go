package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// addMount appends a mount to the spec.
func addMount(m specs.Mount) func(*specs.Spec) {
	return func(s *specs.Spec) { s.Mounts = append(s.Mounts, m) }
}

func TestMountBindFile(t *testing.T) {
	e := NewEnv(t)
	src := filepath.Join(t.TempDir(), "hello.txt")
	writeFile(t, src, "hello from the host\n")
	out := e.Sh("cat /etc/hello.txt; cat /etc/passwd | head -1", addMount(specs.Mount{
		Destination: "/etc/hello.txt", Type: "bind", Source: src, Options: []string{"bind"},
	}))
	if !strings.HasPrefix(out, "hello from the host\nroot:") {
		t.Fatalf("output %q: want the host file's content at /etc/hello.txt", out)
	}
}

func TestMountBindDir(t *testing.T) {
	e := NewEnv(t)
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "a"), "A\n")
	out := e.Sh("cat /data/a; echo B > /data/b", addMount(specs.Mount{
		Destination: "/data", Type: "bind", Source: src, Options: []string{"rbind", "rw"},
	}))
	if out != "A\n" {
		t.Fatalf("cat /data/a = %q, want A", out)
	}
	if b, err := os.ReadFile(filepath.Join(src, "b")); err != nil || string(b) != "B\n" {
		t.Fatalf("file written in the container through the bind: %q, %v", b, err)
	}
}

// TestMountRbindNested: rbind carries a mount nested inside the source;
// a plain bind does not.
func TestMountRbindNested(t *testing.T) {
	e := NewEnv(t)
	src := t.TempDir()
	hostMount(t, filepath.Join(src, "nested"), 0, "size=1m")
	writeFile(t, filepath.Join(src, "nested", "f"), "nested-file\n")
	out := e.Sh("cat /r/nested/f; ls /b/nested | wc -l", chainMutate(
		addMount(specs.Mount{Destination: "/r", Type: "bind", Source: src, Options: []string{"rbind"}}),
		addMount(specs.Mount{Destination: "/b", Type: "bind", Source: src, Options: []string{"bind"}}),
	))
	if out != "nested-file\n0\n" {
		t.Fatalf("output %q: want the nested mount's file under the rbind and an empty dir under the bind", out)
	}
}

func TestMountProc(t *testing.T) {
	e := NewEnv(t)
	out := e.Sh("cat /proc/self/mountinfo; echo ===; cat /proc/1/cmdline | tr '\\0' ' '", nil)
	mi, rest, _ := strings.Cut(out, "===\n")
	if m := mustMount(t, parseMountinfo(t, mi), "/proc"); m.FSType != "proc" {
		t.Fatalf("/proc is %s, want proc", m.FSType)
	}
	if !strings.HasPrefix(rest, "sh -c") {
		t.Fatalf("/proc/1/cmdline = %q: want the container's own pid 1", rest)
	}
}

func TestMountSysfs(t *testing.T) {
	e := NewEnv(t)
	out := e.Sh("cat /proc/self/mountinfo; echo ===; ls /sys/class/net; touch /sys/x 2>/dev/null && echo wrote; true", nil)
	mi, rest, _ := strings.Cut(out, "===\n")
	m := mustMount(t, parseMountinfo(t, mi), "/sys")
	if m.FSType != "sysfs" || !m.has("ro") || !m.has("nosuid") || !m.has("nodev") || !m.has("noexec") {
		t.Fatalf("/sys: %+v, want sysfs ro,nosuid,nodev,noexec", m)
	}
	// The container's own network namespace: only lo.
	if strings.TrimSpace(rest) != "lo" {
		t.Fatalf("/sys/class/net lists %q, want only lo", rest)
	}
}

func TestMountTmpfsSizeMode(t *testing.T) {
	e := NewEnv(t)
	out := e.Sh("stat -c %a /scratch; cat /proc/self/mountinfo", addMount(specs.Mount{
		Destination: "/scratch", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=2m", "mode=1770"},
	}))
	mode, mi, _ := strings.Cut(out, "\n")
	if mode != "1770" {
		t.Fatalf("mode of /scratch = %s, want 1770", mode)
	}
	m := mustMount(t, parseMountinfo(t, mi), "/scratch")
	if m.FSType != "tmpfs" || !m.has("size=2048k") || !m.has("mode=1770") {
		t.Fatalf("/scratch: %+v, want tmpfs size=2048k,mode=1770", m)
	}
}

// TestMountTmpfsCopyUp: runc's "tmpcopyup" extension (Podman puts it on
// --tmpfs and on --read-only's /run, /tmp, /var/tmp) starts the tmpfs with
// a copy of what it covers; it is not passed to tmpfs as data.
func TestMountTmpfsCopyUp(t *testing.T) {
	e := NewEnv(t)
	out := e.Sh("cat /etc/passwd | head -1; readlink /bin/sh; echo new > /etc/new && cat /etc/new; grep ' /etc ' /proc/mounts | cut -d' ' -f3", func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{
			Destination: "/etc", Type: "tmpfs", Source: "tmpfs", Options: []string{"rw", "tmpcopyup", "size=1m"},
		}, specs.Mount{
			Destination: "/bin", Type: "tmpfs", Source: "tmpfs", Options: []string{"tmpcopyup", "mode=755"},
		})
	})
	if out != "root:x:0:0:root:/root:/bin/sh\nbusybox\nnew\ntmpfs\n" {
		t.Fatalf("output %q: want /etc's files on a tmpfs that takes writes", out)
	}
}

func TestMountDevpts(t *testing.T) {
	e := NewEnv(t)
	out := e.Sh("stat -c '%F %a' /dev/pts/ptmx; cat /proc/self/mountinfo", nil)
	first, mi, _ := strings.Cut(out, "\n")
	if first != "character special file 666" {
		t.Fatalf("/dev/pts/ptmx: %q, want a char device with mode 666 (ptmxmode=0666)", first)
	}
	m := mustMount(t, parseMountinfo(t, mi), "/dev/pts")
	if m.FSType != "devpts" || !m.has("gid=5") || !m.has("mode=620") || !m.has("ptmxmode=666") {
		t.Fatalf("/dev/pts: %+v, want devpts gid=5,mode=620,ptmxmode=666", m)
	}
}

func TestMountMqueue(t *testing.T) {
	e := NewEnv(t)
	out := e.Sh("cat /proc/self/mountinfo", nil)
	m := mustMount(t, parseMountinfo(t, out), "/dev/mqueue")
	if m.FSType != "mqueue" || !m.has("nosuid") || !m.has("nodev") || !m.has("noexec") {
		t.Fatalf("/dev/mqueue: %+v, want mqueue nosuid,nodev,noexec", m)
	}
}

// TestMountCgroupShowsOwnCgroup: with a cgroup mount, the container sees
// its own cgroup's files: a limit the host sets on the container's cgroup
// is what it reads at /sys/fs/cgroup/<controller>.
func TestMountCgroupShowsOwnCgroup(t *testing.T) {
	e := NewEnv(t)
	id := e.NewID()
	b := e.Bundle(id, []string{"sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max > /out 2>&1; " +
		"ls /sys/fs/cgroup >> /out; cat /proc/self/mountinfo > /mi"}, writable)
	e.MustRun("create", "--bundle", b, id)
	mem := filepath.Join("/sys/fs/cgroup/memory", cgroupParent, id)
	pids := filepath.Join("/sys/fs/cgroup/pids", cgroupParent, id)
	if _, err := os.Stat(mem); err != nil {
		t.Skipf("no v1 memory hierarchy here: %v", err)
	}
	writeFile(t, filepath.Join(mem, "memory.limit_in_bytes"), "67108864")
	writeFile(t, filepath.Join(pids, "pids.max"), "42")
	e.MustRun("start", id)
	waitStatus(t, e, id, "stopped")
	out, _ := os.ReadFile(filepath.Join(b, "rootfs", "out"))
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 3 || lines[0] != "67108864" || lines[1] != "42" {
		t.Fatalf("inside: %q, want memory.limit_in_bytes 67108864 and pids.max 42", out)
	}
	for _, want := range []string{"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids"} {
		if !strings.Contains("\n"+strings.Join(lines[2:], "\n")+"\n", "\n"+want+"\n") {
			t.Errorf("/sys/fs/cgroup lacks %s: %q", want, lines[2:])
		}
	}
	mi, _ := os.ReadFile(filepath.Join(b, "rootfs", "mi"))
	m := mustMount(t, parseMountinfo(t, string(mi)), "/sys/fs/cgroup/memory")
	if !m.has("ro") {
		t.Errorf("/sys/fs/cgroup/memory: %+v, want read-only (the spec says ro)", m)
	}
	e.MustRun("delete", id)
}

func TestMountReadonlyBind(t *testing.T) {
	e := NewEnv(t)
	src := t.TempDir()
	out, _, code := e.RunContainer([]string{"sh", "-c", "echo x > /ro/f && echo wrote; cat /proc/self/mountinfo"},
		addMount(specs.Mount{Destination: "/ro", Type: "bind", Source: src, Options: []string{"rbind", "ro"}}))
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	if strings.Contains(out, "wrote") {
		t.Fatal("writing into a ro bind mount succeeded")
	}
	if m := mustMount(t, parseMountinfo(t, out), "/ro"); !m.has("ro") {
		t.Fatalf("/ro: %+v, want ro", m)
	}
	if _, err := os.Stat(filepath.Join(src, "f")); err == nil {
		t.Fatal("the write reached the host")
	}
}

func TestMountNosuidNoexecNodev(t *testing.T) {
	e := NewEnv(t)
	out := e.Sh("cp /bin/busybox /t/bb; /t/bb true 2>/dev/null && echo executed; cat /proc/self/mountinfo",
		addMount(specs.Mount{Destination: "/t", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "noexec", "nodev"}}))
	if strings.Contains(out, "executed") {
		t.Fatal("a binary ran from a noexec mount")
	}
	m := mustMount(t, parseMountinfo(t, out), "/t")
	for _, o := range []string{"nosuid", "noexec", "nodev"} {
		if !m.has(o) {
			t.Errorf("/t: %+v lacks %s", m, o)
		}
	}
}

// TestMountPropagation: a mount's propagation option shows in mountinfo's
// optional fields. The source is a shared mount in the test's namespace so
// that a slave has a master to show.
func TestMountPropagation(t *testing.T) {
	e := NewEnv(t)
	src := filepath.Join(t.TempDir(), "shared")
	hostMount(t, src, 0, "size=1m")
	if err := unix.Mount("", src, "", unix.MS_SHARED, ""); err != nil {
		t.Fatal(err)
	}
	bind := func(dest, prop string) func(*specs.Spec) {
		return addMount(specs.Mount{Destination: dest, Type: "bind", Source: src, Options: []string{"rbind", prop}})
	}
	out := e.Sh("cat /proc/self/mountinfo", chainMutate(
		bind("/p-rprivate", "rprivate"), bind("/p-rslave", "rslave"), bind("/p-shared", "shared"), bind("/p-rshared", "rshared")))
	mi := parseMountinfo(t, out)
	if m := mustMount(t, mi, "/p-rprivate"); len(m.Optional) != 0 {
		t.Errorf("rprivate mount has propagation fields %v, want none", m.Optional)
	}
	if m := mustMount(t, mi, "/p-rslave"); !m.optional("master:") || m.optional("shared:") {
		t.Errorf("rslave mount has propagation fields %v, want master:N only", m.Optional)
	}
	for _, mp := range []string{"/p-shared", "/p-rshared"} {
		if m := mustMount(t, mi, mp); !m.optional("shared:") {
			t.Errorf("%s has propagation fields %v, want shared:N", mp, m.Optional)
		}
	}
}

// TestMountRecursiveReadonly: rro makes the nested mounts of an rbind
// read-only too (plain ro leaves them writable).
func TestMountRecursiveReadonly(t *testing.T) {
	e := NewEnv(t)
	src := t.TempDir()
	hostMount(t, filepath.Join(src, "nested"), 0, "size=1m")
	out := e.Sh("touch /rro/top 2>/dev/null && echo top-writable; touch /rro/nested/f 2>/dev/null && echo nested-writable; "+
		"touch /ro/nested/g 2>/dev/null && echo plain-ro-nested-writable; true", chainMutate(
		addMount(specs.Mount{Destination: "/rro", Type: "bind", Source: src, Options: []string{"rbind", "rro"}}),
		addMount(specs.Mount{Destination: "/ro", Type: "bind", Source: src, Options: []string{"rbind", "ro"}}),
	))
	if out != "plain-ro-nested-writable\n" {
		t.Fatalf("output %q: want neither level writable under rro (and the nested mount writable under plain ro)", out)
	}
}

func TestRunNoPivot(t *testing.T) {
	e := NewEnv(t)
	id := e.NewID()
	b := e.Bundle(id, []string{"sh", "-c", "ls /; echo ===; cat /proc/self/mountinfo"}, nil)
	out, stderr, code := e.Run("run", "--no-pivot", "--bundle", b, id)
	if code != 0 {
		t.Fatalf("run --no-pivot: exit %d: %s", code, stderr)
	}
	ls, mi, _ := strings.Cut(out, "===\n")
	if !strings.Contains(ls, "bin\n") || strings.Contains(ls, "usr\n") || strings.Contains(ls, "boot\n") {
		t.Fatalf("ls / = %q, want the busybox rootfs", ls)
	}
	if m := mustMount(t, parseMountinfo(t, mi), "/"); !strings.HasSuffix(m.Root, filepath.Base(b)+"/rootfs") {
		t.Fatalf("/ is %+v, want the bundle's rootfs", m)
	}
}

func TestDefaultDevices(t *testing.T) {
	e := NewEnv(t)
	out := e.Sh("for d in null zero full random urandom tty; do stat -c '%n %F %a %t:%T' /dev/$d; done; head -c 4 /dev/zero | wc -c", nil)
	want := "/dev/null character special file 666 1:3\n" +
		"/dev/zero character special file 666 1:5\n" +
		"/dev/full character special file 666 1:7\n" +
		"/dev/random character special file 666 1:8\n" +
		"/dev/urandom character special file 666 1:9\n" +
		"/dev/tty character special file 666 5:0\n4\n"
	if out != want {
		t.Fatalf("devices:\n%s\nwant:\n%s", out, want)
	}
}

func TestDevSymlinks(t *testing.T) {
	e := NewEnv(t)
	out := e.Sh("for l in fd stdin stdout stderr ptmx; do echo $l=$(readlink /dev/$l); done; ls /dev/fd/ | grep -c .", nil)
	want := "fd=/proc/self/fd\nstdin=/proc/self/fd/0\nstdout=/proc/self/fd/1\nstderr=/proc/self/fd/2\nptmx=pts/ptmx\n"
	if !strings.HasPrefix(out, want) {
		t.Fatalf("symlinks:\n%s\nwant:\n%s", out, want)
	}
}

func TestLinuxDevices(t *testing.T) {
	e := NewEnv(t)
	mode := os.FileMode(0o600)
	uid, gid := uint32(1000), uint32(1001)
	// The owner can use it; mode 0600 keeps out even root without
	// CAP_DAC_OVERRIDE, so the process runs as the owner.
	out := e.Sh("stat -c '%F %a %u %g %t:%T' /dev/mynull; echo hi > /dev/mynull && echo ok", func(s *specs.Spec) {
		s.Process.User = specs.User{UID: uid, GID: gid}
		s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{
			Path: "/dev/mynull", Type: "c", Major: 1, Minor: 3, FileMode: &mode, UID: &uid, GID: &gid,
		})
		s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: ptr(int64(1)), Minor: ptr(int64(3)), Access: "rwm"})
	})
	if out != "character special file 600 1000 1001 1:3\nok\n" {
		t.Fatalf("/dev/mynull: %q, want a 1:3 char device, mode 600, owner 1000:1001, usable", out)
	}
}

func ptr[T any](v T) *T { return &v }

func TestMaskedPaths(t *testing.T) {
	e := NewEnv(t)
	id := e.NewID()
	// /proc/kcore does not exist on every kernel; /proc/timer_list is in
	// the default list too.
	script := "for f in /proc/kcore /proc/timer_list /etc/secret.conf; do [ -e $f ] && wc -c < $f; done; " +
		"ls -A /secret | wc -l; touch /secret/new 2>/dev/null && echo wrote; true"
	b := e.Bundle(id, []string{"sh", "-c", script}, func(s *specs.Spec) {
		s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, "/secret", "/etc/secret.conf", "/does/not/exist")
	})
	writeFile(t, filepath.Join(b, "rootfs", "secret", "key"), "sesame\n")
	writeFile(t, filepath.Join(b, "rootfs", "etc", "secret.conf"), "password\n")
	out, stderr, code := e.Run("run", "--bundle", b, id)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := "0\n0\n0\n"
	if _, err := os.Stat("/proc/kcore"); err == nil {
		want = "0\n" + want
	}
	if out != want {
		t.Fatalf("output %q, want %q: masked files read empty, a masked dir is empty and read-only", out, want)
	}
}

func TestReadonlyPaths(t *testing.T) {
	e := NewEnv(t)
	out := e.Sh("echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo wrote; cat /proc/self/mountinfo", nil)
	if strings.Contains(out, "wrote") {
		t.Fatal("wrote to /proc/sys, a read-only path")
	}
	if m := mustMount(t, parseMountinfo(t, out), "/proc/sys"); !m.has("ro") {
		t.Fatalf("/proc/sys: %+v, want ro", m)
	}
}

// TestRootfsPropagation: the rootfs lives on a shared mount of the test's
// namespace; a mount made there after create reaches the container only
// with a slave root (the default is rslave, as with runc), and a shared
// root never propagates the container's mounts back.
func TestRootfsPropagation(t *testing.T) {
	for _, tc := range []struct {
		prop     string
		optional string // expected propagation field of / inside
		sees     bool   // a mount made on the host after create is visible
	}{
		{"", "master:", true},
		{"rslave", "master:", true},
		{"private", "", false},
		{"shared", "shared:", false},
	} {
		t.Run("prop="+tc.prop, func(t *testing.T) {
			e := NewEnv(t)
			shared := filepath.Join(t.TempDir(), "shared")
			hostMount(t, shared, 0, "size=64m")
			if err := unix.Mount("", shared, "", unix.MS_SHARED, ""); err != nil {
				t.Fatal(err)
			}
			root := filepath.Join(shared, "rootfs")
			if out, err := exec.Command("cp", "-a", baseRoot, root).CombinedOutput(); err != nil {
				t.Fatalf("copy rootfs: %v %s", err, out)
			}
			id := e.NewID()
			b := e.Bundle(id, []string{"sh", "-c", "cat /mnt/late/f > /out 2>/dev/null; cat /proc/self/mountinfo > /mi"}, func(s *specs.Spec) {
				s.Root.Path = root
				s.Root.Readonly = false
				s.Linux.RootfsPropagation = tc.prop
			})
			e.MustRun("create", "--bundle", b, id)
			hostMount(t, filepath.Join(root, "mnt", "late"), 0, "size=1m")
			writeFile(t, filepath.Join(root, "mnt", "late", "f"), "late\n")
			e.MustRun("start", id)
			waitStatus(t, e, id, "stopped")
			e.MustRun("delete", id)
			mi, _ := os.ReadFile(filepath.Join(root, "mi"))
			m := mustMount(t, parseMountinfo(t, string(mi)), "/")
			if tc.optional == "" && len(m.Optional) != 0 || tc.optional != "" && !m.optional(tc.optional) {
				t.Errorf("/ inside has propagation fields %v, want %q", m.Optional, tc.optional)
			}
			out, _ := os.ReadFile(filepath.Join(root, "out"))
			if sees := string(out) == "late\n"; sees != tc.sees {
				t.Errorf("container saw the host's later mount: %v, want %v", sees, tc.sees)
			}
			// Nothing the container mounted came back to the host.
			host, _ := os.ReadFile("/proc/self/mountinfo")
			for mp := range parseMountinfo(t, string(host)) {
				if strings.HasPrefix(mp, root+"/") && mp != filepath.Join(root, "mnt", "late") {
					t.Errorf("container mount propagated to the host: %s", mp)
				}
			}
		})
	}
}

func TestRootReadonly(t *testing.T) {
	e := NewEnv(t)
	out, stderr, code := e.RunContainer([]string{"sh", "-c", "touch /x"}, nil)
	if code == 0 {
		t.Fatalf("touch / succeeded on a read-only root: %s", out)
	}
	if !strings.Contains(stderr, "Read-only file system") {
		t.Fatalf("stderr %q, want Read-only file system", stderr)
	}
}

func TestRootReadWrite(t *testing.T) {
	e := NewEnv(t)
	id := e.NewID()
	b := e.Bundle(id, []string{"sh", "-c", "echo hi > /x"}, writable)
	e.MustRun("run", "--bundle", b, id)
	if data, err := os.ReadFile(filepath.Join(b, "rootfs", "x")); err != nil || string(data) != "hi\n" {
		t.Fatalf("rootfs/x = %q, %v; want hi", data, err)
	}
}

// TestRootPathRelative: "rootfs" is relative to the bundle, not to the
// caller's working directory.
func TestRootPathRelative(t *testing.T) {
	e := NewEnv(t)
	id := e.NewID()
	b := e.Bundle(id, []string{"cat", "/marker"}, func(s *specs.Spec) { s.Root.Path = "rootfs" })
	writeFile(t, filepath.Join(b, "rootfs", "marker"), "relative\n")
	if out := e.MustRun("run", "--bundle", b, id); out != "relative\n" {
		t.Fatalf("output %q", out)
	}
}

func TestRootPathAbsolute(t *testing.T) {
	e := NewEnv(t)
	id := e.NewID()
	root := filepath.Join(e.BundleDir(id), "elsewhere")
	b := e.Bundle(id, []string{"cat", "/marker"}, func(s *specs.Spec) { s.Root.Path = root })
	if err := os.Rename(filepath.Join(b, "rootfs"), root); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, "marker"), "absolute\n")
	if out := e.MustRun("run", "--bundle", b, id); out != "absolute\n" {
		t.Fatalf("output %q", out)
	}
}

// TestMountThroughSymlinkStaysInRootfs: a mount destination whose path
// goes through a symlink in the rootfs pointing outside it (absolute or
// with ..) lands inside the rootfs; the host directory is untouched.
func TestMountThroughSymlinkStaysInRootfs(t *testing.T) {
	e := NewEnv(t)
	hostDir := t.TempDir()
	src := filepath.Join(t.TempDir(), "file")
	writeFile(t, src, "bound\n")
	id := e.NewID()
	rel := strings.Repeat("../", 10) + strings.TrimPrefix(hostDir, "/")
	b := e.Bundle(id, []string{"sh", "-c", "cat /evil/file /dotdot/file /lastlink; ls /evil/sub && echo sub-ok; cat /proc/self/mountinfo"}, chainMutate(
		addMount(specs.Mount{Destination: "/evil/sub", Type: "tmpfs", Source: "tmpfs"}),
		addMount(specs.Mount{Destination: "/lastlink", Type: "bind", Source: src, Options: []string{"bind"}}),
		addMount(specs.Mount{Destination: "/evil/file", Type: "bind", Source: src, Options: []string{"bind"}}),
		addMount(specs.Mount{Destination: "/dotdot/file", Type: "bind", Source: src, Options: []string{"bind"}}),
	))
	rootfs := filepath.Join(b, "rootfs")
	if err := os.Symlink(hostDir, filepath.Join(rootfs, "evil")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(rel, filepath.Join(rootfs, "dotdot")); err != nil {
		t.Fatal(err)
	}
	// The destination itself a dangling symlink to a host file.
	if err := os.Symlink(filepath.Join(hostDir, "target"), filepath.Join(rootfs, "lastlink")); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := e.Run("run", "--bundle", b, id)
	if ents, err := os.ReadDir(hostDir); err != nil || len(ents) != 0 {
		t.Fatalf("host dir %s touched: %v %v", hostDir, ents, err)
	}
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	if !strings.HasPrefix(out, "bound\nbound\nbound\nsub-ok\n") {
		t.Fatalf("output %q: want the mounts reachable through the symlinks", out)
	}
	mi := parseMountinfo(t, out)
	mustMount(t, mi, hostDir+"/sub")
	mustMount(t, mi, hostDir+"/file")
	mustMount(t, mi, hostDir+"/target")
	// And they were made inside the rootfs, on the rootfs' own filesystem.
	if _, err := os.Stat(filepath.Join(rootfs, hostDir, "sub")); err != nil {
		t.Fatalf("mount point not created inside the rootfs: %v", err)
	}
}
