package image_test

// Benchmarks of running images (issue 15, point 4), as root:
//
//	go test -run '^$' -bench . -benchtime 20x ./image
//
// first-start: Load of a 5-layer image into an empty cache (unpacking every
// layer) and Run of /bin/true; warm-start: Load of the same image, all
// layers cached, and Run; rootfs and rootfs-overlay: the same busybox tree
// as a plain rootfs, without and with WithOverlay, for reference;
// warm-load: Load alone, all layers cached; warm-run: New and Run of one
// Image loaded once (a loop of starts from one *image.Image).

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ctrkit/container"
	"github.com/ctrkit/container/containertest"
	"github.com/ctrkit/container/image"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"golang.org/x/sys/unix"
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

// cpuTime is the CPU time (user and system) of this process and its waited
// for children so far.
func cpuTime(b *testing.B) time.Duration {
	var t time.Duration
	for _, who := range []int{unix.RUSAGE_SELF, unix.RUSAGE_CHILDREN} {
		var ru unix.Rusage
		if err := unix.Getrusage(who, &ru); err != nil {
			b.Fatal(err)
		}
		t += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return t
}

// loop runs f b.N times and reports the CPU time per run besides the wall
// time: on a loaded machine the steadier of the two.
func loop(b *testing.B, f func()) {
	t0 := cpuTime(b)
	for b.Loop() {
		f()
	}
	b.ReportMetric(float64(cpuTime(b)-t0)/float64(b.N)/1e6, "cpu-ms/op")
}

func BenchmarkImage(b *testing.B) {
	containertest.SkipUnlessRoot(b)
	src := filepath.Join(b.TempDir(), "layout")
	writeLayout(b, src, fiveLayers(b), nil)
	ctx := context.Background()
	b.Run("first-start", func(b *testing.B) {
		i := 0
		loop(b, func() {
			i++
			cache := filepath.Join(b.TempDir(), fmt.Sprint(i))
			img, err := image.Load(ctx, src, image.WithCache(cache))
			if err != nil {
				b.Fatal(err)
			}
			runImage(b, img)
			img.Close()
		})
	})
	cache := b.TempDir()
	if img, err := image.Load(ctx, src, image.WithCache(cache)); err != nil {
		b.Fatal(err)
	} else {
		img.Close()
	}
	b.Run("warm-start", func(b *testing.B) {
		loop(b, func() {
			img, err := image.Load(ctx, src, image.WithCache(cache))
			if err != nil {
				b.Fatal(err)
			}
			runImage(b, img)
			img.Close()
		})
	})
	b.Run("warm-load", func(b *testing.B) {
		loop(b, func() {
			img, err := image.Load(ctx, src, image.WithCache(cache))
			if err != nil {
				b.Fatal(err)
			}
			img.Close()
		})
	})
	img, err := image.Load(ctx, src, image.WithCache(cache))
	if err != nil {
		b.Fatal(err)
	}
	defer img.Close()
	b.Run("warm-run", func(b *testing.B) {
		loop(b, func() { runImage(b, img) })
	})
	for n := 1; n <= len(img.Layers); n++ {
		b.Run(fmt.Sprintf("layers-%d", n), func(b *testing.B) {
			loop(b, func() {
				c, err := container.New(img.Layers[0], []string{"/bin/true"}, container.WithOverlay(img.Layers[1:n]...))
				if err != nil {
					b.Fatal(err)
				}
				if err := c.Run(ctx); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
	rootfs := containertest.Rootfs(b)
	for _, v := range []struct {
		name string
		opts []container.Option
	}{{"rootfs", nil}, {"rootfs-overlay", []container.Option{container.WithOverlay()}}, {"rootfs-overlay-disk", []container.Option{container.WithOverlayUpper(os.TempDir())}}} {
		b.Run(v.name, func(b *testing.B) {
			loop(b, func() {
				c, err := container.New(rootfs, []string{"/bin/true"}, v.opts...)
				if err != nil {
					b.Fatal(err)
				}
				if err := c.Run(ctx); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}
