package container_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ctrkit/container/oci"

	"github.com/ctrkit/container"
	"github.com/ctrkit/container/containertest"
	"golang.org/x/sys/unix"
)

// The escape tests: a default container must be as locked down as Docker's,
// and must stand up to the attacks that broke runc.

func mustRunIn(t *testing.T, rootfs string, cmd []string, opts ...container.Option) string {
	t.Helper()
	out, err := containertest.CombinedOutput(t, rootfs, cmd, opts...)
	if err != nil {
		t.Fatalf("%q: %v\n%s", cmd, err, out)
	}
	return out
}

// statusField returns one field of a /proc/PID/status text.
func statusField(status, name string) string {
	for _, l := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(l, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// buildC compiles a static C program into dir/bin/name of the rootfs, or skips
// the test when there is no C compiler. Where CTRKIT_TEST_CPROGS is set, it
// copies a prebuilt program (cprogs_linux_test.go).
func buildC(t *testing.T, rootfs, name, src string, flags ...string) string {
	t.Helper()
	if bin, ok := prebuiltC(t, rootfs, name, src, flags); ok {
		return bin
	}
	cc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("skipping: no C compiler (gcc) to build the test program")
	}
	dir := t.TempDir()
	cfile := filepath.Join(dir, name+".c")
	if err := os.WriteFile(cfile, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(rootfs, "bin", name)
	args := append([]string{"-static", "-O1", "-o", out, cfile}, flags...)
	if b, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		t.Skipf("skipping: cannot build a static test program with %s: %v\n%s", cc, err, b)
	}
	return "/bin/" + name
}

const (
	// Docker's 14: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP
	// NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP.
	dockerCaps = "00000000a80425fb"
	noCaps     = "0000000000000000"
)

func TestDefaultContainerStatus(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	// A rootfs owned by the user namespace's root, as a rootless caller's would be.
	usernsRootfs := containertest.Rootfs(t)
	if err := filepath.Walk(usernsRootfs, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, 100000, 100000)
	}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name          string
		opts          []container.Option
		bnd, prm, amb string
		nnp, seccomp  string
	}{
		{"root", nil, dockerCaps, dockerCaps, noCaps, "1", "2"},
		{"user 1000", []container.Option{container.WithUser(1000, 1000)}, dockerCaps, noCaps, noCaps, "1", "2"},
		{"user 1000 with NET_ADMIN", []container.Option{container.WithUser(1000, 1000), container.WithCapAdd("NET_ADMIN")},
			"00000000a80435fb", "0000000000001000", "0000000000001000", "1", "2"},
		{"only CHOWN", []container.Option{container.WithCapabilities("CAP_CHOWN")}, "0000000000000001", "0000000000000001", noCaps, "1", "2"},
		{"drop NET_RAW", []container.Option{container.WithCapDrop("net_raw")}, "00000000a80405fb", "00000000a80405fb", noCaps, "1", "2"},
		{"new privileges, no seccomp", []container.Option{container.WithNewPrivileges(), container.WithoutSeccomp()}, dockerCaps, dockerCaps, noCaps, "0", "0"},
		{"new privileges", []container.Option{container.WithNewPrivileges()}, dockerCaps, dockerCaps, noCaps, "0", "2"},
		{"user namespace", []container.Option{container.WithUIDMap(container.IDMap{ContainerID: 0, HostID: 100000, Size: 65536}),
			container.WithGIDMap(container.IDMap{ContainerID: 0, HostID: 100000, Size: 65536})}, dockerCaps, dockerCaps, noCaps, "1", "2"},
		{"user namespace, user 1000", []container.Option{container.WithUIDMap(container.IDMap{ContainerID: 0, HostID: 100000, Size: 65536}),
			container.WithGIDMap(container.IDMap{ContainerID: 0, HostID: 100000, Size: 65536}), container.WithUser(1000, 1000)}, dockerCaps, noCaps, noCaps, "1", "2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fs := rootfs
			if strings.HasPrefix(tt.name, "user namespace") {
				containertest.SkipUnlessUserNS(t)
				fs = usernsRootfs
			}
			st, err := containertest.CombinedOutput(t, fs, []string{"cat", "/proc/self/status"}, tt.opts...)
			if err != nil {
				t.Fatalf("%v\n%s", err, st)
			}
			for _, f := range []struct{ name, want string }{
				{"CapBnd", tt.bnd}, {"CapPrm", tt.prm}, {"CapEff", tt.prm}, {"CapInh", tt.amb}, {"CapAmb", tt.amb},
				{"NoNewPrivs", tt.nnp}, {"Seccomp", tt.seccomp},
			} {
				if got := statusField(st, f.name); got != f.want {
					t.Errorf("%s = %q, want %q", f.name, got, f.want)
				}
			}
		})
	}
}

