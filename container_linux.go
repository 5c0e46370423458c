package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"sync"

	"github.com/ctrkit/container/internal/lifecycle"
	"golang.org/x/sys/unix"
)

// running is the parent's state of a started container.
type running struct {
	id      string
	cmd     *exec.Cmd
	stopCtx func() bool // stops the context watch
	cg      *cgroupState
	net     *netState
	console *os.File // WithTerminal: the terminal's master, for Terminal
	// joinThread is the thread the init is cloned from when it joins
	// existing namespaces (ns_linux.go).
	joinThread *nsThread
	// stdinDone reports the end of copying a Stdin that is not an *os.File
	// (startStdinCopy); nil otherwise.
	stdinDone chan error
	// keepMounts, without a mount namespace (WithoutNamespace(NSMount)), are
	// the mounts at or below the rootfs before Start: Wait unmounts the others.
	keepMounts []int
	// userNet is the helper of WithUserNetwork (usernet_linux.go).
	userNet *userNetState
	// overlayDir holds WithOverlay's upper layer (overlay_linux.go).
	overlayDir string

	mu       sync.Mutex
	waited   bool
	finished bool
}

func (r *running) pid() int { return r.cmd.Process.Pid }

// Start starts the container and returns once its command has been exec'd, or
// with the error of the step that failed (a [*SetupError] for steps inside the
// container). A failed Start leaves nothing behind. Cancelling ctx while Start
// runs kills the init and Start fails with an error that wraps ctx.Err()
// ([errors.Is](err, [context.Canceled]) or [context.DeadlineExceeded]).
// Cancelling ctx after Start returns kills every process in the container;
// [Container.Wait] must still be called to release it.
func (c *Container) Start(ctx context.Context) (err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started {
		return ErrAlreadyStarted
	}
	c.started = true
	if err := ctx.Err(); err != nil {
		return err
	}
	var rel releaser
	defer func() {
		if err != nil {
			rel.run()
		}
	}()

	// Plan: everything the init needs, computed before the clone.
	r := &running{id: newID()}
	tr := newStartTrace(ctx, c.cfg, r) // trace_linux.go: WithLogger; nil without
	defer tr.finish(&err)
	icfg := c.cfg.initConfig()
	icfg.Trace = tr.on()
	if err := checkHostCaps(&icfg.Security); err != nil {
		return err
	}
	if err := c.planLandlock(icfg); err != nil { // landlock_linux.go: WithLandlock, for the kernel's ABI
		return err
	}
	for i, f := range c.ExtraFiles {
		if f == nil {
			return fmt.Errorf("container: ExtraFiles[%d]: nil file", i)
		}
	}
	icfg.OCI.ExtraFiles = len(c.ExtraFiles)
	exe, exeFD, releaseExe, err := initPath(syncFD + 1 + len(c.ExtraFiles)) // exe_linux.go
	if err != nil {
		return err
	}
	defer releaseExe()
	tr.step(stepPlan, nil)

	if c.cfg.oci.execFIFO != "" {
		if err := checkExecFIFO(c.cfg.oci.execFIFO); err != nil { // lifecycle_linux.go
			return err
		}
	}

	// Parent steps before the clone; each registers its own release.
	if err := tr.step(stepRecMounts, r.recordMounts(c.cfg, &rel)); err != nil {
		return err
	}
	if err := tr.step(stepOverlay, r.createOverlay(c.cfg, icfg, &rel)); err != nil { // overlay_linux.go: WithOverlay
		return err
	}
	if err := tr.step(stepCgroup, r.createCgroup(c.cfg, icfg, &rel)); err != nil {
		return err
	}
	if err := tr.step(stepVeth, r.createNetwork(c.cfg, icfg, &rel)); err != nil {
		return err
	}
	if err := tr.step(stepJoinNS, r.joinNamespaces(c.cfg, &rel)); err != nil { // ns_linux.go: WithNamespacePath
		return err
	}

	// The sync channel: the init gets its end as fd 3.
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("container: socketpair: %w", err)
	}
	if fds[1], err = syncAbove(fds[1], exeFD); err != nil { // exe_linux.go: initPath
		unix.Close(fds[0])
		return err
	}
	parentEnd, childEnd := os.NewFile(uintptr(fds[0]), "sync"), os.NewFile(uintptr(fds[1]), "sync-init")
	rel.add(func() {
		parentEnd.Close()
		childEnd.Close() // a failure before the clone (joinPlan); closing it again is harmless
	})

	stdin := c.Stdin
	stdinR, stdinW, err := stdinPipe(c.Stdin)
	if err != nil {
		return err
	}
	if stdinR != nil {
		stdin = stdinR
		rel.add(func() {
			stdinR.Close()
			stdinW.Close()
		})
	}

	// Nil stdio: one /dev/null for the three, opened here rather than by
	// exec.Cmd.Start, which runs on the clone thread after it moved into the
	// container's v1 cgroups (startInV1), where the device policy applies.
	var stdout, stderr io.Writer = c.Stdout, c.Stderr
	if stdin == nil || stdout == nil || stderr == nil {
		null, err := os.OpenFile(os.DevNull, os.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("container: %w", err)
		}
		defer null.Close()
		if stdin == nil {
			stdin = null
		}
		if stdout == nil {
			stdout = null
		}
		if stderr == nil {
			stderr = null
		}
	}

	// Clone /proc/self/exe into the new namespaces.
	r.cmd = &exec.Cmd{
		Path:        exe, // a sealed copy of /proc/self/exe (exe_linux.go)
		Args:        []string{initArg0},
		Env:         initEnv,
		Stdin:       stdin,
		Stdout:      stdout,
		Stderr:      stderr,
		ExtraFiles:  append([]*os.File{childEnd}, c.ExtraFiles...), // fd 4 on
		SysProcAttr: sysProcAttr(c.cfg),
	}
	r.cgroupAttr(r.cmd.SysProcAttr)
	if err := joinPlan(c.cfg, r.cmd, icfg); err != nil { // lifecycle_linux.go: WithJoin
		return err
	}
	r.onCloneThread(func() {
		icfg.TimerSlackNS, err = withInitTimerSlack(func() error {
			// A thread in joined namespaces (WithNamespacePath) resolves
			// /proc and /sys/fs/cgroup in a joined mount namespace and sees
			// its cgroups relative to a joined cgroup namespace: startInV1
			// could open other cgroups than it means. joinCgroup, from a
			// thread of the host's, moves the init.
			if r.joinThread != nil {
				return r.cmd.Start()
			}
			return r.cg.startInV1(r.cmd.Start) // cgroup_linux.go
		})
	})
	childEnd.Close()
	if stdinR != nil {
		stdinR.Close()
	}
	if tr.step(stepClone, err) != nil {
		return fmt.Errorf("container: start init: %w", err)
	}
	if stdinW != nil {
		r.stdinDone = copyStdin(stdinW, c.Stdin)
	}
	rel.add(func() {
		r.cmd.Process.Kill()
		r.cmd.Wait()
	})
	// A context cancelled during the rest of Start kills the init, which
	// breaks whatever step the parent is at (EOF, a reset or broken sync
	// socket, a failed cgroup or network step): from here on, a failure while
	// ctx is done says so, errors.Is(err, context.Canceled) or
	// DeadlineExceeded, and keeps the step's error in its message.
	stop := context.AfterFunc(ctx, r.kill)
	rel.add(func() { stop() })
	defer func() {
		if cerr := ctx.Err(); err != nil && cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("container: start: %w (%w)", cerr, err)
		}
	}()

	c.cfg.oci.hookInput(icfg, c.cfg.namespaces, r.cmd.Process.Pid) // lifecycle.go: WithCreateHook, WithStartHook

	// The plan goes first, so that the init decodes it while the parent does
	// its steps below.
	if err := tr.step(stepSendConfig, writeFrame(parentEnd, msgConfig, icfg.marshal())); err != nil {
		return fmt.Errorf("container: send configuration to init: %w", err)
	}

	// Parent steps between the clone and "go".
	if err := tr.step(stepJoinCgroup, r.joinCgroup()); err != nil {
		return err
	}
	if err := tr.step(stepAttachVeth, r.attachNetwork(c.cfg)); err != nil {
		return needNetAdmin(c.cfg.net.vethOption(), err) // usernet.go: an EPERM points at WithUserNetwork
	}
	if err := tr.step(stepUserNet, r.startUserNetwork(ctx, c.cfg, &rel)); err != nil { // usernet_linux.go: WithUserNetwork
		return err
	}

	// "Go": the parent's part is done. The init asks for another after a step
	// of the parent's between its own (WithBeforePivot, the pids handshake).
	goOn := func() error {
		if err := writeMsg(parentEnd, msgGo, nil); err != nil {
			return fmt.Errorf("container: signal init: %w", err)
		}
		return nil
	}
	if err := goOn(); err != nil {
		return err
	}

	// EOF means the init's end was closed by execve: the command runs.
	// msgParked means it waits on the exec FIFO (WithExecFIFO).
	rel.add(func() { // a terminal received before a failure is the caller's only after success
		if r.console != nil {
			r.console.Close()
		}
	})
	t, body, err := tr.read(r.readInitMsg, parentEnd) // terminal_linux.go: takes the terminal's master first
	if err == nil && t == msgMounted {                // WithBeforePivot
		if err := tr.step(stepBeforePivot, c.cfg.oci.beforePivot(r.cmd.Process.Pid)); err != nil {
			return fmt.Errorf("container: before pivot_root: %w", err)
		}
		if err := goOn(); err != nil {
			return err
		}
		t, body, err = tr.read(r.readInitMsg, parentEnd)
	}
	if err == nil && t == msgExecReady {
		if err := tr.step(stepPids, r.lowerPids()); err != nil {
			return err
		}
		if err := goOn(); err != nil {
			return err
		}
		t, body, err = tr.read(readFile, parentEnd)
	}
	tr.step(stepWaitInit, nil)
	switch {
	case err == nil && t == msgParked:
	case err == nil && t == msgJoined:
		// WithJoin: the init runs in the container; EOF or an error follows.
		if err := waitExec(parentEnd); err != nil { // lifecycle_linux.go
			return err
		}
	case errors.Is(err, io.EOF) && c.cfg.oci.joinPID != 0:
		return fmt.Errorf("container: join container %d: the init did not start in it (does the program import github.com/ctrkit/container/nsenter? see its stderr)", c.cfg.oci.joinPID)
	case errors.Is(err, io.EOF):
		if err := ctx.Err(); err != nil {
			return err
		}
	case err != nil:
		return fmt.Errorf("container: read from init: %w", err)
	case t == msgError:
		return initError(body)
	default:
		return fmt.Errorf("container: unexpected message %q from init", t)
	}
	parentEnd.Close()
	r.stopCtx = stop
	c.run = r
	return nil
}

