package container

import (
	"encoding/binary"
	"log/slog"
	"strconv"
)

// WithLogger traces every start of the container to l: each step of the
// parent's (the clone, which writes the id maps, the cgroup, the veth pair,
// waiting for the init) and of the init's (mounts, pivot_root, Landlock,
// capabilities, seccomp, exec) as one record at [slog.LevelDebug] with its
// duration, and a failed start with the step that failed. The init measures
// its own steps and sends the timings to the parent with its last message; it
// logs nothing itself. A nil l, or one for which debug is not enabled
// ([slog.Logger.Enabled] at Start), traces nothing and costs nothing: the
// init does not measure either. See "Tracing" in the package documentation.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) error {
		c.logger = l
		return nil
	})
}

// traceStep names a step of the start sequence in the trace (WithLogger).
// The init's steps travel to the parent as these numbers.
type traceStep uint8

// The init's steps, in order, then the parent's.
const (
	stepNone            traceStep = iota
	stepRuntime                   // the init's Go runtime and package initialisation, from its execve to the hook
	stepConfig                    // read and decode the configuration, close inherited descriptors
	stepWaitParent                // wait for the parent's "go"
	stepJoin                      // WithJoin: check the joined namespaces
	stepIdentity                  // become the user namespace's root, arm the parent-death signal
	stepCgroupNS                  // unshare the cgroup namespace
	stepSysctl                    // sysctls, oom_score_adj (and the exec FIFO's handle)
	stepMounts                    // the rootfs, its mounts and devices
	stepBeforePivot               // WithBeforePivot: wait for the parent's step
	stepCreateHooks               // WithCreateHook
	stepPivotRoot                 // pivot_root (or chroot)
	stepHostname                  // sethostname, setdomainname
	stepNetInside                 // the network inside: loopback up
	stepChdir                     // the working directory
	stepLandlockRuleset           // WithLandlock: build the ruleset
	stepTerminal                  // WithTerminal
	stepRlimits                   // setrlimit
	stepSetUser                   // setgroups, setgid, setuid
	stepExecFIFO                  // WithExecFIFO: park until started
	stepLandlock                  // WithLandlock: restrict the thread
	stepSeccomp                   // load the seccomp filter
	stepCapabilities              // drop capabilities (and no_new_privs)
	stepStartHooks                // WithStartHook
	stepCloseFDs                  // close-on-exec sweep, ExtraFiles in place
	stepPidsHandshake             // WithPids: the parent lowers pids.max
	stepExec                      // execve, measured by the parent: from the init's trace to EOF
	// The parent's steps.
	stepPlan       // the plan: capabilities, Landlock ABI, the init's executable
	stepRecMounts  // WithoutNamespace(NSMount): record the host's mounts
	stepOverlay    // WithOverlay
	stepCgroup     // create the cgroup
	stepVeth       // create the veth pair
	stepJoinNS     // WithNamespacePath
	stepClone      // clone the init (os/exec also writes the id maps)
	stepSendConfig // send the configuration
	stepJoinCgroup // cgroup v1: move the init into the cgroup
	stepAttachVeth // move the veth end into the container, configure the host's
	stepUserNet    // WithUserNetwork
	stepWaitInit   // wait for the init's last message
	stepPids       // WithPids: lower pids.max
	numSteps
)

var stepNames = [numSteps]string{
	stepNone: "none", stepRuntime: "runtime start", stepConfig: "config", stepWaitParent: "wait for parent",
	stepJoin: "join", stepIdentity: "identity", stepCgroupNS: "cgroup namespace", stepSysctl: "sysctl",
	stepMounts: "mounts", stepBeforePivot: "before pivot_root", stepCreateHooks: "createContainer hooks",
	stepPivotRoot: "pivot_root", stepHostname: "hostname", stepNetInside: "network inside",
	stepChdir: "chdir", stepLandlockRuleset: "landlock ruleset", stepTerminal: "terminal",
	stepRlimits: "rlimits", stepSetUser: "user", stepExecFIFO: "exec fifo", stepLandlock: "landlock",
	stepSeccomp: "seccomp", stepCapabilities: "capabilities", stepStartHooks: "startContainer hooks",
	stepCloseFDs: "close fds", stepPidsHandshake: "pids handshake", stepExec: "exec",
	stepPlan: "plan", stepRecMounts: "record mounts", stepOverlay: "overlay", stepCgroup: "cgroup",
	stepVeth: "veth", stepJoinNS: "join namespaces", stepClone: "clone", stepSendConfig: "send config",
	stepJoinCgroup: "join cgroup", stepAttachVeth: "attach veth", stepUserNet: "user network",
	stepWaitInit: "wait for init", stepPids: "pids",
}

func (s traceStep) String() string {
	if s < numSteps {
		return stepNames[s]
	}
	return "step " + strconv.Itoa(int(s))
}

// traceRecord is one step the init measured, as it crosses to the parent
// (traceRecLen bytes each: the step, a failure flag, the duration in ns).
type traceRecord struct {
	step   traceStep
	failed bool
	dur    int64
}

const traceRecLen = 10

// encodeTrace encodes the init's trace: its start (CLOCK_MONOTONIC ns, for
// stepRuntime) and its records.
func encodeTrace(start int64, recs []traceRecord) []byte {
	b := make([]byte, 8, 8+traceRecLen*len(recs))
	binary.BigEndian.PutUint64(b, uint64(start))
	for _, r := range recs {
		var e [traceRecLen]byte
		e[0] = byte(r.step)
		if r.failed {
			e[1] = 1
		}
		binary.BigEndian.PutUint64(e[2:], uint64(r.dur))
		b = append(b, e[:]...)
	}
	return b
}

func decodeTrace(b []byte) (start int64, recs []traceRecord, ok bool) {
	if len(b) < 8 || (len(b)-8)%traceRecLen != 0 {
		return 0, nil, false
	}
	start = int64(binary.BigEndian.Uint64(b))
	for b = b[8:]; len(b) > 0; b = b[traceRecLen:] {
		recs = append(recs, traceRecord{step: traceStep(b[0]), failed: b[1] != 0, dur: int64(binary.BigEndian.Uint64(b[2:]))})
	}
	return start, recs, true
}
