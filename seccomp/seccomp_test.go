package seccomp

import (
	"encoding/binary"
	"errors"
	"maps"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/ctrkit/container"
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

func runFilter(t *testing.T, p *Policy, native *arch.Info) func(nr int32, auditArch uint32, args ...uint64) Action {
	t.Helper()
	insts, err := p.assemble(native)
	if err != nil {
		t.Fatalf("assemble: %v", err)
	}
	vm, err := bpf.NewVM(insts)
	if err != nil {
		t.Fatalf("NewVM: %v", err)
	}
	return func(nr int32, auditArch uint32, args ...uint64) Action {
		r, err := vm.Run(seccompData(nr, auditArch, args...))
		if err != nil {
			t.Fatalf("run: %v", err)
		}
		return Action(uint32(r))
	}
}

// forEachArch runs f for every architecture the package compiles for, as a
// subtest named by GOARCH: the programs are data, so every architecture's is
// checked on any machine.
func forEachArch(t *testing.T, f func(t *testing.T, native *arch.Info)) {
	for _, goarch := range slices.Sorted(maps.Keys(arches)) {
		t.Run(goarch, func(t *testing.T) { f(t, arches[goarch]) })
	}
}

func TestDefaultPolicyInVM(t *testing.T) { forEachArch(t, testDefaultPolicyInVM) }

func testDefaultPolicyInVM(t *testing.T, native *arch.Info) {
	run := runFilter(t, Default(), native)
	nr := func(name string) int32 {
		n, ok := native.SyscallNames[name]
		if !ok {
			t.Fatalf("no %s on %s", name, native.Name)
		}
		return int32(n)
	}
	id := uint32(native.ID)
	eperm, enosys := Errno(linuxEPERM), Errno(linuxENOSYS)
	const (
		cloneNewUser = 0x10000000
		cloneThread  = 0x00010000 | 0x00000100 | 0x00000200 | 0x00000400 | 0x00000800 // THREAD|VM|FS|FILES|SIGHAND
		afInet       = 2
	)
	tests := []struct {
		name string
		nr   int32
		args []uint64
		want Action
	}{
		{"read", nr("read"), nil, Allow},
		{"openat", nr("openat"), nil, Allow},
		{"execve", nr("execve"), nil, Allow},
		{"close_range", nr("close_range"), nil, Allow},
		{"futex", nr("futex"), nil, Allow},
		{"ptrace", nr("ptrace"), nil, Allow},
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
		{"clone thread", nr("clone"), []uint64{cloneThread}, Allow},
		{"clone fork", nr("clone"), []uint64{17 /* SIGCHLD */}, Allow},
		{"clone newuser", nr("clone"), []uint64{cloneNewUser | 17}, eperm},
		{"clone newuser in high word", nr("clone"), []uint64{1<<32 | cloneNewUser}, eperm},
		{"clone3", nr("clone3"), nil, enosys},
		{"socket inet", nr("socket"), []uint64{afInet}, Allow},
		{"socket vsock", nr("socket"), []uint64{afVSOCK}, eperm},
		{"socket alg", nr("socket"), []uint64{afALG}, eperm},
		{"personality query", nr("personality"), []uint64{0xffffffff}, Allow},
		{"personality linux", nr("personality"), []uint64{0}, Allow},
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
		if native == arch.I386 {
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
		if native != arch.X86_64 {
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
func TestDefaultPolicyAllowedAreConstant(t *testing.T) {
	forEachArch(t, testDefaultPolicyAllowedAreConstant)
}

func testDefaultPolicyAllowedAreConstant(t *testing.T, native *arch.Info) {
	insts, err := Default().assemble(native)
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
		if loadsArgs || res != uint32(Allow) {
			t.Errorf("%s: result %v, loads arguments %v; want a constant allow", name, Action(res), loadsArgs)
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

func TestCustomPolicies(t *testing.T) { forEachArch(t, testCustomPolicies) }

func testCustomPolicies(t *testing.T, native *arch.Info) {
	id := uint32(native.ID)
	nr := func(name string) int32 { return int32(native.SyscallNames[name]) }

	t.Run("denylist", func(t *testing.T) {
		run := runFilter(t, &Policy{
			DefaultAction: Allow,
			Rules: []Rule{
				{Names: []string{"mkdirat", "mkdir"}, Action: Errno(13)},
				{Names: []string{"kill"}, Action: Errno(linuxEPERM), Args: []Arg{{Index: 1, Op: Equal, Value: 9}}},
			},
		}, native)
		for _, tt := range []struct {
			nr   int32
			args []uint64
			want Action
		}{
			{nr("mkdirat"), nil, Errno(13)},
			{nr("read"), nil, Allow},
			{nr("kill"), []uint64{1, 9}, Errno(linuxEPERM)},
			{nr("kill"), []uint64{1, 15}, Allow},
			{1500, nil, Allow},
		} {
			if got := run(tt.nr, id, tt.args...); got != tt.want {
				t.Errorf("nr %d %v: got %v, want %v", tt.nr, tt.args, got, tt.want)
			}
		}
		// A denylist must not be bypassed through another ABI.
		if got := run(3, uint32(arch.I386.ID)); native != arch.I386 && got != Errno(linuxEPERM) {
			t.Errorf("foreign arch: got %v, want errno EPERM", got)
		}
	})
	t.Run("allowlist with per-syscall errno", func(t *testing.T) {
		run := runFilter(t, &Policy{
			DefaultAction: KillProcess,
			Rules: []Rule{
				{Names: []string{"read", "write", "exit_group"}, Action: Allow},
				{Names: []string{"openat"}, Action: Errno(2)},
				{Names: []string{"write"}, Action: Errno(5)}, // unreachable: write is decided above
			},
		}, native)
		for _, tt := range []struct {
			nr   int32
			want Action
		}{
			{nr("read"), Allow}, {nr("write"), Allow}, {nr("openat"), Errno(2)},
			{nr("mount"), KillProcess}, {1500, KillProcess},
		} {
			if got := run(tt.nr, id); got != tt.want {
				t.Errorf("nr %d: got %v, want %v", tt.nr, got, tt.want)
			}
		}
	})
	t.Run("argument comparisons", func(t *testing.T) {
		ops := []struct {
			op   Op
			f    func(a, v uint64) bool
			name string
		}{
			{Equal, func(a, v uint64) bool { return a == v }, "eq"},
			{NotEqual, func(a, v uint64) bool { return a != v }, "ne"},
			{Greater, func(a, v uint64) bool { return a > v }, "gt"},
			{GreaterEqual, func(a, v uint64) bool { return a >= v }, "ge"},
			{Less, func(a, v uint64) bool { return a < v }, "lt"},
			{LessEqual, func(a, v uint64) bool { return a <= v }, "le"},
			{BitsSet, func(a, v uint64) bool { return a&v != 0 }, "set"},
			{BitsClear, func(a, v uint64) bool { return a&v == 0 }, "clear"},
		}
		values := []uint64{0, 1, 0xffffffff, 1 << 32, 1<<32 | 1, 0xffffffffffffffff}
		for _, o := range ops {
			for _, v := range values {
				run := runFilter(t, &Policy{DefaultAction: Errno(linuxEPERM), Rules: []Rule{
					{Names: []string{"ioctl"}, Action: Allow, Args: []Arg{{Index: 2, Op: o.op, Value: v}}},
				}}, native)
				for _, a := range values {
					want := Errno(linuxEPERM)
					if o.f(a, v) {
						want = Allow
					}
					if got := run(nr("ioctl"), id, 0, 0, a); got != want {
						t.Errorf("arg2=%#x %s %#x: got %v, want %v", a, o.name, v, got, want)
					}
				}
			}
		}
	})
}

func TestPolicyValidation(t *testing.T) {
	for _, tt := range []struct {
		name string
		p    *Policy
		want string
	}{
		{"no default", &Policy{}, "invalid default action"},
		{"errno 0", &Policy{DefaultAction: Errno(0)}, "invalid default action"},
		{"unknown name", &Policy{DefaultAction: Allow, Rules: []Rule{{Names: []string{"opne"}, Action: Errno(1)}}}, `unknown system call "opne"`},
		{"bad index", &Policy{DefaultAction: Allow, Rules: []Rule{{Names: []string{"read"}, Action: Errno(1), Args: []Arg{{Index: 6, Op: Equal}}}}}, "argument index 6"},
		{"bad op", &Policy{DefaultAction: Allow, Rules: []Rule{{Names: []string{"read"}, Action: Errno(1), Args: []Arg{{Index: 0}}}}}, "unknown comparison"},
		{"no names", &Policy{DefaultAction: Allow, Rules: []Rule{{Action: Errno(1)}}}, "no system call names"},
		{"nil", nil, "nil policy"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := container.New(t.TempDir(), []string{"true"}, WithPolicy(tt.p))
			var oe *container.OptionError
			if !errors.As(err, &oe) || oe.Option != "seccomp.WithPolicy" || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: got %v, want a seccomp.WithPolicy OptionError containing %q", err, tt.want)
			}
		})
	}
	_, err := container.New(t.TempDir(), []string{"true"}, WithPolicy(Default()), container.WithoutSeccomp())
	var oe *container.OptionError
	if !errors.As(err, &oe) || !strings.Contains(err.Error(), "conflicts with seccomp.WithPolicy") {
		t.Errorf("WithPolicy with WithoutSeccomp: got %v, want an OptionError naming the conflict", err)
	}
	if _, err := Default().compile("riscv64"); !errors.Is(err, errors.ErrUnsupported) || !strings.Contains(err.Error(), "riscv64") {
		t.Errorf("compile for an architecture without a table: got %v, want an error naming it that wraps errors.ErrUnsupported", err)
	}
}

func TestCompiledOncePerPolicy(t *testing.T) {
	if _, ok := arches[runtime.GOARCH]; !ok {
		t.Skipf("skipping: no system call table for %s", runtime.GOARCH)
	}
	p := &Policy{DefaultAction: Allow, Rules: []Rule{{Names: []string{"acct"}, Action: Errno(1)}}}
	prog1 := program(p)
	p.Rules[0].Names[0] = "reboot" // the option keeps its own copy
	prog2 := program(&Policy{DefaultAction: Allow, Rules: []Rule{{Names: []string{"acct"}, Action: Errno(1)}}})
	a, err := prog1()
	if err != nil {
		t.Fatal(err)
	}
	b, err := prog2()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) == 0 || &a[0] != &b[0] {
		t.Error("equal policies were compiled twice, or the option followed the caller's change")
	}
	c, err := program(p)()
	if err != nil {
		t.Fatal(err)
	}
	if &a[0] == &c[0] {
		t.Error("different policies share a program")
	}
	if _, err := container.New(t.TempDir(), []string{"true"}, WithPolicy(p)); err != nil {
		t.Errorf("New with a valid policy: %v", err)
	}
}

func BenchmarkCompileDefaultPolicy(b *testing.B) {
	p := Default()
	for b.Loop() {
		if _, err := p.compile(runtime.GOARCH); err != nil {
			b.Fatal(err)
		}
	}
}

// decide is the policy's meaning, read straight from its rules: the first
// rule that names the system call and whose conditions all hold decides; a
// number the table knows gets DefaultAction, one it does not UnknownAction;
// another ABI gets the foreign action. The compiled program must agree with
// it on every input (TestProgramMatchesPolicy).
func decide(p *Policy, native *arch.Info, nr, auditArch uint32, args []uint64) Action {
	if auditArch != uint32(native.ID) || (native == arch.X86_64 && nr >= x32SyscallBit) {
		return p.foreignAction()
	}
	for _, r := range p.Rules {
		named := false
		for _, n := range r.Names {
			if v, ok := native.SyscallNames[n]; ok && uint32(v) == nr {
				named = true
			}
		}
		if !named {
			continue
		}
		holds := true
		for _, a := range r.Args {
			v := args[a.Index]
			var ok bool
			switch a.Op {
			case Equal:
				ok = v == a.Value
			case NotEqual:
				ok = v != a.Value
			case Greater:
				ok = v > a.Value
			case GreaterEqual:
				ok = v >= a.Value
			case Less:
				ok = v < a.Value
			case LessEqual:
				ok = v <= a.Value
			case BitsSet:
				ok = v&a.Value != 0
			case BitsClear:
				ok = v&a.Value == 0
			}
			holds = holds && ok
		}
		if holds {
			return r.Action
		}
	}
	if _, ok := native.SyscallNumbers[int(nr)]; ok {
		return p.DefaultAction
	}
	return p.unknownAction()
}

// TestProgramMatchesPolicy runs the compiled program for every system call
// number up to past the table's last (and the numbers around each
// architecture's private range and the x32 bit), with argument values around
// every value a rule compares with, and checks each result against decide.
func TestProgramMatchesPolicy(t *testing.T) {
	forEachArch(t, func(t *testing.T, native *arch.Info) {
		custom := &Policy{DefaultAction: Errno(1), UnknownAction: Errno(38), Rules: []Rule{
			{Names: []string{"read", "write"}, Action: Allow},
			{Names: []string{"openat"}, Action: Errno(13), Args: []Arg{{Index: 2, Op: BitsSet, Value: 3}}},
			{Names: []string{"openat", "close"}, Action: Allow},
			{Names: []string{"ioctl"}, Action: Allow, Args: []Arg{{Index: 1, Op: Equal, Value: 0x5401}}},
			{Names: []string{"ioctl"}, Action: Errno(25), Args: []Arg{{Index: 1, Op: Greater, Value: 1 << 33}, {Index: 0, Op: LessEqual, Value: 2}}},
			{Names: []string{"kill"}, Action: KillProcess},
		}}
		for name, p := range map[string]*Policy{"default": Default(), "custom": custom} {
			run := runFilter(t, p, native)
			values := map[uint64]bool{0: true, 1: true, ^uint64(0): true}
			for _, r := range p.Rules {
				for _, a := range r.Args {
					for _, v := range []uint64{a.Value - 1, a.Value, a.Value + 1, a.Value | 1<<40} {
						values[v] = true
					}
				}
			}
			var nrs []uint32
			maxNr := uint32(0)
			for nr := range native.SyscallNumbers {
				maxNr = max(maxNr, uint32(nr))
			}
			for nr := uint32(0); nr <= 1100; nr++ {
				nrs = append(nrs, nr)
			}
			for _, nr := range []uint32{maxNr, maxNr + 1, 0xf0000, 0xf0001, 0xf0005, 0xf0006, x32SyscallBit - 1, x32SyscallBit, x32SyscallBit + 1, ^uint32(0)} {
				nrs = append(nrs, nr)
			}
			vals := slices.Sorted(maps.Keys(values))
			checked := 0
			for _, nr := range nrs {
				for _, auditArch := range []uint32{uint32(native.ID), uint32(arch.I386.ID), 0} {
					argSets := [][]uint64{make([]uint64, 6)}
					if auditArch == uint32(native.ID) && nr <= 1100 {
						for i, v := range vals {
							a := make([]uint64, 6)
							for j := range a {
								a[j] = vals[(i+j)%len(vals)]
							}
							a[i%6] = v
							argSets = append(argSets, a)
						}
					}
					for _, args := range argSets {
						want := decide(p, native, nr, auditArch, args)
						if got := run(int32(nr), auditArch, args...); got != want {
							t.Fatalf("%s: nr %d arch %#x args %#x: program says %v, the policy %v", name, nr, auditArch, args, got, want)
						}
						checked++
					}
				}
			}
			t.Logf("%s: %d inputs", name, checked)
		}
	})
}

// TestProgramSearches: a system call allowed without conditions costs the
// filter a few comparisons, not one per rule (the kernel runs the filter for
// every number when it loads it, and then for every call its cache cannot
// answer).
func TestProgramSearches(t *testing.T) {
	forEachArch(t, func(t *testing.T, native *arch.Info) {
		insts, err := Default().assemble(native)
		if err != nil {
			t.Fatal(err)
		}
		worst := 0
		for nr := range native.SyscallNumbers {
			n := 0
			var a uint32
			for pc := 0; pc < len(insts); pc++ {
				n++
				switch in := insts[pc].(type) {
				case bpf.LoadAbsolute:
					if in.Off == offArch {
						a = uint32(native.ID)
					} else {
						a = uint32(nr)
					}
				case bpf.JumpIf:
					if (in.Cond == bpf.JumpEqual && a == in.Val) || (in.Cond == bpf.JumpGreaterOrEqual && a >= in.Val) {
						pc += int(in.SkipTrue)
					} else if in.Cond == bpf.JumpEqual || in.Cond == bpf.JumpGreaterOrEqual {
						pc += int(in.SkipFalse)
					} else {
						pc = len(insts) // an argument check: not a constant path
					}
				case bpf.Jump:
					pc += int(in.Skip)
				default:
					pc = len(insts)
				}
			}
			worst = max(worst, n)
		}
		t.Logf("%d instructions, at most %d run to decide a number", len(insts), worst)
		if worst > 40 {
			t.Errorf("up to %d instructions run to decide a system call number: want a search (at most 40)", worst)
		}
	})
}
