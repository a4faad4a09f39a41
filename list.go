package main

import (
	"bufio"
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
			owners := &ownerCache{names: map[uint32]string{}}
			states, err := container.ListMap(root(cmd), func(c *container.Container) container.OCIState {
				st := c.OCI()
				st.Owner = owners.of(c.Dir)
				return st
			})
			if err != nil {
				return err
			}
			if cmd.Bool("quiet") {
				for _, s := range states {
					fmt.Println(s.ID)
				}
				return nil
			}
			switch cmd.String("format") {
			case "table":
				// tabwriter writes cell by cell: one write(2) for
				// the whole table, not a dozen per line.
				out := bufio.NewWriter(os.Stdout)
				w := tabwriter.NewWriter(out, 12, 1, 3, ' ', 0)
				fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
				for _, s := range states {
					fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle, s.Created.Format(time.RFC3339Nano), s.Owner)
				}
				if err := w.Flush(); err != nil {
					return err
				}
				return out.Flush()
			case "json":
				if states == nil {
					states = []container.OCIState{} // "[]" for none, not "null"
				}
				return json.NewEncoder(os.Stdout).Encode(states)
			default:
				return fmt.Errorf("invalid format option %q: must be table or json", cmd.String("format"))
			}
		},
	}
}

// ownerCache names the owners of state directories as runc's list shows
// them (the user name, or #uid when it has none), reading the user
// database once per uid rather than once per container.
type ownerCache struct {
	names map[uint32]string
}

func (o *ownerCache) of(dir string) string {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return ""
	}
	if n, ok := o.names[st.Uid]; ok {
		return n
	}
	n := fmt.Sprintf("#%d", st.Uid)
	if u, err := user.LookupUid(int(st.Uid)); err == nil && u.Name != "" {
		n = u.Name
	}
	o.names[st.Uid] = n
	return n
}
