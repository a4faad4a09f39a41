package main

import (
	"context"
	"errors"

	"github.com/minirunc/minirunc/container"
	"github.com/minirunc/minirunc/logs"
	"github.com/urfave/cli/v3"
)

func deleteCommand() *cli.Command {
	return &cli.Command{
		Name:         "delete",
		Aliases:      []string{"del", "rm"},
		Usage:        "delete any resources held by the container often used with detached container",
		ArgsUsage:    "<container-id>",
		OnUsageError: usageError,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "forcibly deletes the container if it is still running (uses SIGKILL)"},
		},
		Action: func(_ context.Context, cmd *cli.Command) error {
			if err := checkArgs(cmd, 1, 1); err != nil {
				return err
			}
			return deleteByID(cmd, cmd.Args().First(), cmd.Bool("force"))
		},
	}
}

func deleteByID(cmd *cli.Command, id string, force bool) error {
	c, err := container.Load(root(cmd), id, true)
	if err != nil {
		if errors.Is(err, container.ErrNotExist) {
			// Gone already (containerd deletes twice), or a create that
			// died before writing its state, or a delete that died while
			// removing it: remove what is left. Without --force the
			// container still does not exist, as the caller is told.
			if rerr := container.RemoveStale(root(cmd), id); rerr != nil || force {
				return rerr
			}
		}
		return err
	}
	warnings, err := c.Delete(force)
	for _, w := range warnings {
		logs.Warn("%v", w)
	}
	c.Unlock()
	return err
}
