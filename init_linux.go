package container

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// initArg0 is the argv[0] the parent gives the re-executed binary. Together
// with a socket at syncFD it tells this package's init hook that the process
// is a container's init.
const (
	initArg0 = "ctrkit-container-init"
	syncFD   = 3
)

// The hook. Package initialisation runs dependencies first, so when this runs
// no package that imports this one has initialised yet, and none will: the
// init ends in execve or exit. For every other process it costs one comparison.
func init() {
	if len(os.Args) != 1 || os.Args[0] != initArg0 {
		return
	}
	var st unix.Stat_t
	if unix.Fstat(syncFD, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return
	}
	// The main goroutine is on the process's first thread, the one the parent
	// cloned: keep it there, so that every per-thread attribute set below
	// (capabilities, seccomp, the parent-death signal) belongs to the thread
	// that calls execve.
	runtime.LockOSThread()
	hookTime = time.Now() // trace_linux.go: WithLogger's first step ends here (the vDSO, no system call)
	os.Exit(runInit())
}

// runInit runs the init's side of the start sequence. It returns, for the
// hook to exit with, only on failure, after sending the failed step to the
// parent, or with WithInit the command's exit status.
func runInit() int {
	ch := os.NewFile(syncFD, "sync")
	unix.CloseOnExec(syncFD)
	err := func() (err error) {
		// A bug in a step must reach the caller as an error too, not as a
		// stack trace on the container's stderr and a bare exit status.
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("container init panicked: %v", p)
			}
		}()
		if err := makeUndumpable(); err != nil {
			return err
		}
		return initMain(&ch) // may move the channel (ExtraFiles)
	}()
	if code, ok := err.(initExit); ok { // WithInit: the command's status
		return int(code)
	}
	itrace.send(ch) // trace_linux.go: WithLogger
	if werr := writeMsg(ch, msgError, recordOf(err)); werr != nil {
		fmt.Fprintf(os.Stderr, "container init: %v (and reporting it failed: %v)\n", err, werr)
	}
	return 1
}

func initMain(ch **os.File) error {
	t, body, err := readMsg(*ch)
	if err != nil || t != msgConfig {
		return fmt.Errorf("read configuration: type %q: %v", t, err)
	}
	var cfg initConfig
	if err := cfg.unmarshal(body); err != nil {
		return fmt.Errorf("decode configuration: %w", err)
	}
	if cfg.TimerSlackNS != 0 { // the caller's, for this thread and what it starts (initTimerSlack)
		if err := unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(cfg.TimerSlackNS), 0, 0, 0); err != nil {
			return &SetupError{Op: "prctl PR_SET_TIMERSLACK", Err: err}
		}
	}
	if err := closeInherited(&cfg); err != nil {
		return err
	}
	if err := moveSyncFD(&cfg, ch); err != nil {
		return err
	}
	if cfg.Trace { // WithLogger: measure the steps (trace_linux.go)
		itrace.begin(&cfg)
		itrace.step(stepConfig, nil)
	}
	// Wait until the parent has done its part (id maps, cgroup, network).
	if t, _, err := readMsg(*ch); err != nil || t != msgGo {
		return fmt.Errorf("wait for the parent: type %q: %v", t, err)
	}
	itrace.step(stepWaitParent, nil)
	err = initContainer(&cfg, *ch)
	reportToFIFO(&cfg, err) // lifecycle_linux.go: WithExecFIFO, whose reader no longer reads the channel
	return err
}

// closeInherited closes every descriptor the init inherited but its standard
// streams, the channel and the extra files (ExtraFiles, fds 4 to 3+n):
// whatever else the caller had open without close-on-exec. The init may stay
// the container's PID 1 for its whole life (WithInit), so the close-on-exec
// sweep before the command's execve (closeExtraFDs) is not enough: a process
// of the container that may read the init's descriptors (/proc/1/fd, with
// CAP_SYS_PTRACE) would reach the host's files through them.
func closeInherited(cfg *initConfig) error {
	if err := unix.CloseRange(uint(syncFD+1+cfg.OCI.ExtraFiles), ^uint(0), 0); err != nil {
		return &SetupError{Op: "close_range", Path: "inherited descriptors", Err: err}
	}
	return nil
}

// heldSync keeps the *os.File of syncFD alive once moveSyncFD has moved the
// channel: its finalizer must never close the number, which the command's
// first extra file takes.
var heldSync *os.File

