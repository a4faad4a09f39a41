package container

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/minirunc/minirunc/dock/layer"
	"golang.org/x/sys/unix"
)

// Namespace kinds of --pid, --ipc and --uts, as Docker names them in its
// errors, with the /proc/<pid>/ns entry each one joins.
var nsKinds = map[string]struct{ flag, name, proc string }{
	"pid": {"--pid", "PID", "pid"},
	"ipc": {"--ipc", "IPC", "ipc"},
	"uts": {"--uts", "UTS", "uts"},
}

// CheckNamespaceMode validates --pid, --ipc or --uts (kind "pid", "ipc",
// "uts"): "" (a namespace of its own), host, container:NAME|ID; --ipc also
// takes Docker's private, shareable and none.
func CheckNamespaceMode(kind, mode string) error {
	k := nsKinds[kind]
	switch {
	case mode == "", mode == "host":
		return nil
	case kind == "ipc" && (mode == "private" || mode == "shareable" || mode == "none"):
		return nil
	case strings.HasPrefix(mode, "container:") && len(mode) > len("container:"):
		return nil
	}
	valid := "host or container:NAME|ID"
	if kind == "ipc" {
		valid = "private, shareable, none, host or container:NAME|ID"
	}
	return fmt.Errorf("%s: invalid %s mode %q (%s)", k.flag, k.name, mode, valid)
}

// ResolveNamespaceModes turns every container:NAME of --pid, --ipc and
// --uts into container:ID; with running set, the container must also be
// running now (run checks it before anything is made).
func (m *Manager) ResolveNamespaceModes(hc *HostConfig, running bool) error {
	for _, f := range []struct {
		kind string
		mode *string
	}{{"pid", &hc.PidMode}, {"ipc", &hc.IpcMode}, {"uts", &hc.UTSMode}} {
		if err := CheckNamespaceMode(f.kind, *f.mode); err != nil {
			return err
		}
		ref, ok := strings.CutPrefix(*f.mode, "container:")
		if !ok {
			continue
		}
		x, xhc, err := m.Lookup(ref)
		if err != nil {
			return fmt.Errorf("%s: %w", nsKinds[f.kind].flag, err)
		}
		if running {
			if _, err := m.joinTarget(f.kind, *f.mode, ""); err != nil {
				return err
			}
			if f.kind == "ipc" {
				if err := shareableIPC(x, xhc, ref); err != nil {
					return err
				}
			}
		}
		*f.mode = "container:" + x.ID
	}
	return nil
}

// joinTarget is the running container whose namespace of kind a
// container:ID mode joins.
func (m *Manager) joinTarget(kind, mode, selfID string) (*Container, error) {
	k := nsKinds[kind]
	ref := strings.TrimPrefix(mode, "container:")
	x, _, err := m.Lookup(ref)
	if err != nil {
		return nil, fmt.Errorf("cannot join the %s namespace of container %s: %w", k.name, ref, err)
	}
	if x.ID == selfID {
		return nil, fmt.Errorf("cannot join the %s namespace of the container itself", k.name)
	}
	if x = m.Reconcile(x); x == nil || !x.IsActive() || x.State.Restarting || x.State.Pid <= 0 {
		return nil, fmt.Errorf("cannot join the %s namespace of container %s: container %s is not running", k.name, shortRef(ref), shortRef(ref))
	}
	return x, nil
}

// shortRef shows a 64-hex ID as its short form, names as they are.
func shortRef(ref string) string {
	if idRE.MatchString(ref) {
		return ref[:12]
	}
	return ref
}

// shareableIPC checks that x's IPC can be joined, as Docker: x's /dev/shm
// must be shareable (--ipc shareable or host).
func shareableIPC(x *Container, xhc *HostConfig, ref string) error {
	if xhc.IpcMode != "shareable" && xhc.IpcMode != "host" && !strings.HasPrefix(xhc.IpcMode, "container:") {
		return fmt.Errorf("cannot join the IPC namespace of container %s: non-shareable IPC (hint: use --ipc shareable for the donor container)", shortRef(ref))
	}
	return nil
}

// namespaces works out the spec's PID, IPC and UTS namespaces of a start:
// "" a new one, "host" none, or the /proc/<pid>/ns path of the container
// joined; the /dev/shm source ("" a tmpfs of its own, "none", or a host
// dir to bind); and the hostname that /etc/hostname shows.
func (m *Manager) namespaces(c *Container, hc *HostConfig, hostname string) (ns nsSetup, err error) {
	ns.hostname = hostname
	for _, f := range []struct {
		kind, mode string
		out        *string
	}{{"pid", hc.PidMode, &ns.pid}, {"ipc", hc.IpcMode, &ns.ipc}, {"uts", hc.UTSMode, &ns.uts}} {
		switch {
		case f.mode == "host":
			*f.out = "host"
		case strings.HasPrefix(f.mode, "container:"):
			x, err := m.joinTarget(f.kind, f.mode, c.ID)
			if err != nil {
				return ns, err
			}
			*f.out = fmt.Sprintf("/proc/%d/ns/%s", x.State.Pid, nsKinds[f.kind].proc)
			switch f.kind {
			case "ipc":
				_, xhc, err := m.Load(x.ID)
				if err != nil {
					return ns, err
				}
				if err := shareableIPC(x, xhc, x.ID); err != nil {
					return ns, err
				}
				if x.ShmPath == "" {
					return ns, fmt.Errorf("cannot join the IPC namespace of container %s: its /dev/shm is gone", x.ShortID())
				}
				ns.shm = x.ShmPath
			case "uts":
				ns.hostname = x.Config.Hostname
				if b, err := os.ReadFile(x.HostnamePath); err == nil {
					ns.hostname = strings.TrimSpace(string(b))
				}
			}
		}
	}
	switch hc.IpcMode {
	case "none":
		ns.shm = "none"
	case "host":
		if st, err := os.Stat("/dev/shm"); err != nil || !st.IsDir() {
			return ns, fmt.Errorf("/dev/shm is not mounted, but must be for --ipc=host")
		}
		ns.shm = "/dev/shm"
	case "shareable":
		if ns.shm, err = m.mountShm(c); err != nil {
			return ns, err
		}
	}
	if hc.UTSMode == "host" {
		ns.hostname, _ = os.Hostname()
	}
	return ns, nil
}

// nsSetup is what namespaces works out.
type nsSetup struct {
	pid, ipc, uts string
	shm           string
	hostname      string
}

// ShmDir is where a shareable container's /dev/shm tmpfs is mounted on
// the host while it runs, so that --ipc container:X can bind the same one
// (Docker's containers/<id>/mounts/shm).
func (m *Manager) ShmDir(id string) string { return filepath.Join(m.RunDir(id), "shm") }

// mountShm mounts the container's /dev/shm tmpfs on the host, with
// Docker's default size and options.
func (m *Manager) mountShm(c *Container) (string, error) {
	dir := m.ShmDir(c.ID)
	if layer.Mounted(dir) {
		return dir, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	if err := unix.Mount("shm", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=1777,size=67108864"); err != nil {
		return "", fmt.Errorf("mount the container's /dev/shm: %w", err)
	}
	return dir, nil
}

// unmountShm removes what mountShm made. Safe to repeat.
func (m *Manager) unmountShm(id string) {
	dir := m.ShmDir(id)
	if layer.Mounted(dir) {
		unix.Unmount(dir, unix.MNT_DETACH)
	}
	os.Remove(dir)
}
