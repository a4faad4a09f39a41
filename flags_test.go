package main

import (
	"context"
	"reflect"
	"testing"

	"github.com/urfave/cli/v3"
)

// flagIndex answers as cli.Command's getters do, for every flag type the
// commands use, set, defaulted, aliased, or a parent's.
func TestFlagIndexMatchesCommand(t *testing.T) {
	ran := false
	check := func(_ context.Context, cmd *cli.Command) error {
		ran = true
		x := indexFlags(cmd)
		for _, n := range []string{"root", "s", "d", "missing"} {
			if got, want := x.String(n), cmd.String(n); got != want {
				t.Errorf("String(%q) = %q, cmd says %q", n, got, want)
			}
		}
		for _, n := range []string{"b", "t", "tty", "missing"} {
			if got, want := x.Bool(n), cmd.Bool(n); got != want {
				t.Errorf("Bool(%q) = %v, cmd says %v", n, got, want)
			}
		}
		if got, want := x.Int("i"), cmd.Int("i"); got != want || got != -3 {
			t.Errorf("Int(i) = %d, cmd says %d", got, want)
		}
		if got, want := x.StringSlice("e"), cmd.StringSlice("e"); !reflect.DeepEqual(got, want) || len(got) != 2 {
			t.Errorf("StringSlice(e) = %v, cmd says %v", got, want)
		}
		if got, want := x.Int64Slice("g"), cmd.Int64Slice("g"); !reflect.DeepEqual(got, want) || len(got) != 2 {
			t.Errorf("Int64Slice(g) = %v, cmd says %v", got, want)
		}
		if x.String("b") != "" || x.Bool("s") {
			t.Error("a flag of another type must read as the zero value")
		}
		return nil
	}
	app := &cli.Command{
		Name:  "app",
		Flags: []cli.Flag{&cli.StringFlag{Name: "root", Value: "/run/x"}},
		Commands: []*cli.Command{{
			Name: "sub",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "s"},
				&cli.StringFlag{Name: "d", Value: "default"},
				&cli.BoolFlag{Name: "b"},
				&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}},
				&cli.IntFlag{Name: "i"},
				&cli.StringSliceFlag{Name: "e"},
				&cli.Int64SliceFlag{Name: "g"},
			},
			Action: check,
		}},
	}
	args := []string{"app", "--root", "/r", "sub", "--s", "v", "-b", "-t", "--i", "-3", "--e", "A=1", "--e", "B=2", "--g", "10", "--g", "20"}
	if err := app.Run(context.Background(), args); err != nil || !ran {
		t.Fatalf("run: %v (ran %v)", err, ran)
	}
}
