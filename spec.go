package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/minirunc/minirunc/specconv"
	"github.com/urfave/cli/v3"
)

func specCommand() *cli.Command {
	return &cli.Command{
		Name:         "spec",
		Usage:        "create a new specification file",
		OnUsageError: usageError,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "path to the root of the bundle directory"},
			&cli.BoolFlag{Name: "rootless", Usage: "generate a configuration for a rootless container"},
		},
		Action: func(_ context.Context, cmd *cli.Command) error {
			if err := checkArgs(cmd, 0, 0); err != nil {
				return err
			}
			s := specconv.Example()
			if cmd.Bool("rootless") {
				specconv.ToRootless(s, uint32(os.Geteuid()), uint32(os.Getegid()))
			}
			path := filepath.Join(cmd.String("bundle"), "config.json")
			if _, err := os.Stat(path); err == nil {
				//lint:ignore ST1005 runc's exact message, which scripts match
				return errors.New("File config.json exists. Remove it first")
			}
			data, err := json.MarshalIndent(s, "", "\t")
			if err != nil {
				return err
			}
			if err := os.WriteFile(path, append(data, '\n'), 0o666); err != nil {
				return fmt.Errorf("write config.json: %w", err)
			}
			return nil
		},
	}
}