func TestCapabilityMissingOnHost(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	st, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	bnd, err := strconv.ParseUint(statusField(string(st), "CapBnd"), 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	const sysResource = 24
	if bnd&(1<<sysResource) != 0 {
		t.Skip("skipping: this machine's bounding set has CAP_SYS_RESOURCE")
	}
	c, err := container.New(containertest.Rootfs(t), []string{"true"}, container.WithCapAdd("SYS_RESOURCE"))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Start(context.Background())
	if err == nil {
		c.Wait()
		t.Fatal("Start succeeded with a capability the host lacks")
	}
	if !errors.Is(err, container.ErrCapabilityUnavailable) || !strings.Contains(err.Error(), "CAP_SYS_RESOURCE") {
		t.Errorf("Start: %v; want ErrCapabilityUnavailable naming CAP_SYS_RESOURCE", err)
	}
}

func TestUnknownCapabilityFailsNew(t *testing.T) {
	for _, o := range []container.Option{container.WithCapAdd("CAP_FLY"), container.WithCapDrop("nope"), container.WithCapabilities("CHOWN", "")} {
		_, err := container.New(t.TempDir(), []string{"true"}, o)
		var oe *container.OptionError
		if !errors.As(err, &oe) {
			t.Errorf("New: %v, want an *OptionError", err)
		}
	}
}

const probeC = `
#define _GNU_SOURCE
#include <errno.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char *name, long r) {
	if (r == 0 && r != -1) printf("%s ok\n", name);
	else printf("%s %s\n", name, strerrorname_np(errno));
	fflush(stdout);
}
static long child(long r) { if (r == 0) _exit(0); if (r > 0) { waitpid(r, 0, 0); return 0; } return r; }
static void *thread(void *a) { return a; }

int main(void) {
	errno = 0; report("unshare", unshare(CLONE_NEWUSER));
	errno = 0; report("mount", syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, 0));
	errno = 0; report("reboot", syscall(SYS_reboot, 0xfee1dead, 672274793, 0 /* CAD_OFF */, 0));
	errno = 0; report("init_module", syscall(SYS_init_module, 0, 0, ""));
	errno = 0; report("keyctl", syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -3 /* session */, 0) < 0 ? -1 : 0);
	errno = 0; report("bpf", syscall(SYS_bpf, 0, 0, 0));
	errno = 0; report("userfaultfd", syscall(SYS_userfaultfd, 0) < 0 ? -1 : 0);
	errno = 0; report("perf_event_open", syscall(SYS_perf_event_open, 0, 0, -1, -1, 0) < 0 ? -1 : 0);
	errno = 0; report("clone_newuser", child(syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0)));
	errno = 0; report("clone_fork", child(syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0)));
	struct clone_args ca; memset(&ca, 0, sizeof ca); ca.exit_signal = SIGCHLD;
	errno = 0; report("clone3", child(syscall(SYS_clone3, &ca, sizeof ca)));
	pthread_t t; int e = pthread_create(&t, 0, thread, 0); if (e == 0) pthread_join(t, 0);
	errno = e; report("pthread_create", e ? -1 : 0);
	errno = 0; int s = socket(AF_INET, SOCK_STREAM, 0); report("socket_inet", s < 0 ? -1 : 0);
	errno = 0; s = socket(40 /* AF_VSOCK */, SOCK_STREAM, 0); report("socket_vsock", s < 0 ? -1 : 0);
	errno = 0; s = socket(38 /* AF_ALG */, SOCK_SEQPACKET, 0); report("socket_alg", s < 0 ? -1 : 0);
	errno = 0; report("personality", personality(0xffffffff) < 0 ? -1 : 0);
	errno = 0; report("setns", syscall(SYS_setns, 0, 0));
	return 0;
}
`

func TestSeccompInContainer(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	probe := buildC(t, rootfs, "probe", probeC, "-pthread")
	want := map[string]string{
		"unshare": "EPERM", "mount": "EPERM", "reboot": "EPERM", "init_module": "EPERM", "keyctl": "EPERM",
		"bpf": "EPERM", "userfaultfd": "EPERM", "perf_event_open": "EPERM", "clone_newuser": "EPERM",
		"clone_fork": "ok", "clone3": "ENOSYS", "pthread_create": "ok", "socket_inet": "ok",
		"socket_vsock": "EPERM", "socket_alg": "EPERM", "personality": "ok", "setns": "EPERM",
	}
	got := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(mustRunIn(t, rootfs, []string{probe})), "\n") {
		k, v, _ := strings.Cut(l, " ")
		got[k] = v
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: got %q, want %q", k, got[k], w)
		}
	}
	// With CAP_SYS_ADMIN the kernel would allow unshare and mount: the filter still refuses.
	out := mustRunIn(t, rootfs, []string{probe}, container.WithCapAdd("SYS_ADMIN"))
	for _, k := range []string{"unshare EPERM", "mount EPERM", "clone_newuser EPERM", "setns EPERM"} {
		if !strings.Contains(out, k+"\n") {
			t.Errorf("with CAP_SYS_ADMIN: want %q in\n%s", k, out)
		}
	}
	// And without the filter the same program gets through: the test can fail.
	out = mustRunIn(t, rootfs, []string{probe}, container.WithCapAdd("SYS_ADMIN"), container.WithoutSeccomp())
	if !strings.Contains(out, "unshare ok\n") {
		t.Errorf("without seccomp and with CAP_SYS_ADMIN, unshare should work:\n%s", out)
	}
}

