package oci

import (
	"errors"
	"strings"
	"testing"

	"github.com/ctrkit/container"
	"github.com/ctrkit/container/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestCompileSeccomp(t *testing.T) {
	eperm, enosys := uint(1), uint(38)
	allowlist := &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: &enosys,
		Architectures:   []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "write", "no_such_call_yet"}, Action: specs.ActAllow},
			{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 8, Op: specs.OpEqualTo}}},
			{Names: []string{"clone"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0x7e020000, Op: specs.OpMaskedEqual}}},
			{Names: []string{"mount"}, Action: specs.ActErrno, ErrnoRet: &eperm},
			{Names: []string{"ptrace"}, Action: specs.ActKillThread},
			{Names: []string{"getpid"}, Action: specs.ActLog},
		},
	}
	p, err := CompileSeccomp(allowlist, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	want := `default: errno ENOSYS
unknown syscalls: errno ENOSYS
other ABIs: errno ENOSYS
allow: read write
allow: personality if arg0 == 0x8
allow: clone if arg0 has none of 0x7e020000
errno EPERM: mount
kill-process: ptrace
log: getpid
`
	if got := p.String(); got != want {
		t.Fatalf("policy:\n%s\nwant:\n%s", got, want)
	}
	if _, err := container.New(t.TempDir(), []string{"true"}, seccomp.WithPolicy(p)); err != nil {
		t.Fatalf("New rejects the compiled policy: %v", err)
	}

	for _, tc := range []struct {
		name  string
		sc    specs.LinuxSeccomp
		field string
	}{
		{"trap", specs.LinuxSeccomp{DefaultAction: specs.ActTrap}, "linux.seccomp.defaultAction"},
		{"notify", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActNotify}}}, "linux.seccomp.syscalls[0].action"},
		{"listener", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/x"}, "linux.seccomp.listenerPath"},
		{"flags", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog}}, "linux.seccomp.flags[0]"},
		{"foreign arch only", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchAARCH64}}, "linux.seccomp.architectures"},
		{"errno range", specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: func() *uint { v := uint(5000); return &v }()}, "linux.seccomp.defaultAction"},
		{"deny unknown under allow", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"no_such_call"}, Action: specs.ActErrno}}}, "linux.seccomp.syscalls[0].names"},
		{"arg index", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}}}}, "linux.seccomp.syscalls[0].args[0].index"},
		{"masked eq", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 3, ValueTwo: 1, Op: specs.OpMaskedEqual}}}}}, "linux.seccomp.syscalls[0].args[0].op"},
		{"value two", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 3, ValueTwo: 1, Op: specs.OpEqualTo}}}}}, "linux.seccomp.syscalls[0].args[0].valueTwo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CompileSeccomp(&tc.sc, "amd64")
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("error %v, want one naming %s", err, tc.field)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("message %q lacks the field", err)
			}
		})
	}
}
