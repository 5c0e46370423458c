package container_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/ctrkit/container"
	"github.com/ctrkit/container/containertest"
	"golang.org/x/sys/unix"
)

// deviceProbe opens each path named on its command line for reading and
// prints "PATH ok" or "PATH " and the error busybox's head reports.
const deviceProbe = `t() { e=$(head -c 1 "$1" 2>&1 >/dev/null) && echo "$1 ok" || echo "$1 ${e##*: }"; }; `

// probeDevices runs deviceProbe in a container over paths (after script) and
// returns what it printed for each path.
func probeDevices(t *testing.T, rootfs, script string, paths []string, opts ...container.Option) map[string]string {
	t.Helper()
	body := deviceProbe + script
	for _, p := range paths {
		body += "; t " + p
	}
	out, err := containertest.CombinedOutput(t, rootfs, []string{"/bin/sh", "-c", body}, opts...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if p, res, ok := strings.Cut(l, " "); ok {
			got[p] = res
		}
	}
	return got
}

// carryDevice puts a device node for /dev/zero (char 1:5) into the rootfs, as
// a root file system taken from somewhere else may carry one.
func carryDevice(t *testing.T, rootfs string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(rootfs, "srv"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(rootfs, "srv", "zero"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 5))); err != nil {
		t.Fatal(err)
	}
}

// checkDevices fails the test unless every path of want got its result.
func checkDevices(t *testing.T, got map[string]string, want map[string]string) {
	t.Helper()
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s: %q, want %q", p, got[p], w)
		}
	}
}

// The device fence (issue 11): a default container (which keeps CAP_MKNOD, as
// Docker's does) opens the standard devices and those it is given, and no
// other node: not one it makes, in /dev or elsewhere, not one the rootfs
// carries, not one a bind or a mount of a host path reaches.
func TestDeviceFence(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	carryDevice(t, rootfs)
	const denied = "Permission denied"
	made := "mknod /dev/made c 1 5; mknod /tmp/made c 1 5; mkdir -p /mnt/t && mknod /mnt/t/made c 1 5"
	paths := []string{"/dev/made", "/tmp/made", "/mnt/t/made", "/srv/zero", "/hostdev/zero", "/mnt/zero",
		"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/given", "/dev/sub/dir/given", "/proc/keys"}
	got := probeDevices(t, rootfs, made+"; exec 3<>/dev/ptmx && echo /dev/ptmx ok", paths,
		container.WithBind("/dev", "/hostdev", true),
		container.WithBind("/dev/zero", "/mnt/zero", false),
		container.WithMount("tmpfs", "tmpfs", "/mnt/t"),
		container.WithDevices(container.Device{Name: "given", Major: 1, Minor: 5}, container.Device{Name: "sub/dir/given", Major: 1, Minor: 5}))
	checkDevices(t, got, map[string]string{
		"/dev/made": denied, "/tmp/made": denied, "/mnt/t/made": denied, "/srv/zero": denied,
		"/hostdev/zero": denied, "/mnt/zero": denied,
		"/dev/null": "ok", "/dev/zero": "ok", "/dev/full": "ok", "/dev/random": "ok", "/dev/urandom": "ok",
		"/dev/given": "ok", "/dev/sub/dir/given": "ok", "/proc/keys": "ok", "/dev/ptmx": "ok",
	})

	// Without a mount namespace, the rootfs and the plan's mounts are the
	// host's: the fence binds the rootfs onto itself, and Wait unmounts it.
	got = probeDevices(t, rootfs, "mknod /tmp/made c 1 5", []string{"/tmp/made", "/srv/zero", "/dev/zero"},
		container.WithoutNamespace(container.NSMount))
	checkDevices(t, got, map[string]string{"/tmp/made": denied, "/srv/zero": denied, "/dev/zero": "ok"})
}

// TestDeviceFenceRootless: in a user namespace the standard devices are binds
// of the host's nodes; a node the rootfs carries and the host's /dev bound in
// stay closed.
func TestDeviceFenceRootless(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	containertest.SkipUnlessUserNS(t)
	rootfs := containertest.Rootfs(t)
	carryDevice(t, rootfs)
	if err := os.Mkdir(filepath.Join(rootfs, "hostdev"), 0o755); err != nil { // the container's root cannot make it
		t.Fatal(err)
	}
	containertest.RerunAs(t, 65534, 65534, "TestDeviceFenceRootlessChild", "CTR_FENCE_ROOTFS="+rootfs)
}

