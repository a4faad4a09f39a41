package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/minirunc/minirunc/container"
	"github.com/urfave/cli/v3"
)

func stateCommand() *cli.Command {
	return &cli.Command{
		Name:         "state",
		Usage:        "output the state of a container",
		ArgsUsage:    "<container-id>",
		OnUsageError: usageError,
		Action: func(_ context.Context, cmd *cli.Command) error {
			if err := checkArgs(cmd, 1, 1); err != nil {
				return err
			}
			c, err := container.Load(root(cmd), cmd.Args().First(), false)
			if err != nil {
				return err
			}
			defer c.Unlock()
			data, err := json.MarshalIndent(c.OCI(), "", "  ")
			if err != nil {
				return err
			}
			fmt.Println(string(data))
			return nil
		},
	}
}
