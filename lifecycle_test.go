package container

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ctrkit/container/internal/lifecycle"
)

func TestOCIOptionsRejected(t *testing.T) {
	asRoot(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		opts []Option
		want string
	}{
		{"umask too large", []Option{WithUmask(0o1000)}, `WithUmask "01000"`},
		{"device outside /dev", []Option{WithDevices(Device{Name: "../x"})}, `WithDevices "../x": want a clean path below /dev`},
		{"device path not clean", []Option{WithDevices(Device{Name: "net//tun"})}, "want a clean path"},
		{"device in devpts", []Option{WithDevices(Device{Name: "pts/9"})}, "a name the standard /dev uses"},
		{"device below a device", []Option{WithDevices(Device{Name: "net"}, Device{Name: "net/tun"})}, "needs a directory"},
		{"oom score", []Option{WithOOMScoreAdj(1001)}, `WithOOMScoreAdj "1001"`},
		{"host sysctl", []Option{WithSysctl("vm.swappiness", "1")}, `WithSysctl "vm.swappiness": not a namespaced`},
		{"sysctl of a shared namespace", []Option{WithSysctl("net.ipv4.ip_forward", "1"), WithoutNamespace(NSNet)}, "shares the net namespace"},
		{"sysctl of a shared ipc namespace", []Option{WithSysctl("kernel.shmmax", "1"), WithoutNamespace(NSIPC)}, "shares the ipc namespace"},
		{"malformed sysctl", []Option{WithSysctl("net..x", "1")}, "malformed"},
		{"hostname sysctl", []Option{WithSysctl("kernel.hostname", "box")}, `WithSysctl "kernel.hostname": the init sets the hostname after the sysctls: use WithHostname`},
		{"hostname sysctl with slashes", []Option{WithSysctl("kernel/hostname", "box")}, "use WithHostname"},
		{"domainname sysctl", []Option{WithSysctl("kernel.domainname", "lan")}, `WithSysctl "kernel.domainname": the init sets the domain name after the sysctls: use WithDomainname`},
		{"groups in a user namespace", []Option{WithGroups(1), WithUIDMap(IDMap{0, 100000, 1000}), WithGIDMap(IDMap{0, 100000, 1000})}, "setgroups(2) is denied"},
		{"relative masked path", []Option{WithMaskedPaths("proc/kcore")}, "WithMaskedPaths"},
		{"relative readonly path", []Option{WithReadonlyPaths("x")}, "WithReadonlyPaths"},
		{"mount type", []Option{WithMount("ext4", "/dev/sda", "/mnt")}, `WithMount "ext4": unsupported`},
		{"bind flag", []Option{WithMount("bind", dir, "/mnt", "sync")}, "bind mounts accept only"},
		{"mount over proc", []Option{WithMount("tmpfs", "", "/proc/x")}, "over /proc"},
		{"relative cgroup path", []Option{withCgroupPath("a/b")}, `WithCgroupPath "a/b"`},
		{"root cgroup path", []Option{withCgroupPath("/")}, `WithCgroupPath "/"`},
		// Named like the default cgroups, which reapOrphansV1/V2 kill and remove when their owner is gone.
		{"cgroup path named like ours", []Option{withCgroupPath("/user.slice/ctrkit-4242-17-0123456789ab")},
			`WithCgroupPath "/user.slice/ctrkit-4242-17-0123456789ab": "ctrkit-4242-17-0123456789ab" is named like the cgroups this library makes`},
		{"cgroup path below one named like ours", []Option{withCgroupPath("/ctrkit-1-2-x/web")}, `"ctrkit-1-2-x" is named like`},
		{"relative fifo", []Option{withExecFIFO("x")}, `WithExecFIFO "x"`},
		{"relative create hook", []Option{withCreateHook(lifecycle.Hook{Path: "bin/sh"})}, `WithCreateHook "bin/sh": must be an absolute path`},
		{"negative hook timeout", []Option{withStartHook(lifecycle.Hook{Path: "/h", Timeout: -1})}, `WithStartHook "/h": negative timeout`},
		{"NUL in a hook", []Option{withStartHook(lifecycle.Hook{Path: "/h", Env: []string{"A=\x00"}})}, "NUL"},
		{"nil before pivot", []Option{withBeforePivot(nil)}, "WithBeforePivot"},
		{"hooks with join", []Option{withJoin(1), withStartHook(lifecycle.Hook{Path: "/h"})}, "WithJoin"},
		{"before pivot with join", []Option{withJoin(1), withBeforePivot(func(int) error { return nil })}, "WithJoin"},
		{"no pivot with join", []Option{withJoin(1), WithoutPivotRoot()}, "WithJoin \"1\": conflicts with mount options and WithoutPivotRoot"},
		{"init with join", []Option{withJoin(1), WithInit()}, "WithJoin \"1\": conflicts with WithInit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(dir, []string{"true"}, tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestOCIOptionsPlan(t *testing.T) {
	asRoot(t)
	dir := t.TempDir()
	c, err := newConfig(dir, []string{"true"}, []Option{
		WithMount("tmpfs", "", "/run", "nosuid", "size=1m", "rshared"),
		WithMount("bind", dir, "/b", "ro", "nodev"),
		WithMaskedPaths("/proc/x"), WithReadonlyPaths(),
		withCgroupPath("/a/b/"), WithUmask(0o22), WithGroups(5),
		WithSysctl("net/ipv4/ip_forward", "1"), withExecFIFO("/run/f"),
	})
	if err != nil {
		t.Fatal(err)
	}
	ic := c.initConfig()
	var masks, ro int
	var tmpfs, bind bool
	for _, m := range ic.Mounts {
		switch {
		case m.Kind == mountMask:
			masks++
		case m.Kind == mountReadonly:
			ro++
		case m.Kind == mountFS && m.Dest == "/run":
			tmpfs = m.FSType == "tmpfs" && m.Flags == msNosuid && m.Data == "size=1m" && m.Prop == msShared|msRec
		case m.Kind == mountBind && m.Dest == "/b":
			bind = m.Readonly && m.Attrs == msNodev
		}
	}
	if masks != 1 || ro != 0 || !tmpfs || !bind {
		t.Fatalf("plan: %d masks, %d read-only paths, tmpfs %v, bind %v: %+v", masks, ro, tmpfs, bind, ic.Mounts)
	}
	if c.limits.path != "/a/b" || !c.limits.needsCgroup() {
		t.Fatalf("cgroup path %q", c.limits.path)
	}
	if ic.OCI.Umask != 0o22 || len(ic.OCI.Groups) != 1 || ic.OCI.Sysctls[0].Key != "net.ipv4.ip_forward" || ic.OCI.ExecFIFO != "/run/f" || !c.detached() {
		t.Fatalf("init plan %+v", ic.OCI)
	}
	c2, _ := newConfig(dir, []string{"true"}, nil)
	if ic2 := c2.initConfig(); ic2.OCI.Umask != -1 || c2.detached() {
		t.Fatalf("defaults: %+v", ic2.OCI)
	}
}

// The caller's device rules are written before the standard devices, in
// their order: devices.list shows them first (runtime-tools'
// linux_cgroups_devices reads them back by position). A deny after allows
// takes access back; a leading allow-all turns the exceptions into denies.
func TestDeviceFiles(t *testing.T) {
	std := []string{"devices.allow c 1:3 rwm", "devices.allow c 1:5 rwm", "devices.allow c 1:7 rwm", "devices.allow c 1:8 rwm",
		"devices.allow c 1:9 rwm", "devices.allow c 5:0 rwm", "devices.allow c 5:2 rwm", "devices.allow c 136:* rwm"}
	for _, tc := range []struct {
		rules []lifecycle.DeviceRule
		want  []string
	}{
		{[]lifecycle.DeviceRule{{Type: 'c', Major: 10, Minor: 229, Access: "rwm"}, {Type: 'b', Major: 8, Minor: 20, Access: "rw"},
			{Type: 'b', Major: 10, Minor: -1, Access: "r"}},
			append([]string{"devices.deny a", "devices.allow c 10:229 rwm", "devices.allow b 8:20 rw", "devices.allow b 10:* r"}, std...)},
		{[]lifecycle.DeviceRule{{Type: 'a', Major: -1, Minor: -1, Access: "rwm", Deny: true}, {Type: 'c', Major: 1, Minor: 5, Access: "rwm"},
			{Type: 'c', Major: 10, Minor: 229, Access: "rwm"}, {Type: 'c', Major: 10, Minor: 229, Access: "wm", Deny: true}},
			append([]string{"devices.deny a", "devices.allow c 1:5 rwm", "devices.allow c 10:229 r"}, slices.Delete(slices.Clone(std), 1, 2)...)},
		{[]lifecycle.DeviceRule{{Type: 'a', Major: -1, Minor: -1, Access: "rwm"}, {Type: 'c', Major: 10, Minor: 229, Access: "rwm", Deny: true},
			{Type: 'c', Major: 1, Minor: 3, Access: "w", Deny: true}},
			[]string{"devices.allow a", "devices.deny c 10:229 rwm"}}, // the standard rules give 1:3 back
	} {
		set, err := deviceSet(tc.rules)
		if err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, f := range deviceFiles(set) {
			if f.Controller != "devices" {
				t.Errorf("%+v: not in the devices controller", f)
			}
			s = append(s, f.Name+" "+f.Value)
		}
		if strings.Join(s, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%v:\n%s\nwant:\n%s", tc.rules, strings.Join(s, "\n"), strings.Join(tc.want, "\n"))
		}
	}
}

// New refuses a list the devices cgroup cannot express, naming the rule.
func TestDeviceRulesRefused(t *testing.T) {
	_, err := New(t.TempDir(), []string{"true"}, withCgroupPath("/x"), withDeviceRules(
		lifecycle.DeviceRule{Type: 'c', Major: 10, Minor: -1, Access: "rw"}, lifecycle.DeviceRule{Type: 'c', Major: 10, Minor: 229, Access: "w", Deny: true}))
	var oe *OptionError
	if !errors.As(err, &oe) || !strings.Contains(err.Error(), "rule 1") || !strings.Contains(err.Error(), "c 10:* rw") {
		t.Fatalf("got %v", err)
	}
}

// TestHookPlan: the init's plan carries the hooks with argv[0] defaulted, the
// number of extra files, and the stdin Start fills in with the pid as the
// container sees it.
func TestHookPlan(t *testing.T) {
	dir := t.TempDir()
	stdin := func(pid int) []byte { return []byte{byte(pid)} }
	for _, tc := range []struct {
		name string
		opts []Option
		pid  int // what Stdin gets for a host pid of 77
	}{
		{"pid namespace", nil, 1},
		{"host pid namespace", []Option{WithoutNamespace(NSPID)}, 77},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := append([]Option{withCreateHook(lifecycle.Hook{Path: "/c", Stdin: stdin}), withStartHook(lifecycle.Hook{Path: "/s", Args: []string{"s", "x"}, Timeout: 5}),
				withBeforePivot(func(int) error { return nil })}, tc.opts...)
			c, err := New(dir, []string{"true"}, opts...)
			if err != nil {
				t.Fatal(err)
			}
			icfg := c.cfg.initConfig()
			c.cfg.oci.hookInput(icfg, c.cfg.namespaces, 77)
			o := icfg.OCI
			want := ociInit{BeforePivot: true,
				CreateHooks: []hookEntry{{Path: "/c", Args: []string{"/c"}, Stdin: []byte{byte(tc.pid)}}},
				StartHooks:  []hookEntry{{Path: "/s", Args: []string{"s", "x"}, Timeout: 5}}}
			if o.ExtraFiles != want.ExtraFiles || o.BeforePivot != want.BeforePivot ||
				!reflect.DeepEqual(o.CreateHooks, want.CreateHooks) || !reflect.DeepEqual(o.StartHooks, want.StartHooks) {
				t.Errorf("plan %+v %+v %+v %v, want %+v %+v %+v %v", o.CreateHooks, o.StartHooks, o.ExtraFiles, o.BeforePivot,
					want.CreateHooks, want.StartHooks, want.ExtraFiles, want.BeforePivot)
			}
		})
	}
}

