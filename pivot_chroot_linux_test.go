package container_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctrkit/container/oci"

	"github.com/ctrkit/container"
	"github.com/ctrkit/container/containertest"
	"golang.org/x/sys/unix"
)

// mountsUnder returns the lines of mountinfo whose mount point is dir or
// below it.
func mountsUnder(info, dir string) []string {
	var out []string
	for _, line := range strings.Split(info, "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			out = append(out, line)
		}
	}
	return out
}

// TestWithoutMountNamespace: the container shares the test's mount namespace,
// sees its own /proc, /dev and rootfs through a chroot, and its mounts, which
// the host sees while it runs, are gone after Wait; the host's mount table,
// propagation included, is as before.
func TestWithoutMountNamespace(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs, err := filepath.EvalSymlinks(containertest.Rootfs(t))
	if err != nil {
		t.Fatal(err)
	}
	ownMnt, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		t.Fatal(err)
	}
	before := mountinfo(t)

	c, err := container.New(rootfs, []string{"sh", "-c", `ls /; grep '^Pid:' /proc/self/status; readlink /proc/self/ns/mnt; ls /dev/null /dev/pts/ptmx; cat >/dev/null`},
		container.WithoutNamespace(container.NSMount))
	if err != nil {
		t.Fatal(err)
	}
	in, stdinW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	c.Stdin, c.Stdout, c.Stderr = in, &out, &errOut
	if err := c.Start(context.Background()); err != nil {
		in.Close()
		stdinW.Close()
		t.Fatal(err)
	}
	in.Close()
	// The container's mounts are on the host while it runs.
	during := mountsUnder(mountinfo(t), rootfs)
	stdinW.Close()
	if err := c.Wait(); err != nil {
		t.Fatalf("Wait: %v\nstdout: %s\nstderr: %s", err, out.String(), errOut.String())
	}
	for _, want := range []string{rootfs + "/proc", rootfs + "/dev", rootfs + "/dev/pts", rootfs + "/sys"} {
		found := false
		for _, l := range during {
			found = found || strings.Fields(l)[4] == want
		}
		if !found {
			t.Errorf("while the container ran, no mount at %s on the host:\n%s", want, strings.Join(during, "\n"))
		}
	}
	got := out.String()
	for _, want := range []string{"bin\n", "etc\n", "proc\n", "Pid:\t", ownMnt + "\n", "/dev/null\n", "/dev/pts/ptmx\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s\nstderr: %s", want, got, errOut.String())
		}
	}
	if after := mountinfo(t); after != before {
		t.Fatalf("the mount table changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// TestWithoutMountNamespaceKeepsMounts: a mount below the rootfs that existed
// before Start stays; the container's own, the init's and one its command
// made over it, are gone after Wait.
func TestWithoutMountNamespaceKeepsMounts(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs, err := filepath.EvalSymlinks(containertest.Rootfs(t))
	if err != nil {
		t.Fatal(err)
	}
	mnt := filepath.Join(rootfs, "mnt")
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=64k"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	if err := os.WriteFile(filepath.Join(mnt, "mine"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := mountsUnder(mountinfo(t), rootfs)
	out := containertest.Sh(t, rootfs, "cat /mnt/mine; mount -t tmpfs tmpfs /mnt 2>&1; ls -a /mnt",
		container.WithoutNamespace(container.NSMount), container.WithCapAdd("CAP_SYS_ADMIN"), container.WithoutSeccomp())
	if out != "x.\n..\n" {
		t.Errorf("got %q, want the host's tmpfs, then an empty one on it", out)
	}
	if after := mountsUnder(mountinfo(t), rootfs); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Fatalf("mounts below the rootfs:\nbefore:\n%s\nafter:\n%s", strings.Join(before, "\n"), strings.Join(after, "\n"))
	}
	if b, err := os.ReadFile(filepath.Join(mnt, "mine")); err != nil || string(b) != "x" {
		t.Fatalf("the tmpfs mounted before Start: %q, %v", b, err)
	}
}

// TestWithoutMountNamespaceFailedStart: a Start that fails after the init
// made its mounts (here at the working directory, after the chroot) leaves
// none of them.
func TestWithoutMountNamespaceFailedStart(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	before := mountinfo(t)
	c, err := container.New(rootfs, []string{"true"}, container.WithoutNamespace(container.NSMount), container.WithDir("/missing"))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Start(context.Background())
	var se *container.SetupError
	if !errors.As(err, &se) || se.Op != "chdir" || !errors.Is(err, unix.ENOENT) {
		t.Fatalf("Start: %v, want the chdir to /missing to fail", err)
	}
	if after := mountinfo(t); after != before {
		t.Fatalf("the mount table changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// TestReleaseRootfsMounts: what a caller that cannot call Wait uses. Released
// while the container still runs, its mounts go (lazily); Wait then finds
// none left.
func TestReleaseRootfsMounts(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	keep, err := oci.RootfsMounts(rootfs)
	if err != nil {
		t.Fatal(err)
	}
	c, err := container.New(rootfs, []string{"sh", "-c", "cat >/dev/null"}, container.WithoutNamespace(container.NSMount))
	if err != nil {
		t.Fatal(err)
	}
	in, stdinW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	c.Stdin, c.Stderr = in, io.Discard
	if err := c.Start(context.Background()); err != nil {
		in.Close()
		stdinW.Close()
		t.Fatal(err)
	}
	in.Close()
	during, err := oci.RootfsMounts(rootfs)
	relErr := oci.ReleaseRootfsMounts(rootfs, keep)
	released, _ := oci.RootfsMounts(rootfs)
	stdinW.Close()
	if err := c.Wait(); err != nil {
		t.Fatal(err)
	}
	if err != nil || relErr != nil {
		t.Fatalf("RootfsMounts: %v; ReleaseRootfsMounts: %v", err, relErr)
	}
	if len(during) <= len(keep) {
		t.Fatalf("mounts below the rootfs while the container ran: %v, before %v", during, keep)
	}
	if len(released) != len(keep) {
		t.Fatalf("after ReleaseRootfsMounts: %v, want %v", released, keep)
	}
}

// TestJoinWithoutMountNamespaceRefused: joining a container that shares the
// caller's mount namespace would leave the command at the host's root.
func TestJoinWithoutMountNamespaceRefused(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	first, err := container.New(rootfs, []string{"sh", "-c", "cat >/dev/null"}, container.WithoutNamespace(container.NSMount))
	if err != nil {
		t.Fatal(err)
	}
	in, stdinW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	first.Stdin = in
	if err := first.Start(context.Background()); err != nil {
		in.Close()
		stdinW.Close()
		t.Fatal(err)
	}
	in.Close()
	second, err := container.New(rootfs, []string{"true"}, oci.WithJoin(first.Pid()))
	if err == nil {
		err = second.Start(context.Background())
	}
	stdinW.Close()
	if werr := first.Wait(); werr != nil {
		t.Fatal(werr)
	}
	if !errors.Is(err, errors.ErrUnsupported) || !strings.Contains(err.Error(), "no mount namespace") {
		t.Fatalf("join: %v, want it refused", err)
	}
}
