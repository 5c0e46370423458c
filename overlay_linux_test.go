package container_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ctrkit/container"
	"github.com/ctrkit/container/containertest"
	"golang.org/x/sys/unix"
)

// treeHash hashes every name below dir with its type, mode, owner, size,
// modification time, link target, device number, xattrs and content.
func treeHash(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(h, "%q %o %d:%d %d %d.%d %d\n", rel, st.Mode, st.Uid, st.Gid, st.Size, st.Mtim.Sec, st.Mtim.Nsec, st.Rdev)
		if sz, _ := unix.Llistxattr(p, nil); sz > 0 {
			b := make([]byte, sz)
			n, _ := unix.Llistxattr(p, b)
			fmt.Fprintf(h, "xattrs %q\n", b[:n])
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "-> %q\n", l)
		case unix.S_IFREG:
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			io.Copy(h, f)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// overlayMode is WithOverlay for even i, WithOverlayUpper on TMPDIR for odd.
func overlayMode(i int) container.Option {
	if i%2 == 0 {
		return container.WithOverlay()
	}
	return container.WithOverlayUpper(os.TempDir())
}

// overlayDirs lists the overlay directories in this test process's TMPDIR.
func overlayDirs(t *testing.T) []string {
	t.Helper()
	d, _ := filepath.Glob(filepath.Join(os.TempDir(), "ctrkit-ovl-*"))
	return d
}

// TestOverlay: containers on one rootfs with WithOverlay write, delete and
// rename freely, each sees only its own changes, and afterwards the rootfs is
// what it was (tree hash) and nothing of theirs is left. The mount points the
// plan needs and the rootfs lacks are made in the upper layer.
func TestOverlay(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	if err := os.RemoveAll(filepath.Join(rootfs, "tmp")); err != nil { // a mount point the plan needs
		t.Fatal(err)
	}
	carryDevice(t, rootfs)
	before := treeHash(t, rootfs)
	const n = 6
	var wg sync.WaitGroup
	outs := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			script := fmt.Sprintf(`echo %d > /etc/mine; echo %d >> /etc/passwd; rm /bin/ls /etc/hostname; mv /etc/group /etc/g%d
mkdir -p /new/deep && echo x > /new/deep/f; chmod 0 /new; rm -rf /root; sleep 0.2
cat /etc/mine; tail -n1 /etc/passwd; ls /bin/ls /etc/hostname /etc/group 2>&1 | wc -l; ls /etc | grep '^g[0-9]'; ls -d /root 2>&1 | wc -l; ls -ld / | cut -c1-10`, i, i, i)
			outs[i], _, errs[i] = containertest.Run(t, rootfs, []string{"/bin/sh", "-c", script}, overlayMode(i),
				container.WithTmpfs("/tmp/sub", 1<<20))
		}()
	}
	wg.Wait()
	for i := range n {
		want := fmt.Sprintf("%d\n%d\n3\ng%d\n1\ndrwxr-xr-x\n", i, i, i)
		if errs[i] != nil || outs[i] != want {
			t.Errorf("container %d: %v\n%q, want %q", i, errs[i], outs[i], want)
		}
	}
	if after := treeHash(t, rootfs); after != before {
		t.Errorf("the rootfs changed: tree hash %s, was %s", after, before)
	}
	if d := overlayDirs(t); len(d) != 0 {
		t.Errorf("upper layers left after Wait: %v", d)
	}
}

// TestOverlayNotOnHost: the overlay (and its tmpfs) is mounted in the
// container's mount namespace alone; the host's mount table does not show it
// while the container runs.
func TestOverlayNotOnHost(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	for i := range 2 {
		overlayNotOnHost(t, i)
	}
}

