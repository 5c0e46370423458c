package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"

	elastic "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/net/bpf"
)

// The compiler: a policy is assembled into classic BPF with go-seccomp-bpf,
// once per process and policy, in the parent, and the finished program is
// sent to the init, which only loads it (the root package's seccomp_linux.go).

var errNilPolicy = errors.New("nil policy")

// arches are the Go architectures this package compiles for, with their
// system call tables. All four are little-endian, which is the byte order of
// the programs compile writes.
var arches = map[string]*arch.Info{
	"amd64": arch.X86_64,
	"386":   arch.I386,
	"arm64": arch.AARCH64,
	"arm":   arch.ARM,
}

// allArches are the system call tables a name is checked against.
var allArches = []*arch.Info{arch.X86_64, arch.I386, arch.X32, arch.AARCH64, arch.ARM}

func archInfo(goarch string) (*arch.Info, error) {
	if a, ok := arches[goarch]; ok {
		return a, nil
	}
	names := make([]string, 0, len(arches))
	for n := range arches {
		names = append(names, n)
	}
	slices.Sort(names)
	return nil, fmt.Errorf("no system call table for %s (there are tables for %s): %w",
		goarch, strings.Join(names, ", "), errors.ErrUnsupported)
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
	placeholder = elastic.ActionTrace
)

var elasticOps = map[Op]elastic.Operation{
	Equal: elastic.Equal, NotEqual: elastic.NotEqual,
	Greater: elastic.GreaterThan, GreaterEqual: elastic.GreaterOrEqual,
	Less: elastic.LessThan, LessEqual: elastic.LessOrEqual,
	BitsSet: elastic.BitsSet, BitsClear: elastic.BitsNotSet,
}

// group is one rule's system calls on one architecture, in the rule's order.
type group struct {
	action Action
	calls  []elastic.SyscallWithConditions
	label  string // which rule it comes from, for errors
}

// assemble compiles the policy for the architecture native. The program is an
// ABI guard (foreign architecture, x32) followed by the rules in order, a rule
// sending every other known system call to DefaultAction, and UnknownAction.
func (p *Policy) assemble(native *arch.Info) ([]bpf.Instruction, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	var groups []group
	decided := map[string]bool{} // names some unconditional rule decides
	for ri, r := range p.Rules {
		g := group{action: r.Action, label: fmt.Sprintf("rule %d (%s)", ri, r.Names[0])}
		seen := map[string]bool{}
		for _, n := range r.Names {
			nr, ok := native.SyscallNames[n]
			if !ok || seen[n] || (decided[n] && len(r.Args) == 0) {
				continue // another architecture's, or already decided: unreachable here
			}
			seen[n] = true
			call := elastic.SyscallWithConditions{Num: uint32(nr)}
			if len(r.Args) == 0 {
				decided[n] = true
			} else {
				conds := make(elastic.ArgumentConditions, len(r.Args))
				for i, a := range r.Args {
					conds[i] = elastic.Condition{Argument: uint32(a.Index), Operation: elasticOps[a.Op], Value: a.Value}
				}
				call.Conditions = []elastic.ArgumentConditions{conds}
			}
			g.calls = append(g.calls, call)
		}
		if len(g.calls) > 0 {
			groups = append(groups, g)
		}
	}
	if p.unknownAction() != p.DefaultAction {
		rest := group{action: p.DefaultAction, label: "default action"}
		// In number order; the numbers are sparse (arm's private calls are at
		// 0xf0001 and up), so sort the table's rather than count up to them.
		for _, nr := range slices.Sorted(maps.Keys(native.SyscallNumbers)) {
			if n := native.SyscallNumbers[nr]; !decided[n] {
				rest.calls = append(rest.calls, elastic.SyscallWithConditions{Num: uint32(nr)})
			}
		}
		if len(rest.calls) > 0 {
			groups = append(groups, rest)
		}
	}
	// Each rule is assembled on its own and the pieces are chained: elastic's
	// assembler leaves an argument in the accumulator after a failed condition,
	// so every piece ends by loading the system call number again.
	var body []bpf.Instruction
	for _, g := range groups {
		piece, err := g.assemble()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", g.label, err)
		}
		body = append(body, piece...)
	}
	body = append(body, bpf.RetConstant{Val: uint32(p.unknownAction())})
	foreign := bpf.RetConstant{Val: uint32(p.foreignAction())}
	guard := []bpf.Instruction{
		bpf.LoadAbsolute{Off: offArch, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(native.ID), SkipTrue: 1},
		foreign,
		bpf.LoadAbsolute{Off: offNr, Size: 4},
	}
	if native == arch.X86_64 {
		guard = append(guard,
			bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: x32SyscallBit, SkipFalse: 1},
			foreign,
		)
	}
	return append(guard, body...), nil
}

// assemble assembles the group with elastic's assembler, as elastic's
// SyscallGroup.Assemble does (which takes its system call numbers from the
// build machine's table only), ending in a reload of the system call number
// where elastic would return its default action. It expects the system call
// number in the accumulator.
func (g group) assemble() ([]bpf.Instruction, error) {
	prog := elastic.NewProgram()
	action, next := prog.NewLabel(), prog.NewLabel()
	for i, c := range g.calls {
		c.Assemble(&prog, i < len(g.calls)-1, action, next)
	}
	prog.SetLabel(action)
	prog.Ret(elastic.Action(g.action))
	prog.SetLabel(next)
	prog.Ret(placeholder)
	body, err := prog.Assemble()
	if err != nil {
		return nil, err
	}
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

// compile assembles the policy for the Go architecture goarch into the
// kernel's struct sock_filter array in that architecture's byte order, ready
// for seccomp(2).
func (p *Policy) compile(goarch string) ([]byte, error) {
	native, err := archInfo(goarch)
	if err != nil {
		return nil, err
	}
	insts, err := p.assemble(native)
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
		out = binary.LittleEndian.AppendUint16(out, r.Op)
		out = append(out, r.Jt, r.Jf)
		out = binary.LittleEndian.AppendUint32(out, r.K)
	}
	return out, nil
}

// programs caches compiled programs by the policy's text, so that each
// policy is compiled once per process however many containers use it.
var programs sync.Map // string → []byte

// compileCached compiles p for the machine's architecture, once per process
// and policy text.
func compileCached(p *Policy) ([]byte, error) {
	key := p.String()
	if prog, ok := programs.Load(key); ok {
		return prog.([]byte), nil
	}
	prog, err := p.compile(runtime.GOARCH)
	if err != nil {
		return nil, err
	}
	prog2, _ := programs.LoadOrStore(key, prog)
	return prog2.([]byte), nil
}
