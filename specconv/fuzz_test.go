package specconv

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// FuzzValidateProcess: exec's process.json, decoded as exec decodes it
// and validated, never panics; errors are one line, and what passes is
// runnable in form (an executable named, an absolute cwd).
func FuzzValidateProcess(f *testing.F) {
	data, _ := json.Marshal(Example().Process)
	f.Add(data)
	for _, seed := range []string{
		`{"args":["sh"],"cwd":"/"}`,
		`{"args":[""],"cwd":"rel"}`,
		`{"args":["sh"],"cwd":"/","env":["A=1","=x","B"],"rlimits":[{"type":"RLIMIT_NOFILE","soft":2,"hard":1}]}`,
		`{"args":["sh"],"cwd":"/","capabilities":{"bounding":["CAP_NOPE"]},"oomScoreAdj":5000}`,
		`{"args":["sh"],"cwd":"/","user":{"uid":4294967295,"gid":1,"additionalGids":[1,2],"umask":18},"terminal":true,"consoleSize":{"height":0,"width":0}}`,
		`null`,
		`{}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var p specs.Process
		if json.Unmarshal(data, &p) != nil {
			return
		}
		err := ValidateProcess(&p)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		if len(p.Args) == 0 || p.Args[0] == "" || !filepath.IsAbs(p.Cwd) {
			t.Fatalf("accepted %+v", p)
		}
	})
}

// FuzzLoadValidate: a config.json is parsed and validated as create
// does (against a bundle whose rootfs exists): never a panic, errors on
// one line.
func FuzzLoadValidate(f *testing.F) {
	dir := f.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		f.Fatal(err)
	}
	data, _ := json.Marshal(Example())
	f.Add(data)
	f.Add([]byte(`{"root":{"path":"rootfs"},"process":{"args":["sh"],"cwd":"/"},"linux":{"namespaces":[{"type":"pid","path":"/proc/1/ns/pid"}],"seccomp":{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["kill"],"action":"SCMP_ACT_ERRNO","args":[{"index":7,"op":"SCMP_CMP_EQ"}]}]}}}`))
	f.Add([]byte(`{"root":{"path":"/nonexistent"}}`))
	f.Add([]byte(`{"root":{"path":"rootfs"},"process":{"args":["sh"],"cwd":"/"},"linux":{"sysctl":{"kernel.domainname":"x","net.ipv4.ip_forward":"1"},"devices":[{"path":"/dev/x","type":"q"}]},"mounts":[{"destination":"rel"}],"hooks":{"prestart":[{"path":"rel"}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSpec(data)
		if err != nil {
			return
		}
		b := &Bundle{Dir: dir, Spec: s}
		if err := b.validate(); err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("multi-line error %q", err)
		}
	})
}
