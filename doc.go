// Package container runs a command in a real Linux container built from the
// kernel's own primitives: namespaces, mounts, pivot_root and, with the options
// that ask for them, cgroups, seccomp, capabilities and veth networking. It is
// a library for Go programs that want isolation inside their own process tree,
// with an API shaped like os/exec:
//
//	c, err := container.New("/srv/rootfs", []string{"/bin/sh", "-c", "hostname; echo $$"},
//		container.WithHostname("box"))
//	if err != nil {
//		return err
//	}
//	c.Stdout = os.Stdout
//	err = c.Run(ctx) // prints "box" and "1"
//
// # How a container starts
//
// The Go runtime is multi-threaded, and a multi-threaded process cannot safely
// fork and then set up a container before exec: most of that work must happen
// in the new process, on the thread that finally calls execve. So Start
// re-executes the program itself (/proc/self/exe) with a sentinel argv[0],
// cloned straight into new namespaces (syscall.SysProcAttr Cloneflags, with
// the user namespace's id maps written by the parent). This package registers
// an init hook during package initialisation that recognises that process and
// turns it into the container's init: it reads its configuration from an
// inherited socket (never argv or the environment), waits until the parent has
// done its part, mounts /proc, /sys, /dev and the caller's mounts inside the
// root file system, pivots into it (chroots, for a container that shares the
// caller's mount namespace), sets the hostname, drops to the configured
// user and execs the command. A program or a test binary that imports this
// package needs no change to its main function, and no init function of a
// package that imports this one runs inside a container.
//
// Every failure inside the init comes back to Start as a *SetupError naming
// the step, the path and the errno, so errors.Is(err, fs.ErrNotExist) and
// errors.Is(err, unix.EPERM) work across the process boundary. Start returns
// only after the command was exec'd: a missing command is Start's error, not an
// exit status.
//
// # Features
//
// Limits (WithMemory, WithCPU, WithCPUShares, WithPids, WithResources) put
// the container in a cgroup of its own, a child of the caller's, in only the
// hierarchies the limits need; a container without limits gets no cgroup. WithRlimit sets
// resource limits and WithInit keeps a reaping init as PID 1. The default
// container drops to Docker's default capabilities, sets no_new_privs and
// loads a seccomp filter equivalent to Docker's default profile, carried
// precompiled; WithoutSeccomp, WithCapabilities and their relatives change
// that, and package [github.com/ctrkit/container/seccomp] holds the policies
// as data, their compiler, and the option for a policy of your own. WithVeth, NewNetwork with
// WithNetwork, and WithNetNS connect containers to the host and to each other.
// WithNamespacePath runs a container in existing namespaces (joined by path)
// instead of new ones, WithRootfsPropagation sets how its root mount
// propagates mount events, and WithoutPivotRoot enters the root without
// pivot_root(2), for a root file system in an initramfs.
//
// # Lifecycle
//
// A Container is single use. Start starts it; Wait waits for the first
// process, kills whatever else still runs in the container, and releases
// everything Start created: it is the single release point and must be called
// after a successful Start. A Start that fails undoes what it did. Cancelling
// the context given to Start kills every process in the container. The init is
// cloned with a parent-death signal from a thread that lives as long as the
// process, so a container does not outlive the program that started it.
//
// # Privileges
//
// As root the container gets new mount, UTS, IPC, PID, network and cgroup
// namespaces. A caller that is not root can run containers where the kernel
// allows unprivileged user namespaces: the container then also gets a user
// namespace in which the caller's uid and gid are the container's root (or the
// ids given to WithUser), device nodes are bound from the host instead of
// created, and features that need real root fail Start with an error that says
// so.
//
// # Security model
//
// The root file system is trusted not to be written by the library (many
// containers may share one), but not trusted to be well formed: every mount
// destination is resolved inside it with openat2(RESOLVE_IN_ROOT), the kernel
// file systems /proc, /sys and /dev refuse destinations reached through a
// symlink, and mounts are made onto the opened file descriptor, so a hostile
// rootfs cannot redirect a mount onto the host. Sensitive /proc and /sys paths
// are masked or read-only as Docker does, and every file descriptor above
// stderr is closed on exec; the init closes every descriptor it inherited but
// its channel and the files of [WithExtraFiles] as soon as it has read its
// configuration.
//
// The default capabilities keep CAP_MKNOD, as Docker's do; what keeps a
// container from the host's devices is the mount table: every mount of the
// container is nodev but the standard device nodes, those of [WithDevices]
// (each a mount of its own), devpts and the masks. A node the container makes,
// one its root file system carries and one a bind of a host path reaches
// cannot be opened. This needs no cgroup; a container given CAP_SYS_ADMIN in
// the host's user namespace could remount, which only a device cgroup stops.
package container
