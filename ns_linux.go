package container

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"unsafe"

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
	if c.detached() {
		attr.Pdeathsig = 0 // WithExecFIFO: the container outlives its creator
	}
	if c.nsPaths[NSPID] != "" {
		// In a joined PID namespace the init cannot see its parent: getppid(2)
		// returns 0, and the runtime's child would take that for its parent's
		// death and kill itself. The init arms the signal itself (armParentDeath).
		attr.Pdeathsig = 0
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

// setHostname sets the hostname and domain name in the container's UTS
// namespace, its own or a joined one (config.hostnameOf decides).
func setHostname(cfg *initConfig) error {
	if cfg.Hostname != "" {
		if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
			return &SetupError{Op: "sethostname", Path: cfg.Hostname, Err: err}
		}
	}
	if cfg.Domainname != "" {
		if err := unix.Setdomainname([]byte(cfg.Domainname)); err != nil {
			return &SetupError{Op: "setdomainname", Path: cfg.Domainname, Err: err}
		}
	}
	return nil
}

// armParentDeath sets the init's parent-death signal again, once its
// credentials are settled (becomeRoot clears it), for the containers that are
// cloned without it (WithNamespacePath(NSPID)). Should the parent die before,
// the init finds the sync channel closed and exits.
func armParentDeath(cfg *initConfig) error {
	if cfg.OCI.Detached {
		return nil
	}
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return &SetupError{Op: "prctl PR_SET_PDEATHSIG", Err: err}
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
	if err := setresgid(0); err != nil {
		return &SetupError{Op: "setgid", Path: "0", Err: err}
	}
	if err := setresuid(0); err != nil {
		return &SetupError{Op: "setuid", Path: "0", Err: err}
	}
	return nil
}

// setresuid and setresgid change the credentials of the calling thread only.
// The init does all its work on its locked main thread, which is the one that
// calls execve (or forks the command, with WithInit), and execve ends the other
// threads; the library's syscall.Setresuid would instead signal every thread
// of the init to change it too, which costs more than the rest of the step.
func setresuid(id uint32) error {
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(id), uintptr(id), uintptr(id)); e != 0 {
		return e
	}
	return nil
}

func setresgid(id uint32) error {
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(id), uintptr(id), uintptr(id)); e != 0 {
		return e
	}
	return nil
}

// setUser switches to the container's user: supplementary groups cleared, then
// gid and uid (on the thread that execs), then the parent-death signal armed again,
// because the kernel clears it when the credentials change.
func setUser(cfg *initConfig) error {
	if cfg.SetGroups {
		// WithGroups: setgroups(2) on this thread only, as the other credential
		// changes here (gid_t is 32 bits, as the []uint32).
		var list uintptr
		if len(cfg.OCI.Groups) > 0 {
			list = uintptr(unsafe.Pointer(&cfg.OCI.Groups[0]))
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(cfg.OCI.Groups)), list, 0); e != 0 {
			return &SetupError{Op: "setgroups", Err: e}
		}
	}
	if err := setresgid(cfg.GID); err != nil {
		return &SetupError{Op: "setgid", Path: strconv.Itoa(int(cfg.GID)), Err: err}
	}
	if err := keepCaps(); err != nil {
		return err
	}
	if err := setresuid(cfg.UID); err != nil {
		return &SetupError{Op: "setuid", Path: strconv.Itoa(int(cfg.UID)), Err: err}
	}
	if !cfg.OCI.Detached { // a container that outlives its creator has no parent-death signal
		if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
			return &SetupError{Op: "prctl PR_SET_PDEATHSIG", Err: err}
		}
	}
	// Ambient capabilities kept for the init itself (see sysProcAttr) must not reach the command.
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return &SetupError{Op: "prctl PR_CAP_AMBIENT_CLEAR_ALL", Err: err}
	}
	return nil
}

// The joined namespaces (WithNamespacePath), in the order they are
// entered. The mount namespace goes last: entering it changes the thread's
// root and working directory. All are opened before any is entered.
var joinOrder = []struct {
	ns   Namespace
	flag int
}{
	{NSCgroup, unix.CLONE_NEWCGROUP}, {NSIPC, unix.CLONE_NEWIPC}, {NSUTS, unix.CLONE_NEWUTS},
	{NSNet, unix.CLONE_NEWNET}, {NSPID, unix.CLONE_NEWPID}, {NSMount, unix.CLONE_NEWNS},
}

