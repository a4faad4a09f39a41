package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/minirunc/minirunc/dock/container"
	"github.com/urfave/cli/v3"
)

func statsCommand() *cli.Command {
	return &cli.Command{
		Name:      "stats",
		Usage:     "show containers' CPU, memory and pids use (minirunc events --stats)",
		ArgsUsage: "[CONTAINER...]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "no-stream", Usage: "print one reading and exit"},
			&cli.BoolFlag{Name: "no-trunc", Usage: "do not truncate the IDs"},
		},
		Action: func(_ context.Context, cmd *cli.Command) error {
			m, err := manager(cmd)
			if err != nil {
				return err
			}
			var cs []*container.Container
			if cmd.Args().Len() == 0 {
				for _, c := range m.List() {
					if c.IsActive() {
						cs = append(cs, c)
					}
				}
			}
			for _, ref := range cmd.Args().Slice() {
				c, _, err := m.Lookup(ref)
				if err != nil {
					return err
				}
				if !c.IsActive() {
					return fmt.Errorf("container %s is not running", c.DisplayName())
				}
				cs = append(cs, c)
			}
			sample := func() map[string]*container.Sample {
				cur := map[string]*container.Sample{}
				for _, c := range cs {
					if s, err := m.ReadStats(c); err == nil {
						cur[c.ID] = s
					}
				}
				return cur
			}
			prev := sample()
			for {
				time.Sleep(500 * time.Millisecond)
				cur := sample()
				if !cmd.Bool("no-stream") {
					fmt.Print("\033[2J\033[H")
				}
				w := tabwriter.NewWriter(os.Stdout, 0, 8, 3, ' ', 0)
				fmt.Fprintln(w, "CONTAINER ID\tNAME\tCPU %\tMEM USAGE / LIMIT\tMEM %\tPIDS")
				for _, c := range cs {
					id := c.ID
					if !cmd.Bool("no-trunc") {
						id = c.ShortID()
					}
					s := cur[c.ID]
					if s == nil {
						fmt.Fprintf(w, "%s\t%s\t--\t-- / --\t--\t--\n", id, c.DisplayName())
						continue
					}
					memPct := 0.0
					if s.MemLimit > 0 {
						memPct = float64(s.MemUsage) / float64(s.MemLimit) * 100
					}
					fmt.Fprintf(w, "%s\t%s\t%.2f%%\t%s / %s\t%.2f%%\t%d\n", id, c.DisplayName(),
						container.CPUPercent(prev[c.ID], s), binarySize(s.MemUsage), binarySize(s.MemLimit), memPct, s.Pids)
				}
				if err := w.Flush(); err != nil || cmd.Bool("no-stream") {
					return err
				}
				prev = cur
			}
		},
	}
}

// binarySize words bytes as Docker's stats does (KiB, MiB, GiB).
func binarySize(n uint64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	f := float64(n)
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.2f", f), "0"), ".0") + units[i]
}
