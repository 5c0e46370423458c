package container

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Stats reads the container's resource usage from its cgroup. While the
// container runs it reads the kernel's counters; after Wait it returns the last
// values, read just before the cgroup was removed. It returns [ErrNotStarted]
// before Start and [ErrNoCgroup] for a container without limits.
func (c *Container) Stats() (Stats, error) {
	c.mu.Lock()
	r := c.run
	c.mu.Unlock()
	if r == nil {
		return Stats{}, ErrNotStarted
	}
	s := r.cg
	if s == nil || !s.limits.needsCgroup() { // none, or the view's alone
		return Stats{}, ErrNoCgroup
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.removed {
		return s.final, nil
	}
	return s.readStats(), nil
}

// readStats reads the cgroup's counters; a counter that cannot be read is zero.
// The caller holds s.mu.
func (s *cgroupState) readStats() Stats {
	var st Stats
	if s.v2 {
		dir := s.dirs[""]
		st.MemoryBytes = readUint(filepath.Join(dir, "memory.current"))
		st.MemoryPeakBytes = readUint(filepath.Join(dir, "memory.peak"))
		st.CPUTime = time.Duration(readKV(filepath.Join(dir, "cpu.stat"))["usage_usec"]) * time.Microsecond
		st.OOMKills = readKV(filepath.Join(dir, "memory.events"))["oom_kill"]
		if _, err := os.Stat(filepath.Join(dir, "pids.current")); err == nil {
			st.Pids = readUint(filepath.Join(dir, "pids.current"))
		} else {
			st.Pids = countLines(filepath.Join(dir, "cgroup.threads"))
		}
		st.CPUPressure = readPressure(filepath.Join(dir, "cpu.pressure"))
		st.MemoryPressure = readPressure(filepath.Join(dir, "memory.pressure"))
		st.IOPressure = readPressure(filepath.Join(dir, "io.pressure"))
		return st
	}
	if d := s.dirs["memory"]; d != "" {
		st.MemoryBytes = readUint(filepath.Join(d, "memory.usage_in_bytes"))
		st.MemoryPeakBytes = readUint(filepath.Join(d, "memory.max_usage_in_bytes"))
		oc := readKV(filepath.Join(d, "memory.oom_control"))
		if n, ok := oc["oom_kill"]; ok {
			st.OOMKills = n
		} else if readUint(filepath.Join(d, "memory.failcnt")) > 0 && oc["under_oom"] > 0 {
			// Kernels before 4.13 do not count OOM kills; a cgroup that hit
			// its limit and is under OOM is the best sign left.
			st.OOMKills = 1
		}
	}
	if d := s.dirs["cpuacct"]; d != "" {
		st.CPUTime = time.Duration(readUint(filepath.Join(d, "cpuacct.usage")))
	}
	if d := s.dirs["pids"]; d != "" {
		st.Pids = readUint(filepath.Join(d, "pids.current"))
	} else if d := s.dirs["freezer"]; d != "" { // none for a hybrid host's view alone
		st.Pids = countLines(filepath.Join(d, "tasks"))
	}
	return st
}

func readUint(path string) uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return n
}

// readPressure reads a *.pressure file; it is zero where the file is missing
// or the kernel refuses to read it (PSI disabled: EOPNOTSUPP).
func readPressure(path string) Pressure {
	b, err := os.ReadFile(path)
	if err != nil {
		return Pressure{}
	}
	p, _ := parsePressure(string(b))
	return p
}

func countLines(path string) uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return uint64(len(strings.Fields(string(b))))
}
