package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/minirunc/minirunc/dock/fsutil"
	"github.com/minirunc/minirunc/dock/image"
	"github.com/minirunc/minirunc/dock/layer"
	"github.com/minirunc/minirunc/dock/spec"
)

// Create makes a container of img: its init and read-write layers (not
// mounted), config.v2.json and hostconfig.json. name "" picks one.
func (m *Manager) Create(name string, img *image.Image, cfg *Config, hc *HostConfig) (c *Container, err error) {
	if name != "" && !nameRE.MatchString(name) {
		return nil, fmt.Errorf("invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
	}
	for _, b := range hc.Binds {
		if _, err := spec.ParseBind(b); err != nil {
			return nil, err
		}
	}
	if _, err := spec.Caps(hc.CapAdd, hc.CapDrop); err != nil {
		return nil, err
	}
	lk, err := m.Images.Lock()
	if err != nil {
		return nil, err
	}
	defer lk.Unlock()
	if name == "" {
		for name = randomName(); m.nameInUse("/"+name) != ""; name = randomName() {
		}
	}
	name = "/" + strings.TrimPrefix(name, "/")
	if other := m.nameInUse(name); other != "" {
		return nil, fmt.Errorf("conflict: the container name %q is already in use by container %q: remove (or rename) that container to reuse the name", name, other)
	}
	id := layerRandomID()
	mr, err := m.Images.CreateRW(id, img)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			m.Images.RemoveRW(id)
		}
	}()
	args := append(append([]string{}, cfg.Entrypoint...), cfg.Cmd...)
	if len(args) == 0 {
		return nil, fmt.Errorf("no command specified")
	}
	c = &Container{
		ID: id, Created: time.Now().UTC(), Path: args[0], Args: args[1:], Config: cfg,
		State: State{Status: Created}, Image: img.ID, Name: name, Driver: "overlay2",
		MountID: mr.MountID,
	}
	dir := m.Dir(id)
	c.LogPath = filepath.Join(dir, id+"-json.log")
	c.HostnamePath = filepath.Join(dir, "hostname")
	c.HostsPath = filepath.Join(dir, "hosts")
	c.ResolvConfPath = filepath.Join(dir, "resolv.conf")
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".tmp-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := fsutil.WriteJSON(filepath.Join(tmp, "config.v2.json"), c); err != nil {
		return nil, err
	}
	if err := fsutil.WriteJSON(filepath.Join(tmp, "hostconfig.json"), hc); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return nil, err
	}
	return c, nil
}

func layerRandomID() string { return layer.RandomID() }

