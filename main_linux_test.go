package container_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ctrkit/container/containertest"
	"golang.org/x/sys/unix"
)

// A leakCheck snapshots something the tests must leave as they found it.
// Features add their own (cgroups, veths) from an init function in their tests.
type leakCheck struct {
	name     string
	snapshot func() string
}

var leakChecks = []leakCheck{
	{"open file descriptors", func() string { return fmt.Sprint(countFDs()) }},
	{"mount table", func() string {
		m, _ := containertest.HostMounts()
		return m
	}},
	{"child processes", func() string {
		var pids []string
		tasks, _ := filepath.Glob("/proc/self/task/*/children")
		for _, f := range tasks {
			b, _ := os.ReadFile(f)
			pids = append(pids, strings.Fields(string(b))...)
		}
		return strings.Join(pids, " ")
	}},
}

// countFDs counts this process's descriptors but the sealed copy (or the view) of the
// binary that inits run from, which the first Start makes and keeps.
func countFDs() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	n := 0
	for _, e := range ents {
		if l, _ := os.Readlink("/proc/self/fd/" + e.Name()); !strings.HasPrefix(l, "/memfd:ctrkit-container-init") && !isOverlayView(e.Name(), l) {
			n++
		}
	}
	return n
}

// isOverlayView reports whether descriptor fd, linked to link, is the
// read-only overlay view of this binary (exe_linux.go) that the first Start
// makes and keeps: a file named as the binary, at the root of an overlay.
func isOverlayView(fd, link string) bool {
	var fs unix.Statfs_t
	return link == "/"+filepath.Base(os.Args[0]) && unix.Statfs("/proc/self/fd/"+fd, &fs) == nil && fs.Type == unix.OVERLAYFS_SUPER_MAGIC
}

// TestMain fails the run when the tests as a whole leaked a file descriptor,
// a mount, a child process or anything else a leakCheck watches.
func TestMain(m *testing.M) {
	// The test binary run as a container's command (TestCgroupViewLimits):
	// what the Go runtime makes of the container's cgroup.
	if os.Getenv("CTRKIT_PROBE") == "gomaxprocs" {
		fmt.Println(runtime.GOMAXPROCS(0))
		os.Exit(0)
	}
	restore, err := containertest.PrivateTempDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, "private TMPDIR:", err)
		os.Exit(1)
	}
	// The runtime's poller opens its descriptors on first use, for good: start it.
	if r, w, err := os.Pipe(); err == nil {
		r.SetReadDeadline(time.Now())
		r.Close()
		w.Close()
	}
	before := make([]string, len(leakChecks))
	for i, c := range leakChecks {
		before[i] = c.snapshot()
	}
	code := m.Run()
	if code == 0 {
		for i, c := range leakChecks {
			after := c.snapshot()
			// Give asynchronous releases (stdio goroutines, the kernel's reaping) a moment.
			for try := 0; after != before[i] && try < 50; try++ {
				time.Sleep(20 * time.Millisecond)
				after = c.snapshot()
			}
			if after != before[i] {
				fmt.Fprintf(os.Stderr, "leak: %s changed during the tests\nbefore: %.2000s\nafter:  %.2000s\n", c.name, before[i], after)
				code = 1
			}
		}
	}
	if err := restore(); err != nil {
		fmt.Fprintln(os.Stderr, "leak: the tests left files in their temporary directory:", err)
		code = 1
	}
	os.Exit(code)
}
