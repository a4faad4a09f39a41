package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/minirunc/minirunc/dock/container"
	"github.com/minirunc/minirunc/dock/runtime"
	"github.com/urfave/cli/v3"
)

func execCommand() *cli.Command {
	return &cli.Command{
		Name:         "exec",
		Usage:        "run a command in a running container",
		ArgsUsage:    "CONTAINER COMMAND [ARG...]",
		StopOnNthArg: intp(1),
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "interactive", Aliases: []string{"i"}, Usage: "keep stdin open"},
			&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pseudo-TTY"},
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "run in the background"},
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "uid[:gid]"},
			&cli.StringFlag{Name: "workdir", Aliases: []string{"w"}, Usage: "working directory"},
			&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "environment variables"},
			&cli.BoolFlag{Name: "privileged", Usage: "not supported", Hidden: true},
		},
		Action: managerAction(2, -1, func(cmd *cli.Command, m *container.Manager) error {
			c, _, err := m.Lookup(cmd.Args().First())
			if err != nil {
				return err
			}
			switch c.State.Status {
			case "running":
			case "paused":
				return fmt.Errorf("container %s is paused, unpause the container before exec", c.ID)
			default:
				return fmt.Errorf("container %s is not running", c.ID)
			}
			logf := filepath.Join(m.RunDir(c.ID), fmt.Sprintf("exec-%d.log", os.Getpid()))
			defer os.Remove(logf)
			args := []string{"--log", logf, "--log-format", "json", "exec"}
			if cmd.Bool("tty") {
				args = append(args, "--tty")
			}
			if cmd.Bool("detach") {
				args = append(args, "--detach")
			}
			if u := cmd.String("user"); u != "" {
				if strings.Trim(u, "0123456789:") != "" {
					return fmt.Errorf("exec -u takes numeric ids here: %q", u)
				}
				args = append(args, "--user", u)
			}
			if w := cmd.String("workdir"); w != "" {
				args = append(args, "--cwd", w)
			}
			env := append([]string{}, c.Config.Env...)
			env = append(env, cmd.StringSlice("env")...)
			for _, e := range env {
				args = append(args, "--env", e)
			}
			args = append(args, c.ID)
			args = append(args, cmd.Args().Tail()...)
			rc := m.RT.Command(args...)
			rc.Stdout, rc.Stderr = os.Stdout, os.Stderr
			if cmd.Bool("interactive") || cmd.Bool("tty") {
				rc.Stdin = os.Stdin
			}
			err = rc.Run()
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				// A start failure is in the runtime's log; otherwise the
				// code is the process's own.
				if msg := runtimeLogError(logf); msg != "" {
					return codeError{runtime.ExitCodeFor(msg), fmt.Errorf("%s", msg)}
				}
				return exitCode(ee.ExitCode())
			}
			return err
		}),
	}
}
