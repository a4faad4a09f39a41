package main

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/minirunc/minirunc/dock/container"
	"github.com/minirunc/minirunc/dock/image"
	"github.com/minirunc/minirunc/dock/spec"
	"github.com/urfave/cli/v3"
)

// createFlags are the flags of create and run.
func createFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "name", Usage: "the container's name"},
		&cli.BoolFlag{Name: "interactive", Aliases: []string{"i"}, Usage: "keep stdin open"},
		&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pseudo-TTY"},
		&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set environment variables"},
		&cli.StringSliceFlag{Name: "env-file", Usage: "read environment variables from a file (NAME=value lines)"},
		&cli.StringSliceFlag{Name: "device", Usage: "add a host device HOST[:CONTAINER[:PERMS]]"},
		&cli.BoolFlag{Name: "init", Usage: "run an init (docker-init, tini) as PID 1 that reaps and forwards signals"},
		&cli.StringFlag{Name: "workdir", Aliases: []string{"w"}, Usage: "working directory inside the container"},
		&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "user (name|uid[:group|gid])"},
		&cli.StringFlag{Name: "hostname", Aliases: []string{"h"}, Usage: "the container's hostname"},
		&cli.StringSliceFlag{Name: "volume", Aliases: []string{"v"}, Usage: "bind mount HOST:CONTAINER[:ro]"},
		&cli.StringSliceFlag{Name: "tmpfs", Usage: "a tmpfs mount PATH[:OPTIONS]"},
		&cli.BoolFlag{Name: "read-only", Usage: "mount the root filesystem read-only"},
		&cli.StringFlag{Name: "memory", Aliases: []string{"m"}, Usage: "memory limit (e.g. 64m)"},
		&cli.StringFlag{Name: "memory-swap", Usage: "memory plus swap limit (-1 unlimited)"},
		&cli.StringFlag{Name: "cpus", Usage: "number of CPUs (e.g. 0.5)"},
		&cli.Int64Flag{Name: "cpu-shares", Aliases: []string{"c"}, Usage: "CPU shares (relative weight)"},
		&cli.Int64Flag{Name: "pids-limit", Usage: "the most processes (-1 unlimited)"},
		&cli.StringFlag{Name: "network", Aliases: []string{"net"}, Value: "bridge", Usage: "network: bridge (or default), none, host, container:NAME|ID"},
		&cli.StringFlag{Name: "pid", Usage: "PID namespace: host, container:NAME|ID (default: its own)"},
		&cli.StringFlag{Name: "ipc", Usage: "IPC namespace: private (default), shareable, none, host, container:NAME|ID"},
		&cli.StringFlag{Name: "uts", Usage: "UTS namespace: host, container:NAME|ID (default: its own)"},
		&cli.StringSliceFlag{Name: "publish", Aliases: []string{"p"}, Usage: "publish a port: [HOSTIP:]HOSTPORT:PORT[/tcp|/udp] (bridge network)"},
		&cli.StringSliceFlag{Name: "cap-add", Usage: "add capabilities"},
		&cli.StringSliceFlag{Name: "cap-drop", Usage: "drop capabilities"},
		&cli.StringSliceFlag{Name: "security-opt", Usage: "seccomp=unconfined|FILE, no-new-privileges"},
		&cli.StringSliceFlag{Name: "ulimit", Usage: "NAME=SOFT[:HARD]"},
		&cli.StringSliceFlag{Name: "sysctl", Usage: "KEY=VALUE"},
		&cli.StringFlag{Name: "entrypoint", Usage: "override the image's entrypoint"},
		&cli.StringFlag{Name: "restart", Value: "no", Usage: "no, on-failure[:N], always, unless-stopped"},
		&cli.BoolFlag{Name: "rm", Usage: "remove the container when it exits"},
		&cli.StringFlag{Name: "stop-signal", Usage: "the signal that stops the container"},
		&cli.IntFlag{Name: "stop-timeout", Value: -1, Usage: "seconds to wait for a stop before SIGKILL"},
		&cli.StringSliceFlag{Name: "label", Aliases: []string{"l"}, Usage: "labels KEY=VALUE"},
	}
}

// parseSize reads 64m, 1g, 512k, 1024 (bytes).
func parseSize(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	ls := strings.ToLower(strings.TrimSuffix(strings.ToLower(s), "b"))
	mult := int64(1)
	if n := len(ls); n > 0 {
		switch ls[n-1] {
		case 'k':
			mult, ls = 1<<10, ls[:n-1]
		case 'm':
			mult, ls = 1<<20, ls[:n-1]
		case 'g':
			mult, ls = 1<<30, ls[:n-1]
		}
	}
	v, err := strconv.ParseFloat(ls, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("invalid size: %q", s)
	}
	return int64(v * float64(mult)), nil
}

