//go:build linux && amd64 && !race

package main

// raceBuild: see race_on.go.
const raceBuild = false
