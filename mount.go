package container

import (
	"fmt"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// The mount plan: the list of mounts the init performs inside the rootfs, in
// order, computed from the options before the container is cloned. It is pure
// data so that tests can check it on any machine.

type mountKind uint8

const (
	mountFS         mountKind = iota // a new file system instance: proc, sysfs, tmpfs, devpts, mqueue
	mountBind                        // a bind mount of a host path
	mountTmpfs                       // a user tmpfs (mountFS with the caller's size)
	mountDevices                     // populate the /dev tmpfs: device nodes, symlinks, subdirectories
	mountMask                        // hide a path: /dev/null over a file, an empty read-only tmpfs over a directory
	mountReadonly                    // bind a path onto itself, read-only
	mountCgroupView                  // a cgroup2 mount without a cgroup namespace: bind the container's own cgroup2 directory
	mountGenerated                   // a file the init writes (Data) and binds over Dest, when the rootfs has Dest
	mountCgroups                     // the container's read-only view of its cgroups (initConfig.CgroupView)
)

// Mount flags, with Linux's values (pure code must build on every platform).
const (
	msRdonly      = 0x1
	msNosuid      = 0x2
	msNodev       = 0x4
	msNoexec      = 0x8
	msStrictatime = 0x1000000
)

// userMount is a mount the caller asked for with WithBind or WithTmpfs.
type userMount struct {
	kind       mountKind
	source     string
	dest       string
	readonly   bool
	fileTarget bool
	size       int64
	fstype     string  // WithMount: the file system of a mountFS
	flags      uintptr // WithMount: mount flags of a mountFS
	data       string  // WithMount: file system data of a mountFS
	attrs      uintptr // WithMount: nosuid, nodev, noexec for a bind (msNosuid...)
	prop       uintptr // WithMount: propagation flags
}

// mountEntry is one step of the mount plan, sent to the init.
type mountEntry struct {
	Kind     mountKind
	Source   string // host path for binds, fs source otherwise
	Dest     string // absolute path inside the container
	FSType   string
	Flags    uintptr
	Data     string
	Readonly bool
	File     bool // Dest is a file, not a directory
	// Strict refuses a Dest reached through any symlink: the kernel file systems the
	// container's safety depends on (/proc, /sys, /dev) must be where they claim to be.
	Strict bool
	Attrs  uintptr // bind: msNosuid, msNodev, msNoexec to set on the bound tree
	Prop   uintptr // WithMount: propagation flags (MS_SHARED...) to set once mounted
}

// device is a node created in the container's /dev.
type device struct {
	Name         string
	Major, Minor uint32
	Type         byte   // WithDevices: 'b' block, 'p' FIFO; 0 or 'c' character
	Mode         uint32 // WithDevices: permission bits; 0 means 0666
	UID, GID     uint32 // WithDevices: owner
}

var defaultDevices = []device{
	{Name: "null", Major: 1, Minor: 3}, {Name: "zero", Major: 1, Minor: 5}, {Name: "full", Major: 1, Minor: 7}, {Name: "random", Major: 1, Minor: 8}, {Name: "urandom", Major: 1, Minor: 9}, {Name: "tty", Major: 5, Minor: 0},
}

// maskedPaths and readonlyPaths are Docker's and runc's defaults.
var maskedPaths = []string{
	"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
	"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
	"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
}

var readonlyPaths = []string{
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
}

// planMounts turns the configuration into the ordered mount plan.
func planMounts(c *config) []mountEntry {
	userns := c.namespaces&NSUser != 0
	plan := []mountEntry{
		{Kind: mountFS, FSType: "proc", Source: "proc", Dest: "/proc", Flags: msNosuid | msNoexec | msNodev, Strict: true},
	}
	ptsData := "newinstance,ptmxmode=0666,mode=0620"
	if !userns {
		ptsData += ",gid=5"
	}
	plan = append(plan,
		mountEntry{Kind: mountFS, FSType: "tmpfs", Source: "tmpfs", Dest: "/dev", Flags: msNosuid | msStrictatime, Data: "mode=755,size=65536k", Strict: true},
		mountEntry{Kind: mountDevices, Dest: "/dev", Strict: true},
		mountEntry{Kind: mountFS, FSType: "devpts", Source: "devpts", Dest: "/dev/pts", Flags: msNosuid | msNoexec, Data: ptsData, Strict: true},
		mountEntry{Kind: mountFS, FSType: "tmpfs", Source: "shm", Dest: "/dev/shm", Flags: msNosuid | msNoexec | msNodev, Data: "mode=1777,size=65536k", Strict: true},
	)
	if c.namespaces&NSIPC != 0 || c.nsPaths[NSIPC] != "" { // a joined IPC namespace's queues
		plan = append(plan, mountEntry{Kind: mountFS, FSType: "mqueue", Source: "mqueue", Dest: "/dev/mqueue", Flags: msNosuid | msNoexec | msNodev, Strict: true})
	}
	// /sys after /dev, in the order of runtime-spec's default mounts.
	if userns && c.namespaces&NSNet == 0 {
		// sysfs cannot be mounted in a user namespace that does not own the
		// network namespace: bind the host's, read-only.
		plan = append(plan, mountEntry{Kind: mountBind, Source: "/sys", Dest: "/sys", Readonly: true, Strict: true})
	} else {
		plan = append(plan, mountEntry{Kind: mountFS, FSType: "sysfs", Source: "sysfs", Dest: "/sys", Flags: msRdonly | msNosuid | msNoexec | msNodev, Strict: true})
	}
	if c.limits.autoView {
		plan = append(plan, mountEntry{Kind: mountCgroups, Dest: "/sys/fs/cgroup", Strict: true})
	}

	user := append([]userMount(nil), c.mounts...)
	// Parents before children, otherwise in the caller's order.
	sort.SliceStable(user, func(i, j int) bool { return depth(user[i].dest) < depth(user[j].dest) })
	for _, m := range user {
		switch m.kind {
		case mountBind:
			plan = append(plan, mountEntry{Kind: mountBind, Source: m.source, Dest: m.dest, Readonly: m.readonly, File: m.fileTarget, Attrs: m.attrs, Prop: m.prop, Data: m.data})
		case mountFS:
			kind := mountFS
			if m.fstype == "cgroup2" && c.namespaces&NSCgroup == 0 && c.nsPaths[NSCgroup] == "" {
				// cgroup2 would show the host's whole hierarchy.
				kind = mountCgroupView
			}
			plan = append(plan, mountEntry{Kind: kind, FSType: m.fstype, Source: m.source, Dest: m.dest, Flags: m.flags, Data: m.data, Prop: m.prop})
		case mountTmpfs:
			plan = append(plan, mountEntry{Kind: mountTmpfs, FSType: "tmpfs", Source: "tmpfs", Dest: m.dest,
				Flags: msNosuid | msNodev, Data: "mode=1777,size=" + strconv.FormatInt(m.size, 10)})
		}
	}
	plan = append(plan, netFileMounts(c)...)
	plan = append(plan, etcFileMounts(c)...)
	for _, p := range c.maskedPathsOf() {
		plan = append(plan, mountEntry{Kind: mountMask, Dest: p, Strict: true})
	}
	for _, p := range c.readonlyPathsOf() {
		plan = append(plan, mountEntry{Kind: mountReadonly, Dest: p, Strict: true})
	}
	return plan
}

// etcFileMounts are the entries for /etc/hostname (the container's hostname)
// and /etc/hosts (localhost and the hostname, at 127.0.1.1) of a container
// with a hostname of its own and no veth (whose files netFileMounts makes,
// with its addresses), for a rootfs that has them: the init writes them in
// its /dev tmpfs and binds them over the rootfs's, which it never writes. A
// path the caller binds or mounts is the caller's.
func etcFileMounts(c *config) []mountEntry {
	host := c.hostnameOf()
	if host == "" || c.net.hasVeth() {
		return nil
	}
	var plan []mountEntry
	for _, f := range []struct {
		dest string
		data []byte
	}{
		{"/etc/hostname", hostnameContent(host)},
		{"/etc/hosts", hostsContent([]hostEntry{{Addr: netip.AddrFrom4([4]byte{127, 0, 1, 1}), Names: []string{host}}})},
	} {
		if c.mountsOn(f.dest) {
			continue
		}
		plan = append(plan, mountEntry{Kind: mountGenerated, Dest: f.dest, Data: string(f.data)})
	}
	return plan
}

// mountsOn reports whether the caller mounts or binds something on one of
// dests: a path the library would otherwise generate is then the caller's.
func (c *config) mountsOn(dests ...string) bool {
	for _, m := range c.mounts {
		for _, d := range dests {
			if m.dest == d {
				return true
			}
		}
	}
	return false
}

func depth(p string) int { return strings.Count(filepath.Clean(p), "/") }

// cgroupViewMount is one hierarchy of a v1 or hybrid host's view: the
// directory under /sys/fs/cgroup (the host's name for it), the file system
// type and the mount data (a v1 hierarchy's controllers).
type cgroupViewMount struct {
	Name, FSType, Data string
}

// mountLine is one line of a /proc/PID/mountinfo:
// id parent major:minor root mount-point options [optional...] - type source super-options
type mountLine struct {
	ID, Parent uint64
	Root       string // the mount's root within its file system, unescaped
	Point      string // unescaped
	Shared     bool   // has a "shared:N" optional field
	FSType     string
	Super      string // the super block's options
}

// parseMountinfo parses the text of a /proc/PID/mountinfo, in its order (a
// mount stacked on another comes after it).
func parseMountinfo(text string) []mountLine {
	var out []mountLine
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		id, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			continue
		}
		parent, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			continue
		}
		m := mountLine{ID: id, Parent: parent, Root: unescapeMount(f[3]), Point: unescapeMount(f[4])}
		for i := min(6, len(f)); i < len(f); i++ {
			if f[i] == "-" {
				if i+3 < len(f) {
					m.FSType, m.Super = f[i+1], f[i+3]
				}
				break
			}
			m.Shared = m.Shared || strings.HasPrefix(f[i], "shared:")
		}
		out = append(out, m)
	}
	return out
}

