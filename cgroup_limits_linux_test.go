package container_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/cgroups/v3"
	. "github.com/ctrkit/container"
	"github.com/ctrkit/container/containertest"
)

// ---- helpers ----

// limitedBuffer keeps the first 64 KiB written to it (a fork bomb's complaints
// must not fill the test's memory).
type limitedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := 64<<10 - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// ownCgroupParents returns this process's own cgroup directory in each v1
// hierarchy the limits use (or its v2 cgroup), where its containers' cgroups go.
func ownCgroupParents(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch parts[1] {
		case "memory", "cpu", "cpuacct", "pids", "freezer", "cpuset", "blkio", "hugetlb", "net_cls", "net_prio":
			out = append(out, filepath.Join("/sys/fs/cgroup", parts[1], parts[2]))
		case "":
			if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
				out = append(out, filepath.Join("/sys/fs/cgroup", parts[2]))
			}
		}
	}
	return out
}

// leftoverCgroups lists the container cgroups this process owns.
func leftoverCgroups(t *testing.T) []string {
	t.Helper()
	prefix := fmt.Sprintf("ctrkit-%d-", os.Getpid())
	var out []string
	for _, p := range ownCgroupParents(t) {
		ents, _ := os.ReadDir(p)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), prefix) {
				out = append(out, filepath.Join(p, e.Name()))
			}
		}
	}
	return out
}

func checkNoLeftovers(t *testing.T) {
	t.Helper()
	if l := leftoverCgroups(t); len(l) > 0 {
		t.Errorf("cgroups left behind: %v", l)
	}
}

// controllerDir is the container's cgroup directory in the v1 hierarchy of
// controller, or its one directory on cgroup v2.
func controllerDir(dirs map[string]string, controller string) string {
	if d, ok := dirs[""]; ok {
		return d
	}
	return dirs[controller]
}

func checkGone(t *testing.T, dirs map[string]string) {
	t.Helper()
	if len(dirs) == 0 {
		t.Fatal("the container had no cgroup")
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("cgroup %s still exists after Wait (stat: %v)", d, err)
		}
	}
	checkNoLeftovers(t)
}

// descendants counts the tasks (threads included) of the processes below pid.
func descendants(pid int) int {
	parent := map[int]int{}
	threads := map[int]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 18 || f[0] == "Z" {
			continue
		}
		pp, _ := strconv.Atoi(f[1])
		n, _ := strconv.Atoi(f[17])
		parent[p], threads[p] = pp, n
	}
	count := 0
	for p := range parent {
		for q := parent[p]; q > 1; q = parent[q] {
			if q == pid {
				count += threads[p]
				break
			}
		}
	}
	return count
}

func newContainer(t *testing.T, cmd []string, opts ...Option) *Container {
	t.Helper()
	c, err := New(containertest.Rootfs(t), cmd, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// waitTimeout waits for the container, failing the test if it takes too long
// (a container that cannot be killed).
func waitTimeout(t *testing.T, c *Container, d time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("Wait did not return within %v", d)
		return nil
	}
}

func poll(d time.Duration, f func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if f() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return f()
}

func exitError(t *testing.T, err error) *ExitError {
	t.Helper()
	var ee *ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("got %v, want an *ExitError", err)
	}
	return ee
}

// ---- tests ----

// TestBornInV1Cgroups: on a host with v1 hierarchies the init is cloned from
// a thread that moved itself into the container's cgroups (no cgroup.procs
// write, whose RCU wait cost 4-15 ms), it is in every one of them when its
// command runs, and every thread of this process is back in its own cgroups
// after Start (a thread left behind would be limited as the container and
// keep its cgroup from being removed).
func TestBornInV1Cgroups(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	if cgroups.Mode() == cgroups.Unified {
		t.Skip("a cgroup v2 host: the init is cloned into its cgroup (CLONE_INTO_CGROUP)")
	}
	own := threadCgroups(t)
	for i := range 3 { // the fork threads are a pool: each may be the one
		c := newContainer(t, []string{"sleep", "0.2"}, WithMemory(64<<20), WithPids(64), WithCPU(0.5))
		if err := c.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		out, err := os.ReadFile("/proc/" + strconv.Itoa(c.Pid()) + "/cgroup")
		if err != nil {
			t.Fatal(err)
		}
		if !BornInV1Cgroups(c) {
			t.Errorf("container %d: the init was moved into its v1 cgroups after the clone", i)
		}
		if got := threadCgroups(t); got != own {
			t.Errorf("container %d: after Start this process's threads are in\n%s\nwant every one in\n%s", i, got, own)
		}
		dirs := CgroupDirs(c)
		if err := c.Wait(); err != nil {
			t.Fatal(err)
		}
		in := map[string]string{} // controller → the command's cgroup path
		for _, line := range strings.Split(string(out), "\n") {
			if parts := strings.SplitN(line, ":", 3); len(parts) == 3 {
				for _, ctl := range strings.Split(parts[1], ",") {
					in[ctl] = parts[2]
				}
			}
		}
		for k, dir := range dirs {
			if k != "unified" && !strings.HasSuffix(in[k], "/"+filepath.Base(dir)) {
				t.Errorf("container %d: the command is in %s cgroup %q, want %s:\n%s", i, k, in[k], dir, out)
			}
		}
	}
	checkNoLeftovers(t)
}

