package container_test

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/ctrkit/container"
	"github.com/ctrkit/container/containertest"
	"golang.org/x/sys/unix"
)

// TestWithoutPivotRoot: a container whose root was moved onto / and entered
// with chroot sees its rootfs as /, its own /proc (it is PID 1 there), and
// one mount at /, whose parent (the old root) is out of its sight; with each
// root propagation WithoutPivotRoot accepts, the root gets it (and is never
// shared), and the host's mount table does not change.
func TestWithoutPivotRoot(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	// rslave makes the root a slave only of a shared mount of the host's:
	// here it is checked to be no peer of the host's.
	for _, tc := range []struct{ prop, field string }{{"", ""}, {"rslave", ""}, {"unbindable", "unbindable"}} {
		t.Run("propagation="+tc.prop, func(t *testing.T) {
			opts := []container.Option{container.WithoutPivotRoot()}
			if tc.prop != "" {
				opts = append(opts, container.WithRootfsPropagation(tc.prop))
			}
			before := mountinfo(t)
			out := containertest.Sh(t, rootfs, `ls /; echo pid $$; echo; cat /proc/self/mountinfo`, opts...)
			ls, info, _ := strings.Cut(out, "\n\n")
			ls += "\n"
			for _, want := range []string{"bin\n", "etc\n", "proc\n", "pid 1\n"} {
				if !strings.Contains(ls, want) {
					t.Errorf("output lacks %q:\n%s", want, ls)
				}
			}
			ids := map[string]bool{}
			var roots [][]string
			for _, line := range strings.Split(strings.TrimSpace(info), "\n") {
				f := strings.Fields(line)
				if len(f) < 7 {
					t.Fatalf("mountinfo line %q", line)
				}
				ids[f[0]] = true
				if f[4] == "/" {
					roots = append(roots, f)
				}
			}
			if len(roots) != 1 || ids[roots[0][1]] {
				t.Fatalf("want one mount at /, its parent not shown:\n%s", info)
			}
			optional := strings.Join(roots[0][6:slices.Index(roots[0], "-")], " ")
			if strings.Contains(optional, "shared:") || !strings.Contains(optional, tc.field) {
				t.Errorf("the root's optional fields: %q, want %q", optional, tc.field)
			}
			if !strings.Contains(info, " /proc ") || !strings.Contains(info, " /dev ") {
				t.Errorf("no /proc or /dev in the container's mountinfo:\n%s", info)
			}
			if after := mountinfo(t); after != before {
				t.Fatalf("the host's mount table changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

// TestWithoutPivotRootKeepsHostRootBelow is the difference from pivot_root,
// measured: in a WithoutPivotRoot container, a process with CAP_SYS_ADMIN
// that unmounts / and enters its own mount namespace again with setns(2)
// lands on the host's root file system (the old root, under the moved
// rootfs), where the host's mounts (/proc, /sys, /dev) have been detached.
// After pivot_root the same steps do not reach the host's root. The script
// is perl's (umount2 and setns by number, x86-64), on a root file system of
// the host's own programs.
func TestWithoutPivotRootKeepsHostRootBelow(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	perl, err := exec.LookPath("perl")
	if err != nil {
		t.Skip("no perl on the host to run the script in the container")
	}
	if !strings.HasPrefix(perl, "/usr/") && !strings.HasPrefix(perl, "/bin/") {
		t.Skipf("perl at %s, outside what containertest.HostRootfs binds", perl)
	}
	if _, err := os.Stat("/proc/self/ns/mnt"); err != nil {
		t.Skip(err)
	}
	if unix.SYS_UMOUNT2 != 166 || unix.SYS_SETNS != 308 {
		t.Skip("the script uses x86-64 syscall numbers")
	}
	var host unix.Stat_t
	if err := unix.Stat("/", &host); err != nil {
		t.Fatal(err)
	}
	hostRoot := fmt.Sprintf("%d:%d", host.Dev, host.Ino)
	dir := t.TempDir()
	opts, err := containertest.HostRootfs(dir)
	if err != nil {
		t.Fatal(err)
	}
	opts = append(opts, container.WithCapAdd("CAP_SYS_ADMIN"), container.WithoutSeccomp())
	const script = `open(my $ns, "<", "/proc/self/ns/mnt") or die "open: $!\n";
syscall(166, my $root = "/", 2) == 0 or die "umount2: $!\n";
syscall(308, fileno($ns), 0) == 0 or die "setns: $!\n";
chdir "/" or die "chdir: $!\n";
for my $p ("/", "/proc", "/sys", "/dev") { my @s = stat $p; print "$p $s[0]:$s[1]\n" }`

	stats := func(out string) map[string]string {
		m := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if p, v, ok := strings.Cut(line, " "); ok {
				m[p] = v
			}
		}
		return m
	}

	out, errOut, err := containertest.Run(t, dir, []string{perl, "-e", script}, append(opts, container.WithoutPivotRoot())...)
	if err != nil {
		t.Fatalf("WithoutPivotRoot: %v\nstdout: %s\nstderr: %s", err, out, errOut)
	}
	got := stats(out)
	if got["/"] != hostRoot {
		t.Fatalf("WithoutPivotRoot: / after umount and setns is %s, want the host's root %s:\n%s", got["/"], hostRoot, out)
	}
	for _, p := range []string{"/proc", "/sys", "/dev"} {
		var st unix.Stat_t
		if unix.Stat(p, &st) != nil || st.Dev == host.Dev {
			continue // not a mount of the host's
		}
		dev, _, _ := strings.Cut(got[p], ":")
		if dev != fmt.Sprint(host.Dev) {
			t.Errorf("WithoutPivotRoot: %s below the container's root is %s, want the directory of the host's root file system (device %d), its mount detached", p, got[p], host.Dev)
		}
	}

	// The same with pivot_root: the old root is gone.
	out, errOut, err = containertest.Run(t, dir, []string{perl, "-e", script}, opts...)
	if err == nil && stats(out)["/"] == hostRoot {
		t.Fatalf("pivot_root: the script reached the host's root:\n%s%s", out, errOut)
	}
}

// TestWithoutPivotRootSharedHostMount: the rootfs on a shared mount of the
// host's. Neither the move nor the detaching reaches the host: its mount
// table is as before; with rslave the container's root is a slave of the
// host's mount.
func TestWithoutPivotRootSharedHostMount(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	bb, err := containertest.BusyboxPath()
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=16m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	if err := unix.Mount("", dir, "", unix.MS_SHARED, ""); err != nil {
		t.Fatal(err)
	}
	rootfs := dir + "/rootfs"
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := containertest.BuildBusyboxRootfs(rootfs, bb); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ prop, field string }{{"private", ""}, {"rslave", "master:"}} {
		before := mountinfo(t)
		out := containertest.Sh(t, rootfs, `awk '$5 == "/"' /proc/self/mountinfo`, container.WithoutPivotRoot(), container.WithRootfsPropagation(tc.prop))
		if strings.Contains(out, "shared:") || !strings.Contains(out, tc.field) {
			t.Errorf("%s: the container's root %q, want %q and not shared", tc.prop, out, tc.field)
		}
		if after := mountinfo(t); after != before {
			t.Fatalf("%s: the host's mount table changed:\nbefore:\n%s\nafter:\n%s", tc.prop, before, after)
		}
	}
}
