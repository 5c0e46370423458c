package container_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"

	"github.com/ctrkit/container"
	"github.com/ctrkit/container/containertest"
)

// A container with a veth pair: the host end gets 169.254.10.1, the
// container's eth0 169.254.10.2 and a default route via the host end. It
// needs root.
func ExampleWithVeth() {
	// A busybox root file system (Debian's busybox-static).
	rootfs, err := os.MkdirTemp("", "rootfs-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer os.RemoveAll(rootfs)
	busybox, err := containertest.BusyboxPath()
	if err == nil {
		err = containertest.BuildBusyboxRootfs(rootfs, busybox)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	c, err := container.New(rootfs, []string{"/bin/sh", "-c", "ip addr show eth0"},
		container.WithVeth(
			netip.MustParsePrefix("169.254.10.1/30"), // host end
			netip.MustParsePrefix("169.254.10.2/30"), // container end
		))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	c.Stdout = os.Stdout
	if err := c.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
}

// WithVeth checks its addresses in New.
func ExampleWithVeth_invalid() {
	dir, _ := os.MkdirTemp("", "rootfs-")
	defer os.RemoveAll(dir)
	_, err := container.New(dir, []string{"/bin/true"}, container.WithVeth(
		netip.MustParsePrefix("169.254.10.1/30"),
		netip.MustParsePrefix("169.254.11.2/30")))
	fmt.Println(err)
	// Output: container: WithVeth "169.254.10.1/30 169.254.11.2/30": the two ends are in different subnets (169.254.10.0/30 and 169.254.11.0/30)
}

// Two containers on one network: b reaches a by its hostname. It needs root.
func ExampleNewNetwork() {
	// A busybox root file system (Debian's busybox-static).
	rootfs, err := os.MkdirTemp("", "rootfs-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer os.RemoveAll(rootfs)
	busybox, err := containertest.BusyboxPath()
	if err == nil {
		err = containertest.BuildBusyboxRootfs(rootfs, busybox)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	n, err := container.NewNetwork("testnet", netip.MustParsePrefix("169.254.20.0/24"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer n.Close()
	a, _ := container.New(rootfs, []string{"/bin/sh", "-c", "nc -l -p 7000 -e /bin/cat"},
		container.WithNetwork(n), container.WithHostname("a"))
	b, _ := container.New(rootfs, []string{"/bin/sh", "-c", "until echo hello | nc a 7000; do sleep 0.1; done"},
		container.WithNetwork(n), container.WithHostname("b"))
	if err := a.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer a.Wait()
	out, err := b.Output(context.Background())
	fmt.Printf("%s %v\n", out, err)
}

// A container in a network namespace made with `ip netns add demo`.
func ExampleWithNamespacePath() {
	// A busybox root file system (Debian's busybox-static).
	rootfs, err := os.MkdirTemp("", "rootfs-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer os.RemoveAll(rootfs)
	busybox, err := containertest.BusyboxPath()
	if err == nil {
		err = containertest.BuildBusyboxRootfs(rootfs, busybox)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	c, err := container.New(rootfs, []string{"/bin/ip", "link"}, container.WithNamespacePath(container.NSNet, "/run/netns/demo"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	out, err := c.Output(context.Background())
	fmt.Printf("%s %v\n", out, err)
}
