#include "textflag.h"

// func rawVforkClone3(args, size uintptr) (pid, errno uintptr)
//
// clone3(2) for a child that shares this address space and runs on this
// stack until it calls execve or exits (CLONE_VM|CLONE_VFORK in args): the
// return address is kept in R12, which the kernel preserves for the parent,
// because the child's calls overwrite the stack slot it was in.
TEXT ·rawVforkClone3(SB),NOSPLIT|NOFRAME,$0-32
	MOVQ	args+0(FP), DI
	MOVQ	size+8(FP), SI
	MOVQ	$0, DX
	MOVQ	$0, R10
	MOVQ	$0, R8
	MOVQ	$0, R9
	MOVQ	$435, AX // SYS_clone3
	POPQ	R12
	SYSCALL
	PUSHQ	R12
	CMPQ	AX, $0xfffffffffffff001
	JLS	ok
	NEGQ	AX
	MOVQ	$0, pid+16(FP)
	MOVQ	AX, errno+24(FP)
	RET
ok:
	MOVQ	AX, pid+16(FP)
	MOVQ	$0, errno+24(FP)
	RET

// func rawCloneVM(args, size uintptr, p *childPlan) (pid, errno uintptr)
//
// clone3(2) for a child that shares this address space but runs on a stack
// of its own (clone_args.stack, outside the Go heap) while the parent goes
// on (CLONE_VM without CLONE_VFORK). The child calls runChildVM(p), which
// never returns; the plan's pointer crosses the clone in R13, which the
// kernel preserves.
TEXT ·rawCloneVM(SB),NOSPLIT|NOFRAME,$0-40
	MOVQ	args+0(FP), DI
	MOVQ	size+8(FP), SI
	MOVQ	p+16(FP), R13
	MOVQ	$0, DX
	MOVQ	$0, R10
	MOVQ	$0, R8
	MOVQ	$0, R9
	MOVQ	$435, AX // SYS_clone3
	SYSCALL
	CMPQ	AX, $0
	JEQ	child
	CMPQ	AX, $0xfffffffffffff001
	JLS	ok
	NEGQ	AX
	MOVQ	$0, pid+24(FP)
	MOVQ	AX, errno+32(FP)
	RET
ok:
	MOVQ	AX, pid+24(FP)
	MOVQ	$0, errno+32(FP)
	RET
child:
	// SP is the top of the child's own stack. ABI0 call: the argument at 0(SP).
	ANDQ	$~15, SP
	SUBQ	$16, SP
	MOVQ	R13, 0(SP)
	CALL	·runChildVM(SB)
	MOVQ	$126, DI
	MOVQ	$231, AX // SYS_exit_group: not reached
	SYSCALL
	INT	$3