// Wait waits for the container's first process to exit, kills whatever else is
// still running in the container, and releases everything [Container.Start]
// created. It is the single release point: call it exactly once after a
// successful Start.
//
// The error is nil for exit status 0, an [*ExitError] for another status or a
// death by signal, or an error from copying [Container.Stdin], Stdout or
// Stderr, from removing the cgroup, from unmounting what a container without
// a mount namespace mounted on the host ([WithoutNamespace](NSMount)), or from
// removing [WithOverlayUpper]'s upper layer.
func (c *Container) Wait() error {
	c.mu.Lock()
	r := c.run
	c.mu.Unlock()
	if r == nil {
		return ErrNotStarted
	}
	r.mu.Lock()
	if r.waited {
		r.mu.Unlock()
		return ErrWaitCalled
	}
	r.waited = true
	r.mu.Unlock()

	err := r.cmd.Wait()
	if r.stdinDone != nil {
		if serr := <-r.stdinDone; err == nil {
			err = serr
		}
	}
	r.stopCtx()
	r.mu.Lock()
	r.finished = true
	r.mu.Unlock()

	// Teardown: whatever is left in the container dies with its cgroup.
	r.killCgroup()
	oom, cgErr := r.removeCgroup()
	r.releaseNetwork()
	r.releaseUserNetwork()
	r.releaseNamespaces()
	mntErr := r.releaseMounts(c.cfg)
	if err := r.releaseOverlay(); mntErr == nil {
		mntErr = err
	}

	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return &ExitError{ProcessState: ee.ProcessState, oomKilled: oom}
	}
	if err != nil {
		return fmt.Errorf("container: wait: %w", err)
	}
	if cgErr != nil {
		return cgErr
	}
	return mntErr
}

