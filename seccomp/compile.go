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

// step is one conditional rule on the way to a system call's action: if all
// its conditions hold, action decides.
type step struct {
	action Action
	conds  elastic.ArgumentConditions
	label  string // which rule it comes from, for errors
}

// outcome is what the policy does with one system call number: the
// conditional rules that name it, in order, then final, the action of the
// first unconditional rule that names it (or the default or unknown action).
type outcome struct {
	steps []step
	final Action
}

// interval is a run of system call numbers [lo, hi] with one outcome. Only
// outcomes without steps span more than one number.
type interval struct {
	lo, hi uint32
	out    outcome
}

// assemble compiles the policy for the architecture native. The program is an
// ABI guard (foreign architecture, x32) followed by a binary search on the
// system call number, whose leaves return the number's action, or, for a
// number that some rule decides by its arguments, run that number's
// conditional rules in order. The first rule that applies decides, as the
// policy says; the search costs a system call a few comparisons where a
// chain of rules would cost one per allowed call, and the kernel, which
// runs the filter once per system call number when it loads it (to fill its
// constant-action cache), does that work in a fraction of the time.
func (p *Policy) assemble(native *arch.Info) ([]bpf.Instruction, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	// Every number this architecture's table knows, with its outcome.
	outs := map[uint32]*outcome{}
	for nr := range native.SyscallNumbers {
		outs[uint32(nr)] = &outcome{final: p.DefaultAction}
	}
	decided := map[uint32]bool{}
	for ri, r := range p.Rules {
		label := fmt.Sprintf("rule %d (%s)", ri, r.Names[0])
		seen := map[uint32]bool{}
		for _, n := range r.Names {
			v, ok := native.SyscallNames[n]
			nr := uint32(v)
			if !ok || seen[nr] || decided[nr] {
				continue // another architecture's, or already decided: unreachable here
			}
			seen[nr] = true
			o := outs[nr]
			if o == nil {
				o = &outcome{final: p.DefaultAction}
				outs[nr] = o
			}
			if len(r.Args) == 0 {
				decided[nr] = true
				o.final = r.Action
				continue
			}
			conds := make(elastic.ArgumentConditions, len(r.Args))
			for i, a := range r.Args {
				conds[i] = elastic.Condition{Argument: uint32(a.Index), Operation: elasticOps[a.Op], Value: a.Value}
			}
			o.steps = append(o.steps, step{action: r.Action, conds: conds, label: label})
		}
	}
	// The number line, in runs of one outcome; numbers no table knows get
	// UnknownAction.
	var ivs []interval
	add := func(lo, hi uint32, o outcome) {
		if n := len(ivs); n > 0 && len(o.steps) == 0 && len(ivs[n-1].out.steps) == 0 &&
			ivs[n-1].out.final == o.final && ivs[n-1].hi+1 == lo {
			ivs[n-1].hi = hi
			return
		}
		ivs = append(ivs, interval{lo, hi, o})
	}
	unknown := outcome{final: p.unknownAction()}
	next := uint32(0)
	for _, nr := range slices.Sorted(maps.Keys(outs)) {
		if nr > next {
			add(next, nr-1, unknown)
		}
		add(nr, nr, *outs[nr])
		next = nr + 1
	}
	if next != 0 { // not wrapped past the last number
		add(next, ^uint32(0), unknown)
	}
	body, err := search(ivs)
	if err != nil {
		return nil, err
	}
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

// search assembles a binary search over ivs (sorted, covering every number
// from ivs[0].lo to the last hi), with the system call number in the
// accumulator, which it leaves there for the leaves.
func search(ivs []interval) ([]bpf.Instruction, error) {
	if len(ivs) == 1 {
		return leaf(ivs[0])
	}
	mid := len(ivs) / 2
	left, err := search(ivs[:mid])
	if err != nil {
		return nil, err
	}
	right, err := search(ivs[mid:])
	if err != nil {
		return nil, err
	}
	split := ivs[mid].lo
	var node []bpf.Instruction
	if len(left) <= 255 {
		// number >= split: skip the left half.
		node = []bpf.Instruction{bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: split, SkipTrue: uint8(len(left))}}
	} else {
		// A conditional jump reaches 255 instructions: jump over the left
		// half with an unconditional one.
		node = []bpf.Instruction{
			bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: split, SkipFalse: 1},
			bpf.Jump{Skip: uint32(len(left))},
		}
	}
	return append(append(node, left...), right...), nil
}

// leaf assembles one interval's outcome: a constant, or the number's
// conditional rules in order, each with elastic's assembler, then the final
// action.
func leaf(iv interval) ([]bpf.Instruction, error) {
	o := iv.out
	var out []bpf.Instruction
	for _, s := range o.steps {
		piece, err := conditional(iv.lo, s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.label, err)
		}
		out = append(out, piece...)
	}
	return append(out, bpf.RetConstant{Val: uint32(o.final)}), nil
}

// conditional assembles one conditional rule for the number in the
// accumulator, as elastic's SyscallGroup.Assemble does, ending in a reload of
// the number where elastic would return its default action (its argument
// checks leave an argument in the accumulator).
func conditional(nr uint32, s step) ([]bpf.Instruction, error) {
	prog := elastic.NewProgram()
	action, next := prog.NewLabel(), prog.NewLabel()
	// The number check elastic makes first always holds here (the search
	// found nr); the rule's conditions are what decides.
	call := elastic.SyscallWithConditions{Num: nr, Conditions: []elastic.ArgumentConditions{s.conds}}
	call.Assemble(&prog, false, action, next)
	prog.SetLabel(action)
	prog.Ret(elastic.Action(s.action))
	prog.SetLabel(next)
	prog.Ret(placeholder)
	body, err := prog.Assemble()
	if err != nil {
		return nil, err
	}
	for i, in := range body {
		if r, ok := in.(bpf.RetConstant); ok && r.Val == uint32(placeholder) {
			if i != len(body)-1 {
				return nil, errors.New("conditions too long for one rule: split it")
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