// Prepare mounts the container's overlay, writes its hostname, hosts and
// resolv.conf, and writes the OCI bundle's config.json. It returns the
// bundle dir.
func (m *Manager) Prepare(c *Container, hc *HostConfig) (string, error) {
	merged := m.MergedDir(c)
	if !layer.Mounted(merged) {
		if err := m.Images.Driver.Mount(c.MountID, merged); err != nil {
			return "", err
		}
	}
	netMode, err := m.setupNetwork(c, hc)
	if err != nil {
		return "", err
	}
	hostname := c.Config.Hostname
	if hc.NetworkMode == "host" {
		hostname, _ = os.Hostname()
	}
	ns, err := m.namespaces(c, hc, hostname)
	if err != nil {
		return "", err
	}
	if ns.shm != c.ShmPath && ns.shm != "none" {
		c.ShmPath = ns.shm
		if _, err := m.Update(c.ID, func(cur *Container) error { cur.ShmPath = ns.shm; return nil }); err != nil {
			return "", err
		}
	}
	hostname = ns.hostname
	if err := os.WriteFile(c.HostnamePath, []byte(hostname+"\n"), 0o644); err != nil {
		return "", err
	}
	hosts := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
	if hc.NetworkMode == "host" {
		if b, err := os.ReadFile("/etc/hosts"); err == nil {
			hosts = string(b)
		}
	}
	if hc.NetworkMode == "bridge" {
		hosts += hostsEntry(c)
	}
	if err := os.WriteFile(c.HostsPath, []byte(hosts), 0o644); err != nil {
		return "", err
	}
	resolv := resolvConf()
	if hc.NetworkMode == "host" {
		// The host's own, loopback nameservers too: they answer here.
		if b, err := os.ReadFile("/etc/resolv.conf"); err == nil {
			resolv = b
		}
	}
	if err := os.WriteFile(c.ResolvConfPath, resolv, 0o644); err != nil {
		return "", err
	}
	o := &spec.Options{
		ID: c.ID, Rootfs: merged, Hostname: hostname,
		Args: append([]string{c.Path}, c.Args...), Env: c.Config.Env, Cwd: c.Config.WorkingDir,
		User: c.Config.User, Tty: c.Config.Tty, OpenStdin: c.Config.OpenStdin,
		ReadOnly: hc.ReadonlyRootfs, CapAdd: hc.CapAdd, CapDrop: hc.CapDrop,
		Tmpfs: hc.Tmpfs, Memory: hc.Memory, MemorySwap: hc.MemorySwap,
		NanoCPUs: hc.NanoCpus, CPUShares: hc.CPUShares, NetworkMode: netMode,
		HostsPath: c.HostsPath, HostnamePath: c.HostnamePath, ResolvConfPath: c.ResolvConfPath,
		CgroupsPath: filepath.Join(m.CgroupParent, c.ID), Sysctls: hc.Sysctls,
		PidNS: ns.pid, IpcNS: ns.ipc, UTSNS: ns.uts, Shm: ns.shm,
	}
	if hc.PidsLimit != nil {
		o.PidsLimit = *hc.PidsLimit
	}
	for _, b := range hc.Binds {
		pb, err := spec.ParseBind(b)
		if err != nil {
			return "", err
		}
		o.Binds = append(o.Binds, pb)
	}
	for _, so := range hc.SecurityOpt {
		k, v, _ := strings.Cut(so, "=")
		switch {
		case k == "no-new-privileges" && (v == "" || v == "true"):
			o.NoNewPrivileges = true
		case k == "seccomp" && v == "unconfined":
			o.Seccomp = "unconfined"
		case k == "seccomp":
			b, err := os.ReadFile(v)
			if err != nil {
				return "", fmt.Errorf("opening seccomp profile (%s) failed: %w", v, err)
			}
			o.Seccomp = string(b)
		}
	}
	for _, u := range hc.Ulimits {
		o.Ulimits = append(o.Ulimits, ulimitSpec(u))
	}
	for _, d := range hc.Devices {
		o.Devices = append(o.Devices, spec.Device{Source: d.PathOnHost, Destination: d.PathInContainer, Perms: d.CgroupPermissions})
	}
	if hc.Init {
		if o.InitPath, err = InitBinary(); err != nil {
			return "", err
		}
	}
	s, err := spec.Generate(o)
	if err != nil {
		return "", err
	}
	data, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		return "", err
	}
	b := m.BundleDir(c.ID)
	if err := os.MkdirAll(b, 0o700); err != nil {
		return "", err
	}
	return b, fsutil.WriteFile(filepath.Join(b, "config.json"), data, 0o600)
}

// InitBinary is --init's binary on the host: Debian's static tini.
func InitBinary() (string, error) {
	for _, p := range []string{"/usr/bin/tini-static", "/usr/bin/docker-init"} {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("--init: no init binary found (install Debian's tini: /usr/bin/tini-static)")
}

// resolvConf is the host's resolv.conf without loopback nameservers
// (they do not answer inside a network namespace), or Google's.
func resolvConf() []byte {
	data, _ := os.ReadFile("/etc/resolv.conf")
	var out []string
	ns := 0
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			if strings.HasPrefix(f[1], "127.") || f[1] == "::1" {
				continue
			}
			ns++
		}
		if strings.TrimSpace(line) != "" {
			out = append(out, line)
		}
	}
	if ns == 0 {
		out = append(out, "nameserver 8.8.8.8", "nameserver 8.8.4.4")
	}
	return []byte(strings.Join(out, "\n") + "\n")
}

// Teardown removes what a run left: the runtime's container and the mount.
func (m *Manager) Teardown(c *Container) {
	if m.RT.Exists(c.ID) {
		m.RT.Delete(c.ID, true)
	}
	layer.Unmount(m.MergedDir(c))
	m.unmountShm(c.ID)
	m.teardownNetwork(c)
}