func TestDeviceFenceRootlessChild(t *testing.T) {
	rootfs := os.Getenv("CTR_FENCE_ROOTFS")
	if rootfs == "" {
		t.Skip("skipping: run by TestDeviceFenceRootless as an unprivileged user")
	}
	got := probeDevices(t, rootfs, "true", []string{"/srv/zero", "/hostdev/zero", "/dev/zero", "/dev/null", "/dev/urandom"},
		container.WithBind("/dev", "/hostdev", true))
	checkDevices(t, got, map[string]string{"/srv/zero": "Permission denied", "/hostdev/zero": "Permission denied",
		"/dev/zero": "ok", "/dev/null": "ok", "/dev/urandom": "ok"})
	if t.Failed() {
		fmt.Println(got)
	}
}

// hostCgroup2Dir returns the caller's own cgroup directory in the host's
// cgroup2 hierarchy (/sys/fs/cgroup on a v2 host, .../unified on a hybrid one).
func hostCgroup2Dir(t *testing.T) string {
	t.Helper()
	pc, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	own := ""
	for _, l := range strings.Split(string(pc), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			own = p
		}
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(mi), "\n") {
		f := strings.Fields(l)
		for i := 6; i+1 < len(f); i++ {
			if f[i] == "-" && f[i+1] == "cgroup2" && own != "" && f[3] == "/" {
				return filepath.Join(f[4], own)
			}
		}
	}
	t.Skip("skipping: the host has no cgroup2 hierarchy mounted")
	return ""
}

