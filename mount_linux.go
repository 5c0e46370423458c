package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// setupRootfs carries out the mount plan inside the init's new mount namespace,
// before pivot_root. Every destination is resolved relative to an open handle on
// the rootfs (openat2 RESOLVE_IN_ROOT), and every mount is made onto
// /proc/self/fd/N of the opened destination, so no symlink in the rootfs can
// redirect a mount onto the host.
//
// Without a mount namespace (cfg.Chroot) the mounts are made in the host's:
// the propagation of the host's mounts is left alone and the rootfs is not
// bound onto itself; only the plan's mounts, all below the rootfs, are made
// (the parent removes them: releaseRootfsMounts).
func setupRootfs(cfg *initConfig) error {
	if cfg.Chroot {
		// A mount of its own for the rootfs, which the device fence can make
		// nodev without touching the host's mount (the parent unmounts it
		// with the plan's: releaseRootfsMounts).
		if err := unix.Mount(cfg.Rootfs, cfg.Rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return &SetupError{Op: "bind rootfs on", Path: cfg.Rootfs, Err: err}
		}
	} else if err := privateRootfs(cfg); err != nil {
		return err
	}
	root, err := os.OpenFile(cfg.Rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &SetupError{Op: "open rootfs", Path: cfg.Rootfs, Err: underlying(err)}
	}
	defer root.Close()
	m := mounter{root: root, cfg: cfg}
	defer m.close()
	for _, e := range cfg.Mounts {
		if err := m.mount(e); err != nil {
			return err
		}
	}
	if err := m.fenceDevices(); err != nil {
		return err
	}
	if cfg.ReadonlyRootfs {
		if err := setReadonly(int(root.Fd()), false); err != nil {
			return &SetupError{Op: "make rootfs read-only", Path: "/", Err: err}
		}
	}
	return nil
}

// privateRootfs sets the propagation of the new mount namespace's mounts
// (WithRootfsPropagation) and binds the rootfs onto itself, so that it is a
// mount pivot_root(2) accepts.
func privateRootfs(cfg *initConfig) error {
	prop := setupPropagation(cfg.RootProp)
	if err := unix.Mount("", "/", "", unix.MS_REC|prop, ""); err != nil {
		return &SetupError{Op: "set propagation " + propagationName(prop) + " on", Path: "/", Err: err}
	}
	if prop == unix.MS_SHARED { // otherwise no mount is shared any more
		if err := privateRootfsParent(cfg.Rootfs); err != nil {
			return err
		}
	}
	if cfg.Overlay != nil { // overlay_linux.go: WithOverlay, the root mount is the overlay
		return mountOverlay(cfg)
	}
	if err := unix.Mount(cfg.Rootfs, cfg.Rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return &SetupError{Op: "bind rootfs on", Path: cfg.Rootfs, Err: err}
	}
	return nil
}

// setupPropagation is the propagation every mount of the container's mount
// namespace gets while the init sets it up (WithRootfsPropagation): slaves of
// the host's for slave, left shared for shared, private otherwise (an
// unbindable root could not be bound onto itself; it becomes unbindable after
// pivot_root, see pivotRoot).
func setupPropagation(root uintptr) uintptr {
	switch {
	case root&unix.MS_SHARED != 0:
		return unix.MS_SHARED
	case root&unix.MS_SLAVE != 0:
		return unix.MS_SLAVE
	}
	return unix.MS_PRIVATE
}

func propagationName(p uintptr) string {
	name := map[uintptr]string{unix.MS_SHARED: "shared", unix.MS_SLAVE: "slave", unix.MS_PRIVATE: "private", unix.MS_UNBINDABLE: "unbindable"}[p&^unix.MS_REC]
	if p&unix.MS_REC != 0 {
		return "r" + name
	}
	return name
}

