//go:build linux && amd64

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/ctrkit/container/containertest"
)

// runSpike runs cmd in a spike container on rootfs and returns its standard
// output (its standard error goes to /dev/null, as the library test
// helper's is kept apart) and exit status.
func runSpike(t *testing.T, rootfs string, cmd ...string) (string, int, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	null, err := os.OpenFile("/dev/null", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	c, err := start(rootfs, cmd, [3]int{int(null.Fd()), int(w.Fd()), int(null.Fd())})
	w.Close()
	if err != nil {
		return "", 0, err
	}
	out, rerr := io.ReadAll(r)
	code, werr := c.wait()
	if rerr != nil {
		t.Fatal(rerr)
	}
	if werr != nil {
		t.Fatal(werr)
	}
	return string(out), code, nil
}

const probe = `grep -E "^(Seccomp|CapEff|CapPrm|CapBnd|CapAmb|NoNewPrivs|SigBlk|SigIgn):" /proc/self/status; hostname
for ns in mnt pid net uts ipc cgroup; do readlink /proc/self/ns/$ns; done
cut -d" " -f5,6,9 /proc/self/mountinfo; ls -l /proc/self/fd | grep -c .; echo $$`

// TestIsolation checks that the spike's container is locked down and in
// namespaces of its own: seccomp filter mode, Docker's capabilities in every
// set but the ambient one, no_new_privs, the hostname, PID 1, every
// namespace differing from the test's, /proc and /sys mounted, no signal
// blocked or ignored (the child blocks them all until its handlers are reset).
func TestIsolation(t *testing.T) { bothModes(t, testIsolation) }

func testIsolation(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	out, code, err := runSpike(t, rootfs, "/bin/sh", "-c", probe)
	if err != nil || code != 0 {
		t.Fatalf("spike: %v, exit %d\n%s", err, code, out)
	}
	for _, want := range []string{
		"Seccomp:\t2\n", "NoNewPrivs:\t1\n", "CapEff:\t00000000a80425fb\n", "CapPrm:\t00000000a80425fb\n",
		"CapBnd:\t00000000a80425fb\n", "CapAmb:\t0000000000000000\n", "\ncontainer\n",
		"/proc rw,nosuid,nodev,noexec,relatime proc\n", "/sys ro,nosuid,nodev,noexec,relatime sysfs\n", "/dev/null rw,nosuid tmpfs\n",
		"/proc/sys ro,nosuid,nodev,noexec,relatime proc\n", "\n1\n",
		"SigBlk:\t0000000000000000\n", "SigIgn:\t0000000000000000\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the container's output lacks %q:\n%s", want, out)
		}
	}
	for _, ns := range []string{"mnt", "pid", "net", "uts", "ipc", "cgroup"} {
		host, err := os.Readlink("/proc/self/ns/" + ns)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out, host+"\n") {
			t.Errorf("the container shares the test's %s namespace (%s)", ns, host)
		}
	}
}

// TestDeviceFence checks that a device node the container makes cannot be
// opened (nodev everywhere but on the devices it was given), while
// /dev/null can; and that a syscall Docker's profile refuses is refused.
func TestDeviceFence(t *testing.T) { bothModes(t, testDeviceFence) }

func testDeviceFence(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	out, code, err := runSpike(t, rootfs, "/bin/sh", "-c",
		`echo x >/dev/null && echo null-ok; mknod /tmp/mem c 1 1 && echo mknod-ok; head -c1 /tmp/mem && echo READ; mknod /dev/shm/z c 1 5 && head -c1 /dev/shm/z && echo READ2; exit 0`)
	if err != nil || code != 0 {
		t.Fatalf("spike: %v, exit %d\n%s", err, code, out)
	}
	if !strings.Contains(out, "null-ok") || !strings.Contains(out, "mknod-ok") {
		t.Errorf("want /dev/null writable and mknod allowed (CAP_MKNOD):\n%s", out)
	}
	if strings.Contains(out, "READ") {
		t.Errorf("a node the container made could be opened:\n%s", out)
	}
}

// TestMatchesLibrary runs the same probe in the library's default container
// and in the spike's: the security status, hostname, mounts (point, options,
// file system) and the descriptors the command gets must be the same.
func TestMatchesLibrary(t *testing.T) { bothModes(t, testMatchesLibrary) }

func testMatchesLibrary(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	lib := containertest.Sh(t, rootfs, probe)
	spike, code, err := runSpike(t, rootfs, "/bin/sh", "-c", probe)
	if err != nil || code != 0 {
		t.Fatalf("spike: %v, exit %d\n%s", err, code, spike)
	}
	nsID := regexp.MustCompile(`:\[\d+\]`)
	lib, spike = nsID.ReplaceAllString(lib, ""), nsID.ReplaceAllString(spike, "")
	if lib != spike {
		t.Errorf("the spike's container differs from the library's\nlibrary:\n%s\nspike:\n%s", lib, spike)
	}
}

// TestStepError checks the error path: a failed step comes back as a
// *StepError naming it, with the errno, and leaves no cgroup, process or
// descriptor behind. A /proc that is a symlink is refused (the strict
// RESOLVE_NO_SYMLINKS lookup); a missing command fails execve.
func TestStepError(t *testing.T) { bothModes(t, testStepError) }

