package container_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ctrkit/container/oci"

	"github.com/ctrkit/container"
	"github.com/ctrkit/container/containertest"
	"golang.org/x/sys/unix"
)

func TestPID1AndProcessIsolation(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	out := containertest.Sh(t, rootfs, `echo $$; for p in /proc/[0-9]*; do echo "pid ${p#/proc/}"; done`)
	if out != "1\npid 1\n" {
		t.Fatalf("want only PID 1 in the container, got:\n%s", out)
	}
}

func TestHostnameAndDomainname(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	out := containertest.Sh(t, rootfs, "hostname; cat /proc/sys/kernel/domainname",
		container.WithHostname("box"), container.WithDomainname("example.test"))
	if out != "box\nexample.test\n" {
		t.Fatalf("got %q", out)
	}
	host, _ := os.Hostname()
	if host == "box" {
		t.Fatal("the host's hostname changed")
	}
}

func TestNamespaceIsolation(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)

	// A host-side marker file outside the rootfs.
	marker, err := os.CreateTemp("", "ctr-marker-*")
	if err != nil {
		t.Fatal(err)
	}
	marker.Close()
	defer os.Remove(marker.Name())
	// A host abstract unix socket.
	sockName := fmt.Sprintf("@ctr-test-%d", os.Getpid())
	l, err := net.Listen("unix", sockName)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// A host SysV shared memory segment.
	shmid, err := unix.SysvShmGet(unix.IPC_PRIVATE, 4096, unix.IPC_CREAT|0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.SysvShmCtl(shmid, unix.IPC_RMID, nil)

	out := containertest.Sh(t, rootfs, fmt.Sprintf(`
		test -e %s && echo "marker visible"
		grep -q ctr-test- /proc/net/unix && echo "socket visible"
		awk 'NR>1 {print "shm", $2}' /proc/sysvipc/shm
		ls /sys/class/net
		grep -c . /proc/self/mountinfo >/dev/null
		# /sys/fs/cgroup is the container's own view (TestCgroupView); a host
		# mount would have a root other than /.
		grep ' /sys/fs/cgroup' /proc/self/mountinfo | awk '$4 != "/"' | grep -q . && echo "host mounts visible"
		true`, marker.Name()))
	if out != "lo\n" {
		t.Fatalf("the container sees host objects (want only the interface lo):\n%s", out)
	}
}

