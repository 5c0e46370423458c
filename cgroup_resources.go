package container

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/ctrkit/container/internal/lifecycle"
)

// The cgroup controls beyond the four limit options (WithResources): the
// option, its validation, and the pure rendering into (file, value) pairs for
// cgroup v1 and v2, given what the host has (cgroupHost). What a host cannot
// apply makes the rendering fail, naming the field and why; Start then fails.

// Resources are the cgroup controls beyond [WithMemory], [WithCPU],
// [WithCPUShares] and [WithPids], for [WithResources] and
// [github.com/ctrkit/container/oci.UpdateCgroup]. A zero field asks for
// nothing: its cgroup file keeps the kernel's default. Each field names the
// files it drives; a field a host cannot apply (a controller that is not
// mounted or not available, a file the kernel lacks, a cgroup v1 control on a
// cgroup v2 host) makes Start fail with an error naming the field and why.
type Resources struct {
	// MemoryReservation is a soft memory limit in bytes, the memory the
	// kernel tries to leave the container when the host runs short:
	// memory.soft_limit_in_bytes on v1, memory.low on v2.
	MemoryReservation int64
	// MemoryHigh is a throttle in bytes: above it the kernel reclaims the
	// container's memory hard and slows its allocations down, but kills
	// nothing (WithMemory's limit is where the OOM killer starts):
	// memory.high, cgroup v2 only (v1 has none: Start fails there).
	MemoryHigh int64
	// MemorySwappiness (0 to 100) is how readily the kernel swaps the
	// container's memory out: memory.swappiness, cgroup v1 only (v2 has
	// none). nil leaves the inherited value.
	MemorySwappiness *uint64
	// DisableOOMKiller stops the OOM killer in the container's cgroup: a
	// container that reaches its memory limit waits for memory instead of
	// losing a process. memory.oom_control, cgroup v1 only (v2 has none).
	// Being a zero-means-nothing field, oci.UpdateCgroup cannot turn it off.
	DisableOOMKiller bool
	// KernelTCPMemory limits the memory of the container's TCP buffers, in
	// bytes: memory.kmem.tcp.limit_in_bytes on v1. cgroup v2 charges socket
	// memory to memory.max and has no limit of its own for it, so there the
	// value is only accepted when [WithMemory]'s limit is at most this value
	// (memory.max then enforces it); otherwise Start fails.
	KernelTCPMemory int64
	// CPUPeriod is the CFS period in microseconds (1000 to 1000000) that
	// [WithCPU]'s quota is a fraction of, instead of 100000 (cpus × period is
	// the quota): cpu.cfs_period_us on v1, the second value of cpu.max on v2.
	CPUPeriod uint64
	// CPUs and Mems are the CPUs and memory nodes the container may use, as
	// lists such as "0-1,3": cpuset.cpus and cpuset.mems. On cgroup v1 a
	// cpuset cgroup needs both before a task may join it: the one not given
	// is copied from the parent cgroup, and so is each of both for parents
	// that have none (a cgroup made by mkdir starts without).
	CPUs, Mems string
	// RealtimeRuntime and RealtimePeriod, in microseconds, give the
	// container's real-time tasks RealtimeRuntime of every RealtimePeriod
	// (-1 runtime: no limit): cpu.rt_runtime_us and cpu.rt_period_us,
	// cgroup v1 with CONFIG_RT_GROUP_SCHED only. A runtime needs room in the
	// parent cgroup's own runtime, or the kernel refuses it.
	RealtimeRuntime int64
	RealtimePeriod  uint64
	// BlockIOWeight (10 to 1000) is the container's share of block I/O
	// relative to its siblings: blkio.weight (CFQ) or blkio.bfq.weight (BFQ)
	// on v1, whichever the kernel has; io.bfq.weight, or io.weight (converted
	// to its 1-10000 range), on v2. Start fails when the kernel has neither.
	BlockIOWeight uint16
	// BlockIOLeafWeight (10 to 1000) is the weight of the container's own
	// tasks against its child cgroups: blkio.leaf_weight, which only CFQ had
	// (gone since Linux 5.0). Start fails where the file does not exist.
	BlockIOLeafWeight uint16
	// BlockIODevices are per-device weights and throttles.
	BlockIODevices []BlockIODevice
	// HugepageLimits limit the container's use of huge pages of each size:
	// hugetlb.<size>.limit_in_bytes on v1, hugetlb.<size>.max on v2. Start
	// fails for a page size the host does not have.
	HugepageLimits []HugepageLimit
	// NetClassID tags the container's network packets with a class id for
	// traffic control (tc) and netfilter: net_cls.classid, cgroup v1 only.
	NetClassID uint32
	// NetPriorities set the priority of the container's packets per network
	// interface: net_prio.ifpriomap, cgroup v1 only. The kernel looks the
	// interface names up in the host's initial network namespace.
	NetPriorities []NetPriority
	// Unified writes cgroup v2 files of the container's cgroup as given,
	// file name to value ("memory.oom.group": "1"), after every other
	// control, so that a file named here wins (runc's linux.resources.unified,
	// which kubelet sends on v2 hosts). A name is a file of the cgroup's own
	// directory: "controller.file" (that controller is enabled for it) or a
	// "cgroup." core file. pids.max is taken as the task limit, as
	// [WithPids] (the init's reserve then works the same). cgroup v2 only:
	// on a v1 or hybrid host Start fails.
	Unified map[string]string
}

