//go:build linux && amd64

// Command spike is a measured experiment, not part of the library (issue 17,
// point 5): it starts the library's default container without re-executing
// itself. The parent plans the whole init sequence as a list of raw system
// calls (plan.go), clones the child with clone3(CLONE_VM|CLONE_VFORK) into
// the namespaces and its cgroup (CLONE_INTO_CGROUP), and the child only walks
// that list (child.go: no allocation, no lock, nosplit), ending in execve of
// the command, as syscall.forkExec does. A failed step comes back through a
// close-on-exec pipe as (step, errno), which the parent turns into a
// *StepError naming the step. See bench/SPIKE.md for what it skips and the
// numbers.
//
//	spike ROOTFS CMD [ARG...]          one container, stdio attached; exit status of CMD
//	spike -n N ROOTFS CMD [ARG...]     N containers in a loop in this process; prints one
//	                                   JSON object as bench/ctrrun -n does
//
// Run it as root on linux/amd64 (the default seccomp program is amd64's).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

type result struct {
	Variant    string    `json:"variant"`
	NS         []int64   `json:"ns"`
	WallNS     int64     `json:"wall_ns"`
	Workers    int       `json:"workers"`
	Background int       `json:"background"`
	RSSKiB     [3]int64  `json:"rss_kib"`
	GoBytes    [3]uint64 `json:"go_bytes"`
}

func main() {
	n := flag.Int("n", 0, "run `N` containers in this process and print JSON (0: run one, attached)")
	j := flag.Int("j", 1, "start `J` containers at a time, from J goroutines")
	warm := flag.Int("warm", 1, "untimed containers before the timed ones")
	flag.BoolVar(&useVM, "vm", false, "clone with CLONE_VM and a stack of the child's own, without CLONE_VFORK: the parent waits in read(2), not in clone3")
	profile := flag.Bool("profile", false, "with -n: time every step of the child (a clock_gettime after each) and print where the time goes, instead of JSON")
	flag.Parse()
	if flag.NArg() < 2 {
		fmt.Fprintln(os.Stderr, "usage: spike [-n N] ROOTFS CMD [ARG...]")
		os.Exit(2)
	}
	rootfs, cmd := flag.Arg(0), flag.Args()[1:]
	if *n == 0 {
		code, err := runOne(rootfs, cmd, [3]int{0, 1, 2})
		if err != nil {
			fatal(err)
		}
		os.Exit(code)
	}
	null, err := os.OpenFile("/dev/null", os.O_RDWR, 0)
	if err != nil {
		fatal(err)
	}
	stdio := [3]int{int(null.Fd()), int(null.Fd()), int(null.Fd())}
	if *profile {
		if err := runProfile(rootfs, cmd, stdio, *n, *warm); err != nil {
			fatal(err)
		}
		return
	}
	res := &result{Variant: "spike", NS: make([]int64, *n), Workers: *j}
	for i := 0; i < *warm; i++ {
		if err := runTrue(rootfs, cmd, stdio); err != nil {
			fatal(fmt.Errorf("warm-up: %w", err))
		}
	}
	res.RSSKiB[0], res.GoBytes[0] = memNow()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, *j)
	start := time.Now()
	for w := range *j {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1)) - 1
				if k >= *n {
					return
				}
				if *j == 1 && k == *n/2 {
					res.RSSKiB[1], res.GoBytes[1] = memNow()
				}
				t0 := time.Now()
				if err := runTrue(rootfs, cmd, stdio); err != nil {
					errs[w] = fmt.Errorf("container %d: %w", k, err)
					return
				}
				res.NS[k] = int64(time.Since(t0))
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			fatal(err)
		}
	}
	res.WallNS = int64(time.Since(start))
	res.RSSKiB[2], res.GoBytes[2] = memNow()
	runtime.KeepAlive(null) // its finalizer would close the descriptor the children get as stdio
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fatal(err)
	}
}

func runTrue(rootfs string, cmd []string, stdio [3]int) error {
	code, err := runOne(rootfs, cmd, stdio)
	if err == nil && code != 0 {
		err = fmt.Errorf("exit status %d", code)
	}
	return err
}

