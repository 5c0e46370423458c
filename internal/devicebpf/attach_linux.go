package devicebpf

import (
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/ctrkit/container/internal/devices"
	"golang.org/x/sys/unix"
)

// Attach loads Program(set) and attaches it to the cgroup v2 directory open
// as dirFD (BPF_PROG_ATTACH with BPF_F_ALLOW_MULTI, as runc does: the
// programs of the cgroup's ancestors still apply, and each must allow). The
// program's descriptor is closed before Attach returns, on every path: the
// kernel keeps an attached program as long as the cgroup, and frees it with
// the cgroup.
func Attach(dirFD int, set devices.Set) error {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         "ctrkit_devices",
		Type:         ebpf.CGroupDevice,
		Instructions: Program(set),
		License:      License,
	})
	if err != nil {
		return fmt.Errorf("load eBPF device program: %w", err)
	}
	defer prog.Close()
	err = link.RawAttachProgram(link.RawAttachProgramOptions{
		Target:  dirFD,
		Program: prog,
		Attach:  ebpf.AttachCGroupDevice,
		Flags:   unix.BPF_F_ALLOW_MULTI,
	})
	if err != nil {
		return fmt.Errorf("attach eBPF device program (BPF_PROG_ATTACH BPF_CGROUP_DEVICE): %w", err)
	}
	return nil
}
