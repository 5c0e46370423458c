// Package devicebpf builds and attaches the cgroup v2 eBPF device program
// for a devices.Set, with github.com/cilium/ebpf. Package oci installs Attach
// as devices.AttachProgram; nothing else imports it.
package devicebpf

import (
	"fmt"

	"github.com/cilium/ebpf/asm"
	"github.com/ctrkit/container/internal/devices"
)

// The device types of struct bpf_cgroup_dev_ctx's access_type (its low 16
// bits; the accesses are the high 16): BPF_DEVCG_DEV_BLOCK and _CHAR.
const (
	devBlock = 1
	devChar  = 2
)

// License is the license string the program is loaded with. It uses no
// helper function, so the kernel asks for no GPL-compatible one.
const License = "Apache-2.0"

// Program returns a BPF_PROG_TYPE_CGROUP_DEVICE program that decides as set
// does (see devices.Set): one block per exception, tried in order; a device
// that no exception decides gets the default.
//
//	R2 = device type, R3 = accesses asked for, R4 = major, R5 = minor
//	exception (default deny):  type, major, minor match and R3 within its accesses: return 1
//	exception (default allow): type, major, minor match and R3 meets its accesses:  return 0
//	return default
func Program(set devices.Set) asm.Instructions {
	insts := asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, 0, asm.Word), // access_type
		asm.Mov.Reg32(asm.R3, asm.R2),
		asm.And.Imm32(asm.R2, 0xffff),
		asm.RSh.Imm32(asm.R3, 16),
		asm.LoadMem(asm.R4, asm.R1, 4, asm.Word), // major
		asm.LoadMem(asm.R5, asm.R1, 8, asm.Word), // minor
	}
	label := func(i int) string { return fmt.Sprintf("exception%d", i) }
	for i, e := range set.Exceptions {
		next := label(i + 1)
		typ := int32(devChar)
		if e.Type == 'b' {
			typ = devBlock
		}
		block := asm.Instructions{asm.JNE.Imm32(asm.R2, typ, next)}
		if e.Major >= 0 {
			block = append(block, asm.JNE.Imm32(asm.R4, int32(uint32(e.Major)), next))
		}
		if e.Minor >= 0 {
			block = append(block, asm.JNE.Imm32(asm.R5, int32(uint32(e.Minor)), next))
		}
		if set.DefaultAllow {
			// A deny exception: any of its accesses asked for denies.
			if e.Access != devices.All {
				block = append(block, asm.Mov.Reg32(asm.R1, asm.R3), asm.And.Imm32(asm.R1, int32(e.Access)),
					asm.JEq.Imm32(asm.R1, 0, next))
			}
			block = append(block, asm.Mov.Imm32(asm.R0, 0), asm.Return())
		} else {
			// An allow exception: it allows only when it has every access
			// asked for.
			if e.Access != devices.All {
				block = append(block, asm.Mov.Reg32(asm.R1, asm.R3), asm.And.Imm32(asm.R1, int32(devices.All&^e.Access)),
					asm.JNE.Imm32(asm.R1, 0, next))
			}
			block = append(block, asm.Mov.Imm32(asm.R0, 1), asm.Return())
		}
		block[0] = block[0].WithSymbol(label(i))
		insts = append(insts, block...)
	}
	def := int32(0)
	if set.DefaultAllow {
		def = 1
	}
	return append(insts, asm.Mov.Imm32(asm.R0, def).WithSymbol(label(len(set.Exceptions))), asm.Return())
}
