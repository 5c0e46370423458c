package container_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ctrkit/container/oci"

	"github.com/ctrkit/container"
	"github.com/ctrkit/container/containertest"
	"github.com/ctrkit/container/seccomp"
	"golang.org/x/sys/unix"
)

// TestExecFIFOLifecycle: Start returns with the init parked before execve; the
// command runs only once the FIFO is opened; the cgroup at a fixed path holds
// it and RemoveCgroup deletes it.
func TestExecFIFOLifecycle(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	fifo := filepath.Join(t.TempDir(), "exec.fifo")
	if err := unix.Mkfifo(fifo, 0o622); err != nil {
		t.Fatal(err)
	}
	cg := testCgroupPath(t, "fifo")
	t.Cleanup(func() {
		if err := oci.RemoveCgroup(cg); err != nil {
			t.Error(err)
		}
	})
	c, err := container.New(rootfs, []string{"/bin/sh", "-c", "echo started"},
		oci.WithExecFIFO(fifo), oci.WithCgroupPath(cg))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	c.Stdout = &out
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	pids, err := oci.CgroupPids(cg)
	if err != nil {
		t.Fatal(err)
	}
	if len(pids) != 1 || pids[0] != c.Pid() {
		t.Fatalf("cgroup %s holds %v, want [%d]", cg, pids, c.Pid())
	}
	if err := oci.FreezeCgroup(cg, true); err != nil {
		t.Fatal(err)
	}
	if fr, err := oci.CgroupFrozen(cg); err != nil || !fr {
		t.Fatalf("CgroupFrozen = %v, %v after freezing", fr, err)
	}
	if err := oci.FreezeCgroup(cg, false); err != nil {
		t.Fatal(err)
	}
	// Parked: the command has not run.
	if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", c.Pid())); !strings.HasPrefix(string(b), "ctrkit-container-init") {
		t.Fatalf("init is %q before start, want the parked init", b)
	}
	f, err := os.Open(fifo)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(f)
	f.Close()
	if err != nil || string(got) != "0" {
		t.Fatalf("exec FIFO gave %q, %v; want \"0\"", got, err)
	}
	if err := c.Wait(); err != nil {
		t.Fatal(err)
	}
	if out.String() != "started\n" {
		t.Fatalf("output %q", out.String())
	}
}

// TestExecFIFOAsUser: a parked init that has become another user still opens
// the exec FIFO when the container's root directory is closed to that user
// (mode 0700, as a bundle made with mkdtemp often is): the user's
// capabilities (CAP_DAC_OVERRIDE, which lets the command in) are raised only
// after the park.
func TestExecFIFOAsUser(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	if err := os.Chmod(rootfs, 0o700); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(t.TempDir(), "exec.fifo")
	if err := unix.Mkfifo(fifo, 0o622); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(fifo, 0o622); err != nil { // writable by uid 10 whatever the umask
		t.Fatal(err)
	}
	c, err := container.New(rootfs, []string{"/bin/sh", "-c", "id -u"}, oci.WithExecFIFO(fifo), container.WithUser(10, 10), container.WithCapabilities("CAP_DAC_OVERRIDE"))
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	c.Stdout, c.Stderr = &out, &errOut
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	read := make(chan string, 1)
	go func() {
		b, err := os.ReadFile(fifo) // blocks until the init opens it for writing
		read <- fmt.Sprintf("%q %v", b, err)
	}()
	waited := make(chan error, 1)
	go func() { waited <- c.Wait() }()
	select {
	case got := <-read:
		if got != `"0" <nil>` {
			t.Errorf("exec FIFO gave %s; want \"0\"", got)
		}
		if err := <-waited; err != nil {
			t.Fatalf("%v (stderr %q)", err, errOut.String())
		}
	case err := <-waited:
		// The init ended without opening the FIFO: unblock the reader.
		if w, werr := os.OpenFile(fifo, os.O_WRONLY|unix.O_NONBLOCK, 0); werr == nil {
			w.Close()
		}
		<-read
		t.Fatalf("the init ended while parked: %v (stderr %q)", err, errOut.String())
	}
	if out.String() != "10\n" {
		t.Fatalf("output %q, want the command run as uid 10", out.String())
	}
}

