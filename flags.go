package main

import "github.com/urfave/cli/v3"

// flagIndex reads a command's flag values from one index by name.
// cli.Command's String, Bool and the like walk every flag of the command
// and its parents, building each flag's list of names, at every call
// (~10 us each here; exec asks sixteen times).
type flagIndex map[string]cli.Flag

// indexFlags indexes the flags of cmd and its parents, the nearest first,
// as cli.Command looks them up.
func indexFlags(cmd *cli.Command) flagIndex {
	idx := flagIndex{}
	for _, c := range cmd.Lineage() {
		for _, f := range c.Flags {
			for _, n := range f.Names() {
				if _, ok := idx[n]; !ok {
					idx[n] = f
				}
			}
		}
	}
	return idx
}

// flagValue is the value of flag name as a T, the zero T when there is no
// such flag or it holds another type (as cli.Command's getters).
func flagValue[T any](x flagIndex, name string) T {
	var zero T
	f, ok := x[name].(interface{ Get() any })
	if !ok {
		return zero
	}
	v, ok := f.Get().(T)
	if !ok {
		return zero
	}
	return v
}

func (x flagIndex) String(name string) string        { return flagValue[string](x, name) }
func (x flagIndex) Bool(name string) bool            { return flagValue[bool](x, name) }
func (x flagIndex) Int(name string) int              { return flagValue[int](x, name) }
func (x flagIndex) StringSlice(name string) []string { return flagValue[[]string](x, name) }
func (x flagIndex) Int64Slice(name string) []int64   { return flagValue[[]int64](x, name) }
