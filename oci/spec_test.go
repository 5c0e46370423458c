package oci

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ctrkit/container"
	"github.com/ctrkit/container/internal/lifecycle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func p[T any](v T) *T { return &v }

// TestFromSpec changes the default spec one field group at a time: each case
// is either honoured (container.New accepts the options) or rejected with an
// error naming the field.
func TestFromSpec(t *testing.T) {
	bundle := t.TempDir()
	if err := os.Mkdir(filepath.Join(bundle, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Without a mount namespace (the container's mounts are made on the
	// host), a caller that is not root would get a user namespace, which
	// cannot mount there.
	noMountNS := ""
	if os.Geteuid() != 0 {
		noMountNS = "new:a user namespace needs a mount namespace"
	}
	for _, tc := range []struct {
		name   string
		change func(s *specs.Spec)
		field  string // "" means honoured
		check  func(t *testing.T, c *Config)
	}{
		{"default", func(s *specs.Spec) {}, "", func(t *testing.T, c *Config) {
			if c.Rootfs != filepath.Join(bundle, "rootfs") || c.CgroupPath != "/ctrkit/c1" || c.Args[0] != "sh" {
				t.Errorf("%+v", c)
			}
		}},
		// version and platform
		{"version", func(s *specs.Spec) { s.Version = "0.9" }, "ociVersion", nil},
		{"windows", func(s *specs.Spec) { s.Windows = &specs.Windows{} }, "solaris/windows/vm/zos", nil},
		// root
		{"no root", func(s *specs.Spec) { s.Root = nil }, "root.path", nil},
		{"absolute root", func(s *specs.Spec) { s.Root.Path = filepath.Join(bundle, "rootfs") }, "", nil},
		// process
		{"no process", func(s *specs.Spec) { s.Process = nil }, "process", nil},
		{"no args", func(s *specs.Spec) { s.Process.Args = nil }, "process.args", nil},
		{"relative cwd", func(s *specs.Spec) { s.Process.Cwd = "tmp" }, "process.cwd", nil},
		{"env", func(s *specs.Spec) { s.Process.Env = []string{"A=1"} }, "", nil},
		{"user", func(s *specs.Spec) {
			s.Process.User = specs.User{UID: 1000, GID: 1000, Umask: p(uint32(0o22)), AdditionalGids: []uint32{1000, 10}}
			s.Process.Capabilities = &specs.LinuxCapabilities{}
		}, "", nil},
		{"username", func(s *specs.Spec) { s.Process.User.Username = "x" }, "process.user.username", nil},
		{"terminal", func(s *specs.Spec) { s.Process.Terminal = true }, "", func(t *testing.T, c *Config) {
			if !c.Terminal {
				t.Error("Terminal not set")
			}
		}},
		{"console size without terminal", func(s *specs.Spec) { s.Process.ConsoleSize = &specs.Box{} }, "process.consoleSize", nil},
		{"rlimits", func(s *specs.Spec) { s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_CORE", Soft: 1, Hard: 2}} }, "", nil},
		{"rlimit soft above hard", func(s *specs.Spec) { s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_CORE", Soft: 3, Hard: 2}} }, "process.rlimits[0]", nil},
		{"new privileges", func(s *specs.Spec) { s.Process.NoNewPrivileges = false }, "", nil},
		{"apparmor", func(s *specs.Spec) { s.Process.ApparmorProfile = "x" }, "process.apparmorProfile", nil},
		{"selinux", func(s *specs.Spec) { s.Process.SelinuxLabel = "x" }, "process.selinuxLabel", nil},
		{"oom score", func(s *specs.Spec) { s.Process.OOMScoreAdj = p(100) }, "", nil},
		{"scheduler", func(s *specs.Spec) { s.Process.Scheduler = &specs.Scheduler{} }, "process.scheduler", nil},
		{"io priority", func(s *specs.Spec) { s.Process.IOPriority = &specs.LinuxIOPriority{} }, "process.ioPriority", nil},
		{"cpu affinity", func(s *specs.Spec) { s.Process.ExecCPUAffinity = &specs.CPUAffinity{} }, "process.execCPUAffinity", nil},
		// capabilities
		{"caps differ", func(s *specs.Spec) { s.Process.Capabilities.Effective = []string{"CAP_KILL"} }, "process.capabilities.effective", nil},
		{"caps inheritable for root", func(s *specs.Spec) { s.Process.Capabilities.Inheritable = []string{"CAP_KILL"} }, "process.capabilities.inheritable", nil},
		{"caps ambient for root", func(s *specs.Spec) {
			s.Process.Capabilities.Inheritable = s.Process.Capabilities.Bounding
			s.Process.Capabilities.Ambient = []string{"CAP_KILL"}
		}, "process.capabilities.ambient", nil},
		{"all five sets for root", func(s *specs.Spec) {
			s.Process.Capabilities.Inheritable = s.Process.Capabilities.Bounding
			s.Process.Capabilities.Ambient = s.Process.Capabilities.Bounding
		}, "", nil},
		{"caps for a user", func(s *specs.Spec) {
			s.Process.User.UID = 1
			c := []string{"CAP_KILL"}
			s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: c, Effective: c, Permitted: c, Inheritable: c, Ambient: c}
		}, "", nil},
		{"caps for a user without ambient", func(s *specs.Spec) { s.Process.User.UID = 1 }, "process.capabilities.inheritable", nil},
		{"caps in bounding alone (docker's for a user)", func(s *specs.Spec) {
			s.Process.User.UID = 1000
			s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: s.Process.Capabilities.Bounding}
		}, "", nil},
		{"caps in bounding alone for root", func(s *specs.Spec) {
			s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: []string{"CAP_KILL"}}
		}, "", nil},
		{"unknown cap", func(s *specs.Spec) {
			c := []string{"CAP_NOPE"}
			s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: c, Effective: c, Permitted: c}
		}, "new:WithCapabilities", nil},
		// hostname
		{"hostname", func(s *specs.Spec) { s.Hostname, s.Domainname = "h", "d" }, "", nil},
		// namespaces and id maps
		{"no linux", func(s *specs.Spec) { s.Linux = nil }, "linux", nil},
		{"network namespace path", func(s *specs.Spec) { s.Linux.Namespaces[1].Path = "/proc/1/ns/net" }, "", nil},
		{"namespace paths", func(s *specs.Spec) {
			for i := range s.Linux.Namespaces {
				s.Linux.Namespaces[i].Path = "/proc/1/ns/" + procNS(s.Linux.Namespaces[i].Type)
			}
		}, "", nil},
		{"user namespace path", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "user", Path: "/proc/1/ns/user"})
		}, "linux.namespaces[6].path", nil},
		{"user namespace and a joined mount namespace", func(s *specs.Spec) {
			s.Linux.Namespaces[4].Path = "/proc/1/ns/mnt"
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "user"})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		}, "new:the mount namespace conflicts with a user namespace", nil},
		{"user namespace and a joined cgroup namespace", func(s *specs.Spec) {
			s.Linux.Namespaces[5].Path = "/proc/1/ns/cgroup"
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "user"})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		}, "", nil},
		{"joined uts namespace with a hostname", func(s *specs.Spec) { s.Linux.Namespaces[3].Path = "/proc/1/ns/uts" }, "", nil},
		// runtime-tools' linux_ns_itype: every namespace the runtime's
		{"no namespaces", func(s *specs.Spec) { s.Linux.Namespaces, s.Hostname, s.Root.Readonly = nil, "", false }, noMountNS, nil},
		{"time namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "time"})
		}, "linux.namespaces[6].type", nil},
		{"duplicate namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "pid"})
		}, "linux.namespaces[6].type", nil},
		{"no mount namespace", func(s *specs.Spec) { s.Linux.Namespaces, s.Root.Readonly = s.Linux.Namespaces[:4], false }, noMountNS, nil},
		{"no mount namespace, read-only root", func(s *specs.Spec) { s.Linux.Namespaces = s.Linux.Namespaces[:4] }, "new:WithReadonlyRootfs: conflicts with WithoutNamespace(NSMount)", nil},
		{"no mount namespace, rootfs propagation", func(s *specs.Spec) {
			s.Linux.Namespaces, s.Root.Readonly, s.Linux.RootfsPropagation = s.Linux.Namespaces[:4], false, "rslave"
		}, "new:WithRootfsPropagation: conflicts with WithoutNamespace(NSMount)", nil},
		{"no mount namespace, user namespace", func(s *specs.Spec) {
			s.Linux.Namespaces, s.Root.Readonly = append(s.Linux.Namespaces[:4], specs.LinuxNamespace{Type: "user"}), false
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		}, "new:a user namespace needs a mount namespace", nil},
		{"host network", func(s *specs.Spec) { s.Linux.Namespaces = append(s.Linux.Namespaces[:1], s.Linux.Namespaces[2:]...) }, "", nil},
		{"user namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "user"})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		}, "", nil},
		{"user namespace without maps", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "user"})
		}, "linux.uidMappings", nil},
		{"maps without user namespace", func(s *specs.Spec) { s.Linux.UIDMappings = []specs.LinuxIDMapping{{Size: 1}} }, "linux.uidMappings", nil},
		// mounts
		{"mounts", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts,
				specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
				specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m"}},
				specs.Mount{Destination: "/b", Type: "bind", Source: "rootfs", Options: []string{"rbind", "rprivate", "ro"}},
				specs.Mount{Destination: "/dev/shm", Source: bundle, Options: []string{"bind", "nosuid", "noexec", "nodev"}},
				specs.Mount{Destination: "/run/x", Type: "mqueue"})
		}, "", nil},
		{"mount type", func(s *specs.Spec) { s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "ext4"}) }, "mounts[6].type", nil},
		{"idmapped mount", func(s *specs.Spec) {
			s.Mounts[0].UIDMappings = []specs.LinuxIDMapping{{Size: 1}}
		}, "mounts[0].uidMappings", nil},
		{"shared mount", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "bind", Source: bundle, Options: []string{"rbind", "rshared"}})
		}, "", nil},
		// linux
		{"sysctl", func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1", "kernel.msgmax": "8192"}
		}, "", nil},
		{"host sysctl", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"vm.overcommit_memory": "1"} }, "new:WithSysctl", nil},
		// kernel.hostname and kernel.domainname are the hostname and domainname fields.
		{"hostname sysctl as the hostname", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"kernel.hostname": "ctrkit"} }, "", nil},
		{"hostname sysctl against the hostname", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"kernel.hostname": "box"} }, `linux.sysctl["kernel.hostname"]`, nil},
		{"hostname sysctl, no hostname", func(s *specs.Spec) {
			s.Hostname, s.Linux.Sysctl = "", map[string]string{"kernel/hostname": "box"}
		}, "", func(t *testing.T, c *Config) { wantUTSName(t, c, `WithHostname "box"`) }},
		{"domainname sysctl, no domainname", func(s *specs.Spec) {
			s.Hostname, s.Linux.Sysctl = "", map[string]string{"kernel.domainname": "lan"}
		}, "", func(t *testing.T, c *Config) {
			wantUTSName(t, c, `WithDomainname "lan"`)
		}},
		{"domainname sysctl against the domainname", func(s *specs.Spec) {
			s.Domainname, s.Linux.Sysctl = "lan", map[string]string{"kernel.domainname": "wan"}
		}, `linux.sysctl["kernel.domainname"]`, nil},
		{"hostname sysctl, host UTS namespace", func(s *specs.Spec) {
			s.Hostname, s.Linux.Sysctl = "", map[string]string{"kernel.hostname": "box"}
			s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.UTSNamespace })
		}, `linux.sysctl["kernel.hostname"]`, nil},
		{"standard devices", func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/null", Type: "c", Major: 1, Minor: 3}}
		}, "", nil},
		{"other device", func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229, FileMode: p(os.FileMode(0o600)), UID: p(uint32(1))}}
		}, "", nil},
		{"host's ptmx", func(s *specs.Spec) { // docker --privileged lists it: the container's own devpts' is kept
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/ptmx", Type: "c", Major: 5, Minor: 2}}
		}, "", nil},
		{"nested device", func(s *specs.Spec) { // docker --privileged: /dev/cpu/0/cpuid and the like
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/net/tun", Type: "c", Major: 10, Minor: 200}}
		}, "", nil},
		{"device outside /dev", func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/tun", Type: "c", Major: 10, Minor: 200}}
		}, "linux.devices[0].path", nil},
		{"fifo device", func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/f", Type: "p"}}
		}, "", nil},
		{"socket device", func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/f", Type: "s"}}
		}, "linux.devices[0].type", nil},
		{"rprivate", func(s *specs.Spec) { s.Linux.RootfsPropagation = "rprivate" }, "", nil},
		{"rshared", func(s *specs.Spec) { s.Linux.RootfsPropagation = "rshared" }, "", nil},
		{"slave", func(s *specs.Spec) { s.Linux.RootfsPropagation = "slave" }, "", nil},
		{"unbindable", func(s *specs.Spec) { s.Linux.RootfsPropagation = "unbindable" }, "", nil},
		{"unknown propagation", func(s *specs.Spec) { s.Linux.RootfsPropagation = "master" }, "linux.rootfsPropagation", nil},
		{"masked paths", func(s *specs.Spec) { s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = []string{"/proc/x"}, []string{} }, "", nil},
		{"mount label", func(s *specs.Spec) { s.Linux.MountLabel = "x" }, "", func(t *testing.T, c *Config) {
			if c.MountLabel != "x" {
				t.Errorf("MountLabel %q, want the runtime to decide about it", c.MountLabel)
			}
		}},
		{"intel rdt", func(s *specs.Spec) { s.Linux.IntelRdt = &specs.LinuxIntelRdt{} }, "linux.intelRdt", nil},
		{"personality", func(s *specs.Spec) { s.Linux.Personality = &specs.LinuxPersonality{} }, "linux.personality", nil},
		{"time offsets", func(s *specs.Spec) { s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {}} }, "linux.timeOffsets", nil},
		// cgroups path
		{"absolute cgroup", func(s *specs.Spec) { s.Linux.CgroupsPath = "/a/b" }, "", func(t *testing.T, c *Config) {
			if c.CgroupPath != "/a/b" {
				t.Error(c.CgroupPath)
			}
		}},
		{"relative cgroup", func(s *specs.Spec) { s.Linux.CgroupsPath = "a/b" }, "", func(t *testing.T, c *Config) {
			if c.CgroupPath != "/ctrkit/a/b" {
				t.Error(c.CgroupPath)
			}
		}},
		// resources
		{"resources", func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{
				Memory: &specs.LinuxMemory{Limit: p(int64(64 << 20)), Swap: p(int64(128 << 20))},
				CPU:    &specs.LinuxCPU{Shares: p(uint64(512)), Quota: p(int64(50000)), Period: p(uint64(100000))},
				Pids:   &specs.LinuxPids{Limit: p(int64(50))},
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"},
					{Allow: true, Type: "c", Major: p(int64(1)), Minor: p(int64(3)), Access: "rwm"}},
			}
		}, "", nil},
		{"swap below limit", func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: p(int64(64 << 20)), Swap: p(int64(32 << 20))}}
		}, "linux.resources.memory.swap", nil},
		{"memory extras", func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: p(int64(64 << 20)), Reservation: p(int64(1 << 20)),
				Kernel: p(int64(64 << 20)), KernelTCP: p(int64(1 << 20)), Swappiness: p(uint64(0)), DisableOOMKiller: p(true)}}
		}, "", nil},
		{"kernel memory below the limit", func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: p(int64(64 << 20)), Kernel: p(int64(32 << 20))}}
		}, "linux.resources.memory.kernel", nil},
		{"swappiness", func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: p(uint64(101))}}
		}, "linux.resources.memory.swappiness", nil},
		{"cpuset", func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0", Mems: "0"}}
		}, "", nil},
		{"cpuset syntax", func(s *specs.Spec) { s.Linux.Resources = &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0-"}} }, "new:CPUs", nil},
		{"cpu period", func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: p(int64(50000)), Period: p(uint64(500000))}}
		}, "", nil},
		{"cpu period out of range", func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: p(int64(500)), Period: p(uint64(999))}}
		}, "linux.resources.cpu.period", nil},
		{"cpu burst", func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{CPU: &specs.LinuxCPU{Burst: p(uint64(1))}}
		}, "linux.resources.cpu.burst", nil},
		{"device allow all", func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}}
		}, "", nil},
		{"moby's device rules", func(s *specs.Spec) { s.Linux.Resources = &specs.LinuxResources{Devices: mobyDevices()} }, "", nil},
		{"device rule hole in a wildcard", func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Access: "rwm"},
				{Allow: true, Type: "c", Major: p(int64(10)), Access: "rw"}, {Type: "c", Major: p(int64(10)), Minor: p(int64(229)), Access: "w"}}}
		}, "linux.resources.devices[2]", nil},
		{"device rule type", func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Type: "p", Access: "rwm"}}}
		}, "linux.resources.devices[0].type", nil},
		{"device rule access", func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Type: "c", Access: "rx"}}}
		}, "linux.resources.devices[0].access", nil},
		{"block io", func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: p(uint16(10)),
				ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{Rate: 1}}}}
		}, "", nil},
		{"block io weight", func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: p(uint16(1001))}}
		}, "linux.resources.blockIO.weight", nil},
		{"hugepages", func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1 << 21}}}
		}, "", nil},
		{"hugepage size", func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2 MB"}}}
		}, "new:HugepageLimits", nil},
		{"network", func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: p(uint32(1)),
				Priorities: []specs.LinuxInterfacePriority{{Name: "lo", Priority: 1}}}}
		}, "", nil},
		{"rdma", func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"mlx": {}}}
		}, "linux.resources.rdma", nil},
		{"unified", func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{Unified: map[string]string{"memory.oom.group": "1"}}
		}, "", nil},
		// hooks
		{"hooks", func(s *specs.Spec) {
			h := []specs.Hook{{Path: "/bin/true"}}
			s.Hooks = &specs.Hooks{CreateRuntime: h, Poststart: h, Poststop: h}
		}, "", func(t *testing.T, c *Config) {
			if len(c.Hooks.Poststop) != 1 {
				t.Error("hooks not kept")
			}
		}},
		{"container hooks", func(s *specs.Spec) {
			h := []specs.Hook{{Path: "/x", Args: []string{"x", "a"}, Env: []string{"A=1"}, Timeout: p(2)}}
			s.Hooks = &specs.Hooks{CreateContainer: h, StartContainer: h, Poststop: h}
		}, "", func(t *testing.T, c *Config) {
			if len(c.Hooks.CreateContainer)+len(c.Hooks.StartContainer) != 0 || len(c.Hooks.Poststop) != 1 {
				t.Errorf("Config.Hooks %+v: want only the runtime's hooks (the others are options)", c.Hooks)
			}
		}},
		{"relative createContainer hook", func(s *specs.Spec) { s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "x"}}} }, "hooks.createContainer[0].path", nil},
		{"startContainer hook timeout", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/true"}, {Path: "/x", Timeout: p(0)}}}
		}, "hooks.startContainer[1].timeout", nil},
		{"relative hook", func(s *specs.Spec) { s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "x"}}} }, "hooks.poststop[0].path", nil},
		// annotations are ignored
		{"annotations", func(s *specs.Spec) { s.Annotations = map[string]string{"a": "b"} }, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := DefaultSpec()
			tc.change(s)
			c, err := FromSpec(s, bundle, "c1")
			if err == nil {
				_, err = container.New(c.Rootfs, c.Args, c.Options...)
				if err != nil && tc.field == "" && os.Geteuid() != 0 {
					// New plans a user namespace for a caller that is not
					// root, which refuses what these specs ask of root.
					t.Skipf("as root only: New as uid %d: %v", os.Geteuid(), err)
				}
				if err != nil {
					err = &FieldError{Field: "new", Err: err}
				}
			}
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tc.field == "":
				if tc.check != nil {
					tc.check(t, c)
				}
			case err == nil:
				t.Fatalf("honoured, want an error naming %s", tc.field)
			case strings.HasPrefix(tc.field, "new:"):
				if !strings.Contains(err.Error(), strings.TrimPrefix(tc.field, "new:")) {
					t.Fatalf("error %v, want it to mention %s", err, tc.field)
				}
			default:
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Field != tc.field {
					t.Fatalf("error %v, want one naming %s", err, tc.field)
				}
			}
		})
	}
}