// privateRootfsParent makes the mount that holds the rootfs private when it
// is shared (with WithRootfsPropagation shared; the other settings leave no
// mount shared). Otherwise binding the rootfs onto itself would
// propagate that mount to the mount's peers, the host's among them, and
// pivot_root(2) refuses a new root whose parent mount is shared.
func privateRootfsParent(rootfs string) error {
	var stx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, rootfs, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID, &stx); err != nil {
		return &SetupError{Op: "statx", Path: rootfs, Err: err}
	}
	info, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return &SetupError{Op: "read", Path: "/proc/self/mountinfo", Err: underlying(err)}
	}
	point, shared, ok := mountOf(string(info), stx.Mnt_id)
	if !ok {
		return &SetupError{Op: "find the mount of", Path: rootfs, Err: unix.ENOENT}
	}
	if !shared {
		return nil
	}
	if err := unix.Mount("", point, "", unix.MS_PRIVATE, ""); err != nil {
		return &SetupError{Op: "make private the mount of the rootfs at", Path: point, Err: err}
	}
	return nil
}

type mounter struct {
	root    *os.File
	cfg     *initConfig
	devNull *os.File // the host's /dev/null, checked to be char 1:3
	// devMounts are the container paths of the mounts whose device nodes the
	// container may open (fenceDevices): each standard and WithDevices node
	// (a mount of its own), every devpts, every mask of /dev/null.
	devMounts []string
}

// fenceDevices keeps the container from every device node it was not given:
// every mount of its tree becomes nodev (the rootfs, its submounts, the
// caller's binds and file systems, /dev itself), so a node that the
// container makes (CAP_MKNOD is one of the default capabilities), that the
// rootfs carries or that a bind of a host path reaches cannot be opened
// (EACCES). Then nodev is cleared again on the mounts in devMounts alone:
// each device the container gets is a mount of its own (see populateDev).
// This costs no cgroup; a container given CAP_SYS_ADMIN in the host's user
// namespace can remount, which only a device cgroup stops (see doc.go).
func (m *mounter) fenceDevices() error {
	if err := unix.MountSetattr(int(m.root.Fd()), "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE,
		&unix.MountAttr{Attr_set: unix.MOUNT_ATTR_NODEV}); err != nil {
		return &SetupError{Op: "set nodev on", Path: "/", Err: err}
	}
	for _, p := range m.devMounts {
		t, err := m.lookup(p, true)
		if err != nil {
			return &SetupError{Op: "allow devices on", Path: p, Err: err}
		}
		err = unix.MountSetattr(int(t.Fd()), "", unix.AT_EMPTY_PATH, &unix.MountAttr{Attr_clr: unix.MOUNT_ATTR_NODEV})
		t.Close()
		if err != nil {
			return &SetupError{Op: "allow devices on", Path: p, Err: err}
		}
	}
	return nil
}

func (m *mounter) close() {
	if m.devNull != nil {
		m.devNull.Close()
	}
}

func (m *mounter) mount(e mountEntry) error {
	switch e.Kind {
	case mountFS, mountTmpfs:
		t, err := m.target(e.Dest, false, e.Strict)
		if err != nil {
			return &SetupError{Op: "mount " + e.FSType + " on", Path: e.Dest, Err: err}
		}
		defer t.Close()
		if err := unix.Mount(e.Source, fdPath(t), e.FSType, e.Flags, e.Data); err != nil {
			return &SetupError{Op: "mount " + e.FSType + " on", Path: e.Dest, Err: err}
		}
		if e.FSType == "devpts" && e.Flags&msNodev == 0 {
			m.devMounts = append(m.devMounts, e.Dest)
		}
		if err := m.setPropagation(e); err != nil { // WithMount
			return err
		}
	case mountBind:
		op := "bind " + e.Source + " on"
		t, err := m.target(e.Dest, e.File, e.Strict)
		if err != nil {
			return &SetupError{Op: op, Path: e.Dest, Err: err}
		}
		defer t.Close()
		if err := unix.Mount(e.Source, fdPath(t), "", unix.MS_BIND|unix.MS_REC, e.Data); err != nil {
			return &SetupError{Op: op, Path: e.Dest, Err: err}
		}
		if e.Readonly {
			if err := m.readonly(e.Dest, e.Strict); err != nil {
				return &SetupError{Op: "make read-only", Path: e.Dest, Err: err}
			}
		}
		if e.Attrs != 0 {
			if err := m.setAttrs(e.Dest, e.Strict, e.Attrs); err != nil {
				return &SetupError{Op: "set mount attributes of", Path: e.Dest, Err: err}
			}
		}
		if err := m.setPropagation(e); err != nil { // WithMount
			return err
		}
	case mountCgroupView:
		return m.cgroupView(e)
	case mountGenerated:
		return m.generated(e)
	case mountCgroups:
		return m.cgroups(e.Dest)
	case mountDevices:
		return m.populateDev(e.Dest)
	case mountMask:
		return m.mask(e.Dest)
	case mountReadonly:
		t, err := m.lookup(e.Dest, e.Strict)
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		if err != nil {
			return &SetupError{Op: "make read-only", Path: e.Dest, Err: err}
		}
		defer t.Close()
		if err := unix.Mount(fdPath(t), fdPath(t), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return &SetupError{Op: "make read-only", Path: e.Dest, Err: err}
		}
		if err := m.readonly(e.Dest, e.Strict); err != nil {
			return &SetupError{Op: "make read-only", Path: e.Dest, Err: err}
		}
	}
	return nil
}

