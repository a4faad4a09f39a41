package integration

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TestFeaturesSchema: `features` validates against the runtime-spec
// features schema of the spec version minirunc is built with.
func TestFeaturesSchema(t *testing.T) {
	e := NewEnv(t)
	out := e.MustRun("features")
	dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/opencontainers/runtime-spec").Output()
	if err != nil {
		t.Fatalf("find the runtime-spec module: %v", err)
	}
	schemaPath := filepath.Join(strings.TrimSpace(string(dir)), "schema", "features-schema.json")
	sch, err := jsonschema.NewCompiler().Compile(schemaPath)
	if err != nil {
		t.Fatalf("compile %s: %v", schemaPath, err)
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
	if err != nil {
		t.Fatalf("features is not JSON: %v\n%s", err, out)
	}
	if err := sch.Validate(doc); err != nil {
		t.Fatalf("features does not validate: %v", err)
	}
}

// TestFeaturesClaims runs a sample of what `features` claims: every
// namespace it lists can be created, a mount option it lists is applied,
// and a seccomp action and operator it lists work.
func TestFeaturesClaims(t *testing.T) {
	e := NewEnv(t)
	var f features.Features
	if err := json.Unmarshal([]byte(e.MustRun("features")), &f); err != nil {
		t.Fatal(err)
	}
	if f.Linux == nil || f.Linux.Seccomp == nil {
		t.Fatalf("features has no linux or seccomp section: %+v", f)
	}
	var nss []specs.LinuxNamespace
	for _, n := range f.Linux.Namespaces {
		nss = append(nss, specs.LinuxNamespace{Type: specs.LinuxNamespaceType(n)})
	}
	out, stderr, code := e.RunContainer([]string{"sh", "-c", "for n in time cgroup user; do readlink /proc/self/ns/$n; done"}, func(s *specs.Spec) {
		s.Linux.Namespaces = nss
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 0, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 0, Size: 65536}}
	})
	if code != 0 {
		t.Fatalf("a container with every listed namespace (%v): exit %d: %s", f.Linux.Namespaces, code, stderr)
	}
	for _, want := range []string{"time:", "cgroup:", "user:"} {
		if !strings.Contains(out, want) {
			t.Errorf("namespaces: %q lacks %s", out, want)
		}
	}
	if !slices.Contains(f.MountOptions, "rro") {
		t.Fatalf("mount option rro not listed: %v", f.MountOptions)
	}
	out, _, code = e.RunContainer([]string{"sh", "-c", "touch /data/x 2>/dev/null && echo writable || echo read-only"},
		addMount(specs.Mount{Destination: "/data", Type: "tmpfs", Source: "tmpfs", Options: []string{"rro"}}))
	if code != 0 || strings.TrimSpace(out) != "read-only" {
		t.Errorf("rro: exit %d, %q; want read-only", code, out)
	}
	if !slices.Contains(f.Linux.Seccomp.Actions, string(specs.ActErrno)) || !slices.Contains(f.Linux.Seccomp.Operators, string(specs.OpEqualTo)) {
		t.Fatalf("seccomp errno action or equal operator not listed: %+v", f.Linux.Seccomp)
	}
	errno := uint(38)
	out, _, code = e.RunContainer([]string{"sh", "-c", "kill -0 $$ && echo zero; kill -CONT $$ && echo cont"}, func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{
				Names: []string{"kill"}, Action: specs.ActErrno, ErrnoRet: &errno,
				Args: []specs.LinuxSeccompArg{{Index: 1, Value: 18, Op: specs.OpEqualTo}},
			}},
		}
	})
	if code == 0 || !strings.Contains(out, "zero") || strings.Contains(out, "cont") {
		t.Errorf("seccomp errno on kill(_, SIGCONT): exit %d, %q; want only kill -0 to work", code, out)
	}
}
