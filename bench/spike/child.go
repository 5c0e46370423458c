//go:build linux && amd64

package main

import (
	"syscall"
	"unsafe"
)

// The child side: everything between clone3 and execve. It runs on the
// parent's stack and in its address space (CLONE_VM|CLONE_VFORK: the calling
// thread is suspended until the child execs or exits; the parent's other
// threads keep running), so it must not allocate, take a lock, grow the stack
// or call anything that is not nosplit. It only walks the program the parent
// planned (plan.go) and issues its raw system calls.

// Step kinds.
const (
	opSys    = iota // a raw system call
	opCheck         // fstat(fd): the file type (and device) must match, or skip / fail
	opJump          // skip the next skip steps
	opOr16          // *ptr |= a[0] (16 bits): the flags of an ifreq between get and set
	opCopy32        // *ptr = *ptr2 (32 bits): capget's permitted set into its effective one
)

// step is one instruction of the child's program.
type step struct {
	trap uintptr    // system call number (opSys)
	a    [6]uintptr // its arguments; opCheck: a[0] fd, a[1] S_IFMT type, a[2] rdev (0: any)
	ptr  unsafe.Pointer
	ptr2 unsafe.Pointer
	kind uint8
	// want, if not -1, is the result the call must return: the fd number the
	// parent planned (a later step names /proc/self/fd/N), 0 for seccomp's
	// TSYNC thread id. Anything else fails the step with EBADE.
	want int64
	// skipErr: an errno that is not a failure but skips the next skip steps
	// (ENOENT for a mask of a path the kernel lacks). opCheck: a mismatch skips
	// skip steps when skip > 0 and fails with EINVAL otherwise.
	skipErr, skipErr2 syscall.Errno
	skip              int32
}

// record is what the child writes to the error pipe before it exits.
type record struct {
	Step  uint32
	Errno uint32
}

// childFD is where the child moves the error pipe's write end (close-on-exec),
// before it closes every other inherited descriptor: the descriptors it then
// opens are numbered from childFD+1 up, as the parent planned.
const childFD = 3

// childPlan is the memory the child reads and writes. The parent keeps it and
// every buffer its steps point to alive until the child is gone.
type childPlan struct {
	steps  []step
	errFD  uintptr // the pipe's write end in the parent's numbering
	dupped int     // index of the step that moves errFD to childFD
	stat   syscall.Stat_t
	rec    record
	// times, with -profile: CLOCK_MONOTONIC after AfterForkInChild
	// (times[0]) and after each step i (times[i+1]), which the parent
	// reads once the child is gone (the memory is shared).
	times []int64
	ts    syscall.Timespec
	// oldMask, with -vm: the parent thread's signal mask, which it fills in
	// just before it blocks every signal and clones; the child's plan
	// restores it (sigSteps).
	oldMask uint64
}

// stamp records the time in p.times[k], if profiling.
//
//go:nosplit
//go:norace
func stamp(p *childPlan, k int) {
	if p.times == nil {
		return
	}
	syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, 1 /* CLOCK_MONOTONIC */, uintptr(unsafe.Pointer(&p.ts)), 0)
	// The planner sized times; no bounds check (it would call the runtime).
	*(*int64)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(p.times)), uintptr(k)*8)) = p.ts.Sec*1e9 + p.ts.Nsec
}

//go:linkname runtimeBeforeFork syscall.runtime_BeforeFork
func runtimeBeforeFork()

//go:linkname runtimeAfterFork syscall.runtime_AfterFork
func runtimeAfterFork()

//go:linkname runtimeAfterForkInChild syscall.runtime_AfterForkInChild
func runtimeAfterForkInChild()

func rawVforkClone3(args, size uintptr) (pid, errno uintptr)

