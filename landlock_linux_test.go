package container_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ctrkit/container"
	"github.com/ctrkit/container/containertest"
	"golang.org/x/sys/unix"
)

// skipUnlessLandlock skips a test on a kernel whose Landlock ABI lacks
// something WithLandlock fences (without best effort, Start would fail).
func skipUnlessLandlock(t *testing.T) {
	t.Helper()
	containertest.SkipUnlessRoot(t)
	v, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if errno != 0 {
		t.Skipf("skipping: no Landlock: %v", errno)
	}
	if v < 6 {
		t.Skipf("skipping: the kernel's Landlock ABI is %d; WithLandlock needs 6", v)
	}
}

// landlockDirs makes host directories to bind into the container, all
// read-write binds, so that only Landlock refuses: ro (a LandlockRead rule),
// rw (LandlockWrite) and out (no rule), each holding a file f with "data",
// and out a copy of busybox too.
func landlockDirs(t *testing.T, rootfs string) (ro, rw, out string, binds []container.Option) {
	t.Helper()
	// The mount points, which a user namespace's root could not make.
	for _, d := range []string{"ro", "rw", "out"} {
		if err := os.Mkdir(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ro, rw, out = t.TempDir(), t.TempDir(), t.TempDir()
	// TempDir's parent is private to this user; a user namespace's root is another.
	os.Chmod(filepath.Dir(ro), 0o755)
	for _, d := range []string{ro, rw, out} {
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "f"), []byte("data\n"), 0o666); err != nil {
			t.Fatal(err)
		}
		os.Chmod(filepath.Join(d, "f"), 0o666)
	}
	bb, err := containertest.BusyboxPath()
	if err != nil {
		t.Skipf("skipping: %v", err)
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	binds = []container.Option{
		container.WithBind(ro, "/ro", false),
		container.WithBind(rw, "/rw", false),
		container.WithBind(out, "/out", false),
	}
	return ro, rw, out, binds
}

// userNSMaps gives the container a user namespace whose root is host uid 100000.
func userNSMaps() []container.Option {
	return []container.Option{
		container.WithUIDMap(container.IDMap{ContainerID: 0, HostID: 100000, Size: 65536}),
		container.WithGIDMap(container.IDMap{ContainerID: 0, HostID: 100000, Size: 65536}),
	}
}

// landlockScript tries each access and prints "ok: what" or "refused: what:
// the error" for each.
const landlockScript = `
try() { what=$1; shift; if msg=$("$@" 2>&1); then echo "ok: $what"; else echo "refused: $what: $msg"; fi; }
try "read /ro/f" cat /ro/f
try "list /ro" ls /ro
try "write /ro/f" sh -c 'echo x >> /ro/f'
try "create in /ro" sh -c 'echo x > /ro/new'
try "write /rw/f" sh -c 'echo written >> /rw/f'
try "create in /rw" sh -c 'echo new > /rw/new'
try "rename in /rw" mv /rw/new /rw/moved
try "remove in /rw" rm /rw/f
try "read /out/f" cat /out/f
try "list /out" ls /out
try "write /out/f" sh -c 'echo x >> /out/f'
try "create in /out" sh -c 'echo x > /out/new'
try "exec /out/busybox" /out/busybox true
try "read /etc/hostname" cat /etc/hostname
`

// TestLandlockFiles: under WithLandlock a path outside the rules is refused
// (EACCES) although it is bound read-write, a write below a LandlockRead rule
// is refused, and what LandlockWrite allows works, with a mount namespace and
// without one, where Landlock is the only fence around the host's files.
func TestLandlockFiles(t *testing.T) {
	skipUnlessLandlock(t)
	for _, tc := range []struct {
		name string
		opts []container.Option
	}{
		{"mount namespace", nil},
		{"no mount namespace", []container.Option{container.WithoutNamespace(container.NSMount)}},
		{"user", []container.Option{container.WithUser(65534, 65534)}},
		{"new privileges", []container.Option{container.WithNewPrivileges()}},
		{"init", []container.Option{container.WithInit()}},
		{"no seccomp", []container.Option{container.WithoutSeccomp()}},
		{"user namespace", userNSMaps()},
		{"user namespace, new privileges", append(userNSMaps(), container.WithNewPrivileges())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rootfs := containertest.Rootfs(t)
			ro, rw, out, binds := landlockDirs(t, rootfs)
			opts := append(binds, tc.opts...)
			opts = append(opts, container.WithLandlock(
				container.LandlockRead("/bin", "/ro"),
				container.LandlockWrite("/rw"),
			))
			c, err := container.New(rootfs, []string{"/bin/sh", "-c", landlockScript}, opts...)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.CombinedOutput(context.Background())
			if err != nil {
				t.Fatalf("%v\n%s", err, got)
			}
			lines := map[string]string{} // what → the line about it
			for _, l := range strings.Split(string(got), "\n") {
				if _, rest, ok := strings.Cut(l, ": "); ok {
					what, _, _ := strings.Cut(rest, ": ")
					lines[what] = l
				}
			}
			for _, what := range []string{"read /ro/f", "list /ro", "write /rw/f", "create in /rw", "rename in /rw", "remove in /rw"} {
				if l := lines[what]; l != "ok: "+what {
					t.Errorf("%s: %q, want it allowed\n%s", what, l, got)
				}
			}
			for _, what := range []string{"write /ro/f", "create in /ro", "read /out/f", "list /out", "write /out/f", "create in /out", "exec /out/busybox", "read /etc/hostname"} {
				if l := lines[what]; !strings.HasPrefix(l, "refused: "+what+": ") || !strings.HasSuffix(l, ": Permission denied") {
					t.Errorf("%s: %q, want it refused with EACCES\n%s", what, l, got)
				}
			}
			for dir, want := range map[string]string{ro: "data\n", out: "data\n"} {
				if b, err := os.ReadFile(filepath.Join(dir, "f")); err != nil || string(b) != want {
					t.Errorf("%s/f: %q, %v; want it untouched", dir, b, err)
				}
				if _, err := os.Stat(filepath.Join(dir, "new")); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s/new: %v, want it not created", dir, err)
				}
			}
			if b, err := os.ReadFile(filepath.Join(rw, "moved")); err != nil || string(b) != "new\n" {
				t.Errorf("%s/moved: %q, %v", rw, b, err)
			}
			if st := c.Landlock(); st.ABI < 6 || st.Dropped != nil {
				t.Errorf("Landlock() = %+v, want the kernel's ABI and nothing dropped", st)
			}
		})
	}
}

