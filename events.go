package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/minirunc/minirunc/cgroup"
	"github.com/minirunc/minirunc/container"
	"github.com/minirunc/minirunc/logs"
	"github.com/urfave/cli/v3"
)

// event is one line of `events` output, as runc prints it.
type event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data any    `json:"data,omitempty"`
}

func eventsCommand() *cli.Command {
	return &cli.Command{
		Name:  "events",
		Usage: "display container events such as OOM notifications, cpu, memory, and IO usage statistics",
		Description: `Without --stats, prints a stats event every --interval and an oom event
whenever the kernel's OOM killer acts in the container, one JSON object a
line, until the container stops.`,
		ArgsUsage:    "<container-id>",
		OnUsageError: usageError,
		Flags: []cli.Flag{
			&cli.DurationFlag{Name: "interval", Value: 5 * time.Second, Usage: "set the stats collection interval"},
			&cli.BoolFlag{Name: "stats", Usage: "display the container's stats then exit"},
		},
		Action: func(_ context.Context, cmd *cli.Command) error {
			if err := checkArgs(cmd, 1, 1); err != nil {
				return err
			}
			if cmd.Duration("interval") <= 0 {
				return fmt.Errorf("duration interval must be greater than 0")
			}
			id := cmd.Args().First()
			c, err := container.Load(root(cmd), id, false)
			if err != nil {
				return err
			}
			// The stream may run for long: hold no lock on the state.
			c.Unlock()
			if c.Status() == container.Stopped {
				return fmt.Errorf("container with id %s is not running", id)
			}
			enc := json.NewEncoder(os.Stdout)
			stats := func() error {
				s, err := c.Stats()
				if err != nil {
					return err
				}
				return enc.Encode(event{Type: "stats", ID: id, Data: s})
			}
			if cmd.Bool("stats") {
				return stats()
			}
			return streamEvents(c, id, cmd.Duration("interval"), enc, stats)
		},
	}
}

// streamEvents prints stats at once and then every interval, and an oom
// event for each OOM kill, until the container stops.
func streamEvents(c *container.Container, id string, interval time.Duration, enc *json.Encoder, stats func() error) error {
	var oom <-chan struct{}
	if w, err := cgroup.WatchOOM(c.State.CgroupDirs); err == nil {
		defer w.Close()
		oom = w.C
	} else {
		logs.Warn("events: no OOM notification: %v", err)
	}
	oomEvent := func() error { return enc.Encode(event{Type: "oom", ID: id}) }
	if err := stats(); err != nil {
		return err
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case _, ok := <-oom:
			if !ok {
				oom = nil
				continue
			}
			if err := oomEvent(); err != nil {
				return err
			}
		case <-tick.C:
			if c.Status() == container.Stopped {
				// An OOM that ended the container is reported still.
				for {
					select {
					case _, ok := <-oom:
						if !ok {
							return nil
						}
						if err := oomEvent(); err != nil {
							return err
						}
					case <-time.After(100 * time.Millisecond):
						return nil
					}
				}
			}
			if err := stats(); err != nil {
				logs.Warn("events: %v", err)
			}
		}
	}
}
