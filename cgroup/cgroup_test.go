package cgroup

import (
	"reflect"
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
		{"/../../a", "id", []string{"/sys/fs/cgroup/memory/a", "/sys/fs/cgroup/cpu/a", "/sys/fs/cgroup/unified/a"}},
		{"rel", "id", []string{"/sys/fs/cgroup/memory/process_api/x/rel", "/sys/fs/cgroup/cpu/rel", "/sys/fs/cgroup/unified/user/rel"}},
		{"", "c1", []string{"/sys/fs/cgroup/memory/process_api/x/c1", "/sys/fs/cgroup/cpu/c1", "/sys/fs/cgroup/unified/user/c1"}},
		{"../../../escape", "id", []string{"/sys/fs/cgroup/memory/process_api/x/escape", "/sys/fs/cgroup/cpu/escape", "/sys/fs/cgroup/unified/user/escape"}},
	}
	for _, c := range cases {
		got, err := resolve(hybrid, own, c.path, c.id)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("resolve(%q, %q) = %v, %v; want %v", c.path, c.id, got, err, c.want)
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
