package container

import (
	"encoding/binary"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/net/bpf"
)

// seccompData builds the kernel's struct seccomp_data for the BPF VM, which
// loads words big-endian: each 32-bit word is written big-endian at the offset
// where the kernel's native layout has it.
func seccompData(nr int32, auditArch uint32, args ...uint64) []byte {
	b := make([]byte, 64)
	binary.BigEndian.PutUint32(b[0:], uint32(nr))
	binary.BigEndian.PutUint32(b[4:], auditArch)
	little := binary.NativeEndian.Uint16([]byte{1, 0}) == 1
	for i, a := range args {
		off := 16 + 8*i
		lo, hi := off, off+4
		if !little {
			lo, hi = off+4, off
		}
		binary.BigEndian.PutUint32(b[lo:], uint32(a))
		binary.BigEndian.PutUint32(b[hi:], uint32(a>>32))
	}
	return b
}

func runFilter(t *testing.T, p *SeccompPolicy) func(nr int32, auditArch uint32, args ...uint64) SeccompAction {
	t.Helper()
	insts, err := p.assemble()
	if err != nil {
		t.Fatalf("assemble: %v", err)
	}
	vm, err := bpf.NewVM(insts)
	if err != nil {
		t.Fatalf("NewVM: %v", err)
	}
	return func(nr int32, auditArch uint32, args ...uint64) SeccompAction {
		r, err := vm.Run(seccompData(nr, auditArch, args...))
		if err != nil {
			t.Fatalf("run: %v", err)
		}
		return SeccompAction(uint32(r))
	}
}

func nativeArch(t *testing.T) *arch.Info {
	a, err := arch.GetInfo("")
	if err != nil {
		t.Skipf("skipping: no syscall table for %s: %v", runtime.GOARCH, err)
	}
	return a
}

func TestDefaultSeccompPolicyInVM(t *testing.T) {
	native := nativeArch(t)
	run := runFilter(t, DefaultSeccompPolicy())
	nr := func(name string) int32 {
		n, ok := native.SyscallNames[name]
		if !ok {
			t.Fatalf("no %s on %s", name, native.Name)
		}
		return int32(n)
	}
	id := uint32(native.ID)
	eperm, enosys := SeccompErrno(linuxEPERM), SeccompErrno(linuxENOSYS)
	const (
		cloneNewUser = 0x10000000
		cloneThread  = 0x00010000 | 0x00000100 | 0x00000200 | 0x00000400 | 0x00000800 // THREAD|VM|FS|FILES|SIGHAND
		afInet       = 2
	)
	tests := []struct {
		name string
		nr   int32
		args []uint64
		want SeccompAction
	}{
		{"read", nr("read"), nil, SeccompAllow},
		{"openat", nr("openat"), nil, SeccompAllow},
		{"execve", nr("execve"), nil, SeccompAllow},
		{"close_range", nr("close_range"), nil, SeccompAllow},
		{"futex", nr("futex"), nil, SeccompAllow},
		{"ptrace", nr("ptrace"), nil, SeccompAllow},
		{"mount", nr("mount"), nil, eperm},
		{"unshare", nr("unshare"), nil, eperm},
		{"reboot", nr("reboot"), nil, eperm},
		{"init_module", nr("init_module"), nil, eperm},
		{"keyctl", nr("keyctl"), nil, eperm},
		{"bpf", nr("bpf"), nil, eperm},
		{"userfaultfd", nr("userfaultfd"), nil, eperm},
		{"perf_event_open", nr("perf_event_open"), nil, eperm},
		{"setns", nr("setns"), nil, eperm},
		// Docker 25.0 took io_uring out of the profile (moby#46762).
		{"io_uring_setup", nr("io_uring_setup"), nil, eperm},
		{"io_uring_enter", nr("io_uring_enter"), nil, eperm},
		{"io_uring_register", nr("io_uring_register"), nil, eperm},
		{"clone thread", nr("clone"), []uint64{cloneThread}, SeccompAllow},
		{"clone fork", nr("clone"), []uint64{17 /* SIGCHLD */}, SeccompAllow},
		{"clone newuser", nr("clone"), []uint64{cloneNewUser | 17}, eperm},
		{"clone newuser in high word", nr("clone"), []uint64{1<<32 | cloneNewUser}, eperm},
		{"clone3", nr("clone3"), nil, enosys},
		{"socket inet", nr("socket"), []uint64{afInet}, SeccompAllow},
		{"socket vsock", nr("socket"), []uint64{afVSOCK}, eperm},
		{"socket alg", nr("socket"), []uint64{afALG}, eperm},
		{"personality query", nr("personality"), []uint64{0xffffffff}, SeccompAllow},
		{"personality linux", nr("personality"), []uint64{0}, SeccompAllow},
		{"personality read-implies-exec", nr("personality"), []uint64{0x0400000}, eperm},
		{"unknown number", 1500, nil, enosys},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := run(tt.nr, id, tt.args...); got != tt.want {
				t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
			}
		})
	}

	t.Run("foreign arch", func(t *testing.T) {
		foreign := arch.I386
		if native.ID == arch.I386.ID {
			foreign = arch.X86_64
		}
		// A system call allowed natively is still refused through another ABI.
		if got := run(int32(foreign.SyscallNames["read"]), uint32(foreign.ID)); got != eperm {
			t.Errorf("%s read: got %v, want %v", foreign.Name, got, eperm)
		}
		if got := run(int32(foreign.SyscallNames["unshare"]), uint32(foreign.ID)); got != eperm {
			t.Errorf("%s unshare: got %v, want %v", foreign.Name, got, eperm)
		}
	})
	t.Run("x32", func(t *testing.T) {
		if native.ID != arch.X86_64.ID {
			t.Skipf("skipping: x32 exists only on x86_64, not %s", native.Name)
		}
		for _, name := range []string{"read", "unshare", "execve"} {
			n := int32(arch.X32.SyscallNames[name] | x32SyscallBit)
			if got := run(n, id); got != eperm {
				t.Errorf("x32 %s: got %v, want %v", name, got, eperm)
			}
		}
	})
}

