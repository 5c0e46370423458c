package container

import (
	"io"
	"os"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// pivotRoot makes the rootfs the root of the mount namespace with
// pivot_root(".", ".") (never chroot), then detaches the old root stacked on
// top of it, so no path leads back to the host's file system. With
// WithRootfsPropagation shared or slave the old root is made a slave first:
// its mounts may still be the host's peers, and detaching them must not
// unmount the host's.
// Last, the new root gets the propagation of WithRootfsPropagation (prop).
func pivotRoot(rootfs string, prop uintptr) error {
	oldRoot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &SetupError{Op: "open old root", Path: "/", Err: err}
	}
	defer unix.Close(oldRoot)
	newRoot, err := unix.Open(rootfs, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &SetupError{Op: "open rootfs", Path: rootfs, Err: err}
	}
	defer unix.Close(newRoot)
	if err := unix.Fchdir(newRoot); err != nil {
		return &SetupError{Op: "chdir", Path: rootfs, Err: err}
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return &SetupError{Op: "pivot_root", Path: rootfs, Err: err}
	}
	if err := unix.Fchdir(oldRoot); err != nil {
		return &SetupError{Op: "chdir", Path: "old root", Err: err}
	}
	if setupPropagation(prop) != unix.MS_PRIVATE { // private: setupRootfs made it so
		if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
			return &SetupError{Op: "make the old root a slave", Err: err}
		}
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return &SetupError{Op: "unmount old root", Err: err}
	}
	if err := unix.Chdir("/"); err != nil {
		return &SetupError{Op: "chdir", Path: "/", Err: err}
	}
	return setRootPropagation(prop)
}

// setRootPropagation gives the container's root mount, once entered, the
// propagation of WithRootfsPropagation (prop). Private is what setupRootfs
// made every mount already.
func setRootPropagation(prop uintptr) error {
	if prop != 0 && prop&unix.MS_PRIVATE == 0 {
		if err := unix.Mount("", "/", "", prop, ""); err != nil {
			return &SetupError{Op: "set propagation " + propagationName(prop) + " on", Path: "/", Err: err}
		}
	}
	return nil
}

// moveRoot enters the rootfs without pivot_root(2) (WithoutPivotRoot), for a
// root pivot_root refuses: in the container's mount namespace it moves the
// rootfs mount (the bind setupRootfs made) onto / (MS_MOVE), on top of the
// old root, detaches every mount of the host's left on the old root, and
// chroots into the moved mount. The old root's own file system stays
// underneath the container's root. setupRootfs left no mount shared
// (config.go refuses WithRootfsPropagation shared here), so neither the move
// nor the detaching reaches the host.
func moveRoot(rootfs string, prop uintptr) error {
	if err := unix.Chdir(rootfs); err != nil {
		return &SetupError{Op: "chdir", Path: rootfs, Err: err}
	}
	// "." is the rootfs mount's root: the working directory crossed into it.
	if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		return &SetupError{Op: "move the rootfs mount onto /", Path: rootfs, Err: err}
	}
	if err := detachOldRoot(); err != nil {
		return err
	}
	if err := unix.Chroot("."); err != nil {
		return &SetupError{Op: "chroot", Path: rootfs, Err: err}
	}
	if err := unix.Chdir("/"); err != nil {
		return &SetupError{Op: "chdir", Path: "/", Err: err}
	}
	return setRootPropagation(prop)
}

// detachOldRoot lazily unmounts the mounts on the old root other than the
// moved rootfs: the host's /proc, /sys, /dev and the rest, which would
// otherwise stay in the container's mount namespace under its root (runc's
// --no-pivot unmounts only the host's full proc and sysfs mounts: while one
// is in the namespace, the kernel lets the container mount another). Until
// the chroot, "/" is still the old root, so its mount points resolve there. A
// stack of mounts on one point takes one unmount each, and a mount hidden
// under another's mount point is reachable only once that one is gone, so it
// goes round until none is left, and fails on a round that detached nothing.
func detachOldRoot() error {
	oldRoot, err := mountID("/")
	if err != nil {
		return err
	}
	moved, err := mountID(".")
	if err != nil {
		return err
	}
	if oldRoot == moved {
		return &SetupError{Op: "move the rootfs mount onto /", Err: &detailedErrno{detail: "the root is still the rootfs mount", errno: unix.EINVAL}}
	}
	// Opened once: the host's /proc is among the mounts to detach. Each read
	// from the start shows the namespace's mounts as they are then.
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return &SetupError{Op: "open", Path: "/proc/self/mountinfo", Err: underlying(err)}
	}
	defer f.Close()
	for {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return &SetupError{Op: "seek", Path: "/proc/self/mountinfo", Err: underlying(err)}
		}
		info, err := io.ReadAll(f)
		if err != nil {
			return &SetupError{Op: "read", Path: "/proc/self/mountinfo", Err: underlying(err)}
		}
		points := childMounts(string(info), oldRoot, moved)
		if len(points) == 0 {
			return nil
		}
		// Shallowest first: a mount hidden under another one's mount point
		// is reachable by its path only once that one is gone.
		sort.SliceStable(points, func(i, j int) bool { return depth(points[i]) < depth(points[j]) })
		var failed *SetupError
		done := 0
		for _, p := range points {
			if err := unix.Unmount(p, unix.MNT_DETACH); err != nil {
				if failed == nil {
					failed = &SetupError{Op: "detach the host's mount on the old root", Path: p, Err: err}
				}
				continue
			}
			done++
		}
		if done == 0 {
			return failed // a round without progress: the next would be the same
		}
	}
}

// mountID is the id of the mount that holds path, as mountinfo shows it.
func mountID(path string) (uint64, error) {
	var stx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, path, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID, &stx); err != nil {
		return 0, &SetupError{Op: "statx", Path: path, Err: err}
	}
	if stx.Mask&unix.STATX_MNT_ID == 0 {
		return 0, &SetupError{Op: "statx", Path: path, Err: &detailedErrno{detail: "no mount id", errno: unix.ENOSYS}}
	}
	return stx.Mnt_id, nil
}

// chrootRoot enters the rootfs of a container without a mount namespace
// (WithoutNamespace(NSMount)) with chroot(2): pivot_root would move the root
// of every process of the host's mount namespace. The working directory goes
// in first, so no path of the init is left outside the new root.
func chrootRoot(rootfs string) error {
	if err := unix.Chdir(rootfs); err != nil {
		return &SetupError{Op: "chdir", Path: rootfs, Err: err}
	}
	if err := unix.Chroot("."); err != nil {
		return &SetupError{Op: "chroot", Path: rootfs, Err: err}
	}
	if err := unix.Chdir("/"); err != nil {
		return &SetupError{Op: "chdir", Path: "/", Err: err}
	}
	return nil
}

// enterDir changes to the command's working directory and checks that the
// result is inside the new root (a cwd left outside it is how CVE-2024-21626
// escaped).
func enterDir(dir string) error {
	if err := unix.Chdir(dir); err != nil {
		return &SetupError{Op: "chdir", Path: dir, Err: err}
	}
	buf := make([]byte, 4096)
	n, err := unix.Getcwd(buf)
	if err != nil {
		return &SetupError{Op: "getcwd", Path: dir, Err: err}
	}
	cwd := strings.TrimRight(string(buf[:n]), "\x00")
	if !strings.HasPrefix(cwd, "/") {
		return &SetupError{Op: "chdir", Path: dir, Err: &detailedErrno{detail: "working directory " + cwd + " is outside the container's root", errno: unix.EPERM}}
	}
	return nil
}
