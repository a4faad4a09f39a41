package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v3"
	"golang.org/x/term"
)

func exportCommand() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "write a container's filesystem as a tar archive",
		ArgsUsage: "CONTAINER",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to a file instead of stdout"},
		},
		Action: func(_ context.Context, cmd *cli.Command) (err error) {
			if err := checkArgs(cmd, 1, 1); err != nil {
				return err
			}
			m, err := manager(cmd)
			if err != nil {
				return err
			}
			var w io.Writer = os.Stdout
			if out := cmd.String("output"); out != "" {
				// A temp file beside it, renamed at the end: a failed
				// export leaves no half archive.
				f, err := os.CreateTemp(filepath.Dir(out), ".export-")
				if err != nil {
					return err
				}
				defer func() {
					if cerr := f.Close(); err == nil {
						err = cerr
					}
					if err == nil {
						err = os.Rename(f.Name(), out)
					}
					if err != nil {
						os.Remove(f.Name())
					}
				}()
				w = f
			} else if term.IsTerminal(int(os.Stdout.Fd())) {
				return fmt.Errorf("cowardly refusing to save to a terminal. Use the -o flag or redirect")
			}
			return m.Export(cmd.Args().First(), w)
		},
	}
}
