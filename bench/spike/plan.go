//go:build linux && amd64

package main

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The parent side of the plan: the default container's init sequence (the
// library's initContainer for a container made with no options, as root, on
// this host) turned into a list of raw system calls, every string and struct
// they use allocated here, before the clone. Each step carries the op and path
// the library's SetupError would name, so the parent can rebuild the error.

// program is a plan under construction.
type program struct {
	steps []step
	names []stepName
	keep  [][]byte     // every buffer a step points to, alive until the child is gone
	fds   map[int]bool // the child's open descriptors above childFD, as planned
	phase string       // the part of the sequence steps are appended to, for -profile
	bufs  []unsafe.Pointer
}

type stepName struct{ op, path, phase string }

// StepError is the child's failure, rebuilt by the parent: the step's
// operation, the path inside the container, and the errno.
type StepError struct {
	Step int
	Op   string
	Path string
	Err  syscall.Errno
}

func (e *StepError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("spike: container init step %d: %s: %v", e.Step, e.Op, e.Err)
	}
	return fmt.Sprintf("spike: container init step %d: %s %s: %v", e.Step, e.Op, e.Path, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

// cstr returns a NUL-terminated copy of s, kept alive by the program.
func (p *program) cstr(s string) uintptr {
	b := append([]byte(s), 0)
	p.keep = append(p.keep, b)
	return uintptr(unsafe.Pointer(&b[0]))
}

// buf keeps b alive and returns its address.
func (p *program) buf(b []byte) uintptr {
	p.keep = append(p.keep, b)
	return uintptr(unsafe.Pointer(&b[0]))
}

// ptr keeps a pointer-holding value alive (struct open_how, mount_attr...).
func (p *program) ptr(v unsafe.Pointer) uintptr {
	p.bufs = append(p.bufs, v)
	return uintptr(v)
}

// sys appends a system call step whose result may be anything.
func (p *program) sys(op, path string, trap uintptr, a ...uintptr) *step {
	s := step{trap: trap, kind: opSys, want: -1}
	copy(s.a[:], a)
	p.steps = append(p.steps, s)
	p.names = append(p.names, stepName{op, path, p.phase})
	return &p.steps[len(p.steps)-1]
}

// lowestFree is the number the kernel gives the child's next descriptor.
func (p *program) lowestFree() int {
	fd := childFD + 1
	for p.fds[fd] {
		fd++
	}
	return fd
}

// open appends a step that returns a descriptor, which must be the number
// planned, and returns that number.
func (p *program) open(op, path string, trap uintptr, a ...uintptr) (int, *step) {
	fd := p.lowestFree()
	s := p.sys(op, path, trap, a...)
	s.want = int64(fd)
	p.fds[fd] = true
	return fd, s
}

func (p *program) close(fd int, what string) {
	p.sys("close", what, unix.SYS_CLOSE, uintptr(fd))
	delete(p.fds, fd)
}

// forget marks fd closed without a step (a skipped branch's close).
func (p *program) forget(fd int) { delete(p.fds, fd) }

func fdPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

const (
	resolveStrict = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS
	atFDCWD       = ^uintptr(-unix.AT_FDCWD - 1) // AT_FDCWD (-100) as a system call argument
)

// lookup opens dest inside the rootfs (fd root) as an O_PATH handle, with
// openat2 RESOLVE_IN_ROOT and no symlinks (the library's Strict entries).
func (p *program) lookup(root int, dest string) (int, *step) {
	how := &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: resolveStrict}
	return p.open("openat2", dest, unix.SYS_OPENAT2, uintptr(root), p.cstr(dest), p.ptr(unsafe.Pointer(how)), unsafe.Sizeof(*how))
}

func (p *program) mount(op, dest, src string, target int, fstype string, flags uintptr, data string) {
	var s, f, d uintptr
	if src != "" {
		s = p.cstr(src)
	}
	if fstype != "" {
		f = p.cstr(fstype)
	}
	if data != "" {
		d = p.cstr(data)
	}
	p.sys(op, dest, unix.SYS_MOUNT, s, p.cstr(fdPath(target)), f, flags, d)
}

func (p *program) setattr(op, dest string, fd int, flags uintptr, set, clr uint64) {
	attr := &unix.MountAttr{Attr_set: set, Attr_clr: clr}
	p.sys(op, dest, unix.SYS_MOUNT_SETATTR, uintptr(fd), p.cstr(""), flags, p.ptr(unsafe.Pointer(attr)), unsafe.Sizeof(*attr))
}

