package cgroup

import (
	"fmt"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// The kernel's bpf_cgroup_dev_ctx: access_type holds the device type in
// its low 16 bits and the access in the high ones; then major and minor.
const (
	devBlock = 1 // BPF_DEVCG_DEV_BLOCK
	devChar  = 2 // BPF_DEVCG_DEV_CHAR
	accMknod = 1 // BPF_DEVCG_ACC_MKNOD
	accRead  = 2 // BPF_DEVCG_ACC_READ
	accWrite = 4 // BPF_DEVCG_ACC_WRITE
)

func accessBits(access string) int32 {
	var b int32
	if strings.ContainsRune(access, 'm') {
		b |= accMknod
	}
	if strings.ContainsRune(access, 'r') {
		b |= accRead
	}
	if strings.ContainsRune(access, 'w') {
		b |= accWrite
	}
	return b
}

func boolImm(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// deviceProgram compiles an emulated device state into a
// BPF_PROG_TYPE_CGROUP_DEVICE program: each exception is a block that
// returns its verdict when the request matches it (an allow exception when
// the requested access is within its access, a deny exception when they
// share any access, as v1 decides), and the default verdict comes last.
func deviceProgram(s devState) asm.Instructions {
	insts := asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, 0, asm.Word),
		asm.And.Imm32(asm.R2, 0xFFFF), // type
		asm.LoadMem(asm.R3, asm.R1, 0, asm.Word),
		asm.RSh.Imm32(asm.R3, 16),                // access
		asm.LoadMem(asm.R4, asm.R1, 4, asm.Word), // major
		asm.LoadMem(asm.R5, asm.R1, 8, asm.Word), // minor
	}
	label := ""
	add := func(ins asm.Instruction) {
		if label != "" {
			ins = ins.WithSymbol(label)
			label = ""
		}
		insts = append(insts, ins)
	}
	for i, e := range s.exceptions {
		next := fmt.Sprintf("rule%d", i+1)
		typ := int32(devChar)
		if e.typ == 'b' {
			typ = devBlock
		}
		add(asm.JNE.Imm(asm.R2, typ, next))
		acc := accessBits(e.access)
		if e.allow {
			if rest := ^acc & 7; rest != 0 {
				add(asm.Mov.Reg32(asm.R1, asm.R3))
				add(asm.And.Imm32(asm.R1, rest))
				add(asm.JNE.Imm(asm.R1, 0, next))
			}
		} else {
			add(asm.Mov.Reg32(asm.R1, asm.R3))
			add(asm.And.Imm32(asm.R1, acc))
			add(asm.JEq.Imm(asm.R1, 0, next))
		}
		if e.major >= 0 {
			add(asm.JNE.Imm(asm.R4, int32(e.major), next))
		}
		if e.minor >= 0 {
			add(asm.JNE.Imm(asm.R5, int32(e.minor), next))
		}
		add(asm.Mov.Imm32(asm.R0, boolImm(e.allow)))
		add(asm.Return())
		label = next
	}
	add(asm.Mov.Imm32(asm.R0, boolImm(s.defaultAllow)))
	add(asm.Return())
	return insts
}

// attachDeviceFilter loads the program and attaches it to the cgroup2
// directory. The attachment lives as long as the cgroup: no link, no pin.
func attachDeviceFilter(dir string, s devState) error {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         "minirunc_dev",
		Type:         ebpf.CGroupDevice,
		License:      "Apache-2.0",
		Instructions: deviceProgram(s),
	})
	if err != nil {
		return fmt.Errorf("load eBPF device filter: %w", err)
	}
	defer prog.Close()
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(fd)
	err = link.RawAttachProgram(link.RawAttachProgramOptions{
		Target: fd, Program: prog, Attach: ebpf.AttachCGroupDevice, Flags: unix.BPF_F_ALLOW_MULTI,
	})
	if err != nil {
		return fmt.Errorf("attach eBPF device filter to %s: %w", dir, err)
	}
	return nil
}
