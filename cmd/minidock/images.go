package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/minirunc/minirunc/dock/container"
	"github.com/minirunc/minirunc/dock/image"
	"github.com/urfave/cli/v3"
)

func imagesCommand() *cli.Command {
	return &cli.Command{
		Name:  "images",
		Usage: "list images",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only show image IDs"},
			&cli.BoolFlag{Name: "no-trunc", Usage: "do not truncate the IDs"},
		},
		Action: func(_ context.Context, cmd *cli.Command) error {
			m, err := manager(cmd)
			if err != nil {
				return err
			}
			imgs, err := m.Images.List()
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 8, 3, ' ', 0)
			if !cmd.Bool("quiet") {
				fmt.Fprintln(w, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE")
			}
			for _, img := range imgs {
				id := strings.TrimPrefix(img.ID, "sha256:")
				if !cmd.Bool("no-trunc") {
					id = id[:12]
				}
				if cmd.Bool("quiet") {
					fmt.Fprintln(w, id)
					continue
				}
				tags := m.Images.TagsOf(img.ID)
				if len(tags) == 0 {
					tags = []string{"<none>:<none>"}
				}
				created := container.HumanDuration(time.Since(img.Config.Created.Time)) + " ago"
				for _, t := range tags {
					i := strings.LastIndex(t, ":")
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", t[:i], t[i+1:], id, created, humanSize(m.Images.ImageSize(img)))
				}
			}
			return w.Flush()
		},
	}
}

func humanSize(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.3gGB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.3gMB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.3gkB", float64(n)/1e3)
	}
	return fmt.Sprintf("%dB", n)
}

func rmiCommand() *cli.Command {
	return &cli.Command{
		Name:      "rmi",
		Usage:     "remove images",
		ArgsUsage: "IMAGE [IMAGE...]",
		Flags:     []cli.Flag{&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "remove an image a container uses"}},
		Action: imagesAction(1, -1, func(cmd *cli.Command, m *container.Manager) error {
			var last error
			for _, ref := range cmd.Args().Slice() {
				lines, err := m.Images.Remove(ref, cmd.Bool("force"), m.UsingImage)
				for _, l := range lines {
					fmt.Println(l)
				}
				if err != nil {
					last = err
				}
			}
			return last
		}),
	}
}

func tagCommand() *cli.Command {
	return &cli.Command{
		Name:      "tag",
		Usage:     "give an image a new name",
		ArgsUsage: "SOURCE TARGET",
		Action: imagesAction(2, 2, func(cmd *cli.Command, m *container.Manager) error {
			img, err := m.Images.Resolve(cmd.Args().Get(0))
			if err != nil {
				return err
			}
			return m.Images.Tag(img.ID, cmd.Args().Get(1))
		}),
	}
}

// resolveImage finds an image for run/create.
func resolveImage(m *container.Manager, ref string) (*image.Image, error) {
	img, err := m.Images.Resolve(ref)
	if err != nil {
		return nil, fmt.Errorf("unable to find image '%s' locally", ref)
	}
	return img, nil
}
