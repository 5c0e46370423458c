package container

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ctrkit/container/internal/devices"
)

// Options that an OCI runtime needs (package oci builds them from a runtime
// spec) and that any caller may use: supplementary groups, umask, OOM score,
// sysctls, generic mounts, replacing the masked and read-only paths, a cgroup
// at a fixed path, and the created-but-not-started state of the OCI lifecycle
// (WithExecFIFO). The kernel side is oci_linux.go.

// ociConfig is what the options of this file asked for.
type ociConfig struct {
	groups      []uint32
	umask       int // -1: inherit the caller's
	umaskSet    bool
	oomScoreAdj *int
	sysctls     []sysctlEntry
	masked      []string
	maskedSet   bool
	readonly    []string
	readonlySet bool
	execFIFO    string
	joinPID     int
	terminal    bool
	inherited   bool // WithInheritedCapabilities
	devices     []device
	extraFiles  []*os.File          // WithExtraFiles
	createHooks []Hook              // WithCreateHook
	startHooks  []Hook              // WithStartHook
	beforePivot func(pid int) error // WithBeforePivot
}

// sysctlEntry is one kernel parameter the init writes under /proc/sys.
type sysctlEntry struct {
	Key, Value string
}

// ociInit is this file's part of the plan the init carries out.
type ociInit struct {
	Groups      []uint32
	Umask       int // -1: leave as inherited
	OOMScoreAdj *int
	Sysctls     []sysctlEntry
	ExecFIFO    string            // WithExecFIFO: park until this FIFO is opened for reading
	Detached    bool              // no parent-death signal: WithExecFIFO or WithJoin
	JoinPID     int               // WithJoin: the container's init, whose namespaces the init must be in
	JoinNS      map[string]uint64 // WithJoin: inode of each namespace of JoinPID, checked by the init
	Terminal    bool              // WithTerminal: a pty made in the container is the command's stdio
	ExtraFiles  int               // WithExtraFiles: how many descriptors follow the sync channel (fd 4 on)
	CreateHooks []hookEntry       // WithCreateHook: run after the mounts, before pivot_root
	StartHooks  []hookEntry       // WithStartHook: run after the privilege drop, before the command
	BeforePivot bool              // WithBeforePivot: wait for the parent after the mounts
	fifoFD      int               // the init's O_PATH descriptor of ExecFIFO, opened before pivot_root
	fifoDir     int               // the init's O_PATH descriptor of the host's /proc/self/fd, for fifoFD
	fifoWrite   int               // the init's write end of ExecFIFO once unparked (0: not open)
}

// hookEntry is a Hook as the init runs it; Stdin is filled in by Start.
type hookEntry struct {
	Path    string
	Args    []string
	Env     []string
	Timeout time.Duration
	Stdin   []byte
}

func (o *ociConfig) initConfig() ociInit {
	um := -1
	if o.umaskSet {
		um = o.umask
	}
	return ociInit{Groups: o.groups, Umask: um, OOMScoreAdj: o.oomScoreAdj, Sysctls: o.sysctls, ExecFIFO: o.execFIFO, Detached: o.execFIFO != "" || o.joinPID != 0, JoinPID: o.joinPID, Terminal: o.terminal,
		ExtraFiles: len(o.extraFiles), CreateHooks: hookEntries(o.createHooks), StartHooks: hookEntries(o.startHooks), BeforePivot: o.beforePivot != nil}
}

// detached reports whether the container outlives the process that started it.
func (c *config) detached() bool { return c.oci.execFIFO != "" || c.oci.joinPID != 0 }

// WithGroups sets the supplementary groups of the container's command
// (setgroups(2) in the init, before setuid). Without it the command has none.
// setgroups is denied in a user namespace, so New fails when the container
// gets one.
func WithGroups(gids ...uint32) Option {
	return optionFunc(func(c *config) error {
		c.oci.groups = append([]uint32(nil), gids...)
		return nil
	})
}

// WithUmask sets the file mode creation mask of the container's command
// (umask(2) in the init right before execve); mask must be at most 0777.
// Without it the command inherits the caller's umask.
func WithUmask(mask uint32) Option {
	return optionFunc(func(c *config) error {
		if mask > 0o777 {
			return optErr("WithUmask", fmt.Sprintf("%#o", mask), "must be at most 0777")
		}
		c.oci.umask, c.oci.umaskSet = int(mask), true
		return nil
	})
}

