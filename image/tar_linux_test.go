package image

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"golang.org/x/sys/unix"
)

type tent struct {
	name, body, link string
	typ              byte
	mode             int64
	major, minor     int64
}

func tarOf(t *testing.T, entries ...tent) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, Size: int64(len(e.body)),
			Devmajor: e.major, Devminor: e.minor, ModTime: time.Unix(1700000000, 0)}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, e.body)
	}
	tw.Close()
	return b.Bytes()
}

// hostileSetup gives a layer directory inside a sandbox whose sibling
// "outside" holds a file that no layer may touch, and a cwd-independent
// path to it.
func hostileSetup(t *testing.T) (layer, outside string) {
	t.Helper()
	base := t.TempDir()
	layer, outside = filepath.Join(base, "layer"), filepath.Join(base, "outside")
	os.Mkdir(layer, 0o755)
	os.Mkdir(outside, 0o755)
	os.WriteFile(filepath.Join(outside, "victim"), []byte("untouched"), 0o644)
	return layer, outside
}

func untarBytes(t *testing.T, o *options, dir string, b []byte) error {
	t.Helper()
	return o.untar(context.Background(), dir, bytes.NewReader(b))
}

// TestUntarHostile: no entry of a layer reaches outside its directory.
func TestUntarHostile(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries func(outside string) []tent
		wantErr bool
		check   func(t *testing.T, layer string)
	}{
		{"dot-dot", func(string) []tent { return []tent{{name: "../outside/victim", body: "pwned"}} }, true, nil},
		{"dot-dot inside", func(string) []tent { return []tent{{name: "a/../../outside/victim", body: "pwned"}} }, true, nil},
		{"absolute name", func(o string) []tent { return []tent{{name: o + "/victim", body: "pwned"}} }, false, func(t *testing.T, layer string) {
			if _, err := os.Stat(filepath.Join(layer, filepath.Dir(layer), "outside", "victim")); err != nil {
				t.Errorf("the absolute name is not inside the layer: %v", err)
			}
		}},
		{"write through an absolute symlink", func(o string) []tent {
			return []tent{{name: "ln", typ: tar.TypeSymlink, link: o}, {name: "ln/victim", body: "pwned"}}
		}, true, nil}, // the link resolves inside the layer, where there is no such directory
		{"write through a relative symlink", func(o string) []tent {
			return []tent{{name: "d/", typ: tar.TypeDir, mode: 0o755}, {name: "d/ln", typ: tar.TypeSymlink, link: "../../outside"}, {name: "d/ln/victim", body: "pwned"}}
		}, true, nil},
		{"replace a symlink to a file", func(o string) []tent {
			return []tent{{name: "ln", typ: tar.TypeSymlink, link: o + "/victim"}, {name: "ln", body: "pwned"}}
		}, false, func(t *testing.T, layer string) {
			if b, _ := os.ReadFile(filepath.Join(layer, "ln")); string(b) != "pwned" {
				t.Errorf("ln: %q", b)
			}
		}},
		{"hard link out by dot-dot", func(string) []tent {
			return []tent{{name: "h", typ: tar.TypeLink, link: "../outside/victim"}, {name: "h", body: "pwned"}}
		}, true, nil},
		{"hard link by absolute name", func(o string) []tent {
			return []tent{{name: "h", typ: tar.TypeLink, link: o + "/victim"}}
		}, true, nil},
		{"hard link through a symlink", func(o string) []tent {
			return []tent{{name: "ln", typ: tar.TypeSymlink, link: o}, {name: "h", typ: tar.TypeLink, link: "ln/victim"}}
		}, true, nil},
		{"hard link to a symlink, then a write", func(o string) []tent {
			return []tent{{name: "ln", typ: tar.TypeSymlink, link: o + "/victim"}, {name: "h", typ: tar.TypeLink, link: "ln"}, {name: "h", body: "pwned"}}
		}, false, nil},
		{"a symlink dir then a hard link through it written", func(o string) []tent {
			return []tent{{name: "f", body: "mine"}, {name: "h", typ: tar.TypeLink, link: "f"}, {name: "ln", typ: tar.TypeSymlink, link: o},
				{name: "ln/victim", typ: tar.TypeLink, link: "f"}}
		}, true, nil},
		{"a symlink into the layer is followed inside it", func(o string) []tent {
			return []tent{{name: "usr/lib/", typ: tar.TypeDir}, {name: "lib", typ: tar.TypeSymlink, link: "/usr/lib"}, {name: "lib/x", body: "in"},
				{name: "up", typ: tar.TypeSymlink, link: "../../../../../../../usr"}, {name: "up/y", body: "in"}}
		}, false, func(t *testing.T, layer string) {
			for _, f := range []string{"usr/lib/x", "usr/y"} {
				if b, _ := os.ReadFile(filepath.Join(layer, f)); string(b) != "in" {
					t.Errorf("%s: %q", f, b)
				}
			}
		}},
		{"whiteout names out", func(string) []tent { return []tent{{name: "a/.wh..."}} }, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			layer, outside := hostileSetup(t)
			err := untarBytes(t, &options{}, layer, tarOf(t, tc.entries(outside)...))
			if (err != nil) != tc.wantErr {
				t.Errorf("untar: %v, want an error: %v", err, tc.wantErr)
			}
			if tc.wantErr && err != nil && tc.name == "dot-dot" && !errors.Is(err, errEscape) {
				t.Errorf("untar: %v, want errEscape", err)
			}
			ents, _ := os.ReadDir(outside)
			b, _ := os.ReadFile(filepath.Join(outside, "victim"))
			if len(ents) != 1 || string(b) != "untouched" {
				t.Errorf("outside the layer: %d entries, victim %q", len(ents), b)
			}
			var st unix.Stat_t
			unix.Stat(filepath.Join(outside, "victim"), &st)
			if st.Nlink != 1 {
				t.Errorf("the victim has %d links", st.Nlink)
			}
			if tc.check != nil {
				tc.check(t, layer)
			}
		})
	}
}