// threadCgroups returns the cgroups of this process's threads: the one list
// when they all share it, else each thread's.
func threadCgroups(t *testing.T) string {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string][]string{}
	for _, task := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + task.Name() + "/cgroup")
		if err != nil {
			continue // gone
		}
		seen[string(b)] = append(seen[string(b)], task.Name())
	}
	if len(seen) == 1 {
		for k := range seen {
			return k
		}
	}
	return fmt.Sprint(seen)
}

func TestNoCgroupWithoutLimits(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	c := newContainer(t, []string{"true"}, WithRlimit("RLIMIT_CORE", 0, 0), WithInit())
	if _, err := c.Stats(); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("Stats before Start: %v, want ErrNotStarted", err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Only the cgroup its view of /sys/fs/cgroup shows (TestCgroupView): on
	// v1 and hybrid hosts none in the limits' hierarchies.
	for k := range CgroupDirs(c) {
		if k != "" && k != "unified" {
			t.Errorf("a container without limits got a cgroup: %v", CgroupDirs(c))
		}
	}
	if _, err := c.Stats(); !errors.Is(err, ErrNoCgroup) {
		t.Errorf("Stats without limits: %v, want ErrNoCgroup", err)
	}
	if err := c.Wait(); err != nil {
		t.Fatal(err)
	}
	checkNoLeftovers(t)
}

func TestMemoryOOM(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	// The shell keeps the command substitution's 256 MiB output in its own
	// (anonymous) memory.
	c := newContainer(t, []string{"sh", "-c", `x="$(head -c 268435456 /dev/zero | tr '\0' a)"; echo ${#x}`},
		WithMemory(64<<20))
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	dirs := CgroupDirs(c)
	ee := exitError(t, waitTimeout(t, c, 60*time.Second))
	if !ee.OOMKilled() {
		t.Errorf("OOMKilled() = false for %v", ee)
	}
	st, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.OOMKills == 0 || st.MemoryPeakBytes > 64<<20 {
		t.Errorf("final stats %+v: want an OOM kill and a peak at most the 64 MiB limit", st)
	}
	checkGone(t, dirs)
}

func TestPidsForkBomb(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	baseline := descendants(os.Getpid())
	var stderr limitedBuffer
	c := newContainer(t, []string{"sh", "-c", "f() { f | f & }; f; exec sleep 1000"}, WithPids(32))
	c.Stderr = &stderr
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	dirs := CgroupDirs(c)
	if b, err := os.ReadFile(filepath.Join(controllerDir(dirs, "pids"), "pids.max")); err != nil || strings.TrimSpace(string(b)) != "32" {
		t.Errorf("pids.max after Start = %q, %v; want 32", b, err)
	}
	if !poll(10*time.Second, func() bool { return strings.Contains(stderr.String(), "Resource temporarily unavailable") }) {
		t.Errorf("the fork bomb never got EAGAIN; stderr: %.300s", stderr.String())
	}
	st, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	// The limit is 32 from Start's return on; before, the init's reserve applied.
	if st.Pids > 32+uint64(InitTaskReserve) {
		t.Errorf("%d tasks in the container, above the limit", st.Pids)
	}
	if err := c.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	exitError(t, waitTimeout(t, c, 20*time.Second))
	checkGone(t, dirs)
	if n := descendants(os.Getpid()); n > baseline {
		t.Errorf("%d tasks below the test process after Wait, %d before", n, baseline)
	}
}

func TestPidsLimitIsTheCommands(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	// sh itself plus 7 children are the 8 tasks allowed; the 8th child must fail.
	script := "for i in 1 2 3 4 5 6 7; do sleep 100 & done; echo started; sleep 100 & echo after"
	var stdout, stderr limitedBuffer
	c := newContainer(t, []string{"sh", "-c", script}, WithPids(8))
	c.Stdout, c.Stderr = &stdout, &stderr
	// A failed fork is fatal to a non-interactive busybox sh: status 2.
	if ee := exitError(t, c.Run(context.Background())); ee.ExitCode() != 2 {
		t.Errorf("got %v, want exit status 2 from the failed fork", ee)
	}
	if stdout.String() != "started\n" {
		t.Errorf("stdout %q: the 7 children did not all start", stdout.String())
	}
	if n := strings.Count(stderr.String(), "can't fork"); n != 1 {
		t.Errorf("stderr %q: want exactly one failed fork", stderr.String())
	}
	checkNoLeftovers(t)
}

func TestPidsLimitWithInit(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	// The init stays, with its reserve: the command still gets its 8 tasks.
	script := "for i in 1 2 3 4 5 6 7; do sleep 100 & done; echo started"
	c := newContainer(t, []string{"sh", "-c", script}, WithPids(8), WithInit())
	out, err := c.CombinedOutput(context.Background())
	if err != nil || string(out) != "started\n" {
		t.Errorf("got %v, %q; want the command's 8 tasks to start", err, out)
	}
	checkNoLeftovers(t)
}

func TestCPUQuota(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	// The highest weight keeps other load on the host from taking the
	// container's half CPU: what is measured is the quota.
	c := newContainer(t, []string{"sh", "-c", "while :; do :; done"}, WithCPU(0.5), WithCPUShares(262144))
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	dirs := CgroupDirs(c)
	time.Sleep(300 * time.Millisecond) // past the first CFS periods
	s0, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	time.Sleep(2 * time.Second)
	s1, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(t0)
	ratio := float64(s1.CPUTime-s0.CPUTime) / float64(elapsed)
	t.Logf("busy loop under WithCPU(0.5): %.3f CPUs over %v", ratio, elapsed)
	if ratio < 0.4 || ratio > 0.6 {
		t.Errorf("busy loop used %.3f CPUs, want 0.5 ± 20%%", ratio)
	}
	c.Signal(syscall.SIGKILL)
	exitError(t, waitTimeout(t, c, 10*time.Second))
	checkGone(t, dirs)
}

func TestStatsWhileRunning(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	c := newContainer(t, []string{"sh", "-c", "sleep 100 & sleep 100 & exec sleep 100"},
		WithMemory(64<<20), WithPids(64), WithCPUShares(512))
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	dirs := CgroupDirs(c)
	// 512 shares: half the default; on v2 the weight runc and crun give them.
	if unifiedHost() {
		checkCgroupValues(t, dirs[""], map[string]string{"cpu.weight": "59"})
	} else {
		checkCgroupValues(t, dirs["cpu"], map[string]string{"cpu.shares": "512"})
	}
	var st Stats
	if !poll(5*time.Second, func() bool { st, _ = c.Stats(); return st.Pids == 3 }) {
		t.Errorf("Stats().Pids = %d, want 3", st.Pids)
	}
	if st.MemoryBytes == 0 || st.MemoryPeakBytes < st.MemoryBytes {
		t.Errorf("memory stats %+v: want usage > 0 and peak >= usage", st)
	}
	if err := c.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	exitError(t, waitTimeout(t, c, 10*time.Second))
	final, err := c.Stats()
	if err != nil || final.MemoryPeakBytes == 0 {
		t.Errorf("Stats after Wait = %+v, %v; want the last values", final, err)
	}
	checkGone(t, dirs)
}

// TestStatsPressure: on cgroup v2, Stats reports the cgroup's pressure
// stall information; more busy loops than CPUs stall on CPU.
func TestStatsPressure(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	if !unifiedHost() {
		t.Skip("skipping: Stats reports pressure (PSI) from the container's cgroup v2 cgroup; this host's limits are in cgroup v1 hierarchies")
	}
	loops := strings.Repeat("(while :; do :; done) & ", runtime.NumCPU()+1)
	c := newContainer(t, []string{"sh", "-c", loops + "wait"}, WithPids(64), WithCPUShares(2))
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	dirs := CgroupDirs(c)
	defer func() {
		c.Signal(syscall.SIGKILL)
		exitError(t, waitTimeout(t, c, 10*time.Second))
		checkGone(t, dirs)
	}()
	if _, err := os.ReadFile(filepath.Join(dirs[""], "cpu.pressure")); err != nil {
		t.Skipf("skipping: this kernel has no pressure stall information (CONFIG_PSI, psi=1): %v", err)
	}
	var st Stats
	if !poll(10*time.Second, func() bool { st, _ = c.Stats(); return st.CPUPressure.Some.Total > 0 }) {
		t.Errorf("Stats().CPUPressure = %+v after %d busy loops on %d CPUs, want some stall", st.CPUPressure, runtime.NumCPU()+1, runtime.NumCPU())
	}
	for name, p := range map[string]Pressure{"memory": st.MemoryPressure, "io": st.IOPressure} {
		if p.Some.Total > time.Minute || p.Some.Avg10 > 100 || p.Full.Avg10 > 100 {
			t.Errorf("Stats() %s pressure %+v: not what a *.pressure file holds", name, p)
		}
	}
	t.Logf("cpu pressure %+v", st.CPUPressure)
}

func TestRlimits(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	limits := func(t *testing.T, opts ...Option) string {
		c := newContainer(t, []string{"cat", "/proc/self/limits"}, opts...)
		out, err := c.Output(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	line := regexpLine
	t.Run("default", func(t *testing.T) {
		if got := line(limits(t), "Max open files"); got != "1024 1024" {
			t.Errorf("Max open files = %q, want 1024 1024", got)
		}
	})
	t.Run("set", func(t *testing.T) {
		out := limits(t, WithRlimit("RLIMIT_NOFILE", 100, 200), WithRlimit("RLIMIT_CORE", 0, 0),
			WithRlimit("RLIMIT_NPROC", 500, 600), WithRlimit("RLIMIT_DATA", RlimitInfinity, RlimitInfinity))
		for name, want := range map[string]string{
			"Max open files": "100 200", "Max core file size": "0 0", "Max processes": "500 600", "Max data size": "unlimited unlimited",
		} {
			if got := line(out, name); got != want {
				t.Errorf("%s = %q, want %q", name, got, want)
			}
		}
	})
	t.Run("raise hard limit", func(t *testing.T) {
		if hasCap(t, 24) { // CAP_SYS_RESOURCE
			t.Skip("skipping: this process has CAP_SYS_RESOURCE, so raising a hard limit is allowed")
		}
		var lim syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatal(err)
		}
		if lim.Max == RlimitInfinity {
			t.Skip("skipping: the hard limit is unlimited already")
		}
		c := newContainer(t, []string{"true"}, WithRlimit("RLIMIT_NOFILE", 64, lim.Max+1))
		err := c.Run(context.Background())
		var se *SetupError
		if !errors.As(err, &se) || se.Op != "setrlimit" || !errors.Is(err, syscall.EPERM) {
			t.Fatalf("got %v, want a setrlimit *SetupError wrapping EPERM", err)
		}
		if !strings.Contains(err.Error(), "needs CAP_SYS_RESOURCE") {
			t.Errorf("error %q does not say what is missing", err)
		}
	})
}

// regexpLine returns the soft and hard columns of a /proc/PID/limits line.
func regexpLine(limits, name string) string {
	for _, l := range strings.Split(limits, "\n") {
		if rest, ok := strings.CutPrefix(l, name); ok {
			f := strings.Fields(rest)
			if len(f) >= 2 {
				return f[0] + " " + f[1]
			}
		}
	}
	return ""
}

func hasCap(t *testing.T, capNum uint) bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n&(1<<capNum) != 0
		}
	}
	t.Fatal("no CapEff in /proc/self/status")
	return false
}

