package seccomp_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/ctrkit/container"
	"github.com/ctrkit/container/seccomp"
)

// A seccomp policy is data: print it to review what a container may do.
func ExamplePolicy_String() {
	p := &seccomp.Policy{
		DefaultAction: seccomp.Errno(1),  // EPERM
		UnknownAction: seccomp.Errno(38), // ENOSYS
		Rules: []seccomp.Rule{
			{Names: []string{"read", "write", "exit_group"}, Action: seccomp.Allow},
			{Names: []string{"clone"}, Action: seccomp.Allow,
				Args: []seccomp.Arg{{Index: 0, Op: seccomp.BitsClear, Value: 0x7e020000}}},
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

// Start from the default policy and put a rule of your own in front of it:
// the first rule that applies decides. (Starting a container needs root.)
func ExampleWithPolicy() {
	p := seccomp.Default()
	p.Rules = append([]seccomp.Rule{{Names: []string{"mkdir", "mkdirat"}, Action: seccomp.Errno(13)}}, p.Rules...) // EACCES
	c, err := container.New("/srv/rootfs", []string{"/bin/sh", "-c", "mkdir /tmp/x || echo denied"},
		seccomp.WithPolicy(p), container.WithTmpfs("/tmp", 1<<20))
	if err != nil {
		log.Fatal(err) // *container.OptionError naming the bad rule
	}
	c.Stdout = os.Stdout
	if err := c.Run(context.Background()); err != nil {
		log.Fatal(err)
	}
}

// New reports an invalid policy, naming the rule and the value.
func ExampleWithPolicy_invalid() {
	p := &seccomp.Policy{DefaultAction: seccomp.Allow, Rules: []seccomp.Rule{
		{Names: []string{"opne"}, Action: seccomp.Errno(1)},
	}}
	_, err := container.New(os.TempDir(), []string{"/bin/sh"}, seccomp.WithPolicy(p))
	fmt.Println(err)
	// Output:
	// container: seccomp.WithPolicy: rule 0: unknown system call "opne"
}

// Known tells whether a rule may name a system call: names of any
// architecture the package has a table for are accepted, and skipped where
// the machine's has none.
func ExampleKnown() {
	fmt.Println(seccomp.Known("arch_prctl"), seccomp.Known("set_tls"), seccomp.Known("opne"))
	// Output:
	// true true false
}
