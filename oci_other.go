//go:build !linux

package container

import "os"

// RemoveCgroup fails on this platform with an error that wraps errors.ErrUnsupported.
func removeCgroupAt(path string) error { return errUnsupported }

// FreezeCgroup fails on this platform with an error that wraps errors.ErrUnsupported.
func freezeCgroupAt(path string, frozen bool) error { return errUnsupported }

// CgroupFrozen fails on this platform with an error that wraps errors.ErrUnsupported.
func cgroupFrozenAt(path string) (bool, error) { return false, errUnsupported }

// CgroupPids fails on this platform with an error that wraps errors.ErrUnsupported.
func cgroupPidsAt(path string) ([]int, error) { return nil, errUnsupported }

// UpdateCgroup fails on this platform with an error that wraps errors.ErrUnsupported.
func updateCgroupAt(path string, opts ...Option) error { return errUnsupported }

// Terminal returns nil on this platform.
func (c *Container) Terminal() *os.File { return nil }
