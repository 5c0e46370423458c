package container_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"os"

	"github.com/ctrkit/container"
	"github.com/ctrkit/container/containertest"
)

// Run a shell command in a container with its own hostname. Starting a
// container needs root or unprivileged user namespaces, so the examples that
// start one are compiled but not run by go test; each runs as it is.
func ExampleNew() {
	// A root file system made of the host's own programs (nothing to
	// download): /usr and friends bound read-only.
	rootfs, err := os.MkdirTemp("", "rootfs-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(rootfs)
	binds, err := containertest.HostRootfs(rootfs)
	if err != nil {
		log.Fatal(err)
	}
	c, err := container.New(rootfs, []string{"/bin/sh", "-c", "hostname; echo $$"},
		append(binds, container.WithHostname("box"))...)
	if err != nil {
		log.Fatal(err)
	}
	c.Stdout = os.Stdout
	if err := c.Run(context.Background()); err != nil {
		log.Fatal(err)
	}
}

// Tell apart a command that failed from a container that could not start.
func ExampleContainer_Run() {
	rootfs, err := os.MkdirTemp("", "rootfs-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(rootfs)
	binds, err := containertest.HostRootfs(rootfs)
	if err != nil {
		log.Fatal(err)
	}
	c, err := container.New(rootfs, []string{"/bin/sh", "-c", "exit 3"}, binds...)
	if err != nil {
		log.Fatal(err)
	}
	err = c.Run(context.Background())
	var exit *container.ExitError
	var setup *container.SetupError
	switch {
	case errors.As(err, &exit):
		fmt.Println("exit code", exit.ExitCode())
	case errors.As(err, &setup) && errors.Is(err, fs.ErrNotExist):
		fmt.Println("missing:", setup.Path)
	case err != nil:
		log.Fatal(err)
	}
}

// Capture a container's standard output.
func ExampleContainer_Output() {
	rootfs, err := os.MkdirTemp("", "rootfs-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(rootfs)
	binds, err := containertest.HostRootfs(rootfs)
	if err != nil {
		log.Fatal(err)
	}
	c, err := container.New(rootfs, []string{"cat", "/etc/hosts"},
		append(binds, container.WithReadonlyRootfs(), container.WithTmpfs("/tmp", 16<<20))...)
	if err != nil {
		log.Fatal(err)
	}
	out, err := c.Output(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s", out)
}

// A program that is not root runs a container in a user namespace, where its
// own uid is the container's root (or, here, the container's uid 1000).
func ExampleWithUser_rootless() {
	rootfs, err := os.MkdirTemp("", "rootfs-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(rootfs)
	binds, err := containertest.HostRootfs(rootfs)
	if err != nil {
		log.Fatal(err)
	}
	c, err := container.New(rootfs, []string{"id"}, append(binds, container.WithUser(1000, 1000))...)
	if err != nil {
		log.Fatal(err)
	}
	c.Stdout = os.Stdout
	if err := c.Run(context.Background()); err != nil {
		log.Fatal(err)
	}
}

// New checks its arguments and names the offending value.
func ExampleNew_invalidOption() {
	_, err := container.New(os.TempDir(), []string{"/bin/true"}, container.WithTmpfs("/scratch", 0))
	fmt.Println(err)
	var oe *container.OptionError
	fmt.Println(errors.As(err, &oe), oe.Option)
	// Output:
	// container: WithTmpfs "0": size must be positive
	// true WithTmpfs
}

// Namespaces print as their names.
func ExampleNamespace_String() {
	fmt.Println(container.NSPID | container.NSNet)
	// Output: pid|net
}

// Check says, before any Start, whether a container with these options can
// start on this host, and if not, every reason with what to do.
func ExampleCheck() {
	err := container.Check(container.WithTmpfs("/scratch", 0))
	fmt.Println(err)
	// Output: container: WithTmpfs "0": size must be positive
}
