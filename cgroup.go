package container

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/ctrkit/container/internal/lifecycle"

	"github.com/ctrkit/container/internal/devices"
)

// Resource limits through cgroups: the options, their validation, and the
// pure rendering of the options into (file, value) pairs for cgroup v1 and v2.
// The kernel side is cgroup_linux.go.

// limitsConfig is what the limit options asked for; zero values mean "no limit".
type limitsConfig struct {
	memory    int64   // bytes
	cpu       float64 // CPUs
	cpuShares uint64  // relative weight in v1 shares
	pids      int64   // tasks
	rlimits   []rlimitEntry
	init      bool                   // WithInit: a reaping init stays as PID 1
	path      string                 // WithCgroupPath (oci): absolute path in each hierarchy
	devices   []lifecycle.DeviceRule // WithDeviceRules (oci), then WithDevices' nodes
	deviceSet *devices.Set           // what they grant, with the standard devices (set by New)
	res       Resources              // WithResources (cgroup_resources.go)
	// view: the container mounts cgroup2 (WithMount), which must show its own
	// cgroup (the root of its cgroup namespace) and nothing of the host's
	// above it, so it gets a cgroup of its own even without a limit: on a
	// hybrid host one in the unified hierarchy too (unifiedKey).
	view bool
	// autoView: the library's own read-only view of the container's cgroups
	// at /sys/fs/cgroup (cgroupView), which every container with its own
	// mount and cgroup namespaces gets. Unlike a limit it is best effort: a
	// cgroup that cannot be made for it alone (rootless without delegation,
	// a v1 host without limits) leaves the container without one, and the
	// init hides /sys/fs/cgroup behind an empty read-only tmpfs instead.
	autoView bool
}

// unifiedKey names, among a hybrid host's v1 controllers, the cgroup2
// hierarchy mounted beside them (/sys/fs/cgroup/unified).
const unifiedKey = "unified"

// needsCgroup reports whether any option asked for a cgroup, which Start must
// make or fail.
func (l *limitsConfig) needsCgroup() bool {
	return l.memory > 0 || l.cpu > 0 || l.cpuShares > 0 || l.pids > 0 || l.path != "" || l.res.any() || l.view
}

// wantsCgroup reports whether Start makes a cgroup: one asked for, or one for
// the library's own view alone (best effort).
func (l *limitsConfig) wantsCgroup() bool { return l.needsCgroup() || l.autoView }

// MinMemory is the smallest memory limit [WithMemory] accepts: 6 MiB, Docker's
// minimum. Below it the kernel would OOM-kill the container's init while it
// is still setting the container up.
const MinMemory = 6 << 20

// cpuPeriod is the CFS period in microseconds that WithCPU's quota is a
// fraction of (the kernel's default, 100 ms).
const cpuPeriod = 100000

// minCPUQuota is the kernel's smallest CFS quota, 1 ms per period.
const minCPUQuota = 1000

// initTaskReserve is the fixed part of how many tasks (threads) pids.max
// allows the container's init, a Go program with threads of its own; the
// other part is one per CPU, since the Go runtime's thread count grows with
// GOMAXPROCS. Without WithInit pids.max is at least the reserve until the
// command is exec'd (the init's threads end with execve), then the WithPids
// value; with WithInit the init stays, so the reserve stays on top of it.
const initTaskReserve = 32

// WithMemory limits the memory the container may use to bytes, at least
// [MinMemory]: user memory and page cache, and swap too where the kernel
// accounts it (the limit covers memory plus swap, so swapping does not escape
// it). It drives memory.max and memory.swap.max on cgroup v2,
// memory.limit_in_bytes and memory.memsw.limit_in_bytes on v1. Beyond it the
// kernel's OOM killer kills a process in the container, and
// [ExitError.OOMKilled] reports it. Like every limit it needs root or a
// delegated cgroup (see Cgroups in the package documentation); Start fails when
// the cgroup cannot be created or the memory controller is not available.
func WithMemory(bytes int64) Option {
	return optionFunc(func(c *config) error {
		if bytes < MinMemory {
			return optErr("WithMemory", bytes, "memory limit must be at least %d bytes (6 MiB)", MinMemory)
		}
		c.limits.memory = bytes
		return nil
	})
}

