package container_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/ctrkit/container"
	"github.com/ctrkit/container/containertest"
	"github.com/ctrkit/container/internal/lifecycle"
	"github.com/ctrkit/container/oci"
)

// A cgroup at a fixed path made without any limit can be given a memory
// and a pids limit later (docker update -m on a container run without -m),
// and has the files docker stats reads, on v1 and v2.
func TestCgroupPathUpdateWithoutLimits(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	cg := testCgroupPath(t, "nolimits")
	c, dirs := startSleeping(t, oci.WithCgroupPath(cg))
	if err := oci.UpdateCgroup(cg, WithMemory(64<<20), WithPids(50)); err != nil {
		t.Fatalf("update of a cgroup made without limits: %v", err)
	}
	want := map[string]string{"memory/memory.limit_in_bytes": "67108864", "pids/pids.max": "50",
		"cpuacct/cpuacct.usage": "", "memory/memory.usage_in_bytes": "", "blkio/blkio.throttle.io_service_bytes": ""}
	if unifiedHost() {
		want = map[string]string{"memory.max": "67108864", "pids.max": "50", "cpu.stat": "", "memory.current": "", "io.stat": ""}
	}
	for file, v := range want {
		dir := dirs[""]
		if h, name, ok := strings.Cut(file, "/"); ok {
			if dir = dirs[h]; dir == "" {
				t.Errorf("not in the %s hierarchy", h)
				continue
			}
			file = name
		}
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Errorf("%v", err)
		} else if v != "" && strings.TrimSpace(string(b)) != v {
			t.Errorf("%s = %q, want %s", file, b, v)
		}
	}
	stop(t, c, dirs)
}

// A container whose capabilities are its bounding set only (Docker's spec
// for a user other than root) starts its command with none permitted,
// effective or ambient, and the bounding set it was given.
func TestBoundingCapabilitiesOnly(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	bounding := lifecycle.WithBoundingCapabilitiesOnly.(func() Option)()
	for _, uid := range []uint32{1000, 0} {
		// Docker's spec leaves no_new_privs off.
		out := containertest.Sh(t, containertest.Rootfs(t), "grep Cap /proc/self/status",
			WithUser(uid, uid), WithCapabilities("CAP_KILL", "CAP_NET_RAW"), bounding, WithNewPrivileges())
		for _, want := range []string{"CapInh:\t0000000000000000", "CapPrm:\t0000000000000000", "CapEff:\t0000000000000000",
			"CapBnd:\t0000000000002020", "CapAmb:\t0000000000000000"} {
			if uid == 0 && (strings.HasPrefix(want, "CapPrm") || strings.HasPrefix(want, "CapEff")) {
				// execve of a program by root gives it the bounding set
				// (without no_new_privs).
				want = want[:8] + "0000000000002020"
			}
			if !strings.Contains(out, want) {
				t.Errorf("uid %d: no %q in\n%s", uid, want, out)
			}
		}
	}
}
