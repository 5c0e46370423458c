package container

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestNamespacePathRejections(t *testing.T) {
	asRoot(t)
	dir := t.TempDir()
	userns := []Option{WithUIDMap(IDMap{0, 100000, 1000}), WithGIDMap(IDMap{0, 100000, 1000})}
	for _, tc := range []struct {
		name string
		opts []Option
		want string
	}{
		{"user", []Option{WithNamespacePath(NSUser, "/proc/1/ns/user")}, `WithNamespacePath "user": joining a user namespace is not supported`},
		{"two kinds at once", []Option{WithNamespacePath(NSUTS|NSIPC, "/proc/1/ns/uts")}, "want one of"},
		{"unknown kind", []Option{WithNamespacePath(0, "/proc/1/ns/uts")}, "want one of"},
		{"relative", []Option{WithNamespacePath(NSIPC, "proc/1/ns/ipc")}, "must be an absolute path"},
		{"NUL", []Option{WithNamespacePath(NSIPC, "/proc/1/ns/ipc\x00")}, "NUL"},
		{"two paths", []Option{WithNamespacePath(NSPID, "/a"), WithNamespacePath(NSPID, "/b")}, `joins one pid namespace (already "/a")`},
		{"dropped too", []Option{WithNamespacePath(NSIPC, "/a"), WithoutNamespace(NSIPC)}, "conflicts with WithoutNamespace(ipc)"},
		{"listed too", []Option{WithNamespacePath(NSUTS, "/a"), WithNamespaces(NSMount, NSUTS)}, "conflicts with WithNamespaces(uts)"},
		{"mount with userns", append([]Option{WithNamespacePath(NSMount, "/a")}, userns...), "the mount namespace conflicts with a user namespace"},
		{"pid with userns", append([]Option{WithNamespacePath(NSPID, "/a")}, userns...), "the pid namespace conflicts with a user namespace"},
		{"with WithJoin", []Option{WithNamespacePath(NSIPC, "/a"), withJoin(1)}, "WithJoin \"1\": conflicts with WithNamespacePath"},
		{"no mount namespace with a user namespace", []Option{WithNamespaces(NSUTS, NSUser)}, "a user namespace needs a mount namespace"},
		{"hostname, uts neither own nor joined", []Option{WithHostname("h"), WithoutNamespace(NSUTS)}, "conflicts with WithoutNamespace(NSUTS)"},
		{"propagation", []Option{WithRootfsPropagation("rmaster")}, `WithRootfsPropagation "rmaster"`},
		{"empty propagation", []Option{WithRootfsPropagation("")}, "WithRootfsPropagation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(dir, []string{"/bin/true"}, tc.opts...)
			var oe *OptionError
			if !errors.As(err, &oe) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an *OptionError containing %q", err, tc.want)
			}
		})
	}
}

func TestNamespacePathConfig(t *testing.T) {
	asRoot(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name       string
		opts       []Option
		wantNS     Namespace // the namespaces the container gets new instances of
		wantJoined Namespace
		hostname   string // what the init sets
		mqueue     bool
	}{
		{"none", nil, defaultNamespaces, 0, "container", true},
		{"ipc", []Option{WithNamespacePath(NSIPC, "/run/ipc")}, defaultNamespaces &^ NSIPC, NSIPC, "container", true},
		{"mount", []Option{WithNamespacePath(NSMount, "/run/mnt")}, defaultNamespaces &^ NSMount, NSMount, "container", true},
		{"uts keeps its name", []Option{WithNamespacePath(NSUTS, "/run/uts")}, defaultNamespaces &^ NSUTS, NSUTS, "", true},
		{"uts gets WithHostname", []Option{WithNamespacePath(NSUTS, "/run/uts"), WithHostname("h")}, defaultNamespaces &^ NSUTS, NSUTS, "h", true},
		{"net joined", []Option{WithNamespacePath(NSNet, "/run/netns/x")}, defaultNamespaces &^ NSNet, NSNet, "container", true},
		{"all", []Option{WithNamespacePath(NSMount, "/m"), WithNamespacePath(NSUTS, "/u"), WithNamespacePath(NSIPC, "/i"),
			WithNamespacePath(NSPID, "/p"), WithNamespacePath(NSNet, "/n"), WithNamespacePath(NSCgroup, "/c")},
			0, defaultNamespaces, "", true},
		{"ipc shared with the caller", []Option{WithoutNamespace(NSIPC)}, defaultNamespaces &^ NSIPC, 0, "container", false},
		{"cgroup with a user namespace", []Option{WithNamespacePath(NSCgroup, "/c"), WithUIDMap(IDMap{0, 100000, 1000}), WithGIDMap(IDMap{0, 100000, 1000})},
			defaultNamespaces&^NSCgroup | NSUser, NSCgroup, "container", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(dir, []string{"/bin/true"}, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			cfg := c.cfg
			if cfg.rootless {
				t.Skip("the expectations are a root caller's (no user namespace by default)")
			}
			if cfg.namespaces != tc.wantNS || cfg.joined() != tc.wantJoined {
				t.Fatalf("namespaces %v joined %v, want %v and %v", cfg.namespaces, cfg.joined(), tc.wantNS, tc.wantJoined)
			}
			icfg := cfg.initConfig()
			if icfg.Hostname != tc.hostname {
				t.Fatalf("hostname %q, want %q", icfg.Hostname, tc.hostname)
			}
			mq := false
			for _, m := range icfg.Mounts {
				mq = mq || m.FSType == "mqueue"
			}
			if mq != tc.mqueue {
				t.Fatalf("mqueue mounted: %v, want %v", mq, tc.mqueue)
			}
		})
	}
}

