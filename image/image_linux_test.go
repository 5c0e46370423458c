package image_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ctrkit/container/internal/tartree"

	"github.com/ctrkit/container"
	"github.com/ctrkit/container/containertest"
	"github.com/ctrkit/container/image"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// entry is a tar entry of a test layer.
type entry struct {
	name, body, link string
	typ              byte
	mode             int64
	uid, gid         int
}

func tarBytes(t testing.TB, entries []entry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Uid: e.uid, Gid: e.gid, Linkname: e.link,
			Size: int64(len(e.body)), ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, e.body)
	}
	tw.Close()
	return b.Bytes()
}

func layerOf(t testing.TB, b []byte) v1.Layer {
	t.Helper()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// dirLayer is a layer holding the tree at dir.
func dirLayer(t testing.TB, dir string) v1.Layer {
	t.Helper()
	b, err := tartree.Of(dir)
	if err != nil {
		t.Fatal(err)
	}
	return layerOf(t, b)
}

// script is the test image's Cmd: what its configuration and layers made.
const script = `echo $GREETING from $(pwd) as $(id -u):$(id -g); busybox ls /srv/www; cat /etc/app/conf; [ -e /etc/hostname ] || echo no hostname; [ -e /bin/ls ] || echo no ls`

const scriptOut = "hello from /srv as 1000:1000\nnew.html\nv2\nno hostname\nno ls\n"

// testImage builds an image from busybox (containertest.Rootfs) and two
// layers on it: files, a user, whiteouts and an opaque directory.
func testImage(t testing.TB) v1.Image {
	t.Helper()
	rootfs := containertest.Rootfs(t)
	passwd, _ := os.ReadFile(filepath.Join(rootfs, "etc/passwd"))
	l2 := tarBytes(t, []entry{
		{name: "etc/app/", typ: tar.TypeDir},
		{name: "etc/app/conf", body: "v2\n"},
		{name: "etc/passwd", body: string(passwd) + "app:x:1000:1000::/srv:/bin/sh\n"},
		{name: "srv/www/old.html", body: "old"},
	})
	l3 := tarBytes(t, []entry{
		{name: "etc/.wh.hostname"},
		{name: "bin/.wh.ls"},
		{name: "srv/www/", typ: tar.TypeDir},
		{name: "srv/www/.wh..wh..opq"},
		{name: "srv/www/new.html", body: "new"},
	})
	img, err := mutate.AppendLayers(empty.Image, dirLayer(t, rootfs), layerOf(t, l2), layerOf(t, l3))
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", hostArch()
	cf.Config = v1.Config{
		Env:        []string{"PATH=/bin:/usr/bin", "GREETING=hello"},
		Entrypoint: []string{"/bin/sh", "-c"},
		Cmd:        []string{script},
		WorkingDir: "/srv",
		User:       "app",
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func hostArch() string { return runtime.GOARCH }

// startRegistry starts an in-process registry on 127.0.0.1 and returns its
// host:port.
func startRegistry(t testing.TB) string {
	t.Helper()
	s := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

func push(t testing.TB, img v1.Image, ref string) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
}

// writeLayout writes img (and an image for another platform) into an OCI
// layout directory.
func writeLayout(t testing.TB, dir string, img v1.Image, other v1.Image) {
	t.Helper()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if other != nil {
		if err := p.AppendImage(other, layout.WithPlatform(v1.Platform{OS: "linux", Architecture: "s390x"})); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.AppendImage(img, layout.WithPlatform(v1.Platform{OS: "linux", Architecture: hostArch()})); err != nil {
		t.Fatal(err)
	}
}

// tarDir writes dir's files into a tar archive at path (an OCI archive from
// a layout).
func tarDir(t testing.TB, dir, path string) {
	t.Helper()
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	tw := tar.NewWriter(out)
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		fi, _ := d.Info()
		h, _ := tar.FileInfoHeader(fi, "")
		h.Name = rel
		tw.WriteHeader(h)
		if fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			tw.Write(b)
		}
		return nil
	})
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

func run(t testing.TB, img *image.Image, cmd []string, opts ...container.Option) string {
	t.Helper()
	c, err := img.New(cmd, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := c.CombinedOutput(ctx)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return string(out)
}

// TestSources loads the test image from a registry (by tag and by digest),
// an OCI layout, a Docker archive and an OCI archive, and runs it: the
// layers are unpacked once and reused by every later source.
func TestSources(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	img := testImage(t)
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	host := startRegistry(t)
	push(t, img, host+"/test/bb:v1")
	work := t.TempDir()
	lay := filepath.Join(work, "layout")
	writeLayout(t, lay, img, empty.Image)
	docker := filepath.Join(work, "docker.tar")
	tag, _ := name.NewTag("test/bb:v1")
	if err := tarball.WriteToFile(docker, tag, img); err != nil {
		t.Fatal(err)
	}
	oci := filepath.Join(work, "oci.tar")
	tarDir(t, lay, oci)

	cache := t.TempDir()
	for i, src := range []string{host + "/test/bb:v1", host + "/test/bb@" + digest.String(), lay, docker, oci} {
		var last image.Progress
		got, err := image.Load(context.Background(), src, image.WithCache(cache), image.WithProgress(func(p image.Progress) { last = p }))
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if len(got.Layers) != 3 || last.Layers != 3 || last.LayersDone != 3 {
			t.Errorf("%s: layers %v, progress %+v", src, got.Layers, last)
		}
		if want := map[bool]int{true: 0, false: 3}[i == 0]; last.Cached != want {
			t.Errorf("%s: %d layers from the cache, want %d (%+v)", src, last.Cached, want, last)
		}
		if i == 0 && last.Bytes == 0 {
			t.Errorf("%s: no bytes reported: %+v", src, last)
		}
		if out := run(t, got, nil); out != scriptOut {
			t.Errorf("%s: %q, want %q", src, out, scriptOut)
		}
	}
	if tmp, _ := filepath.Glob(filepath.Join(cache, "*", ".tmp-*")); len(tmp) != 0 {
		t.Errorf("temporary directories left in the cache: %v", tmp)
	}
	if left, _ := filepath.Glob(filepath.Join(cache, ".oci-archive-*")); len(left) != 0 {
		t.Errorf("the OCI archive's blobs left: %v", left)
	}
}

// TestConfigOverride: explicit options override the image's configuration,
// as docker run's flags do; cmd replaces Cmd and keeps Entrypoint.
func TestConfigOverride(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	host := startRegistry(t)
	push(t, testImage(t), host+"/test/bb:v1")
	img, err := image.Load(context.Background(), host+"/test/bb:v1", image.WithCache(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	before := layersHash(t, img.Layers)
	out := run(t, img, []string{"echo $GREETING $PATH; pwd; id -u; id -g; rm -rf /bin /etc/passwd /etc/group; echo x > /srv/new"},
		container.WithEnv("GREETING=bye"), container.WithDir("/"), container.WithUser(0, 0))
	if want := "bye /bin:/usr/bin\n/\n0\n0\n"; out != want {
		t.Errorf("%q, want %q", out, want)
	}
	if layersHash(t, img.Layers) != before {
		t.Error("a container's writes changed the cached layers")
	}
	if got := img.Args([]string{"x"}); strings.Join(got, " ") != "/bin/sh -c x" {
		t.Errorf("Args: %q", got)
	}
}

// TestPlatform: from an index, the image for this machine, or the one
// WithPlatform names.
func TestPlatform(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	img := testImage(t)
	other, err := mutate.AppendLayers(empty.Image, layerOf(t, tarBytes(t, []entry{{name: "s390x", body: "x"}})))
	if err != nil {
		t.Fatal(err)
	}
	lay := filepath.Join(t.TempDir(), "layout")
	writeLayout(t, lay, img, other)
	cache := t.TempDir()
	for _, tc := range []struct {
		opts []image.Option
		want v1.Image
	}{
		{nil, img},
		{[]image.Option{image.WithPlatform(v1.Platform{OS: "linux", Architecture: "s390x"})}, other},
	} {
		got, err := image.Load(context.Background(), lay, append(tc.opts, image.WithCache(cache))...)
		if err != nil {
			t.Fatal(err)
		}
		if want, _ := tc.want.Digest(); got.Digest != want {
			t.Errorf("picked %s, want %s", got.Digest, want)
		}
	}
	if _, err := image.Load(context.Background(), lay, image.WithCache(cache), image.WithPlatform(v1.Platform{OS: "linux", Architecture: "riscv64"})); err == nil || !strings.Contains(err.Error(), "no image for linux/riscv64") {
		t.Errorf("a platform the index lacks: %v", err)
	}
}

// TestConcurrentFirstUse: many goroutines and processes that load one image
// into an empty cache at once unpack each layer once.
func TestConcurrentFirstUse(t *testing.T) {
	if path := os.Getenv("CTRKIT_IMAGE_HELPER"); path != "" {
		var last image.Progress
		_, err := image.Load(context.Background(), path, image.WithCache(os.Getenv("CTRKIT_IMAGE_CACHE")),
			image.WithProgress(func(p image.Progress) { last = p }))
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("unpacked", last.LayersDone-last.Cached)
		os.Exit(0)
	}
	containertest.SkipUnlessRoot(t)
	img := testImage(t)
	docker := filepath.Join(t.TempDir(), "docker.tar")
	tag, _ := name.NewTag("test/bb:v1")
	if err := tarball.WriteToFile(docker, tag, img); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	var mu sync.Mutex
	unpacked := 0
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^TestConcurrentFirstUse$")
			cmd.Env = append(os.Environ(), "CTRKIT_IMAGE_HELPER="+docker, "CTRKIT_IMAGE_CACHE="+cache)
			out, err := cmd.Output()
			var n int
			if _, serr := fmt.Sscanf(string(out), "unpacked %d", &n); err != nil || serr != nil {
				t.Errorf("helper: %v %v: %s", err, serr, out)
			}
			mu.Lock()
			unpacked += n
			mu.Unlock()
		}()
	}
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last image.Progress
			if _, err := image.Load(context.Background(), docker, image.WithCache(cache), image.WithProgress(func(p image.Progress) { last = p })); err != nil {
				t.Error(err)
			}
			mu.Lock()
			unpacked += last.LayersDone - last.Cached
			mu.Unlock()
		}()
	}
	wg.Wait()
	if unpacked != 3 {
		t.Errorf("3 layers unpacked %d times by 8 loaders", unpacked)
	}
}

// TestStaleTemporary: a temporary directory an unpacker killed midway left
// is removed by the next one, and never used.
func TestStaleTemporary(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	l := layerOf(t, tarBytes(t, []entry{{name: "f", body: "complete"}}))
	diff, _ := l.DiffID()
	cache := t.TempDir()
	stale := filepath.Join(cache, "root", ".tmp-sha256-"+diff.Hex+"-123")
	os.MkdirAll(filepath.Join(stale, "half/sub"), 0o755)
	os.Chmod(filepath.Join(stale, "half"), 0o555)
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	got, err := image.FromImage(context.Background(), img, image.WithCache(cache))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(got.Layers[0], "f")); string(b) != "complete" {
		t.Errorf("layer: %q", b)
	}
	if _, err := os.Lstat(stale); err == nil {
		t.Error("the stale temporary directory is still there")
	}
}