func TestRootfsIsRoot(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	if err := os.WriteFile(filepath.Join(rootfs, "marker"), []byte("inside\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := containertest.Sh(t, rootfs, "cat /marker; ls -d /proc /dev /sys"); out != "inside\n/dev\n/proc\n/sys\n" {
		t.Fatalf("got %q", out)
	}
}

func TestSysReadOnly(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	out := containertest.Sh(t, rootfs, `awk '$2 == "/sys" {print $4}' /proc/mounts; mkdir /sys/x 2>/dev/null && echo writable; true`)
	if !strings.HasPrefix(out, "ro,") || strings.Contains(out, "writable") {
		t.Fatalf("/sys is not read-only: %q", out)
	}
}

// TestDev: the standard nodes, each a mount of its own, the only mounts
// without nodev but devpts (the device fence, mount_linux.go).
func TestDev(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	out := containertest.Sh(t, rootfs, `for d in null zero full random urandom tty; do stat -c '%n %F %t:%T %a' /dev/$d; done
		for l in fd stdin stdout stderr ptmx; do echo "/dev/$l -> $(readlink /dev/$l)"; done
		awk '$2 ~ "^/dev" {print $2, $3, ($4 ~ /(^|,)nodev(,|$)/ ? "nodev" : "dev")}' /proc/mounts
		echo hello > /dev/null && head -c 3 /dev/zero | od -An -tx1`)
	want := `/dev/null character special file 1:3 666
/dev/zero character special file 1:5 666
/dev/full character special file 1:7 666
/dev/random character special file 1:8 666
/dev/urandom character special file 1:9 666
/dev/tty character special file 5:0 666
/dev/fd -> /proc/self/fd
/dev/stdin -> /proc/self/fd/0
/dev/stdout -> /proc/self/fd/1
/dev/stderr -> /proc/self/fd/2
/dev/ptmx -> pts/ptmx
/dev tmpfs nodev
/dev/null tmpfs dev
/dev/zero tmpfs dev
/dev/full tmpfs dev
/dev/random tmpfs dev
/dev/urandom tmpfs dev
/dev/tty tmpfs dev
/dev/pts devpts dev
/dev/shm tmpfs nodev
/dev/mqueue mqueue nodev
 00 00 00
`
	if out != want {
		t.Fatalf("/dev:\n%s\nwant:\n%s", out, want)
	}
}

func TestMaskedAndReadonlyPaths(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	out := containertest.Sh(t, rootfs, `
		for f in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug /proc/latency_stats; do
			[ -e $f ] && echo "$f: $(head -c 64 $f | wc -c)"
		done
		for d in /proc/acpi /proc/scsi /sys/firmware; do [ -e $d ] && echo "$d: $(ls -A $d | wc -l)"; done
		for p in /proc/sys /proc/bus /proc/fs /proc/irq; do
			[ -e $p ] && awk -v p=$p '$2 == p {split($4, o, ","); print p, o[1]}' /proc/mounts
		done
		echo x > /proc/sys/kernel/hostname 2>/dev/null && echo "proc/sys writable"
		echo c > /proc/sysrq-trigger 2>/dev/null && echo "sysrq writable"
		true`)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		switch {
		case strings.HasSuffix(f[0], ":") && f[1] != "0":
			t.Errorf("masked path not empty: %s", line)
		case len(f) == 2 && !strings.HasSuffix(f[0], ":") && f[1] != "ro":
			t.Errorf("read-only path is not: %s", line)
		case strings.Contains(line, "writable"):
			t.Errorf("%s", line)
		}
	}
	if !strings.Contains(out, "/proc/sys ro") || !strings.Contains(out, "/sys/firmware: 0") {
		t.Fatalf("masks or read-only paths missing:\n%s", out)
	}
}