// recordMounts, for a container without a mount namespace, records the mounts
// at or below the rootfs before the init makes its own there on the host, and
// registers their removal.
func (r *running) recordMounts(c *config, rel *releaser) error {
	if !c.noMountNS() {
		return nil
	}
	keep, err := rootfsMounts(c.rootfs)
	if err != nil {
		return err
	}
	r.keepMounts = keep
	rel.add(func() { r.releaseMounts(c) })
	return nil
}

// releaseMounts unmounts what the init of a container without a mount
// namespace mounted on the host (mount_linux.go).
func (r *running) releaseMounts(c *config) error {
	if !c.noMountNS() {
		return nil
	}
	return releaseRootfsMounts(c.rootfs, r.keepMounts)
}

// kill kills every process in the container: the first one (in a PID
// namespace the kernel then kills the rest), and everything in its cgroup.
func (r *running) kill() {
	r.cmd.Process.Kill()
	r.killCgroup()
}

// Signal sends sig to the container's first process (through its pidfd, so a
// reused pid is never signalled). Note that the kernel delivers to a PID
// namespace's init only the signals it has a handler for, and SIGKILL; with
// [WithInit], signals are forwarded to the command.
func (c *Container) Signal(sig os.Signal) error {
	c.mu.Lock()
	r := c.run
	c.mu.Unlock()
	if r == nil {
		return ErrNotStarted
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished {
		return ErrFinished
	}
	if err := r.cmd.Process.Signal(sig); err != nil {
		if errors.Is(err, os.ErrProcessDone) {
			return ErrFinished
		}
		return fmt.Errorf("container: signal %v: %w", sig, err)
	}
	return nil
}

// newID returns 12 random hex digits. Ids must be unique among the containers
// of every process on the host (cgroup and interface names derive from them),
// not secret: math/rand/v2 draws from the runtime's per-thread random source,
// and keeps crypto/rand's package initialisation out of every init.
func newID() string {
	return fmt.Sprintf("%012x", rand.Uint64()&(1<<48-1))
}

// initEnv is the init's environment (the command gets its own, from the
// configuration). GOMAXPROCS spares the short-lived init the Go runtime's
// cgroup and CPU probing and the threads it would start; GOGC=off its
// collector: the init allocates little and execs within milliseconds.
// memprofilerate=0 spares it the stack walk of sampled allocations (the
// runtime samples one in 512 KiB by default, the first one early).
var initEnv = []string{"GOMAXPROCS=1", "GOGC=off", "GODEBUG=memprofilerate=0"}

// initTimerSlack is the timer slack the init is cloned with. The Go
// runtime's monitor thread (sysmon) in the short-lived init otherwise wakes
// every 20 µs (+ the default 50 µs of slack) for its first rounds: about a
// hundred nanosleeps per container. Threads inherit the slack of the thread
// that creates them, and execve keeps it, so the init's sysmon starts with
// this one; the init's own thread, which forks hooks and execs the command,
// sets the caller's back first thing (TimerSlackNS). It only lets the
// kernel delay timers of the init's runtime threads; the command has the
// caller's slack (only what prctl(PR_SET_TIMERSLACK, 0) resets it to, the
// task's default, is this value).
const initTimerSlack = lifecycle.RaisedTimerSlack // 1 ms, in ns

// withInitTimerSlack runs start (the clone) with the calling thread's timer
// slack raised to initTimerSlack and returns the thread's own, which it sets
// back. It runs on a locked thread (onCloneThread), so nothing else of the
// caller's runs with the raised slack.
// A process whose threads all run with a raised slack (ctrkit:
// oci.RaiseTimerSlack) names the slack its caller gave it instead
// (lifecycle.CallerTimerSlack), for the command.
func withInitTimerSlack(start func() error) (uint64, error) {
	own, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil || own <= 0 {
		return 0, start() // the init keeps the slack it inherits
	}
	caller := uint64(own)
	if s := lifecycle.CallerTimerSlack.Load(); s != 0 {
		caller = s
	}
	if own == initTimerSlack {
		return caller, start()
	}
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, initTimerSlack, 0, 0, 0); err != nil {
		return 0, start()
	}
	err = start()
	unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(own), 0, 0, 0)
	return caller, err
}

// stdinPipe returns, for a Stdin that is not an *os.File, the pipe the
// library's own goroutine (copyStdin) copies it into; nil ends otherwise. Not
// exec.Cmd's copy: exec.Cmd.Wait waits for it, and it blocks on the caller's
// reader for as long as that has nothing to say, while a failed Start must
// return without waiting for it.
func stdinPipe(in io.Reader) (r, w *os.File, err error) {
	if _, ok := in.(*os.File); ok || in == nil {
		return nil, nil, nil
	}
	r, w, err = os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("container: stdin pipe: %w", err)
	}
	return r, w, nil
}

// copyStdin copies in to w and closes w. A container that stops reading (it
// exited, or closed its stdin) ends the copy without an error, as exec.Cmd
// treats it; so does a failed Start closing w.
func copyStdin(w *os.File, in io.Reader) chan error {
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(w, in)
		w.Close()
		if errors.Is(err, unix.EPIPE) || errors.Is(err, os.ErrClosed) {
			err = nil
		}
		done <- err
	}()
	return done
}
