//go:build linux

// Command ab compares two builds of bench/ctrrun side by side: it runs them
// alternately (A B A B ...), each round starting -n containers in a loop in
// one process, and prints, per variant, the median time per container of
// each build over all rounds, the spread of the round medians, and B/A. It is
// how a change to the start path is measured against the commit before it
// in the same run (bench/ab.sh builds both).
//
//	ab -a OLD/ctrrun -b NEW/ctrrun -rootfs ROOTFS [-n 300] [-rounds 6] [-variants default,limits] [-rusage 100]
//
// With -rusage N it also starts N single containers per build (ctrrun's
// whole-process mode) whose command is /bin/rusage (bench/rusage.c), and
// prints the medians of what each init used before its execve: CPU time,
// minor page faults and peak RSS.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	a := flag.String("a", "", "the baseline ctrrun binary")
	b := flag.String("b", "", "the changed ctrrun binary")
	rootfs := flag.String("rootfs", "", "a busybox root file system with /bin/true")
	n := flag.Int("n", 300, "containers per round")
	rounds := flag.Int("rounds", 6, "rounds per build, alternating")
	vs := flag.String("variants", "default", "comma-separated bench/variants names")
	ru := flag.Int("rusage", 0, "also measure the init's own usage over `N` single containers per build")
	flag.Parse()
	if *a == "" || *b == "" || *rootfs == "" {
		flag.Usage()
		os.Exit(2)
	}
	fmt.Printf("| variant | A median | B median | B/A | A round medians | B round medians | CPU A / B per container | page faults A / B |\n|---|---|---|---|---|---|---|---|\n")
	for _, v := range strings.Split(*vs, ",") {
		var all [2][]int64
		var per [2][]string
		var cpu, flt [2][]int64
		for r := 0; r < *rounds; r++ {
			for i, bin := range []string{*a, *b} {
				if r%2 == 1 { // B first every other round
					bin = []string{*b, *a}[i]
					i = 1 - i
				}
				ns, u, err := run(bin, *rootfs, v, *n)
				if err != nil {
					fmt.Fprintf(os.Stderr, "ab: %s -variant %s: %v\n", bin, v, err)
					os.Exit(1)
				}
				all[i] = append(all[i], ns...)
				cpu[i] = append(cpu[i], u.cpuNS)
				flt[i] = append(flt[i], u.minflt)
				per[i] = append(per[i], ms(median(ns)))
			}
		}
		ma, mb := median(all[0]), median(all[1])
		fmt.Printf("| %s | %s | %s | %.3f | %s | %s | %s / %s (%.3f) | %d / %d |\n", v, ms(ma), ms(mb), float64(mb)/float64(ma),
			strings.Join(per[0], " "), strings.Join(per[1], " "),
			ms(median(cpu[0])), ms(median(cpu[1])), float64(median(cpu[1]))/float64(median(cpu[0])),
			median(flt[0]), median(flt[1]))
	}
	if *ru > 0 {
		initUsage(*a, *b, *rootfs, *ru)
	}
}

// initUsage prints the medians of the inits' own usage (bench/rusage.c as the
// command), the two builds alternating container by container.
func initUsage(a, b, rootfs string, n int) {
	names := []string{"CPU (user+sys)", "minor page faults", "peak RSS (or the parent's at the clone: vfork)"}
	var got [2][3][]int64
	for i := 0; i < n; i++ {
		for j, bin := range []string{a, b} {
			out, err := exec.Command(bin, rootfs, "/bin/rusage").Output()
			var ut, st, minflt, majflt, rss int64
			if err == nil {
				_, err = fmt.Sscan(string(out), &ut, &st, &minflt, &majflt, &rss)
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "ab: %s %s /bin/rusage: %v: %s\n", bin, rootfs, err, out)
				os.Exit(1)
			}
			got[j][0] = append(got[j][0], ut+st)
			got[j][1] = append(got[j][1], minflt)
			got[j][2] = append(got[j][2], rss)
		}
	}
	fmt.Printf("\n| the init, before execve (%d each) | A | B | B/A |\n|---|---|---|---|\n", n)
	units := []string{"µs", "", "KiB"}
	for k, name := range names {
		ma, mb := median(got[0][k]), median(got[1][k])
		fmt.Printf("| %s | %d %s | %d %s | %.3f |\n", name, ma, units[k], mb, units[k], float64(mb)/float64(ma))
	}
}

// usage is what one round's ctrrun process used per container, with the
// inits and commands it waited for (wait4's rusage covers them): CPU time
// (user+sys) and minor page faults, the process's own start included.
type usage struct{ cpuNS, minflt int64 }

func run(bin, rootfs, variant string, n int) ([]int64, usage, error) {
	cmd := exec.Command(bin, "-n", fmt.Sprint(n), "-variant", variant, rootfs, "/bin/true")
	out, err := cmd.Output()
	if err != nil {
		return nil, usage{}, err
	}
	var res struct {
		NS []int64 `json:"ns"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, usage{}, fmt.Errorf("%w: %s", err, out)
	}
	var u usage
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		total := int64(n) + 1 // the warm-up container
		u.cpuNS = (ru.Utime.Nano() + ru.Stime.Nano()) / total
		u.minflt = ru.Minflt / total
	}
	return res.NS, u, nil
}

func median(xs []int64) int64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

func ms(ns int64) string {
	return fmt.Sprintf("%.3f ms", float64(time.Duration(ns))/float64(time.Millisecond))
}
