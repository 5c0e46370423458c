package containertest

import (
	"context"
	"testing"

	"github.com/ctrkit/container"
)

// An Image makes containers that run an image: *image.Image of package
// github.com/ctrkit/container/image is one. (An interface, so that this
// package does not import that one: its dependencies would initialise in
// every container's init of every test binary that imports containertest.)
type Image interface {
	New(cmd []string, opts ...container.Option) (*container.Container, error)
}

// StartImage starts a container from img, with cmd (nil: the image's
// Entrypoint and Cmd) and opts after the image's own options, and returns
// it with a buffer that collects its standard output and standard error,
// as Start does: a failed New or Start fails the test, and the test's
// cleanup kills the container and waits for it.
func StartImage(tb testing.TB, img Image, cmd []string, opts ...container.Option) (*container.Container, *Buffer) {
	tb.Helper()
	c, err := img.New(cmd, opts...)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	out := &Buffer{}
	c.Stdout, c.Stderr = out, out
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	if err := c.Start(ctx); err != nil {
		cancel()
		tb.Fatalf("Start %q: %v\n%s", cmd, err, out.String())
	}
	tb.Cleanup(func() {
		cancel()
		c.Wait()
	})
	return c, out
}
