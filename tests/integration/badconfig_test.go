package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The bad-input table (issue 11): malformed and hostile config.json, one
// case per way each field the runtime reads can be wrong. Every case must
// fail create with a non-zero exit and one line on stderr naming the
// field, and leave nothing behind.

// jmap is a config.json as generic JSON, so that a case can put a wrong
// type anywhere.
type jmap = map[string]any

// at walks to the object at path (dot-separated), creating objects.
func at(m jmap, path string) jmap {
	for _, k := range strings.Split(path, ".") {
		next, ok := m[k].(jmap)
		if !ok {
			next = jmap{}
			m[k] = next
		}
		m = next
	}
	return m
}

func nsList(m jmap) []any { return at(m, "linux")["namespaces"].([]any) }

func withoutNS(m jmap, typ string) {
	var out []any
	for _, n := range nsList(m) {
		if n.(jmap)["type"] != typ {
			out = append(out, n)
		}
	}
	at(m, "linux")["namespaces"] = out
}

func addJMount(m jmap, mnt jmap) { m["mounts"] = append(m["mounts"].([]any), mnt) }

type badCase struct {
	name   string
	want   string // what the one line must name
	mutate func(m jmap)
	raw    string // config.json as is, instead of a mutation
}

func badConfigCases(file string) []badCase {
	huge := strings.Repeat("x", 200000)
	return []badCase{
		{name: "syntax", want: "invalid JSON at line", raw: "{\n \"ociVersion\": \"1.0.2\",\n \"process\": {\n"},
		{name: "trailing-data", want: "trailing data", raw: "{} {}"},
		{name: "not-an-object", want: "config.json: must hold a JSON object", raw: "[1,2,3]"},
		{name: "ociVersion-type", want: "ociVersion", mutate: func(m jmap) { m["ociVersion"] = 1 }},
		{name: "process-type", want: "process", mutate: func(m jmap) { m["process"] = "sh" }},
		{name: "process-missing", want: "process", mutate: func(m jmap) { delete(m, "process") }},
		{name: "args-type", want: "process.args", mutate: func(m jmap) { at(m, "process")["args"] = "sh" }},
		{name: "args-empty", want: "process.args", mutate: func(m jmap) { at(m, "process")["args"] = []any{} }},
		{name: "args-empty-string", want: "process.args", mutate: func(m jmap) { at(m, "process")["args"] = []any{""} }},
		{name: "args-numbers", want: "process.args", mutate: func(m jmap) { at(m, "process")["args"] = []any{1, 2} }},
		{name: "args-huge-string", want: "process.args[1]", mutate: func(m jmap) { at(m, "process")["args"] = []any{"echo", huge} }},
		{name: "cwd-relative", want: "process.cwd", mutate: func(m jmap) { at(m, "process")["cwd"] = "tmp" }},
		{name: "cwd-empty", want: "process.cwd", mutate: func(m jmap) { at(m, "process")["cwd"] = "" }},
		{name: "env-type", want: "process.env", mutate: func(m jmap) { at(m, "process")["env"] = jmap{"A": "b"} }},
		{name: "env-no-equals", want: "process.env[1]", mutate: func(m jmap) { at(m, "process")["env"] = []any{"A=b", "NOEQUALS"} }},
		{name: "env-empty-name", want: "process.env[0]", mutate: func(m jmap) { at(m, "process")["env"] = []any{"=x"} }},
		{name: "env-huge-array", want: "process.env", mutate: func(m jmap) {
			env := make([]any, 400000)
			env[0] = "PATH=/bin"
			for i := 1; i < len(env); i++ {
				env[i] = "V=aaaaaaaaaaaaaaaaaaaa"
			}
			at(m, "process")["env"] = env
		}},
		{name: "uid-negative", want: "process.user.uid", mutate: func(m jmap) { at(m, "process.user")["uid"] = -1 }},
		{name: "uid-too-big", want: "process.user.uid", mutate: func(m jmap) { at(m, "process.user")["uid"] = 1 << 40 }},
		{name: "gid-string", want: "process.user.gid", mutate: func(m jmap) { at(m, "process.user")["gid"] = "root" }},
		{name: "additionalGids-negative", want: "process.user.additionalGids", mutate: func(m jmap) { at(m, "process.user")["additionalGids"] = []any{-5} }},
		{name: "umask-out-of-range", want: "process.user.umask", mutate: func(m jmap) { at(m, "process.user")["umask"] = 4096 }},
		{name: "capability-unknown", want: "process.capabilities.bounding[", mutate: func(m jmap) {
			at(m, "process.capabilities")["bounding"] = []any{"CAP_CHOWN", "CAP_FOO"}
		}},
		{name: "capabilities-type", want: "process.capabilities.effective", mutate: func(m jmap) { at(m, "process.capabilities")["effective"] = "CAP_CHOWN" }},
		{name: "rlimit-unknown", want: "process.rlimits[0].type", mutate: func(m jmap) {
			at(m, "process")["rlimits"] = []any{jmap{"type": "RLIMIT_FOO", "soft": 1, "hard": 1}}
		}},
		{name: "rlimit-duplicate", want: "process.rlimits[1].type", mutate: func(m jmap) {
			r := jmap{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1024}
			at(m, "process")["rlimits"] = []any{r, r}
		}},
		{name: "rlimit-soft-above-hard", want: "process.rlimits[0]", mutate: func(m jmap) {
			at(m, "process")["rlimits"] = []any{jmap{"type": "RLIMIT_NOFILE", "soft": 2048, "hard": 1024}}
		}},
		{name: "rlimit-negative", want: "process.rlimits", mutate: func(m jmap) {
			at(m, "process")["rlimits"] = []any{jmap{"type": "RLIMIT_NOFILE", "soft": -1, "hard": 1024}}
		}},
		{name: "oomScoreAdj-out-of-range", want: "process.oomScoreAdj", mutate: func(m jmap) { at(m, "process")["oomScoreAdj"] = 5000 }},
		{name: "terminal-type", want: "process.terminal", mutate: func(m jmap) { at(m, "process")["terminal"] = "yes" }},
		{name: "noNewPrivileges-type", want: "process.noNewPrivileges", mutate: func(m jmap) { at(m, "process")["noNewPrivileges"] = 1 }},
		{name: "root-missing", want: "root.path", mutate: func(m jmap) { delete(m, "root") }},
		{name: "root-path-missing", want: "root.path", mutate: func(m jmap) { at(m, "root")["path"] = "/nonexistent-rootfs" }},
		{name: "root-path-file", want: "root.path", mutate: func(m jmap) { at(m, "root")["path"] = file }},
		{name: "root-readonly-type", want: "root.readonly", mutate: func(m jmap) { at(m, "root")["readonly"] = "true" }},
		{name: "hostname-without-uts", want: "hostname", mutate: func(m jmap) { m["hostname"] = "x"; withoutNS(m, "uts") }},
		{name: "hostname-too-long", want: "config.json: hostname", mutate: func(m jmap) { m["hostname"] = strings.Repeat("h", 65) }},
		{name: "linux-missing", want: "linux", mutate: func(m jmap) { delete(m, "linux") }},
		{name: "namespace-unknown", want: "linux.namespaces[", mutate: func(m jmap) {
			at(m, "linux")["namespaces"] = append(nsList(m), jmap{"type": "foo"})
		}},
		{name: "namespace-duplicate", want: "linux.namespaces[", mutate: func(m jmap) {
			at(m, "linux")["namespaces"] = append(nsList(m), jmap{"type": "pid"})
		}},
		{name: "namespace-path-relative", want: "linux.namespaces[", mutate: func(m jmap) {
			withoutNS(m, "network")
			at(m, "linux")["namespaces"] = append(nsList(m), jmap{"type": "network", "path": "proc/1/ns/net"})
		}},
		{name: "namespace-path-not-ns", want: "linux.namespaces[", mutate: func(m jmap) {
			withoutNS(m, "network")
			at(m, "linux")["namespaces"] = append(nsList(m), jmap{"type": "network", "path": "/etc/passwd"})
		}},
		{name: "namespace-path-wrong-type", want: "linux.namespaces[", mutate: func(m jmap) {
			withoutNS(m, "network")
			at(m, "linux")["namespaces"] = append(nsList(m), jmap{"type": "network", "path": "/proc/self/ns/uts"})
		}},
		{name: "uidMappings-without-userns", want: "linux.uidMappings", mutate: func(m jmap) {
			at(m, "linux")["uidMappings"] = []any{jmap{"containerID": 0, "hostID": 1000, "size": 1}}
		}},
		{name: "userns-without-mappings", want: "linux.uidMappings", mutate: func(m jmap) {
			at(m, "linux")["namespaces"] = append(nsList(m), jmap{"type": "user"})
		}},
		{name: "uidMappings-size-zero", want: "linux.uidMappings[0].size", mutate: func(m jmap) {
			at(m, "linux")["namespaces"] = append(nsList(m), jmap{"type": "user"})
			at(m, "linux")["uidMappings"] = []any{jmap{"containerID": 0, "hostID": 1000, "size": 0}}
			at(m, "linux")["gidMappings"] = []any{jmap{"containerID": 0, "hostID": 1000, "size": 1}}
		}},
		{name: "mounts-type", want: "mounts", mutate: func(m jmap) { m["mounts"] = "proc" }},
		{name: "mount-destination-empty", want: "mounts[", mutate: func(m jmap) { addJMount(m, jmap{"destination": "", "type": "tmpfs", "source": "tmpfs"}) }},
		{name: "mount-destination-escapes", want: "mounts[", mutate: func(m jmap) {
			addJMount(m, jmap{"destination": "/../../../../etc/x", "type": "tmpfs", "source": "tmpfs"})
		}},
		{name: "mount-bind-no-source", want: "mounts[", mutate: func(m jmap) { addJMount(m, jmap{"destination": "/data", "type": "bind", "options": []any{"rbind"}}) }},
		{name: "mount-bind-source-missing", want: "mounts[", mutate: func(m jmap) {
			addJMount(m, jmap{"destination": "/data", "type": "bind", "source": "/nonexistent-src", "options": []any{"rbind"}})
		}},
		{name: "mount-no-type", want: "mounts[", mutate: func(m jmap) { addJMount(m, jmap{"destination": "/data", "source": "x"}) }},
		{name: "mount-duplicate", want: "mounts[", mutate: func(m jmap) {
			t := jmap{"destination": "/data", "type": "tmpfs", "source": "tmpfs"}
			addJMount(m, t)
			addJMount(m, t)
		}},
		{name: "mount-options-type", want: "mounts", mutate: func(m jmap) { addJMount(m, jmap{"destination": "/data", "type": "tmpfs", "options": "ro"}) }},
		{name: "mount-bad-option", want: "mounts[", mutate: func(m jmap) {
			addJMount(m, jmap{"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": []any{"size=banana"}})
		}},
		{name: "mounts-huge-array", want: "mounts[99999].destination", mutate: func(m jmap) {
			ms := make([]any, 100000)
			for i := range ms {
				ms[i] = jmap{"destination": "/tmp/" + strconv.Itoa(i), "type": "tmpfs", "source": "tmpfs", "options": []any{"size=1k"}}
			}
			ms[len(ms)-1] = jmap{"destination": "", "type": "tmpfs"}
			m["mounts"] = ms
		}},
		{name: "device-path-relative", want: "linux.devices[0].path", mutate: func(m jmap) {
			at(m, "linux")["devices"] = []any{jmap{"path": "dev/x", "type": "c", "major": 1, "minor": 3}}
		}},
		{name: "device-path-escapes", want: "linux.devices[0].path", mutate: func(m jmap) {
			at(m, "linux")["devices"] = []any{jmap{"path": "/dev/../../x", "type": "c", "major": 1, "minor": 3}}
		}},
		{name: "device-type", want: "linux.devices[0].type", mutate: func(m jmap) {
			at(m, "linux")["devices"] = []any{jmap{"path": "/dev/x", "type": "z", "major": 1, "minor": 3}}
		}},
		{name: "sysctl-host", want: "linux.sysctl", mutate: func(m jmap) { at(m, "linux")["sysctl"] = jmap{"kernel.panic": "1"} }},
		{name: "sysctl-net-without-netns", want: "linux.sysctl", mutate: func(m jmap) {
			withoutNS(m, "network")
			at(m, "linux")["sysctl"] = jmap{"net.ipv4.ip_forward": "1"}
		}},
		{name: "sysctl-value-type", want: "linux.sysctl", mutate: func(m jmap) { at(m, "linux")["sysctl"] = jmap{"net.ipv4.ip_forward": 1} }},
		{name: "memory-limit-type", want: "linux.resources.memory.limit", mutate: func(m jmap) { at(m, "linux.resources.memory")["limit"] = "1G" }},
		{name: "memory-limit-negative", want: "linux.resources.memory.limit", mutate: func(m jmap) { at(m, "linux.resources.memory")["limit"] = -5 }},
		{name: "cpu-shares-negative", want: "linux.resources.cpu.shares", mutate: func(m jmap) { at(m, "linux.resources.cpu")["shares"] = -2 }},
		{name: "cpuset-garbage", want: "linux.resources.cpu.cpus", mutate: func(m jmap) { at(m, "linux.resources.cpu")["cpus"] = "abc" }},
		{name: "device-rule-access", want: "linux.resources.devices[", mutate: func(m jmap) {
			at(m, "linux.resources")["devices"] = []any{jmap{"allow": true, "access": "xyz"}}
		}},
		{name: "cgroupsPath-escapes", want: "linux.cgroupsPath", mutate: func(m jmap) { at(m, "linux")["cgroupsPath"] = "/../../../escape" }},
		{name: "cgroupsPath-systemd", want: "linux.cgroupsPath", mutate: func(m jmap) { at(m, "linux")["cgroupsPath"] = "system.slice:x:y" }},
		{name: "seccomp-defaultAction", want: "linux.seccomp.defaultAction", mutate: func(m jmap) { at(m, "linux.seccomp")["defaultAction"] = "SCMP_ACT_BOGUS" }},
		{name: "seccomp-architecture", want: "linux.seccomp.architectures[0]", mutate: func(m jmap) {
			s := at(m, "linux.seccomp")
			s["defaultAction"] = "SCMP_ACT_ALLOW"
			s["architectures"] = []any{"SCMP_ARCH_BOGUS"}
		}},
		{name: "seccomp-syscall-names", want: "linux.seccomp.syscalls[0].names", mutate: func(m jmap) {
			s := at(m, "linux.seccomp")
			s["defaultAction"] = "SCMP_ACT_ALLOW"
			s["syscalls"] = []any{jmap{"names": []any{}, "action": "SCMP_ACT_ERRNO"}}
		}},
		{name: "hook-path-relative", want: "hooks.prestart[0].path", mutate: func(m jmap) { at(m, "hooks")["prestart"] = []any{jmap{"path": "bin/true"}} }},
		{name: "hook-path-missing", want: "hooks.poststart[0].path", mutate: func(m jmap) { at(m, "hooks")["poststart"] = []any{jmap{"path": "/nonexistent-hook"}} }},
		{name: "hook-timeout-zero", want: "hooks.createRuntime[0].timeout", mutate: func(m jmap) {
			at(m, "hooks")["createRuntime"] = []any{jmap{"path": "/bin/true", "timeout": 0}}
		}},
		{name: "rootfsPropagation", want: "linux.rootfsPropagation", mutate: func(m jmap) { at(m, "linux")["rootfsPropagation"] = "bogus" }},
		{name: "maskedPaths-relative", want: "linux.maskedPaths[0]", mutate: func(m jmap) { at(m, "linux")["maskedPaths"] = []any{"proc/kcore"} }},
		{name: "readonlyPaths-type", want: "linux.readonlyPaths", mutate: func(m jmap) { at(m, "linux")["readonlyPaths"] = []any{1} }},
		{name: "timeOffsets-without-timens", want: "linux.timeOffsets", mutate: func(m jmap) {
			at(m, "linux")["timeOffsets"] = jmap{"monotonic": jmap{"secs": 1}}
		}},
		{name: "annotations-type", want: "annotations", mutate: func(m jmap) { m["annotations"] = jmap{"a": 1} }},
	}
}