// TestUntarWhiteoutsDevicesSetuid: whiteouts become 0:0 character devices,
// opaque markers xattrs; device nodes and setuid bits only when allowed.
func TestUntarWhiteoutsDevicesSetuid(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: needs root")
	}
	b := tarOf(t,
		tent{name: "d/", typ: tar.TypeDir, mode: 0o755},
		tent{name: "d/.wh.gone"},
		tent{name: "d/.wh..wh..opq"},
		tent{name: "blk", typ: tar.TypeBlock, major: 8, minor: 0, mode: 0o600},
		tent{name: "zero", typ: tar.TypeChar, major: 1, minor: 5, mode: 0o666},
		tent{name: "suid", body: "#!", mode: 0o4755},
		tent{name: "sgid/", typ: tar.TypeDir, mode: 0o2775},
		tent{name: "ro/", typ: tar.TypeDir, mode: 0o555},
		tent{name: "ro/f", body: "x", mode: 0o444},
	)
	for _, tc := range []struct {
		o        options
		devices  bool
		suidMode uint32
	}{{options{}, false, 0o755}, {options{devices: true, setuid: true}, true, 0o4755}} {
		dir := t.TempDir()
		if err := untarBytes(t, &tc.o, dir, b); err != nil {
			t.Fatal(err)
		}
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(dir, "d/gone"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
			t.Errorf("whiteout: %v %o %d", err, st.Mode, st.Rdev)
		}
		for _, x := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} {
			v := make([]byte, 8)
			if n, err := unix.Getxattr(filepath.Join(dir, "d"), x, v); err != nil || string(v[:n]) != "y" {
				t.Errorf("%s: %v %q", x, err, v[:n])
			}
		}
		for _, n := range []string{"blk", "zero"} {
			_, err := os.Lstat(filepath.Join(dir, n))
			if (err == nil) != tc.devices {
				t.Errorf("%+v: device %s: %v", tc.o, n, err)
			}
		}
		unix.Lstat(filepath.Join(dir, "suid"), &st)
		if st.Mode&0o7777 != tc.suidMode {
			t.Errorf("%+v: suid file mode %o, want %o", tc.o, st.Mode&0o7777, tc.suidMode)
		}
		unix.Lstat(filepath.Join(dir, "sgid"), &st)
		if st.Mode&0o7777 != 0o2775 {
			t.Errorf("setgid directory mode %o", st.Mode&0o7777)
		}
		unix.Lstat(filepath.Join(dir, "ro"), &st)
		if st.Mode&0o7777 != 0o555 {
			t.Errorf("read-only directory mode %o", st.Mode&0o7777)
		}
	}
}

// lyingLayer claims a diff id its content does not have.
type lyingLayer struct {
	v1.Layer
	diff v1.Hash
}

func (l lyingLayer) DiffID() (v1.Hash, error) { return l.diff, nil }

// TestDiffIDChecked: a layer whose content is not its diff id fails and
// leaves nothing in the cache under that id.
func TestDiffIDChecked(t *testing.T) {
	b := tarOf(t, tent{name: "f", body: "evil"})
	real, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	claimed := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}
	o := &options{cache: t.TempDir()}
	_, _, err = o.unpackAll(context.Background(), []v1.Layer{lyingLayer{real, claimed}}, nil)
	if err == nil || !strings.Contains(err.Error(), "not its diff id") {
		t.Fatalf("unpack: %v, want a digest mismatch", err)
	}
	// The same lie told by an image's configuration.
	if _, _, err := o.unpackAll(context.Background(), []v1.Layer{real}, []v1.Hash{claimed}); err == nil || !strings.Contains(err.Error(), "not its diff id") {
		t.Fatalf("unpack: %v, want a digest mismatch", err)
	}
	ents, _ := os.ReadDir(filepath.Join(o.cache, o.flavour()))
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".lock") {
			t.Errorf("left in the cache: %s", e.Name())
		}
	}
}