// runOne starts one container and waits for it: the exit status, or
// 128+signal.
func runOne(rootfs string, cmd []string, stdio [3]int) (int, error) {
	c, err := start(rootfs, cmd, stdio)
	if err != nil {
		return 0, err
	}
	return c.wait()
}

// Container is one started container of the spike.
type Container struct {
	pid    int
	cgroup string
}

var (
	seq   atomic.Int64
	useVM bool // -vm
)

// start plans the container, makes its cgroup, clones the child and returns
// once it has exec'd the command (or with the step that failed).
func start(rootfs string, cmd []string, stdio [3]int) (c *Container, err error) {
	if prof != nil {
		prof.t[tStart] = now()
	}
	v2, cgParent, err := cgroupHost()
	if err != nil {
		return nil, err
	}
	cg := fmt.Sprintf("%s/ctrkit-spike-%d-%d", cgParent, os.Getpid(), seq.Add(1))
	if err := os.Mkdir(cg, 0o755); err != nil {
		return nil, fmt.Errorf("spike: create cgroup: %w", err)
	}
	defer func() {
		if err != nil {
			os.Remove(cg)
		}
	}()
	cgfd, err := unix.Open(cg, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("spike: open cgroup: %w", err)
	}
	defer unix.Close(cgfd)
	if prof != nil {
		prof.t[tCgroup] = now()
	}
	var pipe [2]int
	if err := unix.Pipe2(pipe[:], unix.O_CLOEXEC); err != nil {
		return nil, fmt.Errorf("spike: error pipe: %w", err)
	}
	defer unix.Close(pipe[0])
	um := syscall.Umask(0o022)
	syscall.Umask(um)
	sp := &spec{
		rootfs: rootfs, args: cmd, env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		hostname: "container", stdio: stdio, errFD: pipe[1], v2Root: v2, capLast: capLast(), umask: um, vm: useVM,
	}
	cp, prog, err := plan(sp)
	if err != nil {
		unix.Close(pipe[1])
		return nil, err
	}
	if prof != nil {
		cp.times = make([]int64, len(cp.steps)+2)
		prof.t[tPlanned] = now()
	}
	args := &cloneArgs{
		flags: unix.CLONE_VM | unix.CLONE_VFORK | unix.CLONE_INTO_CGROUP |
			unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWPID | unix.CLONE_NEWNET,
		exitSignal: uint64(unix.SIGCHLD),
		cgroup:     uint64(cgfd),
	}
	// No syscall.ForkLock: it keeps descriptors that other goroutines open
	// without close-on-exec out of os/exec's children, and the child here
	// closes every inherited descriptor but its planned ones as its first
	// steps. Holding it would serialise every container's whole setup (the
	// parent's thread waits in clone3 until the child execs) with every
	// os/exec start of the program.
	if prof != nil {
		prof.t[tClone] = now()
	}
	var pid, errno uintptr
	var stack []byte
	if useVM {
		if raceBuild {
			unix.Close(pipe[1])
			return nil, errors.New("spike: -vm is not available in a race build (see race_on.go)")
		}
		if stack, err = unix.Mmap(-1, 0, childStack, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_STACK); err != nil {
			unix.Close(pipe[1])
			return nil, fmt.Errorf("spike: the child's stack: %w", err)
		}
		// The kernel unmaps nothing of it: the child leaves this address
		// space at execve (or exits) before the pipe's EOF, after which
		// the parent unmaps it.
		defer unix.Munmap(stack)
		args.flags &^= unix.CLONE_VFORK
		args.stack, args.stackSize = uint64(uintptr(unsafe.Pointer(&stack[0]))), uint64(len(stack))
		pid, errno = cloneVM(cp, args)
	} else {
		pid, errno = forkChild(cp, args)
		runtimeAfterFork()
	}
	unix.Close(pipe[1])
	if errno != 0 {
		return nil, fmt.Errorf("spike: clone3: %w", syscall.Errno(errno))
	}
	c = &Container{pid: int(pid), cgroup: cg}
	var rec [8]byte
	// EOF once the child has exec'd: with -vm it runs until then in this
	// address space, reading the plan, which must stay alive until here.
	m, rerr := readFull(pipe[0], rec[:])
	runtime.KeepAlive(cp)
	runtime.KeepAlive(prog)
	runtime.KeepAlive(args)
	if prof != nil {
		prof.t[tResumed] = now()
		prof.times, prof.names = cp.times, prog.names
	}
	if m == 0 && rerr == nil { // EOF: the command was exec'd
		return c, nil
	}
	c.wait()
	if rerr != nil {
		return nil, fmt.Errorf("spike: read the error pipe: %w", rerr)
	}
	if m != len(rec) {
		return nil, fmt.Errorf("spike: short error record (%d bytes)", m)
	}
	r := (*record)(unsafe.Pointer(&rec[0]))
	se := &StepError{Step: int(r.Step), Err: syscall.Errno(r.Errno)}
	if int(r.Step) < len(prog.names) {
		se.Op, se.Path = prog.names[r.Step].op, prog.names[r.Step].path
	}
	return nil, se
}

