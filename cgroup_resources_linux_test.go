package container_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ctrkit/container/oci"

	"github.com/containerd/cgroups/v3"
	. "github.com/ctrkit/container"
	"github.com/ctrkit/container/containertest"
	"golang.org/x/sys/unix"
)

// Root tests of WithResources: each starts a container with some resources,
// reads the cgroup files back, and checks that the cgroup is gone after Wait.
// Where the host cannot apply a resource (a controller that is not mounted, a
// file the kernel lacks, a v1 control on a v2 host), they check that Start
// fails naming it instead.

func unifiedHost() bool { return cgroups.Mode() == cgroups.Unified }

// v1Mounted reports whether this process is in a v1 hierarchy of controller.
func v1Mounted(t *testing.T, controller string) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && hasField(parts[1], controller) {
			return true
		}
	}
	return false
}

func hasField(list, w string) bool {
	for _, f := range strings.Split(list, ",") {
		if f == w {
			return true
		}
	}
	return false
}

// startSleeping starts a container that sleeps, with opts.
func startSleeping(t *testing.T, opts ...Option) (*Container, map[string]string) {
	t.Helper()
	c := newContainer(t, []string{"sleep", "1000"}, opts...)
	if err := c.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return c, CgroupDirs(c)
}

// stop kills the container and checks that its cgroup went with it.
func stop(t *testing.T, c *Container, dirs map[string]string) {
	t.Helper()
	c.Signal(syscall.SIGKILL)
	exitError(t, waitTimeout(t, c, 10*time.Second))
	checkGone(t, dirs)
}

