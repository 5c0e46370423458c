package container_test

import (
	"context"
	"log"
	"log/slog"
	"os"

	"github.com/ctrkit/container"
)

// WithLogger traces the start: one debug record a step of the parent's and
// of the init's, with its duration ("where=init step=pivot_root dur=304µs"),
// and a failed start with the step that failed. Needs root.
func ExampleWithLogger() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := container.New("/srv/rootfs", []string{"/bin/true"}, container.WithLogger(logger))
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Run(context.Background()); err != nil {
		log.Fatal(err)
	}
}