func TestExitCodes(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	if _, _, err := containertest.Run(t, rootfs, []string{"/bin/true"}); err != nil {
		t.Fatalf("exit 0: %v", err)
	}
	for _, code := range []int{1, 7} {
		_, _, err := containertest.Run(t, rootfs, []string{"/bin/sh", "-c", "exit " + strconv.Itoa(code)})
		var ee *container.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("exit %d: want *ExitError, got %v", code, err)
		}
		if ee.ExitCode() != code || ee.Signal() != 0 || !ee.Exited() || ee.OOMKilled() {
			t.Fatalf("exit %d: ExitCode %d Signal %v Exited %v", code, ee.ExitCode(), ee.Signal(), ee.Exited())
		}
	}

	c, err := container.New(rootfs, []string{"/bin/sleep", "100"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = c.Wait()
	var ee *container.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 137 || ee.Signal() != syscall.SIGKILL {
		t.Fatalf("killed: want exit code 137 and SIGKILL, got %v", err)
	}
	if err := c.Signal(syscall.SIGKILL); !errors.Is(err, container.ErrFinished) {
		t.Fatalf("Signal after Wait: want ErrFinished, got %v", err)
	}
	if err := c.Wait(); !errors.Is(err, container.ErrWaitCalled) {
		t.Fatalf("second Wait: want ErrWaitCalled, got %v", err)
	}
	if err := c.Start(context.Background()); !errors.Is(err, container.ErrAlreadyStarted) {
		t.Fatalf("second Start: want ErrAlreadyStarted, got %v", err)
	}
}

func TestStdio(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	c, err := container.New(rootfs, []string{"/bin/sh", "-c", "tr a-z A-Z; echo oops >&2"})
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	c.Stdin = strings.NewReader("hello\n")
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if stdout.String() != "HELLO\n" || stderr.String() != "oops\n" {
		t.Fatalf("stdout %q stderr %q", stdout.String(), stderr.String())
	}

	c, _ = container.New(rootfs, []string{"/bin/sh", "-c", "echo out; echo err >&2"})
	out, err := c.CombinedOutput(context.Background())
	if err != nil || !strings.Contains(string(out), "out\n") || !strings.Contains(string(out), "err\n") {
		t.Fatalf("CombinedOutput: %q, %v", out, err)
	}
	c, _ = container.New(rootfs, []string{"/bin/echo", "just stdout"})
	out, err = c.Output(context.Background())
	if err != nil || string(out) != "just stdout\n" {
		t.Fatalf("Output: %q, %v", out, err)
	}
	// A nil Stdin is /dev/null.
	c, _ = container.New(rootfs, []string{"/bin/cat"})
	out, err = c.Output(context.Background())
	if err != nil || len(out) != 0 {
		t.Fatalf("cat with nil Stdin: %q, %v", out, err)
	}
}

func TestEnvironment(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	t.Setenv("CTR_HOST_SECRET", "leaked")
	out := containertest.Sh(t, rootfs, "env | sort", container.WithEnv("FOO=bar", "PATH=/bin"))
	want := "FOO=bar\nHOME=/root\nPATH=/bin\nPWD=/\nSHLVL=1\n"
	if out != want {
		t.Fatalf("env:\n%s\nwant:\n%s", out, want)
	}
	out = containertest.Sh(t, rootfs, "echo $PATH")
	if out != "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n" {
		t.Fatalf("default PATH: %q", out)
	}
}

func TestDirAndUser(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	if out := containertest.Sh(t, rootfs, "pwd", container.WithDir("/tmp")); out != "/tmp\n" {
		t.Fatalf("WithDir: %q", out)
	}
	_, _, err := containertest.Run(t, rootfs, []string{"/bin/true"}, container.WithDir("/does/not/exist"))
	var se *container.SetupError
	if !errors.As(err, &se) || se.Op != "chdir" || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("WithDir missing: want chdir SetupError with ENOENT, got %v", err)
	}
	out := containertest.Sh(t, rootfs, "id -u; id -g; id -G; grep Groups /proc/self/status | tr -d ' '", container.WithUser(1000, 1001))
	if out != "1000\n1001\n1001\nGroups:\t\n" {
		t.Fatalf("WithUser: %q", out)
	}
}

func TestReadonlyRootfsBindsAndTmpfs(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	rw, ro := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(ro, "file"), []byte("ro-content\n"), 0o644)
	out := containertest.Sh(t, rootfs, `
		touch /newfile 2>/dev/null && echo "rootfs writable"
		echo data > /rw/written
		cat /ro/file
		touch /ro/x 2>/dev/null && echo "ro bind writable"
		echo scratch > /scratch/f && cat /scratch/f
		df -k /scratch | awk 'NR==2 {print $2}'
		head -c 2097152 /dev/zero > /scratch/big 2>/dev/null || echo "tmpfs full"
		true`,
		container.WithReadonlyRootfs(),
		container.WithBind(rw, "/rw", false),
		container.WithBind(ro, "/ro", true),
		container.WithTmpfs("/scratch", 1<<20))
	if out != "ro-content\nscratch\n1024\ntmpfs full\n" {
		t.Fatalf("got:\n%s", out)
	}
	if b, err := os.ReadFile(filepath.Join(rw, "written")); err != nil || string(b) != "data\n" {
		t.Fatalf("rw bind: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(rootfs, "newfile")); err == nil {
		t.Fatal("read-only rootfs was written")
	}
	// The mount points WithBind and WithTmpfs needed were created; nothing else.
	for _, d := range []string{"rw", "ro", "scratch"} {
		if fi, err := os.Stat(filepath.Join(rootfs, d)); err != nil || !fi.IsDir() {
			t.Fatalf("mount point %s: %v", d, err)
		}
	}
}