// mountOf finds the mount with the given id in the text of a
// /proc/PID/mountinfo: its mount point and whether it is shared.
func mountOf(mountinfo string, id uint64) (point string, shared, ok bool) {
	for _, m := range parseMountinfo(mountinfo) {
		if m.ID == id {
			return m.Point, m.Shared, true
		}
	}
	return "", false, false
}

// childMounts lists, from the text of a /proc/PID/mountinfo, the mount points
// of the mounts whose parent is the mount parent, but for the mount skip and
// any stacked on parent's root (mount point "/"): what WithoutPivotRoot
// detaches from the old root.
func childMounts(mountinfo string, parent, skip uint64) []string {
	var out []string
	for _, m := range parseMountinfo(mountinfo) {
		if m.Parent == parent && m.ID != skip && m.ID != parent && m.Point != "/" {
			out = append(out, m.Point)
		}
	}
	return out
}

// mountRef is a mount of a /proc/PID/mountinfo: its id (the first field,
// unique among the mounts that exist at one time) and its mount point.
type mountRef struct {
	ID    int
	Point string
}

// mountsBelow returns the mounts of a /proc/PID/mountinfo text whose mount
// point is dir or below it, in the text's order (a mount stacked on another
// comes after it).
func mountsBelow(mountinfo, dir string) []mountRef {
	dir = filepath.Clean(dir)
	var out []mountRef
	for _, m := range parseMountinfo(mountinfo) {
		if m.Point == dir || strings.HasPrefix(m.Point, dir+"/") || dir == "/" {
			out = append(out, mountRef{ID: int(m.ID), Point: m.Point})
		}
	}
	return out
}