func overlayNotOnHost(t *testing.T, mode int) {
	rootfs := containertest.Rootfs(t)
	hostBefore, _ := containertest.HostMounts()
	c, out := containertest.Start(t, rootfs, []string{"/bin/sh", "-c", "grep -c ' / / .* - overlay ' /proc/self/mountinfo; sleep 100"}, overlayMode(mode))
	deadline := time.Now().Add(10 * time.Second)
	for out.String() == "" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if out.String() != "1\n" {
		t.Errorf("the container's root: %q, want one overlay mount at /", out.String())
	}
	if host, _ := containertest.HostMounts(); host != hostBefore {
		t.Errorf("the host's mount table changed while the container runs:\n%s\nwas:\n%s", host, hostBefore)
	}
	if len(overlayDirs(t)) != mode {
		t.Errorf("overlay directories while it runs: %v, want %d", overlayDirs(t), mode)
	}
	c.Signal(syscall.SIGKILL)
	c.Wait()
	if d := overlayDirs(t); len(d) != 0 {
		t.Errorf("upper layer left after Wait: %v", d)
	}
}

// TestOverlayLayers: layers stack on the rootfs in the order given; a
// whiteout hides a file of the layers below, an opaque directory all of a
// directory's entries below.
func TestOverlayLayers(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	for _, d := range []string{"srv/a/keep", "srv/b"} {
		os.MkdirAll(filepath.Join(rootfs, d), 0o755)
	}
	os.WriteFile(filepath.Join(rootfs, "srv/f"), []byte("rootfs\n"), 0o644)
	os.WriteFile(filepath.Join(rootfs, "srv/gone"), []byte("rootfs\n"), 0o644)
	l1, l2 := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(l1, "srv/b"), 0o755)
	os.WriteFile(filepath.Join(l1, "srv/f"), []byte("l1\n"), 0o644)
	os.WriteFile(filepath.Join(l1, "srv/b/l1"), []byte("l1\n"), 0o644)
	os.MkdirAll(filepath.Join(l2, "srv/a"), 0o755)
	os.WriteFile(filepath.Join(l2, "srv/f"), []byte("l2\n"), 0o644)
	if err := unix.Mknod(filepath.Join(l2, "srv/gone"), unix.S_IFCHR, 0); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(filepath.Join(l2, "srv/a"), "trusted.overlay.opaque", []byte("y"), 0); err != nil {
		t.Fatal(err)
	}
	before := treeHash(t, rootfs) + treeHash(t, l1) + treeHash(t, l2)
	out := containertest.Sh(t, rootfs, "cat /srv/f; ls /srv; ls /srv/a | wc -l; ls /srv/b; echo w > /srv/b/new",
		container.WithOverlay(l1), container.WithOverlay(l2))
	if want := "l2\na\nb\nf\n0\nl1\n"; out != want {
		t.Errorf("merged view: %q, want %q", out, want)
	}
	if after := treeHash(t, rootfs) + treeHash(t, l1) + treeHash(t, l2); after != before {
		t.Error("a layer changed")
	}
}

// TestOverlayFenceAndReadonly: on an overlay root the device fence holds (a
// node the rootfs carries stays closed) and WithReadonlyRootfs makes the
// overlay read-only.
func TestOverlayFenceAndReadonly(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	carryDevice(t, rootfs)
	got := probeDevices(t, rootfs, "mknod /made c 1 5", []string{"/srv/zero", "/made", "/dev/zero"}, container.WithOverlay())
	checkDevices(t, got, map[string]string{"/srv/zero": "Permission denied", "/made": "Permission denied", "/dev/zero": "ok"})
	out, err := containertest.CombinedOutput(t, rootfs, []string{"/bin/sh", "-c", "touch /x 2>&1; echo t > /tmp/t && cat /tmp/t"},
		container.WithOverlay(), container.WithReadonlyRootfs(), container.WithTmpfs("/tmp", 1<<20))
	if err != nil || !strings.Contains(out, "Read-only file system") || !strings.HasSuffix(out, "t\n") {
		t.Errorf("read-only overlay: %v\n%s", err, out)
	}
}

// TestOverlayReleased: a failed Start and a cancelled context leave no upper
// layer behind.
func TestOverlayReleased(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	for i := range 2 {
		overlayReleased(t, i)
	}
}

