package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/minirunc/minirunc/container"
	"github.com/moby/sys/user"
	"github.com/urfave/cli/v3"
	"golang.org/x/sys/unix"
)

func listCommand() *cli.Command {
	return &cli.Command{
		Name:         "list",
		Aliases:      []string{"ls"},
		Usage:        "lists containers started by minirunc with the given root",
		OnUsageError: usageError,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "select one of: table or json"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "display only container IDs"},
		},
		Action: func(_ context.Context, cmd *cli.Command) error {
			if err := checkArgs(cmd, 0, 0); err != nil {
				return err
			}
			cs, err := container.List(root(cmd))
			if err != nil {
				return err
			}
			var states []container.OCIState
			for _, c := range cs {
				s := c.OCI()
				s.Owner = dirOwner(c.Dir)
				states = append(states, s)
			}
			if cmd.Bool("quiet") {
				for _, s := range states {
					fmt.Println(s.ID)
				}
				return nil
			}
			switch cmd.String("format") {
			case "table":
				w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
				fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
				for _, s := range states {
					fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle, s.Created.Format(time.RFC3339Nano), s.Owner)
				}
				return w.Flush()
			case "json":
				return json.NewEncoder(os.Stdout).Encode(states)
			default:
				return fmt.Errorf("invalid format option %q: must be table or json", cmd.String("format"))
			}
		},
	}
}

// dirOwner names the owner of a container's state directory, as runc's
// list shows it: the user name, or #uid when it has none.
func dirOwner(dir string) string {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return ""
	}
	if u, err := user.LookupUid(int(st.Uid)); err == nil && u.Name != "" {
		return u.Name
	}
	return fmt.Sprintf("#%d", st.Uid)
}
