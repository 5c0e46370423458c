package container

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/net/bpf"
)

// Seccomp: the policy is plain data that can be printed and reviewed; it is
// compiled to a classic BPF program in pure Go (github.com/elastic/go-seccomp-bpf)
// once per process and policy, in the parent, and the finished program is sent
// to the init, which only loads it (seccomp_linux.go).

// SeccompAction is what the filter does with a system call: one of SeccompAllow,
// SeccompLog, SeccompKillProcess, or SeccompErrno(errno). Its value is the
// kernel's SECCOMP_RET_* word.
type SeccompAction uint32

// The actions a policy can take. The zero SeccompAction is not a valid action.
const (
	// SeccompAllow lets the system call run.
	SeccompAllow SeccompAction = 0x7fff0000 // SECCOMP_RET_ALLOW
	// SeccompLog lets the system call run and logs it to the kernel's audit log.
	SeccompLog SeccompAction = 0x7ffc0000 // SECCOMP_RET_LOG
	// SeccompKillProcess kills the whole process with SIGSYS.
	SeccompKillProcess SeccompAction = 0x80000000 // SECCOMP_RET_KILL_PROCESS
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

// SeccompErrno returns the action that fails the system call with errno, a
// Linux errno value between 1 and 4095 (for example unix.EPERM), without running it.
func SeccompErrno(errno uint16) SeccompAction { return SeccompAction(retErrno | uint32(errno)) }

var linuxErrnoNames = map[uint16]string{
	1: "EPERM", 2: "ENOENT", 5: "EIO", 9: "EBADF", 13: "EACCES", 14: "EFAULT", 16: "EBUSY",
	22: "EINVAL", 38: "ENOSYS", 95: "EOPNOTSUPP", 97: "EAFNOSUPPORT",
}

// String names the action: "allow", "log", "kill-process" or "errno EPERM".
func (a SeccompAction) String() string {
	switch {
	case a == SeccompAllow:
		return "allow"
	case a == SeccompLog:
		return "log"
	case a == SeccompKillProcess:
		return "kill-process"
	case a&retAction == retErrno:
		e := uint16(a & retData)
		if n, ok := linuxErrnoNames[e]; ok {
			return "errno " + n
		}
		return fmt.Sprintf("errno %d", e)
	}
	return fmt.Sprintf("SeccompAction(%#x)", uint32(a))
}

func (a SeccompAction) valid() bool {
	switch {
	case a == SeccompAllow, a == SeccompLog, a == SeccompKillProcess:
		return true
	case a&retAction == retErrno:
		e := a & retData
		return e >= 1 && e <= 4095
	}
	return false
}

// SeccompOp compares a system call argument with a value.
type SeccompOp uint8

// The comparisons. All compare the full 64-bit argument.
const (
	SeccompEqual        SeccompOp = iota + 1 // arg == value
	SeccompNotEqual                          // arg != value
	SeccompGreater                           // arg > value (unsigned)
	SeccompGreaterEqual                      // arg >= value (unsigned)
	SeccompLess                              // arg < value (unsigned)
	SeccompLessEqual                         // arg <= value (unsigned)
	SeccompBitsSet                           // arg & value != 0
	SeccompBitsClear                         // arg & value == 0
)

var seccompOps = map[SeccompOp]struct {
	sym string
	op  seccomp.Operation
}{
	SeccompEqual: {"==", seccomp.Equal}, SeccompNotEqual: {"!=", seccomp.NotEqual},
	SeccompGreater: {">", seccomp.GreaterThan}, SeccompGreaterEqual: {">=", seccomp.GreaterOrEqual},
	SeccompLess: {"<", seccomp.LessThan}, SeccompLessEqual: {"<=", seccomp.LessOrEqual},
	SeccompBitsSet: {"has any of", seccomp.BitsSet}, SeccompBitsClear: {"has none of", seccomp.BitsNotSet},
}

// SeccompArg is a condition on one argument of a system call.
type SeccompArg struct {
	Index int // the argument, 0 to 5
	Op    SeccompOp
	Value uint64
}

// String renders the condition as it appears in SeccompPolicy.String.
func (a SeccompArg) String() string {
	return fmt.Sprintf("arg%d %s %#x", a.Index, seccompOps[a.Op].sym, a.Value)
}

// SeccompRule gives the system calls named in Names the action Action, if all
// of Args hold (a rule without Args always applies). Rules are tried in order
// and the first that applies decides. Names are Linux's system call names
// ("openat", "clone"); a name only another architecture has is skipped on this
// one, a name no architecture has makes the policy invalid.
//
// Argument checks cost: a system call whose outcome depends on its arguments
// runs the filter on every call, one that does not is decided once by the
// kernel's action cache. Keep Args off hot system calls.
type SeccompRule struct {
	Names  []string
	Action SeccompAction
	Args   []SeccompArg
}

// SeccompPolicy is a seccomp filter as data. Build one by hand, or start from
// DefaultSeccompPolicy, and pass it to WithSeccomp.
//
// A system call that no rule decides gets DefaultAction if the syscall table of
// this library knows its number, and UnknownAction otherwise (a system call newer
// than the table, or a hole in the numbering): UnknownAction should be
// SeccompErrno(ENOSYS), so that a C library falls back to an older call, as
// glibc does from clone3 to clone. A zero UnknownAction means DefaultAction.
//
// Every other ABI of the machine is closed in front of the rules: on x86_64 an
// i386 system call (int 0x80) or an x32 one (number with bit 30 set) gets
// DefaultAction, or errno EPERM when DefaultAction lets calls through
// (a denylist), so that no policy can be bypassed through a second ABI.
type SeccompPolicy struct {
	DefaultAction SeccompAction
	UnknownAction SeccompAction
	Rules         []SeccompRule
}

// foreignAction is what a system call of another ABI gets.
func (p *SeccompPolicy) foreignAction() SeccompAction {
	if p.DefaultAction == SeccompAllow || p.DefaultAction == SeccompLog {
		return SeccompErrno(linuxEPERM)
	}
	return p.DefaultAction
}

func (p *SeccompPolicy) unknownAction() SeccompAction {
	if p.UnknownAction == 0 {
		return p.DefaultAction
	}
	return p.UnknownAction
}

// String prints the policy for review: one line per rule, in order.
func (p *SeccompPolicy) String() string {
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
func (p *SeccompPolicy) clone() *SeccompPolicy {
	c := &SeccompPolicy{DefaultAction: p.DefaultAction, UnknownAction: p.UnknownAction}
	for _, r := range p.Rules {
		c.Rules = append(c.Rules, SeccompRule{
			Names:  append([]string(nil), r.Names...),
			Action: r.Action,
			Args:   append([]SeccompArg(nil), r.Args...),
		})
	}
	return c
}

// allArches are the syscall tables a name is checked against.
var allArches = []*arch.Info{arch.X86_64, arch.I386, arch.X32, arch.AARCH64, arch.ARM}

func knownAnywhere(name string) bool {
	for _, a := range allArches {
		if _, ok := a.SyscallNames[name]; ok {
			return true
		}
	}
	return false
}

func (p *SeccompPolicy) validate() error {
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
			if !knownAnywhere(n) {
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
			if _, ok := seccompOps[a.Op]; !ok {
				return fmt.Errorf("rule %d: unknown comparison %d", i, a.Op)
			}
		}
	}
	return nil
}

// Layout constants of the generated program.
const (
	// the x32 ABI's bit in a system call number (asm/unistd.h)
	x32SyscallBit = 0x40000000
	// seccomp_data offsets.
	offNr   = 0
	offArch = 4
	// elastic's default action in each piece, where the piece falls through to
	// the next one: replaced by a reload of the system call number.
	placeholder = seccomp.ActionTrace
)

// assemble compiles the policy for the native architecture. The program is an
// ABI guard (foreign architecture, x32) followed by the rules in order, a rule
// sending every other known system call to DefaultAction, and UnknownAction.
func (p *SeccompPolicy) assemble() ([]bpf.Instruction, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	native, err := arch.GetInfo("")
	if err != nil {
		return nil, fmt.Errorf("no system call table for this architecture: %w", err)
	}
	var groups []seccomp.SyscallGroup
	var labels []string          // which rule each group comes from, for errors
	decided := map[string]bool{} // names some unconditional rule decides
	for ri, r := range p.Rules {
		g := seccomp.SyscallGroup{Action: seccomp.Action(r.Action)}
		seen := map[string]bool{}
		for _, n := range r.Names {
			if _, ok := native.SyscallNames[n]; !ok || seen[n] || (decided[n] && len(r.Args) == 0) {
				continue // another architecture's, or already decided: unreachable here
			}
			seen[n] = true
			if len(r.Args) == 0 {
				g.Names = append(g.Names, n)
				decided[n] = true
				continue
			}
			conds := make(seccomp.ArgumentConditions, len(r.Args))
			for i, a := range r.Args {
				conds[i] = seccomp.Condition{Argument: uint32(a.Index), Operation: seccompOps[a.Op].op, Value: a.Value}
			}
			g.NamesWithCondtions = append(g.NamesWithCondtions, seccomp.NameWithConditions{Name: n, Conditions: conds})
		}
		if len(g.Names)+len(g.NamesWithCondtions) > 0 {
			groups = append(groups, g)
			labels = append(labels, fmt.Sprintf("rule %d (%s)", ri, r.Names[0]))
		}
	}
	if p.unknownAction() != p.DefaultAction {
		rest := seccomp.SyscallGroup{Action: seccomp.Action(p.DefaultAction)}
		for nr := 0; nr <= maxNr(native); nr++ {
			if n, ok := native.SyscallNumbers[nr]; ok && !decided[n] {
				rest.Names = append(rest.Names, n)
			}
		}
		if len(rest.Names) > 0 {
			groups = append(groups, rest)
			labels = append(labels, "default action")
		}
	}
	// Each rule is assembled on its own and the pieces are chained: elastic's
	// assembler leaves an argument in the accumulator after a failed condition,
	// so every piece ends by loading the system call number again.
	var body []bpf.Instruction
	for i, g := range groups {
		piece, err := assembleGroup(g, native)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", labels[i], err)
		}
		body = append(body, piece...)
	}
	body = append(body, bpf.RetConstant{Val: uint32(p.unknownAction())})
	foreign := bpf.RetConstant{Val: uint32(p.foreignAction())}
	guard := []bpf.Instruction{
		bpf.LoadAbsolute{Off: offArch, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(native.ID), SkipTrue: 1},
		foreign,
	}
	if native.ID == arch.X86_64.ID {
		guard = append(guard,
			bpf.LoadAbsolute{Off: offNr, Size: 4},
			bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: x32SyscallBit, SkipFalse: 1},
			foreign,
		)
	}
	return append(guard, body...), nil
}

