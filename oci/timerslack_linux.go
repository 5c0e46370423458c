package oci

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"

	"github.com/ctrkit/container/internal/lifecycle"
	"golang.org/x/sys/unix"
)

// RaiseTimerSlack raises the timer slack of every thread of this process to
// 1 ms, for a short-lived runtime process such as ctrkit: the Go runtime's
// monitor thread otherwise wakes every 20 µs for its first rounds, about a
// hundred wake-ups in a 10 ms `ctrkit run` (1 ms of CPU measured, PROFILE.md
// part 9). Threads created later inherit it from their creator. Containers
// started after it keep the slack the process was started with for their
// command (what its caller gave it), as without it; only this process's own
// timers may fire up to 1 ms late. It returns the slack the process was
// started with, for what else it starts (hooks: [StartWithTimerSlack]), or 0
// when it changed nothing. Call it first thing in main; it does nothing if
// the slack cannot be read, and skips threads it cannot change.
func RaiseTimerSlack() uint64 {
	own, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil || own <= 0 || own >= raisedSlack {
		return 0
	}
	lifecycle.CallerTimerSlack.CompareAndSwap(0, uint64(own))
	unix.Prctl(unix.PR_SET_TIMERSLACK, raisedSlack, 0, 0, 0)
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return uint64(own)
	}
	self := strconv.Itoa(unix.Gettid())
	for _, t := range tasks {
		if t.Name() != self {
			// Another thread's, through /proc/TID (task/TID has no such
			// file): root (CAP_SYS_NICE) may write it.
			os.WriteFile("/proc/"+t.Name()+"/timerslack_ns", []byte(strconv.Itoa(raisedSlack)), 0)
		}
	}
	return uint64(own)
}

// StartWithTimerSlack starts cmd from a thread whose timer slack is slack (ns;
// 0: as it is), so that cmd gets it rather than the raised one of
// [RaiseTimerSlack].
func StartWithTimerSlack(cmd *exec.Cmd, slack uint64) error {
	if slack == 0 {
		return cmd.Start()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cur, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil || unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(slack), 0, 0, 0) != nil {
		return cmd.Start()
	}
	defer unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(cur), 0, 0, 0)
	return cmd.Start()
}

const raisedSlack = lifecycle.RaisedTimerSlack
