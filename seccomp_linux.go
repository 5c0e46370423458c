package container

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// loadSeccomp installs the compiled filter (a struct sock_filter array in
// native byte order, built by the parent) with seccomp(2). TSYNC puts every
// thread of the init under the filter, or the call fails; TSYNC_ESRCH makes
// that failure an ESRCH error instead of a thread id. It runs last before
// execve, on the thread that calls it.
func loadSeccomp(prog []byte) error {
	if len(prog) == 0 || len(prog)%8 != 0 || len(prog)/8 > 4096 {
		return &SetupError{Op: "seccomp", Err: fmt.Errorf("malformed filter of %d bytes", len(prog))}
	}
	filter := make([]unix.SockFilter, len(prog)/8)
	for i := range filter {
		b := prog[8*i:]
		filter[i] = unix.SockFilter{
			Code: binary.NativeEndian.Uint16(b[0:]),
			Jt:   b[2],
			Jf:   b[3],
			K:    binary.NativeEndian.Uint32(b[4:]),
		}
	}
	fprog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_TSYNC|unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(filter)
	if errno != 0 {
		return &SetupError{Op: "seccomp", Path: "SECCOMP_SET_MODE_FILTER", Err: errno}
	}
	if r != 0 {
		return &SetupError{Op: "seccomp", Path: fmt.Sprintf("thread %d", r), Err: unix.ESRCH}
	}
	return nil
}
