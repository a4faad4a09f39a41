package integration

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestLoopbackUpInNewNetns: in a network namespace the runtime makes, lo is
// up and answers on 127.0.0.1, as with runc and crun.
func TestLoopbackUpInNewNetns(t *testing.T) {
	e := NewEnv(t)
	out := e.Sh("cat /sys/class/net/lo/flags; ip -4 -o addr show dev lo", nil)
	flags, addr, _ := strings.Cut(out, "\n")
	if f, err := strconv.ParseUint(strings.TrimPrefix(flags, "0x"), 16, 32); err != nil || f&1 == 0 {
		t.Fatalf("lo flags %q: want IFF_UP", flags)
	}
	if !strings.Contains(addr, "127.0.0.1/8") {
		t.Fatalf("lo addresses %q: want 127.0.0.1/8", addr)
	}
}

// TestJoinedNetnsLeftAlone: a network namespace the container joins is its
// maker's: its lo stays as it was (down).
func TestJoinedNetnsLeftAlone(t *testing.T) {
	e := NewEnv(t)
	holder := exec.Command("unshare", "--net", "sleep", "1000")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Process.Kill(); holder.Wait() })
	path := "/proc/" + strconv.Itoa(holder.Process.Pid) + "/ns/net"
	// unshare has made the namespace once its sleep runs.
	for i := 0; i < 500; i++ {
		if comm, _ := exec.Command("cat", "/proc/"+strconv.Itoa(holder.Process.Pid)+"/comm").Output(); strings.TrimSpace(string(comm)) == "sleep" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	out := e.Sh("cat /sys/class/net/lo/flags", func(s *specs.Spec) {
		for i, ns := range s.Linux.Namespaces {
			if ns.Type == specs.NetworkNamespace {
				s.Linux.Namespaces[i].Path = path
			}
		}
	})
	if strings.TrimSpace(out) != "0x8" {
		t.Fatalf("lo flags in a joined namespace = %q, want 0x8 (down, untouched)", strings.TrimSpace(out))
	}
}
