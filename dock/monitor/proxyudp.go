package monitor

import (
	"fmt"
	"net"
	"sync"
	"time"
)

// udpIdle is how long a UDP flow lives without traffic, as Docker's
// userland proxy (UDPConnTrackTimeout).
const udpIdle = 90 * time.Second

// serveUDP forwards the datagrams that reach a published UDP port: each
// client address gets a socket of its own towards the container, whose
// replies are sent back to that client from the published port; a flow
// ends after udpIdle without a reply.
func (p *proxy) serveUDP(pc *net.UDPConn, port int) {
	var mu sync.Mutex
	flows := map[string]*net.UDPConn{}
	buf := make([]byte, 65535)
	for {
		n, from, err := pc.ReadFromUDP(buf)
		if err != nil {
			p.mu.Lock()
			closed := p.closed
			p.mu.Unlock()
			if closed {
				mu.Lock()
				for _, c := range flows {
					c.Close()
				}
				mu.Unlock()
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		key := from.String()
		mu.Lock()
		out := flows[key]
		mu.Unlock()
		if out == nil {
			p.mu.Lock()
			target := p.target
			p.mu.Unlock()
			if target == "" {
				continue
			}
			raddr, err := net.ResolveUDPAddr("udp", net.JoinHostPort(target, fmt.Sprint(port)))
			if err != nil {
				continue
			}
			if out, err = net.DialUDP("udp", nil, raddr); err != nil {
				continue
			}
			mu.Lock()
			flows[key] = out
			mu.Unlock()
			go func(out *net.UDPConn, client *net.UDPAddr, key string) {
				defer func() {
					mu.Lock()
					delete(flows, key)
					mu.Unlock()
					out.Close()
				}()
				rbuf := make([]byte, 65535)
				for {
					out.SetReadDeadline(time.Now().Add(udpIdle))
					n, err := out.Read(rbuf)
					if err != nil {
						return
					}
					if _, err := pc.WriteToUDP(rbuf[:n], client); err != nil {
						return
					}
				}
			}(out, from, key)
		}
		out.Write(buf[:n])
	}
}
