package container

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/minirunc/minirunc/dock/network"
)

// NetworkSettings is what inspect shows of a bridge container's network.
type NetworkSettings struct {
	Bridge      string
	IPAddress   string
	IPPrefixLen int
	Gateway     string
	SandboxKey  string                           // the bind-mounted network namespace
	Ports       map[string][]network.PortBinding `json:",omitempty"`
}

// NetnsPath is where a bridge container's network namespace is
// bind-mounted while it runs.
func (m *Manager) NetnsPath(id string) string { return filepath.Join(m.RunDir(id), "netns") }

// CheckNetworkMode validates --network: none, host, bridge, container:X.
func CheckNetworkMode(mode string) error {
	switch {
	case mode == "none", mode == "host", mode == "bridge":
	case strings.HasPrefix(mode, "container:") && len(mode) > len("container:"):
	default:
		return fmt.Errorf("network %q is not supported (none, host, bridge, container:NAME|ID)", mode)
	}
	return nil
}

// setupNetwork makes the container's network for a start and returns the
// spec's network mode: "none" (a new empty namespace), "host", or the
// path of the namespace to join.
func (m *Manager) setupNetwork(c *Container, hc *HostConfig) (string, error) {
	mode := hc.NetworkMode
	switch {
	case mode == "host":
		return mode, nil
	case mode == "" || mode == "none":
		// A namespace of its own with the loopback up (the runtime's
		// would have it down), held by a file like a bridge container's.
		return m.newNetns(c)
	case strings.HasPrefix(mode, "container:"):
		ref := strings.TrimPrefix(mode, "container:")
		x, xhc, err := m.Lookup(ref)
		if err != nil {
			return "", err
		}
		if x.ID == c.ID {
			return "", fmt.Errorf("cannot join the network of the container itself")
		}
		if !x.IsActive() || x.State.Pid <= 0 {
			return "", fmt.Errorf("cannot join the network of a non running container: %s", ref)
		}
		if xhc.NetworkMode == "host" {
			return "host", nil
		}
		if _, err := os.Stat(m.NetnsPath(x.ID)); err == nil {
			return m.NetnsPath(x.ID), nil
		}
		return fmt.Sprintf("/proc/%d/ns/net", x.State.Pid), nil
	case mode != "bridge":
		return "", CheckNetworkMode(mode)
	}
	ns, err := m.newNetns(c)
	if err != nil {
		return "", err
	}
	cfg := m.Net
	cfg.Exists = func(id string) bool {
		_, err := os.Stat(m.Dir(id))
		return err == nil
	}
	ep, err := network.Attach(cfg, c.ID, ns)
	if err != nil {
		return "", err
	}
	c.NetworkSettings = &NetworkSettings{Bridge: ep.Bridge, IPAddress: ep.IPAddress, IPPrefixLen: ep.PrefixLen,
		Gateway: ep.Gateway, SandboxKey: ns, Ports: hc.PortBindings}
	_, err = m.Update(c.ID, func(cur *Container) error { cur.NetworkSettings = c.NetworkSettings; return nil })
	return ns, err
}

// newNetns replaces whatever network c had with a new namespace held by
// a file under the run dir, its loopback up, and returns the file's path.
func (m *Manager) newNetns(c *Container) (string, error) {
	m.teardownNetwork(c)
	ns := m.NetnsPath(c.ID)
	if err := os.MkdirAll(filepath.Dir(ns), 0o700); err != nil {
		return "", err
	}
	return ns, network.NewNetns(ns)
}

// teardownNetwork removes a bridge container's veth, address and
// namespace. Safe to repeat, and for containers without a network.
func (m *Manager) teardownNetwork(c *Container) {
	cfg := m.Net
	if c.NetworkSettings != nil && c.NetworkSettings.Bridge != "" {
		cfg.Bridge = c.NetworkSettings.Bridge
	}
	if cfg.Bridge != "" && cfg.StateDir != "" {
		network.Detach(cfg, c.ID)
	}
	if _, err := os.Lstat(m.NetnsPath(c.ID)); err == nil {
		network.RemoveNetns(m.NetnsPath(c.ID))
	}
	c.NetworkSettings = nil
}

// hostsEntry is the /etc/hosts line of a bridge container.
func hostsEntry(c *Container) string {
	if c.NetworkSettings == nil || c.NetworkSettings.IPAddress == "" {
		return ""
	}
	names := c.Config.Hostname
	if n := c.DisplayName(); n != "" && n != names {
		names += " " + n
	}
	return c.NetworkSettings.IPAddress + "\t" + names + "\n"
}