// TestRootlessImage runs TestRootlessImageChild as uid 65534: it loads and
// runs the image from a registry into a cache of its own.
func TestRootlessImage(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	containertest.SkipUnlessUserNS(t)
	host := startRegistry(t)
	push(t, testImage(t), host+"/test/bb:v1")
	containertest.RerunAs(t, 65534, 65534, "TestRootlessImageChild", "CTRKIT_ROOTLESS_IMAGE="+host+"/test/bb:v1")
}

func TestRootlessImageChild(t *testing.T) {
	ref := os.Getenv("CTRKIT_ROOTLESS_IMAGE")
	if ref == "" {
		t.Skip("skipping: run by TestRootlessImage as an unprivileged user")
	}
	cache := t.TempDir()
	img, err := image.Load(context.Background(), ref, image.WithCache(cache))
	if err != nil {
		t.Fatal(err)
	}
	if out := run(t, img, nil); out != scriptOut {
		t.Errorf("%q, want %q", out, scriptOut)
	}
	// The image's files are the caller's, which is the container's root.
	if out := run(t, img, []string{"echo w > /etc/app/conf && cat /etc/app/conf; stat -c %u /bin/busybox"}, container.WithUser(0, 0)); out != "w\n0\n" {
		t.Errorf("as root in the container: %q", out)
	}
	if _, err := image.Load(context.Background(), ref, image.WithCache(cache), image.WithDevices()); err == nil {
		t.Error("WithDevices: no error for a caller that is not root")
	}
	// Prune removes the caller's own layers (their read-only directories
	// too) once the image is closed.
	img.Close()
	removed, err := image.Prune(image.WithCache(cache))
	if err != nil || len(removed) != len(img.Layers) {
		t.Errorf("Prune: removed %v, %v; want the %d layers", removed, err, len(img.Layers))
	}
	os.RemoveAll(cache) // t.TempDir's removal would fail on the layers' read-only directories
	if err := removeAll(cache); err != nil {
		t.Fatal(err)
	}
}

