package container

import (
	"errors"
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
}

// ErrNoCgroup is returned by Stats for a container that has no cgroup, because
// it was started without any of [WithMemory], [WithCPU], [WithCPUShares] and
// [WithPids].
var ErrNoCgroup = errors.New("container: no cgroup: Stats needs a resource limit (WithMemory, WithCPU, WithCPUShares or WithPids)")
