package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/minirunc/minirunc/console"
	"github.com/minirunc/minirunc/container"
	"github.com/minirunc/minirunc/specconv"
	"github.com/moby/sys/user"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v3"
	"golang.org/x/sys/unix"
)

func execCommand() *cli.Command {
	first := 1
	return &cli.Command{
		Name:         "exec",
		Usage:        "execute new process inside the container",
		ArgsUsage:    "<container-id> <command> [command options]  || -p process.json <container-id>",
		OnUsageError: usageError,
		// Flags after the command belong to the command, not to us.
		StopOnNthArg: &first,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "console-socket", Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal"},
			&cli.StringFlag{Name: "pidfd-socket", Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the exec process"},
			&cli.StringFlag{Name: "cwd", Usage: "current working directory in the container"},
			&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set environment variables"},
			&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pseudo-TTY"},
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "UID (format: <uid>[:<gid>])"},
			&cli.Int64SliceFlag{Name: "additional-gids", Aliases: []string{"g"}, Usage: "additional gids"},
			&cli.StringFlag{Name: "process", Aliases: []string{"p"}, Usage: "path to the process.json"},
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "detach from the container's process"},
			&cli.StringFlag{Name: "pid-file", Usage: "specify the file to write the process id to"},
			&cli.StringFlag{Name: "process-label", Usage: "set the asm process label for the process commonly used with selinux"},
			&cli.StringFlag{Name: "apparmor", Usage: "set the apparmor profile for the process"},
			&cli.BoolFlag{Name: "no-new-privs", Usage: "set the no new privileges value for the process"},
			&cli.StringSliceFlag{Name: "cap", Aliases: []string{"c"}, Usage: "add a capability to the bounding set for the process"},
			&cli.IntFlag{Name: "preserve-fds", Usage: "pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)"},
			&cli.StringSliceFlag{Name: "cgroup", Usage: "run the process in an (existing) sub-cgroup(s)"},
			&cli.BoolFlag{Name: "ignore-paused", Usage: "allow exec in a paused container"},
		},
		Action: runExec,
	}
}

func runExec(_ context.Context, cmd *cli.Command) error {
	flags := indexFlags(cmd)
	if cmd.Args().Len() < 1 || (flags.String("process") == "" && cmd.Args().Len() < 2) {
		return fmt.Errorf("%q requires a container id and a command (or --process)", cmd.Name)
	}
	if flags.Int("preserve-fds") < 0 {
		return errors.New("--preserve-fds must not be negative")
	}
	c, err := container.Load(root(cmd), cmd.Args().First(), false)
	if err != nil {
		return err
	}
	p, err := execProcess(cmd, flags, c)
	if err == nil && p.SelinuxLabel != "" && !selinuxEnabled() {
		err = fmt.Errorf("process.selinuxLabel %q: SELinux is not enabled on this host", p.SelinuxLabel)
	}
	if err != nil {
		c.Unlock()
		return err
	}
	detach := flags.Bool("detach")
	cs, err := console.NewSetup(p.Terminal, flags.String("console-socket"), detach)
	if err != nil {
		c.Unlock()
		return err
	}
	defer cs.Close()
	var sigs *forwarder
	if !detach {
		sigs = catchSignals()
	}
	pid, err := c.Exec(container.ExecOpts{
		Process: p, PidFile: flags.String("pid-file"), Console: cs.Child,
		PreserveFDs: int(flags.Int("preserve-fds")), IgnorePaused: flags.Bool("ignore-paused"), Cgroup: flags.StringSlice("cgroup"),
	})
	c.Unlock()
	if err != nil {
		return err
	}
	if path := flags.String("pidfd-socket"); path != "" {
		if err := sendPidfd(path, pid); err != nil {
			return err
		}
	}
	relay, err := cs.Relay()
	if err != nil {
		return err
	}
	if detach {
		return nil
	}
	code := waitForward(pid, sigs, relay != nil)
	if relay != nil {
		relay.Stop()
	}
	return exitCode(code)
}

// sendPidfd sends a pidfd of pid to the unix socket at path.
func sendPidfd(path string, pid int) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("pidfd_open: %w", err)
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	sock, err := console.Connect(path)
	if err != nil {
		return fmt.Errorf("pidfd socket: %w", err)
	}
	defer sock.Close()
	return console.SendFd(sock, f)
}

