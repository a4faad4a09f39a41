package dock

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// bridgeEnv is an Env whose bridge is this test's own (in the test
// binary's network namespace, never the host's).
func bridgeEnv(t *testing.T, subnet string) (*Env, string) {
	e := NewEnv(t)
	br := fmt.Sprintf("mdt%d", os.Getpid()%100000)
	e.Global = []string{"--bridge", br, "--bridge-subnet", subnet}
	e.ImportBusybox()
	return e, br
}

func containerIP(e *Env, ref string) string {
	e.t.Helper()
	ns, _ := e.Inspect(ref)["NetworkSettings"].(map[string]any)
	ip, _ := ns["IPAddress"].(string)
	if ip == "" {
		e.t.Fatalf("%s has no IPAddress: %v", ref, ns)
	}
	return ip
}

func linkExists(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}

func TestBridgePingHostsPublishAndTeardown(t *testing.T) {
	e, br := bridgeEnv(t, "10.213.7.0/24")
	e.MustRun("run", "-d", "--name", "neta", "--network", "bridge", "busybox:local", "sleep", "1000")
	e.MustRun("run", "-d", "--name", "netb", "--network", "bridge", "-p", "127.0.0.1:18080:8080", "busybox:local",
		"sh", "-c", "mkdir /www && echo hello-from-b > /www/index.html && exec httpd -f -p 8080 -h /www")
	e.WaitStatus("neta", "running", 5*time.Second)
	e.WaitStatus("netb", "running", 5*time.Second)
	ipA, ipB := containerIP(e, "neta"), containerIP(e, "netb")
	if !strings.HasPrefix(ipA, "10.213.7.") || !strings.HasPrefix(ipB, "10.213.7.") || ipA == ipB {
		t.Fatalf("addresses %s %s", ipA, ipB)
	}
	if !linkExists(br) {
		t.Fatalf("bridge %s not made", br)
	}
	// The two containers reach each other through the bridge.
	if out, stderr, code := e.Run("exec", "neta", "ping", "-c", "1", "-W", "3", ipB); code != 0 {
		t.Fatalf("a pings b (%s): %d %s %s", ipB, code, out, stderr)
	}
	if out, stderr, code := e.Run("exec", "netb", "ping", "-c", "1", "-W", "3", ipA); code != 0 {
		t.Fatalf("b pings a (%s): %d %s %s", ipA, code, out, stderr)
	}
	// The default route is the bridge's address; /etc/hosts names it.
	if out := e.MustRun("exec", "neta", "ip", "route"); !strings.Contains(out, "default via 10.213.7.1") {
		t.Fatalf("routes: %s", out)
	}
	hosts := e.MustRun("exec", "neta", "cat", "/etc/hosts")
	if !strings.Contains(hosts, ipA+"\t") || !strings.Contains(hosts, " neta\n") {
		t.Fatalf("/etc/hosts: %s", hosts)
	}
	// The published port answers on the host address.
	if body := httpWait("127.0.0.1:18080", "hello-from-b"); !strings.Contains(body, "hello-from-b") {
		t.Fatalf("published port: %q", body)
	}
	if ps := e.MustRun("ps"); !strings.Contains(ps, "127.0.0.1:18080->8080/tcp") {
		t.Fatalf("ps PORTS: %s", ps)
	}
	// --network container:neta shares a's namespace and address.
	if out := e.MustRun("run", "--rm", "--network", "container:neta", "busybox:local", "ip", "addr", "show", "eth0"); !strings.Contains(out, ipA+"/24") {
		t.Fatalf("container:a sees %s", out)
	}
	// After rm nothing is left: veths, the bridge, the allocations.
	e.MustRun("rm", "-f", "neta", "netb")
	links, _ := net.Interfaces()
	for _, l := range links {
		if strings.HasPrefix(l.Name, "md") {
			t.Fatalf("link %s left after rm", l.Name)
		}
	}
	if allocs, _ := filepath.Glob(filepath.Join(e.Root, "network", "*.json")); len(allocs) > 0 {
		t.Fatalf("allocations left: %v", allocs)
	}
	if _, err := net.DialTimeout("tcp", "127.0.0.1:18080", time.Second); err == nil {
		t.Fatalf("the published port still listens after rm")
	}
}

