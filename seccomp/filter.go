package seccomp

import (
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// maxSyscall bounds the ENOSYS rules: past every syscall number in use.
const maxSyscall = 600

func action(a specs.LinuxSeccompAction, errnoRet *uint, defErrno uint) libseccomp.ScmpAction {
	act := Actions[a]
	switch act {
	case libseccomp.ActErrno:
		code := defErrno
		if errnoRet != nil {
			code = *errnoRet
		}
		return act.SetReturnCode(int16(code))
	case libseccomp.ActTrace:
		code := uint(unix.EPERM)
		if errnoRet != nil {
			code = *errnoRet
		}
		return act.SetReturnCode(int16(code))
	}
	return act
}

// Build turns a validated config into a filter, not yet loaded.
func Build(s *specs.LinuxSeccomp) (*libseccomp.ScmpFilter, error) {
	defErrno := uint(unix.EPERM)
	if s.DefaultErrnoRet != nil {
		defErrno = *s.DefaultErrnoRet
	}
	defAct := action(s.DefaultAction, s.DefaultErrnoRet, defErrno)
	f, err := libseccomp.NewFilter(defAct)
	if err != nil {
		return nil, fmt.Errorf("seccomp: new filter: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Release()
		}
	}()
	// no_new_privs is the spec's business (process.noNewPrivileges).
	if err := f.SetNoNewPrivsBit(false); err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	for _, a := range s.Architectures {
		arch, err := libseccomp.GetArchFromString(Arches[a])
		if err != nil {
			return nil, fmt.Errorf("linux.seccomp.architectures %s: %w", a, err)
		}
		if err := f.AddArch(arch); err != nil && !errors.Is(err, libseccomp.ErrSyscallDoesNotExist) {
			return nil, fmt.Errorf("linux.seccomp.architectures %s: %w", a, err)
		}
	}
	for _, fl := range s.Flags {
		switch fl {
		case specs.LinuxSeccompFlagLog:
			err = f.SetLogBit(true)
		case specs.LinuxSeccompFlagSpecAllow:
			err = f.SetSSB(true)
		case specs.LinuxSeccompFlagWaitKillableRecv:
			err = f.SetWaitKill(true)
		}
		if err != nil {
			return nil, fmt.Errorf("linux.seccomp.flags %s: %w", fl, err)
		}
	}
	maxNamed := -1
	for i, sc := range s.Syscalls {
		act := action(sc.Action, sc.ErrnoRet, defErrno)
		if act == defAct {
			continue // libseccomp refuses rules that repeat the default
		}
		conds, perRule, err := conditions(sc.Args)
		if err != nil {
			return nil, fmt.Errorf("linux.seccomp.syscalls[%d]: %w", i, err)
		}
		for _, name := range sc.Names {
			call, err := libseccomp.GetSyscallFromName(name)
			if err != nil {
				continue // unknown here: skipped, as runc does
			}
			if int(call) > maxNamed {
				maxNamed = int(call)
			}
			if err := addRules(f, call, act, conds, perRule); err != nil {
				return nil, fmt.Errorf("linux.seccomp.syscalls[%d] %s: %w", i, name, err)
			}
		}
	}
	if err := enosysNewer(f, s, defAct, maxNamed); err != nil {
		return nil, err
	}
	ok = true
	return f, nil
}

// conditions converts args. Conditions on the same argument cannot be
// ANDed by libseccomp; like runc, such a rule becomes one rule per
// condition (perRule).
func conditions(args []specs.LinuxSeccompArg) ([]libseccomp.ScmpCondition, bool, error) {
	var out []libseccomp.ScmpCondition
	seen := map[uint]bool{}
	perRule := false
	for j, a := range args {
		vals := []uint64{a.Value}
		if a.Op == specs.OpMaskedEqual {
			vals = []uint64{a.Value, a.ValueTwo}
		}
		c, err := libseccomp.MakeCondition(a.Index, Operators[a.Op], vals...)
		if err != nil {
			return nil, false, fmt.Errorf("args[%d]: %w", j, err)
		}
		perRule = perRule || seen[a.Index]
		seen[a.Index] = true
		out = append(out, c)
	}
	return out, perRule, nil
}

func addRules(f *libseccomp.ScmpFilter, call libseccomp.ScmpSyscall, act libseccomp.ScmpAction, conds []libseccomp.ScmpCondition, perRule bool) error {
	if len(conds) == 0 {
		return f.AddRule(call, act)
	}
	if !perRule {
		return f.AddRuleConditional(call, act, conds)
	}
	for _, c := range conds {
		if err := f.AddRuleConditional(call, act, []libseccomp.ScmpCondition{c}); err != nil {
			return err
		}
	}
	return nil
}

// enosysNewer makes syscalls numbered above every syscall the profile
// names fail with ENOSYS rather than the default errno: a profile written
// before a syscall existed has no opinion on it, and libc falls back on
// ENOSYS (clone3, faccessat2, openat2 ...). Only when the default denies.
func enosysNewer(f *libseccomp.ScmpFilter, s *specs.LinuxSeccomp, defAct libseccomp.ScmpAction, maxNamed int) error {
	if maxNamed < 0 || s.DefaultAction == specs.ActAllow || s.DefaultAction == specs.ActLog {
		return nil
	}
	enosys := libseccomp.ActErrno.SetReturnCode(int16(unix.ENOSYS))
	if enosys == defAct {
		return nil
	}
	for n := maxNamed + 1; n < maxSyscall; n++ {
		call := libseccomp.ScmpSyscall(n)
		if _, err := call.GetName(); err != nil {
			continue
		}
		if err := f.AddRule(call, enosys); err != nil {
			return fmt.Errorf("seccomp: ENOSYS rule for syscall %d: %w", n, err)
		}
	}
	return nil
}

// Load builds and loads the filter on the calling thread. With
// SCMP_ACT_NOTIFY rules it returns the notification fd, else -1.
func Load(s *specs.LinuxSeccomp) (int, error) {
	f, err := Build(s)
	if err != nil {
		return -1, err
	}
	defer f.Release()
	if err := f.Load(); err != nil {
		return -1, fmt.Errorf("load seccomp filter: %w", err)
	}
	if !NeedsListener(s) {
		return -1, nil
	}
	fd, err := f.GetNotifFd()
	if err != nil {
		return -1, fmt.Errorf("seccomp notify fd: %w", err)
	}
	return int(fd), nil
}
