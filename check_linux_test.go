package container_test

import (
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/ctrkit/container"
	"github.com/ctrkit/container/containertest"
)

// cgroupEntries lists the caller's cgroup v2 directory, which Check must not
// touch.
func cgroupEntries(t *testing.T) string {
	ents, _ := os.ReadDir(hostCgroup2Dir(t))
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return strings.Join(names, " ")
}

// checkErrors returns the *CheckErrors of err by feature.
func checkErrors(err error) map[string]*container.CheckError {
	out := map[string]*container.CheckError{}
	var walk func(error)
	walk = func(err error) {
		var ce *container.CheckError
		if errors.As(err, &ce) {
			out[ce.Feature] = ce
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
		}
	}
	walk(err)
	return out
}

var checkVeth = container.WithVeth(netip.MustParsePrefix("169.254.30.1/30"), netip.MustParsePrefix("169.254.30.2/30"))

// TestCheck (issue 16): as root on this host every feature checks out, a bad
// option is New's error, a Landlock ruleset a kernel too old for it cannot
// enforce is named, and nothing on the host changes.
func TestCheck(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	before := cgroupEntries(t)
	for name, opts := range map[string][]container.Option{
		"default":  nil,
		"limits":   {container.WithMemory(64 << 20), container.WithPids(16), container.WithCPU(0.5)},
		"veth":     {checkVeth},
		"landlock": {container.WithLandlock(container.LandlockRead("/")), container.WithLandlockBestEffort()},
		"userns":   {container.WithUIDMap(container.IDMap{ContainerID: 0, HostID: 100000, Size: 65536}), container.WithGIDMap(container.IDMap{ContainerID: 0, HostID: 100000, Size: 65536})},
	} {
		if err := container.Check(opts...); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	var oe *container.OptionError
	if err := container.Check(container.WithTmpfs("/x", 0)); !errors.As(err, &oe) {
		t.Errorf("a bad option: %v, want New's OptionError", err)
	}
	restore := container.FakeLandlockABI(3)
	err := container.Check(container.WithLandlock(container.LandlockRead("/")))
	restore()
	if ce := checkErrors(err)["Landlock"]; ce == nil || !strings.Contains(ce.Reason, "ABI 3") {
		t.Errorf("Landlock on a kernel of ABI 3: %v", err)
	}
	if after := cgroupEntries(t); after != before {
		t.Errorf("Check changed the caller's cgroup: %q, was %q", after, before)
	}
}

// TestCheckRootless: without root, Check names what is missing for limits
// and veth networking, with what to do.
func TestCheckRootless(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	containertest.SkipUnlessUserNS(t)
	containertest.RerunAs(t, 65534, 65534, "TestCheckRootlessChild", "CTR_CHECK_ROOTLESS=1")
}

func TestCheckRootlessChild(t *testing.T) {
	if os.Getenv("CTR_CHECK_ROOTLESS") == "" {
		t.Skip("skipping: run by TestCheckRootless as an unprivileged user")
	}
	if err := container.Check(); err != nil {
		t.Errorf("a default rootless container: %v", err)
	}
	ce := checkErrors(container.Check(container.WithMemory(64<<20), checkVeth))
	if c := ce["cgroup limits"]; c == nil || !strings.Contains(c.Error(), "systemd-run") {
		t.Errorf("rootless limits without a delegated cgroup: %v", c)
	}
	if c := ce["veth networking"]; c == nil || !strings.Contains(c.Fix, "WithUserNetwork") {
		t.Errorf("rootless veth: %v", c)
	}
	ce = checkErrors(container.Check(container.WithUIDMap(container.IDMap{ContainerID: 0, HostID: 100000, Size: 65536})))
	if c := ce["user namespaces"]; c == nil || !strings.Contains(c.Reason, "needs root") {
		t.Errorf("a rootless id range: %v", c)
	}
}
