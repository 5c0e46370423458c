#!/usr/bin/env bash
# bench/run.sh: container start-up against a C floor, a Go re-exec floor,
# bubblewrap, crun, runc, ctrkit (run, and create/start/wait/delete as conmon
# calls them) and podman run --rm with ctrkit and with crun, side by side in
# one run (issues 6 and 17).
#
#   sudo bench/run.sh          full run (about 5 minutes on 2 cores)
#   sudo bench/run.sh -quick   smoke run (about a minute): rough numbers
#
# Installs runc, crun, bubblewrap and busybox-static from Debian's packages if
# one is missing, builds the C floor (bench/floor.c), the getpid loop, the Go
# floor (bench/gofloor), the library's drivers (bench/ctrrun, bench/imagerun) and the harness
# (bench/harness), then runs the harness: it builds one busybox rootfs and the
# OCI bundles (runc spec, no terminal, /bin/true, with and without a
# 364-syscall default seccomp profile), measures every row alternating A B A B,
# prints a Markdown table and writes bench/results.md and bench/results.svg.
# Extra arguments go to the harness (e.g. -json samples.json).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
if [ "$(id -u)" != 0 ]; then
	echo "bench/run.sh: run as root (containers need it)" >&2
	exit 1
fi

missing=()
command -v runc >/dev/null || missing+=(runc)
command -v crun >/dev/null || missing+=(crun)
command -v bwrap >/dev/null || missing+=(bubblewrap)
[ -x /bin/busybox ] || missing+=(busybox-static) # the harness checks that it is static
command -v gcc >/dev/null || missing+=(gcc libc6-dev)
command -v strace >/dev/null || missing+=(strace)
if [ ${#missing[@]} -gt 0 ]; then
	echo "bench/run.sh: installing ${missing[*]}" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

work=$(mktemp -d /tmp/ctrbench.XXXXXX)
trap 'rm -rf "$work"' EXIT
bin="$work/bin"
mkdir -p "$bin"

gcc -O2 -static -Wall -o "$bin/floor" "$here/floor.c"
gcc -O2 -static -Wall -o "$bin/getpidloop" "$here/getpidloop.c"
gcc -O2 -static -Wall -o "$bin/maxrss" "$here/maxrss.c"
(cd "$root" && go build -o "$bin/gofloor" ./bench/gofloor &&
	go build -o "$bin/ctrrun" ./bench/ctrrun &&
	go build -o "$bin/harness" ./bench/harness &&
	if [ -d examples/run ]; then go build -o "$bin/run" ./examples/run; fi &&
	if [ -d cmd/ctrkit ]; then go build -o "$bin/ctrkit" ./cmd/ctrkit; fi &&
	if [ -d bench/spike ]; then go build -o "$bin/spike" ./bench/spike; fi &&
	go build -o "$bin/imagerun" ./bench/imagerun)

"$bin/harness" -bin "$bin" -work "$work" -out "$here/results.md" -svg "$here/results.svg" "$@"