func resolveFlags(strict bool) uint64 {
	if strict {
		return unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS
	}
	return unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS
}

// lookup opens an existing path inside the rootfs as an O_PATH handle.
func (m *mounter) lookup(dest string, strict bool) (*pathFD, error) {
	fd, err := unix.Openat2(int(m.root.Fd()), dest, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: resolveFlags(strict),
	})
	if err != nil {
		if strict && errors.Is(err, unix.ELOOP) {
			return nil, errSymlink
		}
		return nil, err
	}
	return &pathFD{fd}, nil
}

// pathFD is an O_PATH descriptor of a path in the rootfs, for one mount
// step. Not an *os.File: os.NewFile asks the kernel for the descriptor's
// flags (fcntl F_GETFL) and registers a cleanup, for each of the init's
// fifty-odd lookups.
type pathFD struct{ fd int }

func (p *pathFD) Fd() uintptr  { return uintptr(p.fd) }
func (p *pathFD) Close() error { return unix.Close(p.fd) }

var errSymlink = &detailedErrno{detail: "refusing a path that goes through a symlink", errno: unix.ELOOP}

// target opens the destination of a mount, creating it (and its missing
// parents, resolved inside the rootfs) as a directory or an empty file.
func (m *mounter) target(dest string, file, strict bool) (*pathFD, error) {
	t, err := m.lookup(dest, strict)
	if !errors.Is(err, unix.ENOENT) {
		return t, err
	}
	dir := dest
	if file {
		dir = filepath.Dir(dest)
	}
	d, err := securejoin.MkdirAllHandle(m.root, dir, 0o755)
	if err != nil {
		return nil, underlying(err)
	}
	if file {
		fd, err := unix.Openat(int(d.Fd()), filepath.Base(dest), unix.O_CREAT|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
		d.Close()
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, err
		}
		if err == nil {
			unix.Close(fd)
		}
	} else {
		d.Close()
	}
	// Open again with the caller's resolution rules: the path created may have
	// gone through a symlink that a strict destination refuses.
	return m.lookup(dest, strict)
}

// readonly makes the mount at dest read-only, with every mount below it.
// mount_setattr(2) changes only that attribute, keeping nosuid, nodev and the
// others (which a user namespace may not clear).
func (m *mounter) readonly(dest string, strict bool) error {
	t, err := m.lookup(dest, strict)
	if err != nil {
		return err
	}
	defer t.Close()
	return setReadonly(int(t.Fd()), true)
}

func setReadonly(fd int, recursive bool) error {
	flags := unix.AT_EMPTY_PATH
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	return unix.MountSetattr(fd, "", uint(flags), &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY})
}

// cgroupView binds the container's own cgroup2 directory (the parent placed
// the init in it: the view makes the container need a cgroup) at e.Dest, for
// a cgroup2 mount in a container without a cgroup namespace, where mounting
// cgroup2 would show the host's whole hierarchy. The init finds it through
// the host's /proc, which it still sees before pivot_root.
func (m *mounter) cgroupView(e mountEntry) error {
	op := "bind own cgroup on"
	pc, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return &SetupError{Op: op, Path: e.Dest, Err: underlying(err)}
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return &SetupError{Op: op, Path: e.Dest, Err: underlying(err)}
	}
	dirs, err := v1Parents(string(pc), string(mi), []string{unifiedKey})
	if err != nil {
		return &SetupError{Op: op, Path: e.Dest, Err: &detailedErrno{detail: err.Error(), errno: unix.ENOENT}}
	}
	return m.mount(mountEntry{Kind: mountBind, Source: dirs[unifiedKey], Dest: e.Dest, Readonly: e.Flags&msRdonly != 0,
		Attrs: e.Flags & (msNosuid | msNodev | msNoexec), Prop: e.Prop})
}

