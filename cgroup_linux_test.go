package container

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/cgroups/v3"
)

func TestEnableControllers(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("cgroup.controllers", "cpuset cpu io memory pids\n")
	write("cgroup.subtree_control", "memory\n")
	if err := enableControllers(dir, []string{"cpu", "memory", "pids"}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control")); string(b) != "+cpu +pids" {
		t.Errorf("wrote %q to cgroup.subtree_control, want only the missing controllers", b)
	}
	write("cgroup.subtree_control", "cpu memory pids\n")
	if err := enableControllers(dir, []string{"cpu", "memory", "pids"}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control")); string(b) != "cpu memory pids\n" {
		t.Errorf("rewrote cgroup.subtree_control (%q) although every controller was enabled", b)
	}
	write("cgroup.controllers", "cpu io\n")
	err := enableControllers(dir, []string{"memory"})
	if err == nil || !strings.Contains(err.Error(), "memory controller is not available") {
		t.Errorf("got %v, want an error naming the missing controller", err)
	}
}

func TestReadStatsV2Files(t *testing.T) {
	dir := t.TempDir()
	for name, s := range map[string]string{
		"memory.current": "1048576\n",
		"memory.peak":    "4194304\n",
		"cpu.stat":       "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n",
		"memory.events":  "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n",
		"pids.current":   "7\n",
		"cpu.pressure":   "some avg10=12.50 avg60=3.00 avg300=1.00 total=900000\nfull avg10=6.25 avg60=1.50 avg300=0.50 total=450000\n",
		"io.pressure":    "some avg10=0.00 avg60=0.00 avg300=0.00 total=10\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=5\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := &cgroupState{v2: true, dirs: map[string]string{"": dir}}
	want := Stats{MemoryBytes: 1 << 20, MemoryPeakBytes: 4 << 20, Pids: 7, CPUTime: 2500 * time.Millisecond, OOMKills: 1,
		CPUPressure: Pressure{
			Some: PressureLine{Avg10: 12.5, Avg60: 3, Avg300: 1, Total: 900 * time.Millisecond},
			Full: PressureLine{Avg10: 6.25, Avg60: 1.5, Avg300: 0.5, Total: 450 * time.Millisecond},
		},
		// No memory.pressure: zero, as a kernel without PSI shows none.
		IOPressure: Pressure{Some: PressureLine{Total: 10 * time.Microsecond}, Full: PressureLine{Total: 5 * time.Microsecond}},
	}
	if got := s.readStats(); got != want {
		t.Errorf("readStats = %+v, want %+v", got, want)
	}
	os.Remove(filepath.Join(dir, "pids.current"))
	os.WriteFile(filepath.Join(dir, "cgroup.threads"), []byte("10\n11\n12\n"), 0o644)
	if got := s.readStats().Pids; got != 3 {
		t.Errorf("Pids without the pids controller = %d, want the 3 threads of cgroup.threads", got)
	}
}

func TestReadStatsV1Files(t *testing.T) {
	dirs := map[string]string{}
	for _, c := range []string{"memory", "cpuacct", "pids", "freezer"} {
		dirs[c] = t.TempDir()
	}
	for path, s := range map[string]string{
		filepath.Join(dirs["memory"], "memory.usage_in_bytes"):     "2097152\n",
		filepath.Join(dirs["memory"], "memory.max_usage_in_bytes"): "8388608\n",
		filepath.Join(dirs["memory"], "memory.oom_control"):        "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
		filepath.Join(dirs["cpuacct"], "cpuacct.usage"):            "1500000000\n",
		filepath.Join(dirs["pids"], "pids.current"):                "5\n",
	} {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := &cgroupState{dirs: dirs}
	want := Stats{MemoryBytes: 2 << 20, MemoryPeakBytes: 8 << 20, Pids: 5, CPUTime: 1500 * time.Millisecond, OOMKills: 2}
	if got := s.readStats(); got != want {
		t.Errorf("readStats = %+v, want %+v", got, want)
	}
}

// v2Root returns a cgroup v2 hierarchy this test may create cgroups in: the
// host's on a pure v2 host, the (controller-less) unified mount on a hybrid
// one. The v2 code paths that do not need controllers (clone into the cgroup,
// cgroup.kill, freeze, removal, orphan reaping) run there even on CI's v1 hosts.
func v2Root(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: creating cgroups needs root")
	}
	switch cgroups.Mode() {
	case cgroups.Unified:
		return cgroupRoot
	case cgroups.Hybrid:
		return filepath.Join(cgroupRoot, "unified")
	}
	t.Skip("skipping: no cgroup v2 hierarchy on this host")
	return ""
}

func newV2State(t *testing.T, root, id string) *cgroupState {
	t.Helper()
	start, err := ownStartTime()
	if err != nil {
		t.Fatal(err)
	}
	s := &cgroupState{name: cgroupName(os.Getpid(), start, id+newID()), v2: true}
	if err := s.createV2(root); err != nil {
		t.Fatalf("createV2: %v", err)
	}
	t.Cleanup(func() { s.teardown() })
	return s
}

func TestCgroupV2Lifecycle(t *testing.T) {
	root := v2Root(t)
	s := newV2State(t, root, "v2life")
	r := &running{cg: s}
	attr := &syscall.SysProcAttr{}
	r.cgroupAttr(attr)
	if !attr.UseCgroupFD {
		t.Fatal("cgroupAttr did not ask for CLONE_INTO_CGROUP")
	}
	r.cmd = exec.Command("/bin/sh", "-c", "sleep 100 & exec sleep 100")
	r.cmd.SysProcAttr = attr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := r.joinCgroup(); err != nil || s.dirFD != nil {
		t.Fatalf("joinCgroup: %v (directory handle still open: %v)", err, s.dirFD != nil)
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(r.pid()) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "0::") || !strings.Contains(string(b), "/"+s.name+"\n") {
		t.Errorf("the process was not cloned into its cgroup: %s", b)
	}
	n := 0
	for range 250 {
		if n, _ = countProcs(s.dirs[""]); n == 2 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n != 2 {
		t.Fatalf("%d processes in the cgroup, want 2", n)
	}
	if st := s.readStats(); st.Pids != 2 {
		t.Errorf("Stats.Pids = %d, want 2", st.Pids)
	}
	r.killCgroup()
	err = r.cmd.Wait()
	if ws, ok := r.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Errorf("after killCgroup: %v, want death by SIGKILL", err)
	}
	if _, err := r.removeCgroup(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.dirs[""]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cgroup still exists after removeCgroup: %v", err)
	}
}

func TestCgroupV2FreezeKill(t *testing.T) {
	root := v2Root(t)
	s := newV2State(t, root, "v2freeze")
	cmd := exec.Command("/bin/sh", "-c", "sleep 100 & sleep 100 & wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(s.dirFD.Fd())}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for range 250 {
		if n, _ := countProcs(s.dirs[""]); n == 3 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	freezeKill(s.dirs[""], true)
	cmd.Wait()
	if n, err := countProcs(s.dirs[""]); err != nil || n != 0 {
		t.Errorf("%d processes left after freezeKill (%v)", n, err)
	}
	if b, _ := os.ReadFile(filepath.Join(s.dirs[""], "cgroup.events")); !strings.Contains(string(b), "frozen 0") {
		t.Errorf("cgroup left frozen: %s", b)
	}
}

// TestCgroupV2Kill: where the kernel has cgroup.kill (Linux 5.14), teardown
// kills through it, in one write that also reaches frozen tasks and tasks
// forked meanwhile, and does not freeze and thaw: a cgroup frozen before
// (oci.FreezeCgroup) is still frozen when its processes are dead.
func TestCgroupV2Kill(t *testing.T) {
	root := v2Root(t)
	s := newV2State(t, root, "v2kill")
	dir := s.dirs[""]
	if _, err := os.Stat(filepath.Join(dir, "cgroup.kill")); err != nil {
		t.Skip("skipping: this kernel has no cgroup.kill (Linux 5.14): teardown freezes, kills and thaws")
	}
	cmd := exec.Command("/bin/sh", "-c", "while :; do sleep 100 & sleep 0.01; done")
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(s.dirFD.Fd())}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for range 250 {
		if n, _ := countProcs(dir); n >= 3 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	setFrozen(dir, true, true)
	if frozen, err := cgroupFrozen(dir, true); err != nil || !frozen {
		t.Fatalf("the cgroup did not freeze: %v, %v", frozen, err)
	}
	s.kill()
	cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Errorf("the frozen shell: %v, want it killed", cmd.ProcessState)
	}
	if n, err := countProcs(dir); err != nil || n != 0 {
		t.Errorf("%d processes left after kill (%v)", n, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "cgroup.freeze")); strings.TrimSpace(string(b)) != "1" {
		t.Errorf("cgroup.freeze = %q after kill: the cgroup was thawed, so teardown froze and killed instead of writing cgroup.kill", b)
	}
}

// TestCheckDelegated: a cgroup is delegated to a uid that owns its
// directory, cgroup.procs and cgroup.subtree_control; the error for one that
// is not names what the uid lacks and how to get a delegated cgroup.
func TestCheckDelegated(t *testing.T) {
	root := v2Root(t)
	dir, err := os.MkdirTemp(root, "ctrkit-test-delegate-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(dir) })
	err = checkDelegated(dir, "/x", 65534)
	for _, want := range []string{"/x", "not delegated to uid 65534", "the directory, cgroup.procs, cgroup.subtree_control", "systemd-run --user --scope -p Delegate=yes"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("checkDelegated of a root-owned cgroup: %v, want an error containing %q", err, want)
		}
	}
	for _, name := range []string{"", "cgroup.procs"} {
		if err := os.Chown(filepath.Join(dir, name), 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	if err := checkDelegated(dir, "/x", 65534); err == nil || !strings.Contains(err.Error(), "does not own cgroup.subtree_control;") {
		t.Errorf("checkDelegated without cgroup.subtree_control: %v, want an error naming it alone", err)
	}
	if err := os.Chown(filepath.Join(dir, "cgroup.subtree_control"), 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if err := checkDelegated(dir, "/x", 65534); err != nil {
		t.Errorf("checkDelegated of a delegated cgroup: %v", err)
	}
}

// TestMoveToLeaf: the processes of a cgroup move into its leaf, which is
// then the only place they are, and the cgroup may give its children
// controllers.
func TestMoveToLeaf(t *testing.T) {
	root := v2Root(t)
	dir, err := os.MkdirTemp(root, "ctrkit-test-leaf-")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", "-c", "sleep 100 & exec sleep 100")
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(f.Fd())}
	err = cmd.Start()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	leaf := filepath.Join(dir, callerLeaf)
	t.Cleanup(func() {
		freezeKill(dir, true)
		cmd.Wait()
		os.Remove(leaf)
		os.Remove(dir)
	})
	for range 250 {
		if pids, _ := readProcs(dir); len(pids) == 2 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := moveToLeaf(dir); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs")); err != nil || len(strings.Fields(string(b))) != 0 {
		t.Errorf("the cgroup's own processes after moveToLeaf: %q, %v; want none", b, err)
	}
	if pids, err := readProcs(leaf); err != nil || len(pids) != 2 {
		t.Errorf("processes in the leaf: %v, %v; want the 2", pids, err)
	}
	if _, _, ok := parseCgroupName(callerLeaf); ok {
		t.Errorf("%s parses as a container's cgroup: a Start could reap it", callerLeaf)
	}
	if have, _ := os.ReadFile(filepath.Join(dir, "cgroup.controllers")); len(strings.Fields(string(have))) > 0 {
		c := strings.Fields(string(have))[0]
		if err := enableControllers(dir, []string{c}); err != nil {
			t.Errorf("enable %s after moveToLeaf: %v", c, err)
		}
	}
}

func TestCgroupV2Orphans(t *testing.T) {
	root := v2Root(t)
	own, err := ownV2Path()
	if err != nil {
		t.Fatal(err)
	}
	parent := filepath.Join(root, own)
	// A dead owner: a process that has exited, so its pid and start time no
	// longer match a running process.
	dead := exec.Command("/bin/true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	orphan := filepath.Join(parent, cgroupName(dead.Process.Pid, 1, "orphan"+newID()))
	if err := os.Mkdir(orphan, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(orphan) })
	sleeper := exec.Command("/bin/sleep", "100")
	f, err := os.Open(orphan)
	if err != nil {
		t.Fatal(err)
	}
	sleeper.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(f.Fd())}
	err = sleeper.Start()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer sleeper.Process.Kill()
	live := newV2State(t, root, "live")

	reapOrphansV2(root)
	if _, err := os.Stat(orphan); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("orphaned cgroup still exists: %v", err)
	}
	sleeper.Wait()
	if ws, ok := sleeper.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Errorf("the orphan's process: %v, want it killed", sleeper.ProcessState)
	}
	if _, err := os.Stat(live.dirs[""]); err != nil {
		t.Errorf("the cgroup of a live owner was touched: %v", err)
	}
}

