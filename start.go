package main

import (
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
		Action:       lockedAction(startLoaded),
	}
}

func startLoaded(c *container.Container) error {
	warnings, err := c.Start()
	for _, w := range warnings {
		logs.Warn("%v", w)
	}
	return err
}
