package oci

import (
	"github.com/ctrkit/container/internal/devicebpf"
	"github.com/ctrkit/container/internal/devices"
)

// A program that imports this package can apply device rules on cgroup v2:
// the library calls this loader (github.com/cilium/ebpf) through
// internal/devices, so a program that imports the library alone links none.
func init() { devices.AttachProgram = devicebpf.Attach }