// execProcess builds the process to exec: --process as given, or the
// container's own process with the command line's changes.
func execProcess(cmd *cli.Command, flags flagIndex, c *container.Container) (*specs.Process, error) {
	if path := flags.String("process"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("process.json: %w", err)
		}
		var p specs.Process
		if err := json.Unmarshal(data, &p); err != nil {
			return nil, fmt.Errorf("process.json %s: invalid JSON: %v", path, err)
		}
		if err := specconv.ValidateProcess(&p); err != nil {
			return nil, fmt.Errorf("process.json %s: %w", path, err)
		}
		return &p, nil
	}
	base := c.ProcessSpec().Process
	p := *base
	p.Args = cmd.Args().Slice()[1:]
	p.Env = append([]string(nil), base.Env...)
	for _, e := range flags.StringSlice("env") {
		p.Env = setEnv(p.Env, e)
	}
	p.Terminal = flags.Bool("tty")
	p.ConsoleSize = nil
	if cwd := flags.String("cwd"); cwd != "" {
		p.Cwd = cwd
	}
	p.User.AdditionalGids = append([]uint32(nil), base.User.AdditionalGids...)
	if u := flags.String("user"); u != "" {
		uid, gid, err := parseUser(u, c)
		if err != nil {
			return nil, err
		}
		p.User.UID, p.User.GID = uid, gid
	}
	for _, g := range flags.Int64Slice("additional-gids") {
		if g < 0 {
			return nil, fmt.Errorf("--additional-gids %d is not a group id", g)
		}
		p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(g))
	}
	if caps := flags.StringSlice("cap"); len(caps) > 0 {
		pc := specs.LinuxCapabilities{}
		if base.Capabilities != nil {
			pc = *base.Capabilities
		}
		for _, name := range caps {
			if _, ok := specconv.Capability(name); !ok {
				return nil, fmt.Errorf("--cap %q is not a capability", name)
			}
			pc.Bounding = append(append([]string(nil), pc.Bounding...), name)
			pc.Effective = append(append([]string(nil), pc.Effective...), name)
			pc.Permitted = append(append([]string(nil), pc.Permitted...), name)
		}
		p.Capabilities = &pc
	}
	if flags.Bool("no-new-privs") {
		p.NoNewPrivileges = true
	}
	if a := flags.String("apparmor"); a != "" {
		p.ApparmorProfile = a
	}
	if l := flags.String("process-label"); l != "" {
		p.SelinuxLabel = l
	}
	if err := specconv.ValidateProcess(&p); err != nil {
		return nil, err
	}
	return &p, nil
}

// setEnv sets NAME=value in env, replacing an existing NAME.
func setEnv(env []string, kv string) []string {
	name, _, _ := strings.Cut(kv, "=")
	for i, e := range env {
		if n, _, _ := strings.Cut(e, "="); n == name {
			env[i] = kv
			return env
		}
	}
	return append(env, kv)
}

// parseUser resolves --user uid[:gid] or name[:group] against the
// container's /etc/passwd and /etc/group, read through its init's root.
func parseUser(s string, c *container.Container) (uint32, uint32, error) {
	u, g, hasGroup := strings.Cut(s, ":")
	rootDir := filepath.Join("/proc", strconv.Itoa(c.State.Pid), "root")
	// A bare uid keeps the container process's gid, as with runc.
	uid, gid := 0, int(c.ProcessSpec().Process.User.GID)
	if n, err := strconv.Atoi(u); err == nil && n >= 0 {
		uid = n
	} else {
		users, err := parseInRoot(rootDir, "etc/passwd", func(r io.Reader) ([]user.User, error) {
			return user.ParsePasswdFilter(r, func(e user.User) bool { return e.Name == u })
		})
		if err != nil || len(users) == 0 {
			return 0, 0, fmt.Errorf("--user %q: no such user in the container", u)
		}
		uid, gid = users[0].Uid, users[0].Gid
	}
	if hasGroup {
		if n, err := strconv.Atoi(g); err == nil && n >= 0 {
			gid = n
		} else {
			groups, err := parseInRoot(rootDir, "etc/group", func(r io.Reader) ([]user.Group, error) {
				return user.ParseGroupFilter(r, func(e user.Group) bool { return e.Name == g })
			})
			if err != nil || len(groups) == 0 {
				return 0, 0, fmt.Errorf("--user %q: no such group in the container", g)
			}
			gid = groups[0].Gid
		}
	}
	return uint32(uid), uint32(gid), nil
}

// parseInRoot parses the file name of the container whose root is rootDir,
// resolving symlinks inside that root: a link in the container's /etc never
// leads to a host file.
func parseInRoot[T any](rootDir, name string, parse func(io.Reader) ([]T, error)) ([]T, error) {
	root, err := os.Open(rootDir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	fd, err := unix.Openat2(int(root.Fd()), name, &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS})
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	return parse(f)
}

// selinuxEnabled reports whether selinuxfs is mounted: a label on a host
// without SELinux is refused, as runc refuses it.
func selinuxEnabled() bool {
	var st unix.Statfs_t
	return unix.Statfs("/sys/fs/selinux", &st) == nil && st.Type == unix.SELINUX_MAGIC
}