// WithCPU limits the CPU time the container may use to cpus CPUs' worth
// (0.5: half of one CPU; 2: two CPUs), as a CFS quota per 100 ms period:
// cpu.max on cgroup v2, cpu.cfs_quota_us and cpu.cfs_period_us on v1.
// cpus must be at least 0.01 (the kernel's 1 ms minimum quota) and at most the
// number of CPUs of the host. Limits need root or a delegated cgroup; Start
// fails when the cgroup cannot be created or the cpu controller is not available.
func WithCPU(cpus float64) Option {
	return optionFunc(func(c *config) error {
		if math.IsNaN(cpus) || cpus*cpuPeriod < minCPUQuota {
			return optErr("WithCPU", cpus, "must be at least 0.01 CPUs")
		}
		if n := runtime.NumCPU(); cpus > float64(n) {
			return optErr("WithCPU", cpus, "more than the host's %d CPUs", n)
		}
		c.limits.cpu = cpus
		return nil
	})
}

// WithCPUShares sets the container's CPU weight relative to its siblings, in
// cgroup v1 shares (2 to 262144; 1024 is the default weight): cpu.shares on
// v1, and on v2 cpu.weight, converted to its 1-10000 range the way runc (from
// 1.3.2) and crun (from 1.23) do, 1024 shares to the default weight 100. It
// only matters when CPUs are contended. Limits need root or a delegated
// cgroup; Start fails when the cgroup cannot be created.
func WithCPUShares(shares uint64) Option {
	return optionFunc(func(c *config) error {
		if shares < 2 || shares > 262144 {
			return optErr("WithCPUShares", shares, "must be between 2 and 262144")
		}
		c.limits.cpuShares = shares
		return nil
	})
}

// WithPids limits the container to n tasks at once, n at least 1: processes and
// threads (pids.max counts threads) of the command and everything it starts. At
// the limit, fork and clone fail with EAGAIN inside the container. The init's own
// threads do not eat into n (see the pids reserve in the section Cgroups of the
// package documentation). Limits need root or a delegated cgroup; Start fails
// when the cgroup cannot be created or the pids controller is not available.
func WithPids(n int64) Option {
	return optionFunc(func(c *config) error {
		if n < 1 {
			return optErr("WithPids", n, "must be at least 1")
		}
		c.limits.pids = n
		return nil
	})
}

// WithInit keeps the container's init as PID 1, as `docker run --init` (tini)
// does: it starts the command as PID 2, forwards it every signal it can catch
// (all but SIGCHLD and the Go runtime's SIGURG), reaps every orphan reparented
// to it, and exits with the command's exit status, or 128 plus the signal
// number when a signal killed the command. Without it the command is PID 1 and
// must reap its own orphans. It needs no privilege; when the command cannot be
// started, Start fails with the same [*SetupError] as without WithInit.
func WithInit() Option {
	return optionFunc(func(c *config) error {
		c.limits.init = true
		return nil
	})
}

// cgroupFile is one value to write into a cgroup directory.
type cgroupFile struct {
	Controller string // the controller (v1: the hierarchy) the file belongs to
	Name       string // the file name in the cgroup's directory
	Value      string
}

// cgroupHost describes what the rendering needs to know about the host's cgroups.
type cgroupHost struct {
	swap        bool  // v1: memory.memsw.* exist; v2: memory.swap.max exists
	initReserve int64 // tasks pids.max allows the init on top of WithPids

	// What WithResources needs (cgroup_resources.go).
	parentCPUs, parentMems string   // v1: the parent cgroup's cpuset, for the one not asked for ("" on update)
	blkioWeight            string   // the weight file: blkio.weight or blkio.bfq.weight (v1), io.weight or io.bfq.weight (v2); "" none
	blkioLeaf              bool     // v1: blkio.leaf_weight exists (CFQ)
	realtime               bool     // v1: cpu.rt_runtime_us exists (CONFIG_RT_GROUP_SCHED)
	hugepageSizes          []string // the huge page sizes of the host, as the hugetlb files name them ("2MB")
	cpuMaxQuota            string   // v2: the quota in cpu.max that a period alone keeps ("" is "max")
}

