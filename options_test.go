package container

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestNewRejectsBadInput(t *testing.T) {
	asRoot(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	cmd := []string{"/bin/true"}
	for _, tc := range []struct {
		name   string
		rootfs string
		cmd    []string
		opts   []Option
		want   string // a substring naming the offending value
	}{
		{"empty rootfs", "", cmd, nil, "rootfs: empty path"},
		{"missing rootfs", filepath.Join(dir, "missing"), cmd, nil, `rootfs "` + filepath.Join(dir, "missing") + `"`},
		{"rootfs is a file", file, cmd, nil, `rootfs "` + file + `": not a directory`},
		{"relative rootfs", "some/dir", cmd, nil, `rootfs "some/dir": must be an absolute path`},
		{"host root", "/", cmd, nil, `rootfs "/": must not be the host's root`},
		{"host root in disguise", "/usr/..", cmd, nil, `rootfs "/usr/..": must not be the host's root`},
		{"empty cmd", dir, nil, nil, "cmd: empty command"},
		{"empty cmd name", dir, []string{""}, nil, "cmd: empty command"},
		{"NUL in argument", dir, []string{"/bin/echo", "a\x00b"}, nil, "argument contains a NUL byte"},
		{"nil option", dir, cmd, []Option{nil}, "nil option"},
		{"bad env", dir, cmd, []Option{WithEnv("NOEQUALS")}, `WithEnv "NOEQUALS"`},
		{"empty env key", dir, cmd, []Option{WithEnv("=x")}, `WithEnv "=x"`},
		{"relative dir", dir, cmd, []Option{WithDir("tmp")}, `WithDir "tmp": must be an absolute path`},
		{"bad hostname", dir, cmd, []Option{WithHostname("a b")}, `WithHostname "a b"`},
		{"long hostname", dir, cmd, []Option{WithHostname(strings.Repeat("h", 65))}, "must be 1 to 64 bytes"},
		{"relative bind source", dir, cmd, []Option{WithBind("src", "/dst", false)}, `WithBind "src": source must be an absolute path`},
		{"missing bind source", dir, cmd, []Option{WithBind("/does/not/exist", "/dst", false)}, `WithBind "/does/not/exist"`},
		{"relative bind dest", dir, cmd, []Option{WithBind(dir, "dst", false)}, `WithBind "dst": destination must be an absolute path`},
		{"bind over root", dir, cmd, []Option{WithBind(dir, "/", false)}, `WithBind "/": destination must not be the root`},
		{"bind over proc", dir, cmd, []Option{WithBind(dir, "/proc/sys", false)}, `"/proc/sys": mounts over /proc are not allowed`},
		{"zero tmpfs", dir, cmd, []Option{WithTmpfs("/t", 0)}, `WithTmpfs "0": size must be positive`},
		{"negative tmpfs", dir, cmd, []Option{WithTmpfs("/t", -1)}, `WithTmpfs "-1"`},
		{"no mount ns, read-only rootfs", dir, cmd, []Option{WithoutNamespace(NSMount), WithReadonlyRootfs()}, `WithReadonlyRootfs: conflicts with WithoutNamespace(NSMount)`},
		{"no mount ns, rootfs propagation", dir, cmd, []Option{WithRootfsPropagation("rshared"), WithoutNamespace(NSMount)}, `WithRootfsPropagation: conflicts with WithoutNamespace(NSMount)`},
		{"no mount ns, private rootfs propagation", dir, cmd, []Option{WithoutNamespace(NSMount), WithRootfsPropagation("private")}, `WithRootfsPropagation: conflicts`},
		{"no mount ns, user ns", dir, cmd, []Option{WithNamespaces(NSPID, NSUser)}, `WithoutNamespace "mount": a user namespace needs a mount namespace`},
		{"no pivot, no mount ns", dir, cmd, []Option{WithoutPivotRoot(), WithoutNamespace(NSMount)}, `WithoutPivotRoot: conflicts with WithoutNamespace(NSMount)`},
		{"no pivot, joined mount ns", dir, cmd, []Option{WithoutPivotRoot(), WithNamespacePath(NSMount, "/proc/self/ns/mnt")}, `WithoutPivotRoot: conflicts with WithNamespacePath(NSMount)`},
		{"no pivot, user ns", dir, cmd, []Option{WithoutPivotRoot(), WithNamespaces(NSMount, NSUser)}, `WithoutPivotRoot: conflicts with a user namespace`},
		{"no pivot, id map", dir, cmd, []Option{WithUIDMap(IDMap{0, 100000, 1000}), WithoutPivotRoot()}, `WithoutPivotRoot: conflicts with a user namespace`},
		{"no pivot, shared root", dir, cmd, []Option{WithoutPivotRoot(), WithRootfsPropagation("rshared")}, `WithRootfsPropagation "shared": conflicts with WithoutPivotRoot`},
		{"hostname without uts", dir, cmd, []Option{WithHostname("h"), WithoutNamespace(NSUTS)}, `WithHostname "h": conflicts with WithoutNamespace(NSUTS)`},
		{"unknown namespace", dir, cmd, []Option{WithNamespaces(Namespace(128))}, "unknown namespace"},
		{"empty id map", dir, cmd, []Option{WithUIDMap()}, "WithUIDMap"},
		{"zero-size id map", dir, cmd, []Option{WithUIDMap(IDMap{0, 1000, 0})}, "size 0"},
		{"overlapping id maps", dir, cmd, []Option{WithGIDMap(IDMap{0, 1000, 10}, IDMap{5, 2000, 10})}, "mappings 0 (0-9) and 1 (5-14) overlap inside the container"},
		{"overlapping host uids", dir, cmd, []Option{WithUIDMap(IDMap{0, 100000, 1000}, IDMap{1000, 100500, 10})},
			`WithUIDMap "[{0 100000 1000} {1000 100500 10}]": mappings 0 (host 100000-100999) and 1 (host 100500-100509) overlap on the host`},
		{"overlapping host gids", dir, cmd, []Option{WithGIDMap(IDMap{0, 5000, 1}, IDMap{1, 4000, 2000})}, "mappings 0 (host 5000-5000) and 1 (host 4000-5999) overlap on the host"},
		{"same host id twice", dir, cmd, []Option{WithUIDMap(IDMap{0, 0, 1}, IDMap{1, 0, 1})}, "overlap on the host"},
		{"unmapped user", dir, cmd, []Option{WithUIDMap(IDMap{0, 100000, 1000}), WithGIDMap(IDMap{0, 100000, 1000}), WithUser(5000, 0)}, `WithUser "5000": uid is not mapped`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.rootfs, tc.cmd, tc.opts...)
			if err == nil {
				t.Fatalf("New succeeded: %v", c.cfg)
			}
			var oe *OptionError
			if !errors.As(err, &oe) {
				t.Fatalf("want *OptionError, got %T: %v", err, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

// TestWithoutPivotRootConfig: the init is told to move the root, not to
// chroot without a mount namespace; propagations that are not shared pass
// through.
func TestWithoutPivotRootConfig(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("a caller that is not root gets a user namespace, which WithoutPivotRoot refuses")
	}
	dir := t.TempDir()
	for _, prop := range []string{"", "private", "rslave", "unbindable"} {
		opts := []Option{WithoutPivotRoot()}
		if prop != "" {
			opts = append(opts, WithRootfsPropagation(prop))
		}
		c, err := New(dir, []string{"sh"}, opts...)
		if err != nil {
			t.Fatalf("%q: %v", prop, err)
		}
		ic := c.cfg.initConfig()
		if !ic.NoPivot || ic.Chroot || ic.Namespaces&NSMount == 0 {
			t.Errorf("%q: NoPivot %v, Chroot %v, namespaces %v", prop, ic.NoPivot, ic.Chroot, ic.Namespaces)
		}
	}
	c, err := New(dir, []string{"sh"})
	if err != nil {
		t.Fatal(err)
	}
	if c.cfg.initConfig().NoPivot {
		t.Error("NoPivot without WithoutPivotRoot")
	}
}

// TestWithoutMountNamespaceConfig: without a mount namespace the init is told
// to chroot, and only the plan's mounts are made (no read-only root, no
// propagation). A caller that is not root gets a user namespace, which needs
// a mount namespace.
func TestWithoutMountNamespaceConfig(t *testing.T) {
	dir := t.TempDir()
	for _, opts := range [][]Option{
		{WithoutNamespace(NSMount)},
		{WithNamespaces(NSPID, NSNet)},
		{WithNamespaces()},
	} {
		c, err := New(dir, []string{"sh"}, opts...)
		if os.Geteuid() != 0 {
			if err == nil || !strings.Contains(err.Error(), "a user namespace needs a mount namespace") {
				t.Fatalf("not root: got %v, want the user namespace's conflict", err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		ic := c.cfg.initConfig()
		if !ic.Chroot || ic.Namespaces&NSMount != 0 || ic.ReadonlyRootfs || ic.RootProp != 0 {
			t.Errorf("%v: Chroot %v, namespaces %v, read-only %v, propagation %#x", c.cfg, ic.Chroot, ic.Namespaces, ic.ReadonlyRootfs, ic.RootProp)
		}
		if len(ic.Mounts) == 0 || ic.Mounts[0].Dest != "/proc" {
			t.Errorf("%v: the mount plan starts %v, want /proc", c.cfg, ic.Mounts)
		}
	}
	withMountNS := [][]Option{nil}
	if os.Geteuid() == 0 { // a user namespace cannot join a mount namespace
		withMountNS = append(withMountNS, []Option{WithNamespacePath(NSMount, "/run/mnt")})
	}
	for _, opts := range withMountNS {
		c, err := New(dir, []string{"sh"}, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if c.cfg.initConfig().Chroot {
			t.Errorf("%v: Chroot with a mount namespace", c.cfg)
		}
	}
}

func TestNewDefaults(t *testing.T) {
	dir := t.TempDir()
	c, err := New(dir+"/", []string{"sh"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := c.cfg
	if cfg.rootfs != dir || cfg.dir != "/" || cfg.hostname != "container" {
		t.Fatalf("defaults: %+v", cfg)
	}
	wantNS := defaultNamespaces
	if os.Geteuid() != 0 {
		wantNS |= NSUser
	}
	if cfg.namespaces != wantNS {
		t.Fatalf("namespaces %v, want %v", cfg.namespaces, wantNS)
	}
	if strings.Join(cfg.env, " ") != defaultPath+" HOME=/root" {
		t.Fatalf("env %q", cfg.env)
	}
}

func TestUserNamespaceDefaultMaps(t *testing.T) {
	dir := t.TempDir()
	c, err := New(dir, []string{"sh"}, WithNamespaces(NSMount, NSPID, NSUser), WithUser(1000, 1001))
	if err != nil {
		t.Fatal(err)
	}
	uid, gid := uint32(os.Geteuid()), uint32(os.Getegid())
	if got := c.cfg.uidMap; len(got) != 1 || got[0] != (IDMap{1000, uid, 1}) {
		t.Fatalf("uid map %v", got)
	}
	if got := c.cfg.gidMap; len(got) != 1 || got[0] != (IDMap{1001, gid, 1}) {
		t.Fatalf("gid map %v", got)
	}
	ic := c.cfg.initConfig()
	if ic.SetGroups || !ic.BindDevices || ic.Namespaces != NSMount|NSPID|NSUser {
		t.Fatalf("init config %+v", ic)
	}
}

func TestMergeEnv(t *testing.T) {
	got := mergeEnv([]string{"PATH=/bin", "HOME=/"}, []string{"A=1", "PATH=/x", "A=2"})
	if strings.Join(got, " ") != "PATH=/x HOME=/ A=2" {
		t.Fatalf("got %q", got)
	}
}

func TestPlanMounts(t *testing.T) {
	dir := t.TempDir()
	c, err := New(dir, []string{"sh"},
		WithBind(dir, "/a/b", true), WithTmpfs("/a", 4096), WithoutNamespace(NSIPC))
	if err != nil {
		t.Fatal(err)
	}
	c.cfg.namespaces &^= NSUser // plan as real root
	plan := planMounts(c.cfg)
	var dests []string
	for _, m := range plan {
		dests = append(dests, m.Dest)
	}
	got := strings.Join(dests, " ")
	// /proc, /dev and its children, /sys first, no /dev/mqueue without an IPC
	// namespace, the caller's mounts parents first, the generated /etc files,
	// then masks and read-only paths.
	want := "/proc /dev /dev /dev/pts /dev/shm /sys /sys/fs/cgroup /a /a/b /etc/hostname /etc/hosts " + strings.Join(maskedPaths, " ") + " " + strings.Join(readonlyPaths, " ")
	if got != want {
		t.Fatalf("plan:\n%s\nwant:\n%s", got, want)
	}
	if plan[0].FSType != "proc" || plan[0].Flags != msNosuid|msNoexec|msNodev || !plan[0].Strict {
		t.Fatalf("proc entry %+v", plan[0])
	}
	if plan[5].FSType != "sysfs" || plan[5].Flags&msRdonly == 0 {
		t.Fatalf("sys entry %+v", plan[5])
	}
	if plan[3].Data != "newinstance,ptmxmode=0666,mode=0620,gid=5" {
		t.Fatalf("devpts entry %+v", plan[3])
	}
	if plan[6].Kind != mountCgroups || !plan[6].Strict {
		t.Fatalf("cgroup view entry %+v", plan[6])
	}
	if plan[7].Kind != mountTmpfs || plan[7].Data != "mode=1777,size=4096" || plan[8].Kind != mountBind || !plan[8].Readonly || plan[8].Strict {
		t.Fatalf("user entries %+v %+v", plan[7], plan[8])
	}

	// In a user namespace without its own network namespace, /sys is the host's, bound read-only.
	c.cfg.namespaces |= NSUser
	c.cfg.namespaces &^= NSNet
	plan = planMounts(c.cfg)
	if plan[5].Kind != mountBind || plan[5].Source != "/sys" || !plan[5].Readonly {
		t.Fatalf("sys entry in a user namespace %+v", plan[5])
	}
	if plan[3].Data != "newinstance,ptmxmode=0666,mode=0620" {
		t.Fatalf("devpts entry in a user namespace %+v", plan[3])
	}
}

func TestErrorRecordRoundTrip(t *testing.T) {
	for _, err := range []error{
		&SetupError{Op: "mount proc on", Path: "/proc", Err: syscall.EPERM},
		&SetupError{Op: "chdir", Path: "/x", Err: &detailedErrno{"refusing a path that goes through a symlink", syscall.ELOOP}},
		errors.New("decode configuration: boom"),
	} {
		rec := recordOf(err)
		back := rec.toError()
		if back.Error() != err.Error() && !(rec.Op == "init" && back.Error() == "init: "+err.Error()) {
			t.Fatalf("round trip: %q became %q", err, back)
		}
	}
}