// assembleGroup assembles one group with elastic, without its architecture
// prelude, ending in a reload of the system call number where elastic would
// return its default action.
func assembleGroup(g seccomp.SyscallGroup, native *arch.Info) ([]bpf.Instruction, error) {
	ep := seccomp.Policy{DefaultAction: placeholder, Syscalls: []seccomp.SyscallGroup{g}}
	insts, err := ep.Assemble()
	if err != nil {
		return nil, err
	}
	start := -1
	for i, in := range insts {
		if la, ok := in.(bpf.LoadAbsolute); ok && la.Off == offNr {
			start = i + 1
			break
		}
	}
	if native.ID == arch.X86_64.ID {
		start += 2 // elastic's own x32 check; the guard in front already did it
	}
	if start <= 0 || start > len(insts) {
		return nil, errors.New("unexpected program layout from the assembler")
	}
	body := insts[start:]
	for i, in := range body {
		if r, ok := in.(bpf.RetConstant); ok && r.Val == uint32(placeholder) {
			if i != len(body)-1 {
				return nil, errors.New("too many system calls with argument conditions in one rule: split it")
			}
			body[i] = bpf.LoadAbsolute{Off: offNr, Size: 4}
		}
	}
	return body, nil
}

func maxNr(a *arch.Info) int {
	m := 0
	for nr := range a.SyscallNumbers {
		m = max(m, nr)
	}
	return m
}

