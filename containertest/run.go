package containertest

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctrkit/container"
)

// Timeout bounds every container these helpers start: a container still
// running then is killed (its context is cancelled), so no test hangs on one.
const Timeout = time.Minute

// Run runs cmd in a new container on rootfs and returns what it wrote to its
// standard output and standard error, and Run's error (an
// [*container.ExitError] for a command that failed). New's error fails the
// test.
func Run(tb testing.TB, rootfs string, cmd []string, opts ...container.Option) (stdout, stderr string, err error) {
	tb.Helper()
	c := mustNew(tb, rootfs, cmd, opts)
	var out, errOut bytes.Buffer
	c.Stdout, c.Stderr = &out, &errOut
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	err = c.Run(ctx)
	return out.String(), errOut.String(), err
}

// Sh runs script with /bin/sh -c in a new container on rootfs (a busybox root
// file system: Rootfs) and returns its standard output. Any error, the
// command's exit status included, fails the test with both outputs.
func Sh(tb testing.TB, rootfs, script string, opts ...container.Option) string {
	tb.Helper()
	out, errOut, err := Run(tb, rootfs, []string{"/bin/sh", "-c", script}, opts...)
	if err != nil {
		tb.Fatalf("%q: %v\nstdout: %s\nstderr: %s", script, err, out, errOut)
	}
	return out
}

// CombinedOutput runs cmd in a new container on rootfs and returns its
// standard output and standard error together, and Run's error.
func CombinedOutput(tb testing.TB, rootfs string, cmd []string, opts ...container.Option) (string, error) {
	tb.Helper()
	c := mustNew(tb, rootfs, cmd, opts)
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	out, err := c.CombinedOutput(ctx)
	return string(out), err
}

// Start starts cmd in a new container on rootfs and returns it with a buffer
// that collects its standard output and standard error. A failed Start fails
// the test; the test's cleanup kills the container (after Timeout at the
// latest) and waits for it, unless the test waited already.
func Start(tb testing.TB, rootfs string, cmd []string, opts ...container.Option) (*container.Container, *Buffer) {
	tb.Helper()
	c := mustNew(tb, rootfs, cmd, opts)
	out := &Buffer{}
	c.Stdout, c.Stderr = out, out
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	if err := c.Start(ctx); err != nil {
		cancel()
		tb.Fatalf("Start %q: %v\n%s", cmd, err, out.String())
	}
	tb.Cleanup(func() {
		cancel()
		c.Wait() // ErrWaitCalled when the test waited already
	})
	return c, out
}

func mustNew(tb testing.TB, rootfs string, cmd []string, opts []container.Option) *container.Container {
	tb.Helper()
	c, err := container.New(rootfs, cmd, opts...)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return c
}

// Buffer is a bytes buffer that a container's output may be written to while
// the test reads it.
type Buffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
