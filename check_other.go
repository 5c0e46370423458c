//go:build !linux

package container

// checkHost fails on this platform, as Start does.
func checkHost(*config) []error { return []error{errUnsupported} }
