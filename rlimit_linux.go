package container

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// rlimitResources maps the names WithRlimit accepts to this architecture's
// resource numbers.
var rlimitResources = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE,
	"RLIMIT_NICE": unix.RLIMIT_NICE, "RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC,
	"RLIMIT_RSS": unix.RLIMIT_RSS, "RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME,
	"RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING, "RLIMIT_STACK": unix.RLIMIT_STACK,
}

// setRlimits applies the container's resource limits (setrlimit(2)) in the
// init; the command inherits them through execve. It uses syscall.Setrlimit,
// which also tells the Go runtime not to restore its own RLIMIT_NOFILE at exec.
func setRlimits(cfg *initConfig) error {
	for _, e := range cfg.Limits.Rlimits {
		res, ok := rlimitResources[e.Name]
		if !ok {
			return &SetupError{Op: "setrlimit", Path: e.Name, Err: unix.EINVAL}
		}
		lim := syscall.Rlimit{Cur: e.Soft, Max: e.Hard}
		if err := syscall.Setrlimit(res, &lim); err != nil {
			path := e.Name
			var old syscall.Rlimit
			if err == unix.EPERM && syscall.Getrlimit(res, &old) == nil && e.Hard > old.Max {
				path = fmt.Sprintf("%s (raising the hard limit from %s to %s needs CAP_SYS_RESOURCE)",
					e.Name, rlimitString(old.Max), rlimitString(e.Hard))
			}
			return &SetupError{Op: "setrlimit", Path: path, Err: err}
		}
	}
	return nil
}
