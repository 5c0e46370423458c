package container

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// Sentinel errors. Callers branch on them with [errors.Is].
var (
	// ErrAlreadyStarted is returned by [Container.Start] when the Container
	// was started before: a Container is single use, like [os/exec.Cmd].
	ErrAlreadyStarted = errors.New("container: already started")
	// ErrNotStarted is returned by [Container.Wait] and [Container.Signal]
	// before a successful Start.
	ErrNotStarted = errors.New("container: not started")
	// ErrWaitCalled is returned by a second call to [Container.Wait].
	ErrWaitCalled = errors.New("container: Wait was already called")
	// ErrFinished is returned by [Container.Signal] once the container's first
	// process has been reaped.
	ErrFinished = errors.New("container: process already finished")
	// ErrNeedRoot is wrapped by the errors of features that need real root
	// (or, for limits, a delegated cgroup) when the caller has neither.
	ErrNeedRoot = errors.New("needs root or a delegated cgroup")
)

// OptionError reports an invalid argument to [New] or to an option constructor.
// Value names the offending value as the caller gave it.
type OptionError struct {
	Option string // the option or argument: "WithTmpfs", "rootfs", "cmd"
	Value  string // the offending value, quoted as given
	Err    error  // why it is invalid
}

// Error returns "container: OPTION VALUE: reason".
func (e *OptionError) Error() string {
	if e.Value == "" {
		return "container: " + e.Option + ": " + e.Err.Error()
	}
	return fmt.Sprintf("container: %s %s: %v", e.Option, e.Value, e.Err)
}

// Unwrap returns the reason.
func (e *OptionError) Unwrap() error { return e.Err }

func optErr(option string, value any, format string, args ...any) error {
	v := ""
	if value != nil {
		v = fmt.Sprintf("%q", fmt.Sprint(value))
	}
	return &OptionError{Option: option, Value: v, Err: fmt.Errorf(format, args...)}
}

// SetupError is a failure of one step of setting a container up, shaped like
// [os.PathError]. Failures inside the container's init are sent to the parent
// as {step, path, errno} and rebuilt here, so errors.Is(err, [fs.ErrNotExist])
// and errors.Is(err, unix.EPERM) work across the process boundary.
//
// Its message reads like the failed call: "mount proc on /proc: operation not permitted",
// "exec /bin/nope: no such file or directory".
type SetupError struct {
	Op   string // the step: "mount proc on", "pivot_root", "exec", "sethostname"
	Path string // the path inside the container the step acted on, if any
	Err  error  // the cause; a syscall.Errno when the kernel refused
}

// Error returns "OP PATH: cause", or "OP: cause" without a path.
func (e *SetupError) Error() string {
	if e.Path == "" {
		return e.Op + ": " + e.Err.Error()
	}
	return e.Op + " " + e.Path + ": " + e.Err.Error()
}

// Unwrap returns the cause, typically a [syscall.Errno].
func (e *SetupError) Unwrap() error { return e.Err }

// ExitError reports a container whose first process did not exit with status 0.
type ExitError struct {
	*os.ProcessState
	oomKilled bool
}

// ExitCode returns the exit status of the container's first process, or, like a
// shell, 128 plus the signal number when a signal killed it (137 for SIGKILL).
func (e *ExitError) ExitCode() int {
	if s := e.Signal(); s != 0 {
		return 128 + int(s)
	}
	return e.ProcessState.ExitCode()
}

// Signal returns the signal that killed the container's first process, or 0.
func (e *ExitError) Signal() syscall.Signal {
	if ws, ok := e.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ws.Signal()
	}
	return 0
}

// OOMKilled reports whether the kernel's OOM killer killed a process in the
// container's cgroup. It is only ever true for containers with a memory limit.
func (e *ExitError) OOMKilled() bool { return e.oomKilled }

// Error describes the exit status, and an OOM kill if there was one.
func (e *ExitError) Error() string {
	s := "container: " + e.ProcessState.String()
	if e.oomKilled {
		s += " (OOM killed)"
	}
	return s
}

var errStdoutSet = errors.New("container: Stdout or Stderr already set")
