package containertest

import "testing"

func TestMountsOutside(t *testing.T) {
	in := "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n" +
		"2 1 0:5 / /tmp/TestA1/rootfs/proc rw - proc proc rw\n" +
		"3 1 0:6 / /tmp/ctrkit-test-9/TestB2/rootfs/proc rw - proc proc rw\n" +
		"5 1 0:8 / /tmpfoo rw - tmpfs tmpfs rw\n"
	want := "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n" +
		"3 1 0:6 / /tmp/ctrkit-test-9/TestB2/rootfs/proc rw - proc proc rw\n" +
		"5 1 0:8 / /tmpfoo rw - tmpfs tmpfs rw\n"
	if got := mountsOutside(in, "/tmp", "/tmp/ctrkit-test-9"); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if got := mountsOutside(in, "", "/tmp/x"); got != in {
		t.Errorf("without a private directory: got %q", got)
	}
}