// wantUTSName checks that c's options set a hostname or domain name: the
// library refuses one in the host's UTS namespace, naming the option and value.
func wantUTSName(t *testing.T, c *Config, want string) {
	t.Helper()
	_, err := container.New(c.Rootfs, c.Args, append(c.Options, container.WithoutNamespace(container.NSUTS))...)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("New without a UTS namespace: %v, want an error naming %s", err, want)
	}
}

// procNS is a namespace's file name in /proc/PID/ns.
func procNS(t specs.LinuxNamespaceType) string {
	switch t {
	case specs.MountNamespace:
		return "mnt"
	case specs.NetworkNamespace:
		return "net"
	}
	return string(t)
}

func TestResourceOptions(t *testing.T) {
	opts, err := ResourceOptions(&specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: p(int64(64 << 20))},
		CPU:    &specs.LinuxCPU{Shares: p(uint64(512)), Quota: p(int64(50000))},
		Pids:   &specs.LinuxPids{Limit: p(int64(50))},
	})
	if err != nil || len(opts) != 4 {
		t.Fatalf("got %d options, %v; want 4", len(opts), err)
	}
	if _, err := container.New(t.TempDir(), []string{"true"}, opts...); err != nil {
		t.Fatal(err)
	}
	if opts, err := ResourceOptions(&specs.LinuxResources{}); err != nil || len(opts) != 0 {
		t.Fatalf("empty resources: %d options, %v", len(opts), err)
	}
	_, err = ResourceOptions(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{}}})
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "linux.resources.devices" {
		t.Fatalf("devices: %v", err)
	}
}

