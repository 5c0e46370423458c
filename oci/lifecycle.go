package oci

import (
	"github.com/ctrkit/container"
	"github.com/ctrkit/container/internal/lifecycle"
)

// The lifecycle of an OCI container, as package container carries it out:
// what a runtime needs beyond a Go program's container (created and started
// apart, hooks, joining a running container, a cgroup at a fixed path that
// outlives its creator, device rules). FromSpec uses these; cmd/ctrkit calls
// the ones that act on an existing container.

// Hook is a program the container's init runs inside the container during
// its start ([WithCreateHook], [WithStartHook]), as an OCI runtime runs its
// createContainer and startContainer hooks.
type Hook = lifecycle.Hook

// DeviceRule allows (or, with Deny, denies) the container's processes the use
// of device nodes, for [WithDeviceRules].
type DeviceRule = lifecycle.DeviceRule

// WithCgroupPath gives the container a cgroup at path, an absolute path inside
// each cgroup hierarchy (such as "/ctrkit/web"), instead of a child of the
// caller's own cgroup, even without a limit option; Wait or [RemoveCgroup]
// removes it. No later Start reaps it as a dead owner's, so New refuses a path
// with a component named like the default cgroups (ctrkit-PID-START-ID). It
// needs root or a delegated cgroup; Start fails when it cannot be created. See
// A cgroup at a fixed path in the package documentation.
func WithCgroupPath(path string) container.Option {
	return lifecycle.WithCgroupPath.(func(string) container.Option)(path)
}

// WithExecFIFO makes the container wait, right before the final privilege drop
// and execve, until the FIFO at path, a host path that must exist (mkfifo(3)),
// is opened for reading; Start returns once the init waits there, and fails
// when path is not a FIFO. The container is then created but not started, as in
// the OCI lifecycle, and outlives its creator: it gets no parent-death signal,
// and [RemoveCgroup] deletes it. See The exec FIFO in the package documentation
// for what the init writes to the FIFO.
func WithExecFIFO(path string) container.Option {
	return lifecycle.WithExecFIFO.(func(string) container.Option)(path)
}

// WithJoin runs the command as a further process of the running container
// whose first process has the host pid pid, as `docker exec` does, with the
// process settings of this Container's options. It needs root (CAP_SYS_ADMIN,
// CAP_SYS_PTRACE over the container) and a program that imports package
// github.com/ctrkit/container/nsenter (cgo): without it, or for a container
// without a mount namespace of its own, Start fails. Options that set a
// container up make New fail. See Joining a running container in the package
// documentation.
func WithJoin(pid int) container.Option {
	return lifecycle.WithJoin.(func(int) container.Option)(pid)
}

// WithInheritedCapabilities also gives the container's capabilities to a root
// command as inheritable and ambient ones (/proc/PID/status CapInh and CapAmb),
// as an OCI spec that lists them in all five sets asks; they then survive an
// execve of a program as another user. Without it, root has them permitted and
// effective only (a user other than root always gets them as ambient ones).
// Applied with capset(2) and prctl(PR_CAP_AMBIENT_RAISE) before execve.
func WithInheritedCapabilities() container.Option {
	return lifecycle.WithInheritedCapabilities.(func() container.Option)()
}

// withBoundingCapabilitiesOnly makes the container's capabilities its
// bounding set only: the command starts with none permitted, effective,
// inheritable or ambient, whatever its user (FromSpec and ProcessOptions, for
// a spec that lists capabilities in bounding alone).
func withBoundingCapabilitiesOnly() container.Option {
	return lifecycle.WithBoundingCapabilitiesOnly.(func() container.Option)()
}

// WithCreateHook runs h in the container's namespaces once its file systems
// are mounted, before pivot_root (an OCI createContainer hook): its path is
// resolved in the caller's file system, the container's root is still at
// the rootfs path, and it runs with the init's privileges (root of the
// container's namespaces, every capability of the bounding set the caller
// has). Hooks run in the order of the options; one that fails, exits with a
// status other than 0 or times out makes Start fail, with its output.
func WithCreateHook(h Hook) container.Option {
	return lifecycle.WithCreateHook.(func(Hook) container.Option)(h)
}

// WithStartHook runs h inside the container right before its command (an OCI
// startContainer hook; with [WithExecFIFO], once the FIFO is opened): after
// pivot_root, in the command's working directory, with the command's user,
// groups, capabilities, no_new_privs, seccomp policy and umask; its path is
// resolved in the container's file system. Hooks run in the order of the
// options; one that fails, exits with a status other than 0 or times out makes
// Start fail with its output (with WithExecFIFO, the init writes it to the FIFO
// and exits). The init starts and waits for it under the seccomp policy, which
// must allow clone, execve, pipe2, wait4 and waitid.
func WithStartHook(h Hook) container.Option {
	return lifecycle.WithStartHook.(func(Hook) container.Option)(h)
}

