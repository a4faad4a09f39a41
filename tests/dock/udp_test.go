package dock

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// udpEcho is a UDP echo server ("echo:" + each datagram back to its
// sender), built static so that it runs in a busybox container (whose nc
// has no UDP).
const udpEcho = `package main

import (
	"net"
	"os"
)

func main() {
	pc, err := net.ListenPacket("udp", ":"+os.Args[1])
	if err != nil {
		panic(err)
	}
	buf := make([]byte, 2048)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		pc.WriteTo(append([]byte("echo:"), buf[:n]...), from)
	}
}
`

func buildUDPEcho(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "udpecho.go")
	if err := os.WriteFile(src, []byte(udpEcho), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "udpecho")
	cmd := exec.Command("go", "build", "-o", bin, src)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the UDP echo server: %v\n%s", err, out)
	}
	return bin
}

// udpAsk sends msg to addr from a socket of its own and returns the reply
// ("" when none comes within a second).
func udpAsk(addr, msg string) string {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return ""
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		return ""
	}
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

// TestPublishUDP: -p HOSTPORT:PORT/udp is answered on the host address
// through the monitor's proxy, each client its own flow, beside a TCP
// port of the same number; the port is closed once the container is gone.
func TestPublishUDP(t *testing.T) {
	e, _ := bridgeEnv(t, "10.213.9.0/24")
	echo := buildUDPEcho(t)
	e.MustRun("run", "-d", "--name", "udp", "--network", "bridge",
		"-p", "127.0.0.1:15353:53/udp", "-p", "127.0.0.1:15353:8080",
		"-v", echo+":/udpecho:ro", "busybox:local", "sh", "-c",
		"/udpecho 53 & echo tcp-too > /tmp/index.html; exec httpd -f -p 8080 -h /tmp")
	var got string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && got == ""; {
		got = udpAsk("127.0.0.1:15353", "ping-1")
	}
	if got != "echo:ping-1" {
		t.Fatalf("the published UDP port answers %q", got)
	}
	// Two clients at once: each gets its own replies.
	c1, _ := net.Dial("udp", "127.0.0.1:15353")
	c2, _ := net.Dial("udp", "127.0.0.1:15353")
	defer c1.Close()
	defer c2.Close()
	c1.Write([]byte("from-1"))
	c2.Write([]byte("from-2"))
	for i, c := range []net.Conn{c1, c2} {
		c.SetDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 100)
		n, err := c.Read(buf)
		if want := []string{"echo:from-1", "echo:from-2"}[i]; err != nil || string(buf[:n]) != want {
			t.Fatalf("client %d: %q %v, want %q", i+1, buf[:n], err, want)
		}
	}
	// The TCP port of the same number is its own (httpd starts after the
	// echo server, so it may not listen yet).
	if body := httpWait("127.0.0.1:15353", "tcp-too"); !strings.Contains(body, "tcp-too") {
		t.Fatalf("the TCP port beside it: %q", body)
	}
	if ps := e.MustRun("ps"); !strings.Contains(ps, "127.0.0.1:15353->53/udp") || !strings.Contains(ps, "127.0.0.1:15353->8080/tcp") {
		t.Fatalf("ps PORTS: %s", ps)
	}
	// Taken by a second container: refused with Docker's line.
	_, stderr, code := e.Run("run", "-d", "--network", "bridge", "-p", "127.0.0.1:15353:53/udp", "busybox:local", "sleep", "5")
	if code != 125 || !strings.Contains(stderr, "port is already allocated") {
		t.Fatalf("a taken UDP port: exit %d: %q", code, stderr)
	}
	e.MustRun("rm", "-f", "udp")
	if pc, err := net.ListenPacket("udp", "127.0.0.1:15353"); err != nil {
		t.Fatalf("the UDP port is still held after rm: %v", err)
	} else {
		pc.Close()
	}
}