// TestProbeHostFiles: what the rendering learns from the files of a cgroup
// directory (here a plain directory with the files a kernel would show).
func TestProbeHostFiles(t *testing.T) {
	write := func(dir, name, s string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	v2 := t.TempDir()
	write(v2, "io.weight", "default 100\n")
	write(v2, "cpu.max", "20000 100000\n")
	s := &cgroupState{v2: true, dirs: map[string]string{"": v2}, limits: limitsConfig{res: Resources{CPUPeriod: 50000}}}
	h, err := s.probeHost(false)
	if err != nil || h.blkioWeight != "io.weight" || h.swap || h.cpuMaxQuota != "20000" || h.initReserve != 0 {
		t.Errorf("v2 update: %+v, %v", h, err)
	}
	write(v2, "io.bfq.weight", "default 100\n")
	write(v2, "memory.swap.max", "max\n")
	if h, err = s.probeHost(true); err != nil || h.blkioWeight != "io.bfq.weight" || !h.swap || h.cpuMaxQuota != "" || h.initReserve == 0 {
		t.Errorf("v2 create: %+v, %v: BFQ's weight file comes first; a new cgroup has no quota to keep", h, err)
	}
	blkio, cpu := t.TempDir(), t.TempDir()
	write(blkio, "blkio.bfq.weight", "100\n")
	write(cpu, "cpu.rt_runtime_us", "0\n")
	s = &cgroupState{dirs: map[string]string{"blkio": blkio, "cpu": cpu}}
	if h, err = s.probeHost(false); err != nil || h.blkioWeight != "blkio.bfq.weight" || h.blkioLeaf || !h.realtime || h.swap {
		t.Errorf("v1: %+v, %v", h, err)
	}
	write(blkio, "blkio.weight", "100\n")
	write(blkio, "blkio.leaf_weight", "100\n")
	if h, err = s.probeHost(false); err != nil || h.blkioWeight != "blkio.weight" || !h.blkioLeaf {
		t.Errorf("v1 with CFQ: %+v, %v", h, err)
	}
}

// TestFillCpuset: empty cpusets between the container's cgroup and the first
// ancestor that has both values get the values of their parent, top down; a
// value of their own stays.
func TestFillCpuset(t *testing.T) {
	root := t.TempDir()
	a := filepath.Join(root, "a")
	b := filepath.Join(a, "b")
	if err := os.MkdirAll(b, 0o755); err != nil {
		t.Fatal(err)
	}
	set := func(dir, cpus, mems string) {
		t.Helper()
		for name, v := range map[string]string{"cpuset.cpus": cpus, "cpuset.mems": mems} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	set(root, "0-3", "0-1")
	set(a, "", "1")
	set(b, "", "")
	cpus, mems, err := fillCpuset(b)
	if err != nil || cpus != "0-3" || mems != "1" {
		t.Fatalf("fillCpuset = %q, %q, %v; want 0-3, 1", cpus, mems, err)
	}
	for dir, want := range map[string][2]string{a: {"0-3", "1"}, b: {"0-3", "1"}} {
		if c, m, _ := readCpuset(dir); c != want[0] || m != want[1] {
			t.Errorf("%s: cpus %q mems %q, want %q %q", dir, c, m, want[0], want[1])
		}
	}
	set(root, "", "")
	set(a, "", "")
	if _, _, err := fillCpuset(a); err == nil {
		t.Error("no error when no ancestor has CPUs: the walk must stop where the hierarchy ends")
	}
}
