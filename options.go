package container

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// An Option configures a [Container]. Options are built by the With...
// constructors of this package, and of packages
// [github.com/ctrkit/container/seccomp] and [github.com/ctrkit/container/oci];
// [New] applies them in order and fails with the first error. An option that
// cannot be applied makes [Container.Start] fail. The unexported method seals
// the interface: only this module makes options.
type Option interface {
	apply(*config) error
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

// Namespace is one kind of Linux namespace a container can get a new instance of.
type Namespace uint8

// The namespaces. By default a container gets new mount, UTS, IPC, PID, network
// and cgroup namespaces, plus a user namespace when the caller is not root or
// asks for one ([WithNamespaces](NSUser), [WithUIDMap], [WithGIDMap]).
const (
	NSMount Namespace = 1 << iota
	NSUTS
	NSIPC
	NSPID
	NSNet
	NSCgroup
	NSUser
)

var nsNames = []struct {
	ns   Namespace
	name string
}{{NSMount, "mount"}, {NSUTS, "uts"}, {NSIPC, "ipc"}, {NSPID, "pid"}, {NSNet, "net"}, {NSCgroup, "cgroup"}, {NSUser, "user"}}

// String names the namespaces in the set, joined by "|" ("pid|net"), or "none".
func (n Namespace) String() string {
	var parts []string
	for _, e := range nsNames {
		if n&e.ns != 0 {
			parts = append(parts, e.name)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

const defaultNamespaces = NSMount | NSUTS | NSIPC | NSPID | NSNet | NSCgroup

// IDMap maps a range of user or group ids inside a user namespace to ids on the host.
type IDMap struct {
	ContainerID uint32 // first id inside the container
	HostID      uint32 // first id on the host
	Size        uint32 // how many consecutive ids
}

// WithHostname sets the container's hostname (sethostname(2) in its UTS
// namespace). The default is "container". It conflicts with
// [WithoutNamespace](NSUTS).
func WithHostname(name string) Option {
	return optionFunc(func(c *config) error {
		if err := checkHostname(name); err != nil {
			return optErr("WithHostname", name, "%w", err)
		}
		c.hostname = name
		c.hostnameSet = true
		return nil
	})
}

// WithDomainname sets the container's NIS domain name (setdomainname(2)).
func WithDomainname(name string) Option {
	return optionFunc(func(c *config) error {
		if err := checkHostname(name); err != nil {
			return optErr("WithDomainname", name, "%w", err)
		}
		c.domainname = name
		return nil
	})
}

func checkHostname(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("must be 1 to 64 bytes")
	}
	if strings.ContainsAny(name, "\x00/ ") {
		return fmt.Errorf("must not contain NUL, '/' or spaces")
	}
	return nil
}

// WithEnv sets the command's environment, as "KEY=value" strings. Nothing of the
// host's environment reaches the container: without this option the command sees
// only PATH (a standard search path) and HOME. Variables given here add to or
// replace those two. Later WithEnv options add to earlier ones.
func WithEnv(env ...string) Option {
	return optionFunc(func(c *config) error {
		for _, kv := range env {
			k, _, ok := strings.Cut(kv, "=")
			if !ok || k == "" || strings.ContainsRune(kv, 0) {
				return optErr("WithEnv", kv, "want KEY=value without NUL bytes")
			}
		}
		c.env = append(c.env, env...)
		return nil
	})
}

// WithDir sets the command's working directory inside the container. It must be
// absolute and exist in the container's file system, or Start fails. Default "/".
func WithDir(dir string) Option {
	return optionFunc(func(c *config) error {
		if !filepath.IsAbs(dir) {
			return optErr("WithDir", dir, "must be an absolute path")
		}
		c.dir = filepath.Clean(dir)
		return nil
	})
}

// WithUser runs the command as uid and gid inside the container (setgid and
// setuid after setup, with no supplementary groups). Default: 0 and 0. In a
// user namespace the ids must be mapped (see [WithUIDMap]); for a rootless
// caller without explicit maps the caller's own ids are mapped to uid and gid.
func WithUser(uid, gid uint32) Option {
	return optionFunc(func(c *config) error {
		c.uid, c.gid = uid, gid
		return nil
	})
}

// WithUIDMap gives the container a user namespace with these uid mappings
// (/proc/PID/uid_map, written by the parent before the init runs). Mapping ids
// other than one's own needs root.
func WithUIDMap(maps ...IDMap) Option {
	return optionFunc(func(c *config) error {
		if err := checkIDMaps(maps); err != nil {
			return optErr("WithUIDMap", fmt.Sprint(maps), "%w", err)
		}
		c.uidMap = maps
		c.namespaces |= NSUser
		return nil
	})
}

// WithGIDMap gives the container a user namespace with these gid mappings
// (/proc/PID/gid_map). setgroups(2) is denied inside, as unprivileged user
// namespaces require.
func WithGIDMap(maps ...IDMap) Option {
	return optionFunc(func(c *config) error {
		if err := checkIDMaps(maps); err != nil {
			return optErr("WithGIDMap", fmt.Sprint(maps), "%w", err)
		}
		c.gidMap = maps
		c.namespaces |= NSUser
		return nil
	})
}

func checkIDMaps(maps []IDMap) error {
	if len(maps) == 0 {
		return fmt.Errorf("no mappings")
	}
	for i, m := range maps {
		if m.Size == 0 {
			return fmt.Errorf("mapping %d has size 0", i)
		}
		if uint64(m.ContainerID)+uint64(m.Size) > 1<<32-1 || uint64(m.HostID)+uint64(m.Size) > 1<<32-1 {
			return fmt.Errorf("mapping %d overflows the id range", i)
		}
		// The kernel refuses a map whose ranges overlap on either side (the
		// write of /proc/PID/uid_map fails with EINVAL, at Start).
		for j, o := range maps[:i] {
			if overlap(m.ContainerID, o.ContainerID, m.Size, o.Size) {
				return fmt.Errorf("mappings %d (%s) and %d (%s) overlap inside the container",
					j, idRange(o.ContainerID, o.Size), i, idRange(m.ContainerID, m.Size))
			}
			if overlap(m.HostID, o.HostID, m.Size, o.Size) {
				return fmt.Errorf("mappings %d (host %s) and %d (host %s) overlap on the host",
					j, idRange(o.HostID, o.Size), i, idRange(m.HostID, m.Size))
			}
		}
	}
	return nil
}

// overlap reports whether the id ranges [a, a+an) and [b, b+bn) share an id.
func overlap(a, b, an, bn uint32) bool { return a < b+bn && b < a+an }

// idRange prints the ids first to first+n-1 as "first-last".
func idRange(first, n uint32) string { return fmt.Sprintf("%d-%d", first, first+n-1) }

// WithNamespaces replaces the set of namespaces the container gets new
// instances of; a namespace joined by path must not be listed. A set without
// NSMount (and no mount namespace joined) shares the caller's: see
// [WithoutNamespace]. NSUser also needs id maps: the default maps the caller's
// uid and gid to the container's user.
func WithNamespaces(ns ...Namespace) Option {
	return optionFunc(func(c *config) error {
		var set Namespace
		for _, n := range ns {
			if n == 0 || n&^(defaultNamespaces|NSUser) != 0 {
				return optErr("WithNamespaces", n, "unknown namespace")
			}
			set |= n
		}
		c.namespaces = set | c.namespaces&NSUser
		c.nsExplicit = true
		return nil
	})
}

// WithNamespacePath runs the container in the existing namespace of kind ns
// (NSMount, NSUTS, NSIPC, NSPID, NSNet or NSCgroup) at path instead of a new
// one: /proc/PID/ns/KIND, or a bind mount of one such as /run/netns/NAME made
// by `ip netns add`. The init is cloned from a thread that entered it with
// setns(2), which needs CAP_SYS_ADMIN (root); when path cannot be opened or is
// not a namespace of that kind, Start fails. New fails for NSUser, for a second
// path of one kind and for ns also named by [WithoutNamespace] or
// [WithNamespaces]; see Joined namespaces in the package documentation for what
// is done inside each kind, and for the other conflicts.
func WithNamespacePath(ns Namespace, path string) Option {
	return optionFunc(func(c *config) error {
		switch ns {
		case NSNet:
			return c.net.joinNS(path)
		case NSMount, NSUTS, NSIPC, NSPID, NSCgroup:
		case NSUser:
			return optErr("WithNamespacePath", ns, "joining a user namespace is not supported: setns(2) refuses a multi-threaded process")
		default:
			return optErr("WithNamespacePath", ns, "want one of NSMount, NSUTS, NSIPC, NSPID, NSNet, NSCgroup")
		}
		if !filepath.IsAbs(path) {
			return optErr("WithNamespacePath", path, "must be an absolute path")
		}
		if strings.ContainsRune(path, 0) {
			return optErr("WithNamespacePath", path, "contains a NUL byte")
		}
		p := filepath.Clean(path)
		if old, ok := c.nsPaths[ns]; ok && old != p {
			return optErr("WithNamespacePath", path, "a container joins one %v namespace (already %q)", ns, old)
		}
		if c.nsPaths == nil {
			c.nsPaths = map[Namespace]string{}
		}
		c.nsPaths[ns] = p
		return nil
	})
}

// finishNamespaces checks the joined namespaces (WithNamespacePath) against
// the other namespace options and takes them out of the set the container
// gets new instances of; it runs from config.finish, after the user
// namespace is settled.
func (c *config) finishNamespaces() error {
	for _, e := range nsNames {
		p, ok := c.nsPaths[e.ns]
		if !ok {
			continue
		}
		switch {
		case c.nsDropped&e.ns != 0:
			return optErr("WithNamespacePath", p, "conflicts with WithoutNamespace(%v)", e.ns)
		case c.nsExplicit && c.namespaces&e.ns != 0:
			return optErr("WithNamespacePath", p, "conflicts with WithNamespaces(%v)", e.ns)
		case c.namespaces&NSUser != 0 && e.ns != NSCgroup:
			return optErr("WithNamespacePath", p, "the %v namespace conflicts with a user namespace: the container's root has no privilege over a namespace its user namespace does not own", e.ns)
		case c.oci.joinPID != 0:
			return optErr("WithJoin", c.oci.joinPID, "conflicts with WithNamespacePath")
		}
		c.namespaces &^= e.ns
	}
	return nil
}

// joined is the set of namespaces the container joins by path.
func (c *config) joined() Namespace {
	var n Namespace
	for ns := range c.nsPaths {
		n |= ns
	}
	if c.net.nsPath != "" {
		n |= NSNet
	}
	return n
}

// WithRootfsPropagation sets the propagation of the container's root mount,
// as rootfsPropagation of an OCI runtime spec does: "private" or "rprivate"
// (the default), "slave" or "rslave", "shared" or "rshared", "unbindable" or
// "runbindable"; the "r" forms apply it to every mount below the root as well.
// It also decides how the container's mount namespace is set up (see Mounts in
// the package documentation). A change the kernel refuses fails Start. It
// conflicts with [WithoutNamespace](NSMount), and "shared" and "rshared" with
// [WithoutPivotRoot].
func WithRootfsPropagation(mode string) Option {
	return optionFunc(func(c *config) error {
		switch mode {
		case "private":
			c.rootProp = msPrivate
		case "rprivate":
			c.rootProp = msPrivate | msRec
		default:
			p, ok := propagationNames[mode]
			if !ok {
				return optErr("WithRootfsPropagation", mode, "want private, slave, shared or unbindable, each optionally with an r prefix")
			}
			c.rootProp = p
		}
		return nil
	})
}

// WithoutPivotRoot enters the container's root without pivot_root(2), as runc's
// --no-pivot does, for a rootfs where pivot_root fails (EINVAL for one in an
// initramfs): the init moves the rootfs mount onto / (MS_MOVE), detaches the
// host's mounts left on the old root and enters the rootfs with chroot(2). The
// host's root file system stays in the container's mount namespace: see Without
// a mount namespace or pivot_root in the package documentation for the weaker
// isolation. A mount the init cannot detach fails Start. It conflicts with
// [WithoutNamespace](NSMount), [WithNamespacePath](NSMount), a user namespace
// and a shared [WithRootfsPropagation].
func WithoutPivotRoot() Option {
	return optionFunc(func(c *config) error {
		c.noPivot = true
		return nil
	})
}

// WithoutNamespace makes the container share these namespaces with the caller;
// the user namespace cannot be dropped for a rootless caller. Without NSMount
// (as an OCI spec that lists no mount namespace) the init mounts under the
// rootfs in the caller's mount namespace, where the host sees the mounts, and
// enters the rootfs with chroot(2); Wait unmounts them. That needs root,
// conflicts with [WithReadonlyRootfs], [WithRootfsPropagation] and
// [WithoutPivotRoot], and isolates less: see Without a mount namespace or
// pivot_root in the package documentation. [WithNamespacePath] joins an
// existing namespace instead.
func WithoutNamespace(ns ...Namespace) Option {
	return optionFunc(func(c *config) error {
		for _, n := range ns {
			if n == 0 || n&^(defaultNamespaces|NSUser) != 0 {
				return optErr("WithoutNamespace", n, "unknown namespace")
			}
			c.namespaces &^= n
			c.nsDropped |= n
		}
		return nil
	})
}

// WithBind bind-mounts the host path src at dst inside the container, recursively,
// read-only if readonly is set (mount_setattr(2) MOUNT_ATTR_RDONLY over the whole
// tree). src must be absolute and exist; dst must be absolute and is resolved inside
// the container's root (symlinks cannot lead out of it). A missing dst is created,
// as a directory or an empty file to match src.
func WithBind(src, dst string, readonly bool) Option {
	return optionFunc(func(c *config) error {
		if !filepath.IsAbs(src) {
			return optErr("WithBind", src, "source must be an absolute path")
		}
		fi, err := os.Stat(src)
		if err != nil {
			return optErr("WithBind", src, "source: %w", err)
		}
		d, err := checkDest("WithBind", dst)
		if err != nil {
			return err
		}
		c.mounts = append(c.mounts, userMount{kind: mountBind, source: filepath.Clean(src), dest: d, readonly: readonly, fileTarget: !fi.IsDir()})
		return nil
	})
}

// WithTmpfs mounts a fresh tmpfs of at most sizeBytes bytes at dst inside the
// container (nosuid, nodev, mode 1777). sizeBytes must be positive.
func WithTmpfs(dst string, sizeBytes int64) Option {
	return optionFunc(func(c *config) error {
		d, err := checkDest("WithTmpfs", dst)
		if err != nil {
			return err
		}
		if sizeBytes <= 0 {
			return optErr("WithTmpfs", sizeBytes, "size must be positive")
		}
		c.mounts = append(c.mounts, userMount{kind: mountTmpfs, dest: d, size: sizeBytes})
		return nil
	})
}

func checkDest(option, dst string) (string, error) {
	if !filepath.IsAbs(dst) {
		return "", optErr(option, dst, "destination must be an absolute path")
	}
	d := filepath.Clean(dst)
	if d == "/" {
		return "", optErr(option, dst, "destination must not be the root")
	}
	if strings.ContainsRune(d, 0) {
		return "", optErr(option, dst, "destination contains a NUL byte")
	}
	return d, nil
}

// WithReadonlyRootfs makes the container's root mount read-only once every other
// mount is in place. Binds and tmpfs mounts keep their own modes.
func WithReadonlyRootfs() Option {
	return optionFunc(func(c *config) error {
		c.readonlyRootfs = true
		return nil
	})
}

// sysctlEntry is one kernel parameter the init writes under /proc/sys.
type sysctlEntry struct {
	Key, Value string
}

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
// name itself after the sysctls, so the value would be lost; [WithHostname] and
// [WithDomainname] set them. When the kernel refuses the write, Start fails.
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
