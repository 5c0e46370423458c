//go:build linux && amd64 && race

package main

// raceBuild: the ABI wrapper through which the -vm child's assembly calls
// runChildVM calls the race runtime (racefuncenter) with the parent
// goroutine's race context, from another thread: the child then crashes now
// and then (SIGSEGV). -vm is refused in a race build.
const raceBuild = true