// ioUringC makes the three io_uring system calls: a ring of one entry, then
// enter and register on fd -1 (EBADF or EINVAL when the kernel sees them).
const ioUringC = `
#define _GNU_SOURCE
#include <errno.h>
#include <linux/io_uring.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static void report(const char *name, long r) {
	if (r >= 0) printf("%s ok\n", name);
	else printf("%s %s\n", name, strerrorname_np(errno));
}

int main(void) {
	struct io_uring_params p; memset(&p, 0, sizeof p);
	errno = 0; report("io_uring_setup", syscall(SYS_io_uring_setup, 1, &p));
	errno = 0; report("io_uring_enter", syscall(SYS_io_uring_enter, -1, 0, 0, 0, 0, 0));
	errno = 0; report("io_uring_register", syscall(SYS_io_uring_register, -1, 0, 0, 0));
	return 0;
}
`

// Docker 25.0 took io_uring out of its default profile (moby#46762): in a
// default container the three calls fail with EPERM, from the filter.
func TestIOUringRefused(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	bin := buildC(t, rootfs, "iouring", ioUringC)
	out := mustRunIn(t, rootfs, []string{bin})
	for _, w := range []string{"io_uring_setup EPERM\n", "io_uring_enter EPERM\n", "io_uring_register EPERM\n"} {
		if !strings.Contains(out, w) {
			t.Errorf("default container: want %q in\n%s", w, out)
		}
	}
	// Without the filter the kernel answers for itself, so the test can fail:
	// a ring, unless the host turned io_uring off (kernel.io_uring_disabled).
	if b, err := os.ReadFile("/proc/sys/kernel/io_uring_disabled"); err == nil && strings.TrimSpace(string(b)) != "0" {
		t.Skipf("skipping the unfiltered half: kernel.io_uring_disabled = %s", strings.TrimSpace(string(b)))
	}
	out = mustRunIn(t, rootfs, []string{bin}, container.WithoutSeccomp())
	if !strings.Contains(out, "io_uring_setup ok\n") || strings.Contains(out, "EPERM") {
		t.Errorf("without seccomp: want a ring and no EPERM in\n%s", out)
	}
}

