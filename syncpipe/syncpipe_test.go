package syncpipe

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/minirunc/minirunc/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestDecodeSpecKeepsWhatInitUses: the fields of initSpec survive the
// trip through SetSpec and DecodeSpec unchanged.
func TestDecodeSpecKeepsWhatInitUses(t *testing.T) {
	s := specconv.Example()
	s.Hostname, s.Domainname = "h", "d"
	s.Annotations = map[string]string{"a": "b"}
	s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/c"}}, StartContainer: []specs.Hook{{Path: "/s"}},
		Poststop: []specs.Hook{{Path: "/p"}}}
	s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
	s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "c", Major: 1, Minor: 2}}
	s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow}}}
	s.Linux.RootfsPropagation = "rslave"
	raw, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var c Config
	if err := c.SetSpec(s, raw); err != nil {
		t.Fatal(err)
	}
	var got Config
	data, _ := json.Marshal(&c)
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if err := got.DecodeSpec(); err != nil {
		t.Fatal(err)
	}
	g := got.Spec
	for name, pair := range map[string][2]any{
		"process": {s.Process, g.Process}, "root": {s.Root, g.Root}, "hostname": {s.Hostname, g.Hostname},
		"domainname": {s.Domainname, g.Domainname}, "mounts": {s.Mounts, g.Mounts}, "annotations": {s.Annotations, g.Annotations},
		"createContainer": {s.Hooks.CreateContainer, g.Hooks.CreateContainer}, "startContainer": {s.Hooks.StartContainer, g.Hooks.StartContainer},
		"namespaces": {s.Linux.Namespaces, g.Linux.Namespaces}, "devices": {s.Linux.Devices, g.Linux.Devices},
		"sysctl": {s.Linux.Sysctl, g.Linux.Sysctl}, "seccomp": {s.Linux.Seccomp, g.Linux.Seccomp},
		"rootfsPropagation": {s.Linux.RootfsPropagation, g.Linux.RootfsPropagation},
		"maskedPaths":       {s.Linux.MaskedPaths, g.Linux.MaskedPaths}, "readonlyPaths": {s.Linux.ReadonlyPaths, g.Linux.ReadonlyPaths},
	} {
		if !reflect.DeepEqual(pair[0], pair[1]) {
			t.Errorf("%s: sent %+v, init got %+v", name, pair[0], pair[1])
		}
	}
	if g.Hooks.Poststop != nil || g.Linux.Resources != nil {
		t.Errorf("init got fields it does not read: %+v %+v", g.Hooks.Poststop, g.Linux.Resources)
	}
}
