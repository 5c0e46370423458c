// Package lifecycle is the OCI runtime's way into package container: the
// lifecycle machinery that only package oci and cmd/ctrkit use (the exec
// FIFO, hooks, joining a running container, a cgroup at a fixed path and the
// operations on it, device rules, the release of a container's host mounts)
// is unexported in package container, which hands it over through the
// variables below in its init function. Package oci is its public face, with
// typed wrappers and the documentation. This keeps container's own API what a
// Go program needs, as grpc's internal package does for its siblings.
package lifecycle

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"time"
)

// CallerTimerSlack, when not 0, is the timer slack (ns) a container's command
// gets instead of the clone thread's own: set by oci.RaiseTimerSlack, which
// raises every thread of the OCI runtime's process to 1 ms.
var CallerTimerSlack atomic.Uint64

// RaisedTimerSlack (ns) is the slack package container clones an init with
// and oci.RaiseTimerSlack gives the runtime's own threads: the Go runtime's
// monitor thread then wakes at most once a millisecond.
const RaisedTimerSlack = 1_000_000

// Set by package container's init. The option constructors return a
// container.Option (typed any here: this package cannot import container);
// package oci asserts them once in its wrappers.
var (
	WithExecFIFO              any // func(path string) container.Option
	WithJoin                  any // func(pid int) container.Option
	WithCreateHook            any // func(Hook) container.Option
	WithStartHook             any // func(Hook) container.Option
	WithBeforePivot           any // func(func(pid int) error) container.Option
	WithCgroupPath            any // func(path string) container.Option
	WithDeviceRules           any // func(...DeviceRule) container.Option
	WithInheritedCapabilities any // func() container.Option
	// WithBoundingCapabilitiesOnly: the capabilities are the bounding set
	// only; the command starts with none permitted, effective, inheritable
	// or ambient (package oci, for a spec that lists them in bounding alone).
	WithBoundingCapabilitiesOnly any // func() container.Option
	UpdateCgroup                 any // func(path string, opts ...container.Option) error

	RemoveCgroup        func(path string) error
	FreezeCgroup        func(path string, frozen bool) error
	CgroupFrozen        func(path string) (bool, error)
	CgroupPids          func(path string) ([]int, error)
	RootfsMounts        func(rootfs string) ([]int, error)
	ReleaseRootfsMounts func(rootfs string, keep []int) error
)

// Hook is a program the container's init runs inside the container during
// its start, as an OCI runtime runs its createContainer and startContainer
// hooks.
type Hook struct {
	Path    string        // absolute path of the program
	Args    []string      // its arguments, argv[0] included; empty means [Path]
	Env     []string      // its whole environment, as KEY=value strings
	Timeout time.Duration // kill it and fail the start after this long; 0: no limit
	// Stdin, when not nil, returns what the hook reads on its standard
	// input (an OCI runtime passes the container's state). Start calls it,
	// in the caller's process, with the pid of the container's first process
	// as the container sees it: 1 in a PID namespace of its own.
	Stdin func(pid int) []byte
}

// DeviceRule allows (or, with Deny, denies) the container's processes the use
// of device nodes: Type is 'c' (character), 'b' (block) or 'a' (both), Major
// and Minor the numbers (-1 for any), Access a combination of "r", "w" and
// "m" (mknod).
type DeviceRule struct {
	Type         byte
	Major, Minor int64
	Access       string
	Deny         bool
}

// String renders the rule as the devices cgroup files take it: "c 1:3 rwm",
// with "deny " in front for a deny rule.
func (d DeviceRule) String() string {
	num := func(n int64) string {
		if n < 0 {
			return "*"
		}
		return strconv.FormatInt(n, 10)
	}
	s := fmt.Sprintf("%c %s:%s %s", d.Type, num(d.Major), num(d.Minor), d.Access)
	if d.Deny {
		return "deny " + s
	}
	return s
}

// ResourceError is a control of container.Resources that the host cannot
// apply (a v1-only file on cgroup v2, a kernel without the file), marked
// with the Resources field it came from, so that the OCI runtime can name
// the spec's field.
type ResourceError struct {
	Field string // the field of container.Resources: "Unified", "MemorySwappiness", ...
	Err   error
}

func (e *ResourceError) Error() string { return e.Err.Error() }
func (e *ResourceError) Unwrap() error { return e.Err }
