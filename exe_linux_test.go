package container

import (
	"os"
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
