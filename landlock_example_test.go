package container_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/ctrkit/container"
)

// A build step that may read its toolchain and sources, write only its output
// directory, and reach nothing over TCP but a package proxy on port 3128. A
// host directory bound read-write is no way around the rules: the kernel
// refuses every access no rule allows. (Needs root.)
func ExampleWithLandlock() {
	c, err := container.New("/var/lib/rootfs", []string{"/usr/bin/make", "-C", "/src"},
		container.WithBind("/home/me/project", "/src", false),
		container.WithBind("/home/me/out", "/out", false),
		container.WithLandlock(
			container.LandlockRead("/usr", "/lib", "/etc", "/src"),
			container.LandlockWrite("/out", "/tmp", "/dev/null"),
			container.LandlockConnectTCP(3128),
		),
		// On a kernel older than Linux 6.12 (Landlock ABI 6), apply what it
		// can instead of failing Start.
		container.WithLandlockBestEffort())
	if err != nil {
		fmt.Println(err)
		return
	}
	c.Stdout, c.Stderr = os.Stdout, os.Stderr
	err = c.Run(context.Background())
	var setup *container.SetupError
	if errors.As(err, &setup) && setup.Op == "landlock rule" {
		fmt.Println("not in the container:", setup.Path)
	}
	if st := c.Landlock(); st.Dropped != nil {
		fmt.Printf("Landlock ABI %d left unfenced: %v\n", st.ABI, st.Dropped)
	}
}

// Rule paths are the container's, absolute; New checks each rule.
func ExampleLandlockRead() {
	_, err := container.New("/tmp", []string{"/bin/true"}, container.WithLandlock(container.LandlockRead("bin")))
	fmt.Println(err)
	_, err = container.New("/tmp", []string{"/bin/true"}, container.WithLandlock(container.LandlockConnectTCP(443)))
	fmt.Println(err)
	// Output:
	// container: LandlockRead "bin": must be an absolute path in the container
	// container: WithLandlock: no LandlockRead or LandlockWrite rule: the file system would be closed to the command, which could not even be executed
}
