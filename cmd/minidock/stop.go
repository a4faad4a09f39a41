package main

import (
	"fmt"
	"time"

	"github.com/minirunc/minirunc/dock/container"
	"github.com/urfave/cli/v3"
)

func humanDur(d time.Duration) string { return container.HumanDuration(d) }

func stopTimeout(cmd *cli.Command, c *container.Container) time.Duration {
	t := 10
	if c.Config.StopTimeout != nil {
		t = *c.Config.StopTimeout
	}
	if cmd.IsSet("time") {
		t = int(cmd.Int("time"))
	}
	return time.Duration(t) * time.Second
}

func stopFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "time", Aliases: []string{"t"}, Usage: "seconds to wait before SIGKILL (default 10)"},
		&cli.StringFlag{Name: "signal", Aliases: []string{"s"}, Usage: "the stop signal"},
	}
}

func stopCommand() *cli.Command {
	return &cli.Command{
		Name:      "stop",
		Usage:     "stop running containers: the stop signal, then SIGKILL after -t seconds",
		ArgsUsage: "CONTAINER [CONTAINER...]",
		Flags:     stopFlags(),
		Action: perContainer(func(m *container.Manager, cmd *cli.Command, ref string) error {
			c, _, err := m.Lookup(ref)
			if err != nil {
				return err
			}
			return m.Stop(c.ID, stopTimeout(cmd, c), cmd.String("signal"))
		}),
	}
}

func restartCommand() *cli.Command {
	return &cli.Command{
		Name:      "restart",
		Usage:     "stop then start containers",
		ArgsUsage: "CONTAINER [CONTAINER...]",
		Flags:     stopFlags(),
		Action: perContainer(func(m *container.Manager, cmd *cli.Command, ref string) error {
			c, _, err := m.Lookup(ref)
			if err != nil {
				return err
			}
			if err := m.Stop(c.ID, stopTimeout(cmd, c), cmd.String("signal")); err != nil {
				return err
			}
			res, err := m.Start(c.ID, nil)
			if err != nil {
				return err
			}
			if res.Err != "" {
				return codeError{res.Code, fmt.Errorf("%s", res.Err)}
			}
			return nil
		}),
	}
}

func killCommand() *cli.Command {
	return &cli.Command{
		Name:      "kill",
		Usage:     "send a signal (default SIGKILL) to running containers",
		ArgsUsage: "CONTAINER [CONTAINER...]",
		Flags:     []cli.Flag{&cli.StringFlag{Name: "signal", Aliases: []string{"s"}, Value: "SIGKILL", Usage: "the signal"}},
		Action: perContainer(func(m *container.Manager, cmd *cli.Command, ref string) error {
			return m.Kill(ref, cmd.String("signal"))
		}),
	}
}

func rmCommand() *cli.Command {
	return &cli.Command{
		Name:      "rm",
		Usage:     "remove containers",
		ArgsUsage: "CONTAINER [CONTAINER...]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "kill a running container first"},
			&cli.BoolFlag{Name: "volumes", Aliases: []string{"v"}, Usage: "accepted (minidock has no anonymous volumes)"},
		},
		Action: perContainer(func(m *container.Manager, cmd *cli.Command, ref string) error {
			return m.Remove(ref, cmd.Bool("force"))
		}),
	}
}

func pauseCommand() *cli.Command {
	return &cli.Command{
		Name:      "pause",
		Usage:     "freeze every process of containers",
		ArgsUsage: "CONTAINER [CONTAINER...]",
		Action:    perContainer(func(m *container.Manager, cmd *cli.Command, ref string) error { return m.Pause(ref, true) }),
	}
}

func unpauseCommand() *cli.Command {
	return &cli.Command{
		Name:      "unpause",
		Usage:     "thaw paused containers",
		ArgsUsage: "CONTAINER [CONTAINER...]",
		Action:    perContainer(func(m *container.Manager, cmd *cli.Command, ref string) error { return m.Pause(ref, false) }),
	}
}

func waitCommand() *cli.Command {
	return &cli.Command{
		Name:      "wait",
		Usage:     "wait for containers to stop and print their exit codes",
		ArgsUsage: "CONTAINER [CONTAINER...]",
		Action: managerAction(1, -1, func(cmd *cli.Command, m *container.Manager) error {
			for _, ref := range cmd.Args().Slice() {
				c, _, err := m.Lookup(ref)
				if err != nil {
					return err
				}
				end, _ := m.WaitInactive(c.ID, -1)
				if end == nil {
					return fmt.Errorf("container %s was removed", ref)
				}
				fmt.Println(end.State.ExitCode)
			}
			return nil
		}),
	}
}
