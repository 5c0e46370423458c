package container_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ctrkit/container"
	"github.com/ctrkit/container/containertest"
	"golang.org/x/sys/unix"
)

var nsFiles = map[container.Namespace]string{
	container.NSMount: "mnt", container.NSUTS: "uts", container.NSIPC: "ipc", container.NSPID: "pid",
	container.NSNet: "net", container.NSCgroup: "cgroup", container.NSUser: "user",
}

// nsHolder starts a process in new namespaces of every kind WithNamespacePath
// joins, and returns its pid; it is killed when the test ends.
func nsHolder(t *testing.T) int {
	t.Helper()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep(1) to hold the namespaces")
	}
	// Pdeathsig follows the thread that forked: fork from one that stays
	// locked until the holder is killed, so no other goroutine ends it early.
	started, quit := make(chan error), make(chan struct{})
	var pid int
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		cmd := exec.Command(sleep, "1000")
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC | syscall.CLONE_NEWPID | syscall.CLONE_NEWNET | unix.CLONE_NEWCGROUP,
			Pdeathsig:  syscall.SIGKILL,
		}
		err := cmd.Start()
		if err == nil {
			pid = cmd.Process.Pid
		}
		started <- err
		if err != nil {
			return
		}
		<-quit
		cmd.Process.Kill()
		cmd.Wait()
		close(started)
	}()
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		close(quit)
		<-started
	})
	return pid
}

func nsLink(t *testing.T, pid int, ns container.Namespace) string {
	t.Helper()
	l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, nsFiles[ns]))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// held starts a container that runs script once the test writes a line to
// the returned writer; Wait's error and the output come from finish.
func held(t *testing.T, rootfs, script string, opts ...container.Option) (c *container.Container, finish func() (string, error)) {
	t.Helper()
	c, err := container.New(rootfs, []string{"/bin/sh", "-c", "read x; " + script}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	// An *os.File, so that no copying goroutine keeps a failed Start waiting.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	c.Stdin, c.Stdout, c.Stderr = r, &out, &errOut
	err = c.Start(context.Background())
	r.Close()
	if err != nil {
		w.Close()
		t.Fatalf("Start: %v\nstderr: %s", err, errOut.String())
	}
	done := false
	finish = func() (string, error) {
		if done {
			return out.String(), nil
		}
		done = true
		w.Write([]byte("\n"))
		w.Close()
		err := c.Wait()
		if err != nil {
			err = fmt.Errorf("%w\nstderr: %s", err, errOut.String())
		}
		return out.String(), err
	}
	t.Cleanup(func() { finish() })
	return c, finish
}

// TestNamespacePath joins each kind of namespace by path, then all at once,
// and compares the namespaces of the container's init with the holder's (and,
// for those not joined, with the holder's and the test's).
func TestNamespacePath(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	kinds := []container.Namespace{container.NSMount, container.NSUTS, container.NSIPC, container.NSPID, container.NSNet, container.NSCgroup}
	cases := map[string][]container.Namespace{"all": kinds}
	for _, k := range kinds {
		cases[k.String()] = []container.Namespace{k}
	}
	for name, join := range cases {
		t.Run(name, func(t *testing.T) {
			// A holder for each: a joined mount namespace keeps the
			// container's root (pivot_root moves the holder's too).
			holder := nsHolder(t)
			var opts []container.Option
			joined := map[container.Namespace]bool{}
			for _, k := range join {
				opts = append(opts, container.WithNamespacePath(k, fmt.Sprintf("/proc/%d/ns/%s", holder, nsFiles[k])))
				joined[k] = true
			}
			c, finish := held(t, rootfs, "echo $$", opts...)
			for _, k := range kinds {
				got, theirs, ours := nsLink(t, c.Pid(), k), nsLink(t, holder, k), nsLink(t, os.Getpid(), k)
				switch {
				case joined[k] && got != theirs:
					t.Errorf("%v: the container is in %s, want the joined %s", k, got, theirs)
				case !joined[k] && (got == theirs || got == ours):
					t.Errorf("%v: the container is in %s, want a new one (holder %s, test %s)", k, got, theirs, ours)
				}
			}
			out, err := finish()
			if err != nil {
				t.Fatal(err)
			}
			// In the holder's pid namespace the holder is 1, so the container's first process is not.
			if (out == "1\n") == joined[container.NSPID] {
				t.Errorf("the shell's pid is %q", out)
			}
		})
	}
}

// TestNamespacePathHostname: a joined UTS namespace gets WithHostname's name,
// and keeps its own when the container names none.
func TestNamespacePathHostname(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	uts := fmt.Sprintf("/proc/%d/ns/uts", nsHolder(t))
	if out := containertest.Sh(t, rootfs, "hostname", container.WithNamespacePath(container.NSUTS, uts), container.WithHostname("joined")); out != "joined\n" {
		t.Fatalf("hostname %q, want joined", out)
	}
	if out := containertest.Sh(t, rootfs, "hostname", container.WithNamespacePath(container.NSUTS, uts)); out != "joined\n" {
		t.Fatalf("hostname %q in the joined namespace, want it kept (joined)", out)
	}
	if host, _ := os.Hostname(); host == "joined" {
		t.Fatal("the host's hostname changed")
	}
}

func TestNamespacePathRefused(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	for name, opt := range map[string]container.Option{
		"the caller's mount namespace": container.WithNamespacePath(container.NSMount, "/proc/self/ns/mnt"),
		"not an ipc namespace":         container.WithNamespacePath(container.NSIPC, "/proc/self/ns/uts"),
		"not a namespace":              container.WithNamespacePath(container.NSPID, rootfs),
	} {
		t.Run(name, func(t *testing.T) {
			c, err := container.New(rootfs, []string{"/bin/true"}, opt)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Start(context.Background()); err == nil {
				c.Wait()
				t.Fatal("Start succeeded")
			} else if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOTTY) {
				t.Fatalf("Start: %v, want EINVAL (or ENOTTY for a file that is no namespace)", err)
			}
		})
	}
}