// TestRemoveCgroupKillsParked: deleting a created container kills its
// parked init and removes its cgroup from every hierarchy.
func TestRemoveCgroupKillsParked(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	fifo := filepath.Join(t.TempDir(), "exec.fifo")
	if err := unix.Mkfifo(fifo, 0o622); err != nil {
		t.Fatal(err)
	}
	cg := testCgroupPath(t, "remove")
	t.Cleanup(func() { oci.RemoveCgroup(cg) })
	c, err := container.New(rootfs, []string{"true"}, oci.WithExecFIFO(fifo), oci.WithCgroupPath(cg), container.WithMemory(64<<20))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := oci.RemoveCgroup(cg); err != nil {
		t.Fatal(err)
	}
	if err := c.Wait(); err == nil {
		t.Fatal("Wait: nil error for a killed container")
	}
	for _, d := range []string{"/sys/fs/cgroup/freezer", "/sys/fs/cgroup/memory", "/sys/fs/cgroup"} {
		if _, err := os.Stat(filepath.Join(d, cg)); err == nil {
			t.Errorf("%s still exists", filepath.Join(d, cg))
		}
	}
	if _, err := oci.CgroupPids(cg); err == nil {
		t.Error("CgroupPids of a removed cgroup: nil error")
	}
}

func TestOCIProcessOptions(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	out := containertest.Sh(t, rootfs, `umask; id -G; cat /proc/self/oom_score_adj; cat /proc/sys/net/ipv4/ip_forward; cat /proc/sys/kernel/shmmni`,
		container.WithUmask(0o027), container.WithGroups(10, 20), container.WithOOMScoreAdj(500),
		container.WithSysctl("net.ipv4.ip_forward", "1"), container.WithSysctl("kernel.shmmni", "1000"))
	want := "0027\n0 10 20\n500\n1\n1000\n"
	if out != want {
		t.Fatalf("got %q, want %q", out, want)
	}
}

func TestOCIMounts(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o755)
	script := `grep -E ' /(data|bound) ' /proc/mounts | cut -d' ' -f2-4; cat /proc/timer_list >/dev/null && echo timer-list-readable; grep -c ' /proc/sys ' /proc/mounts; grep -c ' /proc/keys ' /proc/mounts`
	out := containertest.Sh(t, rootfs, script+"; true",
		container.WithMount("tmpfs", "", "/data", "nosuid", "noexec", "size=1m", "mode=700"),
		container.WithMount("bind", src, "/bound", "rbind", "ro", "nosuid", "nodev", "noatime", "mode=755"),
		container.WithMaskedPaths("/proc/keys"), container.WithReadonlyPaths())
	for _, want := range []string{"/data tmpfs rw,nosuid,nodev,noexec", "size=1024k,mode=700", "/bound", "ro,nosuid,nodev,noatime", "timer-list-readable\n0\n1\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestTerminal(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	c, err := container.New(rootfs, []string{"sh", "-c", "tty; stty size; echo done"}, container.WithTerminal(), container.WithUser(1000, 1000))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	term := c.Terminal()
	if term == nil {
		c.Wait()
		t.Fatal("no terminal after Start")
	}
	defer term.Close()
	out, _ := io.ReadAll(term) // ends with EIO once the last slave closes
	if err := c.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := strings.ReplaceAll(string(out), "\r", ""); !strings.HasPrefix(got, "/dev/pts/0\n") || !strings.HasSuffix(got, "done\n") {
		t.Fatalf("terminal output %q", got)
	}
}

func TestInheritedCapabilities(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	out := containertest.Sh(t, rootfs, `grep -E '^Cap(Inh|Prm|Amb)' /proc/self/status`,
		container.WithCapabilities("CAP_KILL", "CAP_CHOWN"), oci.WithInheritedCapabilities())
	want := "CapInh:\t0000000000000021\nCapPrm:\t0000000000000021\nCapAmb:\t0000000000000021\n"
	if out != want {
		t.Fatalf("got %q, want %q", out, want)
	}
}

// TestSeccompWithoutCloseRange: a policy that denies close_range (older OCI
// profiles) still starts: the init marks descriptors close-on-exec one by one.
func TestSeccompWithoutCloseRange(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	p := &seccomp.Policy{DefaultAction: seccomp.Allow,
		Rules: []seccomp.Rule{{Names: []string{"close_range"}, Action: seccomp.Errno(1)}}}
	out := containertest.Sh(t, rootfs, `ls /proc/self/fd | wc -l`, seccomp.WithPolicy(p))
	if strings.TrimSpace(out) != "4" { // 0, 1, 2 and ls's own directory
		t.Fatalf("descriptors open in the command: %q", out)
	}
}

