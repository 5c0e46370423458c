package container

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// cloneFlags returns the CLONE_NEW* flags for the namespaces the container is
// cloned into. The cgroup namespace is not among them: the init unshares it once
// the parent has placed it in its cgroup, so that its root is that cgroup.
func cloneFlags(ns Namespace) uintptr {
	var f uintptr
	for _, e := range []struct {
		ns   Namespace
		flag uintptr
	}{
		{NSMount, unix.CLONE_NEWNS}, {NSUTS, unix.CLONE_NEWUTS}, {NSIPC, unix.CLONE_NEWIPC},
		{NSPID, unix.CLONE_NEWPID}, {NSNet, unix.CLONE_NEWNET}, {NSUser, unix.CLONE_NEWUSER},
	} {
		if ns&e.ns != 0 {
			f |= e.flag
		}
	}
	return f
}

// sysProcAttr is how the init is cloned: into its namespaces, with its id maps
// written by the parent before it runs, and killed if the thread that created it
// dies (Pdeathsig; the clone happens on a thread that never exits, see onForkThread).
func sysProcAttr(c *config) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{
		Cloneflags: cloneFlags(c.namespaces),
		Pdeathsig:  syscall.SIGKILL,
	}
	if c.namespaces&NSUser != 0 {
		attr.UidMappings = toSysMaps(c.uidMap)
		attr.GidMappings = toSysMaps(c.gidMap)
		attr.GidMappingsEnableSetgroups = false
		// The init is exec'd inside the new user namespace. Unless the caller's uid
		// is the namespace's root, execve would drop every capability the init needs
		// to set the container up: keep them as ambient capabilities until the init
		// drops them before the user's command runs.
		if !mapsRoot(c.uidMap, c.hostUID) {
			attr.AmbientCaps = allCaps()
		}
	}
	return attr
}

func toSysMaps(maps []IDMap) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(maps))
	for i, m := range maps {
		out[i] = syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)}
	}
	return out
}

var allCaps = sync.OnceValue(func() []uintptr {
	last := 40 // CAP_CHECKPOINT_RESTORE, the last one in Linux 6.x
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			last = n
		}
	}
	caps := make([]uintptr, last+1)
	for i := range caps {
		caps[i] = uintptr(i)
	}
	return caps
})

// Pdeathsig is delivered when the *thread* that cloned the child exits, and Go
// retires a thread when a goroutine exits while locked to it. So every clone
// happens on one of a few goroutines that lock their threads for the life of the
// process and never exit.
var forkThreads struct {
	once sync.Once
	work chan func()
}

func onForkThread(f func()) {
	forkThreads.once.Do(func() {
		forkThreads.work = make(chan func())
		n := min(runtime.GOMAXPROCS(0), 4)
		for range n {
			go func() {
				runtime.LockOSThread()
				for fn := range forkThreads.work {
					fn()
				}
			}()
		}
	})
	done := make(chan struct{})
	forkThreads.work <- func() {
		defer close(done)
		f()
	}
	<-done
}

// setHostname sets the hostname and domain name in the container's UTS namespace.
func setHostname(cfg *initConfig) error {
	if cfg.Namespaces&NSUTS == 0 {
		return nil
	}
	if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
		return &SetupError{Op: "sethostname", Path: cfg.Hostname, Err: err}
	}
	if cfg.Domainname != "" {
		if err := unix.Setdomainname([]byte(cfg.Domainname)); err != nil {
			return &SetupError{Op: "setdomainname", Path: cfg.Domainname, Err: err}
		}
	}
	return nil
}

// becomeRoot makes the init the user namespace's root when it was cloned as
// another id (a caller whose own uid is not mapped to 0), so the files and
// directories it creates belong to a mapped owner.
func becomeRoot(cfg *initConfig) error {
	if !cfg.BecomeRoot {
		return nil
	}
	if err := syscall.Setresgid(0, 0, 0); err != nil {
		return &SetupError{Op: "setgid", Path: "0", Err: err}
	}
	if err := syscall.Setresuid(0, 0, 0); err != nil {
		return &SetupError{Op: "setuid", Path: "0", Err: err}
	}
	return nil
}

// setUser switches to the container's user: supplementary groups cleared, then
// gid and uid (on every thread), then the parent-death signal armed again,
// because the kernel clears it when the credentials change.
func setUser(cfg *initConfig) error {
	if cfg.SetGroups {
		if err := syscall.Setgroups(nil); err != nil {
			return &SetupError{Op: "setgroups", Err: err}
		}
	}
	if err := syscall.Setresgid(int(cfg.GID), int(cfg.GID), int(cfg.GID)); err != nil {
		return &SetupError{Op: "setgid", Path: strconv.Itoa(int(cfg.GID)), Err: err}
	}
	if err := keepCaps(); err != nil {
		return err
	}
	if err := syscall.Setresuid(int(cfg.UID), int(cfg.UID), int(cfg.UID)); err != nil {
		return &SetupError{Op: "setuid", Path: strconv.Itoa(int(cfg.UID)), Err: err}
	}
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return &SetupError{Op: "prctl PR_SET_PDEATHSIG", Err: err}
	}
	// Ambient capabilities kept for the init itself (see sysProcAttr) must not reach the command.
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return &SetupError{Op: "prctl PR_CAP_AMBIENT_CLEAR_ALL", Err: err}
	}
	return nil
}
