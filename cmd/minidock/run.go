package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v3"
)

func runCommand() *cli.Command {
	return &cli.Command{
		Name:         "run",
		Usage:        "create and start a container",
		ArgsUsage:    "IMAGE [COMMAND] [ARG...]",
		StopOnNthArg: intp(1),
		Flags: append(createFlags(),
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "run in the background and print the ID"}),
		Action: func(_ context.Context, cmd *cli.Command) error {
			m, c, err := createContainer(cmd)
			if err != nil {
				return err
			}
			if !cmd.Bool("detach") {
				return startAttached(m, c)
			}
			res, err := m.Start(c.ID, nil)
			if err != nil {
				return err
			}
			if res.Err != "" {
				return codeError{res.Code, fmt.Errorf("%s", res.Err)}
			}
			fmt.Println(c.ID)
			return nil
		},
	}
}