// abiC makes system calls through the other ABIs of an x86_64 kernel: i386
// (int 0x80) and x32 (bit 30 of the number), without any C library.
const abiC = `
static long int80(long nr, long a1) { long r; __asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a1) : "memory"); return r; }
static long sys3(long nr, long a, long b, long c) { long r; __asm__ volatile("syscall" : "=a"(r) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory"); return r; }
static void put(const char *label, long v) {
	char b[64]; int n = 0;
	while (*label) b[n++] = *label++;
	if (v < 0) { b[n++] = '-'; v = -v; }
	char d[24]; int k = 0;
	do { d[k++] = '0' + v % 10; v /= 10; } while (v);
	while (k) b[n++] = d[--k];
	b[n++] = '\n';
	sys3(1, 1, (long)b, n);
}
void _start(void) {
	put("x32_getpid=", sys3(39 | 0x40000000, 0, 0, 0));
	if (INT80) {
		put("i386_getpid=", int80(20, 0));
		put("i386_unshare=", int80(310, 0x04000000 /* CLONE_NEWUTS */));
	}
	sys3(231, 0, 0, 0);
	for (;;) {}
}
`

func TestForeignABIsRefused(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	if out, err := exec.Command("uname", "-m").Output(); err != nil || strings.TrimSpace(string(out)) != "x86_64" {
		t.Skip("skipping: the i386 and x32 ABIs exist only on x86_64")
	}
	rootfs := containertest.Rootfs(t)
	t.Run("x32", func(t *testing.T) {
		bin := buildC(t, rootfs, "abi32", abiC, "-nostdlib", "-DINT80=0")
		// On the host the kernel answers for itself (ENOSYS without x32 support,
		// a pid with it); in the container the filter answers EPERM.
		out := mustRunIn(t, rootfs, []string{bin})
		if !strings.Contains(out, "x32_getpid=-1\n") {
			t.Errorf("x32 getpid in the container: %q, want -1 (EPERM)", out)
		}
	})
	t.Run("i386", func(t *testing.T) {
		bin := buildC(t, rootfs, "abi386", abiC, "-nostdlib", "-DINT80=1")
		host, err := exec.Command(filepath.Join(rootfs, bin)).Output()
		if err != nil || !strings.Contains(string(host), "i386_getpid=") || strings.Contains(string(host), "i386_getpid=-") {
			t.Skipf("skipping: int 0x80 does not work on this host (no i386 syscall ABI): %v %q", err, host)
		}
		out := mustRunIn(t, rootfs, []string{bin}, container.WithCapAdd("SYS_ADMIN"))
		for _, w := range []string{"i386_getpid=-1\n", "i386_unshare=-1\n"} {
			if !strings.Contains(out, w) {
				t.Errorf("want %q in %q", w, out)
			}
		}
	})
}

const whoamiC = `
#include <stdio.h>
#include <unistd.h>
int main(void) { printf("uid=%d euid=%d\n", getuid(), geteuid()); return 0; }
`

func TestSetuidBinaryStaysUnprivileged(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	bin := buildC(t, rootfs, "whoami-suid", whoamiC)
	if err := os.Chown(filepath.Join(rootfs, bin), 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(rootfs, bin), os.ModeSetuid|0o755); err != nil {
		t.Fatal(err)
	}
	out := mustRunIn(t, rootfs, []string{bin}, container.WithUser(1000, 1000))
	if strings.TrimSpace(out) != "uid=1000 euid=1000" {
		t.Errorf("setuid-root binary as uid 1000: %q, want uid=1000 euid=1000", out)
	}
	// Without no_new_privs the same binary does become root: the test can fail.
	out = mustRunIn(t, rootfs, []string{bin}, container.WithUser(1000, 1000), container.WithNewPrivileges())
	if strings.TrimSpace(out) != "uid=1000 euid=0" {
		t.Errorf("with WithNewPrivileges: %q, want uid=1000 euid=0", out)
	}
}