func TestCgroupGoneOnEveryPath(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	limits := []Option{WithMemory(64 << 20), WithPids(64), WithCPU(1)}
	t.Run("exit", func(t *testing.T) {
		c := newContainer(t, []string{"true"}, limits...)
		if err := c.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		dirs := CgroupDirs(c)
		if err := c.Wait(); err != nil {
			t.Fatal(err)
		}
		checkGone(t, dirs)
	})
	t.Run("exit status", func(t *testing.T) {
		c := newContainer(t, []string{"sh", "-c", "sleep 100 & exit 3"}, limits...)
		if err := c.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		dirs := CgroupDirs(c)
		if ee := exitError(t, waitTimeout(t, c, 10*time.Second)); ee.ExitCode() != 3 || ee.OOMKilled() {
			t.Errorf("got %v, want exit status 3 without OOM", ee)
		}
		checkGone(t, dirs)
	})
	t.Run("signal", func(t *testing.T) {
		c := newContainer(t, []string{"sleep", "100"}, limits...)
		if err := c.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		dirs := CgroupDirs(c)
		if err := c.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if ee := exitError(t, waitTimeout(t, c, 10*time.Second)); ee.Signal() != syscall.SIGKILL {
			t.Errorf("got %v, want death by SIGKILL", ee)
		}
		checkGone(t, dirs)
	})
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		// Without a PID namespace, only the cgroup kill reaches the grandchild.
		c := newContainer(t, []string{"sh", "-c", "sleep 100 & sleep 100"}, append(limits, WithoutNamespace(NSPID))...)
		if err := c.Start(ctx); err != nil {
			t.Fatal(err)
		}
		dirs := CgroupDirs(c)
		cancel()
		exitError(t, waitTimeout(t, c, 10*time.Second))
		checkGone(t, dirs)
	})
	t.Run("failed start", func(t *testing.T) {
		c := newContainer(t, []string{"/no/such/command"}, limits...)
		err := c.Start(context.Background())
		var se *SetupError
		if !errors.As(err, &se) || !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("got %v, want an exec *SetupError wrapping ENOENT", err)
		}
		checkNoLeftovers(t)
	})
}

