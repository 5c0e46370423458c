package container

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The kernel side of WithLandlock (landlock.go plans it). The three system
// calls are made here with golang.org/x/sys/unix: go-landlock's own
// landlock/syscall package imports libcap's psx, which makes every program
// that links it a cgo program (README, Dependencies). The ruleset restricts
// only the init's locked thread, the one that calls execve, which is all the
// command inherits.

// llRuleNetPort is LANDLOCK_RULE_NET_PORT, which x/sys/unix lacks.
const llRuleNetPort = 2

// llNetPortAttr is struct landlock_net_port_attr.
type llNetPortAttr struct {
	AllowedAccess uint64
	Port          uint64
}

// landlockABI is kernelLandlockABI; a test makes the kernel look older.
var landlockABI = kernelLandlockABI

// kernelLandlockABI returns the kernel's Landlock ABI version, 0 when the
// kernel was built without Landlock (ENOSYS) or booted without it
// (EOPNOTSUPP).
func kernelLandlockABI() (int, error) {
	v, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	switch errno {
	case 0:
		return int(v), nil
	case unix.ENOSYS, unix.EOPNOTSUPP:
		return 0, nil
	}
	return 0, fmt.Errorf("container: WithLandlock: landlock_create_ruleset LANDLOCK_CREATE_RULESET_VERSION: %w", errno)
}

// planLandlock is Start's part: it reads the kernel's ABI and puts the
// ruleset for it in the init's configuration, or fails when the kernel cannot
// enforce it and best effort was not asked for.
func (c *Container) planLandlock(icfg *initConfig) error {
	l := &c.cfg.landlock
	if !l.on {
		return nil
	}
	abi, err := landlockABI()
	if err != nil {
		return err
	}
	icfg.Landlock, l.status, err = l.plan(abi)
	return err
}

// landlockRuleset is the init's ruleset descriptor between buildLandlock and
// restrictLandlock; 0 when there is none (0 is stdin, never a ruleset).
var landlockRuleset int

// buildLandlock is the init's first step: after pivot_root, while the init
// still has its privileges, it creates the ruleset and adds a rule for each
// path, opened in the container's root, and each port.
func buildLandlock(cfg *initConfig) error {
	l := &cfg.Landlock
	if !l.on() {
		return nil
	}
	attr := unix.LandlockRulesetAttr{Access_fs: l.FS, Access_net: l.Net, Scoped: l.Scoped}
	// A kernel older than a field of the struct takes it whole as long as
	// the fields it does not know are zero, which the plan ensures.
	r, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr), 0)
	if errno != 0 {
		return &SetupError{Op: "landlock_create_ruleset", Err: errno}
	}
	fd := int(r) // close-on-exec
	if err := addLandlockRules(fd, l); err != nil {
		unix.Close(fd)
		return err
	}
	landlockRuleset = fd
	return nil
}

func addLandlockRules(ruleset int, l *landlockInit) error {
	for _, p := range l.Paths {
		fd, err := unix.Open(p.Path, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return &SetupError{Op: "landlock rule", Path: p.Path, Err: err}
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return &SetupError{Op: "landlock rule", Path: p.Path, Err: err}
		}
		access := p.Access
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			access = landlockFileAccess(access)
		}
		if access == 0 { // LandlockIoctl of a regular file: nothing to allow
			unix.Close(fd)
			continue
		}
		attr := unix.LandlockPathBeneathAttr{Allowed_access: access, Parent_fd: int32(fd)}
		_, _, errno := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, uintptr(ruleset), unix.LANDLOCK_RULE_PATH_BENEATH,
			uintptr(unsafe.Pointer(&attr)), 0, 0, 0)
		runtime.KeepAlive(&attr)
		unix.Close(fd)
		if errno != 0 {
			return &SetupError{Op: "landlock_add_rule", Path: p.Path, Err: errno}
		}
	}
	for _, p := range l.Ports {
		attr := llNetPortAttr{AllowedAccess: p.Access, Port: p.Port}
		_, _, errno := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, uintptr(ruleset), llRuleNetPort,
			uintptr(unsafe.Pointer(&attr)), 0, 0, 0)
		runtime.KeepAlive(&attr)
		if errno != 0 {
			return &SetupError{Op: "landlock_add_rule", Path: fmt.Sprintf("TCP port %d", p.Port), Err: errno}
		}
	}
	return nil
}

// restrictLandlock enforces the ruleset on this thread, the one that calls
// execve, right before lockDown. landlock_restrict_self needs no_new_privs or
// CAP_SYS_ADMIN in the thread's user namespace: with no_new_privs coming
// anyway (lockDown sets it, and it changes nothing before execve) it is set
// here; with WithNewPrivileges, the init's permitted capabilities, which the
// user change emptied from the effective set, are raised again.
func restrictLandlock(cfg *initConfig) error {
	fd := landlockRuleset
	if fd == 0 {
		return nil
	}
	defer func() {
		unix.Close(fd)
		landlockRuleset = 0
	}()
	if cfg.Security.NoNewPrivs {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return &SetupError{Op: "prctl PR_SET_NO_NEW_PRIVS", Err: err}
		}
	} else if err := raiseEffective(); err != nil {
		return err
	}
	if _, _, errno := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, uintptr(fd), 0, 0); errno != 0 {
		err := error(errno)
		if errno == unix.E2BIG {
			err = &detailedErrno{detail: "16 nested Landlock domains already", errno: errno}
		}
		return &SetupError{Op: "landlock_restrict_self", Err: err}
	}
	return nil
}
