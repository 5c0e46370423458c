package container

// Capabilities, no_new_privs and seccomp: the init's last steps, on the thread
// that calls execve.
//
// How capabilities are set. libcap's cap package writes capability state with
// its psx mechanism on every thread of the process: with cgo through libpsx
// (signals to every thread), without cgo through syscall.AllThreadsSyscall. Both
// work, but they add a process-wide rendezvous to every start and, with
// cgo, a signal handler in the init. The init needs the state on exactly one
// thread — the locked one that calls execve, which ends every other thread — so
// it writes it with plain per-thread system calls (capset(2), prctl(2)) from
// that thread. What it reads, the caller's bounding set (which Start checks
// before it clones anything) and how many capabilities the kernel knows, come
// from prctl(PR_CAPBSET_READ) too: no capability library, whose psx package
// would make every importing program a cgo program.

import (
	"fmt"
	"math/bits"

	"golang.org/x/sys/unix"
)

// checkHostCaps fails when a capability of the container's bounding set is
// missing from this process's own bounding set.
func checkHostCaps(s *securityInit) error {
	var missing capMask
	for b := capMask(s.Bounding); b != 0; b &= b - 1 {
		if !inBoundingSet(bits.TrailingZeros64(uint64(b))) {
			missing |= b & -b
		}
	}
	if missing != 0 {
		return fmt.Errorf("container: capabilities %v: %w (drop them with WithCapDrop)", missing, ErrCapabilityUnavailable)
	}
	return nil
}

// inBoundingSet reports whether capability v is in this thread's bounding
// set; false too for a capability the kernel does not know (EINVAL).
func inBoundingSet(v int) bool {
	ok, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(v), 0, 0, 0)
	return err == nil && ok == 1
}

// keepCaps keeps the permitted capabilities of this thread across setuid to a
// user other than root (PR_SET_KEEPCAPS; execve clears it again), so that
// lockDown can still set the container's capabilities after setUser.
func keepCaps() error {
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return &SetupError{Op: "prctl PR_SET_KEEPCAPS", Err: err}
	}
	return nil
}

// lockDown runs last before execve, on the thread that calls it:
// capabilities, then no_new_privs, then seccomp. Without no_new_privs
// (WithNewPrivileges) the kernel only lets a process holding CAP_SYS_ADMIN load
// a filter, so the filter goes first.
func lockDown(cfg *initConfig) error {
	s := &cfg.Security
	// setuid to a user other than root emptied the effective set (keepCaps kept
	// the permitted one): the steps below need CAP_SETPCAP, and CAP_SYS_ADMIN
	// to load a filter without no_new_privs.
	if err := raiseEffective(); err != nil {
		return err
	}
	if !s.NoNewPrivs && len(s.Seccomp) > 0 {
		if err := itrace.step(stepSeccomp, loadSeccomp(s.Seccomp)); err != nil {
			return err
		}
	}
	if err := itrace.step(stepCapabilities, setCapabilities(s)); err != nil {
		return err
	}
	if !s.NoNewPrivs {
		return nil
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return &SetupError{Op: "prctl PR_SET_NO_NEW_PRIVS", Err: err}
	}
	if len(s.Seccomp) > 0 {
		return itrace.step(stepSeccomp, loadSeccomp(s.Seccomp))
	}
	return nil
}

// capget returns this thread's capability sets (version 3: two words each).
func capget() (unix.CapUserHeader, [2]unix.CapUserData, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	err := unix.Capget(&hdr, &data[0])
	return hdr, data, err
}

// raiseEffective makes this thread's permitted capabilities effective.
func raiseEffective() error {
	hdr, data, err := capget()
	if err != nil {
		return &SetupError{Op: "capget", Err: err}
	}
	data[0].Effective, data[1].Effective = data[0].Permitted, data[1].Permitted
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return &SetupError{Op: "capset", Path: "effective", Err: err}
	}
	return nil
}

// setCapabilities sets this thread's capability sets: the bounding set, then
// permitted, effective and inheritable, then ambient.
func setCapabilities(s *securityInit) error {
	// Every capability the kernel knows but the kept ones: it answers EINVAL
	// past its last (/proc/sys/kernel/cap_last_cap).
	for v := 0; v < 64; v++ {
		if s.Bounding&(1<<v) != 0 {
			continue
		}
		err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(v), 0, 0, 0)
		if err == unix.EINVAL {
			break
		}
		if err != nil {
			return &SetupError{Op: "prctl PR_CAPBSET_DROP", Path: capMask(1 << v).String(), Err: err}
		}
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{
		{Effective: uint32(s.Permitted), Permitted: uint32(s.Permitted), Inheritable: uint32(s.Ambient)},
		{Effective: uint32(s.Permitted >> 32), Permitted: uint32(s.Permitted >> 32), Inheritable: uint32(s.Ambient >> 32)},
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return &SetupError{Op: "capset", Path: capMask(s.Permitted).String(), Err: err}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return &SetupError{Op: "prctl PR_CAP_AMBIENT_CLEAR_ALL", Err: err}
	}
	for b := s.Ambient; b != 0; b &= b - 1 {
		v := bits.TrailingZeros64(b)
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(v), 0, 0); err != nil {
			return &SetupError{Op: "prctl PR_CAP_AMBIENT_RAISE", Path: capMask(1 << v).String(), Err: err}
		}
	}
	return nil
}
