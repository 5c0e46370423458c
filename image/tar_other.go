//go:build !linux

package image

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// untar needs openat2(2): Load fails on other systems.
func (o *options) untar(ctx context.Context, dir string, r io.Reader) error {
	return fmt.Errorf("unpacking layers: %w", errors.ErrUnsupported)
}

func syncfs(dir string) error {
	return fmt.Errorf("syncfs %s: %w", dir, errors.ErrUnsupported)
}
