package main

import (
	"context"

	"github.com/minirunc/minirunc/container"
	"github.com/minirunc/minirunc/logs"
	"github.com/urfave/cli/v3"
)

func startCommand() *cli.Command {
	return &cli.Command{
		Name:         "start",
		Usage:        "executes the user defined process in a created container",
		ArgsUsage:    "<container-id>",
		OnUsageError: usageError,
		Action: func(_ context.Context, cmd *cli.Command) error {
			if err := checkArgs(cmd, 1, 1); err != nil {
				return err
			}
			c, err := container.Load(root(cmd), cmd.Args().First(), true)
			if err != nil {
				return err
			}
			defer c.Unlock()
			return startLoaded(c)
		},
	}
}

func startLoaded(c *container.Container) error {
	warnings, err := c.Start()
	for _, w := range warnings {
		logs.Warn("%v", w)
	}
	return err
}
