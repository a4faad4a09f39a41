package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v3"
)

func psCommand() *cli.Command {
	return &cli.Command{
		Name:  "ps",
		Usage: "list containers",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "show all containers (default shows running ones)"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only show IDs"},
			&cli.BoolFlag{Name: "no-trunc", Usage: "do not truncate"},
		},
		Action: func(_ context.Context, cmd *cli.Command) error {
			m, err := manager(cmd)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 8, 3, ' ', 0)
			if !cmd.Bool("quiet") {
				fmt.Fprintln(w, "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES")
			}
			now := time.Now()
			for _, c := range m.List() {
				if !cmd.Bool("all") && !c.IsActive() {
					continue
				}
				id := c.ID
				if !cmd.Bool("no-trunc") {
					id = c.ShortID()
				}
				if cmd.Bool("quiet") {
					fmt.Fprintln(w, id)
					continue
				}
				command := strings.Join(append([]string{c.Path}, c.Args...), " ")
				if !cmd.Bool("no-trunc") && len(command) > 20 {
					command = command[:19] + "…"
				}
				fmt.Fprintf(w, "%s\t%s\t%q\t%s ago\t%s\t%s\t%s\n", id, c.Config.Image, command,
					humanDur(now.Sub(c.Created)), c.StatusLine(now), portsColumn(c), c.DisplayName())
			}
			return w.Flush()
		},
	}
}