// TestCgroupMountView (issue 11): a cgroup2 mount in the container shows the
// container's own cgroup and nothing above it (a host cgroup beside the
// container's stays out of sight), read-only unless "rw" is asked for by
// name; with a cgroup namespace and without one.
func TestCgroupMountView(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	host := hostCgroup2Dir(t)
	marker := filepath.Join(host, "ctrkit-test-marker-"+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(marker, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(marker)
	script := `ls /sys/fs/cgroup | grep -c marker; mkdir /sys/fs/cgroup/sub 2>&1 | grep -o 'Read-only file system'; ` +
		`(echo $$ > /sys/fs/cgroup/cgroup.procs) 2>&1 | grep -o 'Read-only file system'; wc -l < /sys/fs/cgroup/cgroup.procs; true`
	for _, tc := range []struct {
		name string
		opts []container.Option
	}{
		{"cgroupns", nil},
		{"no cgroupns", []container.Option{container.WithoutNamespace(container.NSCgroup)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := append([]container.Option{container.WithMount("cgroup2", "cgroup2", "/sys/fs/cgroup")}, tc.opts...)
			// The shell and the command substitution's subshells: at most a few.
			out := containertest.Sh(t, rootfs, script, opts...)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 4 || lines[0] != "0" || lines[1] != "Read-only file system" || lines[2] != "Read-only file system" {
				t.Fatalf("cgroup2 view:\n%s", out)
			}
			if n, _ := strconv.Atoi(strings.TrimSpace(lines[3])); n < 1 || n > 4 {
				t.Fatalf("the view's cgroup.procs lists %s processes, not only the container's:\n%s", lines[3], out)
			}
			opts = append(opts[1:], container.WithMount("cgroup2", "cgroup2", "/sys/fs/cgroup", "rw"))
			if out := containertest.Sh(t, rootfs, "mkdir /sys/fs/cgroup/sub && rmdir /sys/fs/cgroup/sub && echo rw", opts...); out != "rw\n" {
				t.Fatalf(`with "rw": %q`, out)
			}
		})
	}
}

// TestEtcFiles (issue 13): /etc/hostname holds the container's hostname and
// /etc/hosts names localhost and it, for a rootfs that has those files
// (read-only too), while the rootfs's own files stay as they were; a rootfs
// without them gets none.
func TestEtcFiles(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	for _, f := range []string{"hostname", "hosts"} {
		if err := os.WriteFile(filepath.Join(rootfs, "etc", f), []byte("the rootfs's\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, opts := range [][]container.Option{nil, {container.WithReadonlyRootfs()}} {
		out := containertest.Sh(t, rootfs, "cat /etc/hostname; grep -v '^#' /etc/hosts; hostname",
			append(opts, container.WithHostname("box"))...)
		want := "box\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tbox\nbox\n"
		if out != want {
			t.Errorf("%d options: got %q, want %q", len(opts), out, want)
		}
	}
	for _, f := range []string{"hostname", "hosts"} {
		if b, _ := os.ReadFile(filepath.Join(rootfs, "etc", f)); string(b) != "the rootfs's\n" {
			t.Errorf("the rootfs's /etc/%s changed: %q", f, b)
		}
		os.Remove(filepath.Join(rootfs, "etc", f))
	}
	if out := containertest.Sh(t, rootfs, "ls /etc/hostname /etc/hosts 2>&1; ls /dev | grep -c ctrkit; true"); !strings.Contains(out, "No such file") || !strings.HasSuffix(out, "0\n") {
		t.Errorf("without the files in the rootfs: %q", out)
	}
}

// TestCgroupView (issue 13): every container sees its own cgroup, read-only,
// at /sys/fs/cgroup: its limits (memory.max on v2,
// memory/memory.limit_in_bytes on v1), a CPU limit the Go runtime sizes
// GOMAXPROCS from, EROFS for mkdir and writes, and no host cgroup above its
// own, also without limits.
func TestCgroupView(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	host := hostCgroup2Dir(t)
	marker := filepath.Join(host, "ctrkit-test-marker-"+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(marker, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(marker)
	const script = `cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes
mkdir /sys/fs/cgroup/sub 2>&1 | grep -o 'Read-only file system'
(echo 1 > /sys/fs/cgroup/cgroup.procs) 2>&1 | grep -o 'Read-only file system'
find /sys/fs/cgroup -name 'ctrkit-test-marker*' | wc -l`
	if out := containertest.Sh(t, rootfs, script, container.WithMemory(64<<20)); out != "67108864\nRead-only file system\nRead-only file system\n0\n" {
		t.Errorf("with WithMemory(64 MiB):\n%s", out)
	}
	// Without limits: a view all the same (on a v2 or hybrid host), read-only,
	// with nothing of the host's.
	out := containertest.Sh(t, rootfs, `ls /sys/fs/cgroup | wc -l; `+script)
	if !strings.HasSuffix(out, "Read-only file system\nRead-only file system\n0\n") || strings.HasPrefix(out, "0\n") {
		t.Errorf("without limits:\n%s", out)
	}

	// GOMAXPROCS: this test binary as the command, on a root file system
	// of the host's programs (it may be linked dynamically). Go's runtime
	// takes the limit with a floor of 2 (runtime.adjustCgroupGOMAXPROCS), so
	// WithCPU(1) shows as 2 on a machine of more CPUs (the v2 VM stage has
	// 4), and as all of them on a 2-CPU one, where the quota file the runtime
	// reads is checked instead.
	dir := t.TempDir()
	binds, err := containertest.HostRootfs(dir)
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "probe"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	// containermaxprocs: the default only for a main module of go 1.25 on
	// (this one says 1.24).
	opts := append(binds, container.WithBind(self, "/probe", true), container.WithCPU(1),
		container.WithEnv("CTRKIT_PROBE=gomaxprocs", "GODEBUG=containermaxprocs=1"))
	want := fmt.Sprintln(min(runtime.NumCPU(), 2))
	if out, errOut, err := containertest.Run(t, dir, []string{"/probe"}, opts...); err != nil || out != want {
		t.Errorf("GOMAXPROCS in WithCPU(1) on %d CPUs: %q, %v, want %q\n%s", runtime.NumCPU(), out, err, want, errOut)
	}
	quota := containertest.Sh(t, rootfs, "cat /sys/fs/cgroup/cpu.max 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us", container.WithCPU(1))
	if q := strings.TrimSpace(quota); q != "100000 100000" && q != "100000" {
		t.Errorf("the CPU quota in the view: %q", quota)
	}
}