func TestKernelInterfacesReadOnly(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	// Each write puts back what is there (or a key sysrq ignores), so that a
	// broken container does no harm to the host.
	for _, path := range []string{"/proc/sysrq-trigger", "/proc/sys/kernel/hostname", "/proc/sys/kernel/domainname", "/sys/kernel/profiling", "/proc/sys/vm/overcommit_memory"} {
		script := fmt.Sprintf(`v=$(cat %[1]s 2>/dev/null || echo " "); echo "$v" > %[1]s && echo WRITTEN; echo RAN`, path)
		out := mustRunIn(t, rootfs, []string{"sh", "-c", script})
		if strings.Contains(out, "WRITTEN") || !strings.Contains(out, "RAN") {
			t.Errorf("writing %s: %s", path, out)
		}
	}
	for _, path := range []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug"} {
		out, _ := containertest.CombinedOutput(t, rootfs, []string{"sh", "-c", "cat " + path + " 2>/dev/null | wc -c"})
		if strings.TrimSpace(out) != "0" {
			t.Errorf("masked %s: read %s bytes, want 0", path, strings.TrimSpace(out))
		}
	}
	for _, path := range []string{"/sys/firmware", "/proc/acpi", "/proc/scsi"} {
		out, _ := containertest.CombinedOutput(t, rootfs, []string{"sh", "-c", "ls -A " + path + " 2>/dev/null | wc -l"})
		if strings.TrimSpace(out) != "0" {
			t.Errorf("masked %s: %s entries, want 0", path, strings.TrimSpace(out))
		}
	}
}