// cgroups mounts the container's read-only view of its own cgroups at dest
// (/sys/fs/cgroup), in its cgroup namespace, whose root in each hierarchy is
// the container's cgroup: on a v2 host its cgroup2; on a v1 or hybrid one a
// tmpfs holding each v1 hierarchy it has a cgroup in (as the host names them,
// with the host's symlinks for co-mounted controllers) and the unified one.
// Without a cgroup of its own an empty read-only tmpfs hides dest, so nothing
// of the host's cgroups shows (a rootless container's /sys is the host's).
func (m *mounter) cgroups(dest string) error {
	view := m.cfg.CgroupView
	t, err := m.target(dest, false, true)
	if err != nil {
		return &SetupError{Op: "mount cgroups on", Path: dest, Err: err}
	}
	defer t.Close()
	const fl = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	switch {
	case len(view) == 0:
		err = unix.Mount("tmpfs", fdPath(t), "tmpfs", fl|unix.MS_RDONLY, "size=0,mode=0555")
	case len(view) == 1 && view[0] == "":
		var fs unix.Statfs_t
		if unix.Fstatfs(int(t.Fd()), &fs) == nil && fs.Type == unix.CGROUP2_SUPER_MAGIC {
			// The host's cgroup2, under a bound /sys (a user namespace that
			// does not own its network namespace): the kernel refuses the
			// same file system on its own root (EBUSY), so cover it first.
			if err := unix.Mount("tmpfs", fdPath(t), "tmpfs", fl, "size=0,mode=0555"); err != nil {
				return &SetupError{Op: "mount cgroups on", Path: dest, Err: err}
			}
			cover, err := m.lookup(dest, true) // the tmpfs, now
			if err != nil {
				return &SetupError{Op: "mount cgroups on", Path: dest, Err: err}
			}
			defer cover.Close()
			t = cover
		}
		err = unix.Mount("cgroup2", fdPath(t), "cgroup2", fl|unix.MS_RDONLY, "")
	default:
		err = m.cgroupsV1(t, view)
	}
	if err != nil {
		return &SetupError{Op: "mount cgroups on", Path: dest, Err: err}
	}
	return nil
}

// cgroupsV1 fills the tmpfs of a v1 or hybrid view, then makes it read-only.
func (m *mounter) cgroupsV1(t *pathFD, view []string) error {
	const fl = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	if err := unix.Mount("tmpfs", fdPath(t), "tmpfs", fl, "size=64k,mode=0755"); err != nil {
		return fmt.Errorf("tmpfs: %w", err)
	}
	dir, err := m.lookup("/sys/fs/cgroup", true) // the tmpfs, now
	if err != nil {
		return err
	}
	defer dir.Close()
	mounts := m.cfg.CgroupMounts
	if mounts == nil { // a joined mount namespace: its own table
		info, err := os.ReadFile("/proc/self/mountinfo")
		if err != nil {
			return underlying(err)
		}
		mounts = viewMounts(string(info), view)
	}
	for _, vm := range mounts {
		if err := unix.Mkdirat(int(dir.Fd()), vm.Name, 0o555); err != nil {
			return err
		}
		sub, err := m.lookup("/sys/fs/cgroup/"+vm.Name, true)
		if err != nil {
			return err
		}
		err = unix.Mount(vm.FSType, fdPath(sub), vm.FSType, fl|unix.MS_RDONLY, vm.Data)
		sub.Close()
		if err != nil {
			return fmt.Errorf("%s %s: %w", vm.FSType, vm.Data, err)
		}
		// cpu -> cpu,cpuacct, as the host has them.
		for _, c := range strings.Split(vm.Data, ",") {
			if c != vm.Name && c != "" && !strings.HasPrefix(c, "name=") {
				unix.Symlinkat(vm.Name, int(dir.Fd()), c)
			}
		}
	}
	if err := setReadonly(int(dir.Fd()), false); err != nil {
		return fmt.Errorf("make the tmpfs read-only: %w", err)
	}
	return nil
}