// check appends an opCheck: fd must be of type typ (and device rdev when not
// 0); on a mismatch the next skip steps are skipped, or with skip 0 the step
// fails with EINVAL.
func (p *program) check(op, path string, fd int, typ uint32, rdev uint64, skip int) {
	p.steps = append(p.steps, step{kind: opCheck, a: [6]uintptr{uintptr(fd), uintptr(typ), uintptr(rdev)}, want: -1, skip: int32(skip)})
	p.names = append(p.names, stepName{op, path, p.phase})
}

func (p *program) jump(n int) {
	p.steps = append(p.steps, step{kind: opJump, want: -1, skip: int32(n)})
	p.names = append(p.names, stepName{"jump", "", p.phase})
}

// skipTo makes steps[at] skip, on its skipErr or mismatch, to just before
// the step that will come next (len(p.steps)), i.e. over everything appended
// since at.
func (p *program) skipTo(at int) { p.steps[at].skip = int32(len(p.steps) - 1 - at) }

// spec is what varies between containers of the spike: the rest is the
// library's default.
type spec struct {
	rootfs   string
	args     []string
	env      []string
	hostname string
	stdio    [3]int // the parent's descriptors for the child's 0, 1, 2; -1: leave the child's
	errFD    int    // the error pipe's write end
	v2Root   bool   // the host's /sys/fs/cgroup is cgroup2 (else the hybrid view: tmpfs + unified)
	capLast  int    // /proc/sys/kernel/cap_last_cap
	umask    int    // the parent's umask, restored after the device nodes
	vm       bool   // -vm: the child has no runtime hook, the plan resets its signals
}

// Docker's 14 default capabilities (the library's defaultCaps).
const defaultCaps = 1<<unix.CAP_CHOWN | 1<<unix.CAP_DAC_OVERRIDE | 1<<unix.CAP_FOWNER | 1<<unix.CAP_FSETID |
	1<<unix.CAP_KILL | 1<<unix.CAP_SETGID | 1<<unix.CAP_SETUID | 1<<unix.CAP_SETPCAP |
	1<<unix.CAP_NET_BIND_SERVICE | 1<<unix.CAP_NET_RAW | 1<<unix.CAP_SYS_CHROOT | 1<<unix.CAP_MKNOD |
	1<<unix.CAP_AUDIT_WRITE | 1<<unix.CAP_SETFCAP

var (
	// The library's maskedPaths and readonlyPaths (Docker's and runc's).
	maskedPaths = []string{
		"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
		"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
	}
	readonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
	devices       = []struct {
		name         string
		major, minor uint32
	}{{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}}
)

