// Command image runs a command in a container made from an image and exits
// with its status: an OCI layout directory, a docker save or podman save
// tarball, or a registry reference (package image). Its layers are unpacked
// once into the cache and stacked in a copy-on-write overlay; the image's
// Entrypoint, Cmd, Env, WorkingDir and User are the defaults, and a command
// after the reference replaces Cmd.
//
// It is apart from examples/run because package image links
// go-containerregistry, whose every source (layout and tarball too, through
// its package name) imports net and with it the standard library's cgo
// resolver, and whose dependencies' package initialisation (94 inits before
// the container hook against examples/run's 33: about 0.8 ms and 130 KB more
// in every container's init, see bench/README.md) would run in each
// container: examples/run stays a static binary with a lean init.
//
// Run it as root (or as a user allowed to create user namespaces):
//
//	go run ./examples/image ./app.tar
//	go run ./examples/image -cache /var/cache/ctr registry.example/ns/app:1.2 -- /bin/sh
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
	"github.com/ctrkit/container/image"
)

func main() {
	os.Exit(run())
}

func run() int {
	hostname := flag.String("hostname", "container", "the container's hostname")
	cache := flag.String("cache", "", "the image cache `dir`ectory (default: the user's cache directory's ctrkit/image)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: image [-cache DIR] [-hostname H] PATH-OR-REF [-- CMD ARGS...]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		return 2
	}
	ref, cmd := flag.Arg(0), flag.Args()[1:]
	if len(cmd) > 0 && cmd[0] == "--" {
		cmd = cmd[1:]
	}
	// Ctrl-C or SIGTERM kills the container (and stops a pull).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var iopts []image.Option
	if *cache != "" {
		iopts = append(iopts, image.WithCache(*cache))
	}
	im, err := image.Load(ctx, ref, iopts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		return 1
	}
	defer im.Close()
	c, err := im.New(cmd, container.WithHostname(*hostname))
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		return 1
	}
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	err = c.Run(ctx)
	var ee *container.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		return 1
	}
	return 0
}
