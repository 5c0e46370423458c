package oci

import (
	"fmt"
	"runtime"
	"slices"

	"github.com/ctrkit/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Seccomp: the OCI JSON profile compiled into the library's SeccompPolicy.
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
	b.add(container.WithSeccomp(p))
	return nil
}

// CompileSeccomp compiles an OCI seccomp profile into a SeccompPolicy for the
// Go architecture goarch ("amd64"). Its errors are *FieldError values.
func CompileSeccomp(sc *specs.LinuxSeccomp, goarch string) (*container.SeccompPolicy, error) {
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
	p := &container.SeccompPolicy{DefaultAction: def}
	defAllows := def == container.SeccompAllow || def == container.SeccompLog
	for i, r := range sc.Syscalls {
		field := fmt.Sprintf("linux.seccomp.syscalls[%d]", i)
		a, err := action(field+".action", r.Action, r.ErrnoRet, defErrno)
		if err != nil {
			return nil, err
		}
		var names []string
		for _, n := range r.Names {
			if container.KnownSyscall(n) {
				names = append(names, n)
				continue
			}
			if defAllows && a != container.SeccompAllow && a != container.SeccompLog {
				return nil, fieldErr(field+".names", "%q: unknown to this runtime, so it cannot be denied", n)
			}
		}
		if len(names) == 0 {
			continue
		}
		rule := container.SeccompRule{Names: names, Action: a}
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

func action(field string, a specs.LinuxSeccompAction, errnoRet *uint, defErrno uint) (container.SeccompAction, error) {
	switch a {
	case specs.ActAllow:
		return container.SeccompAllow, nil
	case specs.ActLog:
		return container.SeccompLog, nil
	case specs.ActKill, specs.ActKillThread, specs.ActKillProcess:
		return container.SeccompKillProcess, nil
	case specs.ActErrno:
		e := defErrno
		if errnoRet != nil {
			e = *errnoRet
		}
		if e < 1 || e > 4095 {
			return 0, fieldErr(field, "errno %d out of range 1-4095", e)
		}
		return container.SeccompErrno(uint16(e)), nil
	}
	return 0, fieldErr(field, "%q: %w", a, ErrUnsupported)
}

var seccompOps = map[specs.LinuxSeccompOperator]container.SeccompOp{
	specs.OpNotEqual: container.SeccompNotEqual, specs.OpLessThan: container.SeccompLess,
	specs.OpLessEqual: container.SeccompLessEqual, specs.OpEqualTo: container.SeccompEqual,
	specs.OpGreaterEqual: container.SeccompGreaterEqual, specs.OpGreaterThan: container.SeccompGreater,
}

func seccompArg(field string, a specs.LinuxSeccompArg) (container.SeccompArg, error) {
	if a.Index > 5 {
		return container.SeccompArg{}, fieldErr(field+".index", "%d out of range 0-5", a.Index)
	}
	out := container.SeccompArg{Index: int(a.Index), Value: a.Value}
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
		out.Op = container.SeccompBitsClear
	case a.ValueTwo == a.Value && a.Value&(a.Value-1) == 0: // one bit, set
		out.Op = container.SeccompBitsSet
	default:
		return out, fieldErr(field+".op", "SCMP_CMP_MASKED_EQ with mask %#x and value %#x: %w", a.Value, a.ValueTwo, ErrUnsupported)
	}
	return out, nil
}
