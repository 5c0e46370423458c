//go:build linux

package main

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

func report(res *results) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	mode := "full"
	if res.Quick {
		mode = "quick (-quick: few samples, rough numbers)"
	}
	w("# Container start-up: this library, ctrkit, the floors, bubblewrap, crun, runc and podman\n\n")
	w("Measured by `bench/run.sh` (%s mode) on %s, %s to %s UTC. Every row runs `/bin/true` in the same busybox rootfs; "+
		"rows alternate round by round (A B A B). Wall times are medians; the spread is the 25th–75th percentile. "+
		"\"Whole process\" is fork of the tool to its reaping by the harness; \"in a loop\" is one container after another inside one process "+
		"(the first of each batch, the warm-up, is not counted). "+
		"Load average (1, 5, 15 min) at the start: %s, at the end: %s; on 2 cores anything above ~1 is other work competing with the benchmark.\n\n",
		mode, machine(), res.Start.Format("2006-01-02 15:04"), res.End.Format("15:04"), res.LoadStart, res.LoadEnd)

	crun := median(res.Wall["crun"])
	w("| what | median wall per container | spread | × crun run | containers/s, 2 at a time | peak RSS | CPU per container | page faults per container | samples |\n")
	w("|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range res.Rows {
		s := summarise(res.Wall[r.Key])
		tp := ""
		if t := res.TP[r.Key]; len(t) > 0 {
			tp = fmt.Sprintf("%.0f", median(t))
		}
		rss := ""
		if x := res.RSS[r.Key]; len(x) > 0 {
			rss = mib(median(x))
		}
		if r.Key == "ours-loop-default" {
			rss = mib(median(res.InitRSS["ours"])) + " (init, before exec)"
		}
		if r.Key == "go-loop" {
			rss = mib(median(res.InitRSS["go"])) + " (init, before exec)"
		}
		w("| %s | %s | %s–%s | %.2f | %s | %s | %s | %.0f | %d |\n", r.Label, ms(s.Median), ms(s.P25), ms(s.P75), s.Median/crun, tp, rss,
			ms(median(res.CPU[r.Key])), median(res.Faults[r.Key]), s.N)
	}
	w("\nPeak RSS of a whole process is the largest of the tool's and every child's it reaped (`ru_maxrss` of a fork-started run, as `/usr/bin/time -v` reports it; " +
		"`/bin/true`, busybox, counts for about 1 MiB of it). An init's is its VmHWM read while strace holds it at the entry of its execve.\n")
	w("\n\"create, start, wait, delete\" is what conmon does for podman: create with --pid-file, start, a wait4 of the container's process " +
		"(the harness is its subreaper for the sequence), delete; its CPU and page faults are the three runtime processes' and the container's. " +
		"ctrkit starts from the same thread as crun, which hides cgroup v2 (bench/README.md), so both see one host. " +
		"podman's rows are podman run --rm in a private configuration (vfs, no network, cgroupfs), fewer samples; their CPU is podman's and what it reaped, not conmon's.\n")
	if res.PodmanNA != "" {
		w("\nNo podman rows: %s.\n", res.PodmanNA)
	}

	w("\n## The goals of issue 17, and those of issue 6 that still matter\n\n")
	w("| goal | measured | target | |\n|---|---|---|---|\n")
	for _, g := range goals(res) {
		verdict := "n/a"
		switch {
		case g.na != "":
			verdict = g.na
		case g.ok:
			verdict = "met"
		default:
			verdict = "**not met**"
		}
		w("| %s | %s | %s | %s |\n", g.what, g.measured, g.target, verdict)
	}

	w("\n## Start-up as work grows\n\n")
	f := res.Flat
	w("- containers %d–%d of one process: median %s; the last 20 (to container %d): median %s (ratio %.2f)\n",
		f.EarlyFrom, f.EarlyFrom+19, ms(median(f.Early)), f.LateTo, ms(median(f.Late)), median(f.Late)/median(f.Early))
	half := 10 + (f.LateTo-10)/2
	w("- the parent's resident set after container 10 / %d / %d: %d / %d / %d KiB; memory the Go runtime holds: %.1f / %.1f / %.1f MiB "+
		"(each after a GC that returns free memory to the OS; the first half's growth is the runtime's metadata warming up, a leak would grow in the second half too)\n",
		half, f.LateTo, f.RSSKiB[0], f.RSSKiB[1], f.RSSKiB[2], float64(f.GoBytes[0])/(1<<20), float64(f.GoBytes[1])/(1<<20), float64(f.GoBytes[2])/(1<<20))
	for _, v := range bgVariants() {
		none, some := median(res.BG[v+"/0"]), median(res.BG[fmt.Sprintf("%s/%d", v, res.Plan.Background)])
		w("- %s: with no container running: median %s; with %d running (sleeping, same process): median %s (ratio %.2f)\n",
			v, ms(none), res.Plan.Background, ms(some), some/none)
	}

	w("\n## getpid(2) in a loop\n\n")
	w("| where | ns per call (median of runs) |\n|---|---|\n")
	for _, k := range []struct{ key, label string }{
		{"host", "host, no filter"}, {"ours", "our default container"}, {"ours-noseccomp", "our container, WithoutSeccomp"},
		{"crun-seccomp", "crun, the default profile"},
	} {
		if len(res.Getpid[k.key]) == 0 {
			continue
		}
		w("| %s | %.1f |\n", k.label, median(res.Getpid[k.key]))
	}

	w("\n## Rerun\n\n`sudo bench/run.sh` (add `-quick` for a smoke run); it writes this file and `bench/results.svg`. " +
		"The in-process figures also exist as Go benchmarks: `go test -run '^$' -bench . -benchmem` at the module root.\n")
	return b.String()
}

