// Package seccomp describes seccomp filters as data and compiles them to
// classic BPF in pure Go (github.com/elastic/go-seccomp-bpf), for containers
// of package [github.com/ctrkit/container].
//
// A container gets the default policy, [Default], without this package: the
// root package carries it precompiled for each architecture with a system
// call table here (amd64, arm64, 386, arm), and its init only loads the
// bytes. Import this package for a policy of your own, or to print and review
// the default one, and pass it to New with [WithPolicy]:
//
//	p := seccomp.Default()
//	p.Rules = append([]seccomp.Rule{{Names: []string{"ptrace"}, Action: seccomp.Errno(1)}}, p.Rules...)
//	c, err := container.New(rootfs, cmd, seccomp.WithPolicy(p))
//
// The compiler lives here and not in the root package because package
// initialisation is not free: go-seccomp-bpf builds the system call tables of
// five architectures when a program starts, and every container's init is the
// caller's binary started again, so a program that imports this package pays
// for them in each of its containers (0.3 ms and 165 KB of allocations,
// measured on bench/ctrrun); one that imports only the root package does not.
package seccomp

import (
	"fmt"
	"strings"

	"github.com/ctrkit/container"
	"github.com/ctrkit/container/internal/seccompopt"
)

// Action is what the filter does with a system call: one of Allow, Log,
// [KillProcess], or Errno(errno). Its value is the kernel's SECCOMP_RET_* word.
type Action uint32

// The actions a policy can take. The zero Action is not a valid action.
const (
	// Allow lets the system call run.
	Allow Action = 0x7fff0000 // SECCOMP_RET_ALLOW
	// Log lets the system call run and logs it to the kernel's audit log.
	Log Action = 0x7ffc0000 // SECCOMP_RET_LOG
	// KillProcess kills the whole process with SIGSYS.
	KillProcess Action = 0x80000000 // SECCOMP_RET_KILL_PROCESS
)

const (
	retErrno  = 0x00050000 // SECCOMP_RET_ERRNO
	retAction = 0xffff0000 // SECCOMP_RET_ACTION_FULL
	retData   = 0x0000ffff // SECCOMP_RET_DATA

	// Linux errno values (the same on x86, arm and arm64); the pure code must
	// not depend on the build platform's syscall package.
	linuxEPERM  = 1
	linuxENOSYS = 38
)

// Errno returns the action that fails the system call with errno, a Linux
// errno value between 1 and 4095 (for example unix.EPERM), without running it.
func Errno(errno uint16) Action { return Action(retErrno | uint32(errno)) }

var linuxErrnoNames = map[uint16]string{
	1: "EPERM", 2: "ENOENT", 5: "EIO", 9: "EBADF", 13: "EACCES", 14: "EFAULT", 16: "EBUSY",
	22: "EINVAL", 38: "ENOSYS", 95: "EOPNOTSUPP", 97: "EAFNOSUPPORT",
}

// String names the action: "allow", "log", "kill-process" or "errno EPERM".
func (a Action) String() string {
	switch {
	case a == Allow:
		return "allow"
	case a == Log:
		return "log"
	case a == KillProcess:
		return "kill-process"
	case a&retAction == retErrno:
		e := uint16(a & retData)
		if n, ok := linuxErrnoNames[e]; ok {
			return "errno " + n
		}
		return fmt.Sprintf("errno %d", e)
	}
	return fmt.Sprintf("Action(%#x)", uint32(a))
}

func (a Action) valid() bool {
	switch {
	case a == Allow, a == Log, a == KillProcess:
		return true
	case a&retAction == retErrno:
		e := a & retData
		return e >= 1 && e <= 4095
	}
	return false
}

// Op compares a system call argument with a value.
type Op uint8

// The comparisons. All compare the full 64-bit argument.
const (
	Equal        Op = iota + 1 // arg == value
	NotEqual                   // arg != value
	Greater                    // arg > value (unsigned)
	GreaterEqual               // arg >= value (unsigned)
	Less                       // arg < value (unsigned)
	LessEqual                  // arg <= value (unsigned)
	BitsSet                    // arg & value != 0
	BitsClear                  // arg & value == 0
)

var opSymbols = map[Op]string{
	Equal: "==", NotEqual: "!=", Greater: ">", GreaterEqual: ">=", Less: "<", LessEqual: "<=",
	BitsSet: "has any of", BitsClear: "has none of",
}

// Arg is a condition on one argument of a system call.
type Arg struct {
	Index int // the argument, 0 to 5
	Op    Op
	Value uint64
}

// String renders the condition as it appears in [Policy.String].
func (a Arg) String() string {
	return fmt.Sprintf("arg%d %s %#x", a.Index, opSymbols[a.Op], a.Value)
}

// Rule gives the system calls named in Names the action Action, if all of
// Args hold (a rule without Args always applies). Rules are tried in order and
// the first that applies decides. Names are Linux's system call names
// ("openat", "clone"); a name only another architecture has is skipped on this
// one, a name no architecture has makes the policy invalid (see [Known]).
//
// Argument checks cost: a system call whose outcome depends on its arguments
// runs the filter on every call, one that does not is decided once by the
// kernel's action cache. Keep Args off hot system calls.
type Rule struct {
	Names  []string
	Action Action
	Args   []Arg
}