// The allowlist stays on the kernel's constant-action cache: the filter never
// loads an argument on the path of a system call allowed without conditions.
func TestDefaultSeccompPolicyAllowedAreConstant(t *testing.T) {
	native := nativeArch(t)
	insts, err := DefaultSeccompPolicy().assemble()
	if err != nil {
		t.Fatal(err)
	}
	conditional := map[string]bool{"clone": true, "socket": true, "personality": true}
	for _, name := range dockerAllowed {
		n, ok := native.SyscallNames[name]
		if !ok || conditional[name] {
			continue
		}
		res, loadsArgs := symbolic(insts, uint32(n), uint32(native.ID))
		if loadsArgs || res != uint32(SeccompAllow) {
			t.Errorf("%s: result %v, loads arguments %v; want a constant allow", name, SeccompAction(res), loadsArgs)
		}
	}
}

// symbolic runs the program for one system call number like the kernel's
// action-cache check does: it reports whether any argument is loaded.
func symbolic(insts []bpf.Instruction, nr, auditArch uint32) (uint32, bool) {
	var a uint32
	for pc := 0; pc < len(insts); pc++ {
		switch in := insts[pc].(type) {
		case bpf.LoadAbsolute:
			switch in.Off {
			case offNr:
				a = nr
			case offArch:
				a = auditArch
			default:
				return 0, true
			}
		case bpf.JumpIf:
			var ok bool
			switch in.Cond {
			case bpf.JumpEqual:
				ok = a == in.Val
			case bpf.JumpNotEqual:
				ok = a != in.Val
			case bpf.JumpGreaterOrEqual:
				ok = a >= in.Val
			case bpf.JumpGreaterThan:
				ok = a > in.Val
			case bpf.JumpLessThan:
				ok = a < in.Val
			case bpf.JumpLessOrEqual:
				ok = a <= in.Val
			case bpf.JumpBitsSet:
				ok = a&in.Val != 0
			case bpf.JumpBitsNotSet:
				ok = a&in.Val == 0
			}
			if ok {
				pc += int(in.SkipTrue)
			} else {
				pc += int(in.SkipFalse)
			}
		case bpf.Jump:
			pc += int(in.Skip)
		case bpf.RetConstant:
			return in.Val, false
		default:
			return 0, true
		}
	}
	return 0, true
}