// StartResult is what the monitor reports once the process runs.
type StartResult struct {
	Pid  int
	Code int    // Docker's exit code when it failed
	Err  string // the failure
}

// Start starts the container's monitor, which runs it; attach, when not
// nil, is handed to the monitor as the client's end of the stream.
func (m *Manager) Start(id string, attach *os.File) (*StartResult, error) {
	c, _, err := m.Lookup(id)
	if err != nil {
		return nil, err
	}
	if c.IsActive() {
		return nil, fmt.Errorf("container %s is already running", c.DisplayName())
	}
	// What a killed earlier start may have left.
	m.Teardown(c)
	if err := os.MkdirAll(m.RunDir(c.ID), 0o700); err != nil {
		return nil, err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer pr.Close()
	logf, err := os.OpenFile(filepath.Join(m.RunDir(c.ID), "monitor.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		pw.Close()
		return nil, err
	}
	defer logf.Close()
	args := append(append([]string{}, m.GlobalArgs...), "monitor", c.ID)
	cmd := exec.Command(m.Self, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{pw}
	if attach != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, attach)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = "/"
	if err := cmd.Start(); err != nil {
		pw.Close()
		return nil, err
	}
	pw.Close()
	cmd.Process.Release()
	data, _ := readAll(pr)
	var res StartResult
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, fmt.Errorf("the container's monitor failed: see %s", filepath.Join(m.RunDir(c.ID), "monitor.log"))
	}
	return &res, nil
}

func readAll(f *os.File) ([]byte, error) {
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := f.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return out, nil
		}
	}
}