// BlockIODevice sets the block I/O weights and throttles of the container
// for one block device, a whole disk given by its device numbers. Zero
// fields ask for nothing.
type BlockIODevice struct {
	Major, Minor int64
	// Weight and LeafWeight (10 to 1000), as Resources.BlockIOWeight and
	// BlockIOLeafWeight for this device: blkio.weight_device (or
	// blkio.bfq.weight_device) and blkio.leaf_weight_device on v1, a line
	// of io.weight (or io.bfq.weight) on v2, where there are no leaf weights.
	// BFQ accepts a device weight only for a device it schedules.
	Weight, LeafWeight uint16
	// ReadBPS, WriteBPS (bytes per second) and ReadIOPS, WriteIOPS
	// (operations per second) throttle the device:
	// blkio.throttle.{read,write}_{bps,iops}_device on v1, io.max on v2.
	ReadBPS, WriteBPS, ReadIOPS, WriteIOPS uint64
}

// HugepageLimit limits the container's huge pages of one size.
type HugepageLimit struct {
	PageSize string // the size as the kernel names it: "2MB", "1GB", "64KB"
	Bytes    uint64 // the limit, in bytes
}

// NetPriority is the priority of the container's packets on one interface.
type NetPriority struct {
	Interface string
	Priority  uint32
}

// WithResources sets the cgroup controls of r (see Resources) on the
// container's cgroup, before its first process runs; a later WithResources
// replaces an earlier one as a whole. It gives the container a cgroup, as the
// limit options do (see [WithMemory]), in the cgroup v1 hierarchies of the
// fields that are set. Needs root or a delegated cgroup; Start fails when a
// field cannot be applied.
func WithResources(r Resources) Option {
	return optionFunc(func(c *config) error {
		if err := r.check(); err != nil {
			return optErr("WithResources", nil, "%w", err)
		}
		r.BlockIODevices = slices.Clone(r.BlockIODevices)
		r.HugepageLimits = slices.Clone(r.HugepageLimits)
		r.NetPriorities = slices.Clone(r.NetPriorities)
		r.Unified = maps.Clone(r.Unified)
		if r.MemorySwappiness != nil {
			v := *r.MemorySwappiness
			r.MemorySwappiness = &v
		}
		c.limits.res = r
		return nil
	})
}

