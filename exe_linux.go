package container

// Hardening against CVE-2019-5736: a process in the container that could open
// /proc/<init>/exe for writing while the init runs would overwrite the host's
// binary. Two defences:
//
//   - The init is not exec'd from the host's binary but from a view of it
//     that can never be written, made once per process and kept open
//     (close-on-exec), whichever of these two works first:
//     1. A read-only overlayfs view, as runc 1.2 does: an overlay mount made
//     with fsopen/fsmount and never attached anywhere (no path leads to it),
//     read-only, whose only layers are two lower ones (the binary's
//     directory on top of an empty directory), so that nothing can be
//     written through it even if the mount were made writable (an overlay
//     with no upper layer has nowhere to write: EROFS), unlike a read-only
//     bind mount, which CAP_SYS_ADMIN could remount read-write. It copies
//     nothing: its pages are the host binary's, already in the page cache.
//     It needs CAP_SYS_ADMIN (fsopen) and overlayfs.
//     2. Otherwise (not root, no overlayfs, a binary already deleted, a
//     directory overlayfs refuses as a layer), a sealed memfd copy of it:
//     F_SEAL_WRITE, sharing nothing with the host's file system.
//     Either way /proc/<init>/exe is a file that cannot be opened for
//     writing, and reopening it (the exploit's O_PATH trick) gives the same
//     unwritable file.
//   - The init makes itself non-dumpable first thing (PR_SET_DUMPABLE 0), so
//     that processes without CAP_SYS_PTRACE cannot reach its /proc files at
//     all; execve of the command resets it.
//
// Cost, measured on the 2-core development VM (bench/PROFILE.md, part 7):
// the memfd copy is one sendfile of the binary per process, 7 ms for the
// 11.7 MB test binary on a quiet machine (BenchmarkSealedCopy, 1.7 GB/s),
// plus memory equal to the binary's size, held until the process exits:
// paid by every ctrkit create and run and every examples/run. The overlay
// view is seven system calls and a temporary directory, 0.16 ms whatever the
// binary's size (BenchmarkOverlayView), and no memory: ctrkit run went from
// 24.0 to 18.3 ms of CPU, examples/run from 15.4 to 11.8 ms. Every later
// Start of the process execs from the same view.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// sealedSelf is the one unwritable view of this process's binary: see the
// comment at the top.
var sealedSelf = sync.OnceValues(func() (*os.File, error) {
	if f, err := overlayView(); err == nil {
		return f, nil
	}
	return sealedCopy()
})

// overlayView opens this process's binary through a read-only overlay mount
// that is attached nowhere, with two lower layers and no upper one: the
// binary's directory on top of an empty one (overlayfs needs two lower
// layers to mount without an upper one). The result is an O_PATH,
// close-on-exec descriptor to exec through /proc/self/fd. The empty
// directory is removed before it returns: the mount holds it, and nothing
// is looked up in it (the binary is found in the top layer).
func overlayView() (*os.File, error) {
	self, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(self, " (deleted)") || !filepath.IsAbs(self) {
		return nil, fmt.Errorf("binary %q: no directory to use as a layer", self)
	}
	dir, name := filepath.Split(self)
	empty, err := emptyLayer(dir)
	if err != nil {
		return nil, err
	}
	defer os.Remove(empty)
	ctx, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("fsopen overlay: %w", err)
	}
	defer unix.Close(ctx)
	lower := escapeLayer(dir) + ":" + escapeLayer(empty)
	if err := unix.FsconfigSetString(ctx, "lowerdir", lower); err != nil {
		return nil, fmt.Errorf("overlay lowerdir=%s: %w", lower, err)
	}
	// xino only renumbers inodes; turning it off keeps the kernel from
	// logging about layers on different file systems. Not needed to work.
	_ = unix.FsconfigSetString(ctx, "xino", "off")
	if err := unix.FsconfigCreate(ctx); err != nil {
		return nil, fmt.Errorf("create overlay of %s: %w", dir, err)
	}
	mnt, err := unix.Fsmount(ctx, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID)
	if err != nil {
		return nil, fmt.Errorf("fsmount overlay: %w", err)
	}
	defer unix.Close(mnt)
	fd, err := unix.Openat(mnt, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s in the overlay of %s: %w", name, dir, err)
	}
	// The view is what we mean to exec: a regular file on a read-only
	// overlay.
	var st unix.Statfs_t
	var fi unix.Stat_t
	if err := unix.Fstatfs(fd, &st); err != nil || st.Type != unix.OVERLAYFS_SUPER_MAGIC || st.Flags&unix.ST_RDONLY == 0 {
		unix.Close(fd)
		return nil, errors.Join(errors.New("the overlay view is not a read-only overlayfs file"), err)
	}
	if err := unix.Fstat(fd, &fi); err != nil || fi.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, errors.Join(errors.New("the overlay view is not a regular file"), err)
	}
	// The view was found by name: it must be the binary this process runs,
	// not one put at its path since (an upgrade, a rename). A non-directory
	// of a lower layer shows the real file's inode number, size and times.
	var run unix.Stat_t
	if err := unix.Stat("/proc/self/exe", &run); err != nil || run.Ino != fi.Ino || run.Size != fi.Size ||
		run.Mtim != fi.Mtim || run.Ctim != fi.Ctim {
		unix.Close(fd)
		return nil, errors.Join(fmt.Errorf("%s in the overlay is not the running binary (replaced since it started?)", self), err)
	}
	return os.NewFile(uintptr(fd), "overlay:"+self), nil
}