func TestBindFile(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	f := filepath.Join(t.TempDir(), "conf")
	os.WriteFile(f, []byte("conf-content\n"), 0o644)
	if out := containertest.Sh(t, rootfs, "cat /etc/app/conf", container.WithBind(f, "/etc/app/conf", true)); out != "conf-content\n" {
		t.Fatalf("got %q", out)
	}
}

func TestMissingCommand(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	for _, cmd := range []string{"/bin/nope", "nope"} {
		c, err := container.New(rootfs, []string{cmd})
		if err != nil {
			t.Fatal(err)
		}
		err = c.Start(context.Background())
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s: want fs.ErrNotExist from Start, got %v", cmd, err)
		}
		var se *container.SetupError
		if !errors.As(err, &se) || se.Op != "exec" || !strings.Contains(err.Error(), "exec ") || !strings.Contains(err.Error(), "nope: no such file or directory") {
			t.Fatalf("%s: want an exec SetupError, got %v", cmd, err)
		}
		if err := c.Wait(); !errors.Is(err, container.ErrNotStarted) {
			t.Fatalf("Wait after a failed Start: %v", err)
		}
	}
}

// mountinfo is the mount table, without what other test processes mount
// below their own temporary directories (containertest.HostMounts).
func mountinfo(t *testing.T) string {
	t.Helper()
	m, err := containertest.HostMounts()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSymlinkedProcRefused(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	for _, dir := range []string{"proc", "dev", "sys"} {
		t.Run(dir, func(t *testing.T) {
			rootfs := containertest.Rootfs(t)
			os.Remove(filepath.Join(rootfs, dir))
			if err := os.Symlink("/", filepath.Join(rootfs, dir)); err != nil {
				t.Fatal(err)
			}
			before := mountinfo(t)
			_, _, err := containertest.Run(t, rootfs, []string{"/bin/true"})
			var se *container.SetupError
			if !errors.As(err, &se) || !errors.Is(err, unix.ELOOP) || se.Path != "/"+dir {
				t.Fatalf("want a SetupError refusing the symlink at /%s, got %v", dir, err)
			}
			if after := mountinfo(t); after != before {
				t.Fatalf("the host's mount table changed:\n%s", after)
			}
		})
	}
}

// childPids lists the direct children of this process.
func childPids(t *testing.T) []string {
	t.Helper()
	var pids []string
	tasks, _ := filepath.Glob("/proc/self/task/*/children")
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		pids = append(pids, strings.Fields(string(b))...)
	}
	return pids
}

