package container

import (
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
	// Private is what setupRootfs made every mount already.
	if prop != 0 && prop&unix.MS_PRIVATE == 0 {
		if err := unix.Mount("", "/", "", prop, ""); err != nil {
			return &SetupError{Op: "set propagation " + propagationName(prop) + " on", Path: "/", Err: err}
		}
	}
	return nil
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