// WithOOMScoreAdj sets the container's OOM score adjustment, -1000 to 1000
// (/proc/self/oom_score_adj, written by the init before the mounts; every
// process of the container inherits it). Lowering it below the caller's own
// value needs CAP_SYS_RESOURCE; when the kernel refuses, Start fails.
func WithOOMScoreAdj(score int) Option {
	return optionFunc(func(c *config) error {
		if score < -1000 || score > 1000 {
			return optErr("WithOOMScoreAdj", score, "must be between -1000 and 1000")
		}
		c.oci.oomScoreAdj = &score
		return nil
	})
}

// WithSysctl sets a namespaced kernel parameter in the container, such as
// "net.ipv4.ip_forward" or "kernel.shm_rlimit" (written to /proc/sys/... by
// the init in its new namespaces, before the mounts). Only parameters that
// belong to a namespace the container has its own of are accepted: net.*
// (network), kernel.shm*, kernel.msg*, kernel.sem and fs.mqueue.* (IPC);
// anything else would change the host, and New fails. kernel.hostname and
// kernel.domainname are refused too: the init sets the hostname and domain
// name itself after the sysctls, so the value would be lost; WithHostname and
// WithDomainname set them. When the kernel refuses the write, Start fails.
func WithSysctl(key, value string) Option {
	return optionFunc(func(c *config) error {
		k := strings.ReplaceAll(key, "/", ".")
		if k == "" || strings.Contains(k, "..") || strings.ContainsAny(k+value, "\x00\n") {
			return optErr("WithSysctl", key, "malformed parameter name or value")
		}
		switch k {
		case "kernel.hostname":
			return optErr("WithSysctl", key, "the init sets the hostname after the sysctls: use WithHostname")
		case "kernel.domainname":
			return optErr("WithSysctl", key, "the init sets the domain name after the sysctls: use WithDomainname")
		}
		if sysctlNamespace(k) == 0 {
			return optErr("WithSysctl", key, "not a namespaced kernel parameter: it would change the host")
		}
		c.oci.sysctls = append(c.oci.sysctls, sysctlEntry{Key: k, Value: value})
		return nil
	})
}

// sysctlNamespace returns the namespace a kernel parameter belongs to, or 0.
func sysctlNamespace(k string) Namespace {
	switch {
	case strings.HasPrefix(k, "net."):
		return NSNet
	case k == "kernel.sem" || strings.HasPrefix(k, "kernel.shm") || strings.HasPrefix(k, "kernel.msg") ||
		strings.HasPrefix(k, "fs.mqueue."):
		return NSIPC
	}
	return 0
}

// WithMaskedPaths replaces the default list of paths hidden from the container
// (/proc/kcore, /proc/keys, /sys/firmware and others, as Docker and runc hide):
// a file gets the host's /dev/null bound over it, a directory an empty
// read-only tmpfs. Paths that do not exist are skipped. With no paths, nothing
// is masked.
func WithMaskedPaths(paths ...string) Option {
	return optionFunc(func(c *config) error {
		ps, err := cleanPaths("WithMaskedPaths", paths)
		if err != nil {
			return err
		}
		c.oci.masked, c.oci.maskedSet = ps, true
		return nil
	})
}

// WithReadonlyPaths replaces the default list of paths made read-only in the
// container (/proc/sys, /proc/sysrq-trigger and others): each is bound onto
// itself and made read-only recursively (mount_setattr(2)). Paths that do not
// exist are skipped. With no paths, none is made read-only.
func WithReadonlyPaths(paths ...string) Option {
	return optionFunc(func(c *config) error {
		ps, err := cleanPaths("WithReadonlyPaths", paths)
		if err != nil {
			return err
		}
		c.oci.readonly, c.oci.readonlySet = ps, true
		return nil
	})
}