func TestHostFDNotInherited(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("host secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(secret, unix.O_RDONLY, 0) // deliberately without O_CLOEXEC
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	const high = 77
	if err := unix.Dup2(fd, high); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(high)
	out := mustRunIn(t, rootfs, []string{"sh", "-c", "ls /proc/self/fd; cat /proc/self/fd/77 2>&1; cat /proc/self/fd/" + strconv.Itoa(fd) + " 2>&1; true"})
	if strings.Contains(out, "host secret") {
		t.Fatalf("the container read a host file through an inherited fd:\n%s", out)
	}
	for _, f := range strings.Fields(out) {
		if f == strconv.Itoa(high) {
			t.Errorf("fd %d reached the container:\n%s", high, out)
		}
	}
}

func fileHash(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// CVE-2019-5736: the init's /proc/PID/exe must not lead to the host's binary.
func TestInitExeNotWritable(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	before := fileHash(t, self)
	// The init waits between its mounts and pivot_root while the parent runs
	// the WithBeforePivot callback: look at it from outside then.
	parked, goOn := make(chan int, 1), make(chan struct{})
	c, err := container.New(rootfs, []string{"true"}, oci.WithBeforePivot(func(pid int) error {
		parked <- pid
		<-goOn
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(context.Background()) }()
	released := false
	release := func() {
		if !released {
			released = true
			close(goOn)
		}
	}
	defer func() {
		release()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	var pid int
	select {
	case pid = <-parked:
	case err := <-done:
		done <- err
		t.Fatalf("Run returned before the init parked: %v", err)
	}
	exe := fmt.Sprintf("/proc/%d/exe", pid)
	target, err := os.Readlink(exe)
	if err != nil {
		t.Fatal(err)
	}
	// The sealed memfd copy, or the read-only overlay view (exe_linux.go).
	var fs unix.Statfs_t
	if err := unix.Statfs(exe, &fs); err != nil {
		t.Fatal(err)
	}
	overlay := fs.Type == unix.OVERLAYFS_SUPER_MAGIC && fs.Flags&unix.ST_RDONLY != 0
	if !strings.HasPrefix(target, "/memfd:ctrkit-container-init") && !overlay {
		t.Errorf("%s -> %s, want the sealed memfd copy or the read-only overlay view", exe, target)
	}
	// Even the host's root, which passes every permission check, cannot write
	// through it: the copy is sealed.
	if f, err := os.OpenFile(exe, os.O_WRONLY, 0); err != nil {
		t.Logf("open %s for writing as root: %v", exe, err)
	} else {
		_, werr := f.Write([]byte("\x7fELF overwritten"))
		f.Close()
		if werr == nil {
			t.Errorf("wrote through %s", exe)
		}
		t.Logf("write through %s as root: %v", exe, werr)
	}
	// A process without CAP_SYS_PTRACE (the container's view) cannot even open it: the init is not dumpable.
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Log("no setpriv: not checking access without CAP_SYS_PTRACE")
	} else if out, _ := exec.Command("setpriv", "--inh-caps=-all", "--bounding-set=-sys_ptrace", "--", filepath.Join(rootfs, "bin", "busybox"), "sh", "-c", "exec 3>>"+exe+" && echo OPENED").CombinedOutput(); bytes.Contains(out, []byte("OPENED")) {
		t.Errorf("a process without CAP_SYS_PTRACE opened %s for writing", exe)
	} else {
		t.Logf("without CAP_SYS_PTRACE: %s", bytes.TrimSpace(out))
	}
	// The exploit's way around ETXTBSY: hold an O_PATH handle until the init
	// has exec'd, then reopen it for writing.
	opath, err := unix.Open(exe, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open %s O_PATH: %v", exe, err)
	}
	defer unix.Close(opath)
	release()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	done <- nil
	if f, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", opath), os.O_WRONLY, 0); err != nil {
		t.Logf("reopen for writing after exec: %v", err)
	} else {
		n, werr := f.Write([]byte("\x7fELF overwritten"))
		f.Close()
		if werr == nil || n > 0 {
			t.Errorf("wrote %d bytes through the init's exe after it exec'd", n)
		}
		t.Logf("write after exec: %v", werr)
	}
	if after := fileHash(t, self); after != before {
		t.Error("the host binary changed")
	}
}

func TestDevSymlinkToHost(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "marker"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(rootfs, "dev")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(host, filepath.Join(rootfs, "dev")); err != nil {
		t.Fatal(err)
	}
	out, err := containertest.CombinedOutput(t, rootfs, []string{"true"})
	t.Logf("Start with /dev -> %s: %v %s", host, err, out)
	var se *container.SetupError
	if err != nil && !errors.As(err, &se) {
		t.Errorf("want the container to run or Start to refuse with a *SetupError, got %v", err)
	}
	ents, rerr := os.ReadDir(host)
	if rerr != nil {
		t.Fatal(rerr)
	}
	if len(ents) != 1 || ents[0].Name() != "marker" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("host directory changed: %v", names)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if bytes.Contains(mi, []byte(" "+host+" ")) {
		t.Errorf("something is mounted on the host directory %s", host)
	}
}

func TestCannotLeaveCgroup(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	script := `
mkdir -p /tmp/cg
mount -t cgroup2 none /tmp/cg 2>/dev/null && echo MOUNTED
echo $$ > /sys/fs/cgroup/cgroup.procs 2>/dev/null && echo MOVED
echo $$ > /proc/1/root/sys/fs/cgroup/cgroup.procs 2>/dev/null && echo MOVED
cat /proc/self/cgroup`
	out := mustRunIn(t, rootfs, []string{"sh", "-c", script})
	if strings.Contains(out, "MOUNTED") || strings.Contains(out, "MOVED") {
		t.Errorf("the container changed its cgroup:\n%s", out)
	}
	// Even with CAP_SYS_ADMIN the filter refuses the mount.
	out = mustRunIn(t, rootfs, []string{"sh", "-c", script}, container.WithCapAdd("SYS_ADMIN"))
	if strings.Contains(out, "MOUNTED") || strings.Contains(out, "MOVED") {
		t.Errorf("the container changed its cgroup with CAP_SYS_ADMIN:\n%s", out)
	}
}

// TestInitHoldsNoCallerDescriptors: a descriptor the caller opened without
// close-on-exec (here with syscall.Open, at fd 77) reaches no process of the
// container, not even the init that stays PID 1 with WithInit, whose
// descriptors a command with CAP_SYS_PTRACE may read through /proc/1/fd.
func TestInitHoldsNoCallerDescriptors(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	fd, err := unix.Open("/etc/hostname", unix.O_RDONLY, 0) // no O_CLOEXEC
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Dup3(fd, 77, 0); err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	defer unix.Close(77)
	for _, tc := range []struct {
		name string
		opts []container.Option
	}{
		{"WithInit", []container.Option{container.WithInit()}},
		{"default", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := append([]container.Option{container.WithCapAdd("CAP_SYS_PTRACE")}, tc.opts...)
			out := mustRunIn(t, rootfs, []string{"/bin/sh", "-c", "ls /proc/1/fd 2>/dev/null | sort -n | tr '\\n' ' '; echo; ls /proc/self/fd 2>/dev/null | sort -n | tr '\\n' ' '"}, opts...)
			if strings.Contains(" "+out, " 77 ") {
				t.Fatalf("fd 77 of the caller's reached the container:\n%s", out)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 2 || !strings.HasPrefix(lines[0], "0 1 2 ") {
				t.Fatalf("descriptors of PID 1, then of the command:\n%s", out)
			}
		})
	}
}