// moveSyncFD makes room for ExtraFiles. The parent passes them after the
// channel, as fds 4 to 3+n; the command must get them as 3 to 2+n. The
// channel moves to a close-on-exec descriptor above them (fd 3 stays open
// and close-on-exec until closeExtraFDs reuses its number, so no descriptor
// the init opens lands in 3 to 3+n), and the extra files become close-on-exec
// until then, so that no hook inherits them.
func moveSyncFD(cfg *initConfig, ch **os.File) error {
	n := cfg.OCI.ExtraFiles
	if n == 0 {
		return nil
	}
	for fd := syncFD + 1; fd <= syncFD+n; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
			return &SetupError{Op: "fcntl F_SETFD", Path: "extra file " + strconv.Itoa(fd-syncFD-1), Err: err}
		}
	}
	fd, err := unix.FcntlInt(uintptr(syncFD), unix.F_DUPFD_CLOEXEC, syncFD+n+1)
	if err != nil {
		return &SetupError{Op: "fcntl F_DUPFD_CLOEXEC", Path: "sync channel", Err: err}
	}
	heldSync = *ch
	*ch = os.NewFile(uintptr(fd), "sync")
	return nil
}

// initContainer is the init's start sequence, top to bottom (doc.go, "How a
// container starts", lists it). A process that joins a running container
// (WithJoin) skips the steps that make the container and runs the same tail.
func initContainer(cfg *initConfig, ch *os.File) error {
	if cfg.OCI.JoinPID != 0 {
		if err := itrace.step(stepJoin, checkJoined(cfg)); err != nil { // lifecycle_linux.go: WithJoin
			return err
		}
	} else if err := makeContainer(cfg, ch); err != nil {
		return err
	}
	if err := itrace.step(stepChdir, enterDir(cfg.Dir)); err != nil {
		return err
	}
	if err := itrace.step(stepLandlockRuleset, buildLandlock(cfg)); err != nil { // landlock_linux.go: WithLandlock, paths in the container's root
		return err
	}
	if err := itrace.step(stepTerminal, setupTerminal(cfg, ch)); err != nil { // terminal_linux.go
		return err
	}
	if err := reportJoined(cfg, ch); err != nil { // lifecycle_linux.go: WithJoin, after the terminal
		return err
	}
	if err := itrace.step(stepRlimits, setRlimits(cfg)); err != nil {
		return err
	}
	if err := itrace.step(stepSetUser, setUser(cfg)); err != nil {
		return err
	}
	if err := checkCommand(cfg); err != nil {
		return err
	}
	if err := itrace.step(stepExecFIFO, parkUntilStart(cfg, ch)); err != nil { // lifecycle_linux.go: WithExecFIFO
		return err
	}
	if err := itrace.step(stepLandlock, restrictLandlock(cfg)); err != nil { // landlock_linux.go: on the exec thread, before lockDown
		return err
	}
	if err := lockDown(cfg); err != nil {
		return err
	}
	if err := setUmask(cfg); err != nil { // WithUmask
		return err
	}
	if err := itrace.step(stepStartHooks, runHooks("startContainer hook", cfg.OCI.StartHooks)); err != nil { // WithStartHook
		return err
	}
	if err := itrace.step(stepCloseFDs, closeExtraFDs(cfg)); err != nil {
		return err
	}
	if cfg.Limits.Init {
		itrace.send(ch)             // trace_linux.go: WithLogger
		return reapCommand(cfg, ch) // reaper_linux.go
	}
	if err := itrace.step(stepPidsHandshake, awaitExec(cfg, ch)); err != nil {
		return err
	}
	itrace.send(ch) // trace_linux.go: WithLogger, the last message before execve
	return execCommand(cfg.Args, cfg.Env)
}

// makeContainer is the first part of the sequence, which makes the container
// in the namespaces the init was cloned into: identity, parent-death signal,
// cgroup namespace, kernel parameters, mounts, the root, the names and the
// network inside.
func makeContainer(cfg *initConfig, ch *os.File) error {
	if err := becomeRoot(cfg); err != nil {
		return err
	}
	if err := itrace.step(stepIdentity, armParentDeath(cfg)); err != nil { // ns_linux.go
		return err
	}
	if err := itrace.step(stepCgroupNS, unshareCgroupNS(cfg)); err != nil {
		return err
	}
	if err := holdExecFIFO(cfg); err != nil { // lifecycle_linux.go: WithExecFIFO, before pivot_root
		return err
	}
	if err := itrace.step(stepSysctl, setKernelParams(cfg)); err != nil { // sysctls, oom_score_adj
		return err
	}
	if err := itrace.step(stepMounts, setupRootfs(cfg)); err != nil {
		return err
	}
	if err := itrace.step(stepBeforePivot, awaitParent(cfg.OCI.BeforePivot, msgMounted, ch)); err != nil { // WithBeforePivot
		return err
	}
	if err := itrace.step(stepCreateHooks, runHooks("createContainer hook", cfg.OCI.CreateHooks)); err != nil { // WithCreateHook
		return err
	}
	if err := itrace.step(stepPivotRoot, enterRoot(cfg)); err != nil {
		return err
	}
	if err := itrace.step(stepHostname, setHostname(cfg)); err != nil {
		return err
	}
	return itrace.step(stepNetInside, setupNetworkInside(cfg))
}

