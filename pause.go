package main

import (
	"github.com/minirunc/minirunc/container"
	"github.com/urfave/cli/v3"
)

func pauseCommand() *cli.Command {
	return &cli.Command{
		Name:         "pause",
		Usage:        "pause suspends all processes inside the container",
		ArgsUsage:    "<container-id>",
		OnUsageError: usageError,
		Action:       lockedAction((*container.Container).Pause),
	}
}