// v1Controllers returns the v1 hierarchies the limits need, in a fixed order.
// The freezer is always among them: teardown freezes the container before it
// kills its processes, so none can fork while they are being killed. cpuacct
// comes with cpu so that Stats can report CPU time.
func (l *limitsConfig) v1Controllers() []string {
	var cs []string
	if l.memory > 0 || l.res.memory() {
		cs = append(cs, "memory")
	}
	if l.cpu > 0 || l.cpuShares > 0 || l.res.cpu() {
		cs = append(cs, "cpu", "cpuacct")
	}
	if l.pids > 0 {
		cs = append(cs, "pids")
	}
	cs = append(cs, l.res.v1Controllers()...)
	if l.view || l.autoView {
		cs = append(cs, unifiedKey)
	}
	if l.autoView && !l.needsCgroup() {
		return cs // the view's unified cgroup alone: cgroup.kill tears it down
	}
	return append(cs, "freezer")
}

// atV1Controllers and atV2Controllers are the controllers a cgroup at a
// fixed path (WithCgroupPath: an OCI runtime's) is also made in (v1) or has
// enabled in its parent (v2) where the host has them, though no limit needs
// them: the runtime's callers change its limits later (docker update -m,
// runc update) and read its statistics from them (docker stats: memory, CPU
// time, block I/O, pids), as runc makes its cgroups in every hierarchy.
var (
	atV1Controllers = []string{"memory", "cpu", "cpuacct", "pids", "blkio"}
	atV2Controllers = []string{"memory", "cpu", "io", "pids"}
)

// v1ControllersAt returns the v1 hierarchies of a cgroup at a fixed path:
// those the limits need (the devices hierarchy too with device rules), then
// those of atV1Controllers that mounted (v1Mounts: controller → mount point)
// has.
func (l *limitsConfig) v1ControllersAt(mounted map[string]string) []string {
	cs := l.v1Controllers()
	if l.devices != nil {
		cs = append(cs, "devices")
	}
	for _, c := range atV1Controllers {
		if _, ok := mounted[c]; ok && !slices.Contains(cs, c) {
			cs = append(cs, c)
		}
	}
	return cs
}

// v2ExtraAt returns the controllers of atV2Controllers that available (the
// parent's cgroup.controllers) lists and the limits do not need.
func (l *limitsConfig) v2ExtraAt(available string) []string {
	need, have := l.v2Controllers(), strings.Fields(available)
	var cs []string
	for _, c := range atV2Controllers {
		if slices.Contains(have, c) && !slices.Contains(need, c) {
			cs = append(cs, c)
		}
	}
	return cs
}

// v2Controllers returns the v2 controllers to enable in the parent's
// cgroup.subtree_control for the limits.
func (l *limitsConfig) v2Controllers() []string {
	var cs []string
	if l.cpu > 0 || l.cpuShares > 0 || l.res.CPUPeriod > 0 {
		cs = append(cs, "cpu")
	}
	if l.memory > 0 || l.res.MemoryReservation > 0 || l.res.MemoryHigh > 0 {
		cs = append(cs, "memory")
	}
	if l.pids > 0 {
		cs = append(cs, "pids")
	}
	for _, c := range l.res.v2Controllers() {
		if !slices.Contains(cs, c) { // Unified may name a limit's controller too
			cs = append(cs, c)
		}
	}
	return cs
}

// pidsMax is the pids.max value while the init runs, with reserve the tasks
// it may need. Without WithInit the init's tasks end with its execve, before
// the command starts any: n covers them unless it is smaller than the reserve
// (the parent lowers pids.max to n right before the execve), so pids.max is
// exactly n from the start for any n at least the reserve, as a runtime that
// reads it back between create and start expects. With WithInit the init
// stays, and its reserve is added to n.
func (l *limitsConfig) pidsMax(reserve int64) string {
	if l.init {
		return strconv.FormatInt(l.pids+reserve, 10)
	}
	return strconv.FormatInt(max(l.pids, reserve), 10)
}

// initReserve is the init's reserve of tasks on a host with ncpu CPUs.
func initReserve(ncpu int) int64 {
	return initTaskReserve + int64(ncpu)
}

