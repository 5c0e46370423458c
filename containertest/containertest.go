// Package containertest helps test harnesses that start containers inside
// `go test`: skip helpers for machines that cannot run containers, and
// throwaway root filesystems made from what the machine already has.
package containertest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ctrkit/container"
)

// SkipUnlessRoot skips the test when the process is not root.
func SkipUnlessRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("skipping: starting this container needs root (run the tests as root)")
	}
}

// SkipUnlessUserNS skips the test when the kernel does not let this process
// create a user namespace (unprivileged user namespaces disabled or exhausted).
func SkipUnlessUserNS(tb testing.TB) {
	tb.Helper()
	if b, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err == nil && strings.TrimSpace(string(b)) == "0" {
		tb.Skip("skipping: user namespaces are disabled (user.max_user_namespaces = 0)")
	}
	if b, err := os.ReadFile("/proc/sys/kernel/unprivileged_userns_clone"); err == nil && strings.TrimSpace(string(b)) == "0" && os.Geteuid() != 0 {
		tb.Skip("skipping: unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0)")
	}
}

// BusyboxPath returns the path of a statically linked busybox on this machine
// (Debian's busybox-static), or an error saying how to get one.
func BusyboxPath() (string, error) {
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			if isStatic(p) {
				return p, nil
			}
		}
	}
	return "", errors.New("no static busybox found: install the busybox-static package")
}

// Rootfs builds a throwaway root file system for one test: a statically linked
// busybox with a symlink for each of its applets in /bin, empty /proc, /sys,
// /dev, /tmp and /root, and a minimal /etc. It is world-readable so that a
// rootless test may use it, and removed when the test ends. The test is skipped
// when there is no static busybox, unless the CI environment variable is set, in
// which case it fails.
func Rootfs(tb testing.TB) string {
	tb.Helper()
	bb, err := BusyboxPath()
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("containertest: %v", err)
		}
		tb.Skipf("skipping: %v", err)
	}
	dir := tb.TempDir()
	// TempDir's parent is private to this user; a rootless test runs as another.
	os.Chmod(filepath.Dir(dir), 0o755)
	if err := BuildBusyboxRootfs(dir, bb); err != nil {
		tb.Fatalf("containertest: %v", err)
	}
	return dir
}

// BuildBusyboxRootfs fills dir with a busybox root file system; busybox is the
// path of a statically linked busybox binary.
func BuildBusyboxRootfs(dir, busybox string) error {
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	for _, d := range []string{"bin", "proc", "sys", "dev", "etc", "tmp", "root", "usr/bin", "usr/sbin", "sbin"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(dir, "tmp"), 0o1777); err != nil {
		return err
	}
	data, err := os.ReadFile(busybox)
	if err != nil {
		return err
	}
	target := filepath.Join(dir, "bin", "busybox")
	if err := os.WriteFile(target, data, 0o755); err != nil {
		return err
	}
	out, err := exec.Command(target, "--list").Output()
	if err != nil {
		return fmt.Errorf("%s --list: %w", target, err)
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", applet)); err != nil && !os.IsExist(err) {
			return err
		}
	}
	return writeEtc(dir)
}

func writeEtc(dir string) error {
	files := map[string]string{
		"etc/passwd":   "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":    "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n",
		"etc/hosts":    "127.0.0.1\tlocalhost\n::1\tlocalhost\n",
		"etc/hostname": "container\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// HostRootfs fills the empty directory dir with a root file system made of the
// host's own programs, for machines with nothing to download: /usr, /bin, /sbin
// and /lib* are bound read-only from the host (or recreated as the same
// symlinks where the host has merged them into /usr), and /etc holds a minimal
// generated passwd, group and hosts. It returns the options that add the binds;
// pass them to [container.New] with dir as the rootfs. The caller removes dir.
func HostRootfs(dir string) ([]container.Option, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	for _, d := range []string{"proc", "sys", "dev", "etc", "tmp", "root"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	var opts []container.Option
	for _, name := range []string{"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"} {
		host := "/" + name
		fi, err := os.Lstat(host)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			link, err := os.Readlink(host)
			if err != nil {
				return nil, err
			}
			if err := os.Symlink(link, filepath.Join(dir, name)); err != nil {
				return nil, err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			return nil, err
		}
		opts = append(opts, container.WithBind(host, "/"+name, true))
	}
	if err := writeEtc(dir); err != nil {
		return nil, err
	}
	// The dynamic loader's cache spares every program a search of the library path.
	if b, err := os.ReadFile("/etc/ld.so.cache"); err == nil {
		if err := os.WriteFile(filepath.Join(dir, "etc", "ld.so.cache"), b, 0o644); err != nil {
			return nil, err
		}
	}
	return opts, nil
}

// isStatic reports whether the 64-bit little-endian ELF file at p has no
// program interpreter (PT_INTERP). It reads the headers by hand: debug/elf
// would bring its decompressors' package initialisation into every program
// that imports this package, and every container init it starts.
func isStatic(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	var hdr [64]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil || string(hdr[:4]) != "\x7fELF" || hdr[4] != 2 || hdr[5] != 1 {
		return false
	}
	phoff := binary.LittleEndian.Uint64(hdr[32:])
	phentsize := int64(binary.LittleEndian.Uint16(hdr[54:]))
	phnum := int64(binary.LittleEndian.Uint16(hdr[56:]))
	for i := range phnum {
		var typ [4]byte
		if _, err := f.ReadAt(typ[:], int64(phoff)+i*phentsize); err != nil {
			return false
		}
		if binary.LittleEndian.Uint32(typ[:]) == 3 { // PT_INTERP
			return false
		}
	}
	return true
}

// RerunAs runs the test binary again as the host user uid:gid, running only
// the test named test, with env (KEY=value strings) added to a minimal
// environment. It is how a test harness checks rootless behaviour from a test
// run as root: the named test, skipped unless its environment says otherwise,
// does the work as the unprivileged user. The binary is copied to a directory
// that user can read. RerunAs returns the run's output; it fails the calling
// test when the run failed or the named test did not pass.
func RerunAs(tb testing.TB, uid, gid uint32, test string, env ...string) string {
	tb.Helper()
	return rerun(tb, uid, gid, &syscall.SysProcAttr{}, test, env)
}

// rerun is RerunAs with the run's attributes attr, to which it adds the
// credentials.
func rerun(tb testing.TB, uid, gid uint32, attr *syscall.SysProcAttr, test string, env []string) string {
	tb.Helper()
	SkipUnlessRoot(tb)
	self, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, filepath.Base(self))
	data, err := os.ReadFile(self)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^"+test+"$", "-test.v", "-test.count=1")
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/", "TMPDIR=" + os.TempDir(), systemTempEnv + "=" + os.Getenv(systemTempEnv)}, env...)
	if os.Getenv("CI") != "" {
		cmd.Env = append(cmd.Env, "CI="+os.Getenv("CI"))
	}
	cmd.Dir = dir
	attr.Credential = &syscall.Credential{Uid: uid, Gid: gid}
	cmd.SysProcAttr = attr
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+test+" ") {
		tb.Fatalf("%s as uid %d: %v\n%s", test, uid, err, out)
	}
	return string(out)
}
