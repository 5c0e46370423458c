#!/usr/bin/env bash
# The cgroup v2 stage of CI: runs the root package's tests, as root, on a pure
# cgroup v2 machine. Our machines are hybrid (v1 controllers and a cgroup2
# mount); most users' are pure v2.
#
# It boots Debian's kernel (linux-image-amd64, fetched with apt-get download
# and unpacked with dpkg -x into a cache directory, never installed) under
# qemu-system-x86_64 with TCG (a nested KVM guest hangs in early boot here),
# from an initramfs built here: a static busybox, the package's test binary
# (CGO_ENABLED=0, static), the tests' C programs built beforehand on this host
# (the guest has no compiler), and the kernel modules the tests load (veth,
# bridge, loop, overlay and their dependencies). The guest's init copies itself
# into a tmpfs and switch_roots there (pivot_root cannot leave an initramfs),
# mounts only cgroup2 on /sys/fs/cgroup with every controller enabled in the
# root's cgroup.subtree_control, runs the test binary and prints its output and
# an end marker with its exit status on the serial console, which QEMU writes
# to a file. The stage fails when the marker is missing, the status is not 0 or
# a test failed; it prints the counts and the skip reasons.
#
# By hand, as root: .ci/v2vm.sh [test binary flags], e.g.
#   .ci/v2vm.sh -test.run 'TestCgroup|TestLimits'
# Environment: V2VM_CACHE (kernel cache, /var/cache/ctrkit-v2vm), V2VM_LOG
# (the serial log, $V2VM_CACHE/serial.log), V2VM_TIMEOUT (seconds for the
# whole guest, 1500), V2VM_TEST_TIMEOUT (-test.timeout, 20m).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

cache=${V2VM_CACHE:-/var/cache/ctrkit-v2vm}
log=${V2VM_LOG:-$cache/serial.log}
vm_timeout=${V2VM_TIMEOUT:-1500}
test_timeout=${V2VM_TEST_TIMEOUT:-20m}
# The modules the tests load; their dependencies are added from modinfo.
modules=(veth bridge loop overlay tun)

say() { echo "v2vm: $*"; }

# Debian packages: QEMU, a static busybox for the guest (and the tests' root
# file systems), cpio for the initramfs, gcc and libc6-dev for the C programs.
pkgs=(qemu-system-x86 busybox-static cpio gcc libc6-dev file)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
updated=
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && updated=1
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The kernel: the package linux-image-amd64 depends on, unpacked once per version.
mkdir -p "$cache"
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
if [ -z "$kpkg" ] && [ -z "$updated" ]; then
  apt-get update -qq && updated=1
  kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
fi
[ -n "$kpkg" ] || { say "cannot resolve linux-image-amd64's kernel package"; exit 1; }
kroot=$cache/$kpkg
if [ ! -e "$kroot/.unpacked" ]; then
  # One kernel at a time: an older one that Debian replaced goes.
  rm -rf "$cache"/linux-image-* "$cache/dl"
  mkdir -p "$cache/dl" "$kroot"
  # apt drops root for the download when its user can write there.
  chown _apt "$cache/dl" 2>/dev/null || true
  (cd "$cache/dl" && apt-get download -q linux-image-amd64 "$kpkg")
  for deb in "$cache"/dl/*.deb; do dpkg -x "$deb" "$kroot"; done
  rm -rf "$cache/dl"
  touch "$kroot/.unpacked"
fi
vmlinuz=$(ls "$kroot"/boot/vmlinuz-* | head -n1)
kver=${vmlinuz##*/vmlinuz-}
kmods=$kroot/lib/modules/$kver
[ -d "$kmods" ] || kmods=$kroot/usr/lib/modules/$kver

work=$(mktemp -d /tmp/ctrkit-v2vm.XXXXXX)
trap 'rm -rf "$work"' EXIT
img=$work/root
mkdir -p "$img"/{bin,sbin,usr/bin,usr/sbin,lib,etc,proc,sys,dev,run,tmp,root,newroot,ci/cprogs,ci/modules}
chmod 1777 "$img/tmp"

# The test binary, static, and the C programs of its tests.
CGO_ENABLED=0 go test -c -o "$img/ci/container.test" .
file "$img/ci/container.test" | grep -q 'statically linked' || { say "the test binary is not static"; exit 1; }
out=$(cd "$work" && CTRKIT_TEST_BUILD_CPROGS=$img/ci/cprogs "$img/ci/container.test" -test.run '^TestBuildCPrograms$' -test.v -test.count=1 2>&1) ||
  { echo "$out"; say "building the C test programs failed"; exit 1; }
grep -q -- '--- PASS: TestBuildCPrograms' <<<"$out" || { echo "$out"; say "TestBuildCPrograms did not pass"; exit 1; }

bb=/bin/busybox
file "$bb" | grep -q 'statically linked' || { say "$bb is not static"; exit 1; }
cp "$bb" "$img/bin/busybox"