func testStepError(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	for _, tc := range []struct {
		name, op, path string
		errno          syscall.Errno
		breakRootfs    func(t *testing.T, rootfs string)
		cmd            string
	}{
		{"missing command", "exec", "/bin/nothing", syscall.ENOENT, func(*testing.T, string) {}, "/bin/nothing"},
		{"symlinked /proc", "openat2", "/proc", syscall.ELOOP, func(t *testing.T, rootfs string) {
			if err := os.Remove(rootfs + "/proc"); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("/tmp", rootfs+"/proc"); err != nil {
				t.Fatal(err)
			}
		}, "/bin/true"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rootfs := containertest.Rootfs(t)
			tc.breakRootfs(t, rootfs)
			_, parent, err := cgroupHost()
			if err != nil {
				t.Fatal(err)
			}
			mine := fmt.Sprintf("ctrkit-spike-%d-", os.Getpid()) // other tests on this machine make cgroups beside them
			before := entries(t, parent, mine)
			fds := entries(t, "/proc/self/fd", "")
			_, code, err := runSpike(t, rootfs, tc.cmd)
			var se *StepError
			if !errors.As(err, &se) || se.Op != tc.op || se.Path != tc.path || !errors.Is(err, tc.errno) {
				t.Fatalf("got %v (%#v; exit status %d), want a StepError %s %s: %v", err, se, code, tc.op, tc.path, tc.errno)
			}
			if after := entries(t, parent, mine); after != before {
				t.Errorf("cgroups left behind in %s: %s, before %s", parent, after, before)
			}
			if after := entries(t, "/proc/self/fd", ""); after != fds {
				t.Errorf("descriptors left open: %s, before %s", after, fds)
			}
			var ws syscall.WaitStatus
			if pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil); err != syscall.ECHILD {
				t.Errorf("a child is left: wait4 = %d, %v", pid, err)
			}
		})
	}
}

// bothModes runs test with the vfork child and with -vm's (own stack, no
// runtime hook, signals reset by the plan).
func bothModes(t *testing.T, test func(*testing.T)) {
	for _, vm := range []bool{false, true} {
		name := "vfork"
		if vm {
			name = "vm"
		}
		t.Run(name, func(t *testing.T) {
			if vm && raceBuild {
				t.Skip("skipping: -vm is refused in a race build (race_on.go)")
			}
			useVM = vm
			defer func() { useVM = false }()
			test(t)
		})
	}
}

// entries lists the names in dir that start with prefix (the directories
// only, but in /proc/self/fd).
func entries(t *testing.T, dir, prefix string) string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		if (e.IsDir() || dir == "/proc/self/fd") && strings.HasPrefix(e.Name(), prefix) {
			names = append(names, e.Name())
		}
	}
	return strings.Join(names, " ")
}

// TestChildCallsNoRuntime disassembles the functions the child runs (in the
// spike built without -race) and fails on any call that is not a raw system call or one of
// them: a bounds check, a write barrier, a race hook or a stack check would
// call into the runtime from the forked child.
func TestChildCallsNoRuntime(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("skipping: no go command to build and disassemble the spike")
	}
	bin := t.TempDir() + "/spike" // the test binary has no symbol table: build the command itself
	if out, err := exec.Command(gobin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v: %s", err, out)
	}
	out, err := exec.Command(gobin, "tool", "objdump", "-s",
		`^main\.(runChild|runChildVM|childFail|stamp)(\.abi0)?$`, bin).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool objdump: %v: %s", err, out)
	}
	allowed := regexp.MustCompile(`^(syscall\.RawSyscall6?|main\.(runChild|runChildVM|childFail|stamp))\(SB\)$`)
	calls := 0
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || f[len(f)-2] != "CALL" {
			continue
		}
		calls++
		if !allowed.MatchString(f[len(f)-1]) {
			t.Errorf("the child calls %s: %s", f[len(f)-1], strings.TrimSpace(l))
		}
	}
	if calls == 0 {
		t.Fatalf("no calls found in the disassembly:\n%s", out)
	}
}

// TestSeccompCopy checks that the spike loads the library's current default
// program (gen.sh copies it).
func TestSeccompCopy(t *testing.T) {
	b, err := os.ReadFile("../../seccomp_default_amd64.go")
	if err != nil {
		t.Fatal(err)
	}
	var lib strings.Builder
	for _, m := range regexp.MustCompile(`"((?:\\x[0-9a-f]{2})+)"`).FindAllStringSubmatch(string(b), -1) {
		for i := 0; i < len(m[1]); i += 4 {
			var v byte
			for _, c := range m[1][i+2 : i+4] {
				v = v<<4 | byte(strings.IndexRune("0123456789abcdef", c))
			}
			lib.WriteByte(v)
		}
	}
	if lib.Len() == 0 || lib.String() != defaultProgram {
		t.Fatalf("bench/spike/seccomp_default_amd64.go (%d bytes) is not the library's program (%d bytes): run bench/spike/gen.sh", len(defaultProgram), lib.Len())
	}
}
