package container

import (
	"strconv"
	"strings"
)

// RlimitInfinity is the value of an unlimited resource limit (RLIM_INFINITY),
// for [WithRlimit].
const RlimitInfinity = ^uint64(0)

// rlimitEntry is one resource limit the init sets with setrlimit(2).
type rlimitEntry struct {
	Name       string // "RLIMIT_NOFILE"
	Soft, Hard uint64
}

// rlimitNames are the resource names WithRlimit accepts (getrlimit(2)).
var rlimitNames = []string{
	"RLIMIT_AS", "RLIMIT_CORE", "RLIMIT_CPU", "RLIMIT_DATA", "RLIMIT_FSIZE",
	"RLIMIT_LOCKS", "RLIMIT_MEMLOCK", "RLIMIT_MSGQUEUE", "RLIMIT_NICE",
	"RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_RSS", "RLIMIT_RTPRIO",
	"RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK",
}

// defaultRlimits are set in every container unless WithRlimit overrides them:
// at most 1024 open files, as containerd and Docker set.
var defaultRlimits = []rlimitEntry{{Name: "RLIMIT_NOFILE", Soft: 1024, Hard: 1024}}

// WithRlimit sets a resource limit of the container's command (setrlimit(2) in
// the init, inherited by everything the command starts): resource is its name
// as in getrlimit(2), such as "RLIMIT_NOFILE" (case does not matter), and soft,
// at most hard, and hard are its values, [RlimitInfinity] for no limit. Every
// container gets RLIMIT_NOFILE 1024:1024 unless this option sets it; other
// limits are inherited from the caller. Raising a hard limit above the caller's
// needs CAP_SYS_RESOURCE in the host's user namespace (lowering one needs
// nothing): without it Start fails with a [*SetupError] that wraps EPERM. A
// later WithRlimit for the same resource replaces an earlier one.
func WithRlimit(resource string, soft, hard uint64) Option {
	return optionFunc(func(c *config) error {
		name := strings.ToUpper(resource)
		if !knownRlimit(name) {
			return optErr("WithRlimit", resource, "unknown resource limit (want a name like RLIMIT_NOFILE)")
		}
		if soft > hard {
			return optErr("WithRlimit", resource, "soft limit %s is above hard limit %s", rlimitString(soft), rlimitString(hard))
		}
		for i, e := range c.limits.rlimits {
			if e.Name == name {
				c.limits.rlimits[i] = rlimitEntry{name, soft, hard}
				return nil
			}
		}
		c.limits.rlimits = append(c.limits.rlimits, rlimitEntry{name, soft, hard})
		return nil
	})
}

func knownRlimit(name string) bool {
	for _, n := range rlimitNames {
		if n == name {
			return true
		}
	}
	return false
}

func rlimitString(v uint64) string {
	if v == RlimitInfinity {
		return "unlimited"
	}
	return strconv.FormatUint(v, 10)
}

// rlimitPlan is the list of limits the init sets: the defaults not overridden,
// then the options' limits, in the order given.
func (l *limitsConfig) rlimitPlan() []rlimitEntry {
	var out []rlimitEntry
	for _, d := range defaultRlimits {
		set := false
		for _, e := range l.rlimits {
			set = set || e.Name == d.Name
		}
		if !set {
			out = append(out, d)
		}
	}
	return append(out, l.rlimits...)
}

// limitsInit is the limits feature's part of the plan the init carries out.
type limitsInit struct {
	Rlimits []rlimitEntry
	Init    bool // WithInit: start the command as PID 2 and reap
	// PidsHandshake: the init asks the parent to lower pids.max to the
	// caller's WithPids right before execve (see lowerPids in cgroup_linux.go).
	PidsHandshake bool
}

func (l *limitsConfig) initConfig() limitsInit {
	return limitsInit{Rlimits: l.rlimitPlan(), Init: l.init, PidsHandshake: l.pids > 0 && !l.init}
}
