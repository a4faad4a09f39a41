package main

import (
	"github.com/minirunc/minirunc/dock/container"
	"github.com/minirunc/minirunc/dock/monitor"
	"github.com/urfave/cli/v3"
)

// monitorCommand is the per-container monitor, started by start and run.
func monitorCommand() *cli.Command {
	return &cli.Command{
		Name:   "monitor",
		Hidden: true,
		Action: managerAction(1, 1, func(cmd *cli.Command, m *container.Manager) error {
			return exitCode(monitor.Run(m, cmd.Args().First()))
		}),
	}
}