// sharedRootfs builds a busybox rootfs inside a tmpfs mounted shared on the
// host, and returns it with the tmpfs's mount point and peer group.
func sharedRootfs(t *testing.T) (rootfs, mnt, group string) {
	t.Helper()
	bb, err := containertest.BusyboxPath()
	if err != nil {
		t.Skip(err)
	}
	mnt = t.TempDir()
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=16m,mode=755"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	if err := unix.Mount("", mnt, "", unix.MS_SHARED, ""); err != nil {
		t.Fatal(err)
	}
	rootfs = filepath.Join(mnt, "rootfs")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := containertest.BuildBusyboxRootfs(rootfs, bb); err != nil {
		t.Fatal(err)
	}
	for _, f := range propagationOf(hostMountinfo(t), mnt) {
		if g, ok := strings.CutPrefix(f, "shared:"); ok {
			return rootfs, mnt, g
		}
	}
	t.Fatalf("the tmpfs at %s is not shared", mnt)
	return
}

// sharedMountWithChild mounts a shared tmpfs with another tmpfs below it,
// for the test, and returns the child's mount point.
func sharedMountWithChild(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	if err := unix.Mount("", dir, "", unix.MS_SHARED, ""); err != nil {
		t.Fatal(err)
	}
	child := filepath.Join(dir, "child")
	if err := os.Mkdir(child, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", child, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	return child
}

func hostMountinfo(t *testing.T) string {
	return mountinfo(t)
}

// propagationOf returns the optional fields (shared:N, master:N, unbindable)
// of the mount at point in a mountinfo text, or nil when nothing is mounted there.
func propagationOf(mountinfo, point string) []string {
	var last []string
	for _, line := range strings.Split(mountinfo, "\n") {
		f := strings.Fields(line)
		if len(f) < 7 || f[4] != point {
			continue
		}
		last = []string{}
		for _, o := range f[6:] {
			if o == "-" {
				break
			}
			last = append(last, o)
		}
	}
	return last
}

func mountsBelow(mountinfo, dir string) []string {
	var out []string
	for _, line := range strings.Split(mountinfo, "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			out = append(out, f[4])
		}
	}
	return out
}