// wantStartError checks that Start fails with an error containing want, and
// leaves no cgroup behind.
func wantStartError(t *testing.T, want string, opts ...Option) {
	t.Helper()
	c := newContainer(t, []string{"true"}, opts...)
	err := c.Start(context.Background())
	if err == nil {
		c.Wait()
		t.Fatalf("Start succeeded; want an error containing %q", want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("Start: %v; want an error containing %q", err, want)
	}
	t.Logf("Start failed as it must: %v", err)
	checkNoLeftovers(t)
}

func cgroupValue(t *testing.T, dir, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func checkCgroupValues(t *testing.T, dir string, want map[string]string) {
	t.Helper()
	for file, v := range want {
		if got := cgroupValue(t, dir, file); got != v {
			t.Errorf("%s = %q, want %q", file, got, v)
		}
	}
}

func TestResourcesMemory(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	swappiness := uint64(10)
	r := Resources{MemoryReservation: 32 << 20, MemorySwappiness: &swappiness, DisableOOMKiller: true, KernelTCPMemory: 16 << 20}
	if unifiedHost() {
		wantStartError(t, "MemorySwappiness", WithMemory(64<<20), WithResources(r))
		c, dirs := startSleeping(t, WithMemory(64<<20), WithResources(Resources{MemoryReservation: 32 << 20, MemoryHigh: 48 << 20}))
		want := map[string]string{"memory.max": "67108864", "memory.low": "33554432", "memory.high": "50331648"}
		// WithMemory's limit covers swap too: none on top of memory.max.
		if _, err := os.Stat(filepath.Join(dirs[""], "memory.swap.max")); err == nil {
			want["memory.swap.max"] = "0"
		} else {
			t.Logf("no memory.swap.max: this kernel does not account swap")
		}
		checkCgroupValues(t, dirs[""], want)
		stop(t, c, dirs)
		return
	}
	wantStartError(t, "MemoryHigh: memory.high is cgroup v2 only", WithResources(Resources{MemoryHigh: 48 << 20}))
	c, dirs := startSleeping(t, WithMemory(64<<20), WithResources(r))
	checkCgroupValues(t, dirs["memory"], map[string]string{
		"memory.limit_in_bytes":          "67108864",
		"memory.soft_limit_in_bytes":     "33554432",
		"memory.swappiness":              "10",
		"memory.kmem.tcp.limit_in_bytes": "16777216",
	})
	if oc := cgroupValue(t, dirs["memory"], "memory.oom_control"); !strings.Contains(oc, "oom_kill_disable 1") {
		t.Errorf("memory.oom_control = %q, want oom_kill_disable 1", oc)
	}
	stop(t, c, dirs)
}

func TestResourcesCPUPeriod(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	c, dirs := startSleeping(t, WithCPU(0.1), WithResources(Resources{CPUPeriod: 500000}))
	if unifiedHost() {
		checkCgroupValues(t, dirs[""], map[string]string{"cpu.max": "50000 500000"})
	} else {
		checkCgroupValues(t, dirs["cpu"], map[string]string{"cpu.cfs_period_us": "500000", "cpu.cfs_quota_us": "50000"})
	}
	stop(t, c, dirs)
}

// TestResourcesCpuset pins the container to one CPU and checks that the
// kernel confines its process to it; on v1 the memory nodes, not asked for,
// are copied from the parent.
func TestResourcesCpuset(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	if !unifiedHost() && !v1Mounted(t, "cpuset") {
		wantStartError(t, "cpuset", WithResources(Resources{CPUs: "0"}))
		return
	}
	c, dirs := startSleeping(t, WithResources(Resources{CPUs: "0"}))
	dir := dirs["cpuset"]
	if unifiedHost() {
		dir = dirs[""]
	}
	checkCgroupValues(t, dir, map[string]string{"cpuset.cpus": "0"})
	if !unifiedHost() {
		if parent := cgroupValue(t, filepath.Dir(dir), "cpuset.mems"); cgroupValue(t, dir, "cpuset.mems") != parent {
			t.Errorf("cpuset.mems = %q, want the parent's %q", cgroupValue(t, dir, "cpuset.mems"), parent)
		}
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(status), "Cpus_allowed_list:\t0\n") {
		t.Errorf("the container's process may run on other CPUs than 0:\n%s", status)
	}
	stop(t, c, dirs)
}

// TestResourcesCpusetNewParents: on v1, the parents WithCgroupPath creates
// start without CPUs and memory nodes; Start gives them their parent's, or no
// task could join the container's cgroup.
func TestResourcesCpusetNewParents(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	if unifiedHost() || !v1Mounted(t, "cpuset") {
		t.Skip("needs the cgroup v1 cpuset hierarchy")
	}
	cg := testCgroupPath(t, "a/b")
	t.Cleanup(func() {
		if err := oci.RemoveCgroup(filepath.Dir(cg)); err != nil {
			t.Errorf("remove %s: %v", filepath.Dir(cg), err)
		}
	})
	c, dirs := startSleeping(t, oci.WithCgroupPath(cg), WithResources(Resources{Mems: "0"}))
	dir := dirs["cpuset"]
	top := filepath.Dir(filepath.Dir(filepath.Dir(dir))) // the hierarchy's root holds /ctrkit-test-PID/a/b
	want := cgroupValue(t, top, "cpuset.cpus")
	for d := dir; d != top; d = filepath.Dir(d) {
		if got := cgroupValue(t, d, "cpuset.cpus"); got != want {
			t.Errorf("%s/cpuset.cpus = %q, want the root's %q", d, got, want)
		}
	}
	checkCgroupValues(t, dir, map[string]string{"cpuset.mems": "0"})
	c.Signal(syscall.SIGKILL)
	exitError(t, waitTimeout(t, c, 10*time.Second))
}

func TestResourcesRealtime(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	r := Resources{RealtimePeriod: 1000000, RealtimeRuntime: 10000}
	if unifiedHost() {
		wantStartError(t, "cgroup v1 only", WithResources(r))
		return
	}
	if _, err := os.Stat("/sys/fs/cgroup/cpu/cpu.rt_runtime_us"); err != nil {
		wantStartError(t, "CONFIG_RT_GROUP_SCHED", WithResources(r))
		return
	}
	c, dirs := startSleeping(t, WithResources(r))
	checkCgroupValues(t, dirs["cpu"], map[string]string{"cpu.rt_period_us": "1000000", "cpu.rt_runtime_us": "10000"})
	stop(t, c, dirs)
}

// blockDevice returns the device numbers of a whole disk of this host.
func blockDevice(t *testing.T) (major, minor int64) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat("/", &st); err == nil {
		sys := fmt.Sprintf("/sys/dev/block/%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev))
		if _, err := os.Stat(sys + "/partition"); err == nil {
			sys += "/.."
		}
		if b, err := os.ReadFile(sys + "/dev"); err == nil {
			if _, err := fmt.Sscanf(string(b), "%d:%d", &major, &minor); err == nil {
				return major, minor
			}
		}
	}
	// A root file system in memory (the cgroup v2 stage of CI): any disk, a
	// loop device included, takes the same limits.
	if ents, err := os.ReadDir("/sys/block"); err == nil {
		for _, e := range ents {
			b, err := os.ReadFile("/sys/block/" + e.Name() + "/dev")
			if err != nil {
				continue
			}
			if _, err := fmt.Sscanf(string(b), "%d:%d", &major, &minor); err == nil {
				return major, minor
			}
		}
	}
	t.Skip("no block device found under the root file system or in /sys/block")
	return 0, 0
}

func TestResourcesBlockIO(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	major, minor := blockDevice(t)
	dev := fmt.Sprintf("%d:%d", major, minor)
	r := Resources{BlockIOWeight: 500, BlockIODevices: []BlockIODevice{
		{Major: major, Minor: minor, ReadBPS: 102400, WriteBPS: 204800, ReadIOPS: 1000, WriteIOPS: 2000}}}
	if !unifiedHost() && !v1Mounted(t, "blkio") {
		wantStartError(t, "blkio", WithResources(r))
		return
	}
	// The weight file is the scheduler's: find out in a cgroup of our own.
	probe := newContainer(t, []string{"true"}, WithResources(Resources{BlockIODevices: r.BlockIODevices}))
	if err := probe.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	dir := CgroupDirs(probe)["blkio"]
	if unifiedHost() {
		dir = CgroupDirs(probe)[""]
	}
	weightFile := ""
	for _, f := range []string{"blkio.weight", "blkio.bfq.weight", "io.bfq.weight", "io.weight"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil && weightFile == "" {
			weightFile = f
		}
	}
	_, leafErr := os.Stat(filepath.Join(dir, "blkio.leaf_weight"))
	if err := probe.Wait(); err != nil {
		t.Fatal(err)
	}
	if unifiedHost() || leafErr != nil {
		wantStartError(t, "BlockIOLeafWeight", WithResources(Resources{BlockIOLeafWeight: 300}))
	}
	if weightFile == "" {
		wantStartError(t, "BlockIOWeight", WithResources(r))
		r.BlockIOWeight = 0
	}
	c, dirs := startSleeping(t, WithResources(r))
	if unifiedHost() {
		dir = dirs[""]
		want := fmt.Sprintf("%s rbps=102400 wbps=204800 riops=1000 wiops=2000", dev)
		if got := cgroupValue(t, dir, "io.max"); !strings.Contains(got, want) {
			t.Errorf("io.max = %q, want a line %q", got, want)
		}
	} else {
		dir = dirs["blkio"]
		checkCgroupValues(t, dir, map[string]string{
			"blkio.throttle.read_bps_device":   dev + " 102400",
			"blkio.throttle.write_bps_device":  dev + " 204800",
			"blkio.throttle.read_iops_device":  dev + " 1000",
			"blkio.throttle.write_iops_device": dev + " 2000",
		})
	}
	switch weightFile {
	case "blkio.weight", "blkio.bfq.weight":
		checkCgroupValues(t, dir, map[string]string{weightFile: "500"})
	case "io.bfq.weight":
		checkCgroupValues(t, dir, map[string]string{weightFile: "default 500"})
	case "io.weight":
		checkCgroupValues(t, dir, map[string]string{weightFile: "default 4950"})
	}
	stop(t, c, dirs)
}

func TestResourcesHugetlb(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	names, _ := filepath.Glob("/sys/kernel/mm/hugepages/hugepages-2048kB")
	if len(names) == 0 {
		t.Skip("no 2 MiB huge pages on this host")
	}
	r := Resources{HugepageLimits: []HugepageLimit{{PageSize: "2MB", Bytes: 100 << 21}}}
	if !unifiedHost() && !v1Mounted(t, "hugetlb") {
		wantStartError(t, "hugetlb", WithResources(r))
		return
	}
	c, dirs := startSleeping(t, WithResources(r))
	if unifiedHost() {
		checkCgroupValues(t, dirs[""], map[string]string{"hugetlb.2MB.max": strconv.Itoa(100 << 21)})
	} else {
		checkCgroupValues(t, dirs["hugetlb"], map[string]string{"hugetlb.2MB.limit_in_bytes": strconv.Itoa(100 << 21)})
	}
	stop(t, c, dirs)
	wantStartError(t, "HugepageLimits 3MB", WithResources(Resources{HugepageLimits: []HugepageLimit{{PageSize: "3MB", Bytes: 3 << 20}}}))
}

func TestResourcesNetwork(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	if unifiedHost() {
		wantStartError(t, "net_cls and net_prio are cgroup v1 controllers", WithResources(Resources{NetClassID: 0x100001}))
		return
	}
	if !v1Mounted(t, "net_cls") {
		wantStartError(t, "net_cls", WithResources(Resources{NetClassID: 0x100001}))
	} else {
		c, dirs := startSleeping(t, WithResources(Resources{NetClassID: 0x100001}))
		checkCgroupValues(t, dirs["net_cls"], map[string]string{"net_cls.classid": "1048577"})
		stop(t, c, dirs)
	}
	prio := Resources{NetPriorities: []NetPriority{{Interface: "lo", Priority: 5}}}
	if !v1Mounted(t, "net_prio") {
		wantStartError(t, "net_prio", WithResources(prio))
		return
	}
	c, dirs := startSleeping(t, WithResources(prio))
	if m := cgroupValue(t, dirs["net_prio"], "net_prio.ifpriomap"); !strings.Contains(m, "lo 5") {
		t.Errorf("net_prio.ifpriomap = %q, want lo 5", m)
	}
	stop(t, c, dirs)
}

// TestUpdateCgroupResources changes resources of a running container's
// cgroup: what the update names changes, the rest stays.
func TestUpdateCgroupResources(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	if unifiedHost() {
		testUpdateCgroupResourcesV2(t)
		return
	}
	cg := testCgroupPath(t, "update")
	c, dirs := startSleeping(t, oci.WithCgroupPath(cg), WithMemory(64<<20), WithCPU(0.5),
		WithResources(Resources{MemoryReservation: 16 << 20, CPUs: "0", Mems: "0"}))
	swappiness := uint64(30)
	allCPUs := "0"
	if n := runtime.NumCPU(); n > 1 {
		allCPUs = fmt.Sprintf("0-%d", n-1)
	}
	if err := oci.UpdateCgroup(cg, WithResources(Resources{MemoryReservation: 8 << 20, MemorySwappiness: &swappiness,
		CPUPeriod: 200000, CPUs: allCPUs})); err != nil {
		t.Fatal(err)
	}
	checkCgroupValues(t, dirs["memory"], map[string]string{
		"memory.limit_in_bytes":      "67108864", // not named: unchanged
		"memory.soft_limit_in_bytes": "8388608",
		"memory.swappiness":          "30",
	})
	// A period alone keeps the quota in µs, as the kernel does.
	checkCgroupValues(t, dirs["cpu"], map[string]string{"cpu.cfs_period_us": "200000", "cpu.cfs_quota_us": "50000"})
	checkCgroupValues(t, dirs["cpuset"], map[string]string{"cpuset.cpus": allCPUs, "cpuset.mems": "0"})
	// The cgroup is in no net_cls hierarchy (a cgroup at a fixed path is
	// in those that updates and statistics need, besides its limits'): the
	// update fails, and writes nothing.
	err := oci.UpdateCgroup(cg, WithResources(Resources{MemoryReservation: 4 << 20, NetClassID: 0x100001}))
	if err == nil || !strings.Contains(err.Error(), "no net_cls cgroup") {
		t.Errorf("update of a controller the cgroup was made without: %v, want an error naming blkio", err)
	}
	checkCgroupValues(t, dirs["memory"], map[string]string{"memory.soft_limit_in_bytes": "8388608"})
	c.Signal(syscall.SIGKILL)
	exitError(t, waitTimeout(t, c, 10*time.Second))
}

// testUpdateCgroupResourcesV2 is TestUpdateCgroupResources on cgroup v2.
func testUpdateCgroupResourcesV2(t *testing.T) {
	cg := testCgroupPath(t, "update")
	c, dirs := startSleeping(t, oci.WithCgroupPath(cg), WithMemory(64<<20), WithCPU(0.5),
		WithResources(Resources{MemoryReservation: 16 << 20, CPUs: "0", Mems: "0"}))
	allCPUs := "0"
	if n := runtime.NumCPU(); n > 1 {
		allCPUs = fmt.Sprintf("0-%d", n-1)
	}
	if err := oci.UpdateCgroup(cg, WithResources(Resources{MemoryReservation: 8 << 20, CPUPeriod: 200000, CPUs: allCPUs})); err != nil {
		t.Fatal(err)
	}
	checkCgroupValues(t, dirs[""], map[string]string{
		"memory.max": "67108864", // not named: unchanged
		"memory.low": "8388608",
		// A period alone keeps the quota in µs, as on v1.
		"cpu.max":     "50000 200000",
		"cpuset.cpus": allCPUs,
		"cpuset.mems": "0",
	})
	// A v1-only control fails the update, which writes nothing.
	swappiness := uint64(30)
	err := oci.UpdateCgroup(cg, WithResources(Resources{MemoryReservation: 4 << 20, MemorySwappiness: &swappiness}))
	if err == nil || !strings.Contains(err.Error(), "MemorySwappiness") {
		t.Errorf("update with a v1-only control: %v, want an error naming MemorySwappiness", err)
	}
	checkCgroupValues(t, dirs[""], map[string]string{"memory.low": "8388608"})
	c.Signal(syscall.SIGKILL)
	exitError(t, waitTimeout(t, c, 10*time.Second))
}

// TestResourcesUnified: Resources.Unified's files land in the container's v2
// cgroup, after (and over) the other controls; a v1 or hybrid host refuses
// them, naming the field.
func TestResourcesUnified(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	u := map[string]string{"memory.oom.group": "1", "memory.high": "33554432", "pids.max": "9"}
	if !unifiedHost() {
		wantStartError(t, "Unified memory.high, memory.oom.group: cgroup v2 files", WithResources(Resources{Unified: u}))
		return
	}
	c, dirs := startSleeping(t, WithMemory(64<<20), WithPids(50), WithResources(Resources{MemoryHigh: 48 << 20, Unified: u}))
	checkCgroupValues(t, dirs[""], map[string]string{"memory.max": "67108864", "memory.oom.group": "1", "memory.high": "33554432", "pids.max": "9"})
	stop(t, c, dirs)
}
