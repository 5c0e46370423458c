package devicebpf

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ctrkit/container/internal/devices"
	"golang.org/x/sys/unix"
)

// cgroup2Root returns where the cgroup v2 hierarchy is mounted: the whole
// /sys/fs/cgroup on a v2 host, /sys/fs/cgroup/unified on a hybrid one. A
// device program works in either, controllers or not.
func cgroup2Root(t *testing.T) string {
	for _, d := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		var st unix.Statfs_t
		if unix.Statfs(d, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			return d
		}
	}
	t.Skip("no cgroup v2 hierarchy mounted")
	return ""
}

// TestAttach loads the program for two sets into a fresh cgroup v2 of the
// host's (the hybrid host's unified hierarchy is enough) and runs shell
// commands in it: the kernel decides as devices.Set.Allows says.
func TestAttach(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	root := cgroup2Root(t)
	r := func(allow bool, typ byte, major, minor int64, access string) devices.Rule {
		a, _ := devices.ParseAccess(access)
		return devices.Rule{Allow: allow, Type: typ, Major: major, Minor: minor, Access: a}
	}
	tmp := t.TempDir()
	for _, tc := range []struct {
		name  string
		rules []devices.Rule
		cmds  map[string]bool // shell command → allowed
	}{
		{"deny all, then allow", []devices.Rule{r(false, 'a', -1, -1, "rwm"), r(true, 'c', 1, 3, "rwm"),
			r(true, 'c', 1, 5, "rm"), r(true, 'c', 1, 7, "rwm"), r(false, 'c', 1, 7, "w")}, map[string]bool{
			"head -c1 /dev/zero >/dev/null": true,
			"echo x >/dev/zero":             false, // 1:5 allows no write
			"head -c1 /dev/full":            true,  // 1:7 keeps r after the deny of w
			"echo x >/dev/full":             false,
			"head -c1 /dev/urandom":         false, // 1:9: no rule
			"mknod " + tmp + "/a c 1 5":     true,
			"mknod " + tmp + "/b c 1 9":     false,
			": <>/dev/zero":                 false, // rw: 1:5 has r but not w
			": <>/dev/full":                 false,
			": <>/dev/null":                 true,
		}},
		{"allow all, then deny", []devices.Rule{r(true, 'a', -1, -1, "rwm"), r(false, 'c', 1, 7, "w"),
			r(false, 'c', 1, -1, "m")}, map[string]bool{
			"head -c1 /dev/full":                true,
			"echo x >/dev/full":                 false,
			"echo x >/dev/null":                 true,
			"mknod " + tmp + "/c c 1 3":         false,
			"head -c1 /dev/urandom >/dev/null":  true,
			"mknod " + tmp + "/d c 5 0 && echo": true,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set, err := devices.Compute(tc.rules)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(root, fmt.Sprintf("ctrkit-devicebpf-%d", os.Getpid()))
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			defer os.Remove(dir)
			fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fd)
			before := fdCount(t)
			if err := Attach(fd, set); err != nil {
				t.Fatal(err)
			}
			if n := fdCount(t); n != before {
				t.Errorf("Attach left %d descriptors open", n-before)
			}
			for cmd, allowed := range tc.cmds {
				c := exec.Command("/bin/sh", "-c", cmd)
				c.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
				out, err := c.CombinedOutput()
				switch {
				case allowed && err != nil:
					t.Errorf("%q: %v: %s", cmd, err, out)
				case !allowed && err == nil:
					t.Errorf("%q: allowed", cmd)
				case !allowed && !strings.Contains(string(out), "not permitted"):
					t.Errorf("%q: %v: %s (want EPERM)", cmd, err, out)
				}
			}
			os.Remove(tmp + "/a")
			os.Remove(tmp + "/d")
		})
	}
}

func fdCount(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}
