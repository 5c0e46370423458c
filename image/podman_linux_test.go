package image_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ctrkit/container/containertest"
	"github.com/ctrkit/container/image"
)

// skipOrFail skips the test with the reason, or fails it in CI, where every
// package the tests need is installed.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// TestPodmanSave runs what podman save writes, in both of its formats
// (docker-archive and oci-archive), of an image that podman import made
// from a busybox tree with an Env, a WorkingDir and a Cmd. Podman runs with
// a private configuration and store (vfs: it mounts nothing) in the test's
// temporary directory, and runs no container: only import and save.
func TestPodmanSave(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	for _, tool := range []string{"podman", "tar"} {
		if _, err := exec.LookPath(tool); err != nil {
			skipOrFail(t, "%s is not installed (Debian package podman; .ci/run installs it): %v", tool, err)
		}
	}
	rootfs := containertest.Rootfs(t)
	dir := t.TempDir()
	files := map[string]string{
		"containers.conf": "[engine]\nevents_logger = \"none\"\ncgroup_manager = \"cgroupfs\"\n",
		"storage.conf":    fmt.Sprintf("[storage]\ndriver = \"vfs\"\ngraphroot = %q\nrunroot = %q\n", filepath.Join(dir, "graph"), filepath.Join(dir, "run")),
		"registries.conf": "unqualified-search-registries = []\n",
	}
	for n, content := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"tmp", "xdg", "cfg", "data"} {
		os.Mkdir(filepath.Join(dir, d), 0o700)
	}
	env := append(os.Environ(),
		"CONTAINERS_CONF="+filepath.Join(dir, "containers.conf"),
		"CONTAINERS_STORAGE_CONF="+filepath.Join(dir, "storage.conf"),
		"CONTAINERS_REGISTRIES_CONF="+filepath.Join(dir, "registries.conf"),
		"TMPDIR="+filepath.Join(dir, "tmp"), "XDG_RUNTIME_DIR="+filepath.Join(dir, "xdg"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "cfg"), "XDG_DATA_HOME="+filepath.Join(dir, "data"))
	podman := func(args ...string) {
		t.Helper()
		cmd := exec.Command("podman", args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("podman %v: %v\n%s", args, err, out)
		}
	}
	bb := filepath.Join(dir, "bb.tar")
	if out, err := exec.Command("tar", "-C", rootfs, "-cf", bb, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	podman("import", "--change", "ENV GREETING=from-podman", "--change", "WORKDIR /tmp",
		"--change", `CMD ["/bin/sh", "-c", "echo $GREETING in $(pwd)"]`, bb, "localhost/bb:saved")
	cache := t.TempDir()
	for _, format := range []string{"docker-archive", "oci-archive"} {
		t.Run(format, func(t *testing.T) {
			archive := filepath.Join(dir, format+".tar")
			podman("save", "--format", format, "-o", archive, "localhost/bb:saved")
			img, err := image.Load(context.Background(), archive, image.WithCache(cache))
			if err != nil {
				t.Fatal(err)
			}
			if out, want := run(t, img, nil), "from-podman in /tmp\n"; out != want {
				t.Errorf("%q, want %q", out, want)
			}
		})
	}
}
