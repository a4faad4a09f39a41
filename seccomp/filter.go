package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"unsafe"

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
				if call < 0 {
					continue // a pseudo-syscall of an architecture not in the filter
				}
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

// Program is a compiled filter: raw BPF and the seccomp(2) flags, ready to
// load without allocating (a container's rlimits, a small RLIMIT_AS, apply
// by then). The runtime compiles it, or finds it in the cache, and hands
// the BPF to init, which decodes it and loads it last.
type Program struct {
	filter []unix.SockFilter
	flags  uintptr
	raw    []byte // filter as exported
}

// bpfMaxInsns is the kernel's limit on a classic BPF program (BPF_MAXINSNS).
const bpfMaxInsns = 4096

// Compile builds the filter and exports its BPF.
func Compile(s *specs.LinuxSeccomp) (*Program, error) {
	raw, err := exportBPF(s)
	if err != nil {
		return nil, err
	}
	return Decode(raw, s)
}

// exportBPF builds the filter with libseccomp and returns its raw BPF.
func exportBPF(s *specs.LinuxSeccomp) ([]byte, error) {
	f, err := Build(s)
	if err != nil {
		return nil, err
	}
	defer f.Release()
	fd, err := unix.MemfdCreate("seccomp-bpf", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("seccomp: memfd: %w", err)
	}
	mem := os.NewFile(uintptr(fd), "seccomp-bpf")
	defer mem.Close()
	if err := f.ExportBPF(mem); err != nil {
		return nil, fmt.Errorf("seccomp: export BPF: %w", err)
	}
	raw, err := io.ReadAll(io.NewSectionReader(mem, 0, 1<<24))
	if err != nil {
		return nil, fmt.Errorf("seccomp: read BPF: %w", err)
	}
	return raw, nil
}

// Decode makes the program for s from its raw BPF (as Compile exported
// it); the seccomp(2) flags come from s.
func Decode(raw []byte, s *specs.LinuxSeccomp) (*Program, error) {
	return FromBPF(raw, flagsFor(s))
}

// FromBPF makes a program from raw BPF and seccomp(2) flags, as another
// process's Program.BPF and Program.Flags gave them.
func FromBPF(raw []byte, flags uintptr) (*Program, error) {
	if len(raw) == 0 || len(raw)%8 != 0 || len(raw)/8 > bpfMaxInsns {
		return nil, fmt.Errorf("seccomp: BPF program of %d bytes", len(raw))
	}
	p := &Program{filter: make([]unix.SockFilter, len(raw)/8), raw: raw, flags: flags}
	for i := range p.filter {
		b := raw[i*8:]
		p.filter[i] = unix.SockFilter{
			Code: binary.NativeEndian.Uint16(b[0:]), Jt: b[2], Jf: b[3], K: binary.NativeEndian.Uint32(b[4:]),
		}
	}
	return p, nil
}

// flagsFor is the seccomp(2) flags loading s takes.
func flagsFor(s *specs.LinuxSeccomp) uintptr {
	var flags uintptr
	for _, fl := range s.Flags {
		switch fl {
		case specs.LinuxSeccompFlagLog:
			flags |= unix.SECCOMP_FILTER_FLAG_LOG
		case specs.LinuxSeccompFlagSpecAllow:
			flags |= unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
		case specs.LinuxSeccompFlagWaitKillableRecv:
			// The kernel takes it only with a listener (EINVAL
			// otherwise); without one it has nothing to change, as
			// with libseccomp.
			if NeedsListener(s) {
				flags |= unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
			}
		}
	}
	if NeedsListener(s) {
		flags |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
	}
	return flags
}

// BPF returns the program's raw BPF, for FromBPF in another process.
func (p *Program) BPF() []byte { return p.raw }

// Flags returns the seccomp(2) flags the program loads with.
func (p *Program) Flags() uintptr { return p.flags }

// Load installs the program on the calling thread. With SCMP_ACT_NOTIFY
// rules it returns the notification fd, else -1.
func (p *Program) Load() (int, error) {
	prog := unix.SockFprog{Len: uint16(len(p.filter)), Filter: &p.filter[0]}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, p.flags, uintptr(unsafe.Pointer(&prog)))
	if errno != 0 {
		return -1, fmt.Errorf("load seccomp filter: %w", errno)
	}
	if p.flags&unix.SECCOMP_FILTER_FLAG_NEW_LISTENER != 0 {
		return int(r), nil
	}
	return -1, nil
}