// compile assembles the policy into the kernel's struct sock_filter array, in
// native byte order, ready for seccomp(2).
func (p *SeccompPolicy) compile() ([]byte, error) {
	insts, err := p.assemble()
	if err != nil {
		return nil, err
	}
	raw, err := bpf.Assemble(insts)
	if err != nil {
		return nil, err
	}
	if len(raw) > 4096 {
		return nil, fmt.Errorf("program of %d instructions exceeds the kernel's limit of 4096", len(raw))
	}
	out := make([]byte, 0, 8*len(raw))
	for _, r := range raw {
		out = binary.NativeEndian.AppendUint16(out, r.Op)
		out = append(out, r.Jt, r.Jf)
		out = binary.NativeEndian.AppendUint32(out, r.K)
	}
	return out, nil
}

// seccompPrograms caches compiled programs by the policy's text, so that each
// policy is compiled once per process however many containers use it.
var seccompPrograms sync.Map // string → []byte

func compileCached(p *SeccompPolicy) ([]byte, error) {
	key := p.String()
	if prog, ok := seccompPrograms.Load(key); ok {
		return prog.([]byte), nil
	}
	prog, err := p.compile()
	if err != nil {
		return nil, err
	}
	seccompPrograms.Store(key, prog)
	return prog, nil
}

