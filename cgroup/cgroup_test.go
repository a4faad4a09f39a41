package cgroup

import (
	"reflect"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	hybrid := []Hierarchy{
		{Mountpoint: "/sys/fs/cgroup/memory", Root: "/", Key: "memory"},
		{Mountpoint: "/sys/fs/cgroup/cpu", Root: "/", Key: "cpu,cpuacct"},
		{Mountpoint: "/sys/fs/cgroup/unified", Root: "/", V2: true},
	}
	own := map[string]string{"memory": "/process_api/x", "cpu,cpuacct": "/", "": "/user"}
	cases := []struct {
		path, id string
		want     []string
	}{
		{"/a/b", "id", []string{"/sys/fs/cgroup/memory/a/b", "/sys/fs/cgroup/cpu/a/b", "/sys/fs/cgroup/unified/a/b"}},
		{"/a/../b/./c", "id", []string{"/sys/fs/cgroup/memory/b/c", "/sys/fs/cgroup/cpu/b/c", "/sys/fs/cgroup/unified/b/c"}},
		{"rel", "id", []string{"/sys/fs/cgroup/memory/process_api/x/rel", "/sys/fs/cgroup/cpu/rel", "/sys/fs/cgroup/unified/user/rel"}},
		{"", "c1", []string{"/sys/fs/cgroup/memory/process_api/x/c1", "/sys/fs/cgroup/cpu/c1", "/sys/fs/cgroup/unified/user/c1"}},
	}
	for _, c := range cases {
		got, err := resolve(hybrid, own, c.path, c.id)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("resolve(%q, %q) = %v, %v; want %v", c.path, c.id, got, err, c.want)
		}
	}
	for _, bad := range []string{"../../x", "/../../a", "a/../../b", "/a/../../b", ".."} {
		if got, err := resolve(hybrid, own, bad, "id"); err == nil || !strings.Contains(err.Error(), "linux.cgroupsPath") {
			t.Errorf("resolve(%q) = %v, %v; want an error naming linux.cgroupsPath", bad, got, err)
		}
	}
	if _, err := resolve(hybrid, own, "system.slice:minirunc:x", "x"); err == nil {
		t.Error("systemd path accepted")
	}
	// A mount showing only a subtree cannot reach a cgroup outside it.
	nested := []Hierarchy{{Mountpoint: "/sys/fs/cgroup", Root: "/kubepods", V2: true}}
	if _, err := resolve(nested, nil, "/other", "x"); err == nil {
		t.Error("cgroup outside the mounted subtree accepted")
	}
	got, err := resolve(nested, nil, "/kubepods/pod1", "x")
	if err != nil || !reflect.DeepEqual(got, []string{"/sys/fs/cgroup/pod1"}) {
		t.Errorf("nested: %v, %v", got, err)
	}
}
