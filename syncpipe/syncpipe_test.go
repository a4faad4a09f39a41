package syncpipe

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"reflect"
	"testing"

	"github.com/minirunc/minirunc/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
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
	// Of seccomp, only the listener: the filter goes compiled.
	s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, ListenerPath: "/l", ListenerMetadata: "m",
		Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActNotify}}}
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
		"sysctl":            {s.Linux.Sysctl, g.Linux.Sysctl},
		"seccomp":           {&specs.LinuxSeccomp{ListenerPath: "/l", ListenerMetadata: "m"}, g.Linux.Seccomp},
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

func TestWithRawField(t *testing.T) {
	cases := []struct{ obj, raw, want string }{
		{`{}`, `{"a":1}`, `{"spec":{"a":1}}`},
		{`{"id":"x"}`, " {\"a\": [1, 2]}\n", "{\"id\":\"x\",\"spec\": {\"a\": [1, 2]}\n}"},
		{`{"id":"x"}`, ``, `{"id":"x"}`},
	}
	for _, c := range cases {
		got := string(WithRawField([]byte(c.obj), "spec", []byte(c.raw)))
		if got != c.want {
			t.Errorf("WithRawField(%s, %q) = %q, want %q", c.obj, c.raw, got, c.want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("%q is not JSON", got)
		}
	}
}

// SendConfig's message decodes to the config sent, spec included, and the
// next message follows it on the stream.
// pipePair is the two ends of a socketpair, closed when the test ends.
func pipePair(t *testing.T) (*Pipe, *Pipe) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, b := New(os.NewFile(uintptr(fds[0]), "a")), New(os.NewFile(uintptr(fds[1]), "b"))
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func TestSendConfigRoundTrip(t *testing.T) {
	a, b := pipePair(t)
	spec := []byte("{\"ociVersion\": \"1.0.2\",\n \"process\": {\"args\": [\"sh\"]}, \"linux\": {}}\n")
	sent := &Config{ID: "c1", Bundle: "/b", SpecJSON: spec, SeccompBPF: []byte{1, 2, 3}, CgroupDirs: []string{"/x"}}
	go func() {
		a.SendConfig(sent)
		a.Send(Message{Type: TypeCgroups})
	}()
	var got Config
	if err := b.Recv(&got); err != nil {
		t.Fatal(err)
	}
	if err := got.DecodeSpec(); err != nil {
		t.Fatal(err)
	}
	if got.ID != "c1" || got.Bundle != "/b" || string(got.SeccompBPF) != "\x01\x02\x03" || len(got.CgroupDirs) != 1 ||
		got.Spec.Version != "1.0.2" || got.Spec.Process.Args[0] != "sh" {
		t.Fatalf("received %+v", got)
	}
	if string(sent.SpecJSON) != string(spec) {
		t.Fatal("SendConfig changed the config it sent")
	}
	if err := b.Expect(TypeCgroups); err != nil {
		t.Fatal(err)
	}
}

// TestRecvAfterCloseWithUnreadData: the other side closing its end with
// data still unread in it (exec's init, which read a message but not the
// newline after it) is the end of the stream, not an error.
func TestRecvAfterCloseWithUnreadData(t *testing.T) {
	a, b := pipePair(t)
	if err := a.Send(Message{Type: TypeReady}); err != nil {
		t.Fatal(err)
	}
	b.Close() // with a's message unread
	var m Message
	if err := a.Recv(&m); err != io.EOF {
		t.Fatalf("Recv after the other end closed unread: %v, want io.EOF", err)
	}
}

// TestSendConfigToDeadInit: when init died before the config reached it,
// the error it sent first is what SendConfig reports, not the broken pipe.
func TestSendConfigToDeadInit(t *testing.T) {
	a, b := pipePair(t)
	b.SendError(errors.New("nsenter: join cgroup /x: no such file or directory"))
	b.Close()
	err := a.SendConfig(&Config{ID: "c1", SpecJSON: []byte(`{}`)})
	if err == nil || err.Error() != "nsenter: join cgroup /x: no such file or directory" {
		t.Fatalf("SendConfig to a dead init: %v, want its error", err)
	}
}