// viewMounts finds, in the text of a /proc/PID/mountinfo, the host's mount of
// each hierarchy of view (v1 controllers and unifiedKey), once per mount
// (co-mounted controllers share one).
func viewMounts(mountinfo string, view []string) []cgroupViewMount {
	lines := parseMountinfo(mountinfo)
	made := map[string]bool{}
	out := []cgroupViewMount{}
	for _, key := range view {
		for _, ml := range lines {
			if !cgroupMountOf(ml, key) || made[ml.Point] {
				continue
			}
			made[ml.Point] = true
			vm := cgroupViewMount{Name: filepath.Base(ml.Point), FSType: "cgroup2"}
			if key != unifiedKey {
				vm.FSType, vm.Data = "cgroup", cgroupControllers(ml.Super)
			}
			out = append(out, vm)
			break
		}
	}
	return out
}

// cgroupMountOf reports whether ml is the host's mount of the hierarchy of
// key (a v1 controller, or unifiedKey for the cgroup2 one beside them).
func cgroupMountOf(ml mountLine, key string) bool {
	if key == unifiedKey {
		return ml.FSType == "cgroup2"
	}
	return ml.FSType == "cgroup" && hasOpt(ml.Super, key)
}

// cgroupControllers keeps, of a v1 cgroup mount's super options, what names
// its hierarchy: the controllers and a name=.
func cgroupControllers(super string) string {
	var out []string
	for _, o := range strings.Split(super, ",") {
		switch o {
		case "rw", "ro", "nsdelegate", "clone_children", "noprefix", "xattr", "memory_recursiveprot":
		default:
			if !strings.Contains(o, "=") || strings.HasPrefix(o, "name=") {
				out = append(out, o)
			}
		}
	}
	return strings.Join(out, ",")
}

// generated binds a file with e.Data over e.Dest when the rootfs has a
// regular file there (a symlink is not followed: the rootfs's own stays). The
// file is written in the container's /dev tmpfs, bound, and unlinked from
// /dev again: the mount keeps it, it vanishes with the mount namespace, and
// nothing is written to the rootfs or left on the host.
func (m *mounter) generated(e mountEntry) error {
	t, err := m.lookup(e.Dest, true)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, errSymlink) {
		return nil
	}
	if err != nil {
		return &SetupError{Op: "open", Path: e.Dest, Err: err}
	}
	defer t.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(t.Fd()), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil
	}
	dev, err := m.lookup("/dev", true)
	if err != nil {
		return &SetupError{Op: "open", Path: "/dev", Err: err}
	}
	defer dev.Close()
	name := ".ctrkit-" + filepath.Base(e.Dest)
	fd, err := unix.Openat(int(dev.Fd()), name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return &SetupError{Op: "create", Path: "/dev/" + name, Err: err}
	}
	_, err = unix.Write(fd, []byte(e.Data))
	if err == nil {
		err = unix.Mount("/proc/self/fd/"+strconv.Itoa(fd), fdPath(t), "", unix.MS_BIND, "")
	}
	unix.Close(fd)
	unix.Unlinkat(int(dev.Fd()), name, 0)
	if err != nil {
		return &SetupError{Op: "bind generated file on", Path: e.Dest, Err: err}
	}
	return nil
}

// mask hides a path: the host's /dev/null over a file, an empty read-only tmpfs
// over a directory. A path that does not exist needs no mask.
func (m *mounter) mask(dest string) error {
	t, err := m.lookup(dest, true)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return &SetupError{Op: "mask", Path: dest, Err: err}
	}
	defer t.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(t.Fd()), &st); err != nil {
		return &SetupError{Op: "mask", Path: dest, Err: err}
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		if err := unix.Mount("tmpfs", fdPath(t), "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=0,mode=0555"); err != nil {
			return &SetupError{Op: "mask", Path: dest, Err: err}
		}
		return nil
	}
	null, err := m.hostDevNull()
	if err != nil {
		return &SetupError{Op: "mask", Path: dest, Err: err}
	}
	if err := unix.Mount(fdPath(null), fdPath(t), "", unix.MS_BIND, ""); err != nil {
		return &SetupError{Op: "mask", Path: dest, Err: err}
	}
	m.devMounts = append(m.devMounts, dest)
	return nil
}

