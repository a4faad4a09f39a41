package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/minirunc/minirunc/dock/container"
	"github.com/urfave/cli/v3"
)

func fmtSscan(s string, a ...any) (int, error) { return fmt.Sscan(s, a...) }

// runtimeLogError is the last error in a runtime --log file (json).
func runtimeLogError(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	msg := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e struct{ Level, Msg string }
		if json.Unmarshal(sc.Bytes(), &e) == nil && strings.EqualFold(e.Level, "error") {
			msg = e.Msg
		}
	}
	return msg
}

func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "show containers or images as JSON",
		ArgsUsage: "NAME|ID [NAME|ID...]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "type", Usage: "container or image"},
		},
		Action: managerAction(1, -1, func(cmd *cli.Command, m *container.Manager) error {
			var out []json.RawMessage
			for _, ref := range cmd.Args().Slice() {
				if cmd.String("type") != "image" {
					if c, hc, err := m.Lookup(ref); err == nil {
						data, err := json.Marshal(map[string]any{
							"Id": c.ID, "Created": c.Created, "Path": c.Path, "Args": c.Args,
							"State": c.State, "Image": c.Image, "Name": c.Name, "RestartCount": c.RestartCount,
							"Driver": c.Driver, "LogPath": c.LogPath, "HostnamePath": c.HostnamePath,
							"HostsPath": c.HostsPath, "ResolvConfPath": c.ResolvConfPath,
							"Config": c.Config, "HostConfig": hc, "NetworkSettings": c.NetworkSettings,
							"GraphDriver": map[string]any{"Name": "overlay2", "Data": map[string]string{
								"MergedDir": m.MergedDir(c), "UpperDir": m.Images.Driver.DiffDir(c.MountID),
								"WorkDir": m.Images.Driver.Dir(c.MountID) + "/work"}},
						})
						if err != nil {
							return err
						}
						out = append(out, data)
						continue
					}
				}
				if cmd.String("type") != "container" {
					if img, err := m.Images.Resolve(ref); err == nil {
						data, err := img.MarshalInspect(m.Images.TagsOf(img.ID), m.Images.ImageSize(img))
						if err != nil {
							return err
						}
						out = append(out, data)
						continue
					}
				}
				return fmt.Errorf("no such object: %s", ref)
			}
			data, err := json.MarshalIndent(out, "", "    ")
			if err != nil {
				return err
			}
			fmt.Println(string(data))
			return nil
		}),
	}
}
