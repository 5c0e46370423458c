#!/bin/sh
# gen.sh: copy the library's pregenerated default seccomp program (amd64) into
# the spike, which cannot reach the unexported constant. TestSeccompCopy fails
# when the copy is stale.
set -eu
cd "$(dirname "$0")"
{
	echo "// Code generated from the library's seccomp_default_amd64.go by bench/spike/gen.sh; DO NOT EDIT."
	echo
	echo '//go:build linux && amd64'
	echo
	sed -n '/^package/,$p' ../../seccomp_default_amd64.go |
		sed 's/^package container/package main/; s/pregeneratedDefaultProgram/defaultProgram/g'
} >seccomp_default_amd64.go
