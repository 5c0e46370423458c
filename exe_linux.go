package container

// Hardening against CVE-2019-5736: a process in the container that could open
// /proc/<init>/exe for writing while the init runs would overwrite the host's
// binary. Two defences:
//
//   - The init is not the host's binary: Start execs a sealed memfd copy of it
//     (made once per process and kept open, close-on-exec), so /proc/<init>/exe
//     is a file that can never be written (F_SEAL_WRITE) and that shares
//     nothing with the host's file system.
//   - The init makes itself non-dumpable first thing (PR_SET_DUMPABLE 0), so
//     that processes without CAP_SYS_PTRACE cannot reach its /proc files at
//     all; execve of the command resets it.
//
// Cost, measured on the 2-core development VM: one copy of the binary per
// process, made on the first Start — about 2 ms for the 4 MB test binary
// (BenchmarkSealedCopy, 2 GB/s), and memory equal to the binary's size, held
// until the process exits. Every later Start execs from it: exec'ing the copy
// and exec'ing /proc/self/exe took the same time within the machine's noise
// (interleaved runs of a Start+Wait benchmark, 30 to 35 ms each), and every
// container's init shares the copy's pages.

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// sealedSelf is the one sealed copy of this process's binary.
var sealedSelf = sync.OnceValues(sealedCopy)

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

// initPath returns the path Start execs as the init: the sealed copy of this
// binary, through this process's descriptor of it (still open in the child
// when it calls execve). The child resolves the path after its descriptors 3
// to min-1 are in place (the sync channel, ExtraFiles), so the copy must
// not be among them: when it is, the path names a close-on-exec duplicate at
// min or above, which release closes once the child has exec'd.
func initPath(min int) (path string, release func(), err error) {
	f, err := sealedSelf()
	if err != nil {
		return "", nil, fmt.Errorf("container: sealed copy of the binary: %w", err)
	}
	if int(f.Fd()) >= min {
		return "/proc/self/fd/" + strconv.Itoa(int(f.Fd())), func() {}, nil
	}
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, min)
	if err != nil {
		return "", nil, fmt.Errorf("container: duplicate the sealed copy of the binary: %w", err)
	}
	return "/proc/self/fd/" + strconv.Itoa(fd), func() { unix.Close(fd) }, nil
}

// makeUndumpable is the init's first step: see the comment at the top.
func makeUndumpable() error {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return &SetupError{Op: "prctl PR_SET_DUMPABLE", Err: err}
	}
	return nil
}
