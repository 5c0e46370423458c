//go:build linux && amd64

package main

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"syscall"
	"time"
	"unsafe"
)

// -profile: where one container's time goes, from timestamps the parent
// takes around each part and the child takes after each step (a raw
// clock_gettime, ~1-2 µs each on this machine, which the step totals
// include: they overstate the child by that much per step).

const (
	tStart   = iota // start() entered
	tCgroup         // the cgroup made and opened
	tPlanned        // the pipe made, the plan built
	tClone          // just before clone3
	tResumed        // the parent runs again: the child exec'd
	tReaped         // wait4 returned
	tRemoved        // the cgroup removed
	tN
)

type profiler struct {
	t     [tN]int64
	times []int64 // the child's (childPlan.times)
	names []stepName
}

var prof *profiler

func now() int64 { return time.Now().UnixNano() } // monotonic enough over a few ms; the child's stamps are CLOCK_MONOTONIC

func monoNow() int64 {
	var ts syscall.Timespec
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 1, uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Sec*1e9 + ts.Nsec
}

func runProfile(rootfs string, cmd []string, stdio [3]int, n, warm int) error {
	for i := 0; i < warm; i++ {
		if err := runTrue(rootfs, cmd, stdio); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	type acc struct {
		name string
		ns   []int64
	}
	sums := map[string]*acc{}
	var order []string
	add := func(name string, d int64) {
		a := sums[name]
		if a == nil {
			a = &acc{name: name}
			sums[name] = a
			order = append(order, name)
		}
		a.ns = append(a.ns, d)
	}
	for k := 0; k < n; k++ {
		prof = &profiler{}
		if err := runTrue(rootfs, cmd, stdio); err != nil {
			return fmt.Errorf("container %d: %w", k, err)
		}
		p := prof
		prof = nil
		// The parent's stamps are time.Now (wall clock); the child's are
		// CLOCK_MONOTONIC: convert the child's by the offset now.
		off := now() - monoNow()
		add("parent: mkdir + open the cgroup", p.t[tCgroup]-p.t[tStart])
		add("parent: pipe, plan (Go, allocations)", p.t[tPlanned]-p.t[tCgroup])
		child0 := p.times[len(p.times)-1] + off
		add("clone3 until the child runs", child0-p.t[tClone])
		add("child: runtime AfterForkInChild (vfork; -vm: nothing)", p.times[0]+off-child0)
		perPhase := map[string]int64{}
		var phases []string
		last := len(p.names) - 1 // execve
		for i := 0; i < last; i++ {
			if p.times[i] == 0 {
				continue // skipped
			}
			j := i + 1
			for j < last && p.times[j] == 0 {
				j++
			}
			ph := p.names[i].phase
			if _, ok := perPhase[ph]; !ok {
				phases = append(phases, ph)
			}
			perPhase[ph] += p.times[j] - p.times[i]
		}
		for _, ph := range phases {
			add("child: "+ph, perPhase[ph])
		}
		add("child: execve until the parent reads EOF", p.t[tResumed]-(p.times[last]+off))
		add("/bin/true runs, exits; wait4 returns", p.t[tReaped]-p.t[tResumed])
		add("parent: rmdir the cgroup", p.t[tRemoved]-p.t[tReaped])
		add("total", p.t[tRemoved]-p.t[tStart])
	}
	w := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(w, "%d containers; the child's steps include a clock_gettime each\n\n| part | median µs | mean µs |\n|---|---|---|\n", n)
	for _, name := range order {
		a := sums[name]
		slices.Sort(a.ns)
		var sum int64
		for _, v := range a.ns {
			sum += v
		}
		fmt.Fprintf(w, "| %s | %.0f | %.0f |\n", a.name, float64(a.ns[len(a.ns)/2])/1e3, float64(sum)/float64(len(a.ns))/1e3)
	}
	return w.Flush()
}