func TestCustomSeccompPolicies(t *testing.T) {
	native := nativeArch(t)
	id := uint32(native.ID)
	nr := func(name string) int32 { return int32(native.SyscallNames[name]) }

	t.Run("denylist", func(t *testing.T) {
		run := runFilter(t, &SeccompPolicy{
			DefaultAction: SeccompAllow,
			Rules: []SeccompRule{
				{Names: []string{"mkdirat", "mkdir"}, Action: SeccompErrno(13)},
				{Names: []string{"kill"}, Action: SeccompErrno(linuxEPERM), Args: []SeccompArg{{Index: 1, Op: SeccompEqual, Value: 9}}},
			},
		})
		for _, tt := range []struct {
			nr   int32
			args []uint64
			want SeccompAction
		}{
			{nr("mkdirat"), nil, SeccompErrno(13)},
			{nr("read"), nil, SeccompAllow},
			{nr("kill"), []uint64{1, 9}, SeccompErrno(linuxEPERM)},
			{nr("kill"), []uint64{1, 15}, SeccompAllow},
			{1500, nil, SeccompAllow},
		} {
			if got := run(tt.nr, id, tt.args...); got != tt.want {
				t.Errorf("nr %d %v: got %v, want %v", tt.nr, tt.args, got, tt.want)
			}
		}
		// A denylist must not be bypassed through another ABI.
		if got := run(3, uint32(arch.I386.ID)); native.ID != arch.I386.ID && got != SeccompErrno(linuxEPERM) {
			t.Errorf("foreign arch: got %v, want errno EPERM", got)
		}
	})
	t.Run("allowlist with per-syscall errno", func(t *testing.T) {
		run := runFilter(t, &SeccompPolicy{
			DefaultAction: SeccompKillProcess,
			Rules: []SeccompRule{
				{Names: []string{"read", "write", "exit_group"}, Action: SeccompAllow},
				{Names: []string{"openat"}, Action: SeccompErrno(2)},
				{Names: []string{"write"}, Action: SeccompErrno(5)}, // unreachable: write is decided above
			},
		})
		for _, tt := range []struct {
			nr   int32
			want SeccompAction
		}{
			{nr("read"), SeccompAllow}, {nr("write"), SeccompAllow}, {nr("openat"), SeccompErrno(2)},
			{nr("mount"), SeccompKillProcess}, {1500, SeccompKillProcess},
		} {
			if got := run(tt.nr, id); got != tt.want {
				t.Errorf("nr %d: got %v, want %v", tt.nr, got, tt.want)
			}
		}
	})
	t.Run("argument comparisons", func(t *testing.T) {
		ops := []struct {
			op   SeccompOp
			f    func(a, v uint64) bool
			name string
		}{
			{SeccompEqual, func(a, v uint64) bool { return a == v }, "eq"},
			{SeccompNotEqual, func(a, v uint64) bool { return a != v }, "ne"},
			{SeccompGreater, func(a, v uint64) bool { return a > v }, "gt"},
			{SeccompGreaterEqual, func(a, v uint64) bool { return a >= v }, "ge"},
			{SeccompLess, func(a, v uint64) bool { return a < v }, "lt"},
			{SeccompLessEqual, func(a, v uint64) bool { return a <= v }, "le"},
			{SeccompBitsSet, func(a, v uint64) bool { return a&v != 0 }, "set"},
			{SeccompBitsClear, func(a, v uint64) bool { return a&v == 0 }, "clear"},
		}
		values := []uint64{0, 1, 0xffffffff, 1 << 32, 1<<32 | 1, 0xffffffffffffffff}
		for _, o := range ops {
			for _, v := range values {
				run := runFilter(t, &SeccompPolicy{DefaultAction: SeccompErrno(linuxEPERM), Rules: []SeccompRule{
					{Names: []string{"ioctl"}, Action: SeccompAllow, Args: []SeccompArg{{Index: 2, Op: o.op, Value: v}}},
				}})
				for _, a := range values {
					want := SeccompErrno(linuxEPERM)
					if o.f(a, v) {
						want = SeccompAllow
					}
					if got := run(nr("ioctl"), id, 0, 0, a); got != want {
						t.Errorf("arg2=%#x %s %#x: got %v, want %v", a, o.name, v, got, want)
					}
				}
			}
		}
	})
}

