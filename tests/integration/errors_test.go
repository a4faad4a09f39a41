package integration

//lint:file-ignore SA1019 prestart hooks are deprecated but Docker still sends them, so they are tested

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// requireCreateFails runs create and checks the user sees one line on
// stderr containing want, a non-zero exit, and nothing left behind.
func requireCreateFails(e *Env, b, id, want string) {
	e.t.Helper()
	out, stderr, code := e.Run("create", "--bundle", b, id)
	if code == 0 {
		e.t.Fatalf("create succeeded; want a failure naming %q", want)
	}
	if out != "" {
		e.t.Errorf("stdout %q, want nothing", out)
	}
	requireOneLine(e.t, stderr, want)
	requireNoResidue(e.t, e.Root, id)
}

// badBundle makes a bundle for a fresh id with mutate applied and expects
// create to fail with want.
func badBundle(t *testing.T, want string, args []string, mutate func(*specs.Spec)) {
	e := NewEnv(t)
	id := e.NewID()
	if args == nil {
		args = []string{"true"}
	}
	requireCreateFails(e, e.Bundle(id, args, mutate), id, want)
}

func TestCreateMissingBundle(t *testing.T) {
	e := NewEnv(t)
	id := e.NewID()
	b := filepath.Join(t.TempDir(), "no-such-bundle")
	requireCreateFails(e, b, id, b)
}

func TestCreateBundleWithoutConfig(t *testing.T) {
	e := NewEnv(t)
	id := e.NewID()
	requireCreateFails(e, t.TempDir(), id, "config.json")
}

func TestCreateMalformedConfig(t *testing.T) {
	e := NewEnv(t)
	id := e.NewID()
	b := e.Bundle(id, []string{"true"}, nil)
	if err := os.WriteFile(filepath.Join(b, "config.json"), []byte("{\"ociVersion\": \"1.0.2\",\n \"process\": {\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	requireCreateFails(e, b, id, "config.json")
}

func TestCreateUnknownNamespace(t *testing.T) {
	i := len(defaultSpec().Linux.Namespaces)
	badBundle(t, fmt.Sprintf("linux.namespaces[%d].type", i), nil, func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "foo"})
	})
}

func TestCreateMissingRootfs(t *testing.T) {
	badBundle(t, "root.path", nil, func(s *specs.Spec) { s.Root.Path = "no-such-rootfs" })
}

func TestCreateInvalidID(t *testing.T) {
	for _, bad := range []string{"../x", "a/b", ""} {
		t.Run(fmt.Sprintf("%q", bad), func(t *testing.T) {
			e := NewEnv(t)
			id := e.NewID()
			b := e.Bundle(id, []string{"true"}, nil)
			out, stderr, code := e.Run("create", "--bundle", b, bad)
			if code == 0 {
				t.Fatalf("create %q succeeded", bad)
			}
			if out != "" {
				t.Errorf("stdout %q", out)
			}
			want := "invalid container id"
			if bad == "" {
				want = "container id cannot be empty"
			}
			requireOneLine(t, stderr, want)
			// Nothing made from the bad id, inside the root or out of it.
			for _, p := range []string{filepath.Join(e.Root, bad), filepath.Join(e.Root, "a"), filepath.Join(filepath.Dir(e.Root), "x")} {
				if p == e.Root {
					continue
				}
				if _, err := os.Lstat(p); !os.IsNotExist(err) {
					t.Errorf("%s exists after create %q", p, bad)
				}
			}
			if ents := containerDirs(e.Root); len(ents) > 0 {
				t.Errorf("state root not empty: %v", ents)
			}
			requireNoResidue(t, e.Root, id)
		})
	}
}

