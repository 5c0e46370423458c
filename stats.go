package container

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// Stats is a snapshot of what the container's cgroup accounts. A field the
// container's cgroup does not account is zero: memory needs [WithMemory], and
// on cgroup v1 CPU time needs [WithCPU] or [WithCPUShares].
type Stats struct {
	MemoryBytes     uint64        // memory in use now (memory.current; v1 memory.usage_in_bytes)
	MemoryPeakBytes uint64        // most memory in use so far (memory.peak; v1 memory.max_usage_in_bytes)
	Pids            uint64        // tasks (processes and threads) now (pids.current, or the cgroup's task count)
	CPUTime         time.Duration // CPU time used so far (cpu.stat usage_usec; v1 cpuacct.usage)
	OOMKills        uint64        // processes the OOM killer killed (memory.events oom_kill; v1 memory.oom_control oom_kill)

	// The pressure stall information (PSI) of the container's cgroup:
	// cpu.pressure, memory.pressure and io.pressure. Only cgroup v2 has it,
	// in every cgroup whatever its controllers, on a kernel built with
	// CONFIG_PSI and not booted with psi=0; elsewhere these are zero.
	CPUPressure, MemoryPressure, IOPressure Pressure
}

// Pressure is how long the tasks of a cgroup stalled waiting for one
// resource, as a cgroup v2 *.pressure file reports it
// (Documentation/accounting/psi.rst).
type Pressure struct {
	Some PressureLine // at least one task stalled
	Full PressureLine // every non-idle task stalled at once
}

// PressureLine is one line of a *.pressure file.
type PressureLine struct {
	// The share of wall time stalled, in percent, averaged over the last
	// 10, 60 and 300 seconds.
	Avg10, Avg60, Avg300 float64
	// The time stalled since the cgroup was made.
	Total time.Duration
}

// parsePressure parses the content of a *.pressure file: "some" and "full"
// lines of avg10=, avg60=, avg300= and total= (µs). Unknown lines and keys are
// ignored; ok is false when there is no line it knows.
func parsePressure(s string) (p Pressure, ok bool) {
	for _, line := range strings.Split(s, "\n") {
		kind, rest, _ := strings.Cut(line, " ")
		var l *PressureLine
		switch kind {
		case "some":
			l = &p.Some
		case "full":
			l = &p.Full
		default:
			continue
		}
		ok = true
		for _, kv := range strings.Fields(rest) {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "avg10", "avg60", "avg300":
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					continue
				}
				switch k {
				case "avg10":
					l.Avg10 = f
				case "avg60":
					l.Avg60 = f
				default:
					l.Avg300 = f
				}
			case "total":
				if n, err := strconv.ParseUint(v, 10, 64); err == nil {
					l.Total = time.Duration(n) * time.Microsecond
				}
			}
		}
	}
	return p, ok
}

// ErrNoCgroup is returned by Stats for a container that has no cgroup, because
// it was started without any of [WithMemory], [WithCPU], [WithCPUShares] and
// [WithPids].
var ErrNoCgroup = errors.New("container: no cgroup: Stats needs a resource limit (WithMemory, WithCPU, WithCPUShares or WithPids)")