// joinNamespaces runs before the clone: it starts the thread the init is
// cloned from when the container joins existing namespaces. The thread lives
// until Wait (or a failed Start) releases it.
func (r *running) joinNamespaces(c *config, rel *releaser) error {
	if c.joined() == 0 {
		return nil
	}
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	var fds []nsFD
	for _, e := range joinOrder {
		path := c.nsPaths[e.ns]
		if e.ns == NSNet {
			path = c.net.nsPath
		}
		if path == "" {
			continue
		}
		f, err := openNamespace(e.ns, e.flag, path)
		if err != nil {
			return err
		}
		files = append(files, f)
		fds = append(fds, nsFD{ns: e.ns, flag: e.flag, fd: int(f.Fd()), path: path})
	}
	t, err := enterNSThread(fds)
	if err != nil {
		return err
	}
	r.joinThread = t
	rel.add(r.releaseNamespaces)
	return nil
}

// releaseNamespaces ends the thread of joinNamespaces, once the init it
// cloned is gone (or was never started).
func (r *running) releaseNamespaces() {
	if r.joinThread != nil {
		r.joinThread.stop()
	}
}

// openNamespace opens the namespace file at path and checks that it is a
// namespace of kind ns. A mount namespace must not be the caller's own, nor
// that of pid 1: the init's mounts and pivot_root would change the host's.
func openNamespace(ns Namespace, flag int, path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("container: %v namespace: %w", ns, err)
	}
	typ, err := unix.IoctlRetInt(int(f.Fd()), unix.NS_GET_NSTYPE)
	if err == nil && typ != flag {
		err = &detailedErrno{detail: "not a " + ns.String() + " namespace", errno: unix.EINVAL}
	}
	if err == nil && ns == NSMount {
		for _, own := range []string{"/proc/thread-self/ns/mnt", "/proc/1/ns/mnt"} {
			if same, _ := sameFile(path, own); same {
				err = &detailedErrno{detail: "the mount namespace of " + own + ": the container's mounts and pivot_root would change it", errno: unix.EINVAL}
				break
			}
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("container: %v namespace %s: %w", ns, path, err)
	}
	return f, nil
}

type nsFD struct {
	ns   Namespace
	flag int
	fd   int
	path string
}

// nsThread is a goroutine locked for good to an OS thread that has entered
// existing namespaces. Inits cloned from it start in them. It ends (and the
// runtime ends its thread, which never runs anything else, as it may no longer
// share the process's namespaces, root or working directory) once the
// container it cloned has been reaped: the thread is the init's parent for
// its parent-death signal.
type nsThread struct {
	work chan func()
	quit chan struct{}
	once sync.Once
}

// enterNSThread starts an nsThread in the namespaces of fds, which the caller
// keeps open until it returns.
func enterNSThread(fds []nsFD) (*nsThread, error) {
	t := &nsThread{work: make(chan func()), quit: make(chan struct{})}
	errc := make(chan error, 1)
	onOwnThread(func() {
		for _, n := range fds {
			if n.ns == NSMount {
				// setns(2) refuses a mount namespace to a thread that shares
				// its file system attributes (root, cwd) with others.
				if err := unix.Unshare(unix.CLONE_FS); err != nil {
					errc <- fmt.Errorf("container: unshare(CLONE_FS) to enter mount namespace %s: %w", n.path, err)
					return
				}
			}
			if err := unix.Setns(n.fd, n.flag); err != nil {
				errc <- fmt.Errorf("container: enter %v namespace %s: %w", n.ns, n.path, err)
				return
			}
		}
		errc <- nil
		for {
			select {
			case fn := <-t.work:
				fn()
			case <-t.quit:
				return
			}
		}
	})
	if err := <-errc; err != nil {
		return nil, err
	}
	return t, nil
}

// onOwnThread runs f on a new goroutine locked to an OS thread that is not
// the process's main thread, and never unlocks it: when f returns the runtime
// ends the thread, and with it whatever f changed (namespaces, root, working
// directory). On the main thread, which the runtime keeps instead (and
// whose namespaces /proc/self shows), f would leave its changes behind for
// good: a goroutine that finds itself there holds it while f starts elsewhere.
func onOwnThread(f func()) {
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() != unix.Getpid() {
			f()
			return
		}
		started := make(chan struct{})
		go func() {
			runtime.LockOSThread() // not on the main thread: it is locked to the goroutine below
			close(started)
			f()
		}()
		<-started
		runtime.UnlockOSThread()
	}()
}

func (t *nsThread) run(f func()) {
	done := make(chan struct{})
	t.work <- func() {
		defer close(done)
		f()
	}
	<-done
}

func (t *nsThread) stop() { t.once.Do(func() { close(t.quit) }) }

// onCloneThread runs f, the clone of the init, on the thread it must be
// cloned from: the one that has entered the joined namespaces, or else one of
// the process's fork threads.
func (r *running) onCloneThread(f func()) {
	if r.joinThread != nil {
		r.joinThread.run(f)
		return
	}
	onForkThread(f)
}