// period is the CFS period in microseconds: WithResources' CPUPeriod or the
// default cpuPeriod.
func (l *limitsConfig) period() int64 {
	if l.res.CPUPeriod > 0 {
		return int64(l.res.CPUPeriod)
	}
	return cpuPeriod
}

// cpuQuota is the CFS quota in microseconds per period.
func (l *limitsConfig) cpuQuota() int64 {
	return int64(math.Round(l.cpu * float64(l.period())))
}

// v1Files renders the limits into cgroup v1 files, in the order they must be
// written (memory.limit_in_bytes before memory.memsw.limit_in_bytes, which may
// never be below it), then WithResources' files. pids.max includes the init's
// reserve h.initReserve. It fails for a resource the host cannot apply.
func (l *limitsConfig) v1Files(h cgroupHost) ([]cgroupFile, error) {
	var fs []cgroupFile
	if l.memory > 0 {
		v := strconv.FormatInt(l.memory, 10)
		fs = append(fs, cgroupFile{"memory", "memory.limit_in_bytes", v})
		if h.swap {
			fs = append(fs, cgroupFile{"memory", "memory.memsw.limit_in_bytes", v})
		}
	}
	if l.cpu > 0 || l.res.CPUPeriod > 0 {
		fs = append(fs, cgroupFile{"cpu", "cpu.cfs_period_us", strconv.FormatInt(l.period(), 10)})
	}
	if l.cpu > 0 {
		fs = append(fs, cgroupFile{"cpu", "cpu.cfs_quota_us", strconv.FormatInt(l.cpuQuota(), 10)})
	}
	if l.cpuShares > 0 {
		fs = append(fs, cgroupFile{"cpu", "cpu.shares", strconv.FormatUint(l.cpuShares, 10)})
	}
	if l.pids > 0 {
		fs = append(fs, cgroupFile{"pids", "pids.max", l.pidsMax(h.initReserve)})
	}
	more, err := l.res.v1Files(h)
	if err != nil {
		return nil, err
	}
	return append(fs, more...), nil
}

// v2Files renders the limits into cgroup v2 files, then WithResources'
// files. pids.max includes the init's reserve. It fails for a resource the
// host cannot apply.
func (l *limitsConfig) v2Files(h cgroupHost) ([]cgroupFile, error) {
	var fs []cgroupFile
	if l.memory > 0 {
		fs = append(fs, cgroupFile{"memory", "memory.max", strconv.FormatInt(l.memory, 10)})
		if h.swap {
			fs = append(fs, cgroupFile{"memory", "memory.swap.max", "0"})
		}
	}
	if l.cpu > 0 {
		fs = append(fs, cgroupFile{"cpu", "cpu.max", fmt.Sprintf("%d %d", l.cpuQuota(), l.period())})
	} else if l.res.CPUPeriod > 0 {
		q := h.cpuMaxQuota
		if q == "" {
			q = "max"
		}
		fs = append(fs, cgroupFile{"cpu", "cpu.max", fmt.Sprintf("%s %d", q, l.period())})
	}
	if l.cpuShares > 0 {
		fs = append(fs, cgroupFile{"cpu", "cpu.weight", strconv.FormatUint(sharesToWeight(l.cpuShares), 10)})
	}
	if l.pids > 0 {
		fs = append(fs, cgroupFile{"pids", "pids.max", l.pidsMax(h.initReserve)})
	}
	more, err := l.res.v2Files(h, l.memory)
	if err != nil {
		return nil, err
	}
	return append(fs, more...), nil
}

// sharesToWeight maps v1 cpu.shares [2, 262144] onto v2 cpu.weight
// [1, 10000] the way runc (from 1.3.2, through opencontainers/cgroups) and
// crun (from 1.23) do: a quadratic in log2(shares) for the exponent of 10,
// 10^((l² + 125l)/612 - 7/34), rounded up, which maps the minimum, the
// default and the maximum onto each other (2 → 1, 1024 → 100, 262144 →
// 10000). The linear map they used before, 1 + (shares-2)·9999/262142, gave
// the default 1024 shares a weight of 39, well below the 100 of a sibling
// that sets none.
func sharesToWeight(shares uint64) uint64 {
	switch {
	case shares == 0:
		return 0
	case shares <= 2:
		return 1
	case shares >= 262144:
		return 10000
	}
	l := math.Log2(float64(shares))
	return uint64(math.Ceil(math.Pow(10, (l*l+125*l)/612-7.0/34)))
}

