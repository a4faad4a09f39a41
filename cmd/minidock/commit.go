package main

import (
	"fmt"

	"github.com/minirunc/minirunc/dock/container"
	"github.com/urfave/cli/v3"
)

func commitCommand() *cli.Command {
	return &cli.Command{
		Name:      "commit",
		Usage:     "make an image of a container's changes",
		ArgsUsage: "CONTAINER [REPOSITORY[:TAG]]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "message", Aliases: []string{"m"}, Usage: "the history comment"},
			&cli.StringFlag{Name: "author", Aliases: []string{"a"}, Usage: "the author"},
			&cli.StringSliceFlag{Name: "change", Aliases: []string{"c"}, Usage: "a Dockerfile instruction for the config (CMD, ENV, ...)"},
			&cli.BoolFlag{Name: "pause", Aliases: []string{"p"}, Value: true, Usage: "pause the container while its layer is read"},
		},
		Action: managerAction(1, 2, func(cmd *cli.Command, m *container.Manager) error {
			id, err := m.Commit(cmd.Args().Get(0), container.CommitOptions{
				Ref: cmd.Args().Get(1), Comment: cmd.String("message"), Author: cmd.String("author"),
				Changes: cmd.StringSlice("change"), Pause: cmd.Bool("pause"),
			})
			if err != nil {
				return err
			}
			fmt.Println(id)
			return nil
		}),
	}
}
