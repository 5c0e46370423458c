// Package container runs a command in a real Linux container built from the
// kernel's own primitives: namespaces, mounts, pivot_root and, with the options
// that ask for them, cgroups, seccomp, capabilities and veth networking. It is
// a library for Go programs that want isolation inside their own process tree,
// with an API shaped like os/exec:
//
//	// rootfs: a directory holding a root file system (a busybox tree, an
//	// unpacked image, or one that containertest.HostRootfs makes of the
//	// host's own programs).
//	c, err := container.New(rootfs, []string{"/bin/sh", "-c", "hostname; echo $$"},
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
// # The start sequence
//
// Every feature is a step of one sequence split between two processes: the
// parent ([Container.Start], in the caller's program) and the init (this
// program run again, already in the new namespaces). Each side is one
// function that reads top to bottom (Start in container_linux.go,
// initContainer in init_linux.go), each step a call into the file of its
// primitive. A new feature finds its place here; it does not invent a second
// path.
//
//	parent (Start)                              init (hook, never returns)
//	--------------                              --------------------------
//	plan: options → init configuration (mount
//	  plan, cgroup files, the seccomp program,
//	  pregenerated or compiled once per policy)
//	check the caller's bounding set
//	exec FIFO exists (OCI create)
//	record the mounts below the rootfs (no
//	  mount namespace: Wait removes the rest)
//	WithOverlayUpper: the upper layer's
//	  directory (reap dead owners')
//	create the cgroup (reap dead owners'; v2:
//	  open it for CLONE_INTO_CGROUP; the eBPF
//	  device program with OCI device rules)
//	plan the veth / network address
//	joined namespaces: a thread that setns'es
//	socketpair: the init's end is fd 3
//	clone the sealed copy of the binary
//	  (Cloneflags, id maps, CgroupFD,
//	  parent-death signal)             ───────► close every inherited descriptor but
//	send the configuration             ───────►   the channel and ExtraFiles
//	v1: add the init to its cgroups               decode the configuration
//	create the veth, its container end in         move the channel above ExtraFiles
//	  the init's network namespace                wait for "go"
//	"go"                               ───────► become root of the user namespace
//	                                              parent-death signal
//	                                              unshare the cgroup namespace
//	                                              hold the exec FIFO (OCI)
//	                                              sysctls, oom_score_adj
//	                                              mounts: propagation, rootfs bound
//	                                                onto itself (WithOverlay: a tmpfs
//	                                                and the overlay instead), /proc /dev (each node
//	                                                a mount) /dev/pts /dev/shm
//	                                                /dev/mqueue /sys, the caller's,
//	                                                /etc files, masks, read-only
//	                                                paths; nodev everywhere but on
//	                                                the devices (the device fence);
//	                                                read-only root
//	OCI prestart/createRuntime hooks   ◄─────── (WithBeforePivot) "mounted", wait
//	"go"                               ───────►   createContainer hooks
//	                                              pivot_root (chroot without a mount
//	                                                namespace; move + chroot with
//	                                                WithoutPivotRoot)
//	                                              hostname; lo up; eth0 address,
//	                                                route
//	                                            (WithJoin starts here: checked to be
//	                                              in the container's namespaces)
//	                                              working directory
//	take the terminal's master         ◄─────── terminal (OCI)
//	                                              rlimits; groups, user
//	                                              (OCI create: "parked", wait on the
//	                                                exec FIFO until `start`)
//	                                              capabilities, no_new_privs,
//	                                                seccomp, on the exec thread
//	                                              umask; startContainer hooks
//	                                              ExtraFiles to 3.., close-on-exec
//	                                                the rest
//	lower pids.max to the limit        ◄─────── (WithPids) "exec ready", wait
//	"go"                               ───────► execve(cmd) (WithInit: fork it,
//	                                              reap, forward signals)
//	EOF: the command runs; or the      ◄─────── or an error record {step, path,
//	  *SetupError                                 errno}, and exit
//
//	Wait: wait for the first process; kill what is left in the cgroup; read
//	  the OOM events; remove the cgroup; release the network address and the
//	  joining thread; unmount what a container without a mount namespace left;
//	  remove WithOverlayUpper's upper layer.
//
// Every resource the parent creates is registered for release before the next
// step runs, so a failure at any step undoes exactly what was done.
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
// as data, their compiler, and the option for a policy of your own. WithVeth,
// and NewNetwork with WithNetwork, connect containers to the host and to each
// other.
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
// its channel and the files of [Container.ExtraFiles] as soon as it has read its
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
