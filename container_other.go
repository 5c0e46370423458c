//go:build !linux

package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
)

// errUnsupported is what Start returns on every platform but Linux.
var errUnsupported = fmt.Errorf("container: Linux containers are not supported on %s: %w", runtime.GOOS, errors.ErrUnsupported)

type running struct{}

func (*running) pid() int { return 0 }

// Start fails on this platform with an error that wraps
// [errors.ErrUnsupported].
func (c *Container) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started {
		return ErrAlreadyStarted
	}
	c.started = true
	return errUnsupported
}

// Wait returns [ErrNotStarted] on this platform.
func (c *Container) Wait() error { return ErrNotStarted }

// Signal returns [ErrNotStarted] on this platform.
func (c *Container) Signal(sig os.Signal) error { return ErrNotStarted }

// rootfsMounts fails on this platform with an error that wraps
// errors.ErrUnsupported.
func rootfsMounts(rootfs string) ([]int, error) { return nil, errUnsupported }

// releaseRootfsMounts fails on this platform with an error that wraps
// errors.ErrUnsupported.
func releaseRootfsMounts(rootfs string, keep []int) error { return errUnsupported }

// removeCgroupAt fails on this platform with an error that wraps errors.ErrUnsupported.
func removeCgroupAt(path string) error { return errUnsupported }

// freezeCgroupAt fails on this platform with an error that wraps errors.ErrUnsupported.
func freezeCgroupAt(path string, frozen bool) error { return errUnsupported }

// cgroupFrozenAt fails on this platform with an error that wraps errors.ErrUnsupported.
func cgroupFrozenAt(path string) (bool, error) { return false, errUnsupported }

// cgroupPidsAt fails on this platform with an error that wraps errors.ErrUnsupported.
func cgroupPidsAt(path string) ([]int, error) { return nil, errUnsupported }

// updateCgroupAt fails on this platform with an error that wraps errors.ErrUnsupported.
func updateCgroupAt(path string, opts ...Option) error { return errUnsupported }

// Terminal returns nil on this platform.
func (c *Container) Terminal() *os.File { return nil }