func removeAll(dir string) error {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

// TestLoadCancelled: a context cancelled while the layers are unpacked
// stops Load, which leaves no layer and no temporary directory behind.
func TestLoadCancelled(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	img := testImage(t)
	cache := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := image.FromImage(ctx, img, image.WithCache(cache), image.WithProgress(func(p image.Progress) {
		if p.Bytes > 0 {
			cancel()
		}
	}))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Load: %v, want context.Canceled", err)
	}
	left, _ := filepath.Glob(filepath.Join(cache, "root", "*"))
	tmp, _ := filepath.Glob(filepath.Join(cache, "root", ".tmp-*"))
	if len(tmp) != 0 {
		t.Errorf("temporary directories left: %v", tmp)
	}
	// Layers that were complete before the cancellation may stay: they are
	// whole. The busybox layer, which was being unpacked, is not one of them.
	for _, l := range left {
		if _, err := os.Stat(filepath.Join(l, "bin/busybox")); err == nil {
			t.Errorf("the cancelled layer is in the cache: %s", l)
		}
	}
}

// TestIDShift: as root, a container in a user namespace runs the image
// unpacked with its ids shifted to the namespace's, and writes through the
// overlay as the namespace's root.
func TestIDShift(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	containertest.SkipUnlessUserNS(t)
	host := startRegistry(t)
	push(t, testImage(t), host+"/test/bb:v1")
	cache := t.TempDir()
	os.Chmod(cache, 0o755)
	os.Chmod(filepath.Dir(cache), 0o755)
	img, err := image.Load(context.Background(), host+"/test/bb:v1", image.WithCache(cache), image.WithIDShift(100000, 100000))
	if err != nil {
		t.Fatal(err)
	}
	maps := []container.Option{
		container.WithUIDMap(container.IDMap{ContainerID: 0, HostID: 100000, Size: 65536}),
		container.WithGIDMap(container.IDMap{ContainerID: 0, HostID: 100000, Size: 65536}),
	}
	if out := run(t, img, nil, maps...); out != scriptOut {
		t.Errorf("%q, want %q", out, scriptOut)
	}
	out := run(t, img, []string{"echo w > /etc/app/conf && cat /etc/app/conf; stat -c %u:%g /bin/busybox"}, append(maps, container.WithUser(0, 0))...)
	if out != "w\n0:0\n" {
		t.Errorf("as the namespace's root: %q", out)
	}
	var st syscall.Stat_t
	syscall.Stat(filepath.Join(img.Layers[0], "bin/busybox"), &st)
	if st.Uid != 100000 || st.Gid != 100000 {
		t.Errorf("the cache's busybox is owned by %d:%d", st.Uid, st.Gid)
	}
}

// layersHash hashes every name in dirs with its mode, owner, size, time
// and, for regular files, content.
func layersHash(t *testing.T, dirs []string) string {
	t.Helper()
	h := sha256.New()
	for _, d := range dirs {
		filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			var st syscall.Stat_t
			syscall.Lstat(p, &st)
			fmt.Fprintf(h, "%s %o %d:%d %d %d\n", p, st.Mode, st.Uid, st.Gid, st.Size, st.Mtim.Nano())
			if e.Type().IsRegular() {
				b, _ := os.ReadFile(p)
				h.Write(b)
			}
			return nil
		})
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}
