// Command network starts a server container and a client container on one
// network and prints what the client received.
//
// It shows container.NewNetwork and container.WithNetwork: a bridge on the
// host with a link-local subnet (169.254.0.0/16, nothing leaves the machine),
// two members with addresses handed out in order, and the client reaching the
// server by its hostname through the /etc/hosts the library generates and
// bind-mounts (the shared root file system is never written to). The server
// echoes one line back in upper case; the client sends a line and prints the
// answer. The root file system is a throwaway one made from a static busybox
// (Debian's busybox-static), whose nc the containers use.
//
// Run it as root (a bridge and veth pairs need CAP_NET_ADMIN):
//
//	go run ./examples/network
//	go run ./examples/network -subnet 169.254.77.0/24 -message 'hello, server'
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/ctrkit/container"
	"github.com/ctrkit/container/containertest"
)

func main() {
	subnet := flag.String("subnet", "169.254.77.0/24", "the network's link-local `prefix`")
	message := flag.String("message", "hello from the client", "the line the client sends")
	flag.Parse()
	if err := run(netip.MustParsePrefix(*subnet), *message); err != nil {
		fmt.Fprintln(os.Stderr, "network:", err)
		os.Exit(1)
	}
}

func run(subnet netip.Prefix, message string) error {
	rootfs, cleanup, err := makeRootfs()
	if err != nil {
		return err
	}
	defer cleanup()

	n, err := container.NewNetwork("demo", subnet)
	if err != nil {
		return err
	}
	defer n.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// The server answers one connection: it reads a line and sends it back in upper case.
	server, err := container.New(rootfs, []string{"/bin/sh", "-c", "nc -l -p 7000 -e sh -c 'read line; echo \"$line\" | tr a-z A-Z'"},
		container.WithNetwork(n), container.WithHostname("server"))
	if err != nil {
		return err
	}
	server.Stderr = os.Stderr
	if err := server.Start(ctx); err != nil {
		return fmt.Errorf("start the server: %w", err)
	}
	defer server.Wait()
	serverAddr, _ := n.Addr("server")

	// The client reaches the server by name, retrying until it listens.
	client, err := container.New(rootfs, []string{"/bin/sh", "-c", `
		for i in $(seq 100); do
			reply=$(echo "$1" | nc server 7000 2>/dev/null) && [ -n "$reply" ] && break
			sleep 0.1
		done
		echo "$reply"`, "sh", message},
		container.WithNetwork(n), container.WithHostname("client"))
	if err != nil {
		return err
	}
	var out bytes.Buffer
	client.Stdout, client.Stderr = &out, os.Stderr
	if err := client.Start(ctx); err != nil {
		return fmt.Errorf("start the client: %w", err)
	}
	clientAddr, _ := n.Addr("client")
	if err := client.Wait(); err != nil {
		return fmt.Errorf("client: %w", err)
	}
	fmt.Printf("network %s: bridge %s, host %v\n", n.Name(), n.Bridge(), n.Prefix())
	fmt.Printf("server %v, client %v\n", serverAddr, clientAddr)
	fmt.Printf("the client sent %q and received %q\n", message, bytes.TrimSpace(out.Bytes()))
	return nil
}

// makeRootfs returns a throwaway busybox root file system.
func makeRootfs() (string, func(), error) {
	bb, err := containertest.BusyboxPath()
	if err != nil {
		return "", nil, err
	}
	dir, err := os.MkdirTemp("", "network-rootfs-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	if err := containertest.BuildBusyboxRootfs(dir, bb); err != nil {
		cleanup()
		return "", nil, err
	}
	return dir, cleanup, nil
}