// WaitInactive waits until the container is no longer active (the
// monitor recorded its end) or timeout passes.
func (m *Manager) WaitInactive(id string, timeout time.Duration) (*Container, bool) {
	deadline := time.Now().Add(timeout)
	for {
		c, _, err := m.Load(id)
		if err != nil {
			return nil, true // removed (--rm)
		}
		if c = m.Reconcile(c); c == nil {
			return nil, true
		}
		if !c.IsActive() {
			return c, true
		}
		if timeout >= 0 && time.Now().After(deadline) {
			return c, false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop sends the stop signal, waits timeout, then SIGKILL, and waits for
// the monitor to record the end.
func (m *Manager) Stop(ref string, timeout time.Duration, signal string) error {
	c, _, err := m.Lookup(ref)
	if err != nil {
		return err
	}
	if !c.IsActive() {
		return nil
	}
	if _, err := m.Update(c.ID, func(c *Container) error { c.HasBeenManuallyStopped = true; return nil }); err != nil {
		return err
	}
	if signal == "" {
		signal = c.Config.StopSignal
	}
	if signal == "" {
		signal = "SIGTERM"
	}
	if c.State.Status != Restarting {
		m.RT.Kill(c.ID, signal, false)
		if c.State.Status == Paused {
			m.RT.Run("resume", c.ID)
		}
		if _, done := m.WaitInactive(c.ID, timeout); done {
			return nil
		}
	}
	m.RT.Kill(c.ID, "SIGKILL", false)
	if c.State.Status == Paused {
		m.RT.Run("resume", c.ID)
	}
	if _, done := m.WaitInactive(c.ID, 30*time.Second); !done {
		return fmt.Errorf("container %s did not stop", c.DisplayName())
	}
	return nil
}

// Kill sends one signal to a running container.
func (m *Manager) Kill(ref, signal string) error {
	c, _, err := m.Lookup(ref)
	if err != nil {
		return err
	}
	if !c.IsActive() {
		return fmt.Errorf("cannot kill container: %s: container %s is not running", ref, c.ID)
	}
	if signal == "" {
		signal = "SIGKILL"
	}
	if _, err := m.Update(c.ID, func(c *Container) error { c.HasBeenManuallyStopped = true; return nil }); err != nil {
		return err
	}
	if err := m.RT.Kill(c.ID, signal, false); err != nil {
		return fmt.Errorf("cannot kill container: %s: %v", ref, err)
	}
	return nil
}

// Pause freezes a running container; Unpause thaws it.
func (m *Manager) Pause(ref string, pause bool) error {
	c, _, err := m.Lookup(ref)
	if err != nil {
		return err
	}
	if pause && c.State.Status != Running {
		return fmt.Errorf("container %s is not running", c.ID)
	}
	if !pause && c.State.Status != Paused {
		return fmt.Errorf("container %s is not paused", c.ID)
	}
	l, err := m.Lock(c.ID)
	if err != nil {
		return err
	}
	defer l.Unlock()
	verb, status := "pause", Paused
	if !pause {
		verb, status = "resume", Running
	}
	if _, err := m.RT.Run(verb, c.ID); err != nil {
		return err
	}
	c, _, err = m.Load(c.ID)
	if err != nil {
		return err
	}
	if c.IsActive() {
		c.State.Status, c.State.Paused = status, pause
	}
	return m.Save(c)
}

// Remove is rm: a running container only with force (killed first).
func (m *Manager) Remove(ref string, force bool) error {
	c, _, err := m.Lookup(ref)
	if err != nil {
		return err
	}
	if c.IsActive() {
		if !force {
			return fmt.Errorf("you cannot remove a %s container %s. Stop the container before attempting removal or force remove", c.State.Status, c.ID)
		}
		if err := m.Stop(c.ID, 0, "SIGKILL"); err != nil {
			return err
		}
	}
	return m.Destroy(c.ID)
}

// Destroy removes a stopped container: its runtime leftovers, mount,
// layers, dirs. Also the monitor's --rm.
func (m *Manager) Destroy(id string) error {
	cl, err := m.Lock(id)
	if err != nil {
		return err
	}
	defer cl.Unlock()
	c, _, err := m.Load(id)
	if err != nil {
		return err
	}
	m.Teardown(c)
	lk, err := m.Images.Lock()
	if err != nil {
		return err
	}
	defer lk.Unlock()
	// The container dir goes first (renamed away): a crash after it
	// leaves layers that GC finds unreferenced.
	gone := filepath.Join(m.Root, "containers", ".del-"+id)
	if err := os.Rename(m.Dir(id), gone); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	os.RemoveAll(gone)
	if err := m.Images.RemoveRW(id); err != nil {
		return err
	}
	os.RemoveAll(m.RunDir(id))
	os.Remove(filepath.Join(m.Root, "containers", ".locks", id))
	return nil
}

// Reconcile repairs a container whose monitor died: the runtime's
// container is killed and deleted, the overlay unmounted, and the state
// becomes exited with what is known. It returns the container as it is
// now, or nil when it is gone.
func (m *Manager) Reconcile(c *Container) *Container {
	if !c.IsActive() || c.MonitorAlive() {
		return c
	}
	l, err := m.Lock(c.ID)
	if err != nil {
		return c
	}
	defer l.Unlock()
	c, _, err = m.Load(c.ID)
	if err != nil {
		return nil
	}
	if !c.IsActive() || c.MonitorAlive() {
		return c
	}
	code := 255
	if st, err := m.RT.State(c.ID); err == nil && (st.Status == "running" || st.Status == "paused") {
		code = 137 // it is killed now
	}
	m.Teardown(c)
	c.State = State{Status: Exited, ExitCode: code, Error: "the container's monitor died",
		StartedAt: c.State.StartedAt, FinishedAt: time.Now().UTC()}
	m.Save(c)
	return c
}

func ulimitSpec(u Ulimit) (r specRlimit) {
	return specRlimit{Type: "RLIMIT_" + strings.ToUpper(u.Name), Soft: uint64(u.Soft), Hard: uint64(u.Hard)}
}

// ParseUlimit parses NAME=SOFT[:HARD].
func ParseUlimit(s string) (Ulimit, error) {
	n, v, ok := strings.Cut(s, "=")
	if !ok {
		return Ulimit{}, fmt.Errorf("invalid ulimit argument: %s", s)
	}
	soft, hard, hasHard := strings.Cut(v, ":")
	sv, err := strconv.ParseInt(soft, 10, 64)
	if err != nil {
		return Ulimit{}, fmt.Errorf("invalid ulimit argument: %s", s)
	}
	hv := sv
	if hasHard {
		if hv, err = strconv.ParseInt(hard, 10, 64); err != nil {
			return Ulimit{}, fmt.Errorf("invalid ulimit argument: %s", s)
		}
	}
	return Ulimit{Name: n, Soft: sv, Hard: hv}, nil
}