func TestRootfsPropagationFlags(t *testing.T) {
	dir := t.TempDir()
	for mode, want := range map[string]uintptr{
		"private": msPrivate, "rprivate": msPrivate | msRec, "slave": msSlave, "rslave": msSlave | msRec,
		"shared": msShared, "rshared": msShared | msRec, "unbindable": msUnbindable, "runbindable": msUnbindable | msRec,
	} {
		c, err := New(dir, []string{"/bin/true"}, WithRootfsPropagation(mode))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.cfg.initConfig().RootProp; got != want {
			t.Errorf("%s: flags %#x, want %#x", mode, got, want)
		}
	}
	c, err := New(dir, []string{"/bin/true"})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.cfg.initConfig().RootProp; got != 0 {
		t.Errorf("default: flags %#x, want 0 (private)", got)
	}
}

func TestMountOf(t *testing.T) {
	info := `21 26 0:20 / /proc rw,relatime - proc proc rw
26 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
40 26 0:37 / /tmp/with\040space rw,relatime master:3 - tmpfs tmpfs rw
41 26 0:38 / /tmp/b\134ack rw,relatime shared:7 master:3 - tmpfs tmpfs rw
42 26 0:39 / /tmp/trail\04 rw - tmpfs shared:9 rw
`
	for _, tc := range []struct {
		id     uint64
		point  string
		shared bool
		ok     bool
	}{
		{21, "/proc", false, true},
		{26, "/", true, true},
		{40, "/tmp/with space", false, true},
		{41, `/tmp/b\ack`, true, true},
		{42, `/tmp/trail\04`, false, true}, // "shared:9" after the separator is the source, not a field
		{2, "", false, false},
		{4, "", false, false},
	} {
		point, shared, ok := mountOf(info, tc.id)
		if point != tc.point || shared != tc.shared || ok != tc.ok {
			t.Errorf("mount %d: %q %v %v, want %q %v %v", tc.id, point, shared, ok, tc.point, tc.shared, tc.ok)
		}
	}
}

// TestChildMounts: the mounts WithoutPivotRoot detaches from the old root
// (43): its children, but not the moved rootfs (70), nor one stacked on its
// root, nor their own children (which go with them), nor the root itself.
func TestChildMounts(t *testing.T) {
	info := `43 42 254:0 / / rw,relatime - ext4 /dev/vda rw
45 43 0:20 / /proc rw,relatime - proc proc rw
46 43 0:21 / /sys rw,relatime - sysfs sysfs rw
47 46 0:22 / /sys/fs/cgroup rw - tmpfs tmpfs rw
48 43 0:23 / /tmp/with\040space rw - tmpfs tmpfs rw
49 48 0:24 / /tmp/with\040space rw - tmpfs tmpfs rw
50 43 0:25 / / rw - tmpfs tmpfs rw
70 43 254:0 /tmp/rootfs / rw - ext4 /dev/vda rw
71 70 0:26 / /proc rw - proc proc rw
`
	got := childMounts(info, 43, 70)
	want := []string{"/proc", "/sys", "/tmp/with space"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("children of 43: %q, want %q", got, want)
	}
	if got := childMounts(info, 70, 0); fmt.Sprint(got) != fmt.Sprint([]string{"/proc"}) {
		t.Errorf("children of 70: %q", got)
	}
	if got := childMounts(info, 99, 70); got != nil {
		t.Errorf("children of a mount not there: %q", got)
	}
}

// TestMountsBelow: the mounts at or below a directory, and which of them to
// unmount in what order (the mounts of a container without a mount namespace).
func TestMountsBelow(t *testing.T) {
	info := `26 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
30 26 0:40 / /r/rootfs rw - overlay overlay rw
31 30 0:41 / /r/rootfs/proc rw - proc proc rw
32 30 0:42 / /r/rootfs/dev rw - tmpfs tmpfs rw
33 32 0:43 / /r/rootfs/dev/pts rw - devpts devpts rw
34 31 0:41 /sys /r/rootfs/proc/sys ro - proc proc rw
35 34 0:41 /sys /r/rootfs/proc/sys ro - proc proc rw
36 26 0:44 / /r/rootfs2 rw - tmpfs tmpfs rw
37 26 0:45 / /r/root\040fs/x rw - tmpfs tmpfs rw
`
	got := mountsBelow(info, "/r/rootfs/")
	want := []mountRef{{30, "/r/rootfs"}, {31, "/r/rootfs/proc"}, {32, "/r/rootfs/dev"}, {33, "/r/rootfs/dev/pts"}, {34, "/r/rootfs/proc/sys"}, {35, "/r/rootfs/proc/sys"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("mountsBelow: %v, want %v", got, want)
	}
	if got := mountsBelow(info, "/r/root fs"); fmt.Sprint(got) != fmt.Sprint([]mountRef{{37, "/r/root fs/x"}}) {
		t.Fatalf("escaped: %v", got)
	}
	for _, tc := range []struct {
		keep []int
		want []int
	}{
		// Deepest first; of the two stacked on /proc/sys the later first.
		{[]int{30}, []int{35, 34, 33, 32, 31}},
		{[]int{30, 32}, []int{35, 34, 33, 31}},
		{nil, []int{35, 34, 33, 32, 31, 30}},
		{[]int{30, 31, 32, 33, 34, 35}, nil},
	} {
		var ids []int
		for _, m := range toUnmount(got, tc.keep) {
			ids = append(ids, m.ID)
		}
		if fmt.Sprint(ids) != fmt.Sprint(tc.want) {
			t.Errorf("keep %v: unmount %v, want %v", tc.keep, ids, tc.want)
		}
	}
}
