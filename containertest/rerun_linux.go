package containertest

import (
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// RerunAsInCgroup is RerunAs with the run started in the cgroup v2 cgroup at
// the directory cgroup (cloned into it with CLONE_INTO_CGROUP), as systemd
// starts a unit's process in the unit's cgroup. With the cgroup chowned to
// uid (the directory, cgroup.procs, cgroup.subtree_control and
// cgroup.threads, as systemd's Delegate=yes does), the named test runs in a
// delegated cgroup.
func RerunAsInCgroup(tb testing.TB, uid, gid uint32, cgroup, test string, env ...string) string {
	tb.Helper()
	SkipUnlessRoot(tb)
	f, err := os.OpenFile(cgroup, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	return rerun(tb, uid, gid, &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(f.Fd())}, test, env)
}
