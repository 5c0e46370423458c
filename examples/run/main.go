// Command run starts one command in a container and exits with its status.
//
// It shows the library's core: a root file system, a command, a hostname, and
// the container's exit status passed through. With no -rootfs it builds a
// throwaway root file system from the host's own programs (/usr, /bin, /sbin
// and /lib* bound read-only, a minimal generated /etc), so it works on any
// Linux machine with nothing to download, and removes it afterwards.
//
// Run it as root (or as a user allowed to create user namespaces):
//
//	go run ./examples/run -- /bin/sh -c 'hostname; echo "pid $$"; ls /proc | grep -E "^[0-9]+$"'
//	go run ./examples/run -rootfs /srv/rootfs -hostname box -- /bin/sh
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/ctrkit/container"
	"github.com/ctrkit/container/containertest"
)

func main() {
	os.Exit(run())
}

func run() int {
	rootfs := flag.String("rootfs", "", "root file system `dir`ectory (default: a throwaway one made from the host's programs)")
	hostname := flag.String("hostname", "container", "the container's hostname")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: run [-rootfs DIR] [-hostname H] -- CMD ARGS...\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		return 2
	}
	opts := []container.Option{container.WithHostname(*hostname)}
	if *rootfs == "" {
		dir, err := os.MkdirTemp("", "run-rootfs-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "run:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		binds, err := containertest.HostRootfs(dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "run: build rootfs:", err)
			return 1
		}
		*rootfs = dir
		opts = append(opts, binds...)
	}
	c, err := container.New(*rootfs, flag.Args(), opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		return 1
	}
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	// Ctrl-C or SIGTERM kills the container.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = c.Run(ctx)
	var ee *container.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		return 1
	}
	return 0
}