// hostDevNull opens the host's /dev/null once and checks that it is the null
// device (char 1:3): a mask must never bind some other file over a path.
func (m *mounter) hostDevNull() (*os.File, error) {
	if m.devNull != nil {
		return m.devNull, nil
	}
	f, err := os.OpenFile("/dev/null", unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, underlying(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != 1 || unix.Minor(st.Rdev) != 3 {
		f.Close()
		return nil, &detailedErrno{detail: "/dev/null is not the null device (char 1:3)", errno: unix.EINVAL}
	}
	m.devNull = f
	return f, nil
}

// populateDev fills the fresh /dev tmpfs: device nodes, the usual symlinks
// and the directories for pts, shm and mqueue. Each node is a mount of its
// own, the only mounts of the container that fenceDevices leaves without
// nodev: as real root a node made with mknod and bound onto itself, in a
// user namespace (where mknod is refused) a bind of the host's node.
func (m *mounter) populateDev(dest string) error {
	dev, err := m.lookup(dest, true)
	if err != nil {
		return &SetupError{Op: "open", Path: dest, Err: err}
	}
	defer dev.Close()
	dfd := int(dev.Fd())
	for _, d := range []string{"pts", "shm", "mqueue"} {
		if err := unix.Mkdirat(dfd, d, 0o755); err != nil {
			return &SetupError{Op: "mkdir", Path: dest + "/" + d, Err: err}
		}
	}
	old := unix.Umask(0)
	defer unix.Umask(old)
	for _, d := range m.cfg.Devices {
		p := dest + "/" + d.Name
		op, src := "bind /dev/"+d.Name+" on", "/dev/"+d.Name
		if err := mkdirsAt(dfd, filepath.Dir(d.Name)); err != nil { // a node below /dev, such as net/tun
			return &SetupError{Op: "mkdir", Path: filepath.Dir(p), Err: err}
		}
		if m.cfg.BindDevices {
			fd, err := unix.Openat(dfd, d.Name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o666)
			if err != nil {
				return &SetupError{Op: "create", Path: p, Err: err}
			}
			unix.Close(fd)
		} else {
			if err := mknodDevice(dfd, d); err != nil {
				return &SetupError{Op: "mknod", Path: p, Err: err}
			}
			op, src = "bind onto itself", ""
		}
		t, err := m.lookup(p, true)
		if err != nil {
			return &SetupError{Op: op, Path: p, Err: err}
		}
		if src == "" {
			src = fdPath(t)
		}
		err = unix.Mount(src, fdPath(t), "", unix.MS_BIND, "")
		t.Close()
		if err != nil {
			return &SetupError{Op: op, Path: p, Err: err}
		}
		m.devMounts = append(m.devMounts, p)
	}
	for _, l := range [][2]string{
		{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
		{"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"},
	} {
		if err := unix.Symlinkat(l[0], dfd, l[1]); err != nil {
			return &SetupError{Op: "symlink", Path: dest + "/" + l[1], Err: err}
		}
	}
	return nil
}

func fdPath(f interface{ Fd() uintptr }) string { return "/proc/self/fd/" + strconv.Itoa(int(f.Fd())) }

// underlying strips *os.PathError and similar wrappers down to the errno, so the
// SetupError built around it names the path inside the container, not the
// handle's.
func underlying(err error) error {
	var errno unix.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}

// rootfsMounts is oci.RootfsMounts; see there.
func rootfsMounts(rootfs string) ([]int, error) {
	below, err := readMountsBelow(rootfs)
	if err != nil {
		return nil, err
	}
	ids := make([]int, len(below))
	for i, m := range below {
		ids[i] = m.ID
	}
	return ids, nil
}

// releaseRootfsMounts is oci.ReleaseRootfsMounts; see there.
func releaseRootfsMounts(rootfs string, keep []int) error {
	for {
		below, err := readMountsBelow(rootfs)
		if err != nil {
			return err
		}
		left := toUnmount(below, keep)
		if len(left) == 0 {
			return nil
		}
		var first error
		done := 0
		for _, m := range left {
			if err := unmountRef(m); err != nil {
				if first == nil {
					first = fmt.Errorf("container: unmount %s (mount %d): %w", m.Point, m.ID, err)
				}
				continue
			}
			done++
		}
		if done == 0 { // no progress: each pass unmounts at least the top of every stack
			return first
		}
	}
}

// readMountsBelow reads the caller's mounts at or below rootfs (resolved, as
// mountinfo shows real paths).
func readMountsBelow(rootfs string) ([]mountRef, error) {
	dir, err := filepath.EvalSymlinks(rootfs)
	if err != nil {
		dir = filepath.Clean(rootfs)
	}
	info, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("container: %w", err)
	}
	return mountsBelow(string(info), dir), nil
}

// unmountRef unmounts m if its mount point still leads, without a symlink,
// to the mount of that id.
func unmountRef(m mountRef) error {
	fd, err := unix.Openat2(unix.AT_FDCWD, m.Point, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC | unix.O_NOFOLLOW,
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var stx unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_MNT_ID, &stx); err != nil {
		return err
	}
	if stx.Mask&unix.STATX_MNT_ID == 0 || stx.Mnt_id != uint64(m.ID) {
		return &detailedErrno{detail: "the path leads to another mount", errno: unix.EBUSY}
	}
	return unix.Unmount("/proc/self/fd/"+strconv.Itoa(fd), unix.MNT_DETACH)
}

// setAttrs sets nosuid, nodev and noexec on a bound tree (WithMount "bind").
func (m *mounter) setAttrs(dest string, strict bool, flags uintptr) error {
	t, err := m.lookup(dest, strict)
	if err != nil {
		return err
	}
	defer t.Close()
	var attr, clr uint64
	for _, f := range []struct {
		flag uintptr
		attr uint64
	}{{msNosuid, unix.MOUNT_ATTR_NOSUID}, {msNodev, unix.MOUNT_ATTR_NODEV}, {msNoexec, unix.MOUNT_ATTR_NOEXEC},
		{0x400, unix.MOUNT_ATTR_NOATIME}, {0x200000, unix.MOUNT_ATTR_RELATIME}, {msStrictatime, unix.MOUNT_ATTR_STRICTATIME},
		{0x800, unix.MOUNT_ATTR_NODIRATIME}} {
		if flags&f.flag != 0 {
			attr |= f.attr
		}
	}
	if flags&(0x400|0x200000|msStrictatime) != 0 {
		clr = unix.MOUNT_ATTR__ATIME // the atime mode is replaced as a whole
	}
	return unix.MountSetattr(int(t.Fd()), "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &unix.MountAttr{Attr_set: attr, Attr_clr: clr})
}

// mknodDevice creates a device node in the container's /dev (dfd), with its
// mode and owner (WithDevices; the standard devices are 0666 root's).
// mkdirsAt makes the directories of the relative path dir below the
// directory dfd, the fresh /dev tmpfs, where nothing else made any yet.
func mkdirsAt(dfd int, dir string) error {
	if dir == "." {
		return nil
	}
	p := ""
	for _, part := range strings.Split(dir, "/") {
		p = filepath.Join(p, part)
		if err := unix.Mkdirat(dfd, p, 0o755); err != nil && err != unix.EEXIST {
			return err
		}
	}
	return nil
}

func mknodDevice(dfd int, d device) error {
	typ := uint32(unix.S_IFCHR)
	switch d.Type {
	case 'b':
		typ = unix.S_IFBLK
	case 'p':
		typ = unix.S_IFIFO
	}
	mode := d.Mode
	if mode == 0 {
		mode = 0o666
	}
	if err := unix.Mknodat(dfd, d.Name, typ|mode, int(unix.Mkdev(d.Major, d.Minor))); err != nil {
		return err
	}
	if d.UID != 0 || d.GID != 0 {
		return unix.Fchownat(dfd, d.Name, int(d.UID), int(d.GID), unix.AT_SYMLINK_NOFOLLOW)
	}
	return nil
}

// setPropagation sets a mount's propagation (WithMount "shared", "slave"...),
// inside the container's mount namespace.
func (m *mounter) setPropagation(e mountEntry) error {
	if e.Prop == 0 {
		return nil
	}
	t, err := m.lookup(e.Dest, e.Strict)
	if err != nil {
		return &SetupError{Op: "set propagation of", Path: e.Dest, Err: err}
	}
	defer t.Close()
	if err := unix.Mount("", fdPath(t), "", e.Prop, ""); err != nil {
		return &SetupError{Op: "set propagation of", Path: e.Dest, Err: err}
	}
	return nil
}
