package container

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func u64(v uint64) *uint64 { return &v }

func TestResourcesOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    Resources
		want string
	}{
		{"negative reservation", Resources{MemoryReservation: -1}, "MemoryReservation -1"},
		{"negative high", Resources{MemoryHigh: -1}, "MemoryHigh -1"},
		{"swappiness above 100", Resources{MemorySwappiness: u64(101)}, "MemorySwappiness 101"},
		{"negative kernel TCP", Resources{KernelTCPMemory: -5}, "KernelTCPMemory -5"},
		{"period too short", Resources{CPUPeriod: 999}, "CPUPeriod 999"},
		{"period too long", Resources{CPUPeriod: 1000001}, "CPUPeriod 1000001"},
		{"cpus syntax", Resources{CPUs: "0,,1"}, `CPUs "0,,1"`},
		{"mems syntax", Resources{Mems: "a"}, `Mems "a"`},
		{"realtime runtime", Resources{RealtimeRuntime: -2}, "RealtimeRuntime -2"},
		{"realtime runtime above period", Resources{RealtimeRuntime: 2000, RealtimePeriod: 1000}, "above RealtimePeriod"},
		{"weight too small", Resources{BlockIOWeight: 9}, "BlockIOWeight 9"},
		{"leaf weight too big", Resources{BlockIOLeafWeight: 1001}, "BlockIOLeafWeight 1001"},
		{"device negative", Resources{BlockIODevices: []BlockIODevice{{Major: -1, ReadBPS: 1}}}, "BlockIODevices -1:0"},
		{"device twice", Resources{BlockIODevices: []BlockIODevice{{Major: 8, ReadBPS: 1}, {Major: 8, WriteBPS: 1}}}, "given twice"},
		{"device weight", Resources{BlockIODevices: []BlockIODevice{{Major: 8, Weight: 5}}}, "BlockIODevices 8:0 Weight 5"},
		{"page size", Resources{HugepageLimits: []HugepageLimit{{PageSize: "2M", Bytes: 1}}}, `HugepageLimits "2M"`},
		{"page size twice", Resources{HugepageLimits: []HugepageLimit{{"2MB", 1}, {"2MB", 2}}}, "given twice"},
		{"interface", Resources{NetPriorities: []NetPriority{{"eth 0", 1}}}, `NetPriorities "eth 0"`},
		{"unified path", Resources{Unified: map[string]string{"../memory.max": "1"}}, `Unified "../memory.max"`},
		{"unified no controller", Resources{Unified: map[string]string{"oomgroup": "1"}}, `Unified "oomgroup"`},
		{"unified upper case", Resources{Unified: map[string]string{"Memory.max": "1"}}, `Unified "Memory.max"`},
		{"unified procs", Resources{Unified: map[string]string{"cgroup.procs": "1"}}, "manages this file itself"},
		{"unified NUL", Resources{Unified: map[string]string{"memory.high": "1\x00"}}, "NUL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := testConfig(t, WithResources(tc.r))
			var oe *OptionError
			if !errors.As(err, &oe) || oe.Option != "WithResources" {
				t.Fatalf("New: got %v, want a WithResources *OptionError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: got %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestResourcesOptionCopies(t *testing.T) {
	r := Resources{MemorySwappiness: u64(10), BlockIODevices: []BlockIODevice{{Major: 8, ReadBPS: 1}}}
	c, err := testConfig(t, WithResources(r))
	if err != nil {
		t.Fatal(err)
	}
	*r.MemorySwappiness = 90
	r.BlockIODevices[0].ReadBPS = 2
	if *c.limits.res.MemorySwappiness != 10 || c.limits.res.BlockIODevices[0].ReadBPS != 1 {
		t.Fatal("WithResources kept the caller's pointer or slice: a later change by the caller changed the container")
	}
	if !c.limits.needsCgroup() {
		t.Fatal("needsCgroup = false with WithResources")
	}
}

func TestResourcesFiles(t *testing.T) {
	v1Host := cgroupHost{parentCPUs: "0-3", parentMems: "0", blkioWeight: "blkio.bfq.weight", realtime: true,
		hugepageSizes: []string{"2MB", "1GB"}}
	v2Host := cgroupHost{blkioWeight: "io.weight", hugepageSizes: []string{"2MB"}}
	for _, tc := range []struct {
		name           string
		l              limitsConfig
		v1h, v2h       cgroupHost
		v1, v2         []cgroupFile
		v1Err, v2Err   string // in the error, naming the field
		v1Ctrl, v2Ctrl []string
	}{
		{
			name: "memory extras",
			l: limitsConfig{memory: 64 << 20, res: Resources{MemoryReservation: 32 << 20, MemorySwappiness: u64(0),
				DisableOOMKiller: true, KernelTCPMemory: 64 << 20}},
			v1h: v1Host, v2h: v2Host,
			v1: []cgroupFile{
				{"memory", "memory.limit_in_bytes", "67108864"},
				{"memory", "memory.soft_limit_in_bytes", "33554432"},
				{"memory", "memory.swappiness", "0"},
				{"memory", "memory.oom_control", "1"},
				{"memory", "memory.kmem.tcp.limit_in_bytes", "67108864"},
			},
			v2Err:  "MemorySwappiness: memory.swappiness is cgroup v1 only",
			v1Ctrl: []string{"memory", "freezer"}, v2Ctrl: []string{"memory"},
		},
		{
			name: "unified: v2 only, last, controllers enabled",
			l:    limitsConfig{memory: 64 << 20, res: Resources{Unified: map[string]string{"memory.oom.group": "1", "pids.max": "7", "cgroup.max.depth": "2"}}},
			v2: []cgroupFile{
				{"memory", "memory.max", "67108864"},
				{"", "cgroup.max.depth", "2"},
				{"memory", "memory.oom.group", "1"},
				{"pids", "pids.max", "7"},
			},
			v1Err:  "Unified cgroup.max.depth, memory.oom.group, pids.max: cgroup v2 files",
			v1Ctrl: []string{"memory", "freezer"}, v2Ctrl: []string{"memory", "pids"},
		},
		{
			name: "reservation alone", l: limitsConfig{res: Resources{MemoryReservation: 1 << 20}},
			v1:     []cgroupFile{{"memory", "memory.soft_limit_in_bytes", "1048576"}},
			v2:     []cgroupFile{{"memory", "memory.low", "1048576"}},
			v1Ctrl: []string{"memory", "freezer"}, v2Ctrl: []string{"memory"},
		},
		{
			name: "high: v2 only", l: limitsConfig{memory: 64 << 20, res: Resources{MemoryReservation: 1 << 20, MemoryHigh: 32 << 20}},
			v2h: cgroupHost{swap: true},
			v2: []cgroupFile{
				{"memory", "memory.max", "67108864"},
				{"memory", "memory.swap.max", "0"},
				{"memory", "memory.low", "1048576"},
				{"memory", "memory.high", "33554432"},
			},
			v1Err:  "MemoryHigh: memory.high is cgroup v2 only",
			v1Ctrl: []string{"memory", "freezer"}, v2Ctrl: []string{"memory"},
		},
		{
			name: "OOM killer on v2", l: limitsConfig{res: Resources{DisableOOMKiller: true}},
			v1:     []cgroupFile{{"memory", "memory.oom_control", "1"}},
			v2Err:  "DisableOOMKiller",
			v1Ctrl: []string{"memory", "freezer"}, v2Ctrl: nil,
		},
		{
			name: "kernel TCP on v2 within the memory limit",
			l:    limitsConfig{memory: 32 << 20, res: Resources{KernelTCPMemory: 64 << 20}},
			v1: []cgroupFile{
				{"memory", "memory.limit_in_bytes", "33554432"},
				{"memory", "memory.kmem.tcp.limit_in_bytes", "67108864"},
			},
			v2:     []cgroupFile{{"memory", "memory.max", "33554432"}},
			v1Ctrl: []string{"memory", "freezer"}, v2Ctrl: []string{"memory"},
		},
		{
			name: "kernel TCP on v2 below the memory limit",
			l:    limitsConfig{memory: 64 << 20, res: Resources{KernelTCPMemory: 32 << 20}},
			v1: []cgroupFile{
				{"memory", "memory.limit_in_bytes", "67108864"},
				{"memory", "memory.kmem.tcp.limit_in_bytes", "33554432"},
			},
			v2Err:  "KernelTCPMemory 33554432: cgroup v2 has no TCP memory limit of its own",
			v1Ctrl: []string{"memory", "freezer"}, v2Ctrl: []string{"memory"},
		},
		{
			name: "cpu period with quota", l: limitsConfig{cpu: 0.1, res: Resources{CPUPeriod: 500000}},
			v1: []cgroupFile{
				{"cpu", "cpu.cfs_period_us", "500000"},
				{"cpu", "cpu.cfs_quota_us", "50000"},
			},
			v2:     []cgroupFile{{"cpu", "cpu.max", "50000 500000"}},
			v1Ctrl: []string{"cpu", "cpuacct", "freezer"}, v2Ctrl: []string{"cpu"},
		},
		{
			name: "cpu period alone", l: limitsConfig{res: Resources{CPUPeriod: 250000}},
			v1:     []cgroupFile{{"cpu", "cpu.cfs_period_us", "250000"}},
			v2:     []cgroupFile{{"cpu", "cpu.max", "max 250000"}},
			v1Ctrl: []string{"cpu", "cpuacct", "freezer"}, v2Ctrl: []string{"cpu"},
		},
		{
			name: "cpu period alone keeps the quota on update", l: limitsConfig{res: Resources{CPUPeriod: 250000}},
			v2h:    cgroupHost{cpuMaxQuota: "20000"},
			v1:     []cgroupFile{{"cpu", "cpu.cfs_period_us", "250000"}},
			v2:     []cgroupFile{{"cpu", "cpu.max", "20000 250000"}},
			v1Ctrl: []string{"cpu", "cpuacct", "freezer"}, v2Ctrl: []string{"cpu"},
		},
		{
			name: "realtime", l: limitsConfig{res: Resources{RealtimeRuntime: 950000, RealtimePeriod: 1000000}},
			v1h: v1Host,
			v1: []cgroupFile{
				{"cpu", "cpu.rt_period_us", "1000000"},
				{"cpu", "cpu.rt_runtime_us", "950000"},
			},
			v2Err:  "RealtimeRuntime/RealtimePeriod: cpu.rt_* are cgroup v1 only",
			v1Ctrl: []string{"cpu", "cpuacct", "freezer"}, v2Ctrl: nil,
		},
		{
			name: "realtime without kernel support", l: limitsConfig{res: Resources{RealtimeRuntime: -1}},
			v1Err:  "CONFIG_RT_GROUP_SCHED",
			v2Err:  "cgroup v1 only",
			v1Ctrl: []string{"cpu", "cpuacct", "freezer"}, v2Ctrl: nil,
		},
		{
			name: "cpuset both", l: limitsConfig{res: Resources{CPUs: "1", Mems: "0"}},
			v1h: v1Host, v2h: v2Host,
			v1:     []cgroupFile{{"cpuset", "cpuset.cpus", "1"}, {"cpuset", "cpuset.mems", "0"}},
			v2:     []cgroupFile{{"cpuset", "cpuset.cpus", "1"}, {"cpuset", "cpuset.mems", "0"}},
			v1Ctrl: []string{"cpuset", "freezer"}, v2Ctrl: []string{"cpuset"},
		},
		{
			name: "cpuset: v1 copies the mems from the parent", l: limitsConfig{res: Resources{CPUs: "0-1"}},
			v1h: v1Host, v2h: v2Host,
			v1:     []cgroupFile{{"cpuset", "cpuset.cpus", "0-1"}, {"cpuset", "cpuset.mems", "0"}},
			v2:     []cgroupFile{{"cpuset", "cpuset.cpus", "0-1"}},
			v1Ctrl: []string{"cpuset", "freezer"}, v2Ctrl: []string{"cpuset"},
		},
		{
			name: "cpuset update leaves the other", l: limitsConfig{res: Resources{Mems: "0"}},
			v1:     []cgroupFile{{"cpuset", "cpuset.mems", "0"}},
			v2:     []cgroupFile{{"cpuset", "cpuset.mems", "0"}},
			v1Ctrl: []string{"cpuset", "freezer"}, v2Ctrl: []string{"cpuset"},
		},
		{
			name: "block I/O weight and throttles",
			l: limitsConfig{res: Resources{BlockIOWeight: 500, BlockIODevices: []BlockIODevice{
				{Major: 8, Minor: 0, Weight: 300, ReadBPS: 1024, WriteIOPS: 10},
				{Major: 254, Minor: 16, WriteBPS: 2048, ReadIOPS: 20},
			}}},
			v1h: v1Host, v2h: v2Host,
			v1: []cgroupFile{
				{"blkio", "blkio.bfq.weight", "500"},
				{"blkio", "blkio.bfq.weight_device", "8:0 300"},
				{"blkio", "blkio.throttle.read_bps_device", "8:0 1024"},
				{"blkio", "blkio.throttle.write_iops_device", "8:0 10"},
				{"blkio", "blkio.throttle.write_bps_device", "254:16 2048"},
				{"blkio", "blkio.throttle.read_iops_device", "254:16 20"},
			},
			v2: []cgroupFile{
				{"io", "io.weight", "default 4950"},
				{"io", "io.weight", "8:0 2930"},
				{"io", "io.max", "8:0 rbps=1024 wiops=10"},
				{"io", "io.max", "254:16 wbps=2048 riops=20"},
			},
			v1Ctrl: []string{"blkio", "freezer"}, v2Ctrl: []string{"io"},
		},
		{
			name: "block I/O weight with CFQ and BFQ v2",
			l:    limitsConfig{res: Resources{BlockIOWeight: 100, BlockIOLeafWeight: 200, BlockIODevices: []BlockIODevice{{Major: 8, LeafWeight: 50}}}},
			v1h:  cgroupHost{blkioWeight: "blkio.weight", blkioLeaf: true}, v2h: cgroupHost{blkioWeight: "io.bfq.weight"},
			v1: []cgroupFile{
				{"blkio", "blkio.weight", "100"},
				{"blkio", "blkio.leaf_weight", "200"},
				{"blkio", "blkio.leaf_weight_device", "8:0 50"},
			},
			v2Err:  "BlockIOLeafWeight: cgroup v2 has no leaf weights",
			v1Ctrl: []string{"blkio", "freezer"}, v2Ctrl: []string{"io"},
		},
		{
			name: "block I/O weight with BFQ v2", l: limitsConfig{res: Resources{BlockIOWeight: 100}},
			v1h: cgroupHost{blkioWeight: "blkio.weight"}, v2h: cgroupHost{blkioWeight: "io.bfq.weight"},
			v1:     []cgroupFile{{"blkio", "blkio.weight", "100"}},
			v2:     []cgroupFile{{"io", "io.bfq.weight", "default 100"}},
			v1Ctrl: []string{"blkio", "freezer"}, v2Ctrl: []string{"io"},
		},
		{
			name: "leaf weight without CFQ", l: limitsConfig{res: Resources{BlockIOLeafWeight: 200}},
			v1h: v1Host, v2h: v2Host,
			v1Err:  "BlockIOLeafWeight: this kernel has no blkio.leaf_weight",
			v2Err:  "BlockIOLeafWeight: cgroup v2 has no leaf weights",
			v1Ctrl: []string{"blkio", "freezer"}, v2Ctrl: []string{"io"},
		},
		{
			name: "device leaf weight on v2", l: limitsConfig{res: Resources{BlockIODevices: []BlockIODevice{{Major: 8, LeafWeight: 50}}}},
			v1h: v1Host, v2h: v2Host,
			v1Err:  "BlockIOLeafWeight",
			v2Err:  "BlockIODevices 8:0 LeafWeight",
			v1Ctrl: []string{"blkio", "freezer"}, v2Ctrl: []string{"io"},
		},
		{
			name: "weight without a weight file", l: limitsConfig{res: Resources{BlockIODevices: []BlockIODevice{{Major: 8, Weight: 50}}}},
			v1Err:  "neither blkio.weight (CFQ) nor blkio.bfq.weight",
			v2Err:  "BlockIODevices 8:0 Weight: this kernel has neither io.weight nor io.bfq.weight",
			v1Ctrl: []string{"blkio", "freezer"}, v2Ctrl: []string{"io"},
		},
		{
			name: "throttle only needs no weight file", l: limitsConfig{res: Resources{BlockIODevices: []BlockIODevice{{Major: 8, ReadBPS: 7}}}},
			v1:     []cgroupFile{{"blkio", "blkio.throttle.read_bps_device", "8:0 7"}},
			v2:     []cgroupFile{{"io", "io.max", "8:0 rbps=7"}},
			v1Ctrl: []string{"blkio", "freezer"}, v2Ctrl: []string{"io"},
		},
		{
			name: "huge pages", l: limitsConfig{res: Resources{HugepageLimits: []HugepageLimit{{"2MB", 200 << 20}}}},
			v1h: v1Host, v2h: v2Host,
			v1:     []cgroupFile{{"hugetlb", "hugetlb.2MB.limit_in_bytes", "209715200"}},
			v2:     []cgroupFile{{"hugetlb", "hugetlb.2MB.max", "209715200"}},
			v1Ctrl: []string{"hugetlb", "freezer"}, v2Ctrl: []string{"hugetlb"},
		},
		{
			name: "huge page size the host lacks", l: limitsConfig{res: Resources{HugepageLimits: []HugepageLimit{{"1GB", 1 << 30}}}},
			v1h: cgroupHost{}, v2h: v2Host,
			v1Err:  "HugepageLimits 1GB: this host has no huge pages of that size (it has none)",
			v2Err:  "HugepageLimits 1GB: this host has no huge pages of that size (it has 2MB)",
			v1Ctrl: []string{"hugetlb", "freezer"}, v2Ctrl: []string{"hugetlb"},
		},
		{
			name: "network", l: limitsConfig{res: Resources{NetClassID: 0x100001, NetPriorities: []NetPriority{{"lo", 10}, {"eth0", 30}}}},
			v1: []cgroupFile{
				{"net_cls", "net_cls.classid", "1048577"},
				{"net_prio", "net_prio.ifpriomap", "lo 10"},
				{"net_prio", "net_prio.ifpriomap", "eth0 30"},
			},
			v2Err:  "NetClassID/NetPriorities: net_cls and net_prio are cgroup v1 controllers",
			v1Ctrl: []string{"net_cls", "net_prio", "freezer"}, v2Ctrl: nil,
		},
		{
			name: "priorities alone on v2", l: limitsConfig{res: Resources{NetPriorities: []NetPriority{{"lo", 1}}}},
			v1:     []cgroupFile{{"net_prio", "net_prio.ifpriomap", "lo 1"}},
			v2Err:  "net_prio",
			v1Ctrl: []string{"net_prio", "freezer"}, v2Ctrl: nil,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check := func(version string, got []cgroupFile, err error, want []cgroupFile, wantErr string) {
				t.Helper()
				if wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), wantErr) {
						t.Errorf("%sFiles: got %v, %v; want an error containing %q", version, got, err, wantErr)
					}
					return
				}
				if err != nil || !reflect.DeepEqual(got, want) {
					t.Errorf("%sFiles = %v, %v\nwant %v", version, got, err, want)
				}
			}
			got, err := tc.l.v1Files(tc.v1h)
			check("v1", got, err, tc.v1, tc.v1Err)
			got, err = tc.l.v2Files(tc.v2h)
			check("v2", got, err, tc.v2, tc.v2Err)
			if got := tc.l.v1Controllers(); !reflect.DeepEqual(got, tc.v1Ctrl) {
				t.Errorf("v1Controllers = %v, want %v", got, tc.v1Ctrl)
			}
			if got := tc.l.v2Controllers(); !reflect.DeepEqual(got, tc.v2Ctrl) {
				t.Errorf("v2Controllers = %v, want %v", got, tc.v2Ctrl)
			}
		})
	}
}