// buildConfig merges the flags with the image's config.
func buildConfig(cmd *cli.Command, img *image.Image, ref string, args []string) (*container.Config, *container.HostConfig, error) {
	ic := img.Config.Config
	cfg := &container.Config{
		Hostname: cmd.String("hostname"), User: ic.User, Tty: cmd.Bool("tty"),
		OpenStdin: cmd.Bool("interactive"), StdinOnce: cmd.Bool("interactive"),
		AttachStdin: cmd.Bool("interactive"), AttachStdout: true, AttachStderr: true,
		Env: append([]string{}, ic.Env...), Cmd: ic.Cmd, Entrypoint: ic.Entrypoint,
		Image: ref, WorkingDir: ic.WorkingDir, Labels: ic.Labels, StopSignal: ic.StopSignal,
		ExposedPorts: ic.ExposedPorts, Volumes: ic.Volumes,
	}
	if len(cfg.Env) == 0 {
		cfg.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	}
	if cmd.IsSet("entrypoint") {
		cfg.Entrypoint = nil
		if e := cmd.String("entrypoint"); e != "" {
			cfg.Entrypoint = []string{e}
		}
		cfg.Cmd = nil
	}
	if len(args) > 0 {
		cfg.Cmd = args
	}
	if u := cmd.String("user"); u != "" {
		cfg.User = u
	}
	if w := cmd.String("workdir"); w != "" {
		if !strings.HasPrefix(w, "/") {
			return nil, nil, fmt.Errorf("the working directory '%s' is invalid, it needs to be an absolute path", w)
		}
		cfg.WorkingDir = w
	}
	for _, f := range cmd.StringSlice("env-file") {
		kvs, err := readEnvFile(f)
		if err != nil {
			return nil, nil, err
		}
		for _, kv := range kvs {
			k, _, _ := strings.Cut(kv, "=")
			cfg.Env = setEnv(cfg.Env, k, kv)
		}
	}
	for _, e := range cmd.StringSlice("env") {
		k, _, ok := strings.Cut(e, "=")
		if k == "" {
			return nil, nil, fmt.Errorf("invalid environment variable: %q", e)
		}
		if !ok {
			continue // Docker takes "-e K" from its own environment; not here
		}
		cfg.Env = setEnv(cfg.Env, k, e)
	}
	if len(cmd.StringSlice("label")) > 0 && cfg.Labels == nil {
		cfg.Labels = map[string]string{}
	}
	for _, l := range cmd.StringSlice("label") {
		k, v, _ := strings.Cut(l, "=")
		cfg.Labels[k] = v
	}
	if s := cmd.String("stop-signal"); s != "" {
		cfg.StopSignal = s
	}
	if t := int(cmd.Int("stop-timeout")); t >= 0 {
		cfg.StopTimeout = &t
	}
	hc := &container.HostConfig{
		Binds: cmd.StringSlice("volume"), NetworkMode: cmd.String("network"),
		AutoRemove: cmd.Bool("rm"), CapAdd: cmd.StringSlice("cap-add"), CapDrop: cmd.StringSlice("cap-drop"),
		SecurityOpt: cmd.StringSlice("security-opt"), ReadonlyRootfs: cmd.Bool("read-only"),
		CPUShares: cmd.Int64("cpu-shares"), Init: cmd.Bool("init"),
		PidMode: cmd.String("pid"), IpcMode: cmd.String("ipc"), UTSMode: cmd.String("uts"),
	}
	if hc.NetworkMode == "default" { // Docker's name for the default network
		hc.NetworkMode = "bridge"
	}
	for _, ns := range [][2]string{{"pid", hc.PidMode}, {"ipc", hc.IpcMode}, {"uts", hc.UTSMode}} {
		if err := container.CheckNamespaceMode(ns[0], ns[1]); err != nil {
			return nil, nil, err
		}
	}
	if cfg.Hostname != "" && hc.UTSMode != "" {
		return nil, nil, fmt.Errorf("conflicting options: hostname and the UTS mode")
	}
	if cfg.Hostname != "" && strings.HasPrefix(hc.NetworkMode, "container:") {
		return nil, nil, fmt.Errorf("conflicting options: hostname and the network mode")
	}
	if hc.Init {
		if _, err := container.InitBinary(); err != nil {
			return nil, nil, err
		}
	}
	for _, d := range cmd.StringSlice("device") {
		dm, err := spec.ParseDevice(d)
		if err != nil {
			return nil, nil, err
		}
		hc.Devices = append(hc.Devices, container.DeviceMapping{PathOnHost: dm.Source, PathInContainer: dm.Destination, CgroupPermissions: dm.Perms})
	}
	if err := parsePublish(hc, cmd.StringSlice("publish")); err != nil {
		return nil, nil, err
	}
	for _, b := range hc.Binds {
		if _, err := spec.ParseBind(b); err != nil {
			return nil, nil, err
		}
	}
	if ts := cmd.StringSlice("tmpfs"); len(ts) > 0 {
		hc.Tmpfs = map[string]string{}
		for _, t := range ts {
			p, o, _ := strings.Cut(t, ":")
			if !strings.HasPrefix(p, "/") {
				return nil, nil, fmt.Errorf("invalid tmpfs %q: the path must be absolute", t)
			}
			hc.Tmpfs[p] = o
		}
	}
	var err error
	if s := cmd.String("memory"); s != "" {
		if hc.Memory, err = parseSize(s); err != nil {
			return nil, nil, err
		}
		if hc.Memory > 0 && hc.Memory < 6<<20 {
			return nil, nil, fmt.Errorf("minimum memory limit allowed is 6MB")
		}
	}
	if s := cmd.String("memory-swap"); s != "" {
		if hc.MemorySwap, err = parseSize(s); err != nil {
			return nil, nil, err
		}
	}
	if s := cmd.String("cpus"); s != "" {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f <= 0 || math.IsInf(f, 0) {
			return nil, nil, fmt.Errorf("invalid value %q for --cpus", s)
		}
		hc.NanoCpus = int64(f * 1e9)
	}
	if cmd.IsSet("pids-limit") {
		v := cmd.Int64("pids-limit")
		hc.PidsLimit = &v
	}
	for _, so := range hc.SecurityOpt {
		k, v, _ := strings.Cut(so, "=")
		switch {
		case k == "no-new-privileges", k == "seccomp" && v != "":
		default:
			return nil, nil, fmt.Errorf("invalid --security-opt: %q", so)
		}
	}
	for _, u := range cmd.StringSlice("ulimit") {
		ul, err := container.ParseUlimit(u)
		if err != nil {
			return nil, nil, err
		}
		hc.Ulimits = append(hc.Ulimits, ul)
	}
	for _, s := range cmd.StringSlice("sysctl") {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return nil, nil, fmt.Errorf("invalid sysctl %q", s)
		}
		if hc.Sysctls == nil {
			hc.Sysctls = map[string]string{}
		}
		hc.Sysctls[k] = v
	}
	rp := cmd.String("restart")
	name, max, _ := strings.Cut(rp, ":")
	switch name {
	case "no", "":
	case "always", "unless-stopped", "on-failure":
		hc.RestartPolicy.Name = name
		if max != "" {
			n, err := strconv.Atoi(max)
			if err != nil || n < 0 || name != "on-failure" {
				return nil, nil, fmt.Errorf("invalid restart policy %q", rp)
			}
			hc.RestartPolicy.MaximumRetryCount = n
		}
	default:
		return nil, nil, fmt.Errorf("invalid restart policy %q", rp)
	}
	if hc.AutoRemove && hc.RestartPolicy.Name != "" {
		return nil, nil, fmt.Errorf("conflicting options: --restart and --rm")
	}
	if len(cfg.Entrypoint)+len(cfg.Cmd) == 0 {
		return nil, nil, fmt.Errorf("no command specified")
	}
	return cfg, hc, nil
}