// TestOrphanHelper is the embedding program of TestOrphanedContainer, run as a
// subprocess: it starts a container and waits to be killed.
func TestOrphanHelper(t *testing.T) {
	if os.Getenv("CTRKIT_ORPHAN_HELPER") != "1" {
		t.Skip("skipping: helper process for TestOrphanedContainer")
	}
	opts := []Option{WithMemory(64 << 20)}
	if os.Getenv("CTRKIT_ORPHAN_NOPIDNS") == "1" {
		opts = append(opts, WithoutNamespace(NSPID))
	}
	c, err := New(os.Getenv("CTRKIT_ROOTFS"), []string{"sh", "-c", "sleep 1000 & exec sleep 1000"}, opts...)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	if err := c.Start(context.Background()); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("started", controllerDir(CgroupDirs(c), "freezer"), controllerDir(CgroupDirs(c), "memory"))
	// Not select {}: the runtime may take a program whose goroutines all
	// block for deadlocked and end it, and the container's init with it (it
	// did on a cgroup v2 machine).
	time.Sleep(time.Hour)
}

func TestOrphanedContainer(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	for _, tc := range []struct {
		name    string
		noPidNS bool
	}{
		// The init dies with the thread that cloned it (Pdeathsig), and the
		// kernel kills the rest of its PID namespace.
		{"pid namespace", false},
		// Without a PID namespace the init's child survives it, until the next
		// Start finds the orphaned cgroup and kills what is in it.
		{"no pid namespace", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testOrphanedContainer(t, tc.noPidNS)
		})
	}
}

