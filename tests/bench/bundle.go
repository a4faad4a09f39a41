package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	dockerseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// makeRootfs builds the shared static busybox root file system and reads
// the config template from `minirunc spec`.
func (b *bench) makeRootfs() error {
	b.rootfs = filepath.Join(b.work, "rootfs")
	for _, d := range []string{"bin", "proc", "sys", "dev", "tmp", "etc"} {
		if err := os.MkdirAll(filepath.Join(b.rootfs, d), 0o755); err != nil {
			return err
		}
	}
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return fmt.Errorf("busybox-static is required: %w", err)
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(b.rootfs, "bin", "busybox"), data, 0o755); err != nil {
		return err
	}
	for _, app := range []string{"true", "sh", "sleep"} {
		os.Symlink("busybox", filepath.Join(b.rootfs, "bin", app))
	}
	specDir := filepath.Join(b.work, "spec")
	if err := os.MkdirAll(specDir, 0o755); err != nil {
		return err
	}
	if out, err := exec.Command(*mrBin, "spec", "--bundle", specDir).CombinedOutput(); err != nil {
		return fmt.Errorf("minirunc spec: %v %s", err, out)
	}
	if b.tmpl, err = os.ReadFile(filepath.Join(specDir, "config.json")); err != nil {
		return err
	}
	// Docker's default seccomp profile (moby/profiles), as dockerd makes
	// it for this spec's capabilities.
	var s specs.Spec
	if err := json.Unmarshal(b.tmpl, &s); err != nil {
		return err
	}
	profile, err := dockerseccomp.GetDefaultProfile(&s)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(profile)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, &b.seccomp)
}

// bundle writes a bundle for container id and returns its directory: the
// shared rootfs (absolute root.path, read-only), args (default /bin/true),
// no terminal, pid/ipc/uts/mount namespaces plus a network namespace when
// netns, and the absolute cgroupsPath cgRun/id.
func (b *bench) bundle(id string, netns bool, args ...string) (string, error) {
	return b.bundleSeccomp(id, netns, false, args...)
}

// bundleSeccomp is bundle, with Docker's default seccomp profile when
// seccomp.
func (b *bench) bundleSeccomp(id string, netns, seccomp bool, args ...string) (string, error) {
	var s map[string]any
	if err := json.Unmarshal(b.tmpl, &s); err != nil {
		return "", err
	}
	proc, _ := s["process"].(map[string]any)
	linux, _ := s["linux"].(map[string]any)
	if proc == nil || linux == nil {
		return "", fmt.Errorf("spec template without process or linux")
	}
	// crun 1.8.1 rejects spec versions newer than it knows.
	s["ociVersion"] = "1.0.2-dev"
	proc["terminal"] = false
	if len(args) == 0 {
		args = []string{"/bin/true"}
	}
	proc["args"] = args
	s["root"] = map[string]any{"path": b.rootfs, "readonly": true}
	linux["cgroupsPath"] = cgRun + "/" + id
	ns := []map[string]string{{"type": "pid"}}
	if netns {
		ns = append(ns, map[string]string{"type": "network"})
	}
	ns = append(ns, map[string]string{"type": "ipc"}, map[string]string{"type": "uts"}, map[string]string{"type": "mount"})
	linux["namespaces"] = ns
	if seccomp {
		linux["seccomp"] = b.seccomp
	}
	out, err := json.Marshal(s)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(b.work, "bundles", id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return dir, os.WriteFile(filepath.Join(dir, "config.json"), out, 0o644)
}
