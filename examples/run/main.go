// Command run starts one command in a container and exits with its status.
//
// It shows the library's core: a root file system, a command, a hostname, and
// the container's exit status passed through. With no -rootfs it builds a
// throwaway root file system from the host's own programs (/usr, /bin, /sbin
// and /lib* bound read-only, a minimal generated /etc), so it works on any
// Linux machine with nothing to download, and removes it afterwards.
//
// -overlay gives a -rootfs a throwaway copy-on-write upper layer, so that the
// directory is left as it was. Images run with examples/image, which links
// package image (and through it net and cgo): this one stays static.
//
// Run it as root (or as a user allowed to create user namespaces):
//
//	go run ./examples/run -- /bin/sh -c 'hostname; echo "pid $$"; ls /proc | grep -E "^[0-9]+$"'
//	go run ./examples/run -rootfs /srv/rootfs -hostname box -- /bin/sh
//	go run ./examples/run -rootfs /srv/rootfs -overlay -- /bin/sh -c 'rm -rf /usr; ls /'
//	go run ./examples/run -check
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
	overlay := flag.Bool("overlay", false, "a copy-on-write overlay on the rootfs: the container's writes are thrown away")
	checkOnly := flag.Bool("check", false, "print which features this host has, as this user, and exit (container.Check)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: run [-rootfs DIR [-overlay]] [-hostname H] -- CMD ARGS...\n       run -check\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *checkOnly {
		return check()
	}
	if flag.NArg() == 0 {
		flag.Usage()
		return 2
	}
	// Ctrl-C or SIGTERM kills the container.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := []container.Option{container.WithHostname(*hostname)}
	if *overlay {
		opts = append(opts, container.WithOverlay())
	}
	var c *container.Container
	var err error
	switch {
	case *rootfs == "":
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
		fallthrough
	default:
		c, err = container.New(*rootfs, flag.Args(), opts...)
		if err != nil {
			fmt.Fprintln(os.Stderr, "run:", err)
			return 1
		}
	}
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
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
