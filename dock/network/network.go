// Package network is minidock's bridge networking: a Linux bridge (made
// on first use, removed with the last endpoint when minidock made it), one
// veth pair per container with its container end as eth0 in a network
// namespace that is bind-mounted to a file under the container's run dir,
// addresses from a small allocator kept on disk (one JSON file per bridge,
// written atomically under a lock), and the default route through the
// bridge's address. Links and addresses are set with iproute2's ip(8),
// entered into the namespace with nsenter(1). It also parses -p.
package network

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/minirunc/minirunc/dock/fsutil"
	"golang.org/x/sys/unix"
)

// Config is the bridge: its name, subnet, and where its allocations live.
type Config struct {
	Bridge   string // e.g. minidock0
	Subnet   string // e.g. 172.31.0.0/24
	StateDir string // <root>/network
	// Exists, when set, tells whether a container still exists: Attach
	// frees what a container removed without its teardown left.
	Exists func(id string) bool
}

// Endpoint is a container's attachment to the bridge.
type Endpoint struct {
	Bridge    string
	HostVeth  string // the bridge-side end
	IPAddress string
	Gateway   string
	PrefixLen int
}

// allocations is <StateDir>/<bridge>.json.
type allocations struct {
	Subnet  string
	Created bool              // the bridge was made by minidock
	IPs     map[string]string // address -> container ID
}

// VethName is the host end of id's veth pair.
func VethName(id string) string { return "md" + id[:min(11, len(id))] }

// Check validates the bridge name and subnet.
func (cfg Config) Check() (netip.Prefix, error) {
	if cfg.Bridge == "" || len(cfg.Bridge) > 15 || strings.ContainsAny(cfg.Bridge, "/ \t\n:") {
		return netip.Prefix{}, fmt.Errorf("invalid bridge name %q", cfg.Bridge)
	}
	p, err := netip.ParsePrefix(cfg.Subnet)
	if err != nil || !p.Addr().Is4() || p.Bits() > 29 || p.Bits() < 8 {
		return netip.Prefix{}, fmt.Errorf("invalid bridge subnet %q (an IPv4 CIDR, /8 to /29)", cfg.Subnet)
	}
	return p.Masked(), nil
}

func (cfg Config) lock() (*fsutil.Lock, error) {
	return fsutil.LockFile(filepath.Join(cfg.StateDir, ".lock-"+cfg.Bridge))
}

func (cfg Config) file() string { return filepath.Join(cfg.StateDir, cfg.Bridge+".json") }

func (cfg Config) load() (*allocations, error) {
	a := &allocations{}
	if err := fsutil.ReadJSON(cfg.file(), a); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if a.IPs == nil {
		a.IPs = map[string]string{}
	}
	return a, nil
}