// TestLandlockTCP: a port a rule allows can be bound and connected to; a
// connect or bind to any other port is refused (EACCES, not ECONNREFUSED).
func TestLandlockTCP(t *testing.T) {
	skipUnlessLandlock(t)
	rootfs := containertest.Rootfs(t)
	// The last line is the script's tail: with TCP fenced, binding 9090 is
	// refused; open, nc would wait there for a client.
	script := `
nc -l -p 8080 &
i=0
until echo hello | nc 127.0.0.1 8080; do
	i=$((i+1)); [ $i -gt 100 ] && break; usleep 50000
done
wait
nc 127.0.0.1 9090 </dev/null
`
	for _, tc := range []struct {
		name  string
		rules []container.LandlockRule
		tail  string
		want  []string
	}{
		{"fenced", []container.LandlockRule{container.LandlockRead("/"), container.LandlockBindTCP(8080), container.LandlockConnectTCP(8080)},
			"timeout 10 nc -l -p 9090 </dev/null; exit 0",
			[]string{"hello\n", "nc: can't connect to remote host (127.0.0.1): Permission denied\n", "nc: bind: Permission denied\n"}},
		{"any TCP", []container.LandlockRule{container.LandlockRead("/"), container.LandlockAnyTCP()},
			"exit 0",
			[]string{"hello\n", "nc: can't connect to remote host (127.0.0.1): Connection refused\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := containertest.CombinedOutput(t, rootfs, []string{"/bin/sh", "-c", script + tc.tail}, container.WithLandlock(tc.rules...))
			if err != nil {
				t.Fatalf("%v\n%s", err, got)
			}
			for _, want := range tc.want {
				if !strings.Contains(got, want) {
					t.Errorf("no %q in the output:\n%s", want, got)
				}
			}
		})
	}
}

// TestLandlockSignalScope: the command cannot signal a process outside its
// Landlock domain, here the test itself in a shared PID namespace, although
// it may without WithLandlock; it may signal itself.
func TestLandlockSignalScope(t *testing.T) {
	skipUnlessLandlock(t)
	rootfs := containertest.Rootfs(t)
	script := fmt.Sprintf("kill -0 $$ && echo self ok; kill -0 %d && echo host ok; exit 0", os.Getpid())
	for _, tc := range []struct {
		name string
		opts []container.Option
		want []string
	}{
		{"without Landlock", nil, []string{"self ok\n", "host ok\n"}},
		{"with Landlock", []container.Option{container.WithLandlock(container.LandlockRead("/"))},
			[]string{"self ok\n", fmt.Sprintf("can't kill pid %d: Operation not permitted\n", os.Getpid())}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := append([]container.Option{container.WithoutNamespace(container.NSPID)}, tc.opts...)
			got, err := containertest.CombinedOutput(t, rootfs, []string{"/bin/sh", "-c", script}, opts...)
			if err != nil {
				t.Fatalf("%v\n%s", err, got)
			}
			for _, want := range tc.want {
				if !strings.Contains(got, want) {
					t.Errorf("no %q in the output:\n%s", want, got)
				}
			}
		})
	}
}

