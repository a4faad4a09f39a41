//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

// Command minirunc is an OCI container runtime with runc's command line.
// This file holds the global flags and the error path; each command lives in
// a file of its own, and the work is done by the packages (see README.md).
//
// A command lives milliseconds, so the go:debug lines above take
// GOMAXPROCS from the CPU count and never re-read the cgroup's CPU limit.
// (Go 1.26 still parses /proc/self/cgroup and mountinfo once at start,
// only to count whether the setting changed anything.)
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/minirunc/minirunc/cgroup"
	"github.com/minirunc/minirunc/container"
	containerinit "github.com/minirunc/minirunc/init"
	"github.com/minirunc/minirunc/logs"
	_ "github.com/minirunc/minirunc/nsenter" // joins namespaces, pins the CPU, before Go starts
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v3"
)

// version and gitCommit are set by the Makefile with -ldflags -X.
var (
	version   = "0.1.0-dev"
	gitCommit = ""
)

// exitCode makes main exit with a code without printing an error (run
// passes on the container's exit code this way).
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func main() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		containerinit.Main()
		return
	}
	// The --log file must exist and carry the error even when the other
	// arguments are wrong (containerd reads it), so it is opened before
	// the command line is parsed.
	logPath, logFormat, command := scanGlobalFlags(os.Args[1:])
	// One P. The nsenter constructor has already pinned the process to
	// one CPU, so Go counted one and this changes nothing; it holds where
	// the pin could not be set. Measured with two Ps (interleaved rounds):
	// `run` no faster (10.98 -> 11.28 ms), `list` of 50 with its workers
	// on both CPUs no faster and 9% more CPU. Init gets GOMAXPROCS=1 in
	// its environment.
	runtime.GOMAXPROCS(1)
	if err := logs.Setup(logPath, logFormat, false); err != nil {
		fmt.Fprintln(os.Stderr, "minirunc: "+err.Error())
		os.Exit(1)
	}
	err := newApp(command).Run(context.Background(), os.Args)
	var code exitCode
	if errors.As(err, &code) {
		logs.Close()
		os.Exit(int(code))
	}
	if err != nil {
		logs.Error(err.Error())
		logs.Close()
		os.Exit(1)
	}
}

// globalValueFlags are the global flags that take a value.
var globalValueFlags = map[string]bool{"log": true, "log-format": true, "root": true, "rootless": true, "criu": true}

// scanGlobalFlags finds --log and --log-format among the global flags, and
// the command's name after them.
func scanGlobalFlags(args []string) (path, format, command string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			return path, format, a // the command name ends the global flags
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !hasVal && globalValueFlags[name] && i+1 < len(args) {
			// "--root R --log F": the value is the next argument.
			i++
			val = args[i]
		}
		if name != "log" && name != "log-format" {
			continue
		}
		if name == "log" {
			path = val
		} else {
			format = val
		}
	}
	return path, format, ""
}

func usageError(_ context.Context, _ *cli.Command, err error, _ bool) error { return err }

func newApp(command string) *cli.Command {
	cli.VersionPrinter = func(cmd *cli.Command) {
		fmt.Printf("minirunc version %s\n", version)
		if gitCommit != "" {
			fmt.Printf("commit: %s\n", gitCommit)
		}
		fmt.Printf("spec: %s\ngo: %s\n", specs.Version, runtime.Version())
	}
	return &cli.Command{
		Name:            "minirunc",
		Usage:           "Open Container Initiative runtime",
		Version:         version,
		HideHelpCommand: true,
		OnUsageError:    usageError,
		ExitErrHandler:  func(context.Context, *cli.Command, error) {},
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "debug", Usage: "enable debug logging"},
			&cli.StringFlag{Name: "log", Usage: "set the log file to write minirunc logs to (default is '/dev/stderr')"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "set the log format ('text' (default), or 'json')"},
			&cli.StringFlag{Name: "root", Value: "/run/minirunc", Usage: "root directory for storage of container state (this should be located in tmpfs)"},
			&cli.BoolFlag{Name: "systemd-cgroup", Usage: "enable systemd cgroup support, expects cgroupsPath to be of form \"slice:prefix:name\""},
			&cli.StringFlag{Name: "rootless", Value: "auto", Usage: "ignore cgroup permission errors ('true', 'false', or 'auto')"},
			&cli.StringFlag{Name: "criu", Hidden: true},
		},
		Before: func(ctx context.Context, cmd *cli.Command) (context.Context, error) {
			flags := indexFlags(cmd)
			if f := flags.String("log-format"); f != "text" && f != "json" {
				return ctx, fmt.Errorf("invalid log-format %q: must be text or json", f)
			}
			if r := flags.String("rootless"); r != "auto" && r != "true" && r != "false" {
				return ctx, fmt.Errorf("invalid --rootless value %q: must be true, false or auto", r)
			}
			if flags.Bool("debug") {
				_ = logs.Setup(flags.String("log"), flags.String("log-format"), true)
			}
			if flags.Bool("systemd-cgroup") {
				return ctx, cgroup.SystemdUnsupported()
			}
			return ctx, nil
		},
		Commands: appCommands(command),
	}
}

// commandMakers build minirunc's commands, in the order help lists them.
var commandMakers = []func() *cli.Command{
	createCommand, startCommand, runCommand, stateCommand, listCommand,
	killCommand, deleteCommand, specCommand, execCommand, psCommand, featuresCommand,
	pauseCommand, resumeCommand, updateCommand, eventsCommand,
}

// appCommands is the command named on the command line alone when it is
// one, else every command (for help, usage errors and aliases). urfave/cli
// sets up each command it holds, flags and help included, at every start:
// ~0.2 ms of every call for the fourteen that do not run.
func appCommands(name string) []*cli.Command {
	all := make([]*cli.Command, 0, len(commandMakers))
	for _, mk := range commandMakers {
		c := mk()
		if name != "" && c.Name == name {
			return []*cli.Command{c}
		}
		all = append(all, c)
	}
	return all
}

// checkArgs enforces the number of positional arguments.
func checkArgs(cmd *cli.Command, min, max int) error {
	n := cmd.Args().Len()
	switch {
	case min == max && n != min:
		return fmt.Errorf("%q requires exactly %d argument(s)", cmd.Name, min)
	case n < min:
		return fmt.Errorf("%q requires a minimum of %d argument(s)", cmd.Name, min)
	case max >= 0 && n > max:
		return fmt.Errorf("%q requires a maximum of %d argument(s)", cmd.Name, max)
	}
	return nil
}

// root is the state root of the invocation.
func root(cmd *cli.Command) string { return cmd.Root().String("root") }

// lockedAction is the action of a command that acts on one container
// (its only argument) under the container's exclusive lock.
func lockedAction(fn func(*container.Container) error) cli.ActionFunc {
	return func(_ context.Context, cmd *cli.Command) error {
		if err := checkArgs(cmd, 1, 1); err != nil {
			return err
		}
		c, err := container.Load(root(cmd), cmd.Args().First(), true)
		if err != nil {
			return err
		}
		defer c.Unlock()
		return fn(c)
	}
}