func httpGet(addr string) string {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return ""
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	fmt.Fprintf(c, "GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n")
	b, _ := io.ReadAll(c)
	return string(b)
}

// httpWait asks addr until the answer holds want or ten seconds have
// passed (a server in a container listens some time after it starts), and
// returns the last answer.
func httpWait(addr, want string) string {
	var body string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if body = httpGet(addr); strings.Contains(body, want) {
			break
		}
	}
	return body
}

func TestBridgeStopReleasesAndRestartReattaches(t *testing.T) {
	e, br := bridgeEnv(t, "10.213.8.0/28")
	e.MustRun("run", "-d", "--name", "nets", "--network", "bridge", "busybox:local", "sleep", "1000")
	e.WaitStatus("nets", "running", 5*time.Second)
	ip1 := containerIP(e, "nets")
	e.MustRun("stop", "-t", "0", "nets")
	if linkExists(br) {
		t.Fatalf("bridge %s left after the last container stopped", br)
	}
	e.MustRun("start", "nets")
	e.WaitStatus("nets", "running", 5*time.Second)
	if ip2 := containerIP(e, "nets"); ip2 != ip1 {
		t.Logf("address %s then %s", ip1, ip2)
	}
	if out := e.MustRun("exec", "nets", "ip", "addr", "show", "eth0"); !strings.Contains(out, "10.213.8.") {
		t.Fatalf("eth0 after restart: %s", out)
	}
	// A monitor killed -9: the next command tells the truth and the
	// network is torn down (the env's cleanup checks nothing is left).
	mon := int(e.Inspect("nets")["State"].(map[string]any)["MonitorPid"].(float64))
	if err := syscall.Kill(mon, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100 && processAlive(mon); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if ps := e.MustRun("ps", "-a"); !strings.Contains(ps, "Exited") {
		t.Fatalf("ps -a after the monitor died: %s", ps)
	}
	if linkExists(br) {
		t.Fatalf("bridge %s left after the monitor died", br)
	}
}

// TestDefaultNetworkIsBridge: as with Docker, a container run without
// --network (or with --network default) is on the bridge, here minidock's
// own defaults (minidock0, 172.31.0.0/24) made in the test's network
// namespace: eth0 with an address in the subnet, the default route
// through the bridge's address, its name in /etc/hosts. --network none is
// still there: only lo, no route, and -p refused.
func TestDefaultNetworkIsBridge(t *testing.T) {
	e := NewEnv(t)
	e.ImportBusybox()
	e.MustRun("run", "-d", "--name", "dflt", "busybox:local", "sleep", "1000")
	e.WaitStatus("dflt", "running", 5*time.Second)
	c := e.Inspect("dflt")
	if mode := c["HostConfig"].(map[string]any)["NetworkMode"]; mode != "bridge" {
		t.Fatalf("HostConfig.NetworkMode %v, want bridge", mode)
	}
	ns := c["NetworkSettings"].(map[string]any)
	if ns["Bridge"] != "minidock0" || ns["Gateway"] != "172.31.0.1" {
		t.Fatalf("NetworkSettings %v: want the bridge minidock0, gateway 172.31.0.1", ns)
	}
	ip := containerIP(e, "dflt")
	if !strings.HasPrefix(ip, "172.31.0.") || ip == "172.31.0.1" {
		t.Fatalf("address %s: not a container address in 172.31.0.0/24", ip)
	}
	if !linkExists("minidock0") {
		t.Fatalf("the default bridge minidock0 was not made")
	}
	if out := e.MustRun("exec", "dflt", "ip", "-4", "-o", "addr", "show", "eth0"); !strings.Contains(out, " "+ip+"/24 ") {
		t.Fatalf("eth0 in the container: %q, want %s/24", out, ip)
	}
	if out := e.MustRun("exec", "dflt", "ip", "route"); !strings.Contains(out, "default via 172.31.0.1 dev eth0") {
		t.Fatalf("routes in the container: %q", out)
	}
	if out, stderr, code := e.Run("exec", "dflt", "ping", "-c", "1", "-W", "3", "172.31.0.1"); code != 0 {
		t.Fatalf("the container pings its gateway: %d %s %s", code, out, stderr)
	}
	hosts := e.MustRun("exec", "dflt", "cat", "/etc/hosts")
	if !strings.Contains(hosts, ip+"\t") || !strings.Contains(hosts, " dflt\n") {
		t.Fatalf("/etc/hosts: %q", hosts)
	}
	// --network default is Docker's name for the same; two containers get
	// two addresses.
	out := e.MustRun("run", "--rm", "--network", "default", "busybox:local", "sh", "-c", "ip -4 -o addr show eth0; ip route")
	if !strings.Contains(out, " 172.31.0.") || strings.Contains(out, " "+ip+"/") || !strings.Contains(out, "default via 172.31.0.1") {
		t.Fatalf("--network default: %q (the first container has %s)", out, ip)
	}
	// --network none: loopback only, up as in Docker, no route; -p needs
	// a bridge.
	out = e.MustRun("run", "--rm", "--network", "none", "busybox:local", "sh", "-c", "ip -o link | cut -d: -f2; ip route; ping -c1 -W2 127.0.0.1 >/dev/null && echo lo-answers")
	if f := strings.Fields(out); len(f) != 2 || f[0] != "lo" || f[1] != "lo-answers" {
		t.Fatalf("--network none: links, routes and a ping of 127.0.0.1 %q, want lo alone, answering", out)
	}
	_, stderr, code := e.Run("run", "--rm", "--network", "none", "-p", "127.0.0.1:18081:80", "busybox:local", "true")
	oneLine(t, "-p with --network none", stderr, code)
	if !strings.Contains(stderr, "published ports need --network bridge") {
		t.Fatalf("-p with --network none: %q", stderr)
	}
	e.MustRun("rm", "-f", "dflt")
	if linkExists("minidock0") {
		t.Fatalf("the default bridge is left after its last container")
	}
}

// TestPublishPortTaken: a -p whose host port a host process holds is
// refused with Docker's line and 125. As with Docker, the container stays
// created (whole: no mount, veth, address, monitor or proxy left from the
// failed start), the host's listener is untouched, and once the port is
// free the same container starts and its port answers.
func TestPublishPortTaken(t *testing.T) {
	e, br := bridgeEnv(t, "10.213.10.0/24")
	ln, err := net.Listen("tcp", "127.0.0.1:18090")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, stderr, code := e.Run("run", "-d", "--name", "pt", "-p", "127.0.0.1:18090:8080", "busybox:local",
		"sh", "-c", "mkdir /www && echo port-free-now > /www/index.html && exec httpd -f -p 8080 -h /www")
	oneLine(t, "a taken port", stderr, code)
	if !strings.Contains(stderr, "Bind for 127.0.0.1:18090/tcp failed: port is already allocated") {
		t.Fatalf("a taken port: %q", stderr)
	}
	if st := e.Inspect("pt")["State"].(map[string]any); st["Status"] != "created" {
		t.Fatalf("after the failed start: %v", st)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), e.dir) {
		t.Fatalf("a mount is left after the failed start")
	}
	links, _ := net.Interfaces()
	for _, l := range links {
		if strings.HasPrefix(l.Name, "md") || l.Name == br {
			t.Fatalf("link %s left after the failed start", l.Name)
		}
	}
	if allocs, _ := filepath.Glob(filepath.Join(e.Root, "network", "*.json")); len(allocs) > 0 {
		t.Fatalf("allocations left after the failed start: %v", allocs)
	}
	if pids := e.monitors(); len(pids) > 0 {
		t.Fatalf("monitors left after the failed start: %v", pids)
	}
	// The host's listener still has its port.
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Write([]byte("host-listener"))
			c.Close()
		}
	}()
	if body := httpGet("127.0.0.1:18090"); body != "host-listener" {
		t.Fatalf("the host's listener answers %q", body)
	}
	ln.Close()
	e.MustRun("start", "pt")
	e.WaitStatus("pt", "running", 5*time.Second)
	if body := httpWait("127.0.0.1:18090", "port-free-now"); !strings.Contains(body, "port-free-now") {
		t.Fatalf("the port once free: %q", body)
	}
	e.MustRun("rm", "-f", "pt")
}