// cgroupName is the name of a container's cgroup. It marks the cgroup as ours
// and names its owner, the process that created it, by pid and start time, so
// that a later Start can tell a cgroup whose owner died (and remove it) from one
// whose owner still runs (and leave it alone), even after the pid is reused.
func cgroupName(ownerPid int, ownerStart uint64, id string) string {
	return fmt.Sprintf("%s%d-%d-%s", cgroupPrefix, ownerPid, ownerStart, id)
}

const cgroupPrefix = "ctrkit-"

// parseCgroupName is the inverse of cgroupName; ok is false for a name that is
// not one of ours.
func parseCgroupName(name string) (ownerPid int, ownerStart uint64, ok bool) {
	rest, ok := strings.CutPrefix(name, cgroupPrefix)
	if !ok {
		return 0, 0, false
	}
	parts := strings.SplitN(rest, "-", 3)
	if len(parts) != 3 || parts[2] == "" {
		return 0, 0, false
	}
	pid, err := strconv.Atoi(parts[0])
	if err != nil || pid <= 0 {
		return 0, 0, false
	}
	start, err := strconv.ParseUint(parts[1], 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return pid, start, true
}

// cgroupPaths parses /proc/PID/cgroup: the v1 controller → path map (a line
// naming several co-mounted controllers gives each the same path; named
// hierarchies are left out), and the v2 path ("" when there is none).
func cgroupPaths(procCgroup string) (v1 map[string]string, v2 string) {
	v1 = map[string]string{}
	for _, line := range strings.Split(procCgroup, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			v2 = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if !strings.HasPrefix(c, "name=") {
				v1[c] = parts[2]
			}
		}
	}
	return v1, v2
}

// v1Parents returns, for each controller, the directory of the caller's own
// cgroup in that controller's v1 hierarchy: the mount point of the hierarchy
// (from /proc/self/mountinfo) plus the caller's path (from /proc/self/cgroup)
// relative to the mount's root, which is not "/" inside a cgroup namespace or
// for a bind mount of a sub-tree.
func v1Parents(procCgroup, mountinfo string, controllers []string) (map[string]string, error) {
	own, v2 := cgroupPaths(procCgroup)
	mounts := lastMountinfo.parse(mountinfo)
	out := map[string]string{}
	for _, c := range controllers {
		path, ok := own[c]
		fstype := "cgroup"
		if c == unifiedKey {
			path, ok, fstype = v2, v2 != "", "cgroup2"
		}
		if !ok {
			return nil, fmt.Errorf("cgroup v1 %s controller: not in /proc/self/cgroup", c)
		}
		dir := ""
		for _, m := range mounts {
			if m.FSType != fstype || (fstype == "cgroup" && !hasOpt(m.Super, c)) {
				continue
			}
			rel, err := filepath.Rel(m.Root, path)
			if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
				continue // a mount of another part of the hierarchy
			}
			dir = filepath.Join(m.Point, rel)
			break
		}
		if dir == "" && c == unifiedKey {
			return nil, fmt.Errorf("no cgroup2 hierarchy mounted beside the v1 controllers (a cgroup2 mount in the container shows its own cgroup there)")
		}
		if dir == "" {
			return nil, fmt.Errorf("cgroup v1 %s controller: no mount of the hierarchy holding %s", c, path)
		}
		out[c] = dir
	}
	return out, nil
}

