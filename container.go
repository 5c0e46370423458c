package container

import (
	"bytes"
	"context"
	"io"
	"os"
	"sync"
)

// Container is one command to run in a new Linux container. It is built by
// [New], started once by [Container.Start] or [Container.Run], and released by
// [Container.Wait], like [os/exec.Cmd].
//
// A Container must not be copied after first use.
type Container struct {
	// Stdin, Stdout and Stderr are the container's standard streams, as in
	// exec.Cmd: nil means /dev/null; an *os.File is passed to the container
	// directly; any other value is copied through a pipe by a goroutine that
	// Wait waits for.
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer

	// ExtraFiles are open files the command gets besides its standard
	// streams, as in exec.Cmd: ExtraFiles[i] becomes its descriptor 3+i (what
	// an OCI runtime's --preserve-fds passes on). The command gets exactly
	// these; they stay the caller's (Start duplicates them into the container
	// and does not close them). A nil entry makes Start fail.
	ExtraFiles []*os.File

	cfg *config

	mu      sync.Mutex
	started bool
	run     *running // platform state of a started container; nil before Start
}

// New validates and normalises a container's configuration. rootfs is the
// directory that becomes the container's root: it must be an absolute path to
// an existing directory other than the host's root, and it is not written to
// beyond creating missing mount points, so many containers may share one.
// cmd is the command and its arguments; cmd[0] is looked up in the container's
// PATH unless it contains a slash.
//
// New makes no changes to the system: every kernel object is created by
// [Container.Start].
// Its errors are [*OptionError] values that name the offending value.
func New(rootfs string, cmd []string, opts ...Option) (*Container, error) {
	cfg, err := newConfig(rootfs, cmd, opts)
	if err != nil {
		return nil, err
	}
	return &Container{cfg: cfg}, nil
}

// Run starts the container and waits for it to exit. Its error is nil when the
// command exited with status 0, an [*ExitError] when it ran and failed, and
// otherwise the error of [Container.Start].
func (c *Container) Run(ctx context.Context) error {
	if err := c.Start(ctx); err != nil {
		return err
	}
	return c.Wait()
}

// Output runs the container and returns its standard output.
// Stdout must be nil.
func (c *Container) Output(ctx context.Context) ([]byte, error) {
	if c.Stdout != nil {
		return nil, errStdoutSet
	}
	var out bytes.Buffer
	c.Stdout = &out
	err := c.Run(ctx)
	return out.Bytes(), err
}

// CombinedOutput runs the container and returns its standard output and
// standard error together. Stdout and Stderr must be nil.
func (c *Container) CombinedOutput(ctx context.Context) ([]byte, error) {
	if c.Stdout != nil || c.Stderr != nil {
		return nil, errStdoutSet
	}
	var out syncBuffer
	c.Stdout, c.Stderr = &out, &out
	err := c.Run(ctx)
	return out.Bytes(), err
}

// Pid returns the host process id of the container's first process, or 0
// before [Container.Start].
func (c *Container) Pid() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.run == nil {
		return 0
	}
	return c.run.pid()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Bytes()
}

// releaser undoes, in reverse order, what a start has done so far. Every
// resource is added right after it is created, so a failure at any step
// releases exactly what exists.
type releaser []func()

func (r *releaser) add(f func()) { *r = append(*r, f) }

func (r *releaser) run() {
	for i := len(*r) - 1; i >= 0; i-- {
		(*r)[i]()
	}
	*r = nil
}