// forkChild clones the child and, in the child, runs p. In the parent it
// returns as soon as the kernel resumes it (the child has exec'd or exited),
// using nothing of this frame but rawVforkClone3's results, which are
// written after the child is gone. The caller calls runtimeAfterFork.
//
//go:nosplit
//go:norace
func forkChild(p *childPlan, args *cloneArgs) (pid uintptr, errno uintptr) {
	runtimeBeforeFork()
	pid, errno = rawVforkClone3(uintptr(unsafe.Pointer(args)), unsafe.Sizeof(*args))
	if errno != 0 || pid != 0 {
		return
	}
	// The child. Signal handlers back to the defaults, the signal mask back
	// to the thread's (BeforeFork blocked every signal).
	stamp(p, len(p.steps)+1) // the child runs
	runtimeAfterForkInChild()
	runChild(p)
	return // never reached: runChild ends in execve or exit
}

func rawCloneVM(args, size uintptr, p *childPlan) (pid, errno uintptr)

// runChildVM is the child of rawCloneVM, on its own stack: it has no
// goroutine of its own (the g register still names the parent's), so it
// runs nothing of the runtime, not even AfterForkInChild: the plan itself
// resets the signal handlers and restores the signal mask (sigSteps).
//
//go:nosplit
//go:norace
func runChildVM(p *childPlan) {
	stamp(p, len(p.steps)+1)
	runChild(p)
}

// runChild interprets the plan. It never returns.
//
//go:nosplit
//go:norace
func runChild(p *childPlan) {
	n := len(p.steps)
	base := unsafe.Pointer(unsafe.SliceData(p.steps))
	stamp(p, 0)
	for i := 0; i < n; i++ {
		if i > 0 {
			stamp(p, i)
		}
		// &p.steps[i] without the bounds check's call into the runtime
		// (TestChildCallsNoRuntime): 0 <= i < n.
		s := (*step)(unsafe.Add(base, uintptr(i)*unsafe.Sizeof(step{})))
		switch s.kind {
		case opSys:
			r, _, e := syscall.RawSyscall6(s.trap, s.a[0], s.a[1], s.a[2], s.a[3], s.a[4], s.a[5])
			if e != 0 {
				if e == s.skipErr || e == s.skipErr2 {
					i += int(s.skip)
					continue
				}
				childFail(p, i, uintptr(e))
			}
			if s.want >= 0 && int64(r) != s.want {
				childFail(p, i, uintptr(syscall.EBADE))
			}
		case opCheck:
			_, _, e := syscall.RawSyscall(syscall.SYS_FSTAT, s.a[0], uintptr(unsafe.Pointer(&p.stat)), 0)
			if e != 0 {
				childFail(p, i, uintptr(e))
			}
			if uintptr(p.stat.Mode&syscall.S_IFMT) != s.a[1] || s.a[2] != 0 && uintptr(p.stat.Rdev) != s.a[2] {
				if s.skip > 0 {
					i += int(s.skip)
					continue
				}
				childFail(p, i, uintptr(syscall.EINVAL))
			}
		case opJump:
			i += int(s.skip)
		case opOr16:
			*(*uint16)(s.ptr) |= uint16(s.a[0])
		case opCopy32:
			*(*uint32)(s.ptr) = *(*uint32)(s.ptr2)
		}
	}
	childFail(p, n, uintptr(syscall.ENOEXEC)) // the program ends in execve
}

// childFail writes the failed step and its errno to the error pipe and exits.
//
//go:nosplit
//go:norace
func childFail(p *childPlan, i int, errno uintptr) {
	fd := uintptr(childFD)
	if i <= p.dupped {
		fd = p.errFD
	}
	p.rec = record{Step: uint32(i), Errno: uint32(errno)}
	syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p.rec)), unsafe.Sizeof(p.rec))
	for {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 125, 0, 0)
	}
}

// cloneArgs is struct clone_args (linux/sched.h), up to the cgroup field.
type cloneArgs struct {
	flags      uint64
	pidfd      uint64
	childTID   uint64
	parentTID  uint64
	exitSignal uint64
	stack      uint64
	stackSize  uint64
	tls        uint64
	setTID     uint64
	setTIDSize uint64
	cgroup     uint64
}
