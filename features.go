package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"

	libseccomp "github.com/seccomp/libseccomp-golang"

	"github.com/minirunc/minirunc/rootfs"
	"github.com/minirunc/minirunc/seccomp"
	"github.com/minirunc/minirunc/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"github.com/urfave/cli/v3"
)

func featuresCommand() *cli.Command {
	return &cli.Command{
		Name:         "features",
		Usage:        "show the enabled features",
		OnUsageError: usageError,
		Action: func(_ context.Context, cmd *cli.Command) error {
			if err := checkArgs(cmd, 0, 0); err != nil {
				return err
			}
			data, err := json.MarshalIndent(runtimeFeatures(), "", "    ")
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(os.Stdout, string(data))
			return err
		},
	}
}

// runtimeFeatures is built from the tables the spec is validated and
// applied with, so it cannot claim what the code does not do.
func runtimeFeatures() *features.Features {
	yes, no := true, false
	sorted := func(xs []string) []string {
		sort.Strings(xs)
		return xs
	}
	var ns, actions, ops, archs, flags []string
	for t := range specconv.Namespaces {
		ns = append(ns, string(t))
	}
	for a := range seccomp.Actions {
		actions = append(actions, string(a))
	}
	for o := range seccomp.Operators {
		ops = append(ops, string(o))
	}
	for a := range seccomp.Arches {
		archs = append(archs, string(a))
	}
	for _, f := range seccomp.Flags {
		flags = append(flags, string(f))
	}
	lib := ""
	if maj, min, micro := libseccomp.GetLibraryVersion(); maj > 0 {
		lib = fmt.Sprintf("%d.%d.%d", maj, min, micro)
	}
	return &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
		MountOptions:  sorted(rootfs.OptionNames()),
		Linux: &features.Linux{
			Namespaces:   sorted(ns),
			Capabilities: specconv.CapabilityNames(),
			Cgroup:       &features.Cgroup{V1: &yes, V2: &yes, Systemd: &no, SystemdUser: &no, Rdma: &yes},
			Seccomp: &features.Seccomp{
				Enabled: &yes, Actions: sorted(actions), Operators: sorted(ops), Archs: sorted(archs),
				KnownFlags: sorted(flags), SupportedFlags: sorted(append([]string(nil), flags...)),
			},
			// Applied where the host has AppArmor; refused where it has not.
			Apparmor:        &features.Apparmor{Enabled: &yes},
			Selinux:         &features.Selinux{Enabled: &no},
			IntelRdt:        &features.IntelRdt{Enabled: &no},
			MountExtensions: &features.MountExtensions{IDMap: &features.IDMap{Enabled: &no}},
		},
		Annotations: map[string]string{
			"io.github.minirunc.version":            version,
			"io.github.minirunc.commit":             gitCommit,
			"io.github.minirunc.libseccomp.version": lib,
		},
	}
}
