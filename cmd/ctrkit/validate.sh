#!/usr/bin/env bash
# Runs the OCI validation suite (github.com/opencontainers/runtime-tools
# v0.9.0, validation/*) against ctrkit, runc or crun, as root.
#
#   cmd/ctrkit/validate.sh [-runtime ctrkit|runc|crun]... [-only PROG]... [-ci]
#
# runtime-tools is not part of this repository: it is fetched through the Go
# module proxy into a scratch module that pins runtime-spec v1.0.2 and selinux
# v1.8.0 (the versions it builds with) and built with CGO_ENABLED=0. The root
# file system is a busybox rootfs-amd64.tar.gz made from /bin/busybox
# (busybox-static). ctrkit is built from this checkout.
#
# Each program runs in a directory holding runtimetest and the tarball (the
# programs look for both in their working directory), with RUNTIME set and a
# per-program timeout. crun 1.8.1 refuses this kind of machine's hybrid cgroup
# layout (cgroup v1 plus a cgroup2 mount with controllers); for crun the suite
# runs in a private mount namespace where an empty file is bound over the
# cgroup2 mount's cgroup.controllers.
#
# Counting: a program's assertions are its top-level TAP lines. "ok N" lines
# (skips included, and counted apart) count as passed, unless the program
# exits non-zero: it then failed as a whole (it could not create its
# container, or util.Fatal reported that the check it exists for failed, as
# process_capabilities_fail does after printing a container's results), so
# its ok lines count for nothing (they stay in raw_ok) and it counts one "not
# ok". "not ok N" lines count as failed, and so does an error diagnostic
# printed before any result line (hooks, prestart, poststart_fail report
# failures that way under an empty plan). Nested results (runtimetest's TAP
# inside a YAML "stdout" string: hostname, masked and readonly paths,
# seccomp) are reported in their own columns, not in the totals.
#
# Output: a table per runtime and the totals; OUT/RUNTIME.tsv with one row per
# program (program, ok, notok, skip, raw_ok, nested_ok, nested_notok, exit,
# seconds);
# OUT/RUNTIME/PROG.tap and .err keep each program's output.
#
# Environment:
#   CTRKIT_VALIDATE_CACHE  directory for the scratch module, the built programs
#                          and the rootfs tarball, kept between runs (default:
#                          a temporary directory removed at the end)
#   CTRKIT_VALIDATE_OUT    output directory, kept (default: CACHE/out, or a
#                          new temporary directory without a cache)
#   CTRKIT_VALIDATE_TIMEOUT per-program timeout in seconds (default 120)
#
# -ci runs ctrkit and crun (installing nothing: crun must be on PATH) and
# exits 1 when ctrkit's ok count is below crun's in the same run. It takes
# about 4 minutes on a 2-core machine (1 to build, 3 to run).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
rtversion=v0.9.0
runtimes=()
only=()
ci=0
while [ $# -gt 0 ]; do
  case "$1" in
  -runtime) runtimes+=("$2"); shift 2 ;;
  -only) only+=("$2"); shift 2 ;;
  -ci) ci=1; shift ;;
  -h | -help | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "validate.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ $ci = 1 ]; then
  runtimes=(ctrkit crun)