func testOrphanedContainer(t *testing.T, noPidNS bool) {
	helper := exec.Command(os.Args[0], "-test.run=^TestOrphanHelper$", "-test.v")
	helper.Env = append(os.Environ(), "CTRKIT_ORPHAN_HELPER=1", "CTRKIT_ROOTFS="+containertest.Rootfs(t))
	if noPidNS {
		helper.Env = append(helper.Env, "CTRKIT_ORPHAN_NOPIDNS=1")
	}
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	var freezer, memory string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[0] == "started" {
			freezer, memory = f[1], f[2]
			break
		}
		if len(f) > 0 && f[0] == "error" {
			helper.Wait()
			t.Fatal(sc.Text())
		}
	}
	if freezer == "" {
		helper.Process.Kill()
		helper.Wait()
		t.Fatal("the helper did not start its container")
	}
	t.Cleanup(func() { os.Remove(freezer); os.Remove(memory) })
	live := func() []string {
		var pids []string
		b, _ := os.ReadFile(filepath.Join(freezer, "cgroup.procs"))
		for _, p := range strings.Fields(string(b)) {
			if st, err := os.ReadFile("/proc/" + p + "/stat"); err == nil && !strings.Contains(string(st), ") Z ") {
				pids = append(pids, p)
			}
		}
		return pids
	}
	if !poll(5*time.Second, func() bool { return len(live()) == 2 }) {
		t.Fatalf("processes in the helper's container: %v, want 2", live())
	}
	helper.Process.Kill()
	helper.Wait()

	if noPidNS {
		// The init is gone, its child is not (yet).
		if !poll(5*time.Second, func() bool { return len(live()) == 1 }) {
			t.Errorf("processes in the container after its parent was killed: %v, want the init's surviving child", live())
		}
	} else if !poll(5*time.Second, func() bool { return len(live()) == 0 }) {
		t.Errorf("container processes alive after their parent was killed: %v", live())
	}
	c := newContainer(t, []string{"true"}, WithMemory(64<<20))
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if l := live(); len(l) != 0 {
		t.Errorf("container processes alive after the next Start: %v", l)
	}
	for _, d := range []string{freezer, memory} {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("orphaned cgroup %s still exists after the next Start (stat: %v)", d, err)
		}
	}
	checkNoLeftovers(t)
}

