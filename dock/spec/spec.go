// Package spec turns a container's merged configuration into the OCI
// runtime spec handed to minirunc, with Docker's defaults: its
// capabilities, masked and read-only paths, default mounts, device
// allow-list, the default seccomp profile (moby/profiles/seccomp), and the
// user's resources, binds, tmpfs mounts and namespaces.
package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/profiles/seccomp"
	"github.com/moby/sys/user"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// Options is what the spec is made from.
type Options struct {
	ID, Rootfs, Hostname     string
	Args, Env                []string
	Cwd, User                string
	Tty, OpenStdin, ReadOnly bool
	CapAdd, CapDrop          []string
	NoNewPrivileges          bool
	Seccomp                  string // "" default, "unconfined", or a profile's JSON
	Binds                    []Bind
	Tmpfs                    map[string]string
	Memory, MemorySwap       int64
	NanoCPUs, CPUShares      int64
	PidsLimit                int64
	NetworkMode              string // none, host, or a netns path
	HostsPath, HostnamePath  string
	ResolvConfPath           string
	CgroupsPath              string
	Ulimits                  []specs.POSIXRlimit
	Sysctls                  map[string]string
	Devices                  []Device
	InitPath                 string // --init: the host's init binary, "" none
	// PidNS, IpcNS and UTSNS are "" (a new namespace), "host" (none: the
	// host's), or the path of the namespace to join.
	PidNS, IpcNS, UTSNS string
	// Shm is /dev/shm: "" a tmpfs of its own, "none" no mount, or a host
	// dir bound there (a shareable or joined IPC, the host's /dev/shm).
	Shm string
}

// Device is a --device HOST[:CONTAINER[:PERMS]].
type Device struct {
	Source, Destination, Perms string
}

// InitDest is where --init's binary is mounted, as Docker.
const InitDest = "/sbin/docker-init"

// ParseDevice parses --device HOST[:CONTAINER[:PERMS]]; PERMS is some of
// r, w, m (rwm by default).
func ParseDevice(v string) (Device, error) {
	parts := strings.Split(v, ":")
	if len(parts) > 3 || parts[0] == "" {
		return Device{}, fmt.Errorf("invalid device specification: %q", v)
	}
	d := Device{Source: parts[0], Destination: parts[0], Perms: "rwm"}
	if len(parts) >= 2 && parts[1] != "" {
		d.Destination = parts[1]
	}
	if len(parts) == 3 {
		d.Perms = parts[2]
	}
	if d.Perms == "" || strings.Trim(d.Perms, "rwm") != "" {
		return Device{}, fmt.Errorf("invalid device mode %q in %q", d.Perms, v)
	}
	if !filepath.IsAbs(d.Source) || !filepath.IsAbs(d.Destination) {
		return Device{}, fmt.Errorf("invalid device specification: %q: the paths must be absolute", v)
	}
	if _, _, err := deviceNode(d.Source); err != nil {
		return Device{}, fmt.Errorf("error gathering device information while adding device %q: %w", d.Source, err)
	}
	return d, nil
}

// deviceNode stats a host device node.
func deviceNode(p string) (*unix.Stat_t, string, error) {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return nil, "", &os.PathError{Op: "stat", Path: p, Err: err}
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		return &st, "c", nil
	case unix.S_IFBLK:
		return &st, "b", nil
	}
	return nil, "", fmt.Errorf("%s is not a device node", p)
}

// Bind is a -v HOST:CTR[:ro].
type Bind struct {
	Source, Destination string
	ReadOnly            bool
}

// DefaultCaps are Docker's default capabilities.
var DefaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// AllCaps is every capability a --cap-add ALL grants.
var AllCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
	"CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
	"CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