func TestHugepageSizeName(t *testing.T) {
	for kB, want := range map[uint64]string{2048: "2MB", 1 << 20: "1GB", 64: "64KB", 16 << 20: "16GB", 32768: "32MB", 1536: "1536KB"} {
		if got := hugepageSizeName(kB); got != want {
			t.Errorf("hugepageSizeName(%d) = %q, want %q", kB, got, want)
		}
	}
}

func TestBlkioWeightToIOWeight(t *testing.T) {
	for w, want := range map[uint16]uint64{10: 1, 1000: 10000, 500: 4950} {
		if got := blkioWeightToIOWeight(w); got != want {
			t.Errorf("blkioWeightToIOWeight(%d) = %d, want %d", w, got, want)
		}
	}
}

// TestUnifiedPidsIsTheTaskLimit: a Unified pids.max is WithPids' limit
// (whichever option comes first), so that the init's reserve works the same;
// "max" lifts it.
func TestUnifiedPidsIsTheTaskLimit(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  int64
		kept  bool // left in Unified, written as given
	}{{"9", 9, false}, {"max", 0, false}, {"lots", 50, true}} {
		for _, opts := range [][]Option{
			{WithPids(50), WithResources(Resources{Unified: map[string]string{"pids.max": tc.value, "memory.high": "1"}})},
			{WithResources(Resources{Unified: map[string]string{"pids.max": tc.value, "memory.high": "1"}}), WithPids(50)},
		} {
			c, err := testConfig(t, opts...)
			if err != nil {
				t.Fatal(err)
			}
			_, kept := c.limits.res.Unified["pids.max"]
			if c.limits.pids != tc.want || kept != tc.kept || c.limits.res.Unified["memory.high"] != "1" {
				t.Errorf("pids.max %q: task limit %d, left in Unified %v (%v); want %d, %v", tc.value, c.limits.pids, kept, c.limits.res.Unified, tc.want, tc.kept)
			}
		}
	}
}