func cleanPaths(option string, paths []string) ([]string, error) {
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		d, err := checkDest(option, p)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// WithMount mounts a file system at dst inside the container, after the
// standard ones (/proc, /sys, /dev, /dev/pts, /dev/shm, /dev/mqueue) and in the
// order of the options, parents first. fstype is one of "tmpfs", "proc",
// "sysfs", "devpts", "mqueue" or "cgroup2", or "bind" to bind the host path
// source recursively (like WithBind). options are mount(8) options: "ro",
// "nosuid", "nodev", "noexec", "relatime", "noatime", "strictatime",
// "nodiratime", "sync", "dirsync" (a bind mount takes all but the last two);
// "rw", "bind", "rbind", "private" and
// "rprivate" are accepted as the default; the rest of a non-bind mount's
// options (such as "size=64m" or "mode=755") are passed to mount(2) as the
// file system's data (which the kernel ignores for a bind mount, as runc and
// mount(8) pass it too). "shared", "slave",
// "unbindable" and their recursive "r" forms set the mount's propagation
// inside the container's mount namespace, which is private to the host's: a
// shared mount shares events only with the container's own mounts. dst is resolved inside the container's root and created when
// missing. Mounting needs the privileges of the container's mount namespace;
// when the kernel refuses, Start fails.
//
// A "cgroup2" mount shows the container's own cgroup, never a host cgroup
// above it: the container gets a cgroup of its own (in the unified hierarchy
// on a hybrid host, which needs root), the root of its cgroup namespace;
// without a cgroup namespace the mount is a bind of that cgroup's directory.
// It is read-only unless options name "rw".
func WithMount(fstype, source, dst string, options ...string) Option {
	return optionFunc(func(c *config) error {
		d, err := checkDest("WithMount", dst)
		if err != nil {
			return err
		}
		mo, err := parseMountOptions(options, fstype == "bind")
		if err != nil {
			return optErr("WithMount", dst, "%w", err)
		}
		switch fstype {
		case "bind":
			if err := WithBind(source, d, mo.flags&msRdonly != 0).apply(c); err != nil {
				return err
			}
			c.mounts[len(c.mounts)-1].attrs = mo.flags &^ msRdonly
			c.mounts[len(c.mounts)-1].prop = mo.prop
			c.mounts[len(c.mounts)-1].data = mo.data
		case "tmpfs", "proc", "sysfs", "devpts", "mqueue", "cgroup2":
			if d == "/proc" || strings.HasPrefix(d, "/proc/") {
				return optErr("WithMount", dst, "mounts over /proc are not allowed")
			}
			if source == "" {
				source = fstype
			}
			if fstype == "cgroup2" {
				// The container's own cgroup, read-only unless asked by name.
				c.limits.view = true
				if !slices.Contains(options, "rw") {
					mo.flags |= msRdonly
				}
			}
			c.mounts = append(c.mounts, userMount{kind: mountFS, fstype: fstype, source: source, dest: d, flags: mo.flags, data: mo.data, prop: mo.prop})
		default:
			return optErr("WithMount", fstype, "unsupported file system type")
		}
		return nil
	})
}

type mountOptions struct {
	flags uintptr
	prop  uintptr
	data  string
}

// msAtimeFlags are noatime, nodiratime, relatime and strictatime.
const msAtimeFlags = 0x400 | 0x800 | 0x200000 | msStrictatime

// Linux's propagation flags (MS_REC, MS_UNBINDABLE, MS_PRIVATE, MS_SLAVE, MS_SHARED).
const msRec, msUnbindable, msPrivate, msSlave, msShared = 0x4000, 0x20000, 0x40000, 0x80000, 0x100000

var propagationNames = map[string]uintptr{
	"shared": msShared, "rshared": msShared | msRec, "slave": msSlave, "rslave": msSlave | msRec,
	"unbindable": msUnbindable, "runbindable": msUnbindable | msRec,
}

// Linux's mount flags that WithMount accepts (pure code, so the values are
// spelled out).
var mountFlagNames = map[string]uintptr{
	"ro": msRdonly, "nosuid": msNosuid, "nodev": msNodev, "noexec": msNoexec,
	"sync": 0x10, "dirsync": 0x80, "noatime": 0x400, "nodiratime": 0x800,
	"relatime": 0x200000, "strictatime": msStrictatime,
}

func parseMountOptions(opts []string, bind bool) (mountOptions, error) {
	var mo mountOptions
	var data []string
	for _, o := range opts {
		if f, ok := mountFlagNames[o]; ok {
			mo.flags |= f
			continue
		}
		if p, ok := propagationNames[o]; ok {
			mo.prop = p
			continue
		}
		switch o {
		case "rw", "bind", "rbind", "private", "rprivate", "":
			continue
		}
		if strings.ContainsAny(o, "\x00") {
			return mo, fmt.Errorf("option contains a NUL byte")
		}
		data = append(data, o)
	}
	if bind && mo.flags&^(msRdonly|msNosuid|msNodev|msNoexec|msAtimeFlags) != 0 {
		return mo, fmt.Errorf("bind mounts accept only ro, nosuid, nodev, noexec and the atime options")
	}
	mo.data = strings.Join(data, ",")
	return mo, nil
}

// WithCgroupPath gives the container a cgroup at path, an absolute path inside
// each cgroup hierarchy (such as "/ctrkit/web"), instead of a child of the
// caller's own cgroup; the container gets it even without a limit option. Its
// missing parents are created and kept; Wait (or, for a container that
// outlives its creator, RemoveCgroup) kills what runs in it and removes it.
// Unlike the default cgroup, it is not marked with its owner, so no later
// Start reaps it: New refuses a path with a component named like the default
// cgroups (ctrkit-PID-START-ID), which the next Start of a process whose
// cgroup holds it would take for a dead owner's and kill. On cgroup v1 it is
// made in the freezer hierarchy and those the limits need. Needs root or a
// delegated cgroup; Start fails when it cannot be created.
func WithCgroupPath(path string) Option {
	return optionFunc(func(c *config) error {
		p := filepath.Clean(path)
		if !filepath.IsAbs(path) || p == "/" || strings.ContainsRune(p, 0) {
			return optErr("WithCgroupPath", path, "must be an absolute path below the hierarchy's root")
		}
		for _, name := range strings.Split(p[1:], "/") {
			if _, _, ok := parseCgroupName(name); ok {
				return optErr("WithCgroupPath", path, "%q is named like the cgroups this library makes and reaps (%sPID-START-ID): a later Start could take it for a dead owner's and kill it", name, cgroupPrefix)
			}
		}
		c.limits.path = p
		return nil
	})
}

// WithExecFIFO makes the container wait, after its setup and right before the
// final privilege drop and execve (capabilities, no_new_privs, seccomp), until
// the FIFO at path, a host path that must exist (mkfifo(3)), is opened for
// reading. Start checks that it is a FIFO. Start returns once the init waits there: the container is created
// but not started, as in the OCI lifecycle. Whoever opens the FIFO starts the
// command (the init writes one byte, "0", to it; a reader that gets it knows
// the init went on; the init's end closes at execve). When a step after that
// fails (a WithStartHook hook, the final privilege drop, the execve), the init
// writes the error's text after the "0" and exits: a reader that reads to EOF
// gets exactly "0" when the command runs.
//
// Such a container outlives its creator: the init gets no parent-death signal,
// and the caller may exit after Start without calling Wait. Its cgroup (see
// WithCgroupPath) is then removed with RemoveCgroup. With WithPids, pids.max
// keeps the init's reserve until UpdateCgroup(path, WithPids(n)) lowers it
// after the start (the init does not wait for its creator before execve). The init opens the path
// with O_PATH before pivot_root and reopens it for writing through
// /proc/self/fd when it parks.
func WithExecFIFO(path string) Option {
	return optionFunc(func(c *config) error {
		if !filepath.IsAbs(path) {
			return optErr("WithExecFIFO", path, "must be an absolute path")
		}
		c.oci.execFIFO = filepath.Clean(path)
		return nil
	})
}

// WithJoin runs the command as a further process of a running container,
// whose first process has the host pid pid, as `docker exec` and `runc exec`
// do: in its namespaces and cgroups, with the user, groups, environment,
// working directory, capabilities, no_new_privs, seccomp policy, rlimits and
// umask of this Container's options (the defaults when not given); rootfs
// must still be given to New, and is not used. The process outlives the caller
// (no parent-death signal); Wait waits for it.
//
// It needs a program that imports package
// github.com/ctrkit/container/nsenter (cgo): a Go process cannot join a mount
// or user namespace, so a C constructor joins them before the Go runtime
// starts. Without it Start fails. Options that set a container up
// (namespaces, id maps, mounts, hostname, read-only root, limits, cgroup
// path, WithExecFIFO) make New fail. Needs root (CAP_SYS_ADMIN, CAP_SYS_PTRACE
// over the container). A container that shares the caller's mount namespace
// (WithoutNamespace(NSMount)) cannot be joined: its root is a chroot, which
// joining namespaces does not enter; Start fails (errors.ErrUnsupported). A
// WithoutPivotRoot container's can: setns(2) puts the process on the topmost
// mount at its namespace's root, the moved rootfs.
func WithJoin(pid int) Option {
	return optionFunc(func(c *config) error {
		if pid <= 0 {
			return optErr("WithJoin", pid, "not a process id")
		}
		c.oci.joinPID = pid
		return nil
	})
}

// WithTerminal gives the command a pseudo-terminal as its standard input,
// output and error, made inside the container (/dev/ptmx of its devpts
// instance) and its controlling terminal (setsid, TIOCSCTTY); the slave
// belongs to the container's user. Start passes the master side back over the
// init's channel (SCM_RIGHTS): Terminal returns it, and the caller reads the
// command's output from it and writes its input to it. Stdin, Stdout and
// Stderr then only serve the init until it switches to the terminal. Start
// fails when the container has no /dev/ptmx.
func WithTerminal() Option {
	return optionFunc(func(c *config) error {
		c.oci.terminal = true
		return nil
	})
}

// WithInheritedCapabilities also gives the container's capabilities to a root
// command as inheritable and ambient ones (/proc/PID/status CapInh and CapAmb),
// as an OCI spec that lists them in all five sets asks; they then survive an
// execve of a program as another user. Without it, root has them permitted and
// effective only (a user other than root always gets them as ambient ones).
// Applied with capset(2) and prctl(PR_CAP_AMBIENT_RAISE) before execve.
func WithInheritedCapabilities() Option {
	return optionFunc(func(c *config) error {
		c.oci.inherited = true
		return nil
	})
}

// WithExtraFiles passes open files to the container's command, as
// exec.Cmd.ExtraFiles does: files[i] becomes its descriptor 3+i (what runc's
// --preserve-fds passes on). The command gets exactly these descriptors
// besides stdin, stdout and stderr. The files stay the caller's: Start
// duplicates them into the init and does not close them. It works with
// WithInit and WithJoin too. Later WithExtraFiles options add to earlier ones;
// a nil file makes New fail.
func WithExtraFiles(files ...*os.File) Option {
	return optionFunc(func(c *config) error {
		for i, f := range files {
			if f == nil {
				return optErr("WithExtraFiles", i, "nil file")
			}
		}
		c.oci.extraFiles = append(c.oci.extraFiles, files...)
		return nil
	})
}

// Hook is a program the container's init runs inside the container during
// its start (WithCreateHook, WithStartHook), as an OCI runtime runs its
// createContainer and startContainer hooks.
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

// WithCreateHook runs h in the container's namespaces once its file systems
// are mounted, before pivot_root (an OCI createContainer hook): its path is
// resolved in the caller's file system, the container's root is still at
// the rootfs path, and it runs with the init's privileges (root of the
// container's namespaces, every capability of the bounding set the caller
// has). Hooks run in the order of the options; one that fails, exits with a
// status other than 0 or times out makes Start fail, with its output.
func WithCreateHook(h Hook) Option {
	return optionFunc(func(c *config) error {
		h, err := checkHook("WithCreateHook", h)
		if err != nil {
			return err
		}
		c.oci.createHooks = append(c.oci.createHooks, h)
		return nil
	})
}

// WithStartHook runs h inside the container right before its command (an OCI
// startContainer hook; with WithExecFIFO, once the FIFO is opened): after
// pivot_root, in the command's working directory, with the command's user,
// groups, capabilities, no_new_privs, seccomp policy and umask; its path is
// resolved in the container's file system. Hooks run in the order of the
// options; one that fails, exits with a status other than 0 or times out
// stops the start: Start fails with its output, or, with WithExecFIFO, the
// init writes the failure to the FIFO and exits. The init starts and waits
// for it under the seccomp policy (clone, execve, pipe2, wait4 and waitid
// must be allowed, as for a command that runs programs).
func WithStartHook(h Hook) Option {
	return optionFunc(func(c *config) error {
		h, err := checkHook("WithStartHook", h)
		if err != nil {
			return err
		}
		c.oci.startHooks = append(c.oci.startHooks, h)
		return nil
	})
}

// WithBeforePivot calls f in the caller's process during Start, once the
// init has mounted the container's file systems and before pivot_root and the
// WithCreateHook hooks, while the init waits: pid is the init's pid (on the
// caller's side). It is where an OCI runtime runs its prestart and
// createRuntime hooks. An error from f makes Start fail with it. Later
// WithBeforePivot options replace earlier ones.
func WithBeforePivot(f func(pid int) error) Option {
	return optionFunc(func(c *config) error {
		if f == nil {
			return optErr("WithBeforePivot", nil, "nil function")
		}
		c.oci.beforePivot = f
		return nil
	})
}

func checkHook(option string, h Hook) (Hook, error) {
	if !filepath.IsAbs(h.Path) {
		return h, optErr(option, h.Path, "must be an absolute path")
	}
	if h.Timeout < 0 {
		return h, optErr(option, h.Path, "negative timeout %v", h.Timeout)
	}
	for _, s := range append(append([]string{h.Path}, h.Args...), h.Env...) {
		if strings.ContainsRune(s, 0) {
			return h, optErr(option, h.Path, "argument or variable contains a NUL byte")
		}
	}
	h.Args = append([]string(nil), h.Args...)
	if len(h.Args) == 0 {
		h.Args = []string{h.Path}
	}
	h.Env = append([]string(nil), h.Env...)
	return h, nil
}

func hookEntries(hs []Hook) []hookEntry {
	var out []hookEntry
	for _, h := range hs {
		out = append(out, hookEntry{Path: h.Path, Args: h.Args, Env: h.Env, Timeout: h.Timeout})
	}
	return out
}

// hookInput fills in what each hook reads on its stdin, once the init's pid
// is known: pid is the init's pid on the host.
func (o *ociConfig) hookInput(icfg *initConfig, ns Namespace, pid int) {
	if ns&NSPID != 0 {
		pid = 1
	}
	for i, h := range o.createHooks {
		if h.Stdin != nil {
			icfg.OCI.CreateHooks[i].Stdin = h.Stdin(pid)
		}
	}
	for i, h := range o.startHooks {
		if h.Stdin != nil {
			icfg.OCI.StartHooks[i].Stdin = h.Stdin(pid)
		}
	}
}

// limits adjusts the init's limits plan: a WithExecFIFO container's creator
// may be gone when the command is about to run, so the init does not ask it
// to lower pids.max (UpdateCgroup does, after the start).
func (o *ociConfig) limits(l limitsInit) limitsInit {
	if o.execFIFO != "" {
		l.PidsHandshake = false
	}
	return l
}

// security adjusts the init's security plan for WithInheritedCapabilities.
func (o *ociConfig) security(s securityInit) securityInit {
	if o.inherited {
		s.Ambient = s.Permitted
	}
	return s
}

// DeviceRule allows (or, with Deny, denies) the container's processes the use
// of device nodes, for WithDeviceRules: Type is 'c' (character), 'b' (block)
// or 'a' (both), Major and Minor the numbers (-1 for any), Access a
// combination of "r", "w" and "m" (mknod).
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

// WithDeviceRules confines the container to the device nodes the rules allow.
// Every device starts denied; the rules apply in order, each to the devices
// and accesses it names, so the last rule that names a device and an access
// decides (runc's semantics): a rule for all devices ("a *:* rwm") starts over
// with everything allowed or denied, and a deny after allows takes access
// back. The nodes of WithDevices and the standard devices every container gets
// (null, zero, full, random, urandom, tty, ptmx and the pts terminals) are
// allowed after the rules.
//
// The result is written to the cgroup v1 devices controller (devices.deny or
// devices.allow "a", then one exception per line) or, on cgroup v2, an eBPF
// device program (BPF_PROG_TYPE_CGROUP_DEVICE) is attached to the container's
// cgroup, before the container's first process runs. The eBPF loader comes
// with package github.com/ctrkit/container/oci (which links
// github.com/cilium/ebpf): without it in the program, Start fails on a v2
// host. It needs a cgroup at a fixed path (WithCgroupPath).
//
// A list that the devices cgroup cannot express fails New, naming the rule:
// taking an access back from part of the devices an earlier wildcard rule
// gave it to (allow "c 10:* rw", then deny "c 10:229 w"), since an exception
// names devices by number or by wildcard only. As on v1, an access that needs
// two allow rules at once (read from one, write from another) is denied.
func WithDeviceRules(rules ...DeviceRule) Option {
	return optionFunc(func(c *config) error {
		for _, r := range rules {
			if _, ok := devices.ParseAccess(r.Access); (r.Type != 'a' && r.Type != 'b' && r.Type != 'c') || !ok ||
				r.Major < -1 || r.Minor < -1 || r.Major > math.MaxUint32 || r.Minor > math.MaxUint32 {
				return optErr("WithDeviceRules", r, "want type a, b or c, 32-bit numbers or -1, access of r, w, m")
			}
		}
		c.limits.devices = append([]DeviceRule{}, rules...)
		return nil
	})
}

// Device is a device node to create in the container's /dev, for WithDevices.
type Device struct {
	Name         string      // the node's name in /dev, such as "fuse" (no '/')
	Type         byte        // 'c' character (also 0), 'b' block or 'p' FIFO
	Major, Minor uint32      // the device numbers
	Mode         os.FileMode // permission bits; 0 means 0666
	UID, GID     uint32      // the node's owner, as ids inside the container
}

// WithDevices creates these device nodes in the container's /dev (mknod(2) in
// the init, after the standard ones: null, zero, full, random, urandom, tty).
// With WithDeviceRules, they are allowed in the devices cgroup too. Creating a
// node needs CAP_MKNOD in the host's user namespace: New fails for a container
// with a user namespace, and Start fails when the kernel refuses.
func WithDevices(devs ...Device) Option {
	return optionFunc(func(c *config) error {
		for _, d := range devs {
			if d.Name == "" || strings.ContainsAny(d.Name, "/\x00") || d.Name == "." || d.Name == ".." {
				return optErr("WithDevices", d.Name, "want a name directly in /dev")
			}
			for _, s := range []string{"pts", "shm", "mqueue", "fd", "stdin", "stdout", "stderr", "ptmx"} {
				if d.Name == s {
					return optErr("WithDevices", d.Name, "a name the standard /dev uses")
				}
			}
			for _, o := range append(append([]device(nil), defaultDevices...), c.oci.devices...) {
				if o.Name == d.Name {
					return optErr("WithDevices", d.Name, "created already")
				}
			}
			if d.Type != 0 && d.Type != 'c' && d.Type != 'b' && d.Type != 'p' {
				return optErr("WithDevices", d.Name, "type %q: want 'c', 'b' or 'p'", d.Type)
			}
			c.oci.devices = append(c.oci.devices, device{Name: d.Name, Major: d.Major, Minor: d.Minor, Type: d.Type,
				Mode: uint32(d.Mode.Perm()), UID: d.UID, GID: d.GID})
		}
		return nil
	})
}

// deviceSet works out what the rules grant, after the standard devices
// are allowed.
func deviceSet(rules []DeviceRule) (devices.Set, error) {
	var list []devices.Rule
	for _, r := range append(append([]DeviceRule(nil), rules...), standardDeviceRules()...) {
		a, _ := devices.ParseAccess(r.Access)
		list = append(list, devices.Rule{Allow: !r.Deny, Type: r.Type, Major: r.Major, Minor: r.Minor, Access: a})
	}
	return devices.Compute(list)
}

// deviceFiles renders a device set into cgroup v1 devices files, in the order
// they are written: the default for every device, then the exceptions in the
// order the rules made them. The kernel lists its exceptions (devices.list) in
// the order they were added, so the caller's rules come first there, as
// runc's do.
func deviceFiles(s devices.Set) []cgroupFile {
	def, exc := "devices.deny", "devices.allow"
	if s.DefaultAllow {
		def, exc = exc, def
	}
	fs := []cgroupFile{{"devices", def, "a"}}
	for _, e := range s.Exceptions {
		fs = append(fs, cgroupFile{"devices", exc, e.String()})
	}
	return fs
}

// standardDeviceRules allow the device nodes every container gets.
func standardDeviceRules() []DeviceRule {
	var out []DeviceRule
	for _, d := range defaultDevices {
		out = append(out, DeviceRule{Type: 'c', Major: int64(d.Major), Minor: int64(d.Minor), Access: "rwm"})
	}
	return append(out, DeviceRule{Type: 'c', Major: 5, Minor: 2, Access: "rwm"}, DeviceRule{Type: 'c', Major: 136, Minor: -1, Access: "rwm"})
}

// finish checks this file's options against the others.
func (o *ociConfig) finish(c *config) error {
	if o.joinPID != 0 {
		switch {
		case c.nsExplicit || c.nsDropped != 0 || c.uidMap != nil || c.gidMap != nil:
			return optErr("WithJoin", o.joinPID, "conflicts with namespace and id map options")
		case len(c.mounts) > 0 || c.readonlyRootfs || o.maskedSet || o.readonlySet || c.noPivot:
			return optErr("WithJoin", o.joinPID, "conflicts with mount options and WithoutPivotRoot")
		case c.hostname != "container" || c.domainname != "":
			return optErr("WithJoin", o.joinPID, "conflicts with WithHostname and WithDomainname")
		case c.limits.needsCgroup():
			return optErr("WithJoin", o.joinPID, "conflicts with limits and WithCgroupPath")
		case o.execFIFO != "" || len(o.sysctls) > 0:
			return optErr("WithJoin", o.joinPID, "conflicts with WithExecFIFO and WithSysctl")
		case len(o.createHooks)+len(o.startHooks) > 0 || o.beforePivot != nil:
			return optErr("WithJoin", o.joinPID, "conflicts with WithCreateHook, WithStartHook and WithBeforePivot")
		}
		c.namespaces = 0 // nothing new: the nsenter constructor joins the container's
		c.uidMap, c.gidMap = nil, nil
	}
	if len(o.devices) > 0 && c.namespaces&NSUser != 0 {
		return optErr("WithDevices", o.devices[0].Name, "device nodes cannot be created in a user namespace")
	}
	if c.limits.devices != nil {
		for _, d := range o.devices {
			t := d.Type
			if t == 'p' {
				continue // a FIFO is no device
			}
			if t == 0 {
				t = 'c'
			}
			c.limits.devices = append(c.limits.devices, DeviceRule{Type: t, Major: int64(d.Major), Minor: int64(d.Minor), Access: "rwm"})
		}
	}
	if c.limits.devices != nil && c.limits.path == "" {
		return optErr("WithDeviceRules", nil, "needs WithCgroupPath")
	}
	if c.limits.devices != nil {
		set, err := deviceSet(c.limits.devices)
		var re *devices.RuleError
		switch {
		case errors.As(err, &re) && re.Index < len(c.limits.devices):
			return optErr("WithDeviceRules", c.limits.devices[re.Index], "rule %d: %s", re.Index, re.Reason)
		case errors.As(err, &re):
			return optErr("WithDeviceRules", nil, "allowing the standard devices and WithDevices' after the rules: %s", re.Reason)
		case err != nil:
			return optErr("WithDeviceRules", nil, "%v", err)
		}
		c.limits.deviceSet = &set
	}
	if len(o.groups) > 0 && c.namespaces&NSUser != 0 {
		return optErr("WithGroups", fmt.Sprint(o.groups), "setgroups(2) is denied in a user namespace")
	}
	for _, s := range o.sysctls {
		if ns := sysctlNamespace(s.Key); c.namespaces&ns == 0 {
			return optErr("WithSysctl", s.Key, "the container shares the %v namespace with the host", ns)
		}
	}
	return nil
}

// maskedPathsOf and readonlyPathsOf are the masked and read-only paths of a
// configuration: the defaults unless replaced.
func (c *config) maskedPathsOf() []string {
	if c.oci.maskedSet {
		return c.oci.masked
	}
	return maskedPaths
}

func (c *config) readonlyPathsOf() []string {
	if c.oci.readonlySet {
		return c.oci.readonly
	}
	return readonlyPaths
}

// limitsOnly applies opts, which must be cgroup limit options, to an empty
// configuration and returns the limits.
func limitsOnly(caller string, opts []Option) (limitsConfig, error) {
	var c config
	for _, o := range opts {
		if o == nil {
			return limitsConfig{}, &OptionError{Option: caller, Err: errors.New("nil option")}
		}
		if err := o.apply(&c); err != nil {
			return limitsConfig{}, err
		}
	}
	l := c.limits
	c.limits = limitsConfig{}
	if !reflect.DeepEqual(c, config{}) || l.init || len(l.rlimits) > 0 || l.path != "" {
		return limitsConfig{}, &OptionError{Option: caller, Err: errors.New("only WithMemory, WithCPU, WithCPUShares, WithPids and WithResources can change")}
	}
	return l, nil
}
