//go:build linux

// Command imagerun starts containers from an OCI image with package image,
// for bench/run.sh's image rows (issue 15): the first start of a 5-layer
// image (every layer unpacked into an empty cache) and a warm start (every
// layer cached), each Load + New + Run of /bin/true, and for reference the
// rootfs WithOverlay from this same binary, in a loop. It prints
// one JSON object, as bench/ctrrun -n does (per-container times in order):
//
//	imagerun -n 30 -mode first|warm|overlay -layout DIR -cache DIR ROOTFS
//
// The layout at DIR is made on first use: ROOTFS as the bottom layer and
// four layers of 64 files of 16 KiB each. It is a separate program from
// ctrrun so that go-containerregistry's package initialisation stays out of
// ctrrun's whole-process rows. Run it as root.
package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ctrkit/container/internal/tartree"

	"github.com/ctrkit/container"
	"github.com/ctrkit/container/image"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func main() {
	n := flag.Int("n", 10, "time `N` containers")
	warm := flag.Int("warm", 1, "untimed containers before the timed ones")
	mode := flag.String("mode", "warm", "first (an empty cache for each), warm (one cache, filled by the warm-up) or overlay (ROOTFS WithOverlay, no image: the reference)")
	dir := flag.String("layout", "", "the image's OCI layout `dir`ectory (made from ROOTFS when missing)")
	cache := flag.String("cache", "", "the layer cache `dir`ectory (warm mode)")
	flag.Parse()
	if flag.NArg() != 1 || *dir == "" || (*mode != "first" && *mode != "warm" && *mode != "overlay") || (*mode == "warm" && *cache == "") {
		fmt.Fprintln(os.Stderr, "usage: imagerun [-n N] -mode first|warm|overlay -layout DIR [-cache DIR] ROOTFS")
		os.Exit(2)
	}
	if err := run(*n, *warm, *mode, *dir, *cache, flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "imagerun:", err)
		os.Exit(1)
	}
}

func run(n, warm int, mode, dir, cache, rootfs string) error {
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err != nil {
		if err := makeLayout(dir, rootfs); err != nil {
			return fmt.Errorf("make the image layout: %w", err)
		}
	}
	ctx := context.Background()
	one := func() error {
		if mode == "overlay" {
			ctr, err := container.New(rootfs, []string{"/bin/true"}, container.WithOverlay())
			if err != nil {
				return err
			}
			return ctr.Run(ctx)
		}
		c := cache
		if mode == "first" {
			tmp, err := os.MkdirTemp("", "imagerun-cache-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			c = tmp
		}
		img, err := image.Load(ctx, dir, image.WithCache(c))
		if err != nil {
			return err
		}
		defer img.Close()
		ctr, err := img.New([]string{"/bin/true"})
		if err != nil {
			return err
		}
		return ctr.Run(ctx)
	}
	for range warm {
		if err := one(); err != nil {
			return err
		}
	}
	ns := make([]int64, 0, n)
	t0 := time.Now()
	for range n {
		t := time.Now()
		if err := one(); err != nil {
			return err
		}
		ns = append(ns, time.Since(t).Nanoseconds())
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"variant": "image-" + mode, "ns": ns, "wall_ns": time.Since(t0).Nanoseconds(), "workers": 1,
	})
}

// makeLayout writes the 5-layer image to an OCI layout at dir.
func makeLayout(dir, rootfs string) error {
	base, err := tartree.Of(rootfs)
	if err != nil {
		return err
	}
	layers := []v1.Layer{}
	for l := range 5 {
		b := base
		if l > 0 {
			if b, err = dataTar(l); err != nil {
				return err
			}
		}
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
		if err != nil {
			return err
		}
		layers = append(layers, layer)
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	return p.AppendImage(img)
}

// dataTar is a layer of 64 files of 16 KiB of random bytes under data/lL.
func dataTar(l int) ([]byte, error) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for f := range 64 {
		body := make([]byte, 16<<10)
		rand.Read(body)
		h := &tar.Header{Name: fmt.Sprintf("data/l%d/f%d", l, f), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(1700000000, 0)}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		tw.Write(body)
	}
	return b.Bytes(), tw.Close()
}
