package main

import (
	"fmt"
	"os"

	"github.com/minirunc/minirunc/dock/container"
	"github.com/urfave/cli/v3"
)

func topCommand() *cli.Command {
	return &cli.Command{
		Name:      "top",
		Usage:     "show a container's processes (minirunc ps)",
		ArgsUsage: "CONTAINER [ps OPTIONS]",
		Action: managerAction(1, -1, func(cmd *cli.Command, m *container.Manager) error {
			c, _, err := m.Lookup(cmd.Args().First())
			if err != nil {
				return err
			}
			if !c.IsActive() {
				return fmt.Errorf("container %s is not running", c.ID)
			}
			args := append([]string{"ps", c.ID}, cmd.Args().Tail()...)
			out, err := m.RT.Run(args...)
			if err != nil {
				return err
			}
			os.Stdout.Write(out)
			return nil
		}),
	}
}