// enterRoot makes the rootfs the init's root: pivot_root in the container's
// mount namespace, chroot without one (WithoutNamespace(NSMount)), and the
// rootfs moved onto / then chroot with WithoutPivotRoot.
func enterRoot(cfg *initConfig) error {
	switch {
	case cfg.Chroot:
		return chrootRoot(cfg.Rootfs) // pivot_linux.go
	case cfg.NoPivot:
		return moveRoot(cfg.Rootfs, cfg.RootProp)
	}
	return pivotRoot(cfg.Rootfs, cfg.RootProp)
}

// awaitExec is the init's last word before execve when WithPids is set: the
// parent lowers pids.max from the caller's n plus the init's reserve (its Go
// runtime's threads, which execve ends) to exactly n, and only then lets the
// command run, so no fork of the command ever sees the reserve.
func awaitExec(cfg *initConfig, ch *os.File) error {
	return awaitParent(cfg.Limits.PidsHandshake, msgExecReady, ch)
}

// awaitParent, when on, tells the parent that the init reached the point of
// t and waits for its "go".
func awaitParent(on bool, t msgType, ch *os.File) error {
	if !on {
		return nil
	}
	if err := writeMsg(ch, t, nil); err != nil {
		return &SetupError{Op: "tell the parent", Err: underlying(err)}
	}
	if got, _, err := readMsg(ch); err != nil || got != msgGo {
		return fmt.Errorf("wait for the parent at %q: type %q: %v", t, got, err)
	}
	return nil
}

// unshareCgroupNS gives the container a cgroup namespace rooted at the cgroup
// the parent placed it in. It affects this thread, the one that calls execve.
func unshareCgroupNS(cfg *initConfig) error {
	if cfg.Namespaces&NSCgroup == 0 {
		return nil
	}
	if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
		return &SetupError{Op: "unshare", Path: "cgroup namespace", Err: err}
	}
	return nil
}

