package container

import (
	"errors"
	"strings"
	"testing"
)

func TestCapabilityOptions(t *testing.T) {
	const (
		chown    = capMask(1) << 0
		netAdmin = capMask(1) << 12
		netRaw   = capMask(1) << 13
		sysAdmin = capMask(1) << 21
	)
	for _, tt := range []struct {
		name                string
		opts                []Option
		bounding, permitted capMask
		ambient             capMask
	}{
		{"default root", nil, defaultCaps, defaultCaps, 0},
		{"default user", []Option{WithUser(1000, 1000)}, defaultCaps, 0, 0},
		{"add", []Option{WithCapAdd("CAP_NET_ADMIN")}, defaultCaps | netAdmin, defaultCaps | netAdmin, 0},
		{"add lower case, no prefix", []Option{WithCapAdd("sys_admin")}, defaultCaps | sysAdmin, defaultCaps | sysAdmin, 0},
		{"drop", []Option{WithCapDrop("NET_RAW")}, defaultCaps &^ netRaw, defaultCaps &^ netRaw, 0},
		{"replace", []Option{WithCapabilities("CHOWN", "NET_ADMIN")}, chown | netAdmin, chown | netAdmin, 0},
		{"replace then drop", []Option{WithCapabilities("CHOWN", "NET_ADMIN"), WithCapDrop("CHOWN")}, netAdmin, netAdmin, 0},
		{"drop all", []Option{WithCapDrop("ALL")}, 0, 0, 0},
		{"drop all, add one", []Option{WithCapDrop("ALL"), WithCapAdd("NET_RAW")}, netRaw, netRaw, 0},
		{"user asks for one", []Option{WithUser(1000, 1000), WithCapAdd("NET_ADMIN")}, defaultCaps | netAdmin, netAdmin, netAdmin},
		{"user asks, then drops", []Option{WithUser(1000, 1000), WithCapAdd("NET_ADMIN"), WithCapDrop("NET_ADMIN")}, defaultCaps, 0, 0},
		{"user replaces", []Option{WithUser(1000, 1000), WithCapabilities("CHOWN")}, chown, chown, chown},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(t.TempDir(), []string{"true"}, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			s := c.cfg.initConfig().Security
			if capMask(s.Bounding) != tt.bounding || capMask(s.Permitted) != tt.permitted || capMask(s.Ambient) != tt.ambient {
				t.Errorf("bounding %v, permitted %v, ambient %v; want %v, %v, %v",
					capMask(s.Bounding), capMask(s.Permitted), capMask(s.Ambient), tt.bounding, tt.permitted, tt.ambient)
			}
			if !s.NoNewPrivs {
				t.Error("no_new_privs is off by default")
			}
		})
	}
	c, err := New(t.TempDir(), []string{"true"}, WithNewPrivileges())
	if err != nil {
		t.Fatal(err)
	}
	if c.cfg.initConfig().Security.NoNewPrivs {
		t.Error("WithNewPrivileges left no_new_privs on")
	}
}

func TestCapabilityNames(t *testing.T) {
	if got := defaultCaps.String(); got != "CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER CAP_FSETID CAP_KILL CAP_SETGID CAP_SETUID CAP_SETPCAP CAP_NET_BIND_SERVICE CAP_NET_RAW CAP_SYS_CHROOT CAP_MKNOD CAP_AUDIT_WRITE CAP_SETFCAP" {
		t.Errorf("default capabilities: %s", got)
	}
	for _, bad := range []string{"", "CAP_", "FLY", "CAP_CAP_CHOWN", "41"} {
		_, err := New(t.TempDir(), []string{"true"}, WithCapAdd(bad))
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != "WithCapAdd" {
			t.Errorf("WithCapAdd(%q): %v, want an OptionError", bad, err)
		}
	}
}

// Only the case and the CAP_ prefix of a name are forgiven: a name with a
// space, a dash or another stray character is refused, naming it as given.
func TestCapabilityNamesNotCanonical(t *testing.T) {
	for _, tc := range []struct {
		opt  Option
		want string
	}{
		{WithCapAdd("NET_ADMIN "), `WithCapAdd "NET_ADMIN ": not a capability name`},
		{WithCapAdd(" CAP_SYS_ADMIN"), `WithCapAdd " CAP_SYS_ADMIN": not a capability name`},
		{WithCapDrop("NET_RAW\n"), `WithCapDrop "NET_RAW\n": not a capability name`},
		{WithCapabilities("CHOWN", "CAP_KILL\t"), `WithCapabilities "CAP_KILL\t": not a capability name`},
		{WithCapAdd("net-admin"), `WithCapAdd "net-admin": not a capability name`},
		{WithCapAdd("CAP_SYS_ADMIN,CAP_NET_ADMIN"), `WithCapAdd "CAP_SYS_ADMIN,CAP_NET_ADMIN": not a capability name`},
		{WithCapAdd("all "), `WithCapAdd "all ": not a capability name`},
	} {
		_, err := New(t.TempDir(), []string{"true"}, tc.opt)
		var oe *OptionError
		if !errors.As(err, &oe) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New: %v, want an OptionError with %q", err, tc.want)
		}
	}
}