func TestCancelKillsEverything(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := container.New(rootfs, []string{"/bin/sh", "-c", "sleep 1000 & sleep 1000 & echo started; wait"})
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	c.Stdout = pw
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	if _, err := io.ReadFull(pr, buf); err != nil || string(buf) != "started\n" {
		t.Fatalf("read: %q %v", buf, err)
	}
	go io.Copy(io.Discard, pr)
	// The container's processes, by host pid.
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", c.Pid(), c.Pid()))
	kids := strings.Fields(string(b))
	if len(kids) != 2 {
		t.Fatalf("want 2 sleeps, got %q", kids)
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	cancel()
	select {
	case err := <-done:
		var ee *container.ExitError
		if !errors.As(err, &ee) || ee.Signal() != syscall.SIGKILL {
			t.Fatalf("Wait after cancel: %v", err)
		}
	case <-time.After(time.Second):
		t.Fatal("the container was not killed within a second of cancelling its context")
	}
	pw.Close()
	for _, k := range kids {
		if alive(k) {
			t.Errorf("container process %s still runs after cancel", k)
		}
	}
}

// TestStartCancelled: a context cancelled or expired while Start runs makes
// Start fail with an error that says so, whatever step the kill broke
// (before, the read from the init reported "connection reset by peer").
func TestStartCancelled(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	start := func(t *testing.T, ctx context.Context, opts ...container.Option) error {
		t.Helper()
		c, err := container.New(rootfs, []string{"/bin/true"}, opts...)
		if err != nil {
			t.Fatal(err)
		}
		err = c.Start(ctx)
		if err == nil {
			c.Wait()
		}
		return err
	}
	// The hook runs while the init waits between its mounts and pivot_root:
	// the kill lands while the parent still talks to the init.
	t.Run("cancel", func(t *testing.T) {
		for i := range 10 {
			ctx, cancel := context.WithCancel(context.Background())
			err := start(t, ctx, oci.WithBeforePivot(func(int) error { cancel(); return nil }))
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("start %d: %v, want an error that is context.Canceled", i, err)
			}
		}
	})
	t.Run("deadline", func(t *testing.T) {
		for i := range 5 {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			err := start(t, ctx, oci.WithBeforePivot(func(int) error { <-ctx.Done(); return nil }))
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("start %d: %v, want an error that is context.DeadlineExceeded", i, err)
			}
		}
	})
	// Cancelled from outside at any point of Start: it fails with the
	// context's error or, cancelled too late, succeeds.
	t.Run("any time", func(t *testing.T) {
		for i := range 30 {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(time.Duration(i)*500*time.Microsecond, cancel)
			if err := start(t, ctx); err != nil && !errors.Is(err, context.Canceled) {
				t.Fatalf("start cancelled after %v: %v, want an error that is context.Canceled", time.Duration(i)*500*time.Microsecond, err)
			}
			cancel()
		}
	})
}

