package specconv

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func writeBundle(t *testing.T, mutate func(*specs.Spec)) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := Example()
	if mutate != nil {
		mutate(s)
	}
	data, _ := json.Marshal(s)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestExampleIsValid(t *testing.T) {
	b, err := LoadBundle(writeBundle(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(b.Rootfs, "/rootfs") || !filepath.IsAbs(b.Rootfs) {
		t.Fatalf("rootfs %q: want the bundle's absolute rootfs", b.Rootfs)
	}
}

func TestValidationErrors(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*specs.Spec)
		want   string
	}{
		{"namespace", func(s *specs.Spec) { s.Linux.Namespaces[2].Type = "foo" }, `linux.namespaces[2].type "foo" is not a namespace type`},
		{"dup namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "pid"})
		}, `appears twice`},
		{"capability", func(s *specs.Spec) { s.Process.Capabilities.Bounding[1] = "CAP_FOO" }, `process.capabilities.bounding[1] "CAP_FOO" is not a capability`},
		{"rootfs", func(s *specs.Spec) { s.Root.Path = "missing" }, `root.path`},
		{"no args", func(s *specs.Spec) { s.Process.Args = nil }, `process.args`},
		{"relative cwd", func(s *specs.Spec) { s.Process.Cwd = "tmp" }, `process.cwd`},
		{"rlimit", func(s *specs.Spec) { s.Process.Rlimits[0].Type = "RLIMIT_FOO" }, `process.rlimits[0].type "RLIMIT_FOO"`},
		{"rlimit order", func(s *specs.Spec) { s.Process.Rlimits[0].Soft = 2048 }, `above hard limit`},
		{"bind source", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Source: "/nonexistent-src", Options: []string{"bind"}})
		}, `source "/nonexistent-src" does not exist`},
		{"hook path", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/nonexistent-hook"}}}
		}, `hooks.createRuntime[0].path "/nonexistent-hook" does not exist`},
		{"relative hook", func(s *specs.Spec) { s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "true"}}} }, `must be absolute`},
		{"hostname without uts", func(s *specs.Spec) {
			s.Linux.Namespaces = []specs.LinuxNamespace{{Type: "mount"}}
		}, `hostname`},
		{"host sysctl", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"vm.swappiness": "1"} }, `would change the host`},
		{"net sysctl without netns", func(s *specs.Spec) {
			s.Linux.Namespaces = []specs.LinuxNamespace{{Type: "mount"}, {Type: "uts"}}
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		}, `needs a private network namespace`},
		{"device type", func(s *specs.Spec) { s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "z"}} }, `linux.devices[0].type "z"`},
		{"mappings without userns", func(s *specs.Spec) { s.Linux.UIDMappings = []specs.LinuxIDMapping{{Size: 1}} }, `need a user namespace`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadBundle(writeBundle(t, c.mutate))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "config.json: ") {
				t.Fatalf("error %q: want it to start with config.json: and contain %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q spans lines", err)
			}
		})
	}
}

func TestBundleErrors(t *testing.T) {
	if _, err := LoadBundle("/nonexistent-bundle"); err == nil || !strings.Contains(err.Error(), "/nonexistent-bundle does not exist") {
		t.Fatalf("missing bundle: %v", err)
	}
	dir := t.TempDir()
	if _, err := LoadBundle(dir); err == nil || !strings.Contains(err.Error(), "has no config.json") {
		t.Fatalf("no config.json: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "config.json"), []byte("{\n \"ociVersion\": \"1.0\",\n x}"), 0o644)
	if _, err := LoadBundle(dir); err == nil || !strings.Contains(err.Error(), "invalid JSON at line 3") {
		t.Fatalf("bad JSON: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"process": {"args": "sh"}}`), 0o644)
	if _, err := LoadBundle(dir); err == nil || !strings.Contains(err.Error(), "process.args") {
		t.Fatalf("wrong type: %v", err)
	}
}

func TestValidateID(t *testing.T) {
	for _, ok := range []string{"a", "abc-1", "A.b_c+d", "0"} {
		if err := ValidateID(ok); err != nil {
			t.Errorf("%q rejected: %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "../x", "a/b", "-a", ".a", "a b", "a\x00"} {
		if err := ValidateID(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParseSpec(f *testing.F) {
	data, _ := json.Marshal(Example())
	f.Add(data)
	f.Add([]byte(`{"process":{"args":["sh"]}}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSpec(data)
		if err == nil && s == nil {
			t.Fatal("nil spec without error")
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("multi-line error %q", err)
		}
	})
}

func TestEscapesRoot(t *testing.T) {
	for p, want := range map[string]bool{
		"a/b": false, "/a/../b": false, "./a": false, "..": true, "../x": true, "a/../../x": true, "/../x": true, "a/b/../../c": false,
	} {
		if EscapesRoot(p) != want {
			t.Errorf("EscapesRoot(%q) = %v", p, !want)
		}
	}
}