func (cfg Config) save(a *allocations) error {
	if len(a.IPs) == 0 && !a.Created {
		if err := os.Remove(cfg.file()); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	return fsutil.WriteJSON(cfg.file(), a)
}

// ip runs ip(8), in the namespace at netns when it is not "".
func ip(netns string, args ...string) error {
	var cmd *exec.Cmd
	if netns != "" {
		cmd = exec.Command("nsenter", append([]string{"--net=" + netns, "ip"}, args...)...)
	} else {
		cmd = exec.Command("ip", args...)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(out.String())
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("ip %s: %s", strings.Join(args, " "), msg)
	}
	return nil
}

// linkExists asks the kernel (netlink), not /sys, which may be a mount
// made in another network namespace.
func linkExists(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}

// Attach allocates an address for id, makes the bridge when it is
// missing, and plugs a veth pair into it with its other end as eth0 in
// the namespace at netns, addressed and routed through the bridge.
func Attach(cfg Config, id, netns string) (ep *Endpoint, err error) {
	prefix, err := cfg.Check()
	if err != nil {
		return nil, err
	}
	l, err := cfg.lock()
	if err != nil {
		return nil, err
	}
	defer l.Unlock()
	a, err := cfg.load()
	if err != nil {
		return nil, err
	}
	if a.Subnet != "" && a.Subnet != prefix.String() && len(a.IPs) > 0 {
		return nil, fmt.Errorf("bridge %s is in use with subnet %s, not %s", cfg.Bridge, a.Subnet, prefix)
	}
	a.Subnet = prefix.String()
	gw := prefix.Addr().Next()
	if !linkExists(cfg.Bridge) {
		if err := ip("", "link", "add", cfg.Bridge, "type", "bridge"); err != nil {
			return nil, err
		}
		a.Created = true
		if err := cfg.save(a); err != nil {
			ip("", "link", "del", cfg.Bridge)
			return nil, err
		}
		if err := ip("", "addr", "add", fmt.Sprintf("%s/%d", gw, prefix.Bits()), "dev", cfg.Bridge); err != nil {
			return nil, err
		}
	}
	if err := ip("", "link", "set", cfg.Bridge, "up"); err != nil {
		return nil, err
	}
	// Free what an earlier run of id left, then pick the lowest free address.
	for k, v := range a.IPs {
		if v == id {
			delete(a.IPs, k)
		} else if cfg.Exists != nil && !cfg.Exists(v) {
			delete(a.IPs, k)
			if linkExists(VethName(v)) {
				ip("", "link", "del", VethName(v))
			}
		}
	}
	var addr netip.Addr
	for x := gw.Next(); prefix.Contains(x); x = x.Next() {
		if !prefix.Contains(x.Next()) {
			break // the broadcast address
		}
		if _, used := a.IPs[x.String()]; !used {
			addr = x
			break
		}
	}
	if !addr.IsValid() {
		return nil, fmt.Errorf("no address left in %s on bridge %s", prefix, cfg.Bridge)
	}
	a.IPs[addr.String()] = id
	if err := cfg.save(a); err != nil {
		return nil, err
	}
	ep = &Endpoint{Bridge: cfg.Bridge, HostVeth: VethName(id), IPAddress: addr.String(), Gateway: gw.String(), PrefixLen: prefix.Bits()}
	defer func() {
		if err != nil {
			ip("", "link", "del", VethName(id))
		}
	}()
	if linkExists(ep.HostVeth) {
		ip("", "link", "del", ep.HostVeth)
	}
	// Made from inside the namespace: eth0 there, its peer here (this
	// process's namespace), so no interface is ever made anywhere else.
	if err := ip(netns, "link", "add", "eth0", "type", "veth", "peer", "name", ep.HostVeth, "netns", strconv.Itoa(os.Getpid())); err != nil {
		return nil, err
	}
	for _, step := range []struct {
		ns   string
		args []string
	}{
		{"", []string{"link", "set", ep.HostVeth, "master", cfg.Bridge}},
		{"", []string{"link", "set", ep.HostVeth, "up"}},
		{netns, []string{"link", "set", "lo", "up"}},
		{netns, []string{"addr", "add", fmt.Sprintf("%s/%d", addr, prefix.Bits()), "dev", "eth0"}},
		{netns, []string{"link", "set", "eth0", "up"}},
		{netns, []string{"route", "add", "default", "via", gw.String()}},
	} {
		if err := ip(step.ns, step.args...); err != nil {
			return nil, err
		}
	}
	return ep, nil
}

// Detach removes id's veth and releases its address; the bridge goes
// with its last endpoint when minidock made it. Safe to repeat.
func Detach(cfg Config, id string) error {
	if linkExists(VethName(id)) {
		ip("", "link", "del", VethName(id))
	}
	if _, err := os.Stat(cfg.file()); err != nil {
		return nil
	}
	l, err := cfg.lock()
	if err != nil {
		return err
	}
	defer l.Unlock()
	a, err := cfg.load()
	if err != nil {
		return err
	}
	for k, v := range a.IPs {
		if v == id {
			delete(a.IPs, k)
		}
	}
	if len(a.IPs) == 0 && a.Created {
		if linkExists(cfg.Bridge) {
			if err := ip("", "link", "del", cfg.Bridge); err != nil {
				return err
			}
		}
		a.Created = false
	}
	return cfg.save(a)
}

// NewNetns makes a network namespace and bind-mounts it on path, so it
// outlives its processes. unshare(1) makes it, in a process of its own:
// no thread of this one ever changes namespace, so /proc/<pid>/ns/net
// stays the host side.
func NewNetns(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o444)
	if err != nil {
		return err
	}
	f.Close()
	// Its loopback up from the start, as Docker's containers have it.
	if out, err := exec.Command("unshare", "--net="+path, "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		os.Remove(path)
		return fmt.Errorf("make a network namespace: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// RemoveNetns unmounts and removes a namespace file made by NewNetns.
func RemoveNetns(path string) {
	for unix.Unmount(path, unix.MNT_DETACH) == nil {
	}
	os.Remove(path)
}

// PortBinding is one -p: a host address and port forwarded to a port of
// the container.
type PortBinding struct {
	HostIP   string `json:"HostIp"`
	HostPort string
}

// ParsePort parses -p [HOSTIP:]HOSTPORT:CTRPORT[/tcp|/udp] into Docker's
// key ("80/tcp", "53/udp") and binding.
func ParsePort(s string) (string, PortBinding, error) {
	bad := func(why string) (string, PortBinding, error) {
		return "", PortBinding{}, fmt.Errorf("invalid port specification: %q: %s", s, why)
	}
	spec, proto, hasProto := strings.Cut(s, "/")
	if !hasProto {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" {
		return bad("the protocol is tcp or udp")
	}
	var hostIP, hostPort, ctrPort string
	if i := strings.LastIndex(spec, ":"); i >= 0 {
		ctrPort = spec[i+1:]
		rest := spec[:i]
		if j := strings.LastIndex(rest, ":"); j >= 0 {
			hostIP, hostPort = strings.Trim(rest[:j], "[]"), rest[j+1:]
		} else {
			hostPort = rest
		}
	} else {
		return bad("expected [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|/udp]")
	}
	if hostIP != "" {
		if _, err := netip.ParseAddr(hostIP); err != nil {
			return bad("bad host address")
		}
	}
	for _, p := range []string{hostPort, ctrPort} {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return bad("ports are numbers from 1 to 65535")
		}
	}
	return ctrPort + "/" + proto, PortBinding{HostIP: hostIP, HostPort: hostPort}, nil
}
