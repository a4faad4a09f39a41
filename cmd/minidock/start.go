package main

import (
	"fmt"

	"github.com/minirunc/minirunc/dock/container"
	"github.com/urfave/cli/v3"
)

func startCommand() *cli.Command {
	return &cli.Command{
		Name:      "start",
		Usage:     "start stopped containers",
		ArgsUsage: "CONTAINER [CONTAINER...]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "attach", Aliases: []string{"a"}, Usage: "attach to the container's output"},
		},
		Action: managerAction(1, -1, func(cmd *cli.Command, m *container.Manager) error {
			if cmd.Bool("attach") {
				if cmd.Args().Len() != 1 {
					return fmt.Errorf("you cannot attach to more than one container")
				}
				c, _, err := m.Lookup(cmd.Args().First())
				if err != nil {
					return err
				}
				if c.IsActive() {
					return fmt.Errorf("container %s is already running", c.DisplayName())
				}
				return startAttached(m, c)
			}
			return forEach(cmd, func(ref string) error {
				c, _, err := m.Lookup(ref)
				if err != nil {
					return err
				}
				if c.IsActive() {
					return nil // Docker: starting a running container is a no-op
				}
				res, err := m.Start(c.ID, nil)
				if err != nil {
					return err
				}
				if res.Err != "" {
					return codeError{res.Code, fmt.Errorf("%s", res.Err)}
				}
				return nil
			})
		}),
	}
}