elif [ ${#runtimes[@]} -eq 0 ]; then
  runtimes=(ctrkit)
fi
if [ "$(id -u)" != 0 ]; then
  echo "validate.sh: must run as root" >&2
  exit 2
fi
for tool in go tar timeout unshare /bin/busybox; do
  command -v "$tool" >/dev/null || { echo "validate.sh: needs $tool" >&2; exit 2; }
done

if [ -n "${CTRKIT_VALIDATE_CACHE:-}" ]; then
  cache=$CTRKIT_VALIDATE_CACHE
  mkdir -p "$cache"
else
  cache=$(mktemp -d /tmp/ctrkit-validate.XXXXXX)
  trap 'rm -rf "$cache"' EXIT
fi
cache=$(cd "$cache" && pwd)
if [ -n "${CTRKIT_VALIDATE_OUT:-}" ]; then
  out=$CTRKIT_VALIDATE_OUT
elif [ -n "${CTRKIT_VALIDATE_CACHE:-}" ]; then
  out=$cache/out
else
  out=$(mktemp -d /tmp/ctrkit-validate-out.XXXXXX)
fi
timeout_s=${CTRKIT_VALIDATE_TIMEOUT:-120}
bin=$cache/bin
mkdir -p "$bin" "$out"

# 1. runtime-tools' programs, from a scratch module.
if [ ! -x "$bin/runtimetest" ] || [ "$(cat "$bin/.version" 2>/dev/null)" != $rtversion ]; then
  mod=$cache/mod
  rm -rf "$mod" && mkdir -p "$mod"
  cat >"$mod/go.mod" <<EOF
module ctrkit.local/rtvalidate

go 1.21

require github.com/opencontainers/runtime-tools $rtversion

replace github.com/opencontainers/runtime-spec => github.com/opencontainers/runtime-spec v1.0.2

replace github.com/opencontainers/selinux => github.com/opencontainers/selinux v1.8.0
EOF
  cat >"$mod/tools.go" <<'EOF'
//go:build tools

package tools

import (
	_ "github.com/opencontainers/runtime-tools/cmd/runtimetest"
	_ "github.com/opencontainers/runtime-tools/validation/util"
)
EOF
  echo "building runtime-tools $rtversion validation programs in $mod" >&2
  (cd "$mod" && GOFLAGS=-mod=mod go mod tidy >/dev/null 2>&1 &&
    CGO_ENABLED=0 go build -o "$bin/" github.com/opencontainers/runtime-tools/validation/... &&
    CGO_ENABLED=0 go build -o "$bin/runtimetest" github.com/opencontainers/runtime-tools/cmd/runtimetest)
  echo $rtversion >"$bin/.version"
fi

# 2. The busybox root file system, laid out like runtime-tools' own.
if [ ! -s "$bin/rootfs-amd64.tar.gz" ]; then
  rfs=$(mktemp -d "$cache/rootfs.XXXXXX")
  # The root directory's mode goes into the tarball ("./") and onto each
  # bundle: 0755, as in runtime-tools' own, so that a container user other
  # than root (process_user, user namespaces) can enter it.
  chmod 0755 "$rfs"
  mkdir -p "$rfs"/{bin,dev,etc,proc,sys}
  cp /bin/busybox "$rfs/bin/busybox"
  for applet in $("$rfs/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$rfs/bin/$applet"
  done
  printf '%s\n' root:x:0:0:root:/root:/bin/sh daemon:x:1:1:daemon:/:/bin/false \
    bin:x:2:2:bin:/bin:/bin/false nobody:x:65534:65534:nobody:/:/bin/false >"$rfs/etc/passwd"
  printf '%s\n' root:x:0: daemon:x:1: bin:x:2: users:x:100: nogroup:x:65533: \
    nobody:x:65534: >"$rfs/etc/group"
  tar -czf "$bin/rootfs-amd64.tar.gz.tmp" --numeric-owner --owner=0 --group=0 -C "$rfs" .
  mv "$bin/rootfs-amd64.tar.gz.tmp" "$bin/rootfs-amd64.tar.gz"
  rm -rf "$rfs"
fi

# 3. ctrkit from this checkout (cgo: its exec joins namespaces in a C constructor).
for rt in "${runtimes[@]}"; do
  if [ "$rt" = ctrkit ]; then
    (cd "$repo" && go build -o "$cache/ctrkit" ./cmd/ctrkit)
  fi
done

programs=()
if [ ${#only[@]} -gt 0 ]; then
  programs=("${only[@]}")
else
  for p in "$bin"/*; do
    name=$(basename "$p")
    case "$name" in runtimetest | rootfs-amd64.tar.gz | ctrkit) continue ;; esac
    [ -x "$p" ] && programs+=("$name")
  done
fi

# count FILE EXIT: ok notok skip raw_ok nested_ok nested_notok (see Counting).
count() {
  awk -v rc="$2" '
    /^ok [0-9]+/ { raw++; if ($0 ~ /# [Ss][Kk][Ii][Pp]/) skip++; seen = 1; next }
    /^not ok [0-9]+/ { notok++; seen = 1; next }
    # An error diagnostic before any result line: a failure the program
    # reports without a "not ok" line (hooks, prestart, poststart_fail...).
    /^    "error": "[^"]/ { if (!seen) silent++ }
    /^    "stdout": "/ {
      s = $0; nok += gsub(/\\nok [0-9]+/, "", s); s = $0; nnot += gsub(/\\nnot ok [0-9]+/, "", s)
    }
    END {
      ok = rc == 0 ? raw : 0
      if (rc != 0) skip = 0
      notok += silent + (rc != 0)
      printf "%d\t%d\t%d\t%d\t%d\t%d\n", ok, notok, skip, raw, nok, nnot
    }
  ' "$1"
}

# run_suite RUNTIME_NAME RUNTIME_PATH: runs every program, writes OUT/NAME.tsv.
run_suite() {
  local name=$1 path=$2 work
  # The bundles go in $work/tmp, open to every user on the way as /tmp is (the
  # cache may be under a private directory), for containers whose root is not
  # the host's (user namespaces).
  work=$(mktemp -d /tmp/ctrkit-validate-run.XXXXXX)
  chmod 0755 "$work"
  # copies: the programs copy runtimetest into each bundle, a symlink as a symlink
  cp "$bin/runtimetest" "$work/runtimetest"
  cp "$bin/rootfs-amd64.tar.gz" "$work/rootfs-amd64.tar.gz"
  mkdir -p "$out/$name" "$work/tmp"
  chmod 1777 "$work/tmp"
  local tsv=$out/$name.tsv
  printf 'program\tok\tnotok\tskip\traw_ok\tnested_ok\tnested_notok\texit\tseconds\n' >"$tsv"
  for prog in "${programs[@]}"; do
    local start rc=0
    start=$(date +%s)
    (cd "$work" && TMPDIR=$work/tmp RUNTIME=$path timeout -k 10 "$timeout_s" "$bin/$prog" \
      >"$out/$name/$prog.tap" 2>"$out/$name/$prog.err" </dev/null) || rc=$?
    printf '%s\t%s\t%s\t%s\n' "$prog" "$(count "$out/$name/$prog.tap" $rc)" "$rc" \
      "$(($(date +%s) - start))" >>"$tsv"
  done
  # A runtime that mounts in the caller's namespace (a spec without a mount
  # namespace: linux_ns_itype) or a program killed by the timeout leaves
  # mounts and bundles in TMPDIR.
  awk -v w="$work/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m" || true; done
  rm -rf "$work"
}

# The cgroups the programs ask for (cgroupsPath /cgrouptest, or relative
# testdir/cgrouptest/container, which runtimes put under their own parent:
# ctrkit under /ctrkit, runc under the cgroup of the process that runs it)
# are removed by the runtimes, their parents are not: remove those the run
# made, once it is over.
own_cgroups=$(awk -F: '$3 != "/" { print substr($3, 2) "/" }' /proc/self/cgroup | sort -u)
cgroup_leftovers() {
  local h p o
  for h in /sys/fs/cgroup/*/; do
    for o in "" $own_cgroups; do
      for p in ctrkit/testdir/cgrouptest/container ctrkit/testdir/cgrouptest ctrkit/testdir \
        testdir/cgrouptest/container testdir/cgrouptest testdir cgrouptest; do
        if [ -d "$h$o$p" ]; then echo "$h$o$p"; fi
      done
    done
  done
}
cgroups_before=$(cgroup_leftovers)
remove_cgroup_leftovers() {
  local d
  for d in $(cgroup_leftovers); do
    grep -qxF "$d" <<<"$cgroups_before" || rmdir "$d" 2>/dev/null || true
  done
}

# crun refuses a hybrid layout whose cgroup2 mount has controllers: run it
# in a private mount namespace where an empty file is bound over the cgroup2
# mount's cgroup.controllers.
unified=/sys/fs/cgroup/unified
for rt in "${runtimes[@]}"; do
  case "$rt" in
  ctrkit) path=$cache/ctrkit ;;
  *) path=$(command -v "$rt") || { echo "validate.sh: $rt not found" >&2; exit 2; } ;;
  esac
  echo "running ${#programs[@]} programs with RUNTIME=$path" >&2
  if [ "$rt" = crun ] && [ -n "$(cat $unified/cgroup.controllers 2>/dev/null)" ]; then
    export -f run_suite count
    export cache bin out timeout_s
    progs=$(printf '%s\n' "${programs[@]}")
    empty=$(mktemp "$cache/empty.XXXXXX")
    export empty
    unshare -m --propagation private bash -c '
      set -euo pipefail
      mount --bind -o ro "$empty" '$unified'/cgroup.controllers
      mapfile -t programs <<<"$0"
      run_suite "$1" "$2"' "$progs" "$rt" "$path"
    rm -f "$empty"
  else
    run_suite "$rt" "$path"
  fi
done

remove_cgroup_leftovers

# Report: per-program table and totals.
summary() {
  awk -F'\t' -v rt="$1" '
    NR > 1 { ok += $2; notok += $3; skip += $4; raw += $5; nok += $6; nnot += $7; secs += $9 }
    NR > 1 && ($3 > 0 || $8 != 0) { printf "  %-36s ok %4d  not ok %3d  skip %3d  raw ok %4d  exit %s\n", $1, $2, $3, $4, $5, $8 }
    END { printf "%-8s ok %d (skip %d)  not ok %d  raw ok %d  nested ok %d  nested not ok %d  (%ds)\n", rt, ok, skip, notok, raw, nok, nnot, secs }
  ' "$out/$1.tsv"
}
for rt in "${runtimes[@]}"; do
  summary "$rt"
done
echo "per-program counts: $out/<runtime>.tsv" >&2

if [ $ci = 1 ]; then
  mine=$(awk -F'\t' 'NR > 1 { s += $2 } END { print s + 0 }' "$out/ctrkit.tsv")
  theirs=$(awk -F'\t' 'NR > 1 { s += $2 } END { print s + 0 }' "$out/crun.tsv")
  if [ "$mine" -lt "$theirs" ]; then
    echo "validate.sh: ctrkit passes $mine assertions, crun $theirs: ctrkit must pass at least as many" >&2
    exit 1
  fi
  echo "validate.sh: ctrkit $mine >= crun $theirs" >&2
fi
