package specconv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/minirunc/minirunc/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// validate checks every field the runtime acts on. Errors name the field.
func (b *Bundle) validate() error {
	s := b.Spec
	if s.Root == nil || s.Root.Path == "" {
		return errors.New("root.path is required")
	}
	b.Rootfs = s.Root.Path
	if !filepath.IsAbs(b.Rootfs) {
		b.Rootfs = filepath.Join(b.Dir, b.Rootfs)
	}
	if st, err := os.Stat(b.Rootfs); err != nil {
		return fmt.Errorf("root.path %q does not exist", b.Rootfs)
	} else if !st.IsDir() {
		return fmt.Errorf("root.path %q is not a directory", b.Rootfs)
	}
	if s.Process == nil {
		return errors.New("process is required to create a container")
	}
	if err := validateProcess(s.Process); err != nil {
		return err
	}
	if s.Linux == nil {
		return errors.New("linux is required")
	}
	if err := validateNamespaces(s); err != nil {
		return err
	}
	if err := validateMounts(s.Mounts); err != nil {
		return err
	}
	if err := validateDevices(s.Linux.Devices); err != nil {
		return err
	}
	if err := validatePathList("linux.maskedPaths", s.Linux.MaskedPaths); err != nil {
		return err
	}
	if err := validatePathList("linux.readonlyPaths", s.Linux.ReadonlyPaths); err != nil {
		return err
	}
	if err := validateSysctl(s); err != nil {
		return err
	}
	if err := seccomp.Validate(s.Linux.Seccomp); err != nil {
		return err
	}
	return validateHooks(s.Hooks)
}

// ValidateProcess checks a process (config.json's, or exec's process.json).
func ValidateProcess(p *specs.Process) error { return validateProcess(p) }

func validateProcess(p *specs.Process) error {
	if len(p.Args) == 0 || p.Args[0] == "" {
		return errors.New("process.args must name an executable")
	}
	if p.Cwd == "" || !filepath.IsAbs(p.Cwd) {
		return fmt.Errorf("process.cwd %q must be an absolute path", p.Cwd)
	}
	for i, e := range p.Env {
		if !strings.Contains(e, "=") || strings.HasPrefix(e, "=") {
			return fmt.Errorf("process.env[%d] %q is not NAME=value", i, e)
		}
	}
	if c := p.Capabilities; c != nil {
		sets := []struct {
			name string
			caps []string
		}{{"bounding", c.Bounding}, {"effective", c.Effective}, {"inheritable", c.Inheritable}, {"permitted", c.Permitted}, {"ambient", c.Ambient}}
		for _, set := range sets {
			for i, name := range set.caps {
				if _, ok := Capability(name); !ok {
					return fmt.Errorf("process.capabilities.%s[%d] %q is not a capability", set.name, i, name)
				}
			}
		}
	}
	seen := map[string]bool{}
	for i, r := range p.Rlimits {
		if _, ok := Rlimits[r.Type]; !ok {
			return fmt.Errorf("process.rlimits[%d].type %q is not an rlimit", i, r.Type)
		}
		if seen[r.Type] {
			return fmt.Errorf("process.rlimits[%d].type %q appears twice", i, r.Type)
		}
		seen[r.Type] = true
		if r.Soft > r.Hard {
			return fmt.Errorf("process.rlimits[%d] %s: soft limit %d is above hard limit %d", i, r.Type, r.Soft, r.Hard)
		}
	}
	if p.OOMScoreAdj != nil && (*p.OOMScoreAdj < -1000 || *p.OOMScoreAdj > 1000) {
		return fmt.Errorf("process.oomScoreAdj %d is outside -1000..1000", *p.OOMScoreAdj)
	}
	if p.User.Umask != nil && *p.User.Umask > 0o777 {
		return fmt.Errorf("process.user.umask %#o is not a umask (0 to 0777)", *p.User.Umask)
	}
	return validateExecSize(p)
}

// HasNamespace reports whether the spec asks for a namespace of type t.
func HasNamespace(s *specs.Spec, t specs.LinuxNamespaceType) bool {
	if s.Linux == nil {
		return false
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == t {
			return true
		}
	}
	return false
}

func validateNamespaces(s *specs.Spec) error {
	seen := map[specs.LinuxNamespaceType]bool{}
	for i, ns := range s.Linux.Namespaces {
		if _, ok := Namespaces[ns.Type]; !ok {
			return fmt.Errorf("linux.namespaces[%d].type %q is not a namespace type", i, ns.Type)
		}
		if seen[ns.Type] {
			return fmt.Errorf("linux.namespaces[%d].type %q appears twice", i, ns.Type)
		}
		seen[ns.Type] = true
		if ns.Path != "" && !filepath.IsAbs(ns.Path) {
			return fmt.Errorf("linux.namespaces[%d].path %q must be absolute", i, ns.Path)
		}
		if ns.Path != "" && ns.Type == specs.UserNamespace && (len(s.Linux.UIDMappings) > 0 || len(s.Linux.GIDMappings) > 0) {
			return fmt.Errorf("linux.namespaces[%d]: id mappings cannot be set for a joined user namespace", i)
		}
	}
	if err := validateIDMappings("linux.uidMappings", s.Linux.UIDMappings); err != nil {
		return err
	}
	if err := validateIDMappings("linux.gidMappings", s.Linux.GIDMappings); err != nil {
		return err
	}
	if len(s.Hostname) > 64 {
		return fmt.Errorf("hostname %q is longer than 64 bytes", s.Hostname)
	}
	if len(s.Domainname) > 64 {
		return fmt.Errorf("domainname %q is longer than 64 bytes", s.Domainname)
	}
	if s.Hostname != "" && !seen[specs.UTSNamespace] {
		return errors.New("hostname: cannot set a hostname without a private UTS namespace")
	}
	if s.Domainname != "" && !seen[specs.UTSNamespace] {
		return errors.New("domainname: cannot set a domainname without a private UTS namespace")
	}
	if seen[specs.UserNamespace] && !joinsNamespace(s, specs.UserNamespace) {
		if len(s.Linux.UIDMappings) == 0 || len(s.Linux.GIDMappings) == 0 {
			return errors.New("linux.uidMappings and linux.gidMappings are required with a user namespace")
		}
	} else if len(s.Linux.UIDMappings) > 0 || len(s.Linux.GIDMappings) > 0 {
		return errors.New("linux.uidMappings: id mappings need a user namespace")
	}
	if len(s.Linux.TimeOffsets) > 0 {
		if !seen[specs.TimeNamespace] {
			return errors.New("linux.timeOffsets: time offsets need a time namespace")
		}
		return errors.New("linux.timeOffsets: time namespace offsets are not supported yet")
	}
	return nil
}