func TestOrphanOfLiveOwnerKept(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	// A running container of this process is a cgroup whose owner is alive:
	// another Start must leave it alone.
	a := newContainer(t, []string{"sleep", "100"}, WithMemory(64<<20))
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	dirs := CgroupDirs(a)
	b := newContainer(t, []string{"true"}, WithMemory(64<<20))
	if err := b.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("a live container's cgroup was touched: %v", err)
		}
	}
	a.Signal(syscall.SIGKILL)
	exitError(t, waitTimeout(t, a, 10*time.Second))
	checkGone(t, dirs)
}

func TestInitReapsOrphans(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	script := `
echo ppid=$PPID
for i in $(seq 100); do (sleep 600 &); done
o=0
for f in /proc/[0-9]*/stat; do read l < $f || continue; set -- ${l#*) }; [ "$2" = 1 ] && [ "${l#*(sleep)}" != "$l" ] && o=$((o+1)); done
echo orphans=$o
kill $(pidof sleep)
# The orphans die; the init must reap them (slow machines: up to 20 s).
for t in $(seq 200); do
	z=0
	for f in /proc/[0-9]*/stat; do read l < $f || continue; set -- ${l#*) }; [ "$1" = Z ] && z=$((z+1)); done
	[ $z = 0 ] && [ -z "$(pidof sleep)" ] && break
	sleep 0.1
done
echo zombies=$z
`
	c := newContainer(t, []string{"sh", "-c", script}, WithInit())
	out, err := c.Output(context.Background())
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got := string(out); got != "ppid=1\norphans=100\nzombies=0\n" {
		t.Errorf("got %q, want the command as the init's child, 100 orphans reparented to the init and no zombie", got)
	}
}

func TestInitForwardsSignals(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	var stdout limitedBuffer
	c := newContainer(t, []string{"sh", "-c", `trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 0.05; done`},
		WithInit(), WithPids(16))
	c.Stdout = &stdout
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	dirs := CgroupDirs(c)
	if !poll(5*time.Second, func() bool { return strings.Contains(stdout.String(), "ready") }) {
		t.Fatal("the command did not start")
	}
	if err := c.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ee := exitError(t, waitTimeout(t, c, 10*time.Second))
	if ee.ExitCode() != 7 || !strings.Contains(stdout.String(), "got-term") {
		t.Errorf("got %v and output %q, want the trap to run and exit 7", ee, stdout.String())
	}
	checkGone(t, dirs)
}

func TestInitExecFailure(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	c := newContainer(t, []string{"no-such-command"}, WithInit())
	err := c.Start(context.Background())
	var se *SetupError
	if !errors.As(err, &se) || se.Op != "exec" || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v, want an exec *SetupError wrapping ENOENT", err)
	}
}

func TestInitNoSyncFD(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	// The command must not inherit the init's end of the sync channel, and the
	// init must let go of it: otherwise Start would not return.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := newContainer(t, []string{"sh", "-c", "ls /proc/$$/fd; ls -l /proc/1/fd/"}, WithInit())
	out, err := c.Output(ctx)
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	fds := strings.Fields(strings.SplitN(string(out), "\n", 2)[0])
	for _, fd := range fds {
		if fd != "0" && fd != "1" && fd != "2" {
			t.Errorf("the command has fd %s open (fds %v)", fd, fds)
		}
	}
	if strings.Contains(string(out), "socket:") {
		t.Errorf("the init still holds a socket:\n%s", out)
	}
}

