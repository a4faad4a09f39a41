package main

import (
	"context"
	"fmt"
	"os"

	"github.com/urfave/cli/v3"
)

func topCommand() *cli.Command {
	return &cli.Command{
		Name:      "top",
		Usage:     "show a container's processes (minirunc ps)",
		ArgsUsage: "CONTAINER [ps OPTIONS]",
		Action: func(_ context.Context, cmd *cli.Command) error {
			if err := checkArgs(cmd, 1, -1); err != nil {
				return err
			}
			m, err := manager(cmd)
			if err != nil {
				return err
			}
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
		},
	}
}