// Policy is a seccomp filter as data. Build one by hand, or start from
// [Default], and pass it to [WithPolicy].
//
// A system call that no rule decides gets DefaultAction if the system call
// table of this package knows its number, and UnknownAction otherwise (a
// system call newer than the table, or a hole in the numbering): UnknownAction
// should be Errno(ENOSYS), so that a C library falls back to an older call, as
// glibc does from clone3 to clone. A zero UnknownAction means DefaultAction.
//
// Every other ABI of the machine is closed in front of the rules: on x86_64 an
// i386 system call (int 0x80) or an x32 one (number with bit 30 set) gets
// DefaultAction, or errno EPERM when DefaultAction lets calls through
// (a denylist), so that no policy can be bypassed through a second ABI.
type Policy struct {
	DefaultAction Action
	UnknownAction Action
	Rules         []Rule
}

// foreignAction is what a system call of another ABI gets.
func (p *Policy) foreignAction() Action {
	if p.DefaultAction == Allow || p.DefaultAction == Log {
		return Errno(linuxEPERM)
	}
	return p.DefaultAction
}

func (p *Policy) unknownAction() Action {
	if p.UnknownAction == 0 {
		return p.DefaultAction
	}
	return p.UnknownAction
}

// String prints the policy for review: one line per rule, in order.
func (p *Policy) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "default: %v\n", p.DefaultAction)
	fmt.Fprintf(&b, "unknown syscalls: %v\n", p.unknownAction())
	fmt.Fprintf(&b, "other ABIs: %v\n", p.foreignAction())
	for _, r := range p.Rules {
		fmt.Fprintf(&b, "%v: %s", r.Action, strings.Join(r.Names, " "))
		for i, a := range r.Args {
			if i == 0 {
				b.WriteString(" if ")
			} else {
				b.WriteString(" and ")
			}
			b.WriteString(a.String())
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// clone copies the policy, so that a caller's later changes do not reach a
// Container built from it.
func (p *Policy) clone() *Policy {
	c := &Policy{DefaultAction: p.DefaultAction, UnknownAction: p.UnknownAction}
	for _, r := range p.Rules {
		c.Rules = append(c.Rules, Rule{
			Names:  append([]string(nil), r.Names...),
			Action: r.Action,
			Args:   append([]Arg(nil), r.Args...),
		})
	}
	return c
}

// Known reports whether name is a system call of one of the architectures
// this package has a system call table for (x86_64, i386, x32, aarch64, arm);
// a [Rule] naming another makes [WithPolicy] fail.
func Known(name string) bool {
	for _, a := range allArches {
		if _, ok := a.SyscallNames[name]; ok {
			return true
		}
	}
	return false
}

func (p *Policy) validate() error {
	if !p.DefaultAction.valid() {
		return fmt.Errorf("invalid default action %v", p.DefaultAction)
	}
	if p.UnknownAction != 0 && !p.UnknownAction.valid() {
		return fmt.Errorf("invalid unknown-syscall action %v", p.UnknownAction)
	}
	for i, r := range p.Rules {
		if !r.Action.valid() {
			return fmt.Errorf("rule %d: invalid action %v", i, r.Action)
		}
		if len(r.Names) == 0 {
			return fmt.Errorf("rule %d: no system call names", i)
		}
		for _, n := range r.Names {
			if !Known(n) {
				return fmt.Errorf("rule %d: unknown system call %q", i, n)
			}
		}
		if len(r.Args) > 6 {
			return fmt.Errorf("rule %d: more than 6 argument conditions", i)
		}
		for _, a := range r.Args {
			if a.Index < 0 || a.Index > 5 {
				return fmt.Errorf("rule %d: argument index %d out of range 0-5", i, a.Index)
			}
			if _, ok := opSymbols[a.Op]; !ok {
				return fmt.Errorf("rule %d: unknown comparison %d", i, a.Op)
			}
		}
	}
	return nil
}

// WithPolicy replaces the container's default seccomp policy ([Default])
// with p. The policy is copied when WithPolicy is called, and compiled to BPF
// by [container.New] (once per process for equal policies). New fails with a
// [*container.OptionError] for "seccomp.WithPolicy" if p is nil or invalid or
// this package has no system call table for the machine's architecture, and
// with one for "WithoutSeccomp" if the options also hold
// [container.WithoutSeccomp]. Start loads the filter in the container with
// seccomp(2) SECCOMP_SET_MODE_FILTER and the TSYNC and TSYNC_ESRCH flags, as
// the last step before execve; if the kernel refuses it, Start fails.
//
// The init still runs a few system calls under the policy: close_range and
// execve, and whatever the Go runtime needs meanwhile (futex, rt_sigreturn,
// sched_yield, nanosleep, mmap, madvise); with [container.WithNewPrivileges]
// also capset and prctl; with [github.com/ctrkit/container/oci.WithStartHook]
// what starting and waiting for a program takes. A policy that kills on those
// kills the container at start, and Wait then reports SIGSYS.
func WithPolicy(p *Policy) container.Option {
	return seccompopt.WithProgram("seccomp.WithPolicy", program(p)).(container.Option)
}

// program returns what New calls to compile p: a copy of p taken now,
// compiled for the machine's architecture on the first call.
func program(p *Policy) func() ([]byte, error) {
	if p == nil {
		return func() ([]byte, error) { return nil, errNilPolicy }
	}
	cp := p.clone()
	return func() ([]byte, error) { return compileCached(cp) }
}