// WithBeforePivot calls f in the caller's process during Start, once the
// init has mounted the container's file systems and before pivot_root and the
// [WithCreateHook] hooks, while the init waits: pid is the init's pid (on the
// caller's side). It is where an OCI runtime runs its prestart and
// createRuntime hooks. An error from f makes Start fail with it. Later
// WithBeforePivot options replace earlier ones.
func WithBeforePivot(f func(pid int) error) container.Option {
	return lifecycle.WithBeforePivot.(func(func(int) error) container.Option)(f)
}

// WithDeviceRules confines the container to the device nodes the rules allow,
// in order, the last rule that names a device and an access deciding (runc's
// semantics), plus the standard nodes and those of [container.WithDevices]. It
// drives the cgroup v1 devices controller (devices.allow, devices.deny) or, on
// v2, an eBPF device program attached to the container's cgroup, which needs a
// cgroup at a fixed path ([WithCgroupPath]). A list the devices cgroup cannot
// express fails New, naming the rule. See Device rules in the package
// documentation.
func WithDeviceRules(rules ...DeviceRule) container.Option {
	return lifecycle.WithDeviceRules.(func(...DeviceRule) container.Option)(rules...)
}

// RemoveCgroup kills every process in the cgroup at path (as made by
// [WithCgroupPath]) and removes it from every hierarchy it exists in. It is how
// a container that outlived its creator ([WithExecFIFO]) is deleted. A cgroup
// that does not exist is not an error. It needs the privileges that created
// the cgroup, and gives up after a few seconds when a process does not die.
func RemoveCgroup(path string) error {
	return lifecycle.RemoveCgroup(path)
}

// FreezeCgroup freezes (frozen true) or thaws every process in the cgroup at
// path (freezer.state on cgroup v1, cgroup.freeze on v2). It fails when the
// cgroup has no freezer, or the state does not settle.
func FreezeCgroup(path string, frozen bool) error {
	return lifecycle.FreezeCgroup(path, frozen)
}

// CgroupFrozen reports whether the cgroup at path is frozen ([FreezeCgroup]).
func CgroupFrozen(path string) (bool, error) {
	return lifecycle.CgroupFrozen(path)
}

// CgroupPids lists the processes in the cgroup at path and its descendants
// (cgroup.procs of the v1 freezer hierarchy or the v2 cgroup).
func CgroupPids(path string) ([]int, error) {
	return lifecycle.CgroupPids(path)
}

// UpdateCgroup changes the limits of the existing cgroup at path (as made by
// [WithCgroupPath]) to those of opts, which may only be [container.WithMemory],
// [container.WithCPU], [container.WithCPUShares], [container.WithPids] and
// [container.WithResources]; the limits opts do not name, and the zero fields
// of Resources, stay as they are (on cgroup v1 WithCPU also sets the period, to
// 100000 µs unless Resources.CPUPeriod says otherwise). WithPids sets exactly n
// here: the init's reserve is only needed while a container is being set up.
// The cgroup must have the controllers the limits need (those of the limits it
// was created with, on cgroup v1). It needs the privileges that created the
// cgroup.
func UpdateCgroup(path string, opts ...container.Option) error {
	return lifecycle.UpdateCgroup.(func(string, ...container.Option) error)(path, opts...)
}

// RootfsMounts returns the ids (the first field of /proc/self/mountinfo) of the
// mounts of the caller's mount namespace at or below rootfs. With
// [ReleaseRootfsMounts] it lets a caller that cannot call Wait remove what a
// container without a mount namespace ([container.WithoutNamespace](NSMount))
// mounted on the host: record them before Start, release after the container is
// gone.
func RootfsMounts(rootfs string) ([]int, error) {
	return lifecycle.RootfsMounts(rootfs)
}

// ReleaseRootfsMounts unmounts every mount of the caller's mount namespace at
// or below rootfs whose id is not in keep ([RootfsMounts] before Start),
// deepest first, with MNT_DETACH. Wait and a failed Start do it for a container
// without a mount namespace ([container.WithoutNamespace](NSMount)); a caller
// that exits without Wait (ctrkit create, then delete) calls it once the
// container's processes are gone. Each mount is unmounted through a handle
// opened without following symlinks and checked to be that mount, so a path the
// container changed never leads to another mount. An error names the mount
// left.
func ReleaseRootfsMounts(rootfs string, keep []int) error {
	return lifecycle.ReleaseRootfsMounts(rootfs, keep)
}
