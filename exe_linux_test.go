package container

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSealedCopy(t *testing.T) {
	f, err := sealedCopy()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seals, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []int{unix.F_SEAL_SEAL, unix.F_SEAL_WRITE, unix.F_SEAL_GROW, unix.F_SEAL_SHRINK} {
		if seals&s == 0 {
			t.Errorf("seal %#x missing from %#x", s, seals)
		}
	}
	if _, err := f.Write([]byte("x")); err == nil {
		t.Error("wrote to the sealed copy")
	}
	if flags, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0); err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("the sealed copy is not close-on-exec: %#x %v", flags, err)
	}
	self, err := os.Stat("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != self.Size() {
		t.Errorf("copy has %d bytes, binary %d", st.Size(), self.Size())
	}
}

// The overlay view (CVE-2019-5736): the binary's bytes, on a read-only
// overlay attached nowhere, that even root cannot open for writing, directly
// or by reopening it through /proc, and that execs.
func TestOverlayView(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (fsopen of overlayfs needs CAP_SYS_ADMIN)")
	}
	f, err := overlayView()
	if err != nil {
		t.Skipf("no overlay view here (the memfd copy is used instead): %v", err)
	}
	defer f.Close()
	if flags, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0); err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("the view is not close-on-exec: %#x %v", flags, err)
	}
	path := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
	for _, flag := range []int{os.O_WRONLY, os.O_RDWR, os.O_WRONLY | os.O_TRUNC, os.O_APPEND | os.O_WRONLY} {
		w, err := os.OpenFile(path, flag, 0)
		if err == nil {
			w.Close()
			t.Fatalf("opened the view with flags %#x", flag)
		}
		if !errors.Is(err, unix.EROFS) {
			t.Errorf("open with flags %#x: %v, want EROFS", flag, err)
		}
	}
	// A read-write remount of the view's mount still has no layer to write to.
	if err := unix.MountSetattr(int(f.Fd()), "", unix.AT_EMPTY_PATH, &unix.MountAttr{Attr_clr: unix.MOUNT_ATTR_RDONLY}); err == nil {
		if w, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
			w.Close()
			t.Fatal("opened the view for writing after clearing its mount's read-only flag")
		} else {
			t.Logf("after clearing MOUNT_ATTR_RDONLY: %v", err)
		}
	} else {
		t.Logf("mount_setattr on the view: %v", err)
	}
	view, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(view, self) {
		t.Fatalf("the view has %d bytes that differ from the binary's %d", len(view), len(self))
	}
	// It execs (this test binary, listing no tests).
	cmd := exec.Command(path, "-test.run", "^$")
	cmd.ExtraFiles = nil
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("exec the view: %v: %s", err, out)
	}
	// The mount is attached nowhere: no mount table names it.
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(mi, []byte("ctrkit-exe-")) {
		t.Errorf("the view's layers appear in the mount table:\n%s", mi)
	}
}

// TestOverlayViewBinaryInTempDir: a binary that lives in the temporary
// directory itself (/tmp/ctrkit) still gets the overlay view: the empty layer
// goes elsewhere, since overlayfs refuses a layer inside another (ELOOP), and
// nothing is left in any of the places it may go.
func TestOverlayViewBinaryInTempDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (fsopen of overlayfs needs CAP_SYS_ADMIN)")
	}
	self, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", filepath.Dir(self))
	before := emptyLayers(t)
	f, err := overlayView()
	if err != nil {
		t.Fatalf("overlay view of a binary in TMPDIR (%s): %v", filepath.Dir(self), err)
	}
	f.Close()
	if after := emptyLayers(t); len(after) != len(before) {
		t.Errorf("empty layers left behind: %v, before %v", after, before)
	}
}

// emptyLayers lists the overlay view's empty directories in every place
// emptyLayer may make one.
func emptyLayers(t *testing.T) []string {
	var all []string
	for _, dir := range []string{os.TempDir(), "/tmp", "/dev/shm", "/run", "/var/tmp"} {
		m, err := filepath.Glob(filepath.Join(dir, "ctrkit-exe-*"))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, m...)
	}
	return all
}

func TestWithin(t *testing.T) {
	for _, c := range []struct {
		dir, path string
		want      bool
	}{
		{"/tmp/", "/tmp", true},
		{"/tmp", "/tmp/x", true},
		{"/tmp/", "/tmpx", false},
		{"/tmp/go-build1/b001/", "/tmp", false},
		{"/", "/dev/shm", true},
		{"/usr/local/bin/", "/run", false},
	} {
		if got := within(c.dir, c.path); got != c.want {
			t.Errorf("within(%q, %q) = %v, want %v", c.dir, c.path, got, c.want)
		}
	}
}

// The cost of the CVE-2019-5736 hardening, paid once per process: one copy of
// the binary into memory.
func BenchmarkSealedCopy(b *testing.B) {
	fi, err := os.Stat("/proc/self/exe")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(fi.Size())
	for b.Loop() {
		f, err := sealedCopy()
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}

// The other way to pay it, where it works: an overlay view, no copy.
func BenchmarkOverlayView(b *testing.B) {
	for b.Loop() {
		f, err := overlayView()
		if err != nil {
			b.Skip(err)
		}
		f.Close()
	}
}

// TestInitPathLow: the init's binary is exec'd through a low descriptor even
// when the process holds a high one (a shell's 255, a server's many
// sockets): a number past the descriptor table's 64 slots would grow the
// table, which waits for an RCU grace period in every threaded process (5-20
// ms). The sync channel then goes above it, so that forkExec's moves cannot
// land on it.
func TestInitPathLow(t *testing.T) {
	high, err := unix.FcntlInt(os.Stdin.Fd(), unix.F_DUPFD_CLOEXEC, 300)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(high)
	_, fd, release, err := initPath(5)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if fd < 5 || fd >= 64 {
		t.Fatalf("initPath(5) with descriptor %d open: descriptor %d, want the lowest free one at 5 or above", high, fd)
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[1])
	s, err := syncAbove(p[0], fd)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(s)
	if s <= fd {
		t.Fatalf("syncAbove(_, %d) = %d, want it above", fd, s)
	}
}