func TestCleanName(t *testing.T) {
	for in, want := range map[string]string{"a/b": "a/b", "./a": "a", "/a/b": "a/b", "a/../b": "b", "": ".", "./": ".", "//a//b/": "a/b"} {
		if got, err := cleanName(in); err != nil || got != want {
			t.Errorf("cleanName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"..", "../a", "a/../..", "/../a"} {
		if _, err := cleanName(in); err == nil {
			t.Errorf("cleanName(%q): no error", in)
		}
	}
}

// TestUntarXattrs: a layer's PAX xattr records become the files' extended
// attributes by the package's rule: user.* always, trusted.* as root, a
// file capability (security.capability) as root with WithSetuid only, the
// overlay's own and every other namespace never.
func TestUntarXattrs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: needs root")
	}
	// VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE, CAP_NET_RAW permitted.
	capNetRaw := string([]byte{1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	recs := map[string]string{
		"SCHILY.xattr.user.mime":               "text/plain",
		"SCHILY.xattr.trusted.t":               "t",
		"SCHILY.xattr.security.capability":     capNetRaw,
		"SCHILY.xattr.security.selinux":        "system_u:object_r:bin_t:s0",
		"SCHILY.xattr.user.overlay.redirect":   "/elsewhere",
		"SCHILY.xattr.trusted.overlay.opaque":  "y",
		"SCHILY.xattr.system.posix_acl_access": "\x02\x00\x00\x00",
	}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, h := range []*tar.Header{
		{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o755, PAXRecords: map[string]string{"SCHILY.xattr.user.dir": "yes"}, Format: tar.FormatPAX},
		{Name: "d/ping", Typeflag: tar.TypeReg, Mode: 0o755, Size: 2, PAXRecords: recs, Format: tar.FormatPAX},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			io.WriteString(tw, "#!")
		}
	}
	tw.Close()
	get := func(p, name string) (string, bool) {
		v := make([]byte, 256)
		n, err := unix.Lgetxattr(p, name, v)
		if err != nil {
			if !errors.Is(err, unix.ENODATA) {
				t.Errorf("getxattr %s %s: %v", p, name, err)
			}
			return "", false
		}
		return string(v[:n]), true
	}
	for _, setuid := range []bool{false, true} {
		dir := t.TempDir()
		if err := untarBytes(t, &options{setuid: setuid}, dir, b.Bytes()); err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, "d/ping")
		if v, _ := get(f, "user.mime"); v != "text/plain" {
			t.Errorf("user.mime = %q", v)
		}
		if v, _ := get(f, "trusted.t"); v != "t" {
			t.Errorf("trusted.t = %q", v)
		}
		if v, _ := get(filepath.Join(dir, "d"), "user.dir"); v != "yes" {
			t.Errorf("directory's user.dir = %q", v)
		}
		if v, ok := get(f, "security.capability"); ok != setuid || ok && v != capNetRaw {
			t.Errorf("WithSetuid %v: security.capability %q, present %v", setuid, v, ok)
		}
		for _, n := range []string{"security.selinux", "user.overlay.redirect", "trusted.overlay.opaque", "system.posix_acl_access"} {
			if v, ok := get(f, n); ok && !(n == "security.selinux" && v != recs["SCHILY.xattr."+n]) {
				t.Errorf("%s kept: %q", n, v)
			}
		}
	}
}

// TestKeepXattr is the rule for a caller that is not root: user.* only.
func TestKeepXattr(t *testing.T) {
	for _, tc := range []struct {
		name               string
		root, setuid, want bool
	}{
		{"user.a", false, false, true},
		{"user.", false, false, false},
		{"user.overlay.opaque", true, true, false},
		{"trusted.a", false, false, false},
		{"trusted.a", true, false, true},
		{"trusted.overlay.redirect", true, true, false},
		{"security.capability", false, true, false},
		{"security.capability", true, false, false},
		{"security.capability", true, true, true},
		{"security.selinux", true, true, false},
		{"system.posix_acl_access", true, true, false},
	} {
		u := &untarrer{asRoot: tc.root, setuid: tc.setuid}
		if got := u.keepXattr(tc.name); got != tc.want {
			t.Errorf("root %v setuid %v: keepXattr(%q) = %v, want %v", tc.root, tc.setuid, tc.name, got, tc.want)
		}
	}
}
