package monitor

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/minirunc/minirunc/dock/container"
)

// proxy is the userland proxy of a container's published ports: it
// listens on the host's address and forwards each connection to the
// container's address on the bridge. The host's firewall is never
// touched.
type proxy struct {
	mu     sync.Mutex
	target string      // the container's address, "" while it has none
	lns    []io.Closer // TCP listeners and UDP sockets
	closed bool
}

// openPorts listens on every published port, or fails with Docker's
// words when one is taken.
func openPorts(hc *container.HostConfig) (*proxy, error) {
	p := &proxy{}
	for key, bs := range hc.PortBindings {
		var ctrPort int
		var proto string
		if _, err := fmt.Sscanf(strings.Replace(key, "/", " ", 1), "%d %s", &ctrPort, &proto); err != nil || (proto != "tcp" && proto != "udp") {
			p.close()
			return nil, fmt.Errorf("bad published port %q", key)
		}
		for _, b := range bs {
			shown := b.HostIP
			if shown == "" {
				shown = "0.0.0.0"
			}
			addr := net.JoinHostPort(b.HostIP, b.HostPort)
			var err error
			if proto == "udp" {
				var pc net.PacketConn
				if pc, err = net.ListenPacket("udp", addr); err == nil {
					p.lns = append(p.lns, pc)
					go p.serveUDP(pc.(*net.UDPConn), ctrPort)
				}
			} else {
				var ln net.Listener
				if ln, err = net.Listen("tcp", addr); err == nil {
					p.lns = append(p.lns, ln)
					go p.serve(ln, ctrPort)
				}
			}
			if err != nil {
				p.close()
				if errors.Is(err, syscall.EADDRINUSE) {
					return nil, fmt.Errorf("driver failed programming external connectivity: Bind for %s:%s/%s failed: port is already allocated", shown, b.HostPort, proto)
				}
				return nil, fmt.Errorf("driver failed programming external connectivity: %v", err)
			}
		}
	}
	return p, nil
}

// setTarget points the proxy at the container's current address.
func (p *proxy) setTarget(c *container.Container) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target = ""
	if c.NetworkSettings != nil {
		p.target = c.NetworkSettings.IPAddress
	}
}

func (p *proxy) serve(ln net.Listener, port int) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			p.mu.Lock()
			closed := p.closed
			p.mu.Unlock()
			if closed {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go p.forward(conn, port)
	}
}

func (p *proxy) forward(in net.Conn, port int) {
	defer in.Close()
	p.mu.Lock()
	target := p.target
	p.mu.Unlock()
	if target == "" {
		return
	}
	out, err := net.DialTimeout("tcp", net.JoinHostPort(target, fmt.Sprint(port)), 5*time.Second)
	if err != nil {
		return
	}
	defer out.Close()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(out, in)
	go pipe(in, out)
	<-done
	<-done
}

// close stops listening. Safe on nil and to repeat.
func (p *proxy) close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.closed = true
	lns := p.lns
	p.lns = nil
	p.mu.Unlock()
	for _, ln := range lns {
		ln.Close()
	}
}