var (
	cpuListRE  = regexp.MustCompile(`^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$`)
	pageSizeRE = regexp.MustCompile(`^[1-9][0-9]*(KB|MB|GB)$`)
)

func checkWeight(name string, w uint16) error {
	if w != 0 && (w < 10 || w > 1000) {
		return fmt.Errorf("%s %d: must be between 10 and 1000", name, w)
	}
	return nil
}

// check validates r without looking at the host.
func (r *Resources) check() error {
	switch {
	case r.MemoryReservation < 0:
		return fmt.Errorf("MemoryReservation %d: must not be negative", r.MemoryReservation)
	case r.MemoryHigh < 0:
		return fmt.Errorf("MemoryHigh %d: must not be negative", r.MemoryHigh)
	case r.MemorySwappiness != nil && *r.MemorySwappiness > 100:
		return fmt.Errorf("MemorySwappiness %d: must be at most 100", *r.MemorySwappiness)
	case r.KernelTCPMemory < 0:
		return fmt.Errorf("KernelTCPMemory %d: must not be negative", r.KernelTCPMemory)
	case r.CPUPeriod != 0 && (r.CPUPeriod < 1000 || r.CPUPeriod > 1000000):
		return fmt.Errorf("CPUPeriod %d: must be between 1000 and 1000000 µs", r.CPUPeriod)
	case r.CPUs != "" && !cpuListRE.MatchString(r.CPUs):
		return fmt.Errorf("CPUs %q: want a list such as 0-1,3", r.CPUs)
	case r.Mems != "" && !cpuListRE.MatchString(r.Mems):
		return fmt.Errorf("Mems %q: want a list such as 0-1,3", r.Mems)
	case r.RealtimeRuntime < -1:
		return fmt.Errorf("RealtimeRuntime %d: must be -1 (no limit) or more", r.RealtimeRuntime)
	case r.RealtimeRuntime > 0 && r.RealtimePeriod != 0 && uint64(r.RealtimeRuntime) > r.RealtimePeriod:
		return fmt.Errorf("RealtimeRuntime %d: above RealtimePeriod %d", r.RealtimeRuntime, r.RealtimePeriod)
	}
	if err := checkWeight("BlockIOWeight", r.BlockIOWeight); err != nil {
		return err
	}
	if err := checkWeight("BlockIOLeafWeight", r.BlockIOLeafWeight); err != nil {
		return err
	}
	seen := map[[2]int64]bool{}
	for _, d := range r.BlockIODevices {
		name := fmt.Sprintf("BlockIODevices %d:%d", d.Major, d.Minor)
		if d.Major < 0 || d.Minor < 0 {
			return fmt.Errorf("%s: device numbers must not be negative", name)
		}
		if seen[[2]int64{d.Major, d.Minor}] {
			return fmt.Errorf("%s: given twice", name)
		}
		seen[[2]int64{d.Major, d.Minor}] = true
		if err := checkWeight(name+" Weight", d.Weight); err != nil {
			return err
		}
		if err := checkWeight(name+" LeafWeight", d.LeafWeight); err != nil {
			return err
		}
	}
	sizes := map[string]bool{}
	for _, h := range r.HugepageLimits {
		if !pageSizeRE.MatchString(h.PageSize) {
			return fmt.Errorf("HugepageLimits %q: want a page size such as 2MB, 1GB or 64KB", h.PageSize)
		}
		if sizes[h.PageSize] {
			return fmt.Errorf("HugepageLimits %q: given twice", h.PageSize)
		}
		sizes[h.PageSize] = true
	}
	for _, p := range r.NetPriorities {
		if p.Interface == "" || len(p.Interface) > 15 || strings.ContainsAny(p.Interface, " /\n\t\x00") {
			return fmt.Errorf("NetPriorities %q: not an interface name", p.Interface)
		}
	}
	for name, value := range r.Unified {
		ctrl, file, ok := strings.Cut(name, ".")
		if !ok || ctrl == "" || file == "" || !unifiedName(name) {
			return fmt.Errorf("Unified %q: not a cgroup v2 file name (controller.file, such as memory.oom.group)", name)
		}
		if strings.ContainsRune(value, 0) {
			return fmt.Errorf("Unified %q: the value holds a NUL byte", name)
		}
		if name == "cgroup.procs" || name == "cgroup.threads" || name == "cgroup.subtree_control" || name == "cgroup.kill" || name == "cgroup.freeze" {
			return fmt.Errorf("Unified %q: the runtime manages this file itself", name)
		}
	}
	return nil
}