// alive reports whether pid exists and is not a zombie.
func alive(pid string) bool {
	for range 50 {
		b, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil {
			return false
		}
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 0 && (f[0] == "Z" || f[0] == "X") {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// fdCount counts this process's descriptors (countFDs).
func fdCount(t *testing.T) int {
	t.Helper()
	return countFDs()
}

func TestManyContainersLeakNothing(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	fds, mounts, kids := fdCount(t), mountinfo(t), childPids(t)
	for i := range 50 {
		out := containertest.Sh(t, rootfs, "echo $$")
		if out != "1\n" {
			t.Fatalf("container %d: %q", i, out)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// All 20 share the rootfs and race to create the same missing mount point.
			c, err := container.New(rootfs, []string{"/bin/sh", "-c", "echo " + strconv.Itoa(i)},
				container.WithHostname("c"+strconv.Itoa(i)), container.WithTmpfs("/made/by/start", 4096))
			if err != nil {
				errs <- err
				return
			}
			out, err := c.Output(context.Background())
			if err != nil || string(out) != strconv.Itoa(i)+"\n" {
				errs <- fmt.Errorf("container %d: %q %v", i, out, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := fdCount(t); n != fds {
		t.Errorf("fd count %d, was %d", n, fds)
	}
	if m := mountinfo(t); m != mounts {
		t.Errorf("host mount table changed")
	}
	if k := childPids(t); len(k) != len(kids) {
		t.Errorf("child processes %v, were %v", k, kids)
	}
}

func TestUserNamespaceAsRoot(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	containertest.SkipUnlessUserNS(t)
	rootfs := containertest.Rootfs(t)
	out := containertest.Sh(t, rootfs, "id -u; cat /proc/self/uid_map /proc/self/gid_map | tr -s ' '; echo $$; ls -l /dev/null | cut -c1",
		container.WithUIDMap(container.IDMap{ContainerID: 0, HostID: 100000, Size: 65536}),
		container.WithGIDMap(container.IDMap{ContainerID: 0, HostID: 100000, Size: 65536}))
	if out != "0\n 0 100000 65536\n 0 100000 65536\n1\nc\n" {
		t.Fatalf("got %q", out)
	}
}

// TestRootless runs containers as an unprivileged host user: the test binary
// re-runs itself as uid 65534 and TestRootlessChild does the work there.
func TestRootless(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	containertest.SkipUnlessUserNS(t)
	rootfs := containertest.Rootfs(t)
	containertest.RerunAs(t, 65534, 65534, "TestRootlessChild", "CTR_ROOTLESS_ROOTFS="+rootfs)
}

func TestRootlessChild(t *testing.T) {
	rootfs := os.Getenv("CTR_ROOTLESS_ROOTFS")
	if rootfs == "" {
		t.Skip("skipping: run by TestRootless as an unprivileged user")
	}
	if os.Geteuid() == 0 {
		t.Fatal("TestRootlessChild runs as root")
	}
	out := containertest.Sh(t, rootfs, "id -u; echo $$; hostname; cat /proc/self/uid_map | tr -s ' '; ls /sys/class/net; head -c 3 /dev/zero | od -An -tx1")
	want := fmt.Sprintf("0\n1\ncontainer\n 0 %d 1\nlo\n 00 00 00\n", os.Geteuid())
	if out != want {
		t.Fatalf("rootless container:\n%s\nwant:\n%s", out, want)
	}
	out = containertest.Sh(t, rootfs, "id -u; id -g; touch /tmp/x 2>&1 | head -c 0; cat /proc/self/uid_map | tr -s ' '", container.WithUser(1000, 1000))
	want = fmt.Sprintf("1000\n1000\n 1000 %d 1\n", os.Geteuid())
	if out != want {
		t.Fatalf("rootless WithUser:\n%s\nwant:\n%s", out, want)
	}
	if out := containertest.Sh(t, rootfs, "grep CapEff /proc/self/status", container.WithUser(1000, 1000)); out != "CapEff:\t0000000000000000\n" {
		t.Fatalf("rootless WithUser keeps capabilities: %q", out)
	}
}

// A Stdin that is not an *os.File and never returns from Read must not hold up
// a Start that fails after the clone: Start returns its error and leaves no
// descriptor behind (TestMain checks), while the copy from a reader that ends
// still reaches the command.
func TestFailedStartWithBlockingStdin(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	pr, pw := io.Pipe() // nothing is ever written: Read blocks until pw closes
	defer pw.Close()
	c, err := container.New(rootfs, []string{"/bin/cat"}, container.WithDir("/does/not/exist"))
	if err != nil {
		t.Fatal(err)
	}
	c.Stdin = pr
	done := make(chan error, 1)
	go func() { done <- c.Start(context.Background()) }()
	select {
	case err := <-done:
		var se *container.SetupError
		if !errors.As(err, &se) || se.Op != "chdir" {
			t.Fatalf("Start: %v, want the chdir SetupError", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Start did not return: it waits for the caller's Stdin")
	}

	c, err = container.New(rootfs, []string{"/bin/cat"})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	c.Stdin, c.Stdout = strings.NewReader("through the pipe\n"), &out
	if err := c.Run(context.Background()); err != nil || out.String() != "through the pipe\n" {
		t.Fatalf("Run: %v, output %q", err, out.String())
	}
}

// TestTimerSlackIsTheCallers: the init is cloned with a raised timer slack
// (its runtime's threads wake less), which its own thread sets back before it
// starts anything: the command, a process it forks, and WithInit's command
// have the slack a child of the caller has.
func TestTimerSlackIsTheCallers(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	want, err := exec.Command("cat", "/proc/self/timerslack_ns").Output()
	if err != nil {
		t.Skipf("no /proc/self/timerslack_ns here: %v", err)
	}
	rootfs := containertest.Rootfs(t)
	const script = "cat /proc/self/timerslack_ns /proc/$$/timerslack_ns"
	for _, opts := range [][]container.Option{nil, {container.WithInit()}} {
		got := containertest.Sh(t, rootfs, script, opts...)
		if w := strings.Repeat(string(want), 2); got != w {
			t.Errorf("%d options: the command's timer slack %q, want the caller's %q", len(opts), got, w)
		}
	}
}
