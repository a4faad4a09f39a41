package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/minirunc/minirunc/console"
	"github.com/minirunc/minirunc/container"
	"github.com/minirunc/minirunc/specconv"
	"github.com/urfave/cli/v3"
)

func createFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "path to the root of the bundle directory, defaults to the current directory"},
		&cli.StringFlag{Name: "console-socket", Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal"},
		&cli.StringFlag{Name: "pid-file", Usage: "specify the file to write the process id to"},
		&cli.BoolFlag{Name: "no-pivot", Usage: "do not use pivot root to jail process inside rootfs"},
		&cli.BoolFlag{Name: "no-new-keyring", Usage: "do not create a new session keyring for the container"},
		&cli.IntFlag{Name: "preserve-fds", Usage: "pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)"},
		&cli.StringFlag{Name: "pidfd-socket", Hidden: true},
	}
}

func createCommand() *cli.Command {
	return &cli.Command{
		Name:         "create",
		Usage:        "create a container",
		ArgsUsage:    "<container-id>",
		OnUsageError: usageError,
		Flags:        createFlags(),
		Action: func(_ context.Context, cmd *cli.Command) error {
			if err := checkArgs(cmd, 1, 1); err != nil {
				return err
			}
			c, _, err := createContainer(cmd, true)
			if err != nil {
				return err
			}
			c.Unlock()
			return nil
		},
	}
}

// createContainer is create's work, shared with run. For a foreground run
// with a terminal, the returned relay carries the pty to the caller.
func createContainer(cmd *cli.Command, detach bool) (*container.Container, *console.Relay, error) {
	flags := indexFlags(cmd)
	id := cmd.Args().First()
	if err := specconv.ValidateID(id); err != nil {
		return nil, nil, err
	}
	b, err := specconv.LoadBundle(flags.String("bundle"))
	if err != nil {
		return nil, nil, err
	}
	if flags.Int("preserve-fds") < 0 {
		return nil, nil, errors.New("--preserve-fds must not be negative")
	}
	// As with exec: a label the host cannot apply is an error, not dropped.
	if l := b.Spec.Process.SelinuxLabel; l != "" && !selinuxEnabled() {
		return nil, nil, fmt.Errorf("config.json: process.selinuxLabel %q: SELinux is not enabled on this host", l)
	}
	cs, err := console.NewSetup(b.Spec.Process.Terminal, flags.String("console-socket"), detach)
	if err != nil {
		return nil, nil, err
	}
	defer cs.Close()
	c, err := container.Create(container.CreateOpts{
		Root: root(cmd), ID: id, Bundle: b,
		PidFile: flags.String("pid-file"), Console: cs.Child,
		NoPivot: flags.Bool("no-pivot"), NoNewKeyring: flags.Bool("no-new-keyring"),
		PreserveFDs: int(flags.Int("preserve-fds")),
		// A foreground run's container dies with the run (see run.go).
		DieWithParent: !detach,
	})
	if err != nil {
		return nil, nil, err
	}
	relay, err := cs.Relay()
	if err != nil {
		_, _ = c.Delete(true)
		c.Unlock()
		return nil, nil, err
	}
	return c, relay, nil
}
