package main

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"strings"
	"time"

	"github.com/minirunc/minirunc/dock/container"
	"github.com/minirunc/minirunc/dock/monitor"
	"github.com/urfave/cli/v3"
)

func logsCommand() *cli.Command {
	return &cli.Command{
		Name:      "logs",
		Usage:     "show a container's output (its json-file log)",
		ArgsUsage: "CONTAINER",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "follow the output while the container runs"},
			&cli.StringFlag{Name: "tail", Aliases: []string{"n"}, Value: "all", Usage: "the last N lines"},
			&cli.BoolFlag{Name: "timestamps", Aliases: []string{"t"}, Usage: "show timestamps"},
		},
		Action: managerAction(1, 1, func(cmd *cli.Command, m *container.Manager) error {
			c, _, err := m.Lookup(cmd.Args().First())
			if err != nil {
				return err
			}
			f, err := os.Open(c.LogPath)
			if os.IsNotExist(err) {
				return nil
			}
			if err != nil {
				return err
			}
			defer f.Close()
			ts := cmd.Bool("timestamps")
			print := func(e monitor.LogEntry) {
				out := os.Stdout
				if e.Stream == "stderr" {
					out = os.Stderr
				}
				if ts {
					out.WriteString(e.Time + " ")
				}
				out.WriteString(e.Log)
			}
			br := bufio.NewReader(f)
			var entries []monitor.LogEntry
			for {
				line, err := br.ReadBytes('\n')
				if len(line) > 0 && line[len(line)-1] == '\n' {
					var e monitor.LogEntry
					if json.Unmarshal(line, &e) == nil {
						entries = append(entries, e)
					}
				} else if len(line) > 0 {
					f.Seek(-int64(len(line)), io.SeekCurrent) // a line being written
					br.Reset(f)
				}
				if err != nil {
					break
				}
			}
			if t := cmd.String("tail"); t != "all" {
				var n int
				if _, err := fmtSscan(t, &n); err == nil && n >= 0 && n < len(entries) {
					entries = entries[len(entries)-n:]
				}
			}
			for _, e := range entries {
				print(e)
			}
			if !cmd.Bool("follow") {
				return nil
			}
			for {
				line, err := br.ReadBytes('\n')
				if err == nil {
					var e monitor.LogEntry
					if json.Unmarshal(line, &e) == nil {
						print(e)
					}
					continue
				}
				if len(line) > 0 {
					f.Seek(-int64(len(line)), io.SeekCurrent)
					br.Reset(f)
				}
				cur, _, lerr := m.Load(c.ID)
				if lerr != nil || !cur.IsActive() {
					// One last read of what the end wrote.
					rest, _ := io.ReadAll(br)
					for _, l := range strings.Split(string(rest), "\n") {
						var e monitor.LogEntry
						if json.Unmarshal([]byte(l), &e) == nil {
							print(e)
						}
					}
					return nil
				}
				time.Sleep(100 * time.Millisecond)
			}
		}),
	}
}