// TestRootlessHelper is run by TestRootlessLimits as an unprivileged user.
func TestRootlessHelper(t *testing.T) {
	if os.Getenv("CTRKIT_ROOTLESS_HELPER") != "1" {
		t.Skip("skipping: helper process for TestRootlessLimits")
	}
	rootfs := containertest.Rootfs(t)
	c, err := New(rootfs, []string{"true"}, WithMemory(64<<20))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Start(context.Background())
	if !errors.Is(err, ErrNeedRoot) || !strings.Contains(err.Error(), "resource limits: needs root or a delegated cgroup") {
		if err == nil {
			c.Wait()
		}
		t.Fatalf("rootless Start with a memory limit: %v, want an error wrapping ErrNeedRoot", err)
	}
	if !strings.Contains(err.Error(), "Delegate=yes") {
		t.Errorf("rootless Start with a memory limit: %v, want it to say how to get a delegated cgroup", err)
	}
	fmt.Println("limit error:", err)
	checkNoLeftovers(t)
	c, err = New(rootfs, []string{"true"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(context.Background()); err != nil {
		t.Fatalf("rootless container without limits: %v", err)
	}
	fmt.Println("no limits: ran")
}

// delegatedTo reports whether uid may create cgroups below this process's
// cgroup v2 cgroup (it owns the directory, or the directory is writable by all).
func delegatedTo(t *testing.T, uid uint32) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if own, ok := strings.CutPrefix(l, "0::"); ok {
			fi, err := os.Stat(filepath.Join("/sys/fs/cgroup", own))
			if err != nil {
				t.Fatal(err)
			}
			return fi.Sys().(*syscall.Stat_t).Uid == uid || fi.Mode().Perm()&0o002 != 0
		}
	}
	t.Fatalf("no cgroup v2 path in /proc/self/cgroup:\n%s", b)
	return false
}

func TestRootlessLimits(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	containertest.SkipUnlessUserNS(t)
	if cgroups.Mode() == cgroups.Unified && delegatedTo(t, 65534) {
		t.Skip("skipping: this process's cgroup v2 cgroup is delegated to uid 65534, which may then make cgroups")
	}
	out := containertest.RerunAs(t, 65534, 65534, "TestRootlessHelper", "CTRKIT_ROOTLESS_HELPER=1")
	if !strings.Contains(out, "limit error:") || !strings.Contains(out, "no limits: ran") {
		t.Fatalf("helper output:\n%s", out)
	}
	t.Logf("%s", out)
}

