package container_test

import (
	"fmt"

	"github.com/ctrkit/container"
)

// A seccomp policy is data: print it to review what a container may do.
func ExampleSeccompPolicy_String() {
	p := &container.SeccompPolicy{
		DefaultAction: container.SeccompErrno(1),  // EPERM
		UnknownAction: container.SeccompErrno(38), // ENOSYS
		Rules: []container.SeccompRule{
			{Names: []string{"read", "write", "exit_group"}, Action: container.SeccompAllow},
			{Names: []string{"clone"}, Action: container.SeccompAllow,
				Args: []container.SeccompArg{{Index: 0, Op: container.SeccompBitsClear, Value: 0x7e020000}}},
		},
	}
	fmt.Print(p)
	// Output:
	// default: errno EPERM
	// unknown syscalls: errno ENOSYS
	// other ABIs: errno EPERM
	// allow: read write exit_group
	// allow: clone if arg0 has none of 0x7e020000
}