func validateMounts(mounts []specs.Mount) error {
	byDest := map[string][]int{} // destination -> indexes, for repeats
	for i, m := range mounts {
		if m.Destination == "" {
			return fmt.Errorf("mounts[%d].destination is empty", i)
		}
		if strings.Contains(m.Destination, "\x00") {
			return fmt.Errorf("mounts[%d].destination contains a NUL byte", i)
		}
		if EscapesRoot(m.Destination) {
			return fmt.Errorf("mounts[%d].destination %q leads out of the container's root", i, m.Destination)
		}
		if j := sameMount(mounts, byDest[m.Destination], m); j >= 0 {
			return fmt.Errorf("mounts[%d] (%s) repeats mounts[%d]", i, m.Destination, j)
		}
		byDest[m.Destination] = append(byDest[m.Destination], i)
		if IsBind(m) {
			if m.Source == "" {
				return fmt.Errorf("mounts[%d] (%s): a bind mount needs a source", i, m.Destination)
			}
			if _, err := os.Stat(m.Source); err != nil {
				return fmt.Errorf("mounts[%d] (%s): source %q does not exist", i, m.Destination, m.Source)
			}
		} else if m.Type == "" {
			return fmt.Errorf("mounts[%d] (%s): type is required unless the mount is a bind", i, m.Destination)
		}
	}
	return nil
}

// IsBind reports whether a spec mount is a bind mount.
func IsBind(m specs.Mount) bool {
	if m.Type == "bind" {
		return true
	}
	for _, o := range m.Options {
		if o == "bind" || o == "rbind" {
			return true
		}
	}
	return false
}

func validateDevices(devs []specs.LinuxDevice) error {
	for i, d := range devs {
		if !filepath.IsAbs(d.Path) {
			return fmt.Errorf("linux.devices[%d].path %q must be absolute", i, d.Path)
		}
		if EscapesRoot(d.Path) {
			return fmt.Errorf("linux.devices[%d].path %q leads out of the container's root", i, d.Path)
		}
		switch d.Type {
		case "c", "u", "b", "p":
		default:
			return fmt.Errorf("linux.devices[%d].type %q is not one of c, u, b, p", i, d.Type)
		}
	}
	return nil
}

// validateSysctl refuses sysctls that would change the host: each must
// belong to a namespace the container has of its own.
func validateSysctl(s *specs.Spec) error {
	for k := range s.Linux.Sysctl {
		var ns specs.LinuxNamespaceType
		switch {
		case strings.HasPrefix(k, "net."):
			ns = specs.NetworkNamespace
		case k == "kernel.msgmax", k == "kernel.msgmnb", k == "kernel.msgmni", k == "kernel.sem",
			k == "kernel.shmall", k == "kernel.shmmax", k == "kernel.shmmni", k == "kernel.shm_rmid_forced",
			strings.HasPrefix(k, "fs.mqueue."):
			ns = specs.IPCNamespace
		case k == "kernel.hostname", k == "kernel.domainname":
			ns = specs.UTSNamespace
		default:
			return fmt.Errorf("linux.sysctl %q is not namespaced and would change the host", k)
		}
		if !HasNamespace(s, ns) {
			return fmt.Errorf("linux.sysctl %q needs a private %s namespace", k, ns)
		}
	}
	return nil
}

func validateHooks(h *specs.Hooks) error {
	if h == nil {
		return nil
	}
	groups := []struct {
		name  string
		hooks []specs.Hook
	}{
		//lint:ignore SA1019 prestart is deprecated but Docker still uses it
		{"prestart", h.Prestart}, {"createRuntime", h.CreateRuntime}, {"createContainer", h.CreateContainer},
		{"startContainer", h.StartContainer}, {"poststart", h.Poststart}, {"poststop", h.Poststop},
	}
	for _, g := range groups {
		for i, hk := range g.hooks {
			if !filepath.IsAbs(hk.Path) {
				return fmt.Errorf("hooks.%s[%d].path %q must be absolute", g.name, i, hk.Path)
			}
			if hk.Timeout != nil && *hk.Timeout <= 0 {
				return fmt.Errorf("hooks.%s[%d].timeout must be positive", g.name, i)
			}
			// startContainer hooks run inside the container, so their path is
			// resolved there at start; every other hook runs on the host.
			if g.name == "startContainer" {
				continue
			}
			if _, err := os.Stat(hk.Path); err != nil {
				return fmt.Errorf("hooks.%s[%d].path %q does not exist", g.name, i, hk.Path)
			}
		}
	}
	return nil
}

func joinsNamespace(s *specs.Spec, t specs.LinuxNamespaceType) bool {
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == t && ns.Path != "" {
			return true
		}
	}
	return false
}