func readFull(fd int, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := unix.Read(fd, b[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		if m == 0 {
			break
		}
		n += m
	}
	return n, nil
}

// childStack is the size of the -vm child's stack: the nosplit interpreter
// needs a few hundred bytes.
const childStack = 64 << 10

// cloneVM blocks every signal on this thread (the child starts with the
// parent's handlers, which must not run on it), clones, and restores the
// mask. The child's plan resets its handlers and restores the mask itself.
func cloneVM(cp *childPlan, args *cloneArgs) (pid, errno uintptr) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	all := ^uint64(0)
	if _, _, e := unix.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&all)), uintptr(unsafe.Pointer(&cp.oldMask)), 8, 0, 0); e != 0 {
		return 0, uintptr(e)
	}
	pid, errno = rawCloneVM(uintptr(unsafe.Pointer(args)), unsafe.Sizeof(*args), cp)
	unix.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&cp.oldMask)), 0, 8, 0, 0)
	return pid, errno
}

// wait reaps the container and removes its cgroup.
func (c *Container) wait() (int, error) {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(c.pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("spike: wait4: %w", err)
		}
		break
	}
	if prof != nil {
		prof.t[tReaped] = now()
	}
	if err := os.Remove(c.cgroup); err != nil {
		return 0, fmt.Errorf("spike: remove cgroup: %w", err)
	}
	if prof != nil {
		prof.t[tRemoved] = now()
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}

var (
	hostOnce   sync.Once
	hostV2     bool
	hostParent string
	hostErr    error
	hostCapMax = 40
)

// cgroupHost finds the cgroup2 hierarchy (the host's /sys/fs/cgroup, or the
// unified one of a hybrid host) and this process's cgroup in it, where the
// containers' cgroups are made (as the library does for the view's cgroup).
func cgroupHost() (bool, string, error) {
	hostOnce.Do(func() { hostV2, hostParent, hostErr = findCgroup() })
	return hostV2, hostParent, hostErr
}

func findCgroup() (bool, string, error) {
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if v, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			hostCapMax = v
		}
	}
	mnt := "/sys/fs/cgroup"
	var fs unix.Statfs_t
	if err := unix.Statfs(mnt, &fs); err != nil {
		return false, "", fmt.Errorf("spike: statfs %s: %w", mnt, err)
	}
	v2 := fs.Type == unix.CGROUP2_SUPER_MAGIC
	if !v2 {
		mnt += "/unified"
		if err := unix.Statfs(mnt, &fs); err != nil || fs.Type != unix.CGROUP2_SUPER_MAGIC {
			return false, "", errors.New("spike: no cgroup2 hierarchy at /sys/fs/cgroup or /sys/fs/cgroup/unified")
		}
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return false, "", fmt.Errorf("spike: %w", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			return v2, strings.TrimSuffix(mnt+p, "/"), nil
		}
	}
	return false, "", errors.New("spike: no cgroup2 line in /proc/self/cgroup")
}

// capLast is /proc/sys/kernel/cap_last_cap (read by cgroupHost's first call).
func capLast() int {
	cgroupHost()
	return hostCapMax
}

// memNow returns this process's VmRSS (KiB) and the Go runtime's memory from
// the OS, after a GC that returns free pages (as bench/ctrrun).
func memNow() (int64, uint64) {
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var rss int64
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
				rss, _ = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			}
		}
	}
	return rss, ms.Sys - ms.HeapReleased
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "spike:", err)
	os.Exit(1)
}