// plan builds the child's program for one container.
func plan(sp *spec) (*childPlan, *program, error) {
	p := &program{fds: map[int]bool{}}
	cp := &childPlan{errFD: uintptr(sp.errFD), dupped: -1}

	if sp.vm {
		p.phase = "signals (-vm)"
		sigSteps(p, cp)
	}
	p.phase = "descriptors"
	// Descriptors: the caller's standard streams, the error pipe at
	// childFD, nothing else (the library's closeInherited).
	for i, fd := range sp.stdio {
		if fd >= 0 && fd != i {
			p.sys("dup3", "stdio", unix.SYS_DUP3, uintptr(fd), uintptr(i), 0)
		}
	}
	if sp.errFD != childFD {
		p.sys("dup3", "error pipe", unix.SYS_DUP3, uintptr(sp.errFD), childFD, unix.O_CLOEXEC)
	}
	cp.dupped = len(p.steps) - 1
	p.sys("close_range", "inherited descriptors", unix.SYS_CLOSE_RANGE, childFD+1, uintptr(^uint32(0)), 0)

	p.phase = "prctl, cgroup namespace"
	// makeUndumpable, armParentDeath, unshareCgroupNS (the parent cloned
	// the child into its cgroup: CLONE_INTO_CGROUP).
	p.sys("prctl PR_SET_DUMPABLE", "", unix.SYS_PRCTL, unix.PR_SET_DUMPABLE, 0)
	p.sys("prctl PR_SET_PDEATHSIG", "", unix.SYS_PRCTL, unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL))
	p.sys("unshare", "cgroup namespace", unix.SYS_UNSHARE, unix.CLONE_NEWCGROUP)

	p.phase = "propagation, rootfs bind, /proc"
	// setupRootfs: propagation, the rootfs bound onto itself, its handle.
	p.sys("set propagation rprivate on", "/", unix.SYS_MOUNT, p.cstr(""), p.cstr("/"), 0, unix.MS_REC|unix.MS_PRIVATE, 0)
	p.sys("bind rootfs on", sp.rootfs, unix.SYS_MOUNT, p.cstr(sp.rootfs), p.cstr(sp.rootfs), 0, unix.MS_BIND|unix.MS_REC, 0)
	root, _ := p.open("open rootfs", sp.rootfs, unix.SYS_OPENAT, atFDCWD, p.cstr(sp.rootfs), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC)

	// A new file system on a top-level directory of the rootfs: mkdirat
	// (EEXIST is fine: a symlink there is then refused by the strict lookup),
	// the strict lookup, the mount onto /proc/self/fd/N.
	fsTop := func(dest, fstype, src string, flags uintptr, data string) {
		s := p.sys("mkdir", dest, unix.SYS_MKDIRAT, uintptr(root), p.cstr(strings.TrimPrefix(dest, "/")), 0o755)
		s.skipErr = unix.EEXIST
		fs(p, root, dest, fstype, src, flags, data)
	}
	fsTop("/proc", "proc", "proc", unix.MS_NOSUID|unix.MS_NOEXEC|unix.MS_NODEV, "")
	p.phase = "/dev: tmpfs, 6 nodes, pts, shm, mqueue"
	fsTop("/dev", "tmpfs", "tmpfs", unix.MS_NOSUID|unix.MS_STRICTATIME, "mode=755,size=65536k")
	devMounts := populateDev(p, root, sp.umask)
	fs(p, root, "/dev/pts", "devpts", "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5")
	devMounts = append(devMounts, "/dev/pts")
	fs(p, root, "/dev/shm", "tmpfs", "shm", unix.MS_NOSUID|unix.MS_NOEXEC|unix.MS_NODEV, "mode=1777,size=65536k")
	fs(p, root, "/dev/mqueue", "mqueue", "mqueue", unix.MS_NOSUID|unix.MS_NOEXEC|unix.MS_NODEV, "")
	p.phase = "/sys, cgroup view, /etc files"
	fsTop("/sys", "sysfs", "sysfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NOEXEC|unix.MS_NODEV, "")
	cgroupView(p, root, sp.v2Root)
	for _, f := range []struct{ dest, data string }{
		{"/etc/hostname", sp.hostname + "\n"},
		{"/etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t" + sp.hostname + "\n"},
	} {
		generated(p, root, f.dest, f.data)
	}

	p.phase = "masks, read-only paths"
	// Masks: an empty read-only tmpfs over a directory, the host's
	// /dev/null (checked to be char 1:3) over a file; a path the kernel does
	// not have needs none. The type is the child's fstat, as in the library.
	null, _ := p.open("open", "/dev/null", unix.SYS_OPENAT, atFDCWD, p.cstr("/dev/null"), unix.O_PATH|unix.O_CLOEXEC)
	p.check("mask: /dev/null is not the null device (char 1:3)", "/dev/null", null, unix.S_IFCHR, unix.Mkdev(1, 3), 0)
	for _, m := range maskedPaths {
		t, s := p.lookup(root, m)
		s.skipErr = unix.ENOENT
		at := len(p.steps) - 1
		p.check("mask", m, t, unix.S_IFDIR, 0, 2) // not a directory: to the file's branch
		p.mount("mask", m, "tmpfs", t, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=0,mode=0555")
		p.jump(1)
		p.mount("mask", m, fdPath(null), t, "", unix.MS_BIND, "")
		p.close(t, m)
		p.skipTo(at)
	}
	for _, r := range readonlyPaths {
		t, s := p.lookup(root, r)
		s.skipErr = unix.ENOENT
		at := len(p.steps) - 1
		p.mount("make read-only", r, fdPath(t), t, "", unix.MS_BIND|unix.MS_REC, "")
		t2, _ := p.lookup(root, r) // the new mount
		p.setattr("make read-only", r, t2, unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, unix.MOUNT_ATTR_RDONLY, 0)
		p.close(t2, r)
		p.close(t, r)
		p.skipTo(at)
	}

	p.phase = "device fence"
	// The device fence: nodev on every mount, cleared on the devices'.
	p.setattr("set nodev on", "/", root, unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, unix.MOUNT_ATTR_NODEV, 0)
	for _, d := range devMounts {
		t, _ := p.lookup(root, d)
		p.setattr("allow devices on", d, t, unix.AT_EMPTY_PATH, 0, unix.MOUNT_ATTR_NODEV)
		p.close(t, d)
	}
	for _, m := range maskedPaths { // the masks that are /dev/null
		t, s := p.lookup(root, m)
		s.skipErr = unix.ENOENT
		at := len(p.steps) - 1
		p.check("allow devices on", m, t, unix.S_IFCHR, unix.Mkdev(1, 3), 1)
		p.setattr("allow devices on", m, t, unix.AT_EMPTY_PATH, 0, unix.MOUNT_ATTR_NODEV)
		p.close(t, m)
		p.skipTo(at)
	}
	p.close(null, "/dev/null")
	p.close(root, "rootfs")

	p.phase = "pivot_root"
	// pivotRoot.
	oldRoot, _ := p.open("open old root", "/", unix.SYS_OPENAT, atFDCWD, p.cstr("/"), unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC)
	newRoot, _ := p.open("open rootfs", sp.rootfs, unix.SYS_OPENAT, atFDCWD, p.cstr(sp.rootfs), unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC)
	p.sys("chdir", sp.rootfs, unix.SYS_FCHDIR, uintptr(newRoot))
	p.sys("pivot_root", sp.rootfs, unix.SYS_PIVOT_ROOT, p.cstr("."), p.cstr("."))
	p.sys("chdir", "old root", unix.SYS_FCHDIR, uintptr(oldRoot))
	p.sys("unmount old root", "", unix.SYS_UMOUNT2, p.cstr("."), unix.MNT_DETACH)
	p.sys("chdir", "/", unix.SYS_CHDIR, p.cstr("/"))
	p.close(newRoot, "rootfs")
	p.close(oldRoot, "old root")

	p.phase = "hostname, lo up"
	// setHostname, setupNetworkInside (lo up), the working directory.
	p.sys("sethostname", sp.hostname, unix.SYS_SETHOSTNAME, p.cstr(sp.hostname), uintptr(len(sp.hostname)))
	sock, _ := p.open("socket for", "lo", unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	ifr := make([]byte, unix.IFNAMSIZ+24) // struct ifreq: name, then the flags (short) in the union
	copy(ifr, "lo")
	ifrp := p.buf(ifr)
	p.sys("get flags of", "lo", unix.SYS_IOCTL, uintptr(sock), unix.SIOCGIFFLAGS, ifrp)
	p.steps = append(p.steps, step{kind: opOr16, ptr: unsafe.Pointer(&ifr[unix.IFNAMSIZ]), a: [6]uintptr{unix.IFF_UP}, want: -1})
	p.names = append(p.names, stepName{"set IFF_UP", "lo", p.phase})
	p.sys("bring up", "lo", unix.SYS_IOCTL, uintptr(sock), unix.SIOCSIFFLAGS, ifrp)
	p.close(sock, "lo socket")
	p.sys("chdir", "/", unix.SYS_CHDIR, p.cstr("/"))

	p.phase = "user, capabilities, no_new_privs"
	// setUser (root: uid and gid 0, parent-death signal again, no ambient).
	p.sys("setgid", "0", unix.SYS_SETRESGID, 0, 0, 0)
	p.sys("prctl PR_SET_KEEPCAPS", "", unix.SYS_PRCTL, unix.PR_SET_KEEPCAPS, 1)
	p.sys("setuid", "0", unix.SYS_SETRESUID, 0, 0, 0)
	p.sys("prctl PR_SET_PDEATHSIG", "", unix.SYS_PRCTL, unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL))
	p.sys("prctl PR_CAP_AMBIENT_CLEAR_ALL", "", unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)

	// lockDown: raise effective (capget, capset), bounding set, capset,
	// ambient, no_new_privs, seccomp.
	hdr := &unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	cur := make([]byte, 24) // [2]struct __user_cap_data_struct
	p.sys("capget", "", unix.SYS_CAPGET, p.ptr(unsafe.Pointer(hdr)), p.buf(cur))
	// raiseEffective: effective = permitted, from the child's own capget.
	for i := 0; i < 2; i++ {
		p.steps = append(p.steps, step{kind: opCopy32, ptr: unsafe.Pointer(&cur[12*i]), ptr2: unsafe.Pointer(&cur[12*i+4]), want: -1})
		p.names = append(p.names, stepName{"effective = permitted", "", p.phase})
	}
	p.sys("capset", "effective", unix.SYS_CAPSET, p.ptr(unsafe.Pointer(hdr)), p.buf(cur))
	for v := 0; v <= sp.capLast; v++ {
		if defaultCaps&(1<<v) != 0 {
			continue
		}
		p.sys("prctl PR_CAPBSET_DROP", "cap "+strconv.Itoa(v), unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(v))
	}
	data := make([]byte, 24)
	binary.NativeEndian.PutUint32(data[0:], uint32(defaultCaps)) // effective
	binary.NativeEndian.PutUint32(data[4:], uint32(defaultCaps)) // permitted
	binary.NativeEndian.PutUint32(data[12:], defaultCaps>>32)    // effective, high word
	binary.NativeEndian.PutUint32(data[16:], defaultCaps>>32)    // permitted, high word
	p.sys("capset", "default", unix.SYS_CAPSET, p.ptr(unsafe.Pointer(hdr)), p.buf(data))
	p.sys("prctl PR_CAP_AMBIENT_CLEAR_ALL", "", unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
	p.sys("prctl PR_SET_NO_NEW_PRIVS", "", unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
	p.phase = "seccomp"
	prog := []byte(defaultProgram)
	if len(prog) == 0 || len(prog)%8 != 0 {
		return nil, nil, fmt.Errorf("spike: malformed default seccomp program of %d bytes", len(prog))
	}
	fprog := &unix.SockFprog{Len: uint16(len(prog) / 8), Filter: (*unix.SockFilter)(unsafe.Pointer(&prog[0]))}
	p.keep = append(p.keep, prog)
	s := p.sys("seccomp", "SECCOMP_SET_MODE_FILTER", unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_TSYNC|unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH, p.ptr(unsafe.Pointer(fprog)))
	s.want = 0

	p.phase = "close_range"
	// closeExtraFDs: close-on-exec from childFD on (they all are), execve.
	p.sys("close_range", "", unix.SYS_CLOSE_RANGE, childFD, uintptr(^uint32(0)), unix.CLOSE_RANGE_CLOEXEC)
	argv := make([]uintptr, len(sp.args)+1)
	for i, a := range sp.args {
		argv[i] = p.cstr(a)
	}
	envv := make([]uintptr, len(sp.env)+1)
	for i, e := range sp.env {
		envv[i] = p.cstr(e)
	}
	p.bufs = append(p.bufs, unsafe.Pointer(&argv[0]), unsafe.Pointer(&envv[0]))
	p.sys("exec", sp.args[0], unix.SYS_EXECVE, p.cstr(sp.args[0]), uintptr(unsafe.Pointer(&argv[0])), uintptr(unsafe.Pointer(&envv[0])))

	cp.steps = p.steps
	return cp, p, nil
}

// fs mounts a new file system instance on dest, which must exist.
func fs(p *program, root int, dest, fstype, src string, flags uintptr, data string) {
	t, _ := p.lookup(root, dest)
	p.mount("mount "+fstype+" on", dest, src, t, fstype, flags, data)
	p.close(t, dest)
}

// populateDev is the library's populateDev as real root: the directories, a
// node per standard device made with mknodat and bound onto itself, the
// symlinks. It returns the device mounts, which the fence leaves without nodev.
func populateDev(p *program, root, umask int) []string {
	dev, _ := p.lookup(root, "/dev")
	for _, d := range []string{"pts", "shm", "mqueue"} {
		p.sys("mkdir", "/dev/"+d, unix.SYS_MKDIRAT, uintptr(dev), p.cstr(d), 0o755)
	}
	p.sys("umask", "0", unix.SYS_UMASK, 0)
	var mounts []string
	for _, d := range devices {
		path := "/dev/" + d.name
		p.sys("mknod", path, unix.SYS_MKNODAT, uintptr(dev), p.cstr(d.name), unix.S_IFCHR|0o666, uintptr(unix.Mkdev(d.major, d.minor)))
		t, _ := p.lookup(root, path)
		p.mount("bind onto itself", path, fdPath(t), t, "", unix.MS_BIND, "")
		p.close(t, path)
		mounts = append(mounts, path)
	}
	for _, l := range [][2]string{
		{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
		{"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"},
	} {
		p.sys("symlink", "/dev/"+l[1], unix.SYS_SYMLINKAT, p.cstr(l[0]), uintptr(dev), p.cstr(l[1]))
	}
	p.sys("umask", strconv.Itoa(umask), unix.SYS_UMASK, uintptr(umask))
	p.close(dev, "/dev")
	return mounts
}

// cgroupView is the library's read-only view of the container's own cgroup
// at /sys/fs/cgroup, in its cgroup namespace: cgroup2 there on a v2 host; on
// a hybrid one a tmpfs holding the unified hierarchy (the view of a container
// whose cgroup is the view's alone).
func cgroupView(p *program, root int, v2 bool) {
	const fl = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	t, _ := p.lookup(root, "/sys/fs/cgroup")
	if v2 {
		p.mount("mount cgroups on", "/sys/fs/cgroup", "cgroup2", t, "cgroup2", fl|unix.MS_RDONLY, "")
		p.close(t, "/sys/fs/cgroup")
		return
	}
	p.mount("mount cgroups on", "/sys/fs/cgroup", "tmpfs", t, "tmpfs", fl, "size=64k,mode=0755")
	dir, _ := p.lookup(root, "/sys/fs/cgroup") // the tmpfs, now
	p.sys("mount cgroups on", "/sys/fs/cgroup/unified", unix.SYS_MKDIRAT, uintptr(dir), p.cstr("unified"), 0o555)
	sub, _ := p.lookup(root, "/sys/fs/cgroup/unified")
	p.mount("mount cgroups on", "/sys/fs/cgroup/unified", "cgroup2", sub, "cgroup2", fl|unix.MS_RDONLY, "")
	p.close(sub, "/sys/fs/cgroup/unified")
	p.setattr("mount cgroups on", "/sys/fs/cgroup", dir, unix.AT_EMPTY_PATH, unix.MOUNT_ATTR_RDONLY, 0)
	p.close(dir, "/sys/fs/cgroup")
	p.close(t, "/sys/fs/cgroup")
}

// generated binds a file holding data over dest when the rootfs has a
// regular file there: written in the container's /dev tmpfs, bound, unlinked.
func generated(p *program, root int, dest, data string) {
	t, s := p.lookup(root, dest)
	s.skipErr, s.skipErr2 = unix.ENOENT, unix.ELOOP // none there, or a symlink: the rootfs's own stays
	at := len(p.steps) - 1
	p.check("open", dest, t, unix.S_IFREG, 0, 1)
	check := len(p.steps) - 1
	dev, _ := p.lookup(root, "/dev")
	name := ".ctrkit-" + dest[strings.LastIndexByte(dest, '/')+1:]
	f, _ := p.open("create", "/dev/"+name, unix.SYS_OPENAT, uintptr(dev), p.cstr(name), unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	w := p.sys("write", "/dev/"+name, unix.SYS_WRITE, uintptr(f), p.buf([]byte(data)), uintptr(len(data)))
	w.want = int64(len(data))
	p.mount("bind generated file on", dest, fdPath(f), t, "", unix.MS_BIND, "")
	p.close(f, "/dev/"+name)
	p.sys("unlink", "/dev/"+name, unix.SYS_UNLINKAT, uintptr(dev), p.cstr(name), 0)
	p.close(dev, "/dev")
	p.skipTo(check)
	p.close(t, dest)
	p.skipTo(at)
}

// kernelSigaction is struct sigaction as rt_sigaction(2) takes it on amd64.
type kernelSigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

var (
	sigOnce   sync.Once
	sigReset  []int                // the signals whose handler is not SIG_IGN (nor SIGKILL, SIGSTOP)
	sigDfl    = &kernelSigaction{} // SIG_DFL
	sigDflPtr = uintptr(unsafe.Pointer(sigDfl))
)

// sigSteps is what the runtime's AfterForkInChild does, planned: every
// signal the program handles back to SIG_DFL (ignored ones stay ignored
// across execve), then the parent thread's signal mask (every signal is
// blocked from before the clone until here).
func sigSteps(p *program, cp *childPlan) {
	sigOnce.Do(func() {
		for sig := 1; sig <= 64; sig++ {
			if sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP) {
				continue
			}
			var old kernelSigaction
			_, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), 0, uintptr(unsafe.Pointer(&old)), 8, 0, 0)
			if e == 0 && old.handler != 1 { // 1: SIG_IGN
				sigReset = append(sigReset, sig)
			}
		}
	})
	for _, sig := range sigReset {
		p.sys("rt_sigaction SIG_DFL", strconv.Itoa(sig), unix.SYS_RT_SIGACTION, uintptr(sig), sigDflPtr, 0, 8)
	}
	p.sys("rt_sigprocmask", "restore", unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&cp.oldMask)), 0, 8)
}