// TestLandlockMissingPath: a rule's path that the container does not have
// fails Start, naming it.
func TestLandlockMissingPath(t *testing.T) {
	skipUnlessLandlock(t)
	rootfs := containertest.Rootfs(t)
	c, err := container.New(rootfs, []string{"/bin/true"}, container.WithLandlock(container.LandlockRead("/bin", "/nope/data")))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Run(context.Background())
	var se *container.SetupError
	if !errors.As(err, &se) || se.Op != "landlock rule" || se.Path != "/nope/data" || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Run: %v, want a *SetupError naming /nope/data with ENOENT", err)
	}
	if want := "landlock rule /nope/data: no such file or directory"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

// TestLandlockBestEffort: on a kernel that has everything, best effort drops
// nothing and fences as much.
func TestLandlockBestEffort(t *testing.T) {
	skipUnlessLandlock(t)
	rootfs := containertest.Rootfs(t)
	c, err := container.New(rootfs, []string{"/bin/sh", "-c", "cat /etc/hostname"},
		container.WithLandlock(container.LandlockRead("/bin")), container.WithLandlockBestEffort())
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.CombinedOutput(context.Background())
	if err == nil || !strings.Contains(string(got), "Permission denied") {
		t.Errorf("cat /etc/hostname: %v, %q; want it refused", err, got)
	}
	if st := c.Landlock(); st.ABI < 6 || st.Dropped != nil {
		t.Errorf("Landlock() = %+v, want the kernel's ABI and nothing dropped", st)
	}
}

// TestLandlockIoctl: ioctl(2) on a device the command opens needs
// LandlockIoctl; opening it is not enough.
func TestLandlockIoctl(t *testing.T) {
	skipUnlessLandlock(t)
	rootfs := containertest.Rootfs(t)
	for _, tc := range []struct {
		name  string
		rules []container.LandlockRule
		want  string
	}{
		{"open only", []container.LandlockRule{container.LandlockRead("/bin"), container.LandlockWrite("/dev")}, "stty: /dev/ptmx: Permission denied"}, // the ioctl: a refused open says "can't open",
		{"ioctl", []container.LandlockRule{container.LandlockRead("/bin"), container.LandlockWrite("/dev"), container.LandlockIoctl("/dev/pts")}, "speed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := containertest.CombinedOutput(t, rootfs, []string{"/bin/stty", "-F", "/dev/ptmx"}, container.WithLandlock(tc.rules...))
			if !strings.Contains(got, tc.want) {
				t.Errorf("stty -F /dev/ptmx: %q, want %q", got, tc.want)
			}
		})
	}
}

// TestLandlockOlderKernel: on a kernel whose ABI lacks part of the fence,
// Start fails naming what and the ABI it needs; with best effort the
// container runs under what the kernel has, and Container.Landlock says
// what was dropped.
func TestLandlockOlderKernel(t *testing.T) {
	skipUnlessLandlock(t)
	rootfs := containertest.Rootfs(t)
	script := "cat /etc/hostname; kill -0 $$ && echo signal ok"
	rules := container.WithLandlock(container.LandlockRead("/bin"))
	for _, tc := range []struct {
		abi     int
		err     string
		dropped []string
	}{
		{4, "the kernel has Landlock ABI 4, which cannot fence ioctl_dev (ABI 5), abstract_unix_socket (ABI 6), signal (ABI 6)",
			[]string{"ioctl_dev (ABI 5)", "abstract_unix_socket (ABI 6)", "signal (ABI 6)"}},
		{0, "the kernel has no Landlock",
			[]string{"fs (ABI 1)", "refer (ABI 2)", "truncate (ABI 3)", "bind_tcp (ABI 4)", "connect_tcp (ABI 4)", "ioctl_dev (ABI 5)", "abstract_unix_socket (ABI 6)", "signal (ABI 6)"}},
	} {
		t.Run(fmt.Sprintf("ABI %d", tc.abi), func(t *testing.T) {
			defer container.FakeLandlockABI(tc.abi)()
			c, err := container.New(rootfs, []string{"/bin/sh", "-c", script}, rules)
			if err != nil {
				t.Fatal(err)
			}
			err = c.Run(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, errors.ErrUnsupported) {
				t.Fatalf("Run: %v, want an error wrapping errors.ErrUnsupported with %q", err, tc.err)
			}
			if st := c.Landlock(); st.ABI != tc.abi || st.Dropped != nil {
				t.Errorf("Landlock() after a failed Start: %+v", st)
			}

			c, err = container.New(rootfs, []string{"/bin/sh", "-c", script}, rules, container.WithLandlockBestEffort())
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.CombinedOutput(context.Background())
			if err != nil {
				t.Fatalf("%v\n%s", err, got)
			}
			denied := strings.Contains(string(got), "cat: can't open '/etc/hostname': Permission denied")
			if denied != (tc.abi > 0) || !strings.Contains(string(got), "signal ok") {
				t.Errorf("best effort at ABI %d: output %q", tc.abi, got)
			}
			if st := c.Landlock(); st.ABI != tc.abi || !reflect.DeepEqual(st.Dropped, tc.dropped) {
				t.Errorf("Landlock() = %+v, want ABI %d, dropped %q", st, tc.abi, tc.dropped)
			}
		})
	}
}