// readEnvFile reads Docker's --env-file: NAME=value lines, # comments and
// blank lines skipped, a bare NAME taken from our own environment (and
// left out when it is not set there).
func readEnvFile(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("invalid env file: %w", err)
	}
	var out []string
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		trimmed := strings.TrimLeft(line, " \t")
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		k, _, ok := strings.Cut(trimmed, "=")
		if k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("invalid env file %s: line %d: variable %q contains whitespaces or is empty", path, i+1, k)
		}
		if ok {
			out = append(out, trimmed)
		} else if v, set := os.LookupEnv(k); set {
			out = append(out, k+"="+v)
		}
	}
	return out, nil
}

func setEnv(env []string, key, kv string) []string {
	for i, e := range env {
		if strings.HasPrefix(e, key+"=") {
			env[i] = kv
			return env
		}
	}
	return append(env, kv)
}

// createContainer is create's work, shared with run.
func createContainer(cmd *cli.Command) (*container.Manager, *container.Container, error) {
	if err := checkArgs(cmd, 1, -1); err != nil {
		return nil, nil, err
	}
	m, err := manager(cmd)
	if err != nil {
		return nil, nil, err
	}
	ref := cmd.Args().First()
	img, err := resolveImage(m, ref)
	if err != nil {
		return nil, nil, err
	}
	cfg, hc, err := buildConfig(cmd, img, ref, cmd.Args().Tail())
	if err != nil {
		return nil, nil, err
	}
	if x, ok := strings.CutPrefix(hc.NetworkMode, "container:"); ok {
		xc, _, err := m.Lookup(x)
		if err != nil {
			return nil, nil, err
		}
		hc.NetworkMode = "container:" + xc.ID
	}
	// run starts at once: a namespace to join must be there now, before
	// anything is made.
	if err := m.ResolveNamespaceModes(hc, cmd.Name == "run"); err != nil {
		return nil, nil, err
	}
	c, err := m.Create(cmd.String("name"), img, cfg, hc)
	if err != nil {
		return nil, nil, err
	}
	if c.Config.Hostname == "" && hc.UTSMode == "" {
		c, err = m.Update(c.ID, func(c *container.Container) error {
			c.Config.Hostname = c.ShortID()
			return nil
		})
	}
	return m, c, err
}