// TestRootlessDelegatedHelper is run by TestRootlessDelegated as an
// unprivileged user, in a cgroup delegated to it that holds its process.
func TestRootlessDelegatedHelper(t *testing.T) {
	delegated := os.Getenv("CTRKIT_DELEGATED_CGROUP")
	if delegated == "" {
		t.Skip("skipping: helper process for TestRootlessDelegated")
	}
	rootfs := containertest.Rootfs(t)
	if os.Getenv("CTRKIT_DELEGATED_NESTED") == "1" {
		// Started from the leaf: the container goes beside it.
		c, err := New(rootfs, []string{"true"}, WithPids(8))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(context.Background()); err != nil {
			t.Fatalf("rootless Start from the leaf: %v", err)
		}
		dir := CgroupDirs(c)[""]
		if err := c.Wait(); err != nil {
			t.Fatal(err)
		}
		if filepath.Dir(dir) != delegated {
			t.Errorf("the container's cgroup is %s, want it below the delegated %s, beside the leaf", dir, delegated)
		}
		return
	}
	c, err := New(rootfs, []string{"sh", "-c", "sleep 100 & sleep 100 & exec sleep 100"},
		WithMemory(64<<20), WithPids(64), WithCPU(0.5))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatalf("rootless Start in a delegated cgroup: %v", err)
	}
	dirs := CgroupDirs(c)
	dir := dirs[""]
	if filepath.Dir(dir) != delegated {
		t.Errorf("the container's cgroup is %s, want it below the delegated %s", dir, delegated)
	}
	checkCgroupValues(t, dir, map[string]string{"memory.max": "67108864", "pids.max": "64", "cpu.max": "50000 100000"})
	// The caller's process left the delegated cgroup for its leaf, so that
	// the delegated cgroup could give its children controllers.
	if b, err := os.ReadFile("/proc/self/cgroup"); err != nil || !strings.HasSuffix(strings.TrimSpace(string(b)), "/ctrkit-caller") {
		t.Errorf("the caller's cgroup: %q, %v; want the leaf ctrkit-caller", b, err)
	}
	var st Stats
	if !poll(5*time.Second, func() bool { st, _ = c.Stats(); return st.Pids == 3 }) {
		t.Errorf("Stats().Pids = %d, want 3", st.Pids)
	}
	if st.MemoryBytes == 0 {
		t.Errorf("Stats = %+v, want memory in use", st)
	}
	if err := c.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	exitError(t, waitTimeout(t, c, 10*time.Second))
	checkGone(t, dirs)
	// A second container: the controllers are enabled already, nothing moves.
	c, err = New(rootfs, []string{"true"}, WithPids(8))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(context.Background()); err != nil {
		t.Fatalf("second rootless container in the delegated cgroup: %v", err)
	}
	checkNoLeftovers(t)
	// A process this one starts is in the leaf.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	nested := exec.Command(self, "-test.run=^TestRootlessDelegatedHelper$", "-test.v", "-test.count=1")
	nested.Env = append(os.Environ(), "CTRKIT_DELEGATED_NESTED=1")
	if out, err := nested.CombinedOutput(); err != nil || !strings.Contains(string(out), "--- PASS: TestRootlessDelegatedHelper") {
		t.Errorf("the helper started from the leaf: %v\n%s", err, out)
	}
	fmt.Printf("delegated: ran in %s, stats %+v\n", dir, st)
}

// TestRootlessDelegated delegates a cgroup to uid 65534 as systemd's
// Delegate=yes does (the directory, cgroup.procs, cgroup.subtree_control and
// cgroup.threads chowned to it, the controllers available from the parent)
// and runs TestRootlessDelegatedHelper in it as that user: limits and Stats
// work without root, and Wait removes the container's cgroup.
func TestRootlessDelegated(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	containertest.SkipUnlessUserNS(t)
	if cgroups.Mode() != cgroups.Unified {
		t.Skip("skipping: cgroup delegation needs a pure cgroup v2 host (CI's v2 stage); this host's limits are in cgroup v1 hierarchies")
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	own, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "0::")
	if !ok {
		t.Fatalf("no cgroup v2 path in /proc/self/cgroup: %q", b)
	}
	parent := filepath.Join("/sys/fs/cgroup", own)
	if err := os.WriteFile(filepath.Join(parent, "cgroup.subtree_control"), []byte("+cpu +memory +pids"), 0); err != nil {
		t.Skipf("skipping: this test's cgroup %s cannot give its children the cpu, memory and pids controllers: %v", parent, err)
	}
	delegated := filepath.Join(parent, fmt.Sprintf("ctrkit-test-delegated-%d", os.Getpid()))
	if err := os.Mkdir(delegated, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeTree(t, delegated) })
	for _, name := range []string{"", "cgroup.procs", "cgroup.subtree_control", "cgroup.threads"} {
		if err := os.Chown(filepath.Join(delegated, name), 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	out := containertest.RerunAsInCgroup(t, 65534, 65534, delegated, "TestRootlessDelegatedHelper", "CTRKIT_DELEGATED_CGROUP="+delegated)
	if !strings.Contains(out, "delegated: ran in "+delegated+"/ctrkit-") {
		t.Fatalf("helper output:\n%s", out)
	}
	t.Logf("%s", out)
	ents, err := os.ReadDir(delegated)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() && e.Name() != "ctrkit-caller" {
			t.Errorf("%s/%s left after the helper's Wait", delegated, e.Name())
		}
	}
}

// removeTree kills every process in the cgroup v2 tree at dir and removes it,
// children first.
func removeTree(t *testing.T, dir string) {
	t.Helper()
	os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0)
	var dirs []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		var err error
		poll(5*time.Second, func() bool { err = syscall.Rmdir(dirs[i]); return err == nil || errors.Is(err, os.ErrNotExist) })
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("remove %s: %v", dirs[i], err)
		}
	}
}
