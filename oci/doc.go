// Package oci turns an OCI runtime-spec configuration (config.json of a
// bundle, github.com/opencontainers/runtime-spec v1.0 to v1.2) into a
// container of package [github.com/ctrkit/container]. Every field is honoured
// or rejected by an error that names it; only annotations are ignored (they
// are the engines' notes, kept in the runtime's state). [FromSpec] is pure: it
// makes no system call.
//
//	var s specs.Spec // the bundle's config.json, decoded
//	cfg, err := oci.FromSpec(&s, bundle, "web")
//	if err != nil {
//		return err // an *oci.FieldError naming the field
//	}
//	c, err := container.New(cfg.Rootfs, cfg.Args, cfg.Options...)
//
// The package also carries the lifecycle of an OCI container, what a runtime
// needs beyond a Go program's container: created and started apart
// ([WithExecFIFO]), hooks ([WithCreateHook], [WithStartHook],
// [WithBeforePivot]), joining a running container ([WithJoin]), a cgroup at a
// fixed path that outlives its creator ([WithCgroupPath], [UpdateCgroup],
// [FreezeCgroup], [RemoveCgroup]), device rules ([WithDeviceRules]) and the
// mounts a container without a mount namespace leaves on the host
// ([RootfsMounts], [ReleaseRootfsMounts]). FromSpec uses the options;
// cmd/ctrkit calls the functions that act on an existing container.
//
// # The exec FIFO
//
// [WithExecFIFO] splits a container's start in two, as the OCI lifecycle's
// create and start do. The init sets the container up and then, right before
// the final privilege drop and execve (capabilities, no_new_privs, seccomp),
// waits until the FIFO at the given host path is opened for reading; Start
// returns once the init waits there: the container is created but not
// started. The path must exist (mkfifo(3)) and Start checks that it is a FIFO.
// The init opens it with O_PATH before pivot_root and reopens it for writing
// through /proc/self/fd when it parks.
//
// Whoever opens the FIFO starts the command. The init writes one byte, "0",
// to it: a reader that gets it knows the init went on. The init's end closes
// at execve. When a step after that fails (a [WithStartHook] hook, the final
// privilege drop, the execve), the init writes the error's text after the "0"
// and exits: a reader that reads to EOF gets exactly "0" when the command
// runs.
//
// Such a container outlives its creator: the init gets no parent-death
// signal, and the caller may exit after Start without calling Wait. Its
// cgroup (see [WithCgroupPath]) is then removed with [RemoveCgroup]. With
// [container.WithPids], pids.max keeps the init's reserve until
// UpdateCgroup(path, container.WithPids(n)) lowers it after the start: the
// init does not wait for its creator before execve.
//
// # A cgroup at a fixed path
//
// [WithCgroupPath] gives the container a cgroup at an absolute path inside
// each cgroup hierarchy (such as "/ctrkit/web"), instead of a child of the
// caller's own cgroup, even without a limit option. Its missing parents are
// created and kept; [container.Container.Wait] (or, for a container that
// outlives its creator, [RemoveCgroup]) kills what runs in it and removes it.
// Unlike the default cgroup it is not marked with its owner, so no later
// Start reaps it: New refuses a path with a component named like the default
// cgroups (ctrkit-PID-START-ID), which the next Start of a process whose
// cgroup holds it would take for a dead owner's and kill. On cgroup v1 it is
// made in the freezer hierarchy and those the limits need, and, where the
// host mounts them, in the memory, cpu, cpuacct, pids and blkio hierarchies
// (on v2 those controllers are enabled for it where its parent has them), as
// runc makes its cgroups: the runtime's callers change its limits later
// ([UpdateCgroup]: docker update -m of a container run without -m) and read
// its statistics there (docker stats). An update that needs a hierarchy
// the cgroup is not in (cpuset, hugetlb or net_cls without such a limit
// when it was made) fails naming it.
//
// # Device rules
//
// [WithDeviceRules] confines the container to the device nodes the rules
// allow. Every device starts denied; the rules apply in order, each to the
// devices and accesses it names, so the last rule that names a device and an
// access decides (runc's semantics): a rule for all devices ("a *:* rwm")
// starts over with everything allowed or denied, and a deny after allows
// takes access back. The nodes of [container.WithDevices] and the standard
// devices every container gets (null, zero, full, random, urandom, tty, ptmx
// and the pts terminals) are allowed after the rules.
//
// The result is written to the cgroup v1 devices controller (devices.deny or
// devices.allow "a", then one exception per line) or, on cgroup v2, an eBPF
// device program (BPF_PROG_TYPE_CGROUP_DEVICE) is attached to the container's
// cgroup, before the container's first process runs. The eBPF loader comes
// with this package (which links github.com/cilium/ebpf): without it in the
// program, Start fails on a v2 host.
//
// A list that the devices cgroup cannot express fails New, naming the rule:
// taking an access back from part of the devices an earlier wildcard rule
// gave it to (allow "c 10:* rw", then deny "c 10:229 w"), since an exception
// names devices by number or by wildcard only. As on v1, an access that needs
// two allow rules at once (read from one, write from another) is denied.
//
// # Joining a running container
//
// [WithJoin] runs the command as a further process of a running container, as
// `docker exec` and `runc exec` do: in its namespaces and cgroups, with the
// user, groups, environment, working directory, capabilities, no_new_privs,
// seccomp policy, rlimits and umask of the new Container's options (the
// defaults when not given). The rootfs must still be given to
// [container.New], and is not used. The process outlives the caller (no
// parent-death signal); Wait waits for it.
//
// A Go process cannot join a mount or user namespace (setns(2) refuses a
// multi-threaded process), so a C constructor in package
// [github.com/ctrkit/container/nsenter] (cgo) joins them before the Go runtime
// starts: the program must import it, or Start fails. Options that set a
// container up (namespaces, id maps, mounts, hostname, read-only root,
// limits, cgroup path, WithExecFIFO, [container.WithNamespacePath]) make New
// fail. A container that shares the caller's mount namespace
// ([container.WithoutNamespace](NSMount)) cannot be joined: its root is a
// chroot, which joining namespaces does not enter, and Start fails
// ([errors.ErrUnsupported]). One made with [container.WithoutPivotRoot] can:
// setns(2) puts the process on the topmost mount at its namespace's root, the
// moved rootfs.
//
// # Deprecated memory fields
//
// Two deprecated fields of linux.resources.memory have rules of their own in
// [ResourceOptions] and FromSpec. memory.kernel (kernel memory,
// memory.kmem.limit_in_bytes) is charged to the memory limit as well, has no
// limit of its own on cgroup v2, and Linux 6.x ignores writes to the v1 file;
// runtime-spec deprecates it and runc ignores it. It is accepted, and not
// written, only when it limits nothing the memory limit does not: -1 (no
// limit), or at least memory.limit; any other value is rejected.
// memory.kernelTCP is honoured (see
// [container.Resources].KernelTCPMemory), and -1, no limit, is the default,
// so nothing is written for it.
package oci