// TestResourceLimits checks what each linux.resources field becomes, and the
// fields that stay rejected.
func TestResourceLimits(t *testing.T) {
	for _, tc := range []struct {
		name  string
		r     specs.LinuxResources
		want  resourceLimits
		field string // the rejected field; "" means honoured
	}{
		{name: "empty"},
		{name: "memory", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: p(int64(50593792)), Reservation: p(int64(50593792)),
			Swap: p(int64(50593792)), Kernel: p(int64(50593792)), KernelTCP: p(int64(50593792)), Swappiness: p(uint64(10)), DisableOOMKiller: p(true)}},
			want: resourceLimits{memory: 50593792, res: container.Resources{MemoryReservation: 50593792, KernelTCPMemory: 50593792,
				MemorySwappiness: p(uint64(10)), DisableOOMKiller: true}}},
		{name: "no limits asked: -1 and false", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Kernel: p(int64(-1)), KernelTCP: p(int64(-1)),
			DisableOOMKiller: p(false), Reservation: p(int64(0))}}},
		{name: "kernel memory above the limit", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: p(int64(64 << 20)), Kernel: p(int64(128 << 20))}},
			want: resourceLimits{memory: 64 << 20}},
		{name: "kernel memory below the limit", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: p(int64(64 << 20)), Kernel: p(int64(1 << 20))}},
			field: "linux.resources.memory.kernel"},
		{name: "kernel memory without a limit", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Kernel: p(int64(1 << 30))}},
			field: "linux.resources.memory.kernel"},
		{name: "kernel memory 0, as docker update -m sends it", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: p(int64(128 << 20)), Kernel: p(int64(0))}},
			want: resourceLimits{memory: 128 << 20}},
		{name: "kernel TCP zero", r: specs.LinuxResources{Memory: &specs.LinuxMemory{KernelTCP: p(int64(0))}},
			field: "linux.resources.memory.kernelTCP"},
		{name: "negative reservation", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Reservation: p(int64(-1))}},
			field: "linux.resources.memory.reservation"},
		{name: "check before update", r: specs.LinuxResources{Memory: &specs.LinuxMemory{CheckBeforeUpdate: p(true)}},
			field: "linux.resources.memory.checkBeforeUpdate"},
		{name: "swap without limit", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Swap: p(int64(1 << 20))}},
			field: "linux.resources.memory.swap"},
		{name: "cpu", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: p(uint64(2048)), Quota: p(int64(200000)), Period: p(uint64(500000)),
			Cpus: "0-1", Mems: "0", RealtimeRuntime: p(int64(950000)), RealtimePeriod: p(uint64(1000000))}},
			want: resourceLimits{cpus: 0.4, shares: 2048, res: container.Resources{CPUPeriod: 500000, CPUs: "0-1", Mems: "0",
				RealtimeRuntime: 950000, RealtimePeriod: 1000000}}},
		{name: "cpu default period", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: p(int64(50000)), Period: p(uint64(0))}},
			want: resourceLimits{cpus: 0.5}},
		{name: "unlimited quota", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: p(int64(-1))}}},
		{name: "cpu idle", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: p(int64(1))}}, field: "linux.resources.cpu.idle"},
		{name: "pids", r: specs.LinuxResources{Pids: &specs.LinuxPids{Limit: p(int64(7))}}, want: resourceLimits{pids: 7}},
		{name: "block io", r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: p(uint16(500)), LeafWeight: p(uint16(300)),
			WeightDevice: []specs.LinuxWeightDevice{
				{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Weight: p(uint16(500)), LeafWeight: p(uint16(300))}},
			ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 1}},
			ThrottleWriteBpsDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 16}, Rate: 2}},
			ThrottleReadIOPSDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 3}},
			ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 16}, Rate: 4}},
		}},
			want: resourceLimits{res: container.Resources{BlockIOWeight: 500, BlockIOLeafWeight: 300, BlockIODevices: []container.BlockIODevice{
				{Major: 8, Minor: 0, Weight: 500, LeafWeight: 300, ReadBPS: 1, ReadIOPS: 3},
				{Major: 8, Minor: 16, WriteBPS: 2, WriteIOPS: 4},
			}}}},
		{name: "block io leaf weight", r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{LeafWeight: p(uint16(5))}},
			field: "linux.resources.blockIO.leafWeight"},
		{name: "block io device weight", r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{WeightDevice: []specs.LinuxWeightDevice{{}, {Weight: p(uint16(2000))}}}},
			field: "linux.resources.blockIO.weightDevice[1].weight"},
		{name: "hugepages", r: specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1 << 30}, {Pagesize: "1GB", Limit: 1 << 30}}},
			want: resourceLimits{res: container.Resources{HugepageLimits: []container.HugepageLimit{{PageSize: "2MB", Bytes: 1 << 30}, {PageSize: "1GB", Bytes: 1 << 30}}}}},
		{name: "network", r: specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: p(uint32(0x100001)),
			Priorities: []specs.LinuxInterfacePriority{{Name: "lo", Priority: 10}, {Name: "eth0", Priority: 30}}}},
			want: resourceLimits{res: container.Resources{NetClassID: 0x100001,
				NetPriorities: []container.NetPriority{{Interface: "lo", Priority: 10}, {Interface: "eth0", Priority: 30}}}}},
		{name: "rdma", r: specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"x": {}}}, field: "linux.resources.rdma"},
		{name: "unified", r: specs.LinuxResources{Unified: map[string]string{"memory.high": "1"}},
			want: resourceLimits{res: container.Resources{Unified: map[string]string{"memory.high": "1"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := resourceLimitsOf(&tc.r)
			if tc.field != "" {
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Field != tc.field {
					t.Fatalf("got %v, want an error naming %s", err, tc.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
			opts, err := ResourceOptions(&tc.r)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := container.New(t.TempDir(), []string{"true"}, opts...); err != nil {
				t.Fatalf("New refused the options: %v", err)
			}
		})
	}
}

// TestLibraryHook: a createContainer or startContainer hook keeps its path,
// args, env and timeout, and reads the state with its status and the pid the
// library gives (the pid as the container sees it).
func TestLibraryHook(t *testing.T) {
	state := specs.State{Version: specs.Version, ID: "c1", Bundle: "/b", Annotations: map[string]string{"k": "v"}}
	for _, tc := range []struct {
		name   string
		hook   specs.Hook
		status specs.ContainerState
		want   Hook
		stdin  string
	}{
		{"minimal", specs.Hook{Path: "/h"}, specs.StateCreating, Hook{Path: "/h"},
			`{"ociVersion":"` + specs.Version + `","id":"c1","status":"creating","pid":1,"bundle":"/b","annotations":{"k":"v"}}`},
		{"full", specs.Hook{Path: "/h", Args: []string{"h", "-x"}, Env: []string{"A=1"}, Timeout: p(3)}, specs.StateCreated,
			Hook{Path: "/h", Args: []string{"h", "-x"}, Env: []string{"A=1"}, Timeout: 3 * time.Second},
			`{"ociVersion":"` + specs.Version + `","id":"c1","status":"created","pid":1,"bundle":"/b","annotations":{"k":"v"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := libraryHook(tc.hook, state, tc.status)
			if got.Stdin == nil {
				t.Fatal("no stdin")
			}
			if in := string(got.Stdin(1)); in != tc.stdin {
				t.Errorf("stdin %s, want %s", in, tc.stdin)
			}
			got.Stdin = nil
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("hook %+v, want %+v", got, tc.want)
			}
		})
	}
	// The state is the caller's: one hook's pid does not leak into another's.
	h := libraryHook(specs.Hook{Path: "/h"}, state, specs.StateCreated)
	h.Stdin(7)
	if in := string(h.Stdin(1)); !strings.Contains(in, `"pid":1,`) {
		t.Errorf("second stdin %s", in)
	}
}

// mobyDevices is the device list of moby's default spec (oci/defaults.go),
// which every docker run sends: deny all, allow six devices, deny fuse.
func mobyDevices() []specs.LinuxDeviceCgroup {
	c := func(allow bool, major, minor int64) specs.LinuxDeviceCgroup {
		return specs.LinuxDeviceCgroup{Allow: allow, Type: "c", Major: p(major), Minor: p(minor), Access: "rwm"}
	}
	return []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"},
		c(true, 1, 5), c(true, 1, 3), c(true, 1, 9), c(true, 1, 8), c(true, 5, 0), c(true, 5, 1), c(false, 10, 229)}
}

// TestDeviceRuleList: the spec's rules become the library's one for one, in
// their order, a missing type, number or access meaning any.
func TestDeviceRuleList(t *testing.T) {
	got, err := deviceRuleList(mobyDevices())
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, r := range got {
		s = append(s, r.String())
	}
	want := "deny a *:* rwm; c 1:5 rwm; c 1:3 rwm; c 1:9 rwm; c 1:8 rwm; c 5:0 rwm; c 5:1 rwm; deny c 10:229 rwm"
	if strings.Join(s, "; ") != want {
		t.Fatalf("got  %s\nwant %s", strings.Join(s, "; "), want)
	}
	got, err = deviceRuleList([]specs.LinuxDeviceCgroup{{Allow: true}, {Type: "b", Major: p(int64(8)), Access: "r"}})
	if err != nil || len(got) != 2 || got[0].String() != "a *:* rwm" || got[1].String() != "deny b 8:* r" {
		t.Fatalf("got %v, %v", got, err)
	}
}

// TestResourceFieldError: a Resources control the host refused comes back
// naming the spec's field and keeping the cause; other errors pass as they are.
func TestResourceFieldError(t *testing.T) {
	cause := errors.New("cgroup v2 files")
	for field, want := range map[string]string{
		"Unified":          "linux.resources.unified",
		"MemorySwappiness": "linux.resources.memory.swappiness",
		"BlockIODevices":   "linux.resources.blockIO",
	} {
		err := ResourceFieldError(fmt.Errorf("container: %w", &lifecycle.ResourceError{Field: field, Err: cause}))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != want || !errors.Is(err, cause) {
			t.Errorf("%s: %v, want a FieldError for %s wrapping the cause", field, err, want)
		}
	}
	if other := errors.New("mount: EPERM"); ResourceFieldError(other) != other {
		t.Error("ResourceFieldError changed an error no resource caused")
	}
}
