package container_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/ctrkit/container"
)

// A container limited to 64 MiB of memory, half a CPU and 64 tasks, that
// reports whether the kernel's OOM killer ended it. (Needs root.)
func ExampleWithMemory() {
	c, err := container.New("/var/lib/rootfs", []string{"/bin/app"},
		container.WithMemory(64<<20),
		container.WithCPU(0.5),
		container.WithPids(64),
		container.WithRlimit("RLIMIT_NOFILE", 4096, 4096),
		container.WithInit())
	if err != nil {
		fmt.Println(err)
		return
	}
	err = c.Run(context.Background())
	var ee *container.ExitError
	if errors.As(err, &ee) && ee.OOMKilled() {
		fmt.Println("out of memory")
	}
	if st, err := c.Stats(); err == nil {
		fmt.Printf("peak memory %d bytes, CPU time %v\n", st.MemoryPeakBytes, st.CPUTime)
	}
}

func ExampleWithPids() {
	_, err := container.New("/tmp", []string{"true"}, container.WithPids(0))
	fmt.Println(err)
	_, err = container.New("/tmp", []string{"true"}, container.WithMemory(1<<20))
	fmt.Println(err)
	// Output:
	// container: WithPids "0": must be at least 1
	// container: WithMemory "1048576": memory limit must be at least 6291456 bytes (6 MiB)
}
