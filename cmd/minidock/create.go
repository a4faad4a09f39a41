package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v3"
)

func createCommand() *cli.Command {
	return &cli.Command{
		Name:         "create",
		Usage:        "create a container",
		ArgsUsage:    "IMAGE [COMMAND] [ARG...]",
		StopOnNthArg: intp(1),
		Flags:        createFlags(),
		Action: func(_ context.Context, cmd *cli.Command) error {
			_, c, err := createContainer(cmd)
			if err != nil {
				return err
			}
			fmt.Println(c.ID)
			return nil
		},
	}
}

func intp(i int) *int { return &i }
