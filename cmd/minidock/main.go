// Command minidock is minirunc's Docker-like front-end: images (load,
// import, pull, save, tag, rmi), containers (create, run, start, stop,
// kill, rm, ps, logs, exec, pause, inspect, wait, top, stats, cp, commit,
// export) on Docker's overlay2 layout, each container run by a small
// monitor process, with minirunc called as a binary through the OCI
// runtime CLI. Each command lives in a file of its own; the work is done
// by the dock/ packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/minirunc/minirunc/dock/container"
	"github.com/minirunc/minirunc/dock/image"
	"github.com/minirunc/minirunc/dock/network"
	"github.com/minirunc/minirunc/dock/runtime"
	"github.com/urfave/cli/v3"
)

var version = "0.1.0-dev"

// exitCode makes main exit with a code without printing anything more.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// codeError is an error with Docker's exit code for it.
type codeError struct {
	code int
	err  error
}

func (e codeError) Error() string { return e.err.Error() }

func main() {
	err := newApp().Run(context.Background(), os.Args)
	var code exitCode
	if errors.As(err, &code) {
		os.Exit(int(code))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "minidock: "+strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", " "))
		var ce codeError
		if errors.As(err, &ce) {
			os.Exit(ce.code)
		}
		os.Exit(125)
	}
}

func newApp() *cli.Command {
	app := &cli.Command{
		Name:            "minidock",
		Usage:           "a Docker-like front-end for the minirunc OCI runtime",
		Version:         version,
		HideHelpCommand: true,
		OnUsageError:    func(_ context.Context, _ *cli.Command, err error, _ bool) error { return err },
		ExitErrHandler:  func(context.Context, *cli.Command, error) {},
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "root", Value: "/var/lib/minidock", Usage: "where images, layers and containers are kept"},
			&cli.StringFlag{Name: "exec-root", Value: "/run/minidock", Usage: "run state (the runtime's state is under it)"},
			&cli.StringFlag{Name: "runtime", Usage: "the minirunc binary (default: beside minidock, then $PATH)"},
			&cli.StringFlag{Name: "cgroup-parent", Value: "/minidock", Usage: "the cgroup under which containers' cgroups are made"},
			&cli.StringFlag{Name: "bridge", Value: "minidock0", Usage: "the Linux bridge of --network bridge"},
			&cli.StringFlag{Name: "bridge-subnet", Value: "172.31.0.0/24", Usage: "the bridge's IPv4 subnet (its first address is the gateway)"},
		},
		Commands: []*cli.Command{
			importCommand(), loadCommand(), saveCommand(), pullCommand(), imagesCommand(),
			rmiCommand(), tagCommand(), inspectCommand(),
			createCommand(), runCommand(), startCommand(), psCommand(), stopCommand(),
			killCommand(), restartCommand(), rmCommand(), logsCommand(), execCommand(),
			pauseCommand(), unpauseCommand(), waitCommand(), topCommand(), monitorCommand(),
			commitCommand(), exportCommand(), cpCommand(), statsCommand(),
		},
	}
	// Docker's combined short flags: -it, -aq.
	for _, c := range app.Commands {
		c.UseShortOptionHandling = true
	}
	return app
}

// manager opens the stores of the invocation.
func manager(cmd *cli.Command) (*container.Manager, error) {
	r := cmd.Root()
	root, err := filepath.Abs(r.String("root"))
	if err != nil {
		return nil, err
	}
	execRoot, err := filepath.Abs(r.String("exec-root"))
	if err != nil {
		return nil, err
	}
	bin, err := runtime.Find(r.String("runtime"))
	if err != nil {
		return nil, err
	}
	imgs, err := image.Open(root)
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cg := r.String("cgroup-parent")
	if !strings.HasPrefix(cg, "/") {
		return nil, fmt.Errorf("--cgroup-parent must be absolute: %q", cg)
	}
	return &container.Manager{
		Root: root, ExecRoot: execRoot, CgroupParent: cg, Images: imgs,
		RT:   &runtime.Runtime{Binary: bin, Root: filepath.Join(execRoot, "runtime")},
		Self: self,
		GlobalArgs: []string{"--root", root, "--exec-root", execRoot, "--runtime", bin, "--cgroup-parent", cg,
			"--bridge", r.String("bridge"), "--bridge-subnet", r.String("bridge-subnet")},
		Net: network.Config{Bridge: r.String("bridge"), Subnet: r.String("bridge-subnet"), StateDir: filepath.Join(root, "network")},
	}, nil
}

// managerAction is the action of a command: the argument count checked
// and the stores opened before f runs.
func managerAction(min, max int, f func(cmd *cli.Command, m *container.Manager) error) cli.ActionFunc {
	return func(_ context.Context, cmd *cli.Command) error {
		if err := checkArgs(cmd, min, max); err != nil {
			return err
		}
		m, err := manager(cmd)
		if err != nil {
			return err
		}
		return f(cmd, m)
	}
}

// imagesAction is managerAction with the image store's lock held while f
// runs.
func imagesAction(min, max int, f func(cmd *cli.Command, m *container.Manager) error) cli.ActionFunc {
	return managerAction(min, max, func(cmd *cli.Command, m *container.Manager) error {
		lk, err := m.Images.Lock()
		if err != nil {
			return err
		}
		defer lk.Unlock()
		return f(cmd, m)
	})
}

// checkArgs enforces the number of positional arguments.
func checkArgs(cmd *cli.Command, min, max int) error {
	n := cmd.Args().Len()
	switch {
	case n < min:
		return fmt.Errorf("%q requires at least %d argument(s)", cmd.Name, min)
	case max >= 0 && n > max:
		return fmt.Errorf("%q requires at most %d argument(s)", cmd.Name, max)
	}
	return nil
}

// forEach runs fn on every argument, printing the argument on success
// (Docker's stop, kill, rm, pause...), and fails if any failed.
func forEach(cmd *cli.Command, fn func(ref string) error) error {
	failed := 0
	var last error
	for _, ref := range cmd.Args().Slice() {
		if err := fn(ref); err != nil {
			failed++
			last = err
			if cmd.Args().Len() > 1 {
				fmt.Fprintln(os.Stderr, "minidock: "+err.Error())
			}
			continue
		}
		fmt.Println(ref)
	}
	if failed == 1 && cmd.Args().Len() == 1 {
		return last
	}
	if failed > 0 {
		return exitCode(125)
	}
	return nil
}

// perContainer is the action of a verb applied to each CONTAINER argument
// in turn (printing each one done, as docker does).
func perContainer(fn func(m *container.Manager, cmd *cli.Command, ref string) error) cli.ActionFunc {
	return func(_ context.Context, cmd *cli.Command) error {
		if err := checkArgs(cmd, 1, -1); err != nil {
			return err
		}
		m, err := manager(cmd)
		if err != nil {
			return err
		}
		return forEach(cmd, func(ref string) error { return fn(m, cmd, ref) })
	}
}
