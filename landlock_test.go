package container

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestLandlockNewRejects(t *testing.T) {
	asRoot(t)
	for _, tc := range []struct {
		name string
		opts []Option
		want string
	}{
		{"relative path", []Option{WithLandlock(LandlockRead("/bin", "usr/lib"))}, `LandlockRead "usr/lib": must be an absolute path`},
		{"relative write path", []Option{WithLandlock(LandlockWrite("./tmp"))}, `LandlockWrite "./tmp": must be an absolute path`},
		{"empty path", []Option{WithLandlock(LandlockIoctl(""))}, `LandlockIoctl "": must be an absolute path`},
		{"NUL", []Option{WithLandlock(LandlockRead("/b\x00in"))}, "NUL"},
		{"read without paths", []Option{WithLandlock(LandlockRead())}, "LandlockRead: no paths"},
		{"write without paths", []Option{WithLandlock(LandlockRead("/"), LandlockWrite())}, "LandlockWrite: no paths"},
		{"bind without ports", []Option{WithLandlock(LandlockRead("/"), LandlockBindTCP())}, "LandlockBindTCP: no ports"},
		{"connect without ports", []Option{WithLandlock(LandlockRead("/"), LandlockConnectTCP())}, "LandlockConnectTCP: no ports"},
		{"zero rule", []Option{WithLandlock(LandlockRead("/"), LandlockRule{})}, "empty LandlockRule"},
		{"no rules", []Option{WithLandlock()}, "no LandlockRead or LandlockWrite rule"},
		{"only TCP", []Option{WithLandlock(LandlockConnectTCP(443))}, "no LandlockRead or LandlockWrite rule"},
		{"only ioctl", []Option{WithLandlock(LandlockIoctl("/dev"))}, "no LandlockRead or LandlockWrite rule"},
		{"any TCP and ports", []Option{WithLandlock(LandlockRead("/"), LandlockAnyTCP()), WithLandlock(LandlockBindTCP(80))}, "LandlockAnyTCP: conflicts"},
		{"best effort alone", []Option{WithLandlockBestEffort()}, "WithLandlockBestEffort: needs WithLandlock"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(t.TempDir(), []string{"/bin/true"}, tc.opts...)
			var oe *OptionError
			if !errors.As(err, &oe) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an *OptionError with %q", err, tc.want)
			}
		})
	}
	// Rules of several options add up; a later rule does not replace one.
	c, err := New(t.TempDir(), []string{"/bin/true"}, WithLandlock(LandlockRead("/bin")), WithLandlock(LandlockWrite("/tmp/")))
	if err != nil {
		t.Fatal(err)
	}
	li, _, err := c.cfg.landlock.plan(7)
	if err != nil {
		t.Fatal(err)
	}
	want := []landlockPathRule{{"/bin", llRead}, {"/tmp", llWrite}}
	if !reflect.DeepEqual(li.Paths, want) {
		t.Errorf("paths %+v, want %+v", li.Paths, want)
	}
	if c.Landlock().ABI != 0 {
		t.Errorf("Landlock before Start: %+v", c.Landlock())
	}
}

