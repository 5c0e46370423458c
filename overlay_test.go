package container

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestOverlayOptions(t *testing.T) {
	asRoot(t)
	dir, l1, l2 := t.TempDir(), t.TempDir(), t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	cmd := []string{"/bin/true"}
	for _, tc := range []struct {
		name string
		opts []Option
		want string
	}{
		{"relative layer", []Option{WithOverlay("a/b")}, `WithOverlay "a/b": must be an absolute path`},
		{"missing layer", []Option{WithOverlay(filepath.Join(dir, "nope"))}, "no such file or directory"},
		{"layer is a file", []Option{WithOverlay(file)}, "not a directory"},
		{"relative upper", []Option{WithOverlayUpper("tmp")}, `WithOverlayUpper "tmp": must be an absolute path`},
		{"upper without mount namespace", []Option{WithOverlayUpper(dir), WithoutNamespace(NSMount)}, "conflicts with WithoutNamespace(NSMount)"},
		{"no mount namespace", []Option{WithOverlay(), WithoutNamespace(NSMount)}, "conflicts with WithoutNamespace(NSMount)"},
		{"joined mount namespace", []Option{WithOverlay(), WithNamespacePath(NSMount, "/proc/self/ns/mnt")}, "conflicts with WithNamespacePath(NSMount)"},
	} {
		_, err := newConfig(dir, cmd, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	c, err := newConfig(dir, cmd, []Option{WithOverlay(l1), WithOverlay(), WithOverlay(l2 + "/")})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.overlay.lowers(c.rootfs), []string{l2, l1, dir}; !slices.Equal(got, want) {
		t.Errorf("lowerdir order %q, want %q (topmost first)", got, want)
	}
	if c.initConfig().Overlay != nil {
		t.Error("the plan names an overlay before Start made its directories")
	}
}
