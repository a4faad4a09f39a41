package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/urfave/cli/v3"
)

func cpCommand() *cli.Command {
	return &cli.Command{
		Name:      "cp",
		Usage:     "copy files between a container and the host",
		ArgsUsage: "CONTAINER:SRC_PATH DEST_PATH | SRC_PATH CONTAINER:DEST_PATH",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "follow-link", Aliases: []string{"L"}, Usage: "follow a symlink at SRC_PATH"},
		},
		Action: func(_ context.Context, cmd *cli.Command) error {
			if err := checkArgs(cmd, 2, 2); err != nil {
				return err
			}
			src, dst := cmd.Args().Get(0), cmd.Args().Get(1)
			sc, sp, sIn := splitCpArg(src)
			dc, dp, dIn := splitCpArg(dst)
			m, err := manager(cmd)
			if err != nil {
				return err
			}
			switch {
			case sIn && dIn:
				return fmt.Errorf("copying between containers is not supported")
			case sIn:
				return m.CopyFrom(sc, sp, dst, cmd.Bool("follow-link"))
			case dIn:
				return m.CopyTo(dc, src, dp)
			}
			return fmt.Errorf("must specify at least one container source")
		},
	}
}

// splitCpArg splits CONTAINER:PATH; a path starting with / or . is local.
func splitCpArg(arg string) (ctr, p string, ok bool) {
	if strings.HasPrefix(arg, "/") || strings.HasPrefix(arg, ".") {
		return "", arg, false
	}
	ctr, p, ok = strings.Cut(arg, ":")
	if !ok || ctr == "" {
		return "", arg, false
	}
	if p == "" {
		p = "/"
	}
	return ctr, p, true
}