// toUnmount returns the mounts of below whose id is not in keep, in the
// order to unmount them: deepest mount point first, and of mounts stacked on
// one point the last made first.
func toUnmount(below []mountRef, keep []int) []mountRef {
	kept := map[int]bool{}
	for _, id := range keep {
		kept[id] = true
	}
	var out []mountRef
	for i := len(below) - 1; i >= 0; i-- {
		if !kept[below[i].ID] {
			out = append(out, below[i])
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return depth(out[i].Point) > depth(out[j].Point) })
	return out
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
// standard mounts. fstype is "tmpfs", "proc", "sysfs", "devpts", "mqueue" or
// "cgroup2", or "bind" to bind the host path source recursively (like
// [WithBind]); options are mount(8) options such as "ro", "nosuid", "size=64m"
// or "rshared" (see Mounts in the package documentation for the ones taken, the
// order and propagation). A "cgroup2" mount shows the container's own cgroup,
// read-only unless options name "rw". dst is resolved inside the container's
// root and created when missing. Mounting needs the privileges of the
// container's mount namespace; when the kernel refuses, Start fails.
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

// Device is a device node to create in the container's /dev, for [WithDevices].
type Device struct {
	Name         string      // the node's path below /dev, such as "fuse" or "net/tun"
	Type         byte        // 'c' character (also 0), 'b' block or 'p' FIFO
	Major, Minor uint32      // the device numbers
	Mode         os.FileMode // permission bits; 0 means 0666
	UID, GID     uint32      // the node's owner, as ids inside the container
}

// WithDevices creates these device nodes in the container's /dev (mknod(2) in
// the init, after the standard ones: null, zero, full, random, urandom, tty),
// in subdirectories too ("net/tun"), each a mount of its own that the device
// fence leaves openable.
// With [github.com/ctrkit/container/oci.WithDeviceRules], they are allowed in
// the devices cgroup too. Creating a node needs CAP_MKNOD in the host's user
// namespace: New fails for a container with a user namespace, and Start fails
// when the kernel refuses.
func WithDevices(devs ...Device) Option {
	return optionFunc(func(c *config) error {
		for _, d := range devs {
			if d.Name == "" || strings.ContainsRune(d.Name, 0) || path.IsAbs(d.Name) || path.Clean(d.Name) != d.Name ||
				d.Name == "." || d.Name == ".." || strings.HasPrefix(d.Name, "../") {
				return optErr("WithDevices", d.Name, "want a clean path below /dev, such as \"fuse\" or \"net/tun\"")
			}
			first, _, _ := strings.Cut(d.Name, "/")
			for _, s := range []string{"pts", "shm", "mqueue", "fd", "stdin", "stdout", "stderr", "ptmx"} {
				if first == s {
					return optErr("WithDevices", d.Name, "a name the standard /dev uses")
				}
			}
			for _, o := range append(append([]device(nil), defaultDevices...), c.oci.devices...) {
				if o.Name == d.Name || strings.HasPrefix(o.Name, d.Name+"/") || strings.HasPrefix(d.Name, o.Name+"/") {
					return optErr("WithDevices", d.Name, "created already, or a node where the other needs a directory (%s)", o.Name)
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