// closeExtraFDs puts the extra files (ExtraFiles: fds 4 to 3+n, see
// moveSyncFD) at 3 to 2+n, inheritable, and marks every descriptor above them
// close-on-exec, so nothing else of the parent's or the init's reaches the
// command (CVE-2024-21626).
func closeExtraFDs(cfg *initConfig) error {
	n := cfg.OCI.ExtraFiles
	for fd := syncFD; fd < syncFD+n; fd++ {
		// Ascending: each step overwrites the copy the previous one made.
		if err := unix.Dup3(fd+1, fd, 0); err != nil {
			return &SetupError{Op: "dup3", Path: "extra file " + strconv.Itoa(fd-syncFD), Err: err}
		}
	}
	if n > 0 {
		unix.Close(syncFD + n) // the last one's first copy: with WithInit, the init would keep it
	}
	err := unix.CloseRange(uint(syncFD+n), ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	if err == unix.EPERM || err == unix.ENOSYS {
		// A seccomp policy without close_range (older OCI profiles): mark
		// each open descriptor with fcntl instead (cloexecEach).
		err = cloexecEach(syncFD + n)
	}
	if err != nil {
		return &SetupError{Op: "close_range", Err: err}
	}
	return nil
}

// runHooks runs the hooks of one point of the sequence (WithCreateHook,
// WithStartHook) in order, each a child of the init's locked thread, so it
// has that thread's credentials and seccomp filter.
func runHooks(op string, hooks []hookEntry) error {
	for _, h := range hooks {
		if err := runHook(h); err != nil {
			return &SetupError{Op: op, Path: h.Path, Err: err}
		}
	}
	return nil
}

func runHook(h hookEntry) error {
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if h.Timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, h.Timeout)
	}
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, h.Path) // absolute: no PATH search
	cmd.Args, cmd.Env = h.Args, h.Env
	if cmd.Env == nil {
		cmd.Env = []string{} // nil would pass the init's own
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(h.Stdin), &out, &out
	// A daemon the hook started may hold its output open: once the hook has
	// exited 0, give up on the rest of its output after a second.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil
	}
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("timed out after %v: %s", h.Timeout, bytes.TrimSpace(out.Bytes()))
	}
	if err != nil {
		return fmt.Errorf("%w: %s", err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}

// checkCommand makes a missing command an error of Start even when the init
// parks on the exec FIFO (WithExecFIFO), where Start returns before execve:
// it looks the command up in the container's root, directory and PATH as
// execve will (runc checks before its FIFO too). It fails only on what no
// privilege changes: no such file, a directory, a file without any execute
// bit. A path the container's user cannot reach yet is left to execve, which
// runs with the capabilities the user gets after the FIFO. Without the FIFO,
// execve comes right after and reports it itself.
func checkCommand(cfg *initConfig) error {
	if cfg.OCI.ExecFIFO == "" {
		return nil
	}
	return searchPath(cfg.Args[0], cfg.Env, func(path string) error {
		var st unix.Stat_t
		switch err := unix.Stat(path, &st); {
		case err == unix.EACCES:
			return nil
		case err != nil:
			return err
		case st.Mode&unix.S_IFMT == unix.S_IFDIR || st.Mode&0o111 == 0:
			return unix.EACCES
		}
		return nil
	})
}

// execCommand replaces the init with the command.
func execCommand(args, env []string) error {
	return searchPath(args[0], env, func(path string) error {
		return unix.Exec(path, args, env)
	})
}

// searchPath calls try with each candidate path of the command name, the way
// execvp(3) does: the name itself when it has a slash, otherwise each
// directory of the container's PATH in turn, going on past directories that do
// not have it. It returns nil once try succeeds, and otherwise the exec
// *SetupError of the first real failure, EACCES if some candidate was not
// executable, or ENOENT.
func searchPath(name string, env []string, try func(path string) error) error {
	if strings.Contains(name, "/") {
		if err := try(name); err != nil {
			return &SetupError{Op: "exec", Path: name, Err: err}
		}
		return nil
	}
	path := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	var denied bool
	for _, dir := range strings.Split(path, ":") {
		if dir == "" {
			dir = "."
		}
		switch err := try(dir + "/" + name); err {
		case nil:
			return nil
		case unix.ENOENT, unix.ENOTDIR, unix.ESTALE, unix.ENODEV, unix.ETIMEDOUT:
		case unix.EACCES:
			denied = true
		default:
			return &SetupError{Op: "exec", Path: dir + "/" + name, Err: err}
		}
	}
	if denied {
		return &SetupError{Op: "exec", Path: name, Err: unix.EACCES}
	}
	return &SetupError{Op: "exec", Path: name, Err: unix.ENOENT}
}

// setKernelParams writes the container's sysctls and its OOM score. It runs in
// the container's namespaces before the mounts, through the host's /proc: the
// files under /proc/sys/net, /proc/sys/kernel/{shm,msg,sem}, fs/mqueue and the
// UTS names act on the namespaces of the process that writes them.
func setKernelParams(cfg *initConfig) error {
	for _, s := range cfg.OCI.Sysctls {
		p := "/proc/sys/" + strings.ReplaceAll(s.Key, ".", "/")
		if err := os.WriteFile(p, []byte(s.Value), 0); err != nil {
			return &SetupError{Op: "sysctl", Path: s.Key, Err: underlying(err)}
		}
	}
	if cfg.OCI.OOMScoreAdj != nil {
		v := strconv.Itoa(*cfg.OCI.OOMScoreAdj)
		if err := os.WriteFile("/proc/self/oom_score_adj", []byte(v), 0); err != nil {
			return &SetupError{Op: "write oom_score_adj", Path: v, Err: underlying(err)}
		}
	}
	return nil
}

// setUmask sets the umask the command inherits (WithUmask).
func setUmask(cfg *initConfig) error {
	if cfg.OCI.Umask >= 0 {
		unix.Umask(cfg.OCI.Umask)
	}
	return nil
}

// cloexecEach marks every descriptor from from on close-on-exec, one by one,
// for a seccomp policy that denies close_range. It lists them in
// /proc/self/fd (the container's /proc by now) with getdents64.
func cloexecEach(from int) error {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, n := range names {
		fd, err := strconv.Atoi(n)
		if err != nil || fd < from || fd == int(d.Fd()) {
			continue
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil && err != unix.EBADF {
			return err
		}
	}
	return nil
}
