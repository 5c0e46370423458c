package image_test

// Benchmarks of running images (issue 15, point 4), as root:
//
//	go test -run '^$' -bench . -benchtime 20x ./image
//
// first-start: Load of a 5-layer image into an empty cache (unpacking every
// layer) and Run of /bin/true; warm-start: Load of the same image, all
// layers cached, and Run; rootfs and rootfs-overlay: the same busybox tree
// as a plain rootfs, without and with WithOverlay, for reference.

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/ctrkit/container"
	"github.com/ctrkit/container/containertest"
	"github.com/ctrkit/container/image"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// fiveLayers is busybox and four layers of 64 files of 16 KiB each.
func fiveLayers(b *testing.B) v1.Image {
	layers := []v1.Layer{dirLayer(b, containertest.Rootfs(b))}
	for l := range 4 {
		var es []entry
		for f := range 64 {
			buf := make([]byte, 16<<10)
			rand.Read(buf)
			es = append(es, entry{name: fmt.Sprintf("data/l%d/f%d", l, f), body: string(buf)})
		}
		layers = append(layers, layerOf(b, tarBytes(b, es)))
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		b.Fatal(err)
	}
	return img
}

func runImage(b *testing.B, img *image.Image) {
	c, err := img.New([]string{"/bin/true"})
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkImage(b *testing.B) {
	containertest.SkipUnlessRoot(b)
	src := filepath.Join(b.TempDir(), "layout")
	writeLayout(b, src, fiveLayers(b), nil)
	ctx := context.Background()
	b.Run("first-start", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			cache := filepath.Join(b.TempDir(), fmt.Sprint(i))
			img, err := image.Load(ctx, src, image.WithCache(cache))
			if err != nil {
				b.Fatal(err)
			}
			runImage(b, img)
		}
	})
	cache := b.TempDir()
	if _, err := image.Load(ctx, src, image.WithCache(cache)); err != nil {
		b.Fatal(err)
	}
	b.Run("warm-start", func(b *testing.B) {
		for b.Loop() {
			img, err := image.Load(ctx, src, image.WithCache(cache))
			if err != nil {
				b.Fatal(err)
			}
			runImage(b, img)
		}
	})
	rootfs := containertest.Rootfs(b)
	for _, v := range []struct {
		name string
		opts []container.Option
	}{{"rootfs", nil}, {"rootfs-overlay", []container.Option{container.WithOverlay()}}, {"rootfs-overlay-disk", []container.Option{container.WithOverlayUpper(os.TempDir())}}} {
		b.Run(v.name, func(b *testing.B) {
			for b.Loop() {
				c, err := container.New(rootfs, []string{"/bin/true"}, v.opts...)
				if err != nil {
					b.Fatal(err)
				}
				if err := c.Run(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