// TestRootfsPropagation reads the propagation of the container's root in its
// /proc/self/mountinfo, for a rootfs inside a mount that is shared on the
// host (so that pivot_root's refusal of a shared parent is exercised), and
// checks what crosses between the host and the container.
func TestRootfsPropagation(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	for _, tc := range []struct {
		mode string
		want func(fields []string, group string) bool // the root's optional fields
	}{
		{"", func(f []string, _ string) bool { return len(f) == 0 }},
		{"private", func(f []string, _ string) bool { return len(f) == 0 }},
		{"rprivate", func(f []string, _ string) bool { return len(f) == 0 }},
		{"slave", func(f []string, g string) bool { return len(f) == 1 && f[0] == "master:"+g }},
		{"rslave", func(f []string, g string) bool { return len(f) == 1 && f[0] == "master:"+g }},
		{"shared", func(f []string, g string) bool {
			return len(f) == 1 && strings.HasPrefix(f[0], "shared:") && f[0] != "shared:"+g
		}},
		{"rshared", func(f []string, g string) bool {
			return len(f) == 1 && strings.HasPrefix(f[0], "shared:") && f[0] != "shared:"+g
		}},
		{"unbindable", func(f []string, _ string) bool { return len(f) == 1 && f[0] == "unbindable" }},
		{"runbindable", func(f []string, _ string) bool { return len(f) == 1 && f[0] == "unbindable" }},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			rootfs, mnt, group := sharedRootfs(t)
			// A shared mount elsewhere on the host, with a mount below it: the
			// container's copy of it goes with the old root, and that unmount
			// must not propagate back.
			other := sharedMountWithChild(t)
			var opts []container.Option
			if tc.mode != "" {
				opts = append(opts, container.WithRootfsPropagation(tc.mode))
			}
			_, finish := held(t, rootfs, "cat /proc/self/mountinfo", opts...)
			// While the container runs: nothing of it on the host, and a
			// mount the host makes in the rootfs reaches it only as a slave.
			if below := mountsBelow(hostMountinfo(t), mnt); len(below) != 0 {
				t.Errorf("the container's mounts reached the host: %v", below)
			}
			probe := filepath.Join(rootfs, "tmp")
			if err := unix.Mount("tmpfs", probe, "tmpfs", 0, "size=1m"); err != nil {
				t.Fatal(err)
			}
			defer unix.Unmount(probe, unix.MNT_DETACH)
			out, err := finish()
			if err != nil {
				t.Fatal(err)
			}
			if propagationOf(hostMountinfo(t), other) == nil {
				t.Errorf("the host's mount at %s was unmounted by the container's setup", other)
			}
			if f := propagationOf(out, "/"); !tc.want(f, group) {
				t.Errorf("root mount's propagation %q (host's shared:%s)\n%s", f, group, out)
			}
			seen := propagationOf(out, "/tmp") != nil
			if slave := strings.Contains(tc.mode, "slave"); seen != slave {
				t.Errorf("the host's mount on the rootfs's /tmp seen in the container: %v, want %v", seen, slave)
			}
			if tc.mode == "rshared" || tc.mode == "runbindable" || tc.mode == "rprivate" {
				for _, p := range []string{"/proc", "/dev", "/sys"} {
					if f := propagationOf(out, p); !tc.want(f, group) {
						t.Errorf("%s's propagation %q with %s", p, f, tc.mode)
					}
				}
			}
		})
	}
}

// TestSysctlInJoinedNetNS (issue 14): a net sysctl is the container's own in a
// network namespace it joins by path, as in a new one (podman's default
// network joins one it made): it is written there, and the host's stays.
func TestSysctlInJoinedNetNS(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	holder := exec.Command("unshare", "--net", "sleep", "600")
	if err := holder.Start(); err != nil {
		t.Skipf("skipping: no unshare(1) to make a network namespace: %v", err)
	}
	defer func() {
		holder.Process.Kill()
		holder.Wait()
	}()
	ns := fmt.Sprintf("/proc/%d/ns/net", holder.Process.Pid)
	self, _ := os.Readlink("/proc/self/ns/net")
	for i := 0; ; i++ {
		if l, err := os.Readlink(ns); err == nil && l != self {
			break
		}
		if i > 200 {
			t.Fatal("unshare made no network namespace")
		}
		time.Sleep(5 * time.Millisecond)
	}
	const key = "/proc/sys/net/ipv4/ping_group_range"
	host, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	out := containertest.Sh(t, rootfs, "cat "+key, container.WithNamespacePath(container.NSNet, ns),
		container.WithSysctl("net.ipv4.ping_group_range", "0 2147483647"))
	if strings.Join(strings.Fields(out), " ") != "0 2147483647" {
		t.Errorf("in the joined namespace: %q", out)
	}
	if after, _ := os.ReadFile(key); string(after) != string(host) {
		t.Errorf("the host's %s changed: %q, was %q", key, after, host)
	}
}