// resourceErr marks err, a control of Resources that this host cannot
// apply, with the name of its field, for the OCI runtime to name the spec's.
func resourceErr(field string, err error) error {
	return &lifecycle.ResourceError{Field: field, Err: err}
}

// unifiedName reports whether name looks like a cgroup v2 file name: lower
// case letters, digits, '_' and '.', no '/'.
func unifiedName(name string) bool {
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// foldUnifiedPids makes a Unified pids.max the container's task limit, as if
// WithPids had asked for it (Unified wins over the limit options): the init's
// reserve of tasks is then added and taken away at its execve like
// WithPids' (cgroup.go: pidsMax), where a file written as given would either
// starve the init or be overwritten by that handshake. "max" is no limit.
func (l *limitsConfig) foldUnifiedPids() {
	v, ok := l.res.Unified["pids.max"]
	if !ok {
		return
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
		l.pids = n
	} else if v == "max" {
		l.pids = 0
	} else {
		return // written as given: the kernel's refusal fails Start
	}
	delete(l.res.Unified, "pids.max") // WithResources' copy
}

// unifiedController is the v2 controller a Unified file belongs to, "" for
// a core ("cgroup.") file.
func unifiedController(name string) string {
	ctrl, _, _ := strings.Cut(name, ".")
	if ctrl == "cgroup" {
		return ""
	}
	return ctrl
}

// memory, cpuset, blkio... report which controllers r needs.
func (r *Resources) memory() bool {
	return r.MemoryReservation > 0 || r.MemoryHigh > 0 || r.MemorySwappiness != nil || r.DisableOOMKiller || r.KernelTCPMemory > 0
}
func (r *Resources) cpu() bool {
	return r.CPUPeriod > 0 || r.RealtimeRuntime != 0 || r.RealtimePeriod > 0
}
func (r *Resources) cpuset() bool { return r.CPUs != "" || r.Mems != "" }
func (r *Resources) blkio() bool {
	return r.BlockIOWeight > 0 || r.BlockIOLeafWeight > 0 || len(r.BlockIODevices) > 0
}
func (r *Resources) any() bool {
	return r.memory() || r.cpu() || r.cpuset() || r.blkio() || len(r.HugepageLimits) > 0 ||
		r.NetClassID > 0 || len(r.NetPriorities) > 0 || len(r.Unified) > 0
}

// hugepageSizeName names a huge page size of kB kibibytes the way the kernel's
// hugetlb controller names its files ("2MB", "1GB", "64KB").
func hugepageSizeName(kB uint64) string {
	switch {
	case kB >= 1<<20 && kB%(1<<20) == 0:
		return strconv.FormatUint(kB>>20, 10) + "GB"
	case kB >= 1<<10 && kB%(1<<10) == 0:
		return strconv.FormatUint(kB>>10, 10) + "MB"
	}
	return strconv.FormatUint(kB, 10) + "KB"
}

// blkioWeightToIOWeight maps a blkio weight [10, 1000] onto io.weight
// [1, 10000], the conversion runc and crun use.
func blkioWeightToIOWeight(w uint16) uint64 {
	return 1 + (uint64(w)-10)*9999/990
}

func devNum(d BlockIODevice) string { return fmt.Sprintf("%d:%d", d.Major, d.Minor) }

// checkHugepages fails for a page size the host does not have.
func (r *Resources) checkHugepages(h cgroupHost) error {
	for _, l := range r.HugepageLimits {
		if !slices.Contains(h.hugepageSizes, l.PageSize) {
			have := "none"
			if len(h.hugepageSizes) > 0 {
				have = strings.Join(h.hugepageSizes, ", ")
			}
			return resourceErr("HugepageLimits", fmt.Errorf("HugepageLimits %s: this host has no huge pages of that size (it has %s)", l.PageSize, have))
		}
	}
	return nil
}

// v1Files renders r into cgroup v1 files, after the limit options' files.
func (r *Resources) v1Files(h cgroupHost) ([]cgroupFile, error) {
	if r.MemoryHigh > 0 {
		return nil, resourceErr("MemoryHigh", fmt.Errorf("MemoryHigh: memory.high is cgroup v2 only; cgroup v1 has no memory throttle"))
	}
	if len(r.Unified) > 0 {
		return nil, resourceErr("Unified", fmt.Errorf("Unified %s: cgroup v2 files, and this host's controllers are in cgroup v1 hierarchies (a hybrid host's unified hierarchy has none)", strings.Join(slices.Sorted(maps.Keys(r.Unified)), ", ")))
	}
	var fs []cgroupFile
	add := func(ctrl, name, value string) { fs = append(fs, cgroupFile{ctrl, name, value}) }
	if r.MemoryReservation > 0 {
		add("memory", "memory.soft_limit_in_bytes", strconv.FormatInt(r.MemoryReservation, 10))
	}
	if r.MemorySwappiness != nil {
		add("memory", "memory.swappiness", strconv.FormatUint(*r.MemorySwappiness, 10))
	}
	if r.DisableOOMKiller {
		add("memory", "memory.oom_control", "1")
	}
	if r.KernelTCPMemory > 0 {
		add("memory", "memory.kmem.tcp.limit_in_bytes", strconv.FormatInt(r.KernelTCPMemory, 10))
	}
	if r.RealtimeRuntime != 0 || r.RealtimePeriod > 0 {
		if !h.realtime {
			return nil, resourceErr("RealtimeRuntime", fmt.Errorf("RealtimeRuntime/RealtimePeriod: this kernel has no cpu.rt_runtime_us (it is built without CONFIG_RT_GROUP_SCHED)"))
		}
		if r.RealtimePeriod > 0 {
			add("cpu", "cpu.rt_period_us", strconv.FormatUint(r.RealtimePeriod, 10))
		}
		if r.RealtimeRuntime != 0 {
			add("cpu", "cpu.rt_runtime_us", strconv.FormatInt(r.RealtimeRuntime, 10))
		}
	}
	if r.cpuset() {
		cpus, mems := r.CPUs, r.Mems
		if cpus == "" {
			cpus = h.parentCPUs
		}
		if mems == "" {
			mems = h.parentMems
		}
		// An empty value is only left out by UpdateCgroup, whose cgroup
		// has both already.
		if cpus != "" {
			add("cpuset", "cpuset.cpus", cpus)
		}
		if mems != "" {
			add("cpuset", "cpuset.mems", mems)
		}
	}
	if r.blkio() {
		weighted := r.BlockIOWeight > 0
		leaf := r.BlockIOLeafWeight > 0
		for _, d := range r.BlockIODevices {
			weighted = weighted || d.Weight > 0
			leaf = leaf || d.LeafWeight > 0
		}
		if weighted && h.blkioWeight == "" {
			return nil, resourceErr("BlockIOWeight", fmt.Errorf("BlockIOWeight: this kernel has neither blkio.weight (CFQ) nor blkio.bfq.weight (BFQ)"))
		}
		if leaf && !h.blkioLeaf {
			return nil, resourceErr("BlockIOLeafWeight", fmt.Errorf("BlockIOLeafWeight: this kernel has no blkio.leaf_weight (only the CFQ I/O scheduler had leaf weights; it is gone since Linux 5.0)"))
		}
		if r.BlockIOWeight > 0 {
			add("blkio", h.blkioWeight, strconv.FormatUint(uint64(r.BlockIOWeight), 10))
		}
		if r.BlockIOLeafWeight > 0 {
			add("blkio", "blkio.leaf_weight", strconv.FormatUint(uint64(r.BlockIOLeafWeight), 10))
		}
		for _, d := range r.BlockIODevices {
			for _, f := range []struct {
				name  string
				value uint64
			}{
				{h.blkioWeight + "_device", uint64(d.Weight)},
				{"blkio.leaf_weight_device", uint64(d.LeafWeight)},
				{"blkio.throttle.read_bps_device", d.ReadBPS},
				{"blkio.throttle.write_bps_device", d.WriteBPS},
				{"blkio.throttle.read_iops_device", d.ReadIOPS},
				{"blkio.throttle.write_iops_device", d.WriteIOPS},
			} {
				if f.value > 0 {
					add("blkio", f.name, devNum(d)+" "+strconv.FormatUint(f.value, 10))
				}
			}
		}
	}
	if err := r.checkHugepages(h); err != nil {
		return nil, err
	}
	for _, l := range r.HugepageLimits {
		add("hugetlb", "hugetlb."+l.PageSize+".limit_in_bytes", strconv.FormatUint(l.Bytes, 10))
	}
	if r.NetClassID > 0 {
		add("net_cls", "net_cls.classid", strconv.FormatUint(uint64(r.NetClassID), 10))
	}
	for _, p := range r.NetPriorities {
		add("net_prio", "net_prio.ifpriomap", p.Interface+" "+strconv.FormatUint(uint64(p.Priority), 10))
	}
	return fs, nil
}

// v2Files renders r into cgroup v2 files. memoryLimit is WithMemory's limit
// (0: none), against which KernelTCPMemory is checked.
func (r *Resources) v2Files(h cgroupHost, memoryLimit int64) ([]cgroupFile, error) {
	switch {
	case r.MemorySwappiness != nil:
		return nil, resourceErr("MemorySwappiness", fmt.Errorf("MemorySwappiness: memory.swappiness is cgroup v1 only; cgroup v2 has no per-cgroup swappiness"))
	case r.DisableOOMKiller:
		return nil, resourceErr("DisableOOMKiller", fmt.Errorf("DisableOOMKiller: memory.oom_control is cgroup v1 only; cgroup v2 cannot disable the OOM killer"))
	case r.KernelTCPMemory > 0 && (memoryLimit == 0 || memoryLimit > r.KernelTCPMemory):
		return nil, resourceErr("KernelTCPMemory", fmt.Errorf("KernelTCPMemory %d: cgroup v2 has no TCP memory limit of its own (socket memory is charged to memory.max), so it needs a memory limit of at most that", r.KernelTCPMemory))
	case r.RealtimeRuntime != 0 || r.RealtimePeriod > 0:
		return nil, resourceErr("RealtimeRuntime", fmt.Errorf("RealtimeRuntime/RealtimePeriod: cpu.rt_* are cgroup v1 only; cgroup v2 has no real-time group scheduling"))
	case r.BlockIOLeafWeight > 0:
		return nil, resourceErr("BlockIOLeafWeight", fmt.Errorf("BlockIOLeafWeight: cgroup v2 has no leaf weights"))
	case r.NetClassID > 0 || len(r.NetPriorities) > 0:
		return nil, resourceErr("NetClassID", fmt.Errorf("NetClassID/NetPriorities: net_cls and net_prio are cgroup v1 controllers; cgroup v2 has none (it classifies packets with eBPF)"))
	}
	var fs []cgroupFile
	add := func(ctrl, name, value string) { fs = append(fs, cgroupFile{ctrl, name, value}) }
	if r.MemoryReservation > 0 {
		add("memory", "memory.low", strconv.FormatInt(r.MemoryReservation, 10))
	}
	if r.MemoryHigh > 0 {
		add("memory", "memory.high", strconv.FormatInt(r.MemoryHigh, 10))
	}
	if r.CPUs != "" {
		add("cpuset", "cpuset.cpus", r.CPUs)
	}
	if r.Mems != "" {
		add("cpuset", "cpuset.mems", r.Mems)
	}
	if r.blkio() {
		weight := func(w uint16) string {
			if h.blkioWeight == "io.weight" {
				return strconv.FormatUint(blkioWeightToIOWeight(w), 10)
			}
			return strconv.FormatUint(uint64(w), 10)
		}
		for _, d := range r.BlockIODevices {
			if d.LeafWeight > 0 {
				return nil, resourceErr("BlockIODevices", fmt.Errorf("BlockIODevices %s LeafWeight: cgroup v2 has no leaf weights", devNum(d)))
			}
			if d.Weight > 0 && h.blkioWeight == "" {
				return nil, resourceErr("BlockIODevices", fmt.Errorf("BlockIODevices %s Weight: this kernel has neither io.weight nor io.bfq.weight", devNum(d)))
			}
		}
		if r.BlockIOWeight > 0 {
			if h.blkioWeight == "" {
				return nil, resourceErr("BlockIOWeight", fmt.Errorf("BlockIOWeight: this kernel has neither io.weight nor io.bfq.weight"))
			}
			add("io", h.blkioWeight, "default "+weight(r.BlockIOWeight))
		}
		for _, d := range r.BlockIODevices {
			if d.Weight > 0 {
				add("io", h.blkioWeight, devNum(d)+" "+weight(d.Weight))
			}
			var max []string
			for _, f := range []struct {
				key   string
				value uint64
			}{{"rbps", d.ReadBPS}, {"wbps", d.WriteBPS}, {"riops", d.ReadIOPS}, {"wiops", d.WriteIOPS}} {
				if f.value > 0 {
					max = append(max, f.key+"="+strconv.FormatUint(f.value, 10))
				}
			}
			if len(max) > 0 {
				add("io", "io.max", devNum(d)+" "+strings.Join(max, " "))
			}
		}
	}
	if err := r.checkHugepages(h); err != nil {
		return nil, err
	}
	for _, l := range r.HugepageLimits {
		add("hugetlb", "hugetlb."+l.PageSize+".max", strconv.FormatUint(l.Bytes, 10))
	}
	for _, name := range slices.Sorted(maps.Keys(r.Unified)) {
		add(unifiedController(name), name, r.Unified[name])
	}
	return fs, nil
}

// v1Controllers returns the v1 hierarchies r needs, besides the limit
// options' (memory and cpu are among those).
func (r *Resources) v1Controllers() []string {
	var cs []string
	if r.cpuset() {
		cs = append(cs, "cpuset")
	}
	if r.blkio() {
		cs = append(cs, "blkio")
	}
	if len(r.HugepageLimits) > 0 {
		cs = append(cs, "hugetlb")
	}
	if r.NetClassID > 0 {
		cs = append(cs, "net_cls")
	}
	if len(r.NetPriorities) > 0 {
		cs = append(cs, "net_prio")
	}
	return cs
}

// v2Controllers returns the v2 controllers r needs, besides the limit
// options'.
func (r *Resources) v2Controllers() []string {
	var cs []string
	if r.cpuset() {
		cs = append(cs, "cpuset")
	}
	if r.blkio() {
		cs = append(cs, "io")
	}
	if len(r.HugepageLimits) > 0 {
		cs = append(cs, "hugetlb")
	}
	for _, name := range slices.Sorted(maps.Keys(r.Unified)) {
		if c := unifiedController(name); c != "" && !slices.Contains(cs, c) {
			cs = append(cs, c)
		}
	}
	return cs
}
