package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/minirunc/minirunc/cgroup"
	"github.com/minirunc/minirunc/container"
	"github.com/minirunc/minirunc/nsenter"
	"github.com/urfave/cli/v3"
)

func psCommand() *cli.Command {
	first := 1
	return &cli.Command{
		Name:         "ps",
		Usage:        "ps displays the processes running inside a container",
		ArgsUsage:    "<container-id> [ps options]",
		OnUsageError: usageError,
		StopOnNthArg: &first,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "select one of: table or json"},
		},
		Action: func(_ context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() < 1 {
				return fmt.Errorf("%q requires a minimum of 1 argument(s)", cmd.Name)
			}
			c, err := container.Load(root(cmd), cmd.Args().First(), false)
			if err != nil {
				return err
			}
			defer c.Unlock()
			pids, err := cgroup.Procs(c.State.CgroupDirs)
			if err != nil {
				return err
			}
			switch cmd.String("format") {
			case "json":
				// runc prints null for a container with no processes;
				// containerd's shim parses it either way.
				return json.NewEncoder(os.Stdout).Encode(pids)
			case "table":
				return psTable(pids, cmd.Args().Slice()[1:])
			default:
				return fmt.Errorf("invalid format option %q: must be table or json", cmd.String("format"))
			}
		},
	}
}

// psTable runs the host's ps and keeps the header and the container's rows.
func psTable(pids []int, args []string) error {
	if len(args) == 0 {
		args = []string{"-ef"}
	}
	cmd := exec.Command("ps", args...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := nsenter.Run(cmd); err != nil {
		return fmt.Errorf("ps %s: %w", strings.Join(args, " "), err)
	}
	lines := strings.Split(strings.TrimRight(stdout.String(), "\n"), "\n")
	col := -1
	for i, f := range strings.Fields(lines[0]) {
		if f == "PID" {
			col = i
		}
	}
	if col < 0 {
		return fmt.Errorf("ps %s: output has no PID column", strings.Join(args, " "))
	}
	in := map[int]bool{}
	for _, p := range pids {
		in[p] = true
	}
	fmt.Println(lines[0])
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) > col {
			if n, err := strconv.Atoi(f[col]); err == nil && in[n] {
				fmt.Println(l)
			}
		}
	}
	return nil
}