// emptyLayer makes the empty lower layer of the overlay view in the first of
// the temporary directory, /dev/shm, /run and /var/tmp that is not inside the
// binary's directory dir: overlayfs refuses layers that overlap (ELOOP), as
// the temporary directory and the binary's would when the binary is in it
// (/tmp/ctrkit).
func emptyLayer(dir string) (string, error) {
	var errs []error
	for _, parent := range []string{os.TempDir(), "/dev/shm", "/run", "/var/tmp"} {
		if real, err := filepath.EvalSymlinks(parent); err == nil {
			parent = real
		}
		if within(dir, parent) {
			errs = append(errs, fmt.Errorf("%s is inside the binary's directory", parent))
			continue
		}
		empty, err := os.MkdirTemp(parent, "ctrkit-exe-")
		if err == nil {
			return empty, nil
		}
		errs = append(errs, err)
	}
	return "", fmt.Errorf("no directory for the overlay view's empty layer: %w", errors.Join(errs...))
}

// within reports whether path is dir or inside it (both clean and absolute,
// dir with or without its trailing slash).
func within(dir, path string) bool {
	dir = strings.TrimSuffix(dir, "/")
	return path == dir || dir == "" || strings.HasPrefix(path, dir+"/")
}

// escapeLayer escapes a path for overlayfs's lowerdir list, which separates
// layers with ':' and escapes with '\'.
func escapeLayer(p string) string {
	return strings.ReplaceAll(strings.ReplaceAll(p, `\`, `\\`), `:`, `\:`)
}

// sealedCopy copies /proc/self/exe into a new memfd and seals it: it can then
// never be written, grown, shrunk or made writable again.
func sealedCopy() (*os.File, error) {
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, err
	}
	defer src.Close()
	fd, err := unix.MemfdCreate("ctrkit-container-init", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_EXEC)
	if err == unix.EINVAL { // kernels before 6.3 do not know MFD_EXEC
		fd, err = unix.MemfdCreate("ctrkit-container-init", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "memfd:ctrkit-container-init")
	if err := copyFile(f, src); err != nil {
		f.Close()
		return nil, fmt.Errorf("copy /proc/self/exe: %w", err)
	}
	if err := f.Chmod(0o555); err != nil {
		f.Close()
		return nil, err
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	_, err = unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals|unix.F_SEAL_EXEC)
	if err == unix.EINVAL { // F_SEAL_EXEC is from 6.3
		_, err = unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("seal memfd: %w", err)
	}
	return f, nil
}

// copyFile copies src into dst with sendfile(2), in the kernel: io.Copy falls
// back to a read and a write per 32 KiB between these two file systems, a few
// hundred system calls for a Go binary.
func copyFile(dst, src *os.File) error {
	fi, err := src.Stat()
	if err != nil {
		return err
	}
	for left := fi.Size(); left > 0; {
		n, err := unix.Sendfile(int(dst.Fd()), int(src.Fd()), nil, int(min(left, 1<<30)))
		if err != nil {
			return err
		}
		if n == 0 {
			return io.ErrUnexpectedEOF
		}
		left -= int64(n)
	}
	return nil
}

// initPath returns the path Start execs as the init: the unwritable view of
// this binary (sealedSelf), through a close-on-exec duplicate of this
// process's descriptor of it, numbered fd, which the child still has when it
// calls execve; release closes the duplicate once the child has exec'd.
//
// The duplicate's number must survive what syscall.forkExec does in the
// child before execve: it moves the child's files to 0 to min-1 (min: stdio,
// the sync channel, ExtraFiles), first moving each one that a lower slot
// would overwrite up to a free slot just above the highest descriptor among
// them. So fd is the lowest free descriptor at min or above (no slot below
// min is a target), and Start passes the sync channel as a descriptor above
// fd (syncAbove): the highest of the child's files is then above fd, and so
// is every slot forkExec moves one to. Low numbers on purpose: a descriptor
// at 64 or above (as an earlier "above every open descriptor" rule made in a
// process holding one high descriptor) makes the kernel grow the process's
// descriptor table, and for a process with threads that waits for an RCU
// grace period (expand_fdtable: synchronize_rcu), 5-20 ms of wall time on
// this machine (bench/PROFILE.md, parts 7 and 8).
func initPath(min int) (path string, fd int, release func(), err error) {
	f, err := sealedSelf()
	if err != nil {
		return "", 0, nil, fmt.Errorf("container: unwritable view of the binary: %w", err)
	}
	fd, err = unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, min)
	if err != nil {
		return "", 0, nil, fmt.Errorf("container: duplicate the view of the binary: %w", err)
	}
	return "/proc/self/fd/" + strconv.Itoa(fd), fd, func() { unix.Close(fd) }, nil
}

// syncAbove moves descriptor fd (the child's end of the sync channel) to the
// lowest free number above exeFD, closing fd: see initPath.
func syncAbove(fd, exeFD int) (int, error) {
	moved, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, exeFD+1)
	unix.Close(fd)
	if err != nil {
		return -1, fmt.Errorf("container: move the sync channel above the init's binary: %w", err)
	}
	return moved, nil
}

// makeUndumpable is the init's first step: see the comment at the top.
func makeUndumpable() error {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return &SetupError{Op: "prctl PR_SET_DUMPABLE", Err: err}
	}
	return nil
}