# Perl (perl-base, Essential), with its libraries at the paths the host's
# dynamic loader finds them: one test's script is perl's.
if [ -x /usr/bin/perl ]; then
  cp -L --parents /usr/bin/perl $(ldd /usr/bin/perl | grep -o '/[^ ]*') "$img/"
fi

# Kernel modules, dependencies first: modules.order lists them for insmod.
declare -A kopath=() loaded=()
while IFS= read -r f; do
  n=${f##*/}; n=${n%%.ko*}; kopath[${n//-/_}]=$f
done < <(find "$kmods/kernel" -name '*.ko*')
order=()
addmod() {
  local m=${1//-/_} f deps d
  [ -n "${loaded[$m]:-}" ] && return
  f=${kopath[$m]:-}
  [ -n "$f" ] || { say "no module $m in $kmods"; exit 1; }
  loaded[$m]=1
  case $f in
    *.ko) cp "$f" "$img/ci/modules/$m.ko" ;;
    *.ko.xz) xz -dc "$f" >"$img/ci/modules/$m.ko" ;;
    *.ko.zst) zstd -qdc "$f" >"$img/ci/modules/$m.ko" ;;
    *.ko.gz) gzip -dc "$f" >"$img/ci/modules/$m.ko" ;;
  esac
  deps=$(tr '\0' '\n' <"$img/ci/modules/$m.ko" | sed -n 's/^depends=//p' | head -n1)
  for d in ${deps//,/ }; do addmod "$d"; done
  order+=("$m")
}
for m in "${modules[@]}"; do addmod "$m"; done
printf '%s\n' "${order[@]}" >"$img/ci/modules.order"

cat >"$img/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$img/etc/group" <<'EOF'
root:x:0:
tty:x:5:
nogroup:x:65534:
EOF
printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' >"$img/etc/hosts"
echo v2vm >"$img/etc/hostname"

# What the tests see of the host's environment, and their flags.
{
  echo "PATH=/usr/sbin:/usr/bin:/sbin:/bin"
  echo "HOME=/root"
  echo "CTRKIT_TEST_CPROGS=/ci/cprogs"
  [ -n "${CI:-}" ] && echo "CI=$CI"
} >"$img/ci/env"
args=(-test.v -test.count=1 "-test.timeout=$test_timeout" "$@")
printf '%s\n' "${args[@]}" >"$img/ci/args"

cat >"$img/init" <<'EOF'
#!/bin/busybox sh
# The guest's init. First from the initramfs: copy it into a tmpfs and
# switch_root there, since pivot_root cannot leave the initramfs.
if [ "$1" != stage2 ]; then
  /bin/busybox mount -t tmpfs -o mode=0755 tmpfs /newroot
  for d in /*; do
    [ "$d" = /newroot ] || /bin/busybox cp -a "$d" /newroot/
  done
  exec /bin/busybox switch_root /newroot /init stage2
fi
/bin/busybox --install -s
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=0755 tmpfs /run
echo "1 4 1 7" >/proc/sys/kernel/printk
# Only cgroup2, as systemd mounts it, with every controller given to the
# root's children. The root cgroup is exempt from the no-internal-processes
# rule, so the tests run there and make their containers' cgroups below it.
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
  echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control || echo "v2vm: cannot enable the $c controller"
done
for m in $(cat /ci/modules.order); do
  insmod "/ci/modules/$m.ko" || echo "v2vm: insmod $m failed"
done
hostname v2vm
ip link set lo up
echo "v2vm: kernel $(uname -r), cgroup controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
set --
while IFS= read -r a; do set -- "$@" "$a"; done </ci/args
cd /tmp
env -i $(cat /ci/env) /ci/container.test "$@" 2>&1
rc=$?
[ "$rc" = 0 ] || dmesg | tail -n 40
echo "CTRKIT-V2VM-END rc=$rc"
sync
poweroff -f
EOF
chmod 755 "$img/init"

(cd "$img" && find . -mindepth 1 | cpio -o -H newc --quiet) >"$work/initrd.cpio"

say "kernel $kver, initramfs $(du -h "$work/initrd.cpio" | cut -f1), modules: ${order[*]}"
rm -f "$log"
start=$(date +%s)
rc=0
timeout -k 10 "$vm_timeout" qemu-system-x86_64 -accel tcg -cpu max -smp 4 -m 3G \
  -nographic -monitor none -no-reboot -nic none \
  -kernel "$vmlinuz" -initrd "$work/initrd.cpio" \
  -append "console=ttyS0 panic=-1 loglevel=4 rdinit=/init" \
  -serial "file:$log" </dev/null || rc=$?
say "guest ran $(($(date +%s) - start)) s (qemu exit status $rc), serial log: $log"

if ! go run .ci/v2vm/summary.go "$log" >"$work/summary"; then
  say "the guest's output, less the RUN/PAUSE/CONT/NAME and PASS lines:"
  tr -d '\r' <"$log" | grep -av -E '^=== (RUN|PAUSE|CONT|NAME)|^\s*--- PASS' || true
  cat "$work/summary"
  exit 1
fi
cat "$work/summary"
