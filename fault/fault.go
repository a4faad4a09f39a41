//go:build !faultinject

// Package fault is a test-only hook: built with the faultinject tag,
// minirunc kills itself with SIGKILL at the step named by $MINIRUNC_FAULT,
// so that the crash-safety tests can stop it at every step of create,
// start, exec and delete. In a release build (without the tag) every
// function here is an empty stub the compiler removes.
package fault

// Enabled reports whether this binary honours $MINIRUNC_FAULT.
const Enabled = false

// Point marks a step; in a release build it does nothing.
func Point(string) {}

// Env is what a child init needs to honour the fault too: nothing in a
// release build.
func Env() []string { return nil }
