package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/minirunc/minirunc/dock/container"
	"github.com/minirunc/minirunc/dock/network"
)

// parsePublish checks --network and turns the -p flags into the host
// config's port bindings; ports are published only on a bridge network.
func parsePublish(hc *container.HostConfig, publish []string) error {
	if err := container.CheckNetworkMode(hc.NetworkMode); err != nil {
		return err
	}
	if len(publish) > 0 && hc.NetworkMode != "bridge" {
		return fmt.Errorf("published ports need --network bridge (not %q)", hc.NetworkMode)
	}
	seen := map[string]bool{}
	for _, p := range publish {
		key, b, err := network.ParsePort(p)
		if err != nil {
			return err
		}
		_, proto, _ := strings.Cut(key, "/")
		if seen[b.HostIP+":"+b.HostPort+"/"+proto] {
			return fmt.Errorf("invalid port specification: %q: host port %s/%s is published twice", p, b.HostPort, proto)
		}
		seen[b.HostIP+":"+b.HostPort+"/"+proto] = true
		if hc.PortBindings == nil {
			hc.PortBindings = map[string][]network.PortBinding{}
		}
		hc.PortBindings[key] = append(hc.PortBindings[key], b)
	}
	return nil
}

// portsColumn is ps's PORTS: a running container's published ports,
// "0.0.0.0:8080->80/tcp".
func portsColumn(c *container.Container) string {
	if !c.IsActive() || c.NetworkSettings == nil {
		return ""
	}
	var out []string
	for key, bs := range c.NetworkSettings.Ports {
		for _, b := range bs {
			ip := b.HostIP
			if ip == "" {
				ip = "0.0.0.0"
			}
			out = append(out, ip+":"+b.HostPort+"->"+key)
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}
