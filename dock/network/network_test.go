package network

import "testing"

func TestParsePort(t *testing.T) {
	good := map[string][3]string{
		"8080:80":              {"80/tcp", "", "8080"},
		"8080:80/tcp":          {"80/tcp", "", "8080"},
		"127.0.0.1:18080:8080": {"8080/tcp", "127.0.0.1", "18080"},
		"[::1]:443:8443/tcp":   {"8443/tcp", "::1", "443"},
		"0.0.0.0:65535:1":      {"1/tcp", "0.0.0.0", "65535"},
		"5353:53/udp":          {"53/udp", "", "5353"},
	}
	for in, want := range good {
		key, b, err := ParsePort(in)
		if err != nil || key != want[0] || b.HostIP != want[1] || b.HostPort != want[2] {
			t.Errorf("ParsePort(%q) = %q %+v %v, want %v", in, key, b, err, want)
		}
	}
	for _, in := range []string{"", "80", "99999:80", "abc:80", "8080:80/sctp", "1.2.3:8080:80", "8080:0", ":80", "8080:"} {
		if _, _, err := ParsePort(in); err == nil {
			t.Errorf("ParsePort(%q) accepted", in)
		}
	}
}

func TestCheck(t *testing.T) {
	p, err := Config{Bridge: "minidock0", Subnet: "172.31.0.9/24"}.Check()
	if err != nil || p.String() != "172.31.0.0/24" {
		t.Fatalf("Check: %v %v", p, err)
	}
	for _, c := range []Config{
		{Bridge: "", Subnet: "10.0.0.0/24"}, {Bridge: "averyveryverylongname", Subnet: "10.0.0.0/24"},
		{Bridge: "br/0", Subnet: "10.0.0.0/24"}, {Bridge: "br0", Subnet: "10.0.0.0/30"},
		{Bridge: "br0", Subnet: "fd00::/64"}, {Bridge: "br0", Subnet: "nonsense"},
	} {
		if _, err := c.Check(); err == nil {
			t.Errorf("Check(%+v) accepted", c)
		}
	}
}
