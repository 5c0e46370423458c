package oci_test

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/ctrkit/container/containertest"
	"github.com/ctrkit/container/oci"
	"golang.org/x/sys/unix"
)

// TestRaiseTimerSlack runs a helper process (this test binary) that raises
// its timer slack as ctrkit does: every one of its threads is at 1 ms after,
// RaiseTimerSlack returns the slack it was started with, a container's
// command and a hook started with StartWithTimerSlack get that one back.
func TestRaiseTimerSlack(t *testing.T) {
	if os.Getenv("CTRKIT_SLACK_HELPER") != "" {
		slackHelper(t)
		return
	}
	containertest.SkipUnlessRoot(t) // writing another thread's timerslack_ns needs CAP_SYS_NICE
	cmd := exec.Command(os.Args[0], "-test.run=^TestRaiseTimerSlack$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "CTRKIT_SLACK_HELPER=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestRaiseTimerSlack") {
		t.Fatalf("helper did not pass:\n%s", out)
	}
}

func slackHelper(t *testing.T) {
	rootfs := containertest.Rootfs(t)
	own, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := oci.RaiseTimerSlack(); got != uint64(own) {
		t.Errorf("RaiseTimerSlack() = %d, want the slack it started with, %d", got, own)
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		b, err := os.ReadFile("/proc/" + task.Name() + "/timerslack_ns")
		if err != nil {
			if _, gone := os.Stat("/proc/self/task/" + task.Name()); gone != nil {
				continue
			}
			t.Fatal(err)
		}
		if s := strings.TrimSpace(string(b)); s != "1000000" {
			t.Errorf("thread %s: timer slack %s ns, want 1000000", task.Name(), s)
		}
	}
	// The command gets the slack the process was started with.
	if got := strings.TrimSpace(containertest.Sh(t, rootfs, "cat /proc/self/timerslack_ns")); got != strconv.Itoa(own) {
		t.Errorf("a container's command: timer slack %s ns, want the caller's %d", got, own)
	}
	// So does what StartWithTimerSlack starts.
	hook := exec.Command("cat", "/proc/self/timerslack_ns")
	var b strings.Builder
	hook.Stdout = &b
	if err := oci.StartWithTimerSlack(hook, uint64(own)); err != nil {
		t.Fatal(err)
	}
	if err := hook.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(b.String()); got != strconv.Itoa(own) {
		t.Errorf("StartWithTimerSlack: timer slack %s ns, want %d", got, own)
	}
}
