package main

import (
	"context"

	"github.com/minirunc/minirunc/container"
	"github.com/minirunc/minirunc/signals"
	"github.com/urfave/cli/v3"
	"golang.org/x/sys/unix"
)

func killCommand() *cli.Command {
	return &cli.Command{
		Name:         "kill",
		Usage:        "kill sends the specified signal (default: SIGTERM) to the container's init process",
		ArgsUsage:    "<container-id> [signal]",
		OnUsageError: usageError,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "send the specified signal to all processes inside the container"},
		},
		Action: func(_ context.Context, cmd *cli.Command) error {
			if err := checkArgs(cmd, 1, 2); err != nil {
				return err
			}
			sig := unix.SIGTERM
			if s := cmd.Args().Get(1); s != "" {
				var err error
				if sig, err = signals.Parse(s); err != nil {
					return err
				}
			}
			c, err := container.Load(root(cmd), cmd.Args().First(), false)
			if err != nil {
				return err
			}
			defer c.Unlock()
			return c.Kill(sig, cmd.Bool("all"))
		},
	}
}