func TestBadConfigTable(t *testing.T) {
	e := NewEnv(t)
	base, err := json.Marshal(defaultSpec())
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := badConfigCases(file)
	if len(cases) < 40 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := &Env{t: t, Root: e.Root, dir: e.dir}
			id := e.NewID()
			b := filepath.Join(e.dir, "bundle-"+id)
			if err := os.MkdirAll(b, 0o755); err != nil {
				t.Fatal(err)
			}
			data := []byte(tc.raw)
			if tc.raw == "" {
				var m jmap
				if err := json.Unmarshal(base, &m); err != nil {
					t.Fatal(err)
				}
				at(m, "root")["path"] = baseRoot // shared, read-only
				at(m, "root")["readonly"] = true
				at(m, "linux")["cgroupsPath"] = cgroupParent + "/" + id
				at(m, "process")["args"] = []any{"true"}
				tc.mutate(m)
				if data, err = json.Marshal(m); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(b, "config.json"), data, 0o644); err != nil {
				t.Fatal(err)
			}
			out, stderr, code := e.Run("create", "--bundle", b, id)
			if code == 0 {
				t.Fatalf("create succeeded; want a failure naming %q", tc.want)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
			requireOneLine(t, stderr, tc.want)
			requireNoResidue(t, e.Root, id)
			t.Log(strings.TrimSpace(stderr))
			os.RemoveAll(b)
		})
	}
	t.Logf("%d malformed or hostile configs refused", len(cases))
}