func TestLandlockPlan(t *testing.T) {
	allFS := uint64(llFSABI1 | llFSRefer | llFSTruncate | llFSIoctlDev)
	rules := []LandlockRule{LandlockRead("/usr", "/bin/"), LandlockWrite("/tmp"), LandlockIoctl("/dev/tty"), LandlockBindTCP(8080), LandlockConnectTCP(53, 443)}
	fullPaths := []landlockPathRule{{"/usr", llRead}, {"/bin", llRead}, {"/tmp", llWrite}, {"/dev/tty", llFSIoctlDev}}
	fullPorts := []landlockPortRule{{8080, llNetBindTCP}, {53, llNetConnectTCP}, {443, llNetConnectTCP}}
	for _, tc := range []struct {
		name       string
		abi        int
		bestEffort bool
		rules      []LandlockRule
		want       landlockInit
		dropped    []string
		err        string // a substring of Start's error; "" for none
	}{
		{name: "ABI 6 has everything", abi: 6, rules: rules,
			want: landlockInit{FS: allFS, Net: llNetBindTCP | llNetConnectTCP, Scoped: llScopeAbstractUnixSocket | llScopeSignal, Paths: fullPaths, Ports: fullPorts}},
		{name: "ABI 7 too", abi: 7, rules: rules,
			want: landlockInit{FS: allFS, Net: llNetBindTCP | llNetConnectTCP, Scoped: llScopeAbstractUnixSocket | llScopeSignal, Paths: fullPaths, Ports: fullPorts}},
		{name: "a later ABI", abi: 9, bestEffort: true, rules: rules,
			want: landlockInit{FS: allFS, Net: llNetBindTCP | llNetConnectTCP, Scoped: llScopeAbstractUnixSocket | llScopeSignal, Paths: fullPaths, Ports: fullPorts}},
		{name: "ABI 5 strict", abi: 5, rules: rules,
			err: "the kernel has Landlock ABI 5, which cannot fence abstract_unix_socket (ABI 6), signal (ABI 6); WithLandlockBestEffort drops what it lacks: unsupported operation"},
		{name: "ABI 4 strict", abi: 4, rules: rules,
			err: "cannot fence ioctl_dev (ABI 5), abstract_unix_socket (ABI 6), signal (ABI 6)"},
		{name: "ABI 3 strict, TCP open", abi: 3, rules: []LandlockRule{LandlockRead("/"), LandlockAnyTCP()},
			err: "Landlock ABI 3, which cannot fence ioctl_dev (ABI 5), abstract_unix_socket"},
		{name: "no Landlock, strict", abi: 0, rules: rules,
			err: "the kernel has no Landlock (not built in, or not enabled by the lsm= boot parameter), which cannot fence fs (ABI 1), refer (ABI 2)"},
		{name: "ABI 5 best effort", abi: 5, bestEffort: true, rules: rules,
			want:    landlockInit{FS: allFS, Net: llNetBindTCP | llNetConnectTCP, Paths: fullPaths, Ports: fullPorts},
			dropped: []string{"abstract_unix_socket (ABI 6)", "signal (ABI 6)"}},
		{name: "ABI 4 best effort: no ioctl rule", abi: 4, bestEffort: true, rules: rules,
			want:    landlockInit{FS: allFS &^ llFSIoctlDev, Net: llNetBindTCP | llNetConnectTCP, Paths: fullPaths[:3], Ports: fullPorts},
			dropped: []string{"ioctl_dev (ABI 5)", "abstract_unix_socket (ABI 6)", "signal (ABI 6)"}},
		{name: "ABI 3 best effort: no TCP rules", abi: 3, bestEffort: true, rules: rules,
			want:    landlockInit{FS: llFSABI1 | llFSRefer | llFSTruncate, Paths: fullPaths[:3]},
			dropped: []string{"bind_tcp (ABI 4)", "connect_tcp (ABI 4)", "ioctl_dev (ABI 5)", "abstract_unix_socket (ABI 6)", "signal (ABI 6)"}},
		{name: "ABI 2 best effort: truncate unfenced", abi: 2, bestEffort: true, rules: rules,
			want:    landlockInit{FS: llFSABI1 | llFSRefer, Paths: []landlockPathRule{{"/usr", llRead}, {"/bin", llRead}, {"/tmp", llWrite &^ llFSTruncate}}},
			dropped: []string{"truncate (ABI 3)", "bind_tcp (ABI 4)", "connect_tcp (ABI 4)", "ioctl_dev (ABI 5)", "abstract_unix_socket (ABI 6)", "signal (ABI 6)"}},
		{name: "ABI 1 best effort: no refer", abi: 1, bestEffort: true, rules: rules,
			want:    landlockInit{FS: llFSABI1, Paths: []landlockPathRule{{"/usr", llRead}, {"/bin", llRead}, {"/tmp", llWrite &^ (llFSTruncate | llFSRefer)}}},
			dropped: []string{"refer (ABI 2)", "truncate (ABI 3)", "bind_tcp (ABI 4)", "connect_tcp (ABI 4)", "ioctl_dev (ABI 5)", "abstract_unix_socket (ABI 6)", "signal (ABI 6)"}},
		{name: "no Landlock, best effort: no ruleset", abi: 0, bestEffort: true, rules: rules,
			dropped: []string{"fs (ABI 1)", "refer (ABI 2)", "truncate (ABI 3)", "bind_tcp (ABI 4)", "connect_tcp (ABI 4)", "ioctl_dev (ABI 5)", "abstract_unix_socket (ABI 6)", "signal (ABI 6)"}},
		{name: "TCP open", abi: 7, rules: []LandlockRule{LandlockWrite("/"), LandlockAnyTCP()},
			want: landlockInit{FS: allFS, Scoped: llScopeAbstractUnixSocket | llScopeSignal, Paths: []landlockPathRule{{"/", llWrite}}}},
		{name: "TCP open on ABI 3 best effort", abi: 3, bestEffort: true, rules: []LandlockRule{LandlockWrite("/"), LandlockAnyTCP()},
			want:    landlockInit{FS: llFSABI1 | llFSRefer | llFSTruncate, Paths: []landlockPathRule{{"/", llWrite &^ llFSIoctlDev}}},
			dropped: []string{"ioctl_dev (ABI 5)", "abstract_unix_socket (ABI 6)", "signal (ABI 6)"}},
		{name: "no TCP rule: every port closed", abi: 6, rules: []LandlockRule{LandlockRead("/")},
			want: landlockInit{FS: allFS, Net: llNetBindTCP | llNetConnectTCP, Scoped: llScopeAbstractUnixSocket | llScopeSignal, Paths: []landlockPathRule{{"/", llRead}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := landlockConfig{on: true, bestEffort: tc.bestEffort, rules: tc.rules}
			if err := l.finish(); err != nil {
				t.Fatal(err)
			}
			li, st, err := l.plan(tc.abi)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, errors.ErrUnsupported) {
					t.Fatalf("plan: %v, want an error wrapping errors.ErrUnsupported with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(li, tc.want) {
				t.Errorf("ruleset\n got %+v\nwant %+v", li, tc.want)
			}
			if st.ABI != tc.abi || !reflect.DeepEqual(st.Dropped, tc.dropped) {
				t.Errorf("status %+v, want ABI %d, dropped %q", st, tc.abi, tc.dropped)
			}
			if li.on() != (tc.abi > 0) {
				t.Errorf("on() = %v at ABI %d", li.on(), tc.abi)
			}
		})
	}
	// Without WithLandlock there is nothing to plan or report.
	if li, st, err := (&landlockConfig{}).plan(7); err != nil || li.on() || st.ABI != 0 || st.Dropped != nil {
		t.Errorf("plan without WithLandlock: %+v %+v %v", li, st, err)
	}
}

// TestLandlockFileAccess: a rule for a file that is not a directory keeps only
// the rights the kernel takes for one.
func TestLandlockFileAccess(t *testing.T) {
	for _, tc := range []struct {
		in, want uint64
	}{
		{llRead, llFSExecute | llFSReadFile},
		{llWrite, llFSExecute | llFSReadFile | llFSWriteFile | llFSTruncate},
		{llIoctl, llFSIoctlDev},
		{llFSReadDir | llFSMakeReg | llFSRefer, 0},
	} {
		if got := landlockFileAccess(tc.in); got != tc.want {
			t.Errorf("landlockFileAccess(%#x) = %#x, want %#x", tc.in, got, tc.want)
		}
	}
}
