package container

import (
	"errors"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func testConfig(t *testing.T, opts ...Option) (*config, error) {
	t.Helper()
	return newConfig(t.TempDir(), []string{"true"}, opts)
}

func TestLimitOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  Option
		want string // in the error, naming the value
	}{
		{"memory zero", WithMemory(0), `WithMemory "0"`},
		{"memory negative", WithMemory(-1), `WithMemory "-1"`},
		{"memory below minimum", WithMemory(MinMemory - 1), `WithMemory "6291455": memory limit must be at least 6291456 bytes`},
		{"cpu zero", WithCPU(0), `WithCPU "0"`},
		{"cpu negative", WithCPU(-0.5), `WithCPU "-0.5"`},
		{"cpu too small", WithCPU(0.001), `WithCPU "0.001"`},
		{"cpu above host", WithCPU(float64(runtime.NumCPU()) + 0.5), "more than the host's"},
		{"shares too small", WithCPUShares(1), `WithCPUShares "1"`},
		{"shares too big", WithCPUShares(262145), `WithCPUShares "262145"`},
		{"pids zero", WithPids(0), `WithPids "0"`},
		{"pids negative", WithPids(-3), `WithPids "-3"`},
		{"rlimit unknown", WithRlimit("RLIMIT_BOGUS", 1, 1), `WithRlimit "RLIMIT_BOGUS": unknown resource limit`},
		{"rlimit soft above hard", WithRlimit("RLIMIT_NOFILE", 10, 5), `WithRlimit "RLIMIT_NOFILE": soft limit 10 is above hard limit 5`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := testConfig(t, tc.opt)
			var oe *OptionError
			if !errors.As(err, &oe) {
				t.Fatalf("New: got %v, want an *OptionError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: got %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestLimitOptionsAccepted(t *testing.T) {
	c, err := testConfig(t, WithMemory(MinMemory), WithCPU(0.01), WithCPUShares(2), WithPids(1),
		WithRlimit("rlimit_core", 0, RlimitInfinity), WithInit())
	if err != nil {
		t.Fatal(err)
	}
	want := limitsConfig{memory: MinMemory, cpu: 0.01, cpuShares: 2, pids: 1, init: true,
		rlimits: []rlimitEntry{{"RLIMIT_CORE", 0, RlimitInfinity}}, autoView: true}
	if !reflect.DeepEqual(c.limits, want) {
		t.Fatalf("limits = %+v, want %+v", c.limits, want)
	}
	if !c.limits.needsCgroup() {
		t.Fatal("needsCgroup = false with limits")
	}
	c, err = testConfig(t, WithRlimit("RLIMIT_NOFILE", 1, 2), WithInit())
	if err != nil {
		t.Fatal(err)
	}
	if c.limits.needsCgroup() {
		t.Fatal("needsCgroup = true without cgroup limits: no cgroup must be created then")
	}
}

func TestCgroupFiles(t *testing.T) {
	all := limitsConfig{memory: 64 << 20, cpu: 0.5, cpuShares: 512, pids: 32}
	for _, tc := range []struct {
		name   string
		l      limitsConfig
		h      cgroupHost
		v1     []cgroupFile
		v2     []cgroupFile
		v1Ctrl []string
		v2Ctrl []string
	}{
		{
			name: "none", v1Ctrl: []string{"freezer"},
		},
		{
			name: "memory with swap accounting", l: limitsConfig{memory: 64 << 20}, h: cgroupHost{swap: true},
			v1: []cgroupFile{
				{"memory", "memory.limit_in_bytes", "67108864"},
				{"memory", "memory.memsw.limit_in_bytes", "67108864"},
			},
			v2: []cgroupFile{
				{"memory", "memory.max", "67108864"},
				{"memory", "memory.swap.max", "0"},
			},
			v1Ctrl: []string{"memory", "freezer"}, v2Ctrl: []string{"memory"},
		},
		{
			name: "memory without swap accounting", l: limitsConfig{memory: 10 << 20},
			v1:     []cgroupFile{{"memory", "memory.limit_in_bytes", "10485760"}},
			v2:     []cgroupFile{{"memory", "memory.max", "10485760"}},
			v1Ctrl: []string{"memory", "freezer"}, v2Ctrl: []string{"memory"},
		},
		{
			name: "cpu quota", l: limitsConfig{cpu: 1.5},
			v1: []cgroupFile{
				{"cpu", "cpu.cfs_period_us", "100000"},
				{"cpu", "cpu.cfs_quota_us", "150000"},
			},
			v2:     []cgroupFile{{"cpu", "cpu.max", "150000 100000"}},
			v1Ctrl: []string{"cpu", "cpuacct", "freezer"}, v2Ctrl: []string{"cpu"},
		},
		{
			name: "cpu shares", l: limitsConfig{cpuShares: 1024},
			v1:     []cgroupFile{{"cpu", "cpu.shares", "1024"}},
			v2:     []cgroupFile{{"cpu", "cpu.weight", "100"}},
			v1Ctrl: []string{"cpu", "cpuacct", "freezer"}, v2Ctrl: []string{"cpu"},
		},
		{
			name: "pids at least the init's reserve", l: limitsConfig{pids: 32}, h: cgroupHost{initReserve: 40},
			v1:     []cgroupFile{{"pids", "pids.max", "40"}},
			v2:     []cgroupFile{{"pids", "pids.max", "40"}},
			v1Ctrl: []string{"pids", "freezer"}, v2Ctrl: []string{"pids"},
		},
		{
			name: "all", l: all, h: cgroupHost{swap: true, initReserve: 34},
			v1: []cgroupFile{
				{"memory", "memory.limit_in_bytes", "67108864"},
				{"memory", "memory.memsw.limit_in_bytes", "67108864"},
				{"cpu", "cpu.cfs_period_us", "100000"},
				{"cpu", "cpu.cfs_quota_us", "50000"},
				{"cpu", "cpu.shares", "512"},
				{"pids", "pids.max", "34"},
			},
			v2: []cgroupFile{
				{"memory", "memory.max", "67108864"},
				{"memory", "memory.swap.max", "0"},
				{"cpu", "cpu.max", "50000 100000"},
				{"cpu", "cpu.weight", "59"},
				{"pids", "pids.max", "34"},
			},
			v1Ctrl: []string{"memory", "cpu", "cpuacct", "pids", "freezer"}, v2Ctrl: []string{"cpu", "memory", "pids"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := tc.l.v1Files(tc.h); err != nil || !reflect.DeepEqual(got, tc.v1) {
				t.Errorf("v1Files = %v, %v; want %v", got, err, tc.v1)
			}
			if got, err := tc.l.v2Files(tc.h); err != nil || !reflect.DeepEqual(got, tc.v2) {
				t.Errorf("v2Files = %v, %v; want %v", got, err, tc.v2)
			}
			if got := tc.l.v1Controllers(); !reflect.DeepEqual(got, tc.v1Ctrl) {
				t.Errorf("v1Controllers = %v, want %v", got, tc.v1Ctrl)
			}
			if got := tc.l.v2Controllers(); !reflect.DeepEqual(got, tc.v2Ctrl) {
				t.Errorf("v2Controllers = %v, want %v", got, tc.v2Ctrl)
			}
		})
	}
}

func TestPidsMax(t *testing.T) {
	for _, tc := range []struct {
		l       limitsConfig
		reserve int64
		want    string
	}{
		{limitsConfig{pids: 10}, 32, "32"},     // the init's threads need the reserve until execve
		{limitsConfig{pids: 1000}, 32, "1000"}, // n covers them: pids.max is n from the start
		{limitsConfig{pids: 10}, 0, "10"},      // lowered right before execve
		{limitsConfig{pids: 10, init: true}, 32, "42"},
		{limitsConfig{pids: 1000, init: true}, 32, "1032"}, // WithInit: the init stays beside the command
	} {
		if got := tc.l.pidsMax(tc.reserve); got != tc.want {
			t.Errorf("%+v: pidsMax(%d) = %s, want %s", tc.l, tc.reserve, got, tc.want)
		}
	}
}

func TestInitReserve(t *testing.T) {
	if got := initReserve(2); got != 34 {
		t.Errorf("initReserve(2) = %d, want 34", got)
	}
	if got := initReserve(64); got != 96 {
		t.Errorf("initReserve(64) = %d, want 96: the Go runtime's threads grow with the CPUs", got)
	}
}

func TestSharesToWeight(t *testing.T) {
	// runc's and crun's values: the default maps to the default (1024 →
	// 100), 2000 to 170 (runc issue 4896), and the ends onto each other.
	for shares, want := range map[uint64]uint64{0: 0, 1: 1, 2: 1, 3: 2, 100: 17, 512: 59, 1024: 100, 2000: 170, 262143: 10000, 262144: 10000} {
		if got := sharesToWeight(shares); got != want {
			t.Errorf("sharesToWeight(%d) = %d, want %d", shares, got, want)
		}
	}
	prev := uint64(1)
	for shares := uint64(2); shares <= 262144; shares++ {
		w := sharesToWeight(shares)
		if w < prev || w > 10000 {
			t.Fatalf("sharesToWeight(%d) = %d after %d: not monotonic within [1, 10000]", shares, w, prev)
		}
		prev = w
	}
}

func TestCgroupName(t *testing.T) {
	n := cgroupName(1234, 987654, "abcdef")
	if n != "ctrkit-1234-987654-abcdef" {
		t.Fatalf("cgroupName = %q", n)
	}
	pid, start, ok := parseCgroupName(n)
	if !ok || pid != 1234 || start != 987654 {
		t.Fatalf("parseCgroupName(%q) = %d, %d, %v", n, pid, start, ok)
	}
	for _, bad := range []string{"", "ctrkit-", "ctrkit-1-2", "ctrkit-1-2-", "ctrkit-x-2-id", "ctrkit-1-y-id",
		"ctrkit-0-2-id", "other-1-2-id", "system.slice", "ctrkit--2-id"} {
		if _, _, ok := parseCgroupName(bad); ok {
			t.Errorf("parseCgroupName(%q) accepted a name that is not ours", bad)
		}
	}
}

func TestRlimitPlan(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
		want []rlimitEntry
	}{
		{"default", nil, []rlimitEntry{{"RLIMIT_NOFILE", 1024, 1024}}},
		{"override default", []Option{WithRlimit("RLIMIT_NOFILE", 10, 20)}, []rlimitEntry{{"RLIMIT_NOFILE", 10, 20}}},
		{"add", []Option{WithRlimit("RLIMIT_CORE", 0, 0)}, []rlimitEntry{{"RLIMIT_NOFILE", 1024, 1024}, {"RLIMIT_CORE", 0, 0}}},
		{"later replaces earlier", []Option{WithRlimit("RLIMIT_NPROC", 1, 2), WithRlimit("rlimit_nproc", 3, 4)},
			[]rlimitEntry{{"RLIMIT_NOFILE", 1024, 1024}, {"RLIMIT_NPROC", 3, 4}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := testConfig(t, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.initConfig().Limits.Rlimits; !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("rlimits = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRlimitNamesKnown(t *testing.T) {
	// Every name the option accepts must be one getrlimit(2) documents.
	seen := map[string]bool{}
	for _, n := range rlimitNames {
		if !strings.HasPrefix(n, "RLIMIT_") || seen[n] {
			t.Errorf("bad or duplicate name %q", n)
		}
		seen[n] = true
	}
	if len(seen) != 16 {
		t.Errorf("%d names, want the 16 of getrlimit(2)", len(seen))
	}
}

func TestCgroupPaths(t *testing.T) {
	v1, v2 := cgroupPaths("12:cpu,cpuacct:/a/b\n4:memory:/process_api/x\n9:name=systemd:/\n0::/user.slice/u\n")
	want := map[string]string{"cpu": "/a/b", "cpuacct": "/a/b", "memory": "/process_api/x"}
	if !reflect.DeepEqual(v1, want) || v2 != "/user.slice/u" {
		t.Errorf("cgroupPaths = %v, %q; want %v, /user.slice/u", v1, v2, want)
	}
}

func TestV1Parents(t *testing.T) {
	const procCgroup = `8:pids:/
4:memory:/process_api/abc
2:cpu,cpuacct:/ns/inner
6:freezer:/x/y
0::/
`
	const mountinfo = `25 30 0:22 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
26 25 0:23 / /sys/fs/cgroup/pids rw,relatime shared:5 - cgroup cgroup rw,pids
27 25 0:24 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
28 25 0:25 /ns /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
29 25 0:26 /other /mnt/freezer rw,relatime - cgroup cgroup rw,freezer
30 25 0:26 /x /sys/fs/cgroup/free\040zer rw,relatime - cgroup cgroup rw,freezer
31 25 0:27 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`
	got, err := v1Parents(procCgroup, mountinfo, []string{"pids", "memory", "cpu", "cpuacct", "freezer"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"pids":    "/sys/fs/cgroup/pids",
		"memory":  "/sys/fs/cgroup/memory/process_api/abc",
		"cpu":     "/sys/fs/cgroup/cpu,cpuacct/inner", // the mount's root is /ns
		"cpuacct": "/sys/fs/cgroup/cpu,cpuacct/inner", // co-mounted with cpu
		"freezer": "/sys/fs/cgroup/free zer/y",        // the mount holding /x/y, unescaped
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("v1Parents = %v\nwant %v", got, want)
	}
	if _, err := v1Parents(procCgroup, mountinfo, []string{"blkio"}); err == nil {
		t.Error("no error for a controller that is not mounted")
	}
	if _, err := v1Parents("4:memory:/a\n", "27 25 0:24 /b /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n", []string{"memory"}); err == nil {
		t.Error("no error when no mount holds the caller's cgroup")
	}
}

// WithCgroupPath refuses exactly the names the reaper would take for its own:
// a path it accepts is never one that orphanNames lists.
func TestCgroupPathNotReapable(t *testing.T) {
	for _, path := range []string{"/ctrkit/web", "/ctrkit-web", "/ctrkit-1-2", "/a/ctrkit-x-2-id/b", "/system.slice/ctrkit-0-2-id"} {
		if _, err := New(t.TempDir(), []string{"true"}, withCgroupPath(path)); err != nil {
			t.Errorf("WithCgroupPath(%q): %v", path, err)
		}
	}
	for _, path := range []string{"/" + cgroupName(1, 2, "x"), "/a/" + cgroupName(4242, 99, "0123456789ab") + "/b", "//" + cgroupName(7, 8, "y") + "/"} {
		if _, err := New(t.TempDir(), []string{"true"}, withCgroupPath(path)); err == nil || !strings.Contains(err.Error(), "named like the cgroups this library makes") {
			t.Errorf("WithCgroupPath(%q): %v, want it refused", path, err)
		}
	}
}

// asRoot makes New plan as for root for the rest of the test: the pure tests
// of what only root may configure then pass for any user. (hostGID stays the
// caller's: nothing these tests check depends on it.)
func asRoot(t *testing.T) {
	old := geteuid
	geteuid = func() int { return 0 }
	t.Cleanup(func() { geteuid = old })
}
