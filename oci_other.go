//go:build !linux

package container

import "os"

// RemoveCgroup fails on this platform with an error that wraps errors.ErrUnsupported.
func RemoveCgroup(path string) error { return errUnsupported }

// FreezeCgroup fails on this platform with an error that wraps errors.ErrUnsupported.
func FreezeCgroup(path string, frozen bool) error { return errUnsupported }

// CgroupFrozen fails on this platform with an error that wraps errors.ErrUnsupported.
func CgroupFrozen(path string) (bool, error) { return false, errUnsupported }

// CgroupPids fails on this platform with an error that wraps errors.ErrUnsupported.
func CgroupPids(path string) ([]int, error) { return nil, errUnsupported }

// UpdateCgroup fails on this platform with an error that wraps errors.ErrUnsupported.
func UpdateCgroup(path string, opts ...Option) error { return errUnsupported }

// Terminal returns nil on this platform.
func (c *Container) Terminal() *os.File { return nil }
