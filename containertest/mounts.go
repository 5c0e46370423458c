package containertest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// systemTempEnv carries the system's temporary directory to the test
// binaries a test starts again (RerunAs), whose TMPDIR is already private.
const systemTempEnv = "CTRKIT_TEST_SYSTEM_TMPDIR"

// PrivateTempDir points TMPDIR at a new directory of this test process's own
// below the system's, so that [HostMounts] can tell this process's mounts from
// those of the other test binaries `go test ./...` runs at the same time
// (containers without a mount namespace, propagation tests: they mount on the
// host, below their own temporary directories). Call it first in TestMain; it
// returns the function that restores TMPDIR and removes the directory, which
// fails when the tests left something in it (it is never removed
// recursively: a leaked bind mount there would lead into the host). The
// directory is world-writable and sticky, as /tmp is, for rootless re-runs.
//
// A test binary started by another (a helper process, a rootless re-run)
// inherits its parent's directory and keeps it: the parent looks there for
// what the child left.
func PrivateTempDir() (restore func() error, err error) {
	if os.Getenv(systemTempEnv) != "" {
		return func() error { return nil }, nil
	}
	sys := os.TempDir()
	dir, err := os.MkdirTemp(sys, "ctrkit-test-")
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o777|os.ModeSticky); err != nil {
		os.Remove(dir)
		return nil, err
	}
	os.Setenv(systemTempEnv, sys)
	os.Setenv("TMPDIR", dir)
	return func() error {
		os.Setenv("TMPDIR", sys)
		os.Unsetenv(systemTempEnv)
		return os.Remove(dir)
	}, nil
}

// HostMounts returns the lines of /proc/self/mountinfo but for the mounts
// below the system's temporary directory that are not below this process's
// own ([PrivateTempDir]): those belong to other test processes. Without
// PrivateTempDir it is the whole table.
func HostMounts() (string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	return mountsOutside(string(b), os.Getenv(systemTempEnv), os.TempDir()), nil
}

// mountsOutside drops from mountinfo the lines whose mount point is below
// other but not below own.
func mountsOutside(mountinfo, other, own string) string {
	if other == "" {
		return mountinfo
	}
	var b strings.Builder
	for _, line := range strings.SplitAfter(mountinfo, "\n") {
		f := strings.Fields(line)
		// Mount points are compared as mountinfo escapes them (\040 for a
		// space): temporary directories here have none of those characters.
		if len(f) > 4 && below(f[4], other) && !below(f[4], own) {
			continue
		}
		b.WriteString(line)
	}
	return b.String()
}

func below(p, dir string) bool {
	dir = filepath.Clean(dir)
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// ShortTempDir is tb.TempDir for tools that put unix sockets below the
// directory (podman and conmon: a socket's path holds at most 107 bytes): a
// directory with a short name right below the system's temporary directory,
// not below this process's private one, removed when the test ends.
func ShortTempDir(tb testing.TB) string {
	tb.Helper()
	sys := os.Getenv(systemTempEnv)
	if sys == "" {
		sys = os.TempDir()
	}
	dir, err := os.MkdirTemp(sys, "ct")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
