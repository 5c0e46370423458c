package container

import "github.com/ctrkit/container/internal/lifecycle"

// The OCI runtime's options and operations, handed to package oci (their
// public face, which documents them) through internal/lifecycle, so that this
// package's API is what a Go program needs.
func init() {
	lifecycle.WithExecFIFO = withExecFIFO
	lifecycle.WithJoin = withJoin
	lifecycle.WithCreateHook = withCreateHook
	lifecycle.WithStartHook = withStartHook
	lifecycle.WithBeforePivot = withBeforePivot
	lifecycle.WithCgroupPath = withCgroupPath
	lifecycle.WithDeviceRules = withDeviceRules
	lifecycle.WithInheritedCapabilities = withInheritedCapabilities
	lifecycle.UpdateCgroup = updateCgroupAt
	lifecycle.RemoveCgroup = removeCgroupAt
	lifecycle.FreezeCgroup = freezeCgroupAt
	lifecycle.CgroupFrozen = cgroupFrozenAt
	lifecycle.CgroupPids = cgroupPidsAt
	lifecycle.RootfsMounts = rootfsMounts
	lifecycle.ReleaseRootfsMounts = releaseRootfsMounts
}
