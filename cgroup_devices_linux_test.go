package container_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctrkit/container"
	"github.com/ctrkit/container/containertest"
	"github.com/ctrkit/container/internal/devices"
	"github.com/ctrkit/container/oci" // also the eBPF device program for cgroup v2
)

// dockerLikeRules are moby's default device rules (deny all, allow six
// devices, deny fuse after the allows), then tun allowed and its write denied
// after.
var dockerLikeRules = []oci.DeviceRule{{Type: 'a', Major: -1, Minor: -1, Access: "rwm", Deny: true},
	{Type: 'c', Major: 1, Minor: 5, Access: "rwm"}, {Type: 'c', Major: 1, Minor: 3, Access: "rwm"},
	{Type: 'c', Major: 1, Minor: 9, Access: "rwm"}, {Type: 'c', Major: 1, Minor: 8, Access: "rwm"},
	{Type: 'c', Major: 5, Minor: 0, Access: "rwm"}, {Type: 'c', Major: 5, Minor: 1, Access: "rwm"},
	{Type: 'c', Major: 10, Minor: 229, Access: "rwm", Deny: true},
	{Type: 'c', Major: 10, Minor: 200, Access: "rwm"}, {Type: 'c', Major: 10, Minor: 200, Access: "w", Deny: true}}

// deviceScript tries each access in a busybox container: "ok" or "EPERM".
// The container's own mounts are nodev (the device fence), so the nodes it
// makes go on a tmpfs it mounts itself, without nodev: with CAP_SYS_ADMIN
// in the host's user namespace (and no seccomp filter, which refuses
// mount), where the device cgroup is the fence left.
const deviceScript = `try() { if "$@" 2>/tmp/e; then echo ok; elif grep -q 'Operation not permitted' /tmp/e; then echo EPERM; else cat /tmp/e; fi; }
mkdir -p /mnt/dev && mount -t tmpfs -o dev tmpfs /mnt/dev
try mknod /mnt/dev/fuse c 10 229
try mknod /mnt/dev/disk b 8 0
try mknod /mnt/dev/tun c 10 200
try sh -c ': </mnt/dev/tun'
try sh -c ': >/mnt/dev/tun'
try sh -c 'echo x >/dev/null'
try sh -c 'head -c1 /dev/urandom >/dev/null'
umount /mnt/dev`

const deviceWant = "EPERM\nEPERM\nok\nok\nEPERM\nok\nok\n"

func checkDeviceRules(t *testing.T, cg string) {
	rootfs := containertest.Rootfs(t)
	out := containertest.Sh(t, rootfs, deviceScript, oci.WithCgroupPath(cg), oci.WithDeviceRules(dockerLikeRules...),
		container.WithCapAdd("CAP_SYS_ADMIN"), container.WithoutSeccomp())
	if out != deviceWant {
		t.Fatalf("got:\n%s\nwant (fuse, 8:0, mknod tun, read tun, write tun, null, urandom):\n%s", out, deviceWant)
	}
}

// TestDeviceRulesDenyAfterAllow runs Docker's rules, a deny after the allows
// included, on the cgroup v1 devices controller: a denied node fails with
// EPERM, an allowed one works.
func TestDeviceRulesDenyAfterAllow(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	if _, err := os.Stat("/sys/fs/cgroup/devices"); err != nil {
		t.Skip("no cgroup v1 devices controller on this machine")
	}
	cg := testCgroupPath(t, "devices-deny")
	t.Cleanup(func() { oci.RemoveCgroup(cg) })
	checkDeviceRules(t, cg)
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/devices", cg)); err == nil {
		t.Error("cgroup left in devices")
	}
}

// TestDeviceRulesV2 runs the same rules on a pure cgroup v2 host, through the
// eBPF device program that package oci provides, and checks that without it
// Start fails and leaves no cgroup.
func TestDeviceRulesV2(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	if c, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers"); err != nil || len(strings.TrimSpace(string(c))) == 0 {
		t.Skip("needs a pure cgroup v2 host (the cgroup2 hierarchy at /sys/fs/cgroup has no controllers here)")
	}
	cg := testCgroupPath(t, "devices-v2")
	t.Cleanup(func() { oci.RemoveCgroup(cg) })
	checkDeviceRules(t, cg)
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", cg)); err == nil {
		t.Error("cgroup left")
	}

	attach := devices.AttachProgram
	devices.AttachProgram = nil
	defer func() { devices.AttachProgram = attach }()
	c, err := container.New(containertest.Rootfs(t), []string{"true"}, oci.WithCgroupPath(cg), oci.WithDeviceRules(dockerLikeRules...),
		container.WithCapAdd("CAP_SYS_ADMIN"), container.WithoutSeccomp())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "github.com/ctrkit/container/oci") {
		t.Fatalf("without the eBPF loader: %v", err)
	}
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", cg)); err == nil {
		t.Error("cgroup left after the failed Start")
	}
}
