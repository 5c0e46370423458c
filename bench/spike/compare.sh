#!/usr/bin/env bash
# compare.sh: the spike (bench/spike: no re-exec, a planned raw-syscall child)
# against the library's re-exec path (bench/ctrrun, default variant), the Go
# re-exec floor (bench/gofloor) and the C floor (bench/floor.c), all starting
# /bin/true in one busybox rootfs, N containers in a loop per process, rounds
# alternating with the order rotated each round. First it checks that the
# spike's container is isolated like the library's (the same mounts, seccomp
# mode 2, Docker's capabilities, no_new_privs, its own namespaces).
#
#   sudo bench/spike/compare.sh [-n 200] [-rounds 6] [-whole 50] [-strace]
#
# Per tool: the median wall time per container over every sample and the
# 25th-75th percentiles, CPU time (user+sys) and minor page faults per
# container from wait4's rusage of the whole process (GNU time), and with
# perf, instructions per container. Then throughput two at a time (-j 2 for
# the spike and ctrrun; two shell loops of bubblewrap), and each tool as a
# whole process per container (-whole runs per tool per round, the same
# rotation; fork to reap as a shell loop sees it, CPU and faults of all the
# processes). -strace adds the system calls per container (strace -f -c over
# 50 containers, every process).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
n=200 rounds=6 whole=50 do_strace=0
while [ $# -gt 0 ]; do
	case $1 in
	-n) n=$2; shift 2 ;;
	-rounds) rounds=$2; shift 2 ;;
	-whole) whole=$2; shift 2 ;;
	-strace) do_strace=1; shift ;;
	*) echo "usage: compare.sh [-n N] [-rounds R] [-whole W] [-strace]" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "compare.sh: run as root" >&2; exit 1; }
[ -x /bin/busybox ] || { echo "compare.sh: needs a static /bin/busybox (busybox-static)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "compare.sh: needs GNU time (/usr/bin/time)" >&2; exit 1; }
work=$(mktemp -d /tmp/spikecmp.XXXXXX)
trap 'rm -rf "$work"' EXIT
(cd "$root" && go build -o "$work/spike" ./bench/spike && go build -o "$work/ctrrun" ./bench/ctrrun &&
	go build -o "$work/gofloor" ./bench/gofloor)
gcc -O2 -static -o "$work/floor" "$root/bench/floor.c"
mkdir -p "$work/rootfs/bin" "$work/rootfs/proc" "$work/rootfs/sys" "$work/rootfs/dev" "$work/rootfs/tmp" "$work/rootfs/etc"
cp /bin/busybox "$work/rootfs/bin/busybox"
for a in sh true cat grep readlink sed cut hostname; do ln -s busybox "$work/rootfs/bin/$a"; done

# Isolation: the spike's container against the library's.
probe='grep -E "^(Seccomp|CapEff|CapBnd|NoNewPrivs):" /proc/self/status; hostname;
for ns in mnt pid net uts ipc cgroup; do readlink /proc/self/ns/$ns | sed "s/:.*//"; done;
cut -d" " -f5,6,9 /proc/self/mountinfo'
"$work/spike" "$work/rootfs" /bin/sh -c "$probe" >"$work/probe.spike"
"$work/ctrrun" "$work/rootfs" /bin/sh -c "$probe" >"$work/probe.lib"
grep -q "^/proc rw,nosuid,nodev,noexec,relatime proc$" "$work/probe.spike" || { echo "compare.sh: the probe saw no /proc mount:" >&2; cat "$work/probe.spike" >&2; exit 1; }
if ! diff -u "$work/probe.lib" "$work/probe.spike"; then
	echo "compare.sh: the spike's container differs from the library's (above)" >&2
	exit 1
fi
for ns in mnt pid net uts ipc cgroup; do
	if [ "$("$work/spike" "$work/rootfs" /bin/readlink /proc/self/ns/$ns)" = "$(readlink /proc/self/ns/$ns)" ]; then
		echo "compare.sh: the spike's container shares the $ns namespace" >&2
		exit 1
	fi
done
grep -q '^Seccomp:	2' "$work/probe.spike" && grep -q '^NoNewPrivs:	1' "$work/probe.spike" &&
	grep -q '^CapEff:	00000000a80425fb' "$work/probe.spike" || { echo "compare.sh: spike not locked down" >&2; exit 1; }
echo "isolation: the spike's container matches the library's default (status, hostname, namespaces of its own, $(grep -c '^/' "$work/probe.spike") mounts)"

tools=(spike spike-vm ctrrun gofloor floor)
# cmdline TOOL [N]: the tool starting N containers in a loop (none: one, as a whole process).
cmdline() {
	local loop=""
	[ -n "${2:-}" ] && loop="-n $2"
	case $1 in
	spike) echo "$work/spike $loop $work/rootfs /bin/true" ;;
	spike-vm) echo "$work/spike -vm $loop $work/rootfs /bin/true" ;;
	ctrrun) echo "$work/ctrrun $loop -variant default $work/rootfs /bin/true" ;;
	gofloor) echo "$work/gofloor $loop $work/rootfs /bin/true" ;;
	floor) echo "$work/floor $loop $work/rootfs /bin/true" ;;
	esac
}
is_go_loop() { [ "$1" = spike ] || [ "$1" = spike-vm ] || [ "$1" = ctrrun ]; } # JSON and one untimed warm-up
perf=0
# Instructions where the CPU counts them (this paravirtualised guest has no hardware counters).
if command -v perf >/dev/null && perf stat -x, -e instructions true 2>&1 >/dev/null | grep -q '^[0-9]'; then
	perf=1