func TestDeviceRules(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	if _, err := os.Stat("/sys/fs/cgroup/devices"); err != nil {
		t.Skip("no cgroup v1 devices controller on this machine")
	}
	rootfs := containertest.Rootfs(t)
	cg := testCgroupPath(t, "devices")
	t.Cleanup(func() { oci.RemoveCgroup(cg) })
	out := containertest.Sh(t, rootfs, `echo x > /dev/null && echo null-ok; mknod /tmp/disk b 8 0 2>/dev/null || echo disk-denied; mknod /tmp/fuse c 10 229 && echo fuse-ok; rm -f /tmp/disk /tmp/fuse`,
		oci.WithCgroupPath(cg), oci.WithDeviceRules(oci.DeviceRule{Type: 'c', Major: 10, Minor: 229, Access: "rwm"}))
	if out != "null-ok\ndisk-denied\nfuse-ok\n" {
		t.Fatalf("got %q; want /dev/null usable, 8:0 denied, 10:229 allowed", out)
	}
	for _, d := range []string{"devices", "freezer"} {
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", d, cg)); err == nil {
			t.Errorf("cgroup left in %s", d)
		}
	}
}

func TestDevices(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	out := containertest.Sh(t, rootfs, `ls -ln /dev/fuse /dev/loop9 | awk '{print $1, $3, $4, $5, $6}'`,
		container.WithDevices(container.Device{Name: "fuse", Major: 10, Minor: 229, Mode: 0o600, UID: 1, GID: 2},
			container.Device{Name: "loop9", Type: 'b', Major: 7, Minor: 9}))
	if out != "crw------- 1 2 10, 229\nbrw-rw-rw- 0 0 7, 9\n" {
		t.Fatalf("got %q", out)
	}
	if _, err := container.New(rootfs, []string{"true"}, container.WithDevices(container.Device{Name: "null", Major: 1, Minor: 3})); err == nil {
		t.Fatal("WithDevices of a standard device: New succeeded")
	}
}

func TestMountPropagation(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	out := containertest.Sh(t, rootfs, `awk '$5 == "/shared" || $5 == "/plain" {print $5, ($7 ~ /^shared:/) ? "shared" : "private"}' /proc/self/mountinfo`,
		container.WithMount("tmpfs", "", "/shared", "size=1m", "rshared"), container.WithMount("tmpfs", "", "/plain", "size=1m"))
	if out != "/shared shared\n/plain private\n" {
		t.Fatalf("got %q", out)
	}
}

// testCgroupPath returns a WithCgroupPath for one test, under a parent of this
// test process's own, and removes that parent (which WithCgroupPath creates
// and keeps) when the test ends, after the test's own cleanups.
func testCgroupPath(t *testing.T, name string) string {
	parent := fmt.Sprintf("/ctrkit-test-%d", os.Getpid())
	t.Cleanup(func() {
		if err := oci.RemoveCgroup(parent); err != nil {
			t.Errorf("remove the test's cgroup parent: %v", err)
		}
	})
	return parent + "/" + name
}

// A Start that fails after the init sent the terminal's master closes it.
func TestTerminalClosedOnFailedStart(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	fds := fdCount(t)
	c, err := container.New(rootfs, []string{"/bin/nope"}, container.WithTerminal())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Start: want fs.ErrNotExist, got %v", err)
	}
	if n := fdCount(t); n != fds {
		t.Fatalf("%d descriptors open after a failed Start, %d before", n, fds)
	}
}

// TestExecFIFOMissingCommand: with WithExecFIFO, Start returns before the
// init's execve; a command that is not in the container is still Start's
// error (as runc's create fails), and nothing is left.
func TestExecFIFOMissingCommand(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	fds, kids := fdCount(t), childPids(t)
	defer func() {
		if n, k := fdCount(t), childPids(t); n != fds || !slices.Equal(k, kids) {
			t.Errorf("after the failed Starts: %d descriptors and children %q, before %d and %q", n, k, fds, kids)
		}
	}()
	for _, tc := range []struct{ cmd, path string }{
		{"/bin/nope", "/bin/nope"},
		{"nope", "nope"},
		{"/etc", "/etc"},
	} {
		fifo := filepath.Join(t.TempDir(), "exec.fifo")
		if err := unix.Mkfifo(fifo, 0o622); err != nil {
			t.Fatal(err)
		}
		c, err := container.New(rootfs, []string{tc.cmd}, oci.WithExecFIFO(fifo))
		if err != nil {
			t.Fatal(err)
		}
		err = c.Start(context.Background())
		if err == nil { // parked on the FIFO: do not leave it there
			c.Signal(unix.SIGKILL)
			c.Wait()
		}
		var se *container.SetupError
		if !errors.As(err, &se) || se.Op != "exec" || se.Path != tc.path {
			t.Fatalf("%s: Start: %v, want the exec SetupError for %s", tc.cmd, err, tc.path)
		}
	}
}