type goal struct {
	what, measured, target string
	ok                     bool
	na                     string
}

func ratioGoal(what string, num, den float64, max float64, target string) goal {
	r := num / den
	g := goal{what: what, measured: fmt.Sprintf("%.2f (%s / %s)", r, ms(num), ms(den)), target: target, ok: r <= max}
	if math.IsNaN(r) {
		g.na = "n/a"
	}
	return g
}

func goals(res *results) []goal {
	m := func(k string) float64 { return median(res.Wall[k]) }
	has := func(k string) bool { return len(res.Wall[k]) > 0 }
	missing := func(what, why string) goal { return goal{what: what, measured: why, na: "n/a"} }
	ours := m("ours-loop-default")
	var gs []goal
	// Issue 17.
	gs = append(gs, ratioGoal("17: in a loop: our default container vs the Go re-exec floor", ours, m("go-loop"), 1.5, "≤ 1.5"))
	for _, c := range []struct{ key, ref, what string }{
		{"ctrkit", "crun", "17: whole process: ctrkit run vs crun run (same bundle)"},
		{"ctrkit-seq", "crun-seq", "17: ctrkit create, start, wait, delete vs crun's (as conmon calls them)"},
	} {
		if has(c.key) {
			gs = append(gs, ratioGoal(c.what, m(c.key), m(c.ref), 1, "≤ 1"))
		} else {
			gs = append(gs, missing(c.what, "no ctrkit binary in the run"))
		}
	}
	if has("ours-run") {
		gs = append(gs, ratioGoal("17: whole process: examples/run vs the Go floor's whole process", m("ours-run"), m("go"), 2, "≤ 2"))
	} else {
		gs = append(gs, missing("17: whole process: examples/run vs the Go floor's whole process", "no examples/run in the run"))
	}
	tpOurs, tpBwrap := median(res.TP["ours-loop-default"]), median(res.TP["bwrap"])
	gs = append(gs, goal{what: "17: throughput, 2 at a time: ours (one process) vs bwrap", target: "more",
		measured: fmt.Sprintf("%.0f/s vs %.0f/s", tpOurs, tpBwrap), ok: tpOurs > tpBwrap})
	initRSS := median(res.InitRSS["ours"])
	g := goal{what: "17: peak RSS of our init before its execve", target: "≤ 3 MiB", measured: mib(initRSS) + " (Go floor's init: " + mib(median(res.InitRSS["go"])) + ")", ok: initRSS <= 3*1024}
	if len(res.InitRSS["ours"]) == 0 {
		g.na = "n/a (no strace)"
	}
	gs = append(gs, g)
	for _, v := range []struct {
		name, what string
		max        float64
	}{
		{"veth", "17: WithVeth vs default, in a loop (issue 6: ≤ 1.5)", 1.3},
		{"limits", "6: WithMemory + WithPids vs default, in a loop", 1.3},
	} {
		if has("ours-loop-" + v.name) {
			gs = append(gs, ratioGoal(v.what, m("ours-loop-"+v.name), ours, v.max, fmt.Sprintf("≤ %.1f", v.max)))
		} else {
			gs = append(gs, missing(v.what, "no variant "+v.name+" in bench/variants yet"))
		}
	}
	// Issue 15, point 4.
	const ov, wi = "15: WithOverlay vs default, in a loop", "15: warm image start vs the overlay's, in a loop"
	if has("ours-loop-overlay") {
		gs = append(gs, ratioGoal(ov, m("ours-loop-overlay"), ours, 1.3, "≤ 1.3"))
	} else {
		gs = append(gs, missing(ov, "no variant overlay in bench/variants"))
	}
	if has("image-warm") && has("image-overlay") {
		// Both from bench/imagerun: a program that loads images links
		// go-containerregistry, and its init (the same binary) pays for it.
		warm, over := m("image-warm"), m("image-overlay")
		gs = append(gs, goal{what: wi, target: "≤ overlay + 1 ms", ok: warm <= over+1e6,
			measured: fmt.Sprintf("%s vs %s (+%s; first start %s)", ms(warm), ms(over), ms(warm-over), ms(m("image-first")))})
	} else {
		gs = append(gs, missing(wi, "no bench/imagerun in the run"))
	}
	gs = append(gs,
		ratioGoal(fmt.Sprintf("17: the last 20 of %d containers vs the first 20 (issue 6: ≤ 1.1)", res.Flat.LateTo), median(res.Flat.Late), median(res.Flat.Early), 1.3, "≤ 1.3"),
	)
	for _, v := range bgVariants() {
		gs = append(gs, ratioGoal(fmt.Sprintf("17: %s: with %d containers running vs none", v, res.Plan.Background),
			median(res.BG[fmt.Sprintf("%s/%d", v, res.Plan.Background)]), median(res.BG[v+"/0"]), 1.3, "≤ 1.3"))
	}
	const pw = "17: podman run --rm: with ctrkit vs with crun"
	switch {
	case has("podman-ctrkit") && has("podman-crun"):
		g := ratioGoal(pw, m("podman-ctrkit"), m("podman-crun"), 1, "≤ 1 (not slower)")
		g.measured += fmt.Sprintf(", %d runs each", len(res.Wall["podman-crun"]))
		gs = append(gs, g)
	case res.PodmanNA != "":
		gs = append(gs, missing(pw, res.PodmanNA))
	default:
		gs = append(gs, missing(pw, "podman rows not measured"))
	}
	// Issue 6's that still matter.
	g = goal{what: "6: in a loop: crun run (default seccomp) vs our default container", target: "≥ 3"}
	r := m("crun-seccomp") / ours
	g.measured, g.ok = fmt.Sprintf("%.2f (%s / %s)", r, ms(m("crun-seccomp")), ms(ours)), r >= 3
	gs = append(gs, g)
	f := res.Flat
	growth := f.RSSKiB[2] - f.RSSKiB[1]
	limit := int64(f.LateTo-10) / 2 // KiB: under 1 KiB per container of the second half
	gs = append(gs, goal{what: fmt.Sprintf("6: the parent's RSS over the second half of %d sequential containers", f.LateTo-10),
		target:   fmt.Sprintf("no growth (< %d KiB, 1 KiB a container)", limit),
		measured: fmt.Sprintf("%+d KiB (first half, the runtime warming up: %+d KiB)", growth, f.RSSKiB[1]-f.RSSKiB[0]), ok: growth < limit})
	ref, refName := "host", "the host (no filter)"
	if len(res.Getpid["ours-noseccomp"]) > 0 {
		ref, refName = "ours-noseccomp", "the same container WithoutSeccomp"
	}
	gp := median(res.Getpid["ours"]) / median(res.Getpid[ref])
	gs = append(gs, goal{what: "6: getpid loop: our default container vs " + refName, target: "≤ 1.3",
		measured: fmt.Sprintf("%.2f (%.1f ns / %.1f ns)", gp, median(res.Getpid["ours"]), median(res.Getpid[ref])), ok: gp <= 1.3})
	g = goal{what: "6: WithMemory(8<<20) starts and runs a shell command", target: "prints ok"}
	if c, ok := res.Checks["mem8m"]; ok {
		g.measured, g.ok = c, c == "ok"
	} else {
		g.measured, g.na = "no variant mem8m in bench/variants yet", "n/a"
	}
	gs = append(gs, g)
	return gs
}

func mib(kib float64) string {
	if kib == 0 || math.IsNaN(kib) {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MiB", kib/1024)
}

func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	kernel := "?"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	ver := func(argv ...string) string {
		out, err := exec.Command(argv[0], argv[1:]...).Output()
		if err != nil {
			return argv[0] + " ?"
		}
		return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	}
	cg := "cgroup v1"
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		cg = "cgroup v2"
	} else if _, err := os.Stat("/sys/fs/cgroup/unified"); err == nil {
		cg = "cgroup v1 + v2 hybrid"
	}
	return fmt.Sprintf("%d × %s, Linux %s, %s; %s, %s, %s, Go %s",
		runtime.NumCPU(), cpu, kernel, cg, ver("runc", "--version"), ver("crun", "--version"), ver("bwrap", "--version"), strings.TrimPrefix(runtime.Version(), "go"))
}