func TestSeccompPolicyValidation(t *testing.T) {
	for _, tt := range []struct {
		name string
		p    *SeccompPolicy
		want string
	}{
		{"no default", &SeccompPolicy{}, "invalid default action"},
		{"errno 0", &SeccompPolicy{DefaultAction: SeccompErrno(0)}, "invalid default action"},
		{"unknown name", &SeccompPolicy{DefaultAction: SeccompAllow, Rules: []SeccompRule{{Names: []string{"opne"}, Action: SeccompErrno(1)}}}, `unknown system call "opne"`},
		{"bad index", &SeccompPolicy{DefaultAction: SeccompAllow, Rules: []SeccompRule{{Names: []string{"read"}, Action: SeccompErrno(1), Args: []SeccompArg{{Index: 6, Op: SeccompEqual}}}}}, "argument index 6"},
		{"bad op", &SeccompPolicy{DefaultAction: SeccompAllow, Rules: []SeccompRule{{Names: []string{"read"}, Action: SeccompErrno(1), Args: []SeccompArg{{Index: 0}}}}}, "unknown comparison"},
		{"no names", &SeccompPolicy{DefaultAction: SeccompAllow, Rules: []SeccompRule{{Action: SeccompErrno(1)}}}, "no system call names"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(t.TempDir(), []string{"true"}, WithSeccomp(tt.p))
			var oe *OptionError
			if !errors.As(err, &oe) || oe.Option != "WithSeccomp" || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: got %v, want a WithSeccomp OptionError containing %q", err, tt.want)
			}
		})
	}
	if _, err := New(t.TempDir(), []string{"true"}, WithSeccomp(nil)); err == nil {
		t.Error("WithSeccomp(nil): no error")
	}
	if _, err := New(t.TempDir(), []string{"true"}, WithSeccomp(DefaultSeccompPolicy()), WithoutSeccomp()); err == nil {
		t.Error("WithSeccomp with WithoutSeccomp: no error")
	}
}

func TestSeccompCompiledOncePerPolicy(t *testing.T) {
	nativeArch(t)
	p := &SeccompPolicy{DefaultAction: SeccompAllow, Rules: []SeccompRule{{Names: []string{"acct"}, Action: SeccompErrno(1)}}}
	c1, err := New(t.TempDir(), []string{"true"}, WithSeccomp(p))
	if err != nil {
		t.Fatal(err)
	}
	p.Rules[0].Names[0] = "reboot" // the container keeps its own copy
	c2, err := New(t.TempDir(), []string{"true"}, WithSeccomp(&SeccompPolicy{DefaultAction: SeccompAllow, Rules: []SeccompRule{{Names: []string{"acct"}, Action: SeccompErrno(1)}}}))
	if err != nil {
		t.Fatal(err)
	}
	a, b := c1.cfg.security.program, c2.cfg.security.program
	if len(a) == 0 || &a[0] != &b[0] {
		t.Error("equal policies were compiled twice")
	}
	if !strings.Contains(c1.cfg.security.seccomp.String(), "acct") {
		t.Error("the container's policy changed with the caller's")
	}
	d, err := New(t.TempDir(), []string{"true"})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.cfg.initConfig().Security.Seccomp) == 0 {
		t.Error("default container has no seccomp program")
	}
	n, err := New(t.TempDir(), []string{"true"}, WithoutSeccomp())
	if err != nil {
		t.Fatal(err)
	}
	if len(n.cfg.initConfig().Security.Seccomp) != 0 {
		t.Error("WithoutSeccomp container has a seccomp program")
	}
}

func BenchmarkCompileDefaultSeccompPolicy(b *testing.B) {
	p := DefaultSeccompPolicy()
	for b.Loop() {
		if _, err := p.compile(); err != nil {
			b.Fatal(err)
		}
	}
}
