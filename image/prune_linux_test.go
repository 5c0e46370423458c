package image_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ctrkit/container/containertest"
	"github.com/ctrkit/container/image"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// cached lists the layers and lock files in the cache's root flavour.
func cached(t *testing.T, cache string) []string {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Join(cache, "root"))
	var out []string
	for _, e := range ents {
		if strings.Contains(e.Name(), "sha256-") {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestPruneKeepsRunning: Prune removes the layers of a closed image and
// keeps those of an open one, while a container runs on them and reads its
// layers' files after the Prune; once the image is closed, Prune removes
// every layer and lock file.
func TestPruneKeepsRunning(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	ctx := context.Background()
	cache := t.TempDir()
	a, err := image.FromImage(ctx, testImage(t), image.WithCache(cache))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	other, err := mutate.AppendLayers(empty.Image, layerOf(t, tarBytes(t, []entry{{name: "only-b", body: "b"}})))
	if err != nil {
		t.Fatal(err)
	}
	b, err := image.FromImage(ctx, other, image.WithCache(cache))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.New([]string{"/bin/true"}); err == nil {
		t.Error("New after Close: no error")
	}

	// A container on a's layers, blocked reading stdin until after the Prune.
	pr, pw := io.Pipe()
	var out bytes.Buffer
	c, err := a.New([]string{"read x; cat /etc/app/conf; ls /srv/www"})
	if err != nil {
		t.Fatal(err)
	}
	c.Stdin, c.Stdout, c.Stderr = pr, &out, &out
	runCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := c.Start(runCtx); err != nil {
		t.Fatal(err)
	}
	removed, err := image.Prune(image.WithCache(cache))
	if err != nil {
		t.Errorf("Prune: %v", err)
	}
	if len(removed) != 1 || removed[0] != b.Layers[0] {
		t.Errorf("Prune removed %v, want only b's layer %s", removed, b.Layers[0])
	}
	for _, l := range a.Layers {
		if _, err := os.Stat(l); err != nil {
			t.Errorf("a's layer pruned while a is open: %v", err)
		}
	}
	io.WriteString(pw, "go\n")
	pw.Close()
	if err := c.Wait(); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if out.String() != "v2\nnew.html\n" {
		t.Errorf("container read %q after the Prune", out.String())
	}

	a.Close()
	removed, err = image.Prune(image.WithCache(cache))
	if err != nil {
		t.Errorf("Prune: %v", err)
	}
	if len(removed) != len(a.Layers) {
		t.Errorf("Prune after Close removed %v, want a's %d layers", removed, len(a.Layers))
	}
	if left := cached(t, cache); len(left) != 0 {
		t.Errorf("left in the cache: %v", left)
	}
	// The cache works again after a Prune.
	again, err := image.FromImage(ctx, testImage(t), image.WithCache(cache))
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if got := run(t, again, nil); got != scriptOut {
		t.Errorf("after a Prune: %q, want %q", got, scriptOut)
	}
}

// gatedLayer's content becomes readable once gate is closed; opened is
// closed when the unpacker has opened it.
func gatedLayer(t *testing.T, content []byte, gate, opened chan struct{}) v1.Layer {
	t.Helper()
	armed := false
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		if armed {
			close(opened)
			<-gate
		}
		return io.NopCloser(bytes.NewReader(content)), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.DiffID(); err != nil {
		t.Fatal(err)
	}
	armed = true
	return l
}

// TestPruneSkipsUnpacking: Prune leaves alone a layer being unpacked (its
// temporary directory and lock), which then completes and is used.
func TestPruneSkipsUnpacking(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	cache := t.TempDir()
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "f", Typeflag: tar.TypeReg, Mode: 0o644, Size: 2})
	io.WriteString(tw, "ok")
	tw.Close()
	gate, opened := make(chan struct{}), make(chan struct{})
	img, err := mutate.AppendLayers(empty.Image, gatedLayer(t, tb.Bytes(), gate, opened))
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		img *image.Image
		err error
	}
	done := make(chan result, 1)
	go func() {
		i, err := image.FromImage(context.Background(), img, image.WithCache(cache))
		done <- result{i, err}
	}()
	<-opened // unpacking, its lock held exclusively
	before := cached(t, cache)
	if !slices.ContainsFunc(before, func(n string) bool { return strings.HasPrefix(n, ".tmp-") }) {
		t.Errorf("no temporary directory while unpacking: %v", before)
	}
	removed, err := image.Prune(image.WithCache(cache))
	if err != nil || len(removed) != 0 {
		t.Errorf("Prune while unpacking: removed %v, %v", removed, err)
	}
	if after := cached(t, cache); !slices.Equal(before, after) {
		t.Errorf("Prune while unpacking changed the cache: %v, then %v", before, after)
	}
	close(gate)
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.img.Close()
	if b, err := os.ReadFile(filepath.Join(r.img.Layers[0], "f")); err != nil || string(b) != "ok" {
		t.Errorf("the layer unpacked during the Prune: %q, %v", b, err)
	}
	if removed, err := image.Prune(image.WithCache(cache)); err != nil || len(removed) != 0 {
		t.Errorf("Prune of an open image: removed %v, %v", removed, err)
	}
}

// TestPruneConcurrent: Loads, Closes and Prunes at once, from many
// goroutines (each with files and locks of its own, as processes have):
// every layer an open Image holds stays whole until its Close, and the
// Prunes fail nothing.
func TestPruneConcurrent(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	cache := t.TempDir()
	img, err := mutate.AppendLayers(empty.Image,
		layerOf(t, tarBytes(t, []entry{{name: "a/f", body: "a"}})),
		layerOf(t, tarBytes(t, []entry{{name: "b/f", body: "b"}})))
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	pruned := make(chan int)
	for range 2 {
		go func() {
			n := 0
			defer func() { pruned <- n }()
			for {
				select {
				case <-stop:
					return
				default:
				}
				removed, err := image.Prune(image.WithCache(cache))
				if err != nil {
					t.Errorf("Prune: %v", err)
				}
				n += len(removed)
			}
		}()
	}
	errs := make(chan error, 4*(10*2+1))
	for range 4 {
		go func() {
			for range 10 {
				i, err := image.FromImage(context.Background(), img, image.WithCache(cache))
				if err != nil {
					errs <- err
					return
				}
				for j, l := range i.Layers {
					if b, err := os.ReadFile(filepath.Join(l, string(rune('a'+j)), "f")); err != nil || len(b) != 1 {
						errs <- fmt.Errorf("layer %s of an open image: %q, %v", l, b, err)
					}
				}
				i.Close()
			}
			errs <- nil
		}()
	}
	for done := 0; done < 4; {
		if err := <-errs; err != nil {
			t.Error(err)
			if !strings.HasPrefix(err.Error(), "layer ") {
				done++ // FromImage failed: that goroutine ended
			}
		} else {
			done++
		}
	}
	close(stop)
	total := <-pruned + <-pruned
	t.Logf("%d layers pruned meanwhile", total)
}
