//go:build !linux || !cgo

// Package nsenter links, on Linux with cgo, the C constructor that lets
// [github.com/ctrkit/container/oci.WithJoin] start processes inside a running
// container. Elsewhere it is empty, and WithJoin fails at Start.
package nsenter