func TestCreateDuplicateID(t *testing.T) {
	e := NewEnv(t)
	id := e.NewID()
	b := e.Bundle(id, []string{"sleep", "100"}, nil)
	e.MustRun("create", "--bundle", b, id)
	pid := statePid(e, id)
	out, stderr, code := e.Run("create", "--bundle", b, id)
	if code == 0 {
		t.Fatal("second create with the same id succeeded")
	}
	if out != "" {
		t.Errorf("stdout %q", out)
	}
	requireOneLine(t, stderr, "container with id exists")
	// The first container is untouched.
	if st := e.State(id); st["status"] != "created" || st["pid"] != float64(pid) {
		t.Fatalf("first container after the duplicate create: %v, want created, pid %d", st, pid)
	}
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/memory", cgroupParent, id)); err != nil {
		t.Fatalf("the first container's cgroup is gone: %v", err)
	}
	e.MustRun("start", id)
	if st := e.State(id); st["status"] != "running" {
		t.Fatalf("first container does not start after the duplicate create: %v", st["status"])
	}
}

func TestCreateUnknownCapability(t *testing.T) {
	badBundle(t, "CAP_FOO", nil, func(s *specs.Spec) {
		s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_FOO")
	})
}

func TestCreateMissingPrestartHook(t *testing.T) {
	badBundle(t, "/nonexistent-hook", nil, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{Prestart: []specs.Hook{{Path: "/nonexistent-hook"}}}
	})
}

func TestCreateMissingBindSource(t *testing.T) {
	badBundle(t, "/nonexistent-source", nil, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: "/nonexistent-source", Options: []string{"rbind"}})
	})
}

func TestCreateMissingExecutable(t *testing.T) {
	badBundle(t, `exec: "/nonexistent": stat /nonexistent: no such file or directory`, []string{"/nonexistent"}, nil)
}

func TestCreateNonExecutable(t *testing.T) {
	badBundle(t, `exec: "/etc/passwd": permission denied`, []string{"/etc/passwd"}, nil)
}

func TestKillMissing(t *testing.T) {
	e := NewEnv(t)
	_, stderr, code := e.Run("kill", "no-such-container", "KILL")
	if code == 0 {
		t.Fatal("kill of a missing container succeeded")
	}
	requireOneLine(t, stderr, "container does not exist")
}

func TestKillStopped(t *testing.T) {
	e := NewEnv(t)
	id, _ := e.startContainer([]string{"true"}, nil)
	waitStatus(t, e, id, "stopped")
	_, stderr, code := e.Run("kill", id, "KILL")
	if code == 0 {
		t.Fatal("kill of a stopped container succeeded")
	}
	requireOneLine(t, stderr, "container not running")
}

func TestDeleteMissing(t *testing.T) {
	e := NewEnv(t)
	_, stderr, code := e.Run("delete", "no-such-container")
	if code == 0 {
		t.Fatal("delete of a missing container succeeded")
	}
	requireOneLine(t, stderr, "container does not exist")
}

func TestDeleteForceMissing(t *testing.T) {
	e := NewEnv(t)
	out, stderr, code := e.Run("delete", "--force", "no-such-container")
	if code != 0 || out != "" || stderr != "" {
		t.Fatalf("delete --force of a missing container: exit %d, stdout %q, stderr %q; want 0 and silence", code, out, stderr)
	}
}

// requireJSONLog checks every line of the --log file is a JSON record with
// a lower-case level and an RFC 3339 time, and that the last error names
// want. It returns that error's msg.
func requireJSONLog(t *testing.T, path, want string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("log file: %v", err)
	}
	var last string
	for _, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		level, _ := rec["level"].(string)
		if level != strings.ToLower(level) || level == "" {
			t.Errorf("level %q: want lower case", rec["level"])
		}
		ts, _ := rec["time"].(string)
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
			t.Errorf("time %q is not RFC 3339: %v", rec["time"], err)
		}
		if level == "error" {
			last, _ = rec["msg"].(string)
		}
	}
	if last == "" {
		t.Fatalf("no error record in the log file:\n%s", data)
	}
	if !strings.Contains(last, want) {
		t.Fatalf("last error %q does not name %q", last, want)
	}
	return last
}

