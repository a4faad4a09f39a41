// Package seccomp turns the spec's linux.seccomp into a kernel filter with
// libseccomp: the default action and errno, architectures, flags, and the
// syscall rules with their actions, errno values and argument conditions.
// Syscall names this kernel or libseccomp does not know are skipped, as runc
// skips them; syscalls newer than every one the profile names get ENOSYS
// instead of the default errno, so that a newer libc falls back cleanly
// (runc's patchbpf idea, done with plain rules). The tables here are what
// `features` reports and what validation accepts.
package seccomp

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
)

// Actions maps the spec's actions to libseccomp's.
var Actions = map[specs.LinuxSeccompAction]libseccomp.ScmpAction{
	specs.ActKill:        libseccomp.ActKillThread,
	specs.ActKillThread:  libseccomp.ActKillThread,
	specs.ActKillProcess: libseccomp.ActKillProcess,
	specs.ActTrap:        libseccomp.ActTrap,
	specs.ActErrno:       libseccomp.ActErrno,
	specs.ActTrace:       libseccomp.ActTrace,
	specs.ActAllow:       libseccomp.ActAllow,
	specs.ActLog:         libseccomp.ActLog,
	specs.ActNotify:      libseccomp.ActNotify,
}

// Arches maps the spec's architectures to libseccomp's names.
var Arches = map[specs.Arch]string{
	specs.ArchX86:         "x86",
	specs.ArchX86_64:      "amd64",
	specs.ArchX32:         "x32",
	specs.ArchARM:         "arm",
	specs.ArchAARCH64:     "arm64",
	specs.ArchMIPS:        "mips",
	specs.ArchMIPS64:      "mips64",
	specs.ArchMIPS64N32:   "mips64n32",
	specs.ArchMIPSEL:      "mipsel",
	specs.ArchMIPSEL64:    "mipsel64",
	specs.ArchMIPSEL64N32: "mipsel64n32",
	specs.ArchPPC:         "ppc",
	specs.ArchPPC64:       "ppc64",
	specs.ArchPPC64LE:     "ppc64le",
	specs.ArchS390:        "s390",
	specs.ArchS390X:       "s390x",
	specs.ArchRISCV64:     "riscv64",
}

// Operators maps the spec's comparison operators to libseccomp's.
var Operators = map[specs.LinuxSeccompOperator]libseccomp.ScmpCompareOp{
	specs.OpNotEqual:     libseccomp.CompareNotEqual,
	specs.OpLessThan:     libseccomp.CompareLess,
	specs.OpLessEqual:    libseccomp.CompareLessOrEqual,
	specs.OpEqualTo:      libseccomp.CompareEqual,
	specs.OpGreaterEqual: libseccomp.CompareGreaterEqual,
	specs.OpGreaterThan:  libseccomp.CompareGreater,
	specs.OpMaskedEqual:  libseccomp.CompareMaskedEqual,
}

// Flags are the filter flags minirunc accepts. TSYNC is accepted and
// implied: init is single-threaded in effect when it loads the filter.
var Flags = []specs.LinuxSeccompFlag{
	specs.LinuxSeccompFlagLog,
	specs.LinuxSeccompFlagSpecAllow,
	specs.LinuxSeccompFlagWaitKillableRecv,
	"SECCOMP_FILTER_FLAG_TSYNC",
}

// Validate checks a seccomp config; errors name the field.
func Validate(s *specs.LinuxSeccomp) error {
	if s == nil {
		return nil
	}
	if _, ok := Actions[s.DefaultAction]; !ok {
		return fmt.Errorf("linux.seccomp.defaultAction %q is not a seccomp action", s.DefaultAction)
	}
	for i, a := range s.Architectures {
		if _, ok := Arches[a]; !ok {
			return fmt.Errorf("linux.seccomp.architectures[%d] %q is not an architecture", i, a)
		}
	}
	for i, f := range s.Flags {
		known := false
		for _, k := range Flags {
			known = known || f == k
		}
		if !known {
			return fmt.Errorf("linux.seccomp.flags[%d] %q is not a seccomp flag", i, f)
		}
	}
	notify := s.DefaultAction == specs.ActNotify
	for i, sc := range s.Syscalls {
		if len(sc.Names) == 0 {
			return fmt.Errorf("linux.seccomp.syscalls[%d].names is empty", i)
		}
		if _, ok := Actions[sc.Action]; !ok {
			return fmt.Errorf("linux.seccomp.syscalls[%d].action %q is not a seccomp action", i, sc.Action)
		}
		notify = notify || sc.Action == specs.ActNotify
		for j, a := range sc.Args {
			if a.Index > 5 {
				return fmt.Errorf("linux.seccomp.syscalls[%d].args[%d].index %d: syscalls have at most 6 arguments", i, j, a.Index)
			}
			if _, ok := Operators[a.Op]; !ok {
				return fmt.Errorf("linux.seccomp.syscalls[%d].args[%d].op %q is not a comparison operator", i, j, a.Op)
			}
		}
	}
	if s.DefaultAction == specs.ActNotify {
		return fmt.Errorf("linux.seccomp.defaultAction %s would trap the runtime itself; use it per syscall", s.DefaultAction)
	}
	if notify && s.ListenerPath == "" {
		return fmt.Errorf("linux.seccomp.listenerPath is required with %s", specs.ActNotify)
	}
	return nil
}

// NeedsListener reports whether the filter sends notifications.
func NeedsListener(s *specs.LinuxSeccomp) bool {
	if s == nil {
		return false
	}
	for _, sc := range s.Syscalls {
		if sc.Action == specs.ActNotify {
			return true
		}
	}
	return false
}