// MaskedPaths and ReadonlyPaths are Docker's.
var (
	MaskedPaths = []string{
		"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
		"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
	}
	ReadonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

// NormalizeCap turns "net_admin" into "CAP_NET_ADMIN" and checks it.
func NormalizeCap(c string) (string, error) {
	c = strings.ToUpper(c)
	if c == "ALL" {
		return c, nil
	}
	if !strings.HasPrefix(c, "CAP_") {
		c = "CAP_" + c
	}
	for _, k := range AllCaps {
		if k == c {
			return c, nil
		}
	}
	return "", fmt.Errorf("unknown capability: %q", c)
}

// Caps applies --cap-add and --cap-drop to Docker's defaults.
func Caps(add, drop []string) ([]string, error) {
	set := map[string]bool{}
	for _, c := range DefaultCaps {
		set[c] = true
	}
	for _, c := range drop {
		n, err := NormalizeCap(c)
		if err != nil {
			return nil, err
		}
		if n == "ALL" {
			set = map[string]bool{}
		}
		delete(set, n)
	}
	for _, c := range add {
		n, err := NormalizeCap(c)
		if err != nil {
			return nil, err
		}
		if n == "ALL" {
			for _, k := range AllCaps {
				set[k] = true
			}
		}
		if n != "ALL" {
			set[n] = true
		}
	}
	var out []string
	for _, k := range AllCaps {
		if set[k] {
			out = append(out, k)
		}
	}
	return out, nil
}

// Generate makes the OCI spec.
func Generate(o *Options) (*specs.Spec, error) {
	caps, err := Caps(o.CapAdd, o.CapDrop)
	if err != nil {
		return nil, err
	}
	uid, gid, groups, home, err := resolveUser(o.Rootfs, o.User)
	if err != nil {
		return nil, err
	}
	env := o.Env
	if !hasEnv(env, "HOME") && home != "" {
		env = append(env, "HOME="+home)
	}
	cwd := o.Cwd
	if cwd == "" {
		cwd = "/"
	}
	s := &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Terminal: o.Tty,
			User:     specs.User{UID: uid, GID: gid, AdditionalGids: groups},
			Args:     o.Args,
			Env:      env,
			Cwd:      cwd,
			Capabilities: &specs.LinuxCapabilities{
				Bounding: caps, Effective: caps, Permitted: caps,
			},
			NoNewPrivileges: o.NoNewPrivileges,
			Rlimits:         o.Ulimits,
		},
		Root:     &specs.Root{Path: o.Rootfs, Readonly: o.ReadOnly},
		Hostname: o.Hostname,
		Mounts:   defaultMounts(),
		Linux: &specs.Linux{
			CgroupsPath:   o.CgroupsPath,
			MaskedPaths:   MaskedPaths,
			ReadonlyPaths: ReadonlyPaths,
			Sysctl:        o.Sysctls,
			Namespaces:    []specs.LinuxNamespace{{Type: specs.MountNamespace}},
			Resources:     resources(o),
		},
	}
	for _, ns := range []struct {
		typ  specs.LinuxNamespaceType
		mode string
	}{{specs.PIDNamespace, o.PidNS}, {specs.IPCNamespace, o.IpcNS}, {specs.UTSNamespace, o.UTSNS}} {
		switch ns.mode {
		case "host":
		case "":
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: ns.typ})
		default:
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: ns.typ, Path: ns.mode})
		}
	}
	if o.UTSNS != "" {
		// The host's or another container's hostname: never set it.
		s.Hostname = ""
	}
	switch o.Shm {
	case "":
	case "none":
		s.Mounts = withoutMount(s.Mounts, "/dev/shm")
	default:
		s.Mounts = withoutMount(s.Mounts, "/dev/shm")
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/dev/shm", Type: "bind", Source: o.Shm, Options: []string{"rbind", "rprivate", "nosuid", "noexec", "nodev"}})
	}
	switch o.NetworkMode {
	case "host":
		// The host's network: no namespace, the host's hostname files.
	case "", "none":
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	default:
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: o.NetworkMode})
	}
	if isCgroup2() {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	}
	for _, f := range []struct{ dst, src string }{
		{"/etc/resolv.conf", o.ResolvConfPath}, {"/etc/hostname", o.HostnamePath}, {"/etc/hosts", o.HostsPath},
	} {
		if f.src != "" {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: f.dst, Type: "bind", Source: f.src, Options: []string{"rbind", "rprivate"}})
		}
	}
	for _, b := range o.Binds {
		opts := []string{"rbind", "rprivate"}
		if b.ReadOnly {
			opts = append(opts, "ro")
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: b.Destination, Type: "bind", Source: b.Source, Options: opts})
	}
	for dst, opt := range o.Tmpfs {
		opts := []string{"nosuid", "nodev", "noexec"}
		if opt != "" {
			opts = append(opts, strings.Split(opt, ",")...)
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: dst, Type: "tmpfs", Source: "tmpfs", Options: opts})
	}
	if o.InitPath != "" {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: InitDest, Type: "bind", Source: o.InitPath, Options: []string{"rbind", "rprivate", "ro"}})
		s.Process.Args = append([]string{InitDest, "--"}, s.Process.Args...)
	}
	for _, d := range o.Devices {
		st, typ, err := deviceNode(d.Source)
		if err != nil {
			return nil, fmt.Errorf("error gathering device information while adding device %q: %w", d.Source, err)
		}
		maj, mnr := int64(unix.Major(uint64(st.Rdev))), int64(unix.Minor(uint64(st.Rdev)))
		mode := os.FileMode(st.Mode & 0o777)
		zero := uint32(0)
		s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{Path: d.Destination, Type: typ, Major: maj, Minor: mnr, FileMode: &mode, UID: &zero, GID: &zero})
		s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, specs.LinuxDeviceCgroup{Allow: true, Type: typ, Major: &maj, Minor: &mnr, Access: d.Perms})
	}
	switch o.Seccomp {
	case "unconfined":
	case "":
		if s.Linux.Seccomp, err = seccomp.GetDefaultProfile(s); err != nil {
			return nil, fmt.Errorf("default seccomp profile: %w", err)
		}
	default:
		if s.Linux.Seccomp, err = seccomp.LoadProfile(o.Seccomp, s); err != nil {
			return nil, fmt.Errorf("seccomp profile: %w", err)
		}
	}
	return s, nil
}

