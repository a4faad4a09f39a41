package main

import (
	"github.com/minirunc/minirunc/container"
	"github.com/urfave/cli/v3"
)

func resumeCommand() *cli.Command {
	return &cli.Command{
		Name:         "resume",
		Usage:        "resumes all processes that have been previously paused",
		ArgsUsage:    "<container-id>",
		OnUsageError: usageError,
		Action:       lockedAction((*container.Container).Resume),
	}
}
