package main

import (
	"context"

	"github.com/minirunc/minirunc/dock/monitor"
	"github.com/urfave/cli/v3"
)

// monitorCommand is the per-container monitor, started by start and run.
func monitorCommand() *cli.Command {
	return &cli.Command{
		Name:   "monitor",
		Hidden: true,
		Action: func(_ context.Context, cmd *cli.Command) error {
			if err := checkArgs(cmd, 1, 1); err != nil {
				return err
			}
			m, err := manager(cmd)
			if err != nil {
				return err
			}
			return exitCode(monitor.Run(m, cmd.Args().First()))
		},
	}
}