// dockerAllowed is Docker's default allowlist (moby profiles/seccomp/default.json)
// for a container without CAP_SYS_ADMIN on a kernel of 4.8 or later, as the
// profile is from Docker 25.0 on: io_uring_setup, io_uring_enter and
// io_uring_register are not in it (moby#46762, containerd#9320: the
// operations a ring runs are invisible to seccomp, and io_uring was behind
// most of the kernel exploits sent to Google's kCTF); rules with argument
// conditions are in DefaultSeccompPolicy. Names of one architecture
// only (arch_prctl, set_tls) are skipped on the others; ppc64le's and s390's
// extras are left out (no syscall table here).
var dockerAllowed = strings.Fields(`
accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32
clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64
clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2
dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait
epoll_wait_old eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64
fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat fchmodat2 fchown fchown32 fchownat fcntl
fcntl64 fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64
fstatfs fstatfs64 fsync ftruncate ftruncate64 futex futex_time64 futex_waitv futimesat getcpu
getcwd getdents getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups
getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid
getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid getsockname
getsockopt get_thread_area gettid gettimeofday getuid getuid32 getxattr inotify_add_watch
inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents
io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit ipc kill
landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link
linkat listen listxattr llistxattr _llseek
lremovexattr lseek lsetxattr lstat lstat64 madvise membarrier memfd_create memfd_secret mincore
mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify
mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap
msgctl msgget msgrcv msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep
newfstatat _newselect open openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2
pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2
prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read readahead
readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages
removexattr rename renameat renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending
rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait
rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam
sched_get_priority_max sched_get_priority_min sched_getscheduler sched_rr_get_interval
sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam sched_setscheduler
sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64 send sendfile
sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32
setgroups setgroups32 setitimer setpgid setpriority setregid setregid32 setresgid setresgid32
setresuid setresuid32 setreuid setreuid32 setrlimit set_robust_list setsid setsockopt
set_thread_area set_tid_address setuid setuid32 setxattr shmat shmctl shmdt shmget shutdown
sigaltstack signalfd signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64
statfs statfs64 statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time
timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime
timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime
timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat utime
utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev
process_vm_readv process_vm_writev ptrace
arch_prctl modify_ldt
arm_fadvise64_64 arm_sync_file_range breakpoint cacheflush set_tls
`)

// Flags and values the default policy's argument rules use (Linux values).
const (
	// CLONE_NEWNS|CLONE_NEWCGROUP|CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWUSER|CLONE_NEWPID|CLONE_NEWNET
	cloneNamespaceFlags = 0x7e020000
	afALG               = 38
	afVSOCK             = 40
)

// DefaultSeccompPolicy returns a new copy of the policy every container gets
// unless WithSeccomp or WithoutSeccomp says otherwise: Docker's default profile
// for a container without CAP_SYS_ADMIN, as of Docker 25.0 (no io_uring) and
// moby#52494 (no AF_ALG sockets). Known system calls outside the allowlist,
// io_uring_setup, io_uring_enter and io_uring_register among them, fail with
// EPERM; clone3 and system calls the table does not know fail with ENOSYS;
// clone may not create namespaces; socket may not open AF_VSOCK or AF_ALG
// sockets; personality may only select the personalities Docker allows. Only
// clone, socket and personality have argument checks: every other allowed
// system call stays on the kernel's cached fast path.
func DefaultSeccompPolicy() *SeccompPolicy {
	allow := SeccompAllow
	p := &SeccompPolicy{
		DefaultAction: SeccompErrno(linuxEPERM),
		UnknownAction: SeccompErrno(linuxENOSYS),
		// The rules with argument checks go first: the kernel runs the filter
		// for them on every call, so they should not have to walk the allowlist.
		Rules: []SeccompRule{
			{Names: []string{"clone"}, Action: allow, Args: []SeccompArg{{Index: 0, Op: SeccompBitsClear, Value: cloneNamespaceFlags}}},
			{Names: []string{"socket"}, Action: allow, Args: []SeccompArg{
				{Index: 0, Op: SeccompNotEqual, Value: afVSOCK}, {Index: 0, Op: SeccompNotEqual, Value: afALG}}},
		},
	}
	for _, pers := range []uint64{0x0, 0x8, 0x20000, 0x20008, 0xffffffff} {
		p.Rules = append(p.Rules, SeccompRule{Names: []string{"personality"}, Action: allow,
			Args: []SeccompArg{{Index: 0, Op: SeccompEqual, Value: pers}}})
	}
	p.Rules = append(p.Rules,
		SeccompRule{Names: []string{"clone3"}, Action: SeccompErrno(linuxENOSYS)},
		SeccompRule{Names: append([]string(nil), dockerAllowed...), Action: allow},
	)
	return p
}