func hasOpt(opts, want string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// withCgroupPath is oci.WithCgroupPath; see there.
func withCgroupPath(path string) Option {
	return optionFunc(func(c *config) error {
		p := filepath.Clean(path)
		if !filepath.IsAbs(path) || p == "/" || strings.ContainsRune(p, 0) {
			return optErr("WithCgroupPath", path, "must be an absolute path below the hierarchy's root")
		}
		for _, name := range strings.Split(p[1:], "/") {
			if _, _, ok := parseCgroupName(name); ok {
				return optErr("WithCgroupPath", path, "%q is named like the cgroups this library makes and reaps (%sPID-START-ID): a later Start could take it for a dead owner's and kill it", name, cgroupPrefix)
			}
		}
		c.limits.path = p
		return nil
	})
}

// withDeviceRules is oci.WithDeviceRules; see there.
func withDeviceRules(rules ...lifecycle.DeviceRule) Option {
	return optionFunc(func(c *config) error {
		for _, r := range rules {
			if _, ok := devices.ParseAccess(r.Access); (r.Type != 'a' && r.Type != 'b' && r.Type != 'c') || !ok ||
				r.Major < -1 || r.Minor < -1 || r.Major > math.MaxUint32 || r.Minor > math.MaxUint32 {
				return optErr("WithDeviceRules", r, "want type a, b or c, 32-bit numbers or -1, access of r, w, m")
			}
		}
		c.limits.devices = append([]lifecycle.DeviceRule{}, rules...)
		return nil
	})
}

// deviceSet works out what the rules grant, after the standard devices
// are allowed.
func deviceSet(rules []lifecycle.DeviceRule) (devices.Set, error) {
	var list []devices.Rule
	for _, r := range append(append([]lifecycle.DeviceRule(nil), rules...), standardDeviceRules()...) {
		a, _ := devices.ParseAccess(r.Access)
		list = append(list, devices.Rule{Allow: !r.Deny, Type: r.Type, Major: r.Major, Minor: r.Minor, Access: a})
	}
	return devices.Compute(list)
}

// deviceFiles renders a device set into cgroup v1 devices files, in the order
// they are written: the default for every device, then the exceptions in the
// order the rules made them. The kernel lists its exceptions (devices.list) in
// the order they were added, so the caller's rules come first there, as
// runc's do.
func deviceFiles(s devices.Set) []cgroupFile {
	def, exc := "devices.deny", "devices.allow"
	if s.DefaultAllow {
		def, exc = exc, def
	}
	fs := []cgroupFile{{"devices", def, "a"}}
	for _, e := range s.Exceptions {
		fs = append(fs, cgroupFile{"devices", exc, e.String()})
	}
	return fs
}

// standardDeviceRules allow the device nodes every container gets.
func standardDeviceRules() []lifecycle.DeviceRule {
	var out []lifecycle.DeviceRule
	for _, d := range defaultDevices {
		out = append(out, lifecycle.DeviceRule{Type: 'c', Major: int64(d.Major), Minor: int64(d.Minor), Access: "rwm"})
	}
	return append(out, lifecycle.DeviceRule{Type: 'c', Major: 5, Minor: 2, Access: "rwm"}, lifecycle.DeviceRule{Type: 'c', Major: 136, Minor: -1, Access: "rwm"})
}

// limitsOnly applies opts, which must be cgroup limit options, to an empty
// configuration and returns the limits.
func limitsOnly(caller string, opts []Option) (limitsConfig, error) {
	var c config
	for _, o := range opts {
		if o == nil {
			return limitsConfig{}, &OptionError{Option: caller, Err: errors.New("nil option")}
		}
		if err := o.apply(&c); err != nil {
			return limitsConfig{}, err
		}
	}
	l := c.limits
	c.limits = limitsConfig{}
	if !reflect.DeepEqual(c, config{}) || l.init || len(l.rlimits) > 0 || l.path != "" {
		return limitsConfig{}, &OptionError{Option: caller, Err: errors.New("only WithMemory, WithCPU, WithCPUShares, WithPids and WithResources can change")}
	}
	return l, nil
}

// lastMountinfo holds the parse of the last mount table v1Parents was given:
// a Start asks about the caller's one (ownLayout) for each hierarchy.
var lastMountinfo mountinfoCache

type mountinfoCache struct {
	mu     sync.Mutex
	text   string
	parsed []mountLine
}

func (c *mountinfoCache) parse(text string) []mountLine {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.parsed == nil || c.text != text {
		c.text, c.parsed = text, parseMountinfo(text)
	}
	return c.parsed
}
