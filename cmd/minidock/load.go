package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/minirunc/minirunc/dock/container"
	"github.com/minirunc/minirunc/dock/image"
	"github.com/minirunc/minirunc/dock/progress"
	"github.com/urfave/cli/v3"
	"golang.org/x/term"
)

func loadCommand() *cli.Command {
	return &cli.Command{
		Name:  "load",
		Usage: "load images from a `docker save` archive or an OCI image layout",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "input", Aliases: []string{"i"}, Usage: "the archive (file or OCI layout dir; default stdin)"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress"},
		},
		Action: func(_ context.Context, cmd *cli.Command) error {
			m, err := manager(cmd)
			if err != nil {
				return err
			}
			in := cmd.String("input")
			if in == "" || in == "-" {
				// Stdin is spooled to a file: an archive is read more than once.
				wd, err := m.Images.WorkDir()
				if err != nil {
					return err
				}
				f, err := os.CreateTemp(wd, "stdin-")
				if err != nil {
					return err
				}
				defer m.Images.DoneWork()
				defer os.Remove(f.Name())
				_, err = io.Copy(f, os.Stdin)
				f.Close()
				if err != nil {
					return err
				}
				in = f.Name()
			}
			lk, err := m.Images.Lock()
			if err != nil {
				return err
			}
			defer lk.Unlock()
			progress := newProgress(cmd.Bool("quiet"))
			loaded, err := m.Images.Load(in, progress)
			for _, l := range loaded {
				if len(l.Tags) == 0 {
					fmt.Println("Loaded image ID: " + l.ID)
				}
				for _, t := range l.Tags {
					fmt.Println("Loaded image: " + t)
				}
			}
			return err
		},
	}
}

func importCommand() *cli.Command {
	return &cli.Command{
		Name:      "import",
		Usage:     "make a one-layer image of a rootfs tarball",
		ArgsUsage: "FILE|- [REPOSITORY[:TAG]]",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "change", Aliases: []string{"c"}, Usage: "a Dockerfile instruction for the config (CMD, ENTRYPOINT, ENV, ...)"},
			&cli.StringFlag{Name: "message", Aliases: []string{"m"}, Usage: "the history comment"},
		},
		Action: managerAction(1, 2, func(cmd *cli.Command, m *container.Manager) error {
			var r io.Reader = os.Stdin
			if src := cmd.Args().Get(0); src != "-" {
				f, err := os.Open(src)
				if err != nil {
					return err
				}
				defer f.Close()
				r = f
			}
			lk, err := m.Images.Lock()
			if err != nil {
				return err
			}
			defer lk.Unlock()
			id, err := m.Images.Import(r, cmd.Args().Get(1), cmd.StringSlice("change"), cmd.String("message"))
			if err != nil {
				return err
			}
			fmt.Println(id)
			return nil
		}),
	}
}

func saveCommand() *cli.Command {
	return &cli.Command{
		Name:      "save",
		Usage:     "write images as a `docker save` archive",
		ArgsUsage: "IMAGE [IMAGE...]",
		Flags:     []cli.Flag{&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "the file (default stdout)"}},
		Action: imagesAction(1, -1, func(cmd *cli.Command, m *container.Manager) error {
			out := cmd.String("output")
			if out == "" {
				return m.Images.Save(cmd.Args().Slice(), os.Stdout)
			}
			tmp := out + ".tmp"
			f, err := os.Create(tmp)
			if err != nil {
				return err
			}
			if err := m.Images.Save(cmd.Args().Slice(), f); err != nil {
				f.Close()
				os.Remove(tmp)
				return err
			}
			if err := f.Close(); err != nil {
				os.Remove(tmp)
				return err
			}
			return os.Rename(tmp, out)
		}),
	}
}

func pullCommand() *cli.Command {
	return &cli.Command{
		Name:      "pull",
		Usage:     "fetch an image from a registry",
		ArgsUsage: "NAME[:TAG]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "insecure", Usage: "plain http"},
			&cli.StringFlag{Name: "username", Aliases: []string{"u"}, Usage: "basic auth user"},
			&cli.StringFlag{Name: "password", Aliases: []string{"p"}, Usage: "basic auth password", Sources: cli.EnvVars("MINIDOCK_PASSWORD")},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress"},
		},
		Action: imagesAction(1, 1, func(cmd *cli.Command, m *container.Manager) error {
			progress := newProgress(cmd.Bool("quiet"))
			ref := cmd.Args().First()
			id, err := m.Images.Pull(ref, image.PullOptions{Insecure: cmd.Bool("insecure"),
				Username: cmd.String("username"), Password: cmd.String("password")}, progress)
			if err != nil {
				return err
			}
			fmt.Printf("Digest: %s\nStatus: Downloaded newer image for %s\n", id, strings.TrimSpace(ref))
			return nil
		}),
	}
}

// newProgress is the progress display of pull and load on stdout, as
// Docker's: in place on a terminal, one line per step otherwise, none
// with --quiet.
func newProgress(quiet bool) *progress.Display {
	if quiet {
		return nil
	}
	fd := int(os.Stdout.Fd())
	tty := term.IsTerminal(fd)
	width := 0
	if tty {
		width, _, _ = term.GetSize(fd)
	}
	return progress.New(os.Stdout, tty, width)
}