// TestLogJSONError: with Docker's global flags, a failing create writes one
// JSON error record to --log and the same text to stderr.
func TestLogJSONError(t *testing.T) {
	e := NewEnv(t)
	id := e.NewID()
	log := filepath.Join(t.TempDir(), "log.json")
	b := filepath.Join(t.TempDir(), "no-such-bundle")
	_, stderr, code := e.Run("--log", log, "--log-format", "json", "create", "--bundle", b, id)
	if code == 0 {
		t.Fatal("create of a missing bundle succeeded")
	}
	msg := requireJSONLog(t, log, b)
	if !strings.Contains(stderr, msg) {
		t.Fatalf("stderr %q does not carry the logged error %q", stderr, msg)
	}
	requireNoResidue(t, e.Root, id)
}

// TestLogJSONArgError: the log file is created and written even when the
// arguments are wrong.
func TestLogJSONArgError(t *testing.T) {
	log := filepath.Join(t.TempDir(), "log.json")
	_, stderr, code := cliRun(t, nil, nil, "--log", log, "--log-format", "json", "kill")
	if code == 0 {
		t.Fatal("kill without an id succeeded")
	}
	msg := requireJSONLog(t, log, "kill")
	if !strings.Contains(stderr, msg) {
		t.Fatalf("stderr %q does not carry the logged error %q", stderr, msg)
	}
}

// TestLogJSONUnknownFlag: an unknown flag, of a command or global, is
// logged too (Podman's `--log-format=json --log F` order).
func TestLogJSONUnknownFlag(t *testing.T) {
	for _, tc := range []struct{ name, flag string }{{"command", "create"}, {"global", ""}} {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEnv(t)
			log := filepath.Join(t.TempDir(), "log.json")
			args := []string{"--log-format=json", "--log", log}
			if tc.flag == "" {
				args = append(args, "--no-such-flag", "list")
			} else {
				args = append(args, "create", "--no-such-flag", "x")
			}
			_, stderr, code := e.Run(args...)
			if code == 0 {
				t.Fatal("an unknown flag was accepted")
			}
			msg := requireJSONLog(t, log, "no-such-flag")
			if !strings.Contains(stderr, msg) {
				t.Fatalf("stderr %q does not carry the logged error %q", stderr, msg)
			}
		})
	}
}

// TestRunMissingExecutable: run fails like create, and its own error path
// leaves nothing behind either.
func TestRunMissingExecutable(t *testing.T) {
	e := NewEnv(t)
	id := e.NewID()
	b := e.Bundle(id, []string{"/nonexistent"}, nil)
	out, stderr, code := e.Run("run", "--bundle", b, id)
	if code == 0 || out != "" {
		t.Fatalf("run of a missing executable: exit %d, stdout %q", code, out)
	}
	requireOneLine(t, stderr, `exec: "/nonexistent": stat /nonexistent: no such file or directory`)
	requireNoResidue(t, e.Root, id)
}

// TestCreateSELinuxLabelWithoutSELinux: a process label the host cannot
// apply is refused with one line, not silently dropped.
func TestCreateSELinuxLabelWithoutSELinux(t *testing.T) {
	var st unix.Statfs_t
	if unix.Statfs("/sys/fs/selinux", &st) == nil && st.Type == unix.SELINUX_MAGIC {
		t.Skip("SELinux is enabled on this host")
	}
	e := NewEnv(t)
	id := e.NewID()
	b := e.Bundle(id, []string{"true"}, func(s *specs.Spec) { s.Process.SelinuxLabel = "system_u:system_r:container_t:s0" })
	_, stderr, code := e.Run("create", "--bundle", b, id)
	if code == 0 {
		t.Fatal("create with an SELinux label succeeded on a host without SELinux")
	}
	requireOneLine(t, stderr, "process.selinuxLabel")
	requireNoResidue(t, e.Root, id)
}