fi
load0=$(cut -d' ' -f1-3 /proc/loadavg)
for ((r = 0; r < rounds; r++)); do
	for ((k = 0; k < ${#tools[@]}; k++)); do
		t=${tools[$(((k + r) % ${#tools[@]}))]}
		# shellcheck disable=SC2046
		/usr/bin/time -o "$work/time.$t.$r" -f '%U %S %R' $(cmdline "$t" "$n") >"$work/out.$t.$r"
		if [ "$perf" = 1 ]; then
			# shellcheck disable=SC2046
			perf stat -x, -e instructions -o "$work/perf.$t.$r" $(cmdline "$t" "$n") >/dev/null
		fi
	done
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)

per=() # containers per process: n timed + 1 warm-up for the Go tools
printf '\n%d rounds of %d containers per tool; load average %s at the start, %s at the end\n\n' "$rounds" "$n" "$load0" "$load1"
printf '| tool | median ms | p25-p75 ms | x spike | x gofloor | CPU ms/ctr | minflt/ctr | Minstr/ctr |\n|---|---|---|---|---|---|---|---|\n'
declare -A med
for t in "${tools[@]}"; do
	for ((r = 0; r < rounds; r++)); do
		if is_go_loop "$t"; then
			sed 's/.*"ns":\[\([^]]*\)\].*/\1/' "$work/out.$t.$r" | tr , '\n'
		else
			cat "$work/out.$t.$r"
		fi
	done | sort -n >"$work/ns.$t"
	med[$t]=$(awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}' "$work/ns.$t")
done
for t in "${tools[@]}"; do
	c=$n
	is_go_loop "$t" && c=$((n + 1)) # one untimed warm-up container
	cpu=$(cat "$work"/time.$t.* | awk -v c="$c" '{s+=$1+$2; f+=$3; k++} END {printf "%.3f %.0f", s*1000/(c*k), f/(c*k)}')
	ins=-
	if [ "$perf" = 1 ]; then
		ins=$(cat "$work"/perf.$t.* | awk -F, -v c="$c" '$3=="instructions" || $3 ~ /^instructions/ {s+=$1; k++} END {if (k) printf "%.2f", s/(c*k*1e6); else print "-"}')
	fi
	awk -v m="${med[$t]}" -v s="${med[spike]}" -v g="${med[gofloor]}" -v t="$t" -v cpu="$cpu" -v ins="$ins" \
		'{a[NR]=$1} END {split(cpu, u, " "); printf "| %s | %.2f | %.2f-%.2f | %.2f | %.2f | %s | %s | %s |\n", t, m/1e6, a[int(NR/4)+1]/1e6, a[int(3*NR/4)]/1e6, m/s, m/g, u[1], u[2], ins}' "$work/ns.$t"
done

# Throughput two at a time.
printf '\nthroughput two at a time (%d containers, %d rounds, alternating):\n\n| tool | containers/s (median of rounds) |\n|---|---|\n' "$n" "$rounds"
for ((r = 0; r < rounds; r++)); do
	for t in spike spike-vm ctrrun bwrap; do
		case $t in
		spike) w=$("$work/spike" -n "$n" -j 2 "$work/rootfs" /bin/true | sed 's/.*"wall_ns":\([0-9]*\).*/\1/') ;;
		spike-vm) w=$("$work/spike" -vm -n "$n" -j 2 "$work/rootfs" /bin/true | sed 's/.*"wall_ns":\([0-9]*\).*/\1/') ;;
		ctrrun) w=$("$work/ctrrun" -n "$n" -j 2 "$work/rootfs" /bin/true | sed 's/.*"wall_ns":\([0-9]*\).*/\1/') ;;
		bwrap)
			command -v bwrap >/dev/null || continue
			t0=$(date +%s%N)
			for h in 1 2; do
				(for ((i = 0; i < n / 2; i++)); do bwrap --unshare-all --bind "$work/rootfs" / --proc /proc --dev /dev /bin/true; done) &
			done
			wait
			w=$(($(date +%s%N) - t0))
			;;
		esac
		echo "$n $w" >>"$work/tp.$t"
	done
done
for t in spike spike-vm ctrrun bwrap; do
	[ -f "$work/tp.$t" ] || continue
	awk '{print $1 * 1e9 / $2}' "$work/tp.$t" | sort -n | awk -v t="$t" '{a[NR]=$1} END {printf "| %s | %.0f |\n", t, a[int((NR+1)/2)]}'
done

# One container per process.
if [ "$whole" -gt 0 ]; then
	printf '\nwhole process, one container each (%d per tool per round, %d rounds):\n\n| tool | ms/process (median of rounds) | CPU ms/process | minflt/process |\n|---|---|---|---|\n' "$whole" "$rounds"
	wtools=(spike spike-vm ctrrun gofloor floor)
	for ((r = 0; r < rounds; r++)); do
		for ((k = 0; k < ${#wtools[@]}; k++)); do
			t=${wtools[$(((k + r) % ${#wtools[@]}))]}
			t0=$(date +%s%N)
			# shellcheck disable=SC2016
			/usr/bin/time -o "$work/wtime.$t.$r" -f '%U %S %R' bash -c 'for ((i = 0; i < $1; i++)); do $2 || exit 1; done' _ "$whole" "$(cmdline "$t")"
			echo $((($(date +%s%N) - t0) / whole)) >>"$work/whole.$t"
		done
	done
	for t in "${wtools[@]}"; do
		cpu=$(cat "$work"/wtime.$t.* | awk -v c="$whole" '{s+=$1+$2; f+=$3; k++} END {printf "%.3f | %.0f", s*1000/(c*k), f/(c*k)}')
		sort -n "$work/whole.$t" | awk -v t="$t" -v cpu="$cpu" '{a[NR]=$1} END {printf "| %s | %.2f | %s |\n", t, a[int((NR+1)/2)]/1e6, cpu}'
	done
fi
load2=$(cut -d' ' -f1-3 /proc/loadavg)
echo
echo "load average at the end: $load2"

if [ "$do_strace" = 1 ] && command -v strace >/dev/null; then
	printf '\nsystem calls per container (strace -f -c, 50 containers, every process of the tool):\n\n| tool | calls/ctr | errors/ctr |\n|---|---|---|\n'
	for t in "${tools[@]}"; do
		cl=$(cmdline "$t" 50)
		c=50
		is_go_loop "$t" && c=51
		# shellcheck disable=SC2086
		strace -f -c -o "$work/strace.$t" $cl >/dev/null 2>&1 || true
		awk -v c=$c -v t="$t" '$NF=="total" {printf "| %s | %.0f | %.0f |\n", t, $(NF-2)/c, ($(NF-1) ~ /^[0-9]+$/ ? $(NF-1) : 0)/c}' "$work/strace.$t"
	done
fi