// A cgroup2 mount is read-only unless "rw" is named, gives the container a
// cgroup of its own (with the unified hierarchy on a hybrid host), and without
// a cgroup namespace becomes a bind of that cgroup.
func TestCgroupMountPlan(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opts     []Option
		kind     mountKind
		readonly bool
	}{
		{"default", []Option{WithMount("cgroup2", "", "/sys/fs/cgroup")}, mountFS, true},
		{"rw", []Option{WithMount("cgroup2", "", "/sys/fs/cgroup", "rw", "nosuid")}, mountFS, false},
		{"no cgroupns", []Option{WithMount("cgroup2", "", "/sys/fs/cgroup"), WithoutNamespace(NSCgroup)}, mountCgroupView, true},
		{"joined cgroupns", []Option{WithMount("cgroup2", "", "/sys/fs/cgroup"), WithNamespacePath(NSCgroup, "/proc/1/ns/cgroup")}, mountFS, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := testConfig(t, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if !c.limits.needsCgroup() || !strings.Contains(strings.Join(c.limits.v1Controllers(), " "), unifiedKey) {
				t.Errorf("no cgroup of its own: needs %v, v1 %v", c.limits.needsCgroup(), c.limits.v1Controllers())
			}
			var got *mountEntry
			for _, e := range planMounts(c) {
				if e.Dest == "/sys/fs/cgroup" {
					got = &e
				}
			}
			if got == nil || got.Kind != tc.kind || (got.Flags&msRdonly != 0) != tc.readonly {
				t.Fatalf("plan: %+v", got)
			}
		})
	}
}
