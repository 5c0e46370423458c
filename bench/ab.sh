#!/usr/bin/env bash
# bench/ab.sh: the library's start-up at REV (A) against the working tree (B),
# side by side in one run: builds bench/ctrrun from both, a busybox rootfs,
# and runs bench/ab, which alternates the two builds round by round.
#
#   sudo bench/ab.sh REV [-n 300] [-rounds 6] [-variants default,limits] [-rusage 100]
#
# Per variant it prints the wall medians and, per container, the CPU time
# (user+sys) and minor page faults of each round's ctrrun process with
# everything it waited for (the medians over the rounds).
# -rusage also measures each build's init (CPU, page faults, peak RSS; that one is
# the larger of the init's and the parent's at the clone, which vfork hands on) with
# bench/rusage.c as the command; it needs gcc.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
rev=${1:?usage: bench/ab.sh REV [ab flags]}
shift
[ "$(id -u)" = 0 ] || { echo "bench/ab.sh: run as root" >&2; exit 1; }
[ -x /bin/busybox ] || { echo "bench/ab.sh: needs a static /bin/busybox (busybox-static)" >&2; exit 1; }
work=$(mktemp -d /tmp/ctrab.XXXXXX)
cleanup() {
	git -C "$root" worktree remove --force "$work/a" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
git -C "$root" worktree add -q --detach "$work/a" "$rev"
(cd "$work/a" && go build -o "$work/ctrrun-a" ./bench/ctrrun)
(cd "$root" && go build -o "$work/ctrrun-b" ./bench/ctrrun && go build -o "$work/ab" ./bench/ab)
mkdir -p "$work/rootfs/bin" "$work/rootfs/proc" "$work/rootfs/sys" "$work/rootfs/dev" "$work/rootfs/tmp" "$work/rootfs/etc"
cp /bin/busybox "$work/rootfs/bin/busybox"
for a in sh true; do ln -s busybox "$work/rootfs/bin/$a"; done
if command -v gcc >/dev/null; then gcc -static -O1 -o "$work/rootfs/bin/rusage" "$here/rusage.c"; fi
echo "A: $(git -C "$root" rev-parse --short "$rev")  B: working tree of $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet || echo ' + changes')"
"$work/ab" -a "$work/ctrrun-a" -b "$work/ctrrun-b" -rootfs "$work/rootfs" "$@"
