// Package container runs a command in a real Linux container built from the
// kernel's own primitives: namespaces, mounts, pivot_root and, with the options
// that ask for them, cgroups, seccomp, capabilities and veth networking. It is
// a library for Go programs that want isolation inside their own process tree,
// with an API shaped like [os/exec]:
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
// in the new process, on the thread that finally calls execve. So
// [Container.Start] re-executes the program itself (/proc/self/exe) with a
// sentinel argv[0], cloned straight into new namespaces ([syscall.SysProcAttr]
// Cloneflags, with the user namespace's id maps written by the parent). This
// package registers an init hook during package initialisation that recognises
// that process and turns it into the container's init: it reads its
// configuration from an inherited socket (never argv or the environment), waits
// until the parent has done its part, mounts /proc, /sys, /dev and the caller's
// mounts inside the root file system, pivots into it (chroots, for a container
// that shares the caller's mount namespace), sets the hostname, drops to the
// configured user and execs the command. A program or a test binary that
// imports this package needs no change to its main function, and no init
// function of a package that imports this one runs inside a container.
//
// Every failure inside the init comes back to Start as a [*SetupError] naming
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
//	v1: the clone thread moves itself into
//	  the container's cgroups (0 > tasks)
//	clone the read-only view of the binary
//	  (Cloneflags, id maps, CgroupFD,
//	  parent-death signal)             ───────► close every inherited descriptor but
//	v1: the clone thread moves back               the channel and ExtraFiles
//	send the configuration             ───────► decode the configuration
//	v1 (if the move failed): add the init
//	  to its cgroups
//	create the veth, its container end in         move the channel above ExtraFiles
//	  the init's network namespace                wait for "go"
//	start pasta/slirp4netns in the init's
//	  namespaces (WithUserNetwork), wait
//	  until it configured eth0
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
//	                                              Landlock ruleset, its paths opened
//	                                                in the container (WithLandlock)
//	take the terminal's master         ◄─────── terminal (OCI)
//	                                              rlimits; groups, user
//	                                              (OCI create: "parked", wait on the
//	                                                exec FIFO until `start`)
//	                                              Landlock restrict_self (exec thread)
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
//	  the OOM events; remove the cgroup; release the network address, stop
//	  the user network's helper, end the joining thread; unmount what a
//	  container without a mount namespace left; remove WithOverlayUpper's
//	  upper layer.
//
// Every resource the parent creates is registered for release before the next
// step runs, so a failure at any step undoes exactly what was done.
//
// # Features
//
// Limits ([WithMemory], [WithCPU], [WithCPUShares], [WithPids],
// [WithResources]) put the container in a cgroup of its own (see Cgroups
// below). [WithRlimit] sets resource limits and [WithInit] keeps a reaping init
// as PID 1. The default container drops to Docker's default capabilities, sets
// no_new_privs and loads a seccomp filter equivalent to Docker's default
// profile, carried precompiled; [WithoutSeccomp], [WithCapabilities] and their
// relatives change that, and package [github.com/ctrkit/container/seccomp]
// holds the policies as data, their compiler, and the option for a policy of
// your own. [WithBind], [WithTmpfs] and [WithMount] add mounts (see Mounts).
// [WithVeth], and [NewNetwork] with [WithNetwork], connect containers to the
// host and to each other (see Networking). [WithNamespacePath] runs a container
// in existing namespaces instead of new ones (see Joined namespaces),
// [WithRootfsPropagation] sets how its root mount propagates mount events, and
// [WithoutNamespace](NSMount) and [WithoutPivotRoot] give up pivot_root(2) (see
// Without a mount namespace or pivot_root). Package
// [github.com/ctrkit/container/oci] builds containers from an OCI runtime spec
// and carries the options of the OCI lifecycle: created and started apart,
// hooks, joining a running container, a cgroup at a fixed path, device rules.
//
// # Cgroups
//
// The limit options ([WithMemory], [WithCPU], [WithCPUShares], [WithPids] and
// [WithResources]) give the container a cgroup of its own; a container without
// them gets none. Each option names the files it drives. Start creates the
// cgroup as a child of the caller's own cgroup, so the container stays
// accounted where its caller is: on cgroup v2 in the caller's cgroup, enabling
// the controllers the limits need in its cgroup.subtree_control; on cgroup v1,
// and for the limits on a hybrid host (v1 controllers plus the unified
// hierarchy), in each v1 hierarchy the limits need, plus the freezer for
// teardown. The container's first process is in it before the command runs: on
// v2 (and in a hybrid host's unified hierarchy) it is cloned into it
// (CLONE_INTO_CGROUP), in v1 hierarchies the parent moves it there before the
// init is told to go. A controller that is not mounted or not
// available, or a file the kernel lacks, fails Start, naming it.
//
// Delegation: a caller that is not root can have limits on a cgroup v2 host
// when its cgroup is delegated to its uid, as systemd delegates one
// (`systemd-run --user --scope -p Delegate=yes <program>`): it owns the
// directory, cgroup.procs and cgroup.subtree_control, and the controllers the
// limits need are in its cgroup.controllers (one that is missing fails Start:
// "not delegated to this cgroup"). A v2 cgroup other than the root that has
// processes of its own cannot enable controllers for its children (the "no
// internal processes" rule), and a delegated cgroup holds the caller itself:
// so the first Start that needs controllers moves the cgroup's processes into
// a leaf below it, ctrkit-caller, as crun and podman move theirs into an
// "init" leaf, and enables them. The containers' cgroups are made beside the
// leaf, below the delegated cgroup (also for a process started from the
// leaf), and the leaf stays. Root is never moved: a root caller's cgroup
// must have the controllers enabled already or no processes of its own. A
// caller that is not root whose cgroup is not delegated, or whose host keeps
// the limits in cgroup v1 hierarchies, cannot have limits: Start fails with
// an error wrapping [ErrNeedRoot] that names what is missing and how to get it.
//
// The pids reserve: the container's own setup does not eat into the n of
// [WithPids]. The init is a Go program with threads of its own, so while it
// sets the container up pids.max is at least a reserve for them (32 tasks plus
// one per CPU, since the Go runtime's thread count grows with GOMAXPROCS; n
// itself when n is larger), and the parent lowers it to exactly n when the init
// is about to execve (the init waits for it); the init's threads end with
// execve, so the command never sees the reserve. With [WithInit] the init stays
// as PID 1, so its reserve stays on top of n: the command can always start n
// tasks, and may start a few more when the init uses fewer threads.
//
// Teardown: [Container.Wait] kills whatever is left in the cgroup, reads its
// OOM events ([ExitError.OOMKilled]) and its last counters ([Container.Stats]),
// and removes it. The cgroup's name, ctrkit-<owner pid>-<owner start
// time>-<id>, marks its owner: a Start that creates a cgroup first removes
// those whose owner died without calling Wait, killing what still runs in them,
// and never touches those of an owner that is alive. A cgroup at a fixed path
// ([github.com/ctrkit/container/oci.WithCgroupPath]) is not marked, and no
// Start reaps it.
//
// # Mounts
//
// The init mounts the container's file systems inside the rootfs, following a
// plan computed from the options before the container is cloned: /proc; a tmpfs
// on /dev with the standard nodes (null, zero, full, random, urandom, tty),
// those of [WithDevices], and their symlinks and subdirectories; /dev/pts, a
// devpts instance of its own; /dev/shm; /dev/mqueue, with an IPC namespace of
// its own or joined; /sys, sysfs read-only or, in a user namespace that does
// not own the network namespace (where sysfs cannot be mounted), a read-only
// bind of the host's. Then the mounts of [WithBind], [WithTmpfs] and
// [WithMount], parents before children and otherwise in the order of the
// options; the generated /etc files of the network options (see Networking);
// the masks of [WithMaskedPaths] and the read-only paths of
// [WithReadonlyPaths]; last, with [WithReadonlyRootfs], the root mount is made
// read-only. Every destination is resolved inside the rootfs and a missing one
// is created (see Security model).
//
// [WithMount] takes mount(8) options: "ro", "nosuid", "nodev", "noexec",
// "relatime", "noatime", "strictatime", "nodiratime", "sync" and "dirsync" are
// mount flags (a bind mount takes all but the last two); "rw", "bind", "rbind",
// "private" and "rprivate" are accepted as the default; the rest of a non-bind
// mount's options (such as "size=64m" or "mode=755") are passed to mount(2) as
// the file system's data (which the kernel ignores for a bind mount, as runc
// and mount(8) pass it too). "shared", "slave", "unbindable" and their
// recursive "r" forms set the mount's propagation inside the container's mount
// namespace, which is private to the host's: a shared mount shares events only
// with the container's own mounts.
//
// A "cgroup2" mount shows the container's own cgroup, never a host cgroup above
// it: the container gets a cgroup of its own (in the unified hierarchy on a
// hybrid host, which needs root), the root of its cgroup namespace; without a
// cgroup namespace the mount is a bind of that cgroup's directory. It is
// read-only unless its options name "rw".
//
// Propagation: the container's mount namespace is set up as runc does it, after
// [WithRootfsPropagation]. For "slave" and "rslave" its mounts are made
// recursively slaves of the caller's (mounts and unmounts of the host then
// reach the container, none go back); for "shared" and "rshared" they are left
// shared (only what a bind with "rshared" brings in is shared with the host;
// the rootfs's own mount is made from a private copy so that the container's
// mounts do not propagate back, and pivot_root(2) accepts it); otherwise they
// are made private. After pivot_root the root mount gets the propagation asked
// for: shared among the container's own mounts, or unbindable (a bind of / then
// fails with EINVAL).
//
// # Without a mount namespace or pivot_root
//
// A container normally enters its root with pivot_root(2) in a mount namespace
// of its own, which detaches the host's root file system. Two options give that
// up, each for weaker isolation.
//
// [WithoutNamespace](NSMount), as an OCI spec that lists no mount namespace,
// makes the container share the caller's mount namespace, and the host sees the
// container's mounts. The init makes the mount plan (/proc, the /dev tmpfs and
// its nodes, devpts, shm, mqueue, /sys, binds, tmpfs, masks, read-only paths)
// under the rootfs in the caller's mount namespace, where every process of the
// host sees it, and enters the rootfs with chroot(2), not pivot_root(2): a root
// process of the container that keeps CAP_SYS_CHROOT (one of the default
// capabilities: [WithCapDrop]("CAP_SYS_CHROOT") removes it) can leave the
// chroot for the host's root, and one with CAP_SYS_ADMIN can mount on the host.
// Nothing else of the host's mounts changes: no propagation, no bind of the
// rootfs. [Container.Wait] (or a failed [Container.Start]) unmounts, deepest
// first and lazily (MNT_DETACH), every mount at or below the rootfs that was
// not there when Start began. A caller that exits without Wait leaves them on
// the host: [github.com/ctrkit/container/oci.ReleaseRootfsMounts] removes them
// (ctrkit delete does). It needs root: a user namespace (a rootless caller,
// [WithUIDMap]) has no privilege to mount in the host's namespace. It conflicts
// with [WithReadonlyRootfs], which would make the host's mount that holds the
// rootfs read-only, and with [WithRootfsPropagation]: there is no root mount of
// the container's own.
//
// [WithoutPivotRoot] enters the root as runc's --no-pivot does, for a rootfs
// where pivot_root fails (EINVAL for a root file system in an initramfs). In
// the container's mount namespace the init moves the rootfs mount onto /
// (mount(2) MS_MOVE), lazily unmounts (MNT_DETACH) every mount of the host's
// left on the old root (its /proc, /sys, /dev and the rest), and enters the
// moved mount with chroot(2). The old root's own file system stays under the
// container's root: unlike pivot_root, which detaches the old root, this leaves
// the host's root file system in the container's mount namespace, under the
// moved rootfs. ".." does not climb out of the chroot (the rootfs mount sits on
// the namespace's root), but a process of the container with CAP_SYS_ADMIN and
// CAP_SYS_CHROOT (the latter a default capability) reaches the host's root by
// unmounting / and entering its own mount namespace again with setns(2). It
// needs a mount namespace of the container's own whose host mounts it may
// detach, so it conflicts with WithoutNamespace(NSMount), which enters the root
// with chroot already; with [WithNamespacePath](NSMount), since it would detach
// the mounts of a namespace other processes use; with a user namespace (a
// rootless caller, [WithUIDMap]), where the host's mounts are locked and cannot
// be detached; and with WithRootfsPropagation "shared" or "rshared", since the
// moved rootfs would be mounted on the host's root as well.
//
// # Joined namespaces
//
// [WithNamespacePath] runs a container in an existing namespace instead of a
// new one. The init is cloned from a thread of the caller that has entered the
// namespaces with setns(2) (after unshare(CLONE_FS), for a mount namespace), so
// it starts in them; the thread runs nothing else and ends with the container
// (it is the init's parent, for its parent-death signal).
//
// What the library does inside a new namespace it does inside the joined one. A
// joined mount namespace gets the container's mounts and its pivot_root(2),
// which moves the root of every process of that namespace whose root was the
// old one (so Start refuses the caller's own mount namespace and that of pid
// 1); the rootfs and the bind sources are looked up in it, and the init is
// executed through its /proc (/proc/self/fd), which must be mounted. A joined
// UTS namespace gets the names of [WithHostname] and [WithDomainname], and only
// those; a joined IPC namespace is what /dev/mqueue shows; a joined cgroup
// namespace is kept (no new one is made below the container's cgroup). A joined
// network namespace is left as it is: no interface is added and lo is not
// touched, so it conflicts with [WithVeth] and [WithNetwork].
//
// Joining a user namespace is not supported: setns(2) refuses a multi-threaded
// process, and the namespaces made when the init is cloned would belong to the
// caller's user namespace anyway. For the same reason a container with a user
// namespace (a rootless caller, [WithUIDMap]) can join only network and cgroup
// namespaces: its root has no privilege over the others. To run a further
// process in a running container, use
// [github.com/ctrkit/container/oci.WithJoin], which conflicts with
// WithNamespacePath.
//
// # Networking
//
// A container gets a network namespace of its own with only lo, up. [WithVeth]
// connects it to the host through a veth pair, and [WithNetwork] to a
// [Network], a bridge on the host that several containers join. A container
// with [WithoutNamespace](NSNet) shares the host's network, and one with
// [WithNamespacePath](NSNet, path) uses an existing namespace as it is; both
// conflict with WithVeth and WithNetwork, as those two do with each other. A
// veth pair needs CAP_NET_ADMIN on the host (root).
//
// The pair is created through netlink (RTM_NEWLINK, the container's end
// straight into the container's namespace) between the clone and the
// container's setup, and it vanishes with the container's network namespace
// when the container exits. With WithVeth the host end is named after the
// container's id ("ctk" and 12 hex digits); with WithNetwork it is a port of
// the network's bridge. The container's end is eth0 unless [WithVethName] names
// it; it gets the host end's MTU and a default route via the host's address.
// IPv6 addresses skip duplicate address detection.
//
// A container with a veth pair also gets a generated /etc/hosts (localhost and
// its hostname), /etc/hostname (with a UTS namespace of its own) and
// /etc/resolv.conf (the host's, less nameservers on the loopback), bind-mounted
// read-only from files the library owns: the rootfs is never written to. A
// member of a Network has an /etc/hosts that the network owns and keeps
// current: it lists every running member by hostname ([WithHostname]; also as
// hostname.network-name), so members reach each other by name. Two members
// running at once must have different hostnames, or the second one's Start
// fails.
//
// [NewNetwork] gives the bridge (named "ctb" and 12 hex digits, see
// [Network.Bridge]) the host's address of the subnet: the subnet's first
// address when prefix's address is the subnet's network address (as in
// 169.254.20.0/24), and prefix's address otherwise (as in 169.254.20.254/24).
// Members get the subnet's addresses in order, or the one [WithNetworkAddress]
// fixes: Start takes the address and Wait gives it back. Members reach each
// other and the host by address. A Network that its process did not close (the
// process was killed) is removed by the next NewNetwork, or Start of a
// container with WithVeth or WithNetwork, of any process.
//
// # Lifecycle
//
// A [Container] is single use. [Container.Start] starts it; [Container.Wait]
// waits for the first process, kills whatever else still runs in the container,
// and releases everything Start created: it is the single release point and
// must be called after a successful Start. A Start that fails undoes what it
// did. Cancelling the context given to Start kills every process in the
// container. The init is cloned with a parent-death signal from a thread that
// lives as long as the process, so a container does not outlive the program
// that started it.
//
// # Tracing
//
// [WithLogger] traces every start to a [log/slog.Logger], at
// [log/slog.LevelDebug]: one record "container start step" a step, with the
// container's id, the init's pid, where ("parent" or "init"), the step's
// name and its duration (dur), then "container started" with the whole
// Start's duration, or "container start failed" with the step that failed
// (where, step, the init's op, err). The parent's steps are the plan, the
// cgroup, the veth pair, the clone (which writes the id maps), sending the
// configuration, moving the veth end, and waiting for the init; the init's
// are its start (from the parent's clone to the init's hook, on
// CLOCK_MONOTONIC: the clone, the execve and the Go runtime's start), reading the configuration, waiting for the parent, the
// mounts, pivot_root, the hostname, Landlock, the user, capabilities,
// seccomp, and execve (from the init's trace to the end of its channel, seen
// by the parent). Steps that do nothing for a container are left out. The
// init logs nothing and links nothing more: it measures its steps (a fixed
// array, only when asked) and sends them over the sync channel right before
// its last message (execve, its error, or with the exec FIFO or a join its
// report; the steps after that are not traced). Without a logger, or with
// one that does not log debug records, the init is not asked to measure and
// Start does no more than a nil check a step.
//
// # Privileges
//
// As root the container gets new mount, UTS, IPC, PID, network and cgroup
// namespaces. A caller that is not root can run containers where the kernel
// allows unprivileged user namespaces: the container then also gets a user
// namespace in which the caller's uid and gid are the container's root (or the
// ids given to [WithUser]), device nodes are bound from the host instead of
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
