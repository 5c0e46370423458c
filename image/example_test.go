package image_test

import (
	"context"
	"fmt"
	"os"

	"github.com/ctrkit/container"
	"github.com/ctrkit/container/image"
)

// Run an image from a registry, as docker run does: its Entrypoint and Cmd,
// its environment and user, with the caller's options on top.
func ExampleLoad() {
	ctx := context.Background()
	img, err := image.Load(ctx, "registry.example/ns/app:1.2", image.WithProgress(func(p image.Progress) {
		fmt.Fprintf(os.Stderr, "\r%d/%d layers, %d MB", p.LayersDone, p.Layers, p.Bytes>>20)
	}))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer img.Close() // after the container's Wait: Prune may remove its layers then
	c, err := img.New(nil, container.WithHostname("app"), container.WithEnv("LOG_LEVEL=debug"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	c.Stdout, c.Stderr = os.Stdout, os.Stderr
	if err := c.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
}