// securityConfig is the security part of a container's configuration.
type securityConfig struct {
	seccomp    *SeccompPolicy // nil: the default policy
	noSeccomp  bool
	program    []byte // the compiled filter, set by finish
	caps       capMask
	capsAsked  capMask // capabilities named by WithCapabilities or WithCapAdd
	newPrivs   bool
	seccompSet bool
}

// securityInit is what the init needs to lock itself down, computed by the parent.
type securityInit struct {
	Seccomp    []byte // struct sock_filter array, native byte order; empty: no filter
	Bounding   uint64 // capability bits kept in the bounding set
	Permitted  uint64 // permitted and effective
	Ambient    uint64 // inheritable and ambient
	NoNewPrivs bool
}

// defaultProgram is the default policy's program. Compiling it takes a few
// milliseconds, which a program that starts one container per process (a CLI,
// examples/run) would pay every time: where the build has it pregenerated for
// the architecture (seccomp_default_amd64.go, checked against compile by
// TestDefaultProgramPregenerated), it costs nothing.
var defaultProgram = sync.OnceValues(func() ([]byte, error) {
	if pregeneratedDefaultProgram != "" {
		return []byte(pregeneratedDefaultProgram), nil
	}
	return compileCached(DefaultSeccompPolicy())
})

// finish compiles the seccomp filter (once per process and policy).
func (s *securityConfig) finish() error {
	if s.noSeccomp {
		if s.seccompSet {
			return optErr("WithoutSeccomp", nil, "conflicts with WithSeccomp")
		}
		return nil
	}
	var err error
	if s.seccomp == nil {
		if s.program, err = defaultProgram(); err != nil {
			return &OptionError{Option: "seccomp", Err: fmt.Errorf("default policy: %w (WithoutSeccomp turns it off)", err)}
		}
		return nil
	}
	if s.program, err = compileCached(s.seccomp); err != nil {
		return optErr("WithSeccomp", nil, "%w", err)
	}
	return nil
}

func (s *securityConfig) initSecurity(uid uint32) securityInit {
	si := securityInit{Seccomp: s.program, Bounding: uint64(s.caps), NoNewPrivs: !s.newPrivs}
	if uid == 0 {
		si.Permitted = uint64(s.caps)
	} else {
		// A user other than root gets only what was asked for by name, as
		// ambient capabilities (the only kind execve keeps for a non-root user).
		si.Permitted = uint64(s.caps & s.capsAsked)
		si.Ambient = si.Permitted
	}
	return si
}

// WithSeccomp replaces the default seccomp policy (DefaultSeccompPolicy) with
// p. The policy is copied and compiled to BPF by New (once per process for
// equal policies); New fails if it is invalid. Start loads it in the container
// with seccomp(2) SECCOMP_SET_MODE_FILTER and the TSYNC and TSYNC_ESRCH flags, as
// the last step before execve; if the kernel refuses it, Start fails.
//
// The init still runs a few system calls under the policy: close_range and
// execve, and whatever the Go runtime needs meanwhile (futex, rt_sigreturn,
// sched_yield, nanosleep, mmap, madvise); with WithNewPrivileges also capset and
// prctl; with WithStartHook what starting and waiting for a program takes. A policy that kills on those kills the container at start, and Wait
// then reports SIGSYS.
func WithSeccomp(p *SeccompPolicy) Option {
	return optionFunc(func(c *config) error {
		if p == nil {
			return optErr("WithSeccomp", nil, "nil policy")
		}
		cp := p.clone()
		if err := cp.validate(); err != nil {
			return optErr("WithSeccomp", nil, "%w", err)
		}
		c.security.seccomp = cp
		c.security.seccompSet = true
		return nil
	})
}

// WithoutSeccomp runs the container without a seccomp filter. Capabilities and
// no_new_privs still apply.
func WithoutSeccomp() Option {
	return optionFunc(func(c *config) error {
		c.security.noSeccomp = true
		return nil
	})
}
