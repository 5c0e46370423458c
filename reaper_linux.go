package container

import (
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"golang.org/x/sys/unix"
)

// reapCommand is the end of the init's start sequence with WithInit: instead of
// exec'ing the command in its place, the init starts it as a child (PID 2 in a
// PID namespace), forwards signals to it, reaps every process that is
// reparented to it, and exits with the command's status. It runs on the init's
// locked main thread, after lockDown, so the command inherits exactly the
// credentials, capabilities and seccomp filter it would have had with execve.
//
// When the command cannot be started it returns the same *SetupError
// execCommand returns; the init then reports it over the sync channel. Once
// the command runs, the init lets go of the channel, so the parent reads EOF
// just as it does after an execve, and reapCommand returns the command's
// status as an initExit, with which the hook's entry point exits.
//
// The command also gets the ExtraFiles descriptors (3 on), which the init
// then lets go of, as it does of the exec FIFO (WithExecFIFO): its reader
// reads EOF once the command runs.
func reapCommand(cfg *initConfig, ch *os.File) error {
	args, env, extra := cfg.Args, cfg.Env, cfg.OCI.ExtraFiles
	// The init was started with GOGC=off (initEnv: it normally execs within
	// milliseconds); as a long-lived reaper it needs its collector back.
	debug.SetGCPercent(100)
	if os.Getpid() != 1 {
		// Without a PID namespace, orphans would go to the host's reaper.
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return &SetupError{Op: "prctl PR_SET_CHILD_SUBREAPER", Err: err}
		}
	}
	// Catch every signal before the command exists, so none sent between
	// Start's return and the fork is lost. A PID namespace's init only receives
	// the signals it has a handler for, so this is also what makes them arrive.
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs)
	pid, err := forkCommand(args, env, extra)
	if err != nil {
		signal.Stop(sigs)
		return err
	}
	releaseFDs(int(ch.Fd()), extra)
	if cfg.OCI.fifoWrite > 0 {
		unix.Close(cfg.OCI.fifoWrite)
		cfg.OCI.fifoWrite = 0
	}
	go forwardSignals(sigs, pid)
	return initExit(reap(pid))
}

// initExit ends the init without a report: the exit status of a WithInit
// init whose command has run (reapCommand).
type initExit int

func (e initExit) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// forkCommand starts the command, searching the container's PATH as
// execCommand does. os.StartProcess/syscall.ForkExec report a failed execve
// through a close-on-exec pipe, so the error is the command's own.
func forkCommand(args, env []string, extra int) (int, error) {
	files := []uintptr{0, 1, 2}
	for fd := 3; fd < 3+extra; fd++ {
		files = append(files, uintptr(fd))
	}
	attr := &syscall.ProcAttr{
		Env:   env,
		Files: files,
		// The command dies with the init (it already would in a PID namespace).
		Sys: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	}
	var pid int
	err := searchPath(args[0], env, func(path string) (err error) {
		pid, err = syscall.ForkExec(path, args, attr)
		return err
	})
	return pid, err
}

// releaseFDs drops the init's end of the sync channel (fd ch) now that the
// command runs, so the parent reads EOF, and its copies of the command's extra
// files (3 to 2+extra), so that their other ends see the command's closes.
// /dev/null takes their place rather than a close, so that no later
// descriptor lands on a number an *os.File (the channel's) still owns.
func releaseFDs(ch, extra int) {
	null, err := unix.Open("/dev/null", unix.O_RDWR|unix.O_CLOEXEC, 0)
	for _, fd := range append([]int{ch}, fdRange(3, 3+extra)...) {
		if err != nil {
			unix.Close(fd)
		} else {
			unix.Dup3(null, fd, unix.O_CLOEXEC)
		}
	}
	if err == nil {
		unix.Close(null)
	}
}

func fdRange(from, to int) []int {
	var fds []int
	for fd := from; fd < to; fd++ {
		fds = append(fds, fd)
	}
	return fds
}

// forwardSignals sends every signal the init receives on to the command, except
// SIGCHLD (the init's own business) and SIGURG (the Go runtime's preemption
// signal, sent by the init to itself).
func forwardSignals(sigs <-chan os.Signal, pid int) {
	for s := range sigs {
		sig, ok := s.(syscall.Signal)
		if !ok || sig == syscall.SIGCHLD || sig == syscall.SIGURG {
			continue
		}
		unix.Kill(pid, sig)
	}
}

// reap waits for every child and every orphan reparented to the init until the
// command exits, then collects whatever else has already exited, and returns
// the command's exit status: its exit code, or 128 plus the number of the signal
// that killed it.
func reap(cmd int) int {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 255 // ECHILD: the command is gone without a status
		}
		if pid != cmd {
			continue
		}
		for {
			var other unix.WaitStatus
			if p, err := unix.Wait4(-1, &other, unix.WNOHANG, nil); p <= 0 || err != nil {
				break
			}
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
}