func defaultMounts() []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=67108864"}},
	}
}

func withoutMount(ms []specs.Mount, dst string) []specs.Mount {
	out := ms[:0]
	for _, m := range ms {
		if m.Destination != dst {
			out = append(out, m)
		}
	}
	return out
}

func resources(o *Options) *specs.LinuxResources {
	r := &specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
	}
	dev := func(t string, maj, min int64, acc string) {
		r.Devices = append(r.Devices, specs.LinuxDeviceCgroup{Allow: true, Type: t, Major: &maj, Minor: &min, Access: acc})
	}
	// Docker's default allow list: null, zero, full, random, urandom,
	// tty, console, ptmx, the ptys, and mknod of any char or block device.
	wildcard := int64(-1)
	r.Devices = append(r.Devices,
		specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: &wildcard, Minor: &wildcard, Access: "m"},
		specs.LinuxDeviceCgroup{Allow: true, Type: "b", Major: &wildcard, Minor: &wildcard, Access: "m"})
	dev("c", 1, 3, "rwm")
	dev("c", 1, 5, "rwm")
	dev("c", 1, 7, "rwm")
	dev("c", 1, 8, "rwm")
	dev("c", 1, 9, "rwm")
	dev("c", 5, 0, "rwm")
	dev("c", 5, 1, "rwm")
	dev("c", 5, 2, "rwm")
	dev("c", 10, 200, "rwm")
	r.Devices = append(r.Devices, specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: int64p(136), Minor: &wildcard, Access: "rwm"})
	if o.Memory > 0 || o.MemorySwap != 0 {
		r.Memory = &specs.LinuxMemory{}
		if o.Memory > 0 {
			r.Memory.Limit = &o.Memory
		}
		if o.MemorySwap != 0 {
			r.Memory.Swap = &o.MemorySwap
		}
	}
	if o.NanoCPUs > 0 || o.CPUShares > 0 {
		r.CPU = &specs.LinuxCPU{}
		if o.NanoCPUs > 0 {
			period := uint64(100000)
			quota := o.NanoCPUs * int64(period) / 1e9
			r.CPU.Period, r.CPU.Quota = &period, &quota
		}
		if o.CPUShares > 0 {
			sh := uint64(o.CPUShares)
			r.CPU.Shares = &sh
		}
	}
	if o.PidsLimit != 0 {
		r.Pids = &specs.LinuxPids{Limit: &o.PidsLimit}
	}
	return r
}

func int64p(v int64) *int64 { return &v }

func hasEnv(env []string, k string) bool {
	for _, e := range env {
		if strings.HasPrefix(e, k+"=") {
			return true
		}
	}
	return false
}

func isCgroup2() bool {
	_, err := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	return err == nil
}

// resolveUser turns -u (name, uid, name:group, uid:gid) into ids, looked up
// in the container's /etc/passwd and /etc/group, opened inside rootfs.
func resolveUser(rootfs, u string) (uid, gid uint32, groups []uint32, home string, err error) {
	passwd, _ := securejoin.SecureJoin(rootfs, "/etc/passwd")
	group, _ := securejoin.SecureJoin(rootfs, "/etc/group")
	def := &user.ExecUser{Uid: 0, Gid: 0, Home: "/"}
	if u == "" {
		u = "0"
	}
	eu, err := user.GetExecUserPath(u, def, passwd, group)
	if err != nil {
		return 0, 0, nil, "", fmt.Errorf("unable to find user %s: %w", u, err)
	}
	for _, g := range eu.Sgids {
		if g != eu.Gid {
			groups = append(groups, uint32(g))
		}
	}
	return uint32(eu.Uid), uint32(eu.Gid), groups, eu.Home, nil
}

// ParseBind parses -v HOST:CTR[:ro|rw]; HOST must be absolute and exist
// (named volumes are not supported).
func ParseBind(v string) (Bind, error) {
	parts := strings.Split(v, ":")
	bad := func(why string) (Bind, error) {
		return Bind{}, fmt.Errorf("invalid volume specification: %q: %s", v, why)
	}
	if len(parts) < 2 || len(parts) > 3 {
		return bad("expected HOST:CONTAINER[:ro]")
	}
	b := Bind{Source: parts[0], Destination: parts[1]}
	if len(parts) == 3 {
		switch parts[2] {
		case "ro":
			b.ReadOnly = true
		case "rw", "":
		default:
			return bad("unknown mode " + strconv.Quote(parts[2]))
		}
	}
	if !filepath.IsAbs(b.Source) {
		return bad("the host path must be absolute (named volumes are not supported)")
	}
	if !filepath.IsAbs(b.Destination) || filepath.Clean(b.Destination) == "/" {
		return bad("the container path must be absolute and not /")
	}
	if _, err := os.Stat(b.Source); err != nil {
		return bad("the host path does not exist")
	}
	b.Destination = filepath.Clean(b.Destination)
	return b, nil
}
