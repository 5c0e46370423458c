package oci

import (
	"fmt"
	"runtime"
	"slices"

	"github.com/ctrkit/container"
	"github.com/ctrkit/container/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Seccomp: the OCI JSON profile compiled into a seccomp.Policy.
//
//   - Actions: SCMP_ACT_ALLOW, SCMP_ACT_LOG, SCMP_ACT_ERRNO (errnoRet, else
//     defaultErrnoRet, else EPERM), SCMP_ACT_KILL_PROCESS; SCMP_ACT_KILL and
//     SCMP_ACT_KILL_THREAD become kill-process (the whole container process
//     dies instead of one thread: stricter). TRAP, TRACE and NOTIFY are rejected.
//   - Rules apply in the profile's order, the first whose arguments match
//     deciding. Argument comparisons map one to one, SCMP_CMP_MASKED_EQ only
//     when valueTwo is 0 (no bit of value set) or equals a single-bit value.
//   - architectures must include this machine's; the library closes every
//     other ABI (a foreign ABI's system call gets the default action, or EPERM
//     when the default allows), which is stricter than a profile that allows
//     rules on SCMP_ARCH_X86 or X32 too.
//   - A name the library's system call tables do not know is left out when
//     the rule would only allow it (it then gets the unknown-call action, the
//     default); it is an error when the rule would deny it under a default
//     that allows, since the library could not deny it.
//   - flags other than SECCOMP_FILTER_FLAG_TSYNC (always set), listenerPath
//     and listenerMetadata are rejected.

var nativeArch = map[string]specs.Arch{
	"amd64": specs.ArchX86_64, "386": specs.ArchX86, "arm64": specs.ArchAARCH64, "arm": specs.ArchARM,
}

func (b *builder) seccomp(s *specs.Spec) error {
	sc := s.Linux.Seccomp
	if sc == nil {
		b.add(container.WithoutSeccomp())
		return nil
	}
	p, err := CompileSeccomp(sc, runtime.GOARCH)
	if err != nil {
		return err
	}
	b.add(seccomp.WithPolicy(p))
	return nil
}

// CompileSeccomp compiles an OCI seccomp profile into a [seccomp.Policy] for
// the Go architecture goarch ("amd64"), for [seccomp.WithPolicy]. Its errors
// are [*FieldError] values.
func CompileSeccomp(sc *specs.LinuxSeccomp, goarch string) (*seccomp.Policy, error) {
	if sc.ListenerPath != "" || sc.ListenerMetadata != "" {
		return nil, fieldErr("linux.seccomp.listenerPath", "seccomp notification: %w", ErrUnsupported)
	}
	for i, f := range sc.Flags {
		switch f {
		case "SECCOMP_FILTER_FLAG_TSYNC":
		default:
			return nil, fieldErr(fmt.Sprintf("linux.seccomp.flags[%d]", i), "%q: %w", f, ErrUnsupported)
		}
	}
	if len(sc.Architectures) > 0 {
		native, ok := nativeArch[goarch]
		if !ok || !slices.Contains(sc.Architectures, native) {
			return nil, fieldErr("linux.seccomp.architectures", "does not include this machine's %s", native)
		}
	}
	defErrno := uint(1) // EPERM
	if sc.DefaultErrnoRet != nil {
		defErrno = *sc.DefaultErrnoRet
	}
	def, err := action("linux.seccomp.defaultAction", sc.DefaultAction, nil, defErrno)
	if err != nil {
		return nil, err
	}
	p := &seccomp.Policy{DefaultAction: def}
	defAllows := def == seccomp.Allow || def == seccomp.Log
	for i, r := range sc.Syscalls {
		field := fmt.Sprintf("linux.seccomp.syscalls[%d]", i)
		a, err := action(field+".action", r.Action, r.ErrnoRet, defErrno)
		if err != nil {
			return nil, err
		}
		var names []string
		for _, n := range r.Names {
			if seccomp.Known(n) {
				names = append(names, n)
				continue
			}
			if defAllows && a != seccomp.Allow && a != seccomp.Log {
				return nil, fieldErr(field+".names", "%q: unknown to this runtime, so it cannot be denied", n)
			}
		}
		if len(names) == 0 {
			continue
		}
		rule := seccomp.Rule{Names: names, Action: a}
		for j, arg := range r.Args {
			ca, err := seccompArg(fmt.Sprintf("%s.args[%d]", field, j), arg)
			if err != nil {
				return nil, err
			}
			rule.Args = append(rule.Args, ca)
		}
		p.Rules = append(p.Rules, rule)
	}
	return p, nil
}

func action(field string, a specs.LinuxSeccompAction, errnoRet *uint, defErrno uint) (seccomp.Action, error) {
	switch a {
	case specs.ActAllow:
		return seccomp.Allow, nil
	case specs.ActLog:
		return seccomp.Log, nil
	case specs.ActKill, specs.ActKillThread, specs.ActKillProcess:
		return seccomp.KillProcess, nil
	case specs.ActErrno:
		e := defErrno
		if errnoRet != nil {
			e = *errnoRet
		}
		if e < 1 || e > 4095 {
			return 0, fieldErr(field, "errno %d out of range 1-4095", e)
		}
		return seccomp.Errno(uint16(e)), nil
	}
	return 0, fieldErr(field, "%q: %w", a, ErrUnsupported)
}

var seccompOps = map[specs.LinuxSeccompOperator]seccomp.Op{
	specs.OpNotEqual: seccomp.NotEqual, specs.OpLessThan: seccomp.Less,
	specs.OpLessEqual: seccomp.LessEqual, specs.OpEqualTo: seccomp.Equal,
	specs.OpGreaterEqual: seccomp.GreaterEqual, specs.OpGreaterThan: seccomp.Greater,
}

func seccompArg(field string, a specs.LinuxSeccompArg) (seccomp.Arg, error) {
	if a.Index > 5 {
		return seccomp.Arg{}, fieldErr(field+".index", "%d out of range 0-5", a.Index)
	}
	out := seccomp.Arg{Index: int(a.Index), Value: a.Value}
	if op, ok := seccompOps[a.Op]; ok {
		if a.ValueTwo != 0 {
			return out, fieldErr(field+".valueTwo", "only SCMP_CMP_MASKED_EQ uses valueTwo")
		}
		out.Op = op
		return out, nil
	}
	if a.Op != specs.OpMaskedEqual {
		return out, fieldErr(field+".op", "%q: %w", a.Op, ErrUnsupported)
	}
	switch {
	case a.ValueTwo == 0: // arg & value == 0
		out.Op = seccomp.BitsClear
	case a.ValueTwo == a.Value && a.Value&(a.Value-1) == 0: // one bit, set
		out.Op = seccomp.BitsSet
	default:
		return out, fieldErr(field+".op", "SCMP_CMP_MASKED_EQ with mask %#x and value %#x: %w", a.Value, a.ValueTwo, ErrUnsupported)
	}
	return out, nil
}