func overlayReleased(t *testing.T, mode int) {
	rootfs := containertest.Rootfs(t)
	c, err := container.New(rootfs, []string{"/bin/nope"}, overlayMode(mode))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Start: %v, want ErrNotExist", err)
	}
	if d := overlayDirs(t); len(d) != 0 {
		t.Errorf("upper layer left after a failed Start: %v", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c, err = container.New(rootfs, []string{"/bin/sh", "-c", "echo x > /x; sleep 100"}, overlayMode(mode))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := c.Wait(); err == nil {
		t.Error("Wait: nil error for a cancelled container")
	}
	if d := overlayDirs(t); len(d) != 0 {
		t.Errorf("upper layer left after a cancelled context: %v", d)
	}
	// Cancelled while Start runs.
	for range 5 {
		ctx, cancel := context.WithCancel(context.Background())
		c, _ := container.New(rootfs, []string{"/bin/true"}, overlayMode(mode))
		time.AfterFunc(2*time.Millisecond, cancel)
		if err := c.Start(ctx); err == nil {
			c.Wait()
		}
		cancel()
		if d := overlayDirs(t); len(d) != 0 {
			t.Fatalf("upper layer left after a context cancelled during Start: %v", d)
		}
	}
}

// TestOverlayKilledParent runs a helper process (this test binary) that
// starts a container with WithOverlayUpper, kills it, and checks that the
// next Start with WithOverlayUpper removes the upper layer it left. (A
// tmpfs upper layer goes with the container's mount namespace.)
func TestOverlayKilledParent(t *testing.T) {
	if rootfs := os.Getenv("CTRKIT_OVL_HELPER"); rootfs != "" {
		c, err := container.New(rootfs, []string{"/bin/sh", "-c", "mkdir -p /a/b && chmod 0 /a; sleep 1000"}, overlayMode(1))
		if err == nil {
			err = c.Start(context.Background())
		}
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		time.Sleep(200 * time.Millisecond)
		fmt.Println("ready")
		time.Sleep(time.Hour)
	}
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestOverlayKilledParent$", "-test.count=1")
	cmd.Env = append(os.Environ(), "CTRKIT_OVL_HELPER="+rootfs, "TMPDIR="+os.TempDir())
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if line != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper: %q, %v", line, err)
	}
	if d := overlayDirs(t); len(d) != 1 || !strings.Contains(d[0], fmt.Sprintf(".%d.", cmd.Process.Pid)) {
		t.Fatalf("the helper's overlay directories: %v, want one named after it", d)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	// A live owner's are never reaped: this process's own container runs
	// while the next one starts.
	c, _ := containertest.Start(t, rootfs, []string{"/bin/sleep", "100"}, overlayMode(1))
	containertest.Sh(t, rootfs, "true", overlayMode(1))
	if d := overlayDirs(t); len(d) != 1 || strings.Contains(d[0], fmt.Sprintf(".%d.", cmd.Process.Pid)) {
		t.Errorf("overlay directories after the next Start: %v, want only the running container's", d)
	}
	c.Signal(syscall.SIGKILL)
	c.Wait()
}

// TestOverlayUserNamespace: as root with a user namespace (mapped ids), the
// overlay is mounted by the namespace's root with userxattr; its upper layer
// belongs to the mapped root. The rootfs is owned by the mapped root, as an
// image unpacked for that map is: the overlay copies a file up with its owner,
// which must be mapped.
func TestOverlayUserNamespace(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	containertest.SkipUnlessUserNS(t)
	rootfs := containertest.Rootfs(t)
	filepath.WalkDir(rootfs, func(p string, _ fs.DirEntry, _ error) error { return os.Lchown(p, 100000, 100000) })
	l1 := t.TempDir()
	os.Chmod(l1, 0o755)
	os.MkdirAll(filepath.Join(l1, "etc/opq"), 0o755)
	os.MkdirAll(filepath.Join(rootfs, "etc/opq/hidden"), 0o755)
	if err := unix.Setxattr(filepath.Join(l1, "etc/opq"), "user.overlay.opaque", []byte("y"), 0); errors.Is(err, unix.EOPNOTSUPP) {
		t.Skipf("skipping: the test's temporary directory %s takes no user xattrs (tmpfs before Linux 6.6, as in the v2 VM stage)", l1)
	} else if err != nil {
		t.Fatal(err)
	}
	filepath.WalkDir(l1, func(p string, _ fs.DirEntry, _ error) error { return os.Lchown(p, 100000, 100000) })
	before := treeHash(t, rootfs)
	out := containertest.Sh(t, rootfs, "(echo hi > /etc/x) 2>&1; cat /etc/x; ls /etc/opq | wc -l; id -u",
		container.WithOverlay(l1),
		container.WithUIDMap(container.IDMap{ContainerID: 0, HostID: 100000, Size: 65536}),
		container.WithGIDMap(container.IDMap{ContainerID: 0, HostID: 100000, Size: 65536}))
	if out != "hi\n0\n0\n" {
		t.Errorf("got %q", out)
	}
	if treeHash(t, rootfs) != before {
		t.Error("the rootfs changed")
	}
}

// TestOverlayRootless runs TestOverlayRootlessChild as uid 65534, on a
// rootfs of its own (a caller that is not root writes, through the overlay,
// only what its user namespace's root may: its own files).
func TestOverlayRootless(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	containertest.SkipUnlessUserNS(t)
	containertest.Rootfs(t) // skips without busybox
	probe := t.TempDir()
	if err := unix.Setxattr(probe, "user.overlay.opaque", []byte("y"), 0); errors.Is(err, unix.EOPNOTSUPP) {
		t.Skipf("skipping: the test's temporary directory %s takes no user xattrs (tmpfs before Linux 6.6, as in the v2 VM stage)", probe)
	}
	containertest.RerunAs(t, 65534, 65534, "TestOverlayRootlessChild", "CTR_OVL_ROOTLESS=1")
}

func TestOverlayRootlessChild(t *testing.T) {
	if os.Getenv("CTR_OVL_ROOTLESS") == "" {
		t.Skip("skipping: run by TestOverlayRootless as an unprivileged user")
	}
	rootfs := containertest.Rootfs(t)
	l1 := t.TempDir()
	os.MkdirAll(filepath.Join(l1, "etc/opq"), 0o755)
	os.MkdirAll(filepath.Join(rootfs, "etc/opq/hidden"), 0o755)
	if err := unix.Setxattr(filepath.Join(l1, "etc/opq"), "user.overlay.opaque", []byte("y"), 0); errors.Is(err, unix.EOPNOTSUPP) {
		t.Skipf("skipping: the test's temporary directory %s takes no user xattrs (tmpfs before Linux 6.6, as in the v2 VM stage)", l1)
	} else if err != nil {
		t.Fatal(err)
	}
	before := treeHash(t, rootfs)
	for i := range 2 {
		out := containertest.Sh(t, rootfs, "echo hi > /etc/x && cat /etc/x; rm /bin/ls; mkdir -p /d/e; chmod 0 /d; ls /etc/opq | wc -l; id -u; rm -r /etc/opq && mkdir /etc/opq && ls /etc/opq | wc -l",
			container.WithOverlay(l1), overlayMode(i))
		if out != "hi\n0\n0\n0\n" {
			t.Errorf("mode %d: got %q", i, out)
		}
	}
	if treeHash(t, rootfs) != before {
		t.Error("the rootfs changed")
	}
	if d := overlayDirs(t); len(d) != 0 {
		t.Errorf("upper layer left after Wait: %v", d)
	}
}

// TestOverlayPropagationAndNoPivot: with a shared or slave root and with
// WithoutPivotRoot the overlay root works and the host's mount table does
// not change.
func TestOverlayPropagationAndNoPivot(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	before, _ := containertest.HostMounts()
	for name, opt := range map[string]container.Option{
		"shared": container.WithRootfsPropagation("shared"), "slave": container.WithRootfsPropagation("slave"),
		"nopivot": container.WithoutPivotRoot(),
	} {
		out := containertest.Sh(t, rootfs, "echo x > /etc/x && cat /etc/x", container.WithOverlay(), opt)
		if out != "x\n" {
			t.Errorf("%s: %q", name, out)
		}
		if _, err := os.Stat(filepath.Join(rootfs, "etc/x")); err == nil {
			t.Errorf("%s: the write reached the rootfs", name)
		}
		if after, _ := containertest.HostMounts(); after != before {
			t.Errorf("%s: the host's mount table changed:\n%s", name, after)
		}
	}
}
