package main

import (
	"context"

	"github.com/minirunc/minirunc/container"
	"github.com/urfave/cli/v3"
)

func resumeCommand() *cli.Command {
	return &cli.Command{
		Name:         "resume",
		Usage:        "resumes all processes that have been previously paused",
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
			return c.Resume()
		},
	}
}
