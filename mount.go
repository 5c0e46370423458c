package container

import (
	"path/filepath"
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
	for _, p := range c.maskedPathsOf() {
		plan = append(plan, mountEntry{Kind: mountMask, Dest: p, Strict: true})
	}
	for _, p := range c.readonlyPathsOf() {
		plan = append(plan, mountEntry{Kind: mountReadonly, Dest: p, Strict: true})
	}
	return plan
}

func depth(p string) int { return strings.Count(filepath.Clean(p), "/") }

// mountLine is one line of a /proc/PID/mountinfo:
// id parent major:minor root mount-point options [optional...] - type source super-options
type mountLine struct {
	ID, Parent uint64
	Point      string // unescaped
	Shared     bool   // has a "shared:N" optional field
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
		m := mountLine{ID: id, Parent: parent, Point: unescapeMount(f[4])}
		for _, opt := range f[min(6, len(f)):] {
			if opt == "-" {
				break
			}
			m.Shared = m.Shared || strings.HasPrefix(opt, "shared:")
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
