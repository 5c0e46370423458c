//go:build linux

// Command harness measures container start-up side by side: a C floor, a Go
// re-exec floor, bubblewrap, crun, runc (with and without a default seccomp
// profile) and this module's containers, in one run, alternating the rows
// round by round (A B A B) so that the machine's drift and the noise of other
// work fall on every row alike. It prints a Markdown table of medians, spreads
// and ratios of medians, checks the goals of issue 6, and writes the table to
// -out and a bar chart to -svg. bench/run.sh builds what it needs and runs it;
// run that, as root.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ctrkit/container/bench/variants"
	"github.com/ctrkit/container/containertest"
	"golang.org/x/sys/unix"
)

var (
	binDir  = flag.String("bin", "", "directory holding floor, gofloor, ctrrun, getpidloop and maxrss")
	workDir = flag.String("work", "", "scratch directory for the rootfs, the OCI bundles and runtime state")
	quick   = flag.Bool("quick", false, "fewer rounds and containers: a smoke run of a minute or two")
	outMD   = flag.String("out", "", "write the Markdown report here")
	outSVG  = flag.String("svg", "", "write the bar chart here")
	outJSON = flag.String("json", "", "write every sample here")
)

// plan is how much to measure.
type plan struct {
	Rounds      int // rounds of the alternating whole-process and loop rows
	PerRound    int // whole-process runs of each row in a round
	Batch       int // containers in one loop batch
	TPRounds    int // throughput rounds
	TPCount     int // containers per throughput measurement
	Flat        int // containers in the 10th-vs-Nth run
	Background  int // containers running in the "with N running" row
	BGRounds    int
	BGBatch     int
	GetpidCalls int
	GetpidRound int
	RSSRuns     int // runs per row for peak RSS
	PodmanRuns  int // podman run --rm of each runtime (slow: fewer samples)
}

var fullPlan = plan{Rounds: 15, PerRound: 8, Batch: 30, TPRounds: 3, TPCount: 100, Flat: 1000, Background: 200, BGRounds: 3, BGBatch: 40, GetpidCalls: 2000000, GetpidRound: 5, RSSRuns: 5, PodmanRuns: 10}
var quickPlan = plan{Rounds: 4, PerRound: 4, Batch: 15, TPRounds: 1, TPCount: 30, Flat: 200, Background: 200, BGRounds: 1, BGBatch: 20, GetpidCalls: 500000, GetpidRound: 2, RSSRuns: 2, PodmanRuns: 3}

func main() {
	flag.Parse()
	if *binDir == "" || *workDir == "" {
		fmt.Fprintln(os.Stderr, "usage: harness -bin DIR -work DIR [-quick] [-out results.md] [-svg results.svg] [-json samples.json]")
		os.Exit(2)
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		os.Exit(1)
	}
}

// env is the prepared rootfs and bundles.
type env struct {
	rootfs, bundle, bundleSeccomp, bundleGetpid string
	bin                                         func(string) string
	log                                         *os.File
	ids                                         atomic.Int64
	podman                                      *podmanEnv // set while measurePodman runs
}

func (e *env) id() string { return fmt.Sprintf("bench%d-%d", os.Getpid(), e.ids.Add(1)) }

func run() error {
	p := fullPlan
	if *quick {
		p = quickPlan
	}
	e, err := prepare(p)
	if err != nil {
		return err
	}
	defer e.log.Close()
	if err := startHiddenCgroupThread(); err != nil {
		return err
	}
	res := &results{Plan: p, Quick: *quick, Start: time.Now().UTC(), LoadStart: loadavg()}
	steps := []struct {
		name string
		f    func(*env, plan, *results) error
	}{
		{"single containers (whole process and in a loop)", measureRows},
		{"podman run --rm, ctrkit and crun", measurePodman},
		{"throughput, 2 at a time", measureThroughput},
		{"start-up as work grows", measureFlat},
		{"start-up with containers running", measureBackground},
		{"getpid loop", measureGetpid},
		{"peak RSS", measurePeakRSS},
		{"functional checks", checkVariants},
	}
	for _, s := range steps {
		t0 := time.Now()
		fmt.Fprintf(os.Stderr, "harness: %s...\n", s.name)
		if err := s.f(e, p, res); err != nil {
			return fmt.Errorf("%s: %w (runtime errors are in %s)", s.name, err, e.log.Name())
		}
		fmt.Fprintf(os.Stderr, "harness: %s: %.1fs\n", s.name, time.Since(t0).Seconds())
	}
	res.End, res.LoadEnd = time.Now().UTC(), loadavg()
	md := report(res)
	fmt.Print(md)
	if *outMD != "" {
		if err := os.WriteFile(*outMD, []byte(md), 0o644); err != nil {
			return err
		}
	}
	if *outSVG != "" {
		if err := os.WriteFile(*outSVG, []byte(chart(res)), 0o644); err != nil {
			return err
		}
	}
	if *outJSON != "" {
		b, err := json.MarshalIndent(res, "", " ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*outJSON, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// prepare builds one busybox rootfs (with the getpid loop in /bin) and the OCI
// bundles that crun and runc share: runc spec's defaults with no terminal and
// /bin/true as the process, one without seccomp and one with the default
// profile, plus one that runs the getpid loop with the profile.
func prepare(p plan) (*env, error) {
	w, err := filepath.Abs(*workDir)
	if err != nil {
		return nil, err
	}
	bin, err := filepath.Abs(*binDir)
	if err != nil {
		return nil, err
	}
	e := &env{rootfs: filepath.Join(w, "rootfs"), bin: func(n string) string { return filepath.Join(bin, n) }}
	for _, d := range []string{"rootfs", "runc", "crun"} {
		os.RemoveAll(filepath.Join(w, d))
	}
	if err := os.MkdirAll(e.rootfs, 0o755); err != nil {
		return nil, err
	}
	bb, err := containertest.BusyboxPath()
	if err != nil {
		return nil, err
	}
	if err := containertest.BuildBusyboxRootfs(e.rootfs, bb); err != nil {
		return nil, fmt.Errorf("build rootfs: %w", err)
	}
	gp, err := os.ReadFile(e.bin("getpidloop"))
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(e.rootfs, "bin", "getpidloop"), gp, 0o755); err != nil {
		return nil, err
	}
	spec, err := runcSpec(w)
	if err != nil {
		return nil, err
	}
	mk := func(name string, args []string, seccomp bool) (string, error) {
		dir := filepath.Join(w, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
		var s map[string]any
		if err := json.Unmarshal(spec, &s); err != nil {
			return "", fmt.Errorf("runc spec: %w", err)
		}
		proc := s["process"].(map[string]any)
		proc["terminal"] = false
		proc["args"] = args
		// runc spec gives root inheritable and ambient capabilities, which
		// ctrkit refuses unless they equal the bounding set; podman's specs
		// (and Docker's) have neither: none of the three runtimes then
		// gives them.
		caps := proc["capabilities"].(map[string]any)
		delete(caps, "inheritable")
		delete(caps, "ambient")
		s["root"].(map[string]any)["path"] = e.rootfs
		if seccomp {
			s["linux"].(map[string]any)["seccomp"] = seccompSection()
		}
		b, err := json.MarshalIndent(s, "", "\t")
		if err != nil {
			return "", err
		}
		return dir, os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644)
	}
	if e.bundle, err = mk("bundle", []string{"/bin/true"}, false); err != nil {
		return nil, err
	}
	if e.bundleSeccomp, err = mk("bundle-seccomp", []string{"/bin/true"}, true); err != nil {
		return nil, err
	}
	if e.bundleGetpid, err = mk("bundle-getpid", []string{"/bin/getpidloop", strconv.Itoa(p.GetpidCalls)}, true); err != nil {
		return nil, err
	}
	if e.log, err = os.OpenFile(filepath.Join(w, "runtime.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC|os.O_APPEND, 0o644); err != nil {
		return nil, err
	}
	return e, nil
}

func runcSpec(w string) ([]byte, error) {
	dir, err := os.MkdirTemp(w, "spec")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command("runc", "spec")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("runc spec: %v: %s", err, out)
	}
	return os.ReadFile(filepath.Join(dir, "config.json"))
}

// crun 1.8 refuses a hybrid cgroup layout (v1 controllers plus a v2 hierarchy
// at /sys/fs/cgroup/unified) outright. Its rows are started from one locked
// thread that has a private mount namespace in which an empty file hides the
// v2 hierarchy's cgroup.controllers, so crun sees the plain v1 layout that
// runc and we use. Starting from that thread costs nothing extra per run.
var hidden struct {
	work chan func()
	err  error
}

func startHiddenCgroupThread() error {
	hidden.work = make(chan func())
	ready := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the process
		ready <- hideCgroupV2()
		for f := range hidden.work {
			f()
		}
	}()
	return <-ready
}

func hideCgroupV2() error {
	const controllers = "/sys/fs/cgroup/unified/cgroup.controllers"
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("unshare mount namespace: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	if _, err := os.Stat(controllers); err != nil {
		return nil // no hybrid layout: nothing to hide
	}
	empty := filepath.Join(*workDir, "empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		return err
	}
	if err := unix.Mount(empty, controllers, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("hide %s: %w", controllers, err)
	}
	return nil
}

func onHidden(f func()) {
	done := make(chan struct{})
	hidden.work <- func() { f(); close(done) }
	<-done
}

// runHidden runs cmd to completion, started from the thread that hides
// cgroup v2 when hidden is set (see onHidden).
func runHidden(cmd *exec.Cmd, hidden bool) error {
	var err error
	if hidden {
		onHidden(func() { err = cmd.Start() })
	} else {
		err = cmd.Start()
	}
	if err != nil {
		return err
	}
	return cmd.Wait()
}

// A row is one way of starting a container running /bin/true.
type row struct {
	Key, Label string
	argv       func(e *env) []string
	hidden     bool   // start from the thread that hides cgroup v2 (crun)
	loop       bool   // argv runs a batch and reports each container's time
	json       bool   // the batch reports JSON (ctrrun), not one number a line
	tp         bool   // also measure its throughput, 2 at a time
	seq        *seq   // not argv: an OCI runtime's create, start, wait, delete (see sequence)
	podman     string // not argv: podman run --rm with this runtime (see measurePodman)
}

// seq is the OCI runtime binary and state directory (under -work) of a
// sequence row.
type seq struct{ bin, root string }

// single reports whether the row is one command run as a whole process, the
// rows whose peak RSS measurePeakRSS reads.
func (r row) single() bool { return !r.loop && r.seq == nil && r.podman == "" }

func rows(e *env, p plan) []row {
	b := strconv.Itoa(p.Batch)
	rs := []row{
		{Key: "c", Label: "C: clone(all namespaces) + pivot_root + mount /proc + exec (whole process)", tp: true,
			argv: func(e *env) []string { return []string{e.bin("floor"), e.rootfs, "/bin/true"} }},
		{Key: "c-loop", Label: "C, in a loop", loop: true,
			argv: func(e *env) []string { return []string{e.bin("floor"), "-n", b, e.rootfs, "/bin/true"} }},
		{Key: "go", Label: "Go: re-exec of /proc/self/exe with namespaces, pivot_root, /proc, exec (whole process)", tp: true,
			argv: func(e *env) []string { return []string{e.bin("gofloor"), e.rootfs, "/bin/true"} }},
		{Key: "go-loop", Label: "Go re-exec, in a loop", loop: true,
			argv: func(e *env) []string { return []string{e.bin("gofloor"), "-n", b, e.rootfs, "/bin/true"} }},
		{Key: "bwrap", Label: "bubblewrap --unshare-all", tp: true,
			argv: func(e *env) []string {
				return []string{"bwrap", "--unshare-all", "--bind", e.rootfs, "/", "--proc", "/proc", "--dev", "/dev", "/bin/true"}
			}},
		{Key: "crun", Label: "crun run", hidden: true, tp: true,
			argv: func(e *env) []string {
				return []string{"crun", "--root", *workDir + "/crun", "run", "-b", e.bundle, e.id()}
			}},
		{Key: "crun-seq", Label: "crun create, start, wait, delete (as conmon)", hidden: true, seq: &seq{"crun", "crun"}},
		{Key: "runc", Label: "runc run", tp: true,
			argv: func(e *env) []string {
				return []string{"runc", "--root", *workDir + "/runc", "run", "-b", e.bundle, e.id()}
			}},
		{Key: "crun-seccomp", Label: fmt.Sprintf("crun run, %d-syscall seccomp allowlist", len(defaultSyscalls)), hidden: true,
			argv: func(e *env) []string {
				return []string{"crun", "--root", *workDir + "/crun", "run", "-b", e.bundleSeccomp, e.id()}
			}},
		{Key: "runc-seccomp", Label: fmt.Sprintf("runc run, %d-syscall seccomp allowlist", len(defaultSyscalls)),
			argv: func(e *env) []string {
				return []string{"runc", "--root", *workDir + "/runc", "run", "-b", e.bundleSeccomp, e.id()}
			}},
	}
	if _, err := os.Stat(e.bin("ctrkit")); err == nil {
		// ctrkit starts from the thread that hides cgroup v2 too: it sees the
		// host crun sees.
		rs = append(rs,
			row{Key: "ctrkit", Label: "ctrkit run", hidden: true, tp: true,
				argv: func(e *env) []string {
					return []string{e.bin("ctrkit"), "--root", *workDir + "/ctrkit", "run", "-b", e.bundle, e.id()}
				}},
			row{Key: "ctrkit-seq", Label: "ctrkit create, start, wait, delete (as conmon)", hidden: true, seq: &seq{e.bin("ctrkit"), "ctrkit"}},
		)
		if _, err := exec.LookPath("podman"); err == nil {
			rs = append(rs,
				row{Key: "podman-ctrkit", Label: "podman run --rm, ctrkit (whole process)", podman: e.bin("ctrkit"),
					argv: func(e *env) []string { return e.podman.argv(e.bin("ctrkit")) }},
				row{Key: "podman-crun", Label: "podman run --rm, crun (whole process)", podman: "crun",
					argv: func(e *env) []string { return e.podman.argv("crun") }},
			)
		}
	}
	if _, err := os.Stat(e.bin("spike")); err == nil {
		// bench/spike (issue 17's spike): a start path without the re-exec.
		rs = append(rs,
			row{Key: "spike", Label: "spike: no re-exec, bench/spike ROOTFS /bin/true (whole process)",
				argv: func(e *env) []string { return []string{e.bin("spike"), e.rootfs, "/bin/true"} }},
			row{Key: "spike-loop", Label: "spike: no re-exec, in a loop", loop: true, json: true,
				argv: func(e *env) []string { return []string{e.bin("spike"), "-n", b, e.rootfs, "/bin/true"} }},
		)
	}
	if _, err := os.Stat(e.bin("run")); err == nil {
		rs = append(rs, row{Key: "ours-run", Label: "container: examples/run -rootfs ROOTFS -- /bin/true (whole process)", tp: true,
			argv: func(e *env) []string { return []string{e.bin("run"), "-rootfs", e.rootfs, "--", "/bin/true"} }})
	}
	if _, err := os.Stat(e.bin("imagerun")); err == nil {
		// Issue 15: a 5-layer OCI layout (the rootfs and four data layers),
		// Load + New + Run; first: every layer unpacked into an empty cache.
		lay, cache := filepath.Join(*workDir, "image-layout"), filepath.Join(*workDir, "image-cache")
		first := strconv.Itoa(max(p.Batch/3, 3))
		rs = append(rs,
			row{Key: "image-first", Label: "container: image, first start (5 layers unpacked into an empty cache, Load + New + Run), in a loop", loop: true, json: true,
				argv: func(e *env) []string {
					return []string{e.bin("imagerun"), "-n", first, "-mode", "first", "-layout", lay, e.rootfs}
				}},
			row{Key: "image-overlay", Label: "container: WithOverlay on the rootfs, from bench/imagerun (the same binary as the image rows), in a loop", loop: true, json: true,
				argv: func(e *env) []string {
					return []string{e.bin("imagerun"), "-n", b, "-mode", "overlay", "-layout", lay, e.rootfs}
				}},
			row{Key: "image-warm", Label: "container: image, warm start (every layer cached, Load + New + Run), in a loop", loop: true, json: true,
				argv: func(e *env) []string {
					return []string{e.bin("imagerun"), "-n", b, "-mode", "warm", "-layout", lay, "-cache", cache, e.rootfs}
				}},
		)
	}
	for _, v := range variants.All {
		if v.Check {
			continue
		}
		name := " (" + v.Name + ")"
		if v.Name == "default" {
			name = ""
		}
		rs = append(rs,
			row{Key: "ours-" + v.Name, Label: "container: bench/ctrrun ROOTFS /bin/true (whole process)" + name,
				argv: func(e *env) []string { return []string{e.bin("ctrrun"), "-variant", v.Name, e.rootfs, "/bin/true"} }},
			row{Key: "ours-loop-" + v.Name, Label: "container: New + Run in a loop" + name, loop: true, json: true,
				argv: func(e *env) []string {
					return []string{e.bin("ctrrun"), "-n", b, "-variant", v.Name, e.rootfs, "/bin/true"}
				}},
		)
	}
	return rs
}

// results holds every sample, by row key.
type results struct {
	Plan       plan
	Quick      bool
	Start, End time.Time
	LoadStart  string // /proc/loadavg: other work on the machine
	LoadEnd    string
	Rows       []row                `json:"-"`
	Wall       map[string][]float64 // ns per container
	CPU        map[string][]float64 // ns of CPU (user + system) per container, the tool and every child it reaped
	Faults     map[string][]float64 // page faults (minor + major) per container, likewise
	RSS        map[string][]float64 // KiB, peak RSS of each whole-process run
	TP         map[string][]float64 // containers per second, 2 at a time
	InitRSS    map[string][]float64 // KiB, an init's VmHWM right before its execve ("ours", "go")
	Flat       struct {
		Early, Late       []float64 // ns
		EarlyFrom, LateTo int
		RSSKiB            [3]int64 // after the warm-up, half-way, at the end
		GoBytes           [3]uint64
	}
	PodmanNA string               // why the podman rows are missing, if they are
	Checks   map[string]string    // variant name → "ok" or what went wrong
	BG       map[string][]float64 // "0" and "N": ns per container
	Getpid   map[string][]float64 // ns per getpid call
}

func measureRows(e *env, p plan, res *results) error {
	rs := rows(e, p)
	res.Rows = rs
	res.Wall, res.CPU, res.Faults = map[string][]float64{}, map[string][]float64{}, map[string][]float64{}
	usage := func(key string, ps *os.ProcessState, containers int) {
		res.usage(key, ps.SysUsage().(*syscall.Rusage), containers)
	}
	for round := range p.Rounds {
		// A new order every round (seeded: the same for every run), so no
		// row always follows the same one: a row leaves work to the kernel
		// (network namespaces and veth pairs are torn down after their
		// container exits, holding the rtnl lock), which a rotation would
		// always hand to the same next row (the veth loop after the veth
		// whole-process runs).
		for _, k := range rand.New(rand.NewPCG(uint64(round), 17)).Perm(len(rs)) {
			r := rs[k]
			if r.podman != "" {
				continue // measurePodman
			}
			if r.seq != nil {
				for range p.PerRound {
					ns, ru, err := sequence(e, r)
					if err != nil {
						return fmt.Errorf("%s: %w", r.Key, err)
					}
					res.Wall[r.Key] = append(res.Wall[r.Key], ns)
					res.usage(r.Key, &ru, 1)
				}
				continue
			}
			if r.loop {
				ns, ps, err := batch(e, r)
				if err != nil {
					return fmt.Errorf("%s: %w", r.Key, err)
				}
				res.Wall[r.Key] = append(res.Wall[r.Key], ns...)
				usage(r.Key, ps, len(ns)+1) // the batch's warm-up container counts here
				continue
			}
			for range p.PerRound {
				ns, ps, err := whole(e, r)
				if err != nil {
					return fmt.Errorf("%s: %w", r.Key, err)
				}
				res.Wall[r.Key] = append(res.Wall[r.Key], ns)
				usage(r.Key, ps, 1)
			}
		}
	}
	return nil
}

// usage records the CPU time and page faults per container of ru.
func (res *results) usage(key string, ru *syscall.Rusage, containers int) {
	cpu := float64(ru.Utime.Nano() + ru.Stime.Nano())
	res.CPU[key] = append(res.CPU[key], cpu/float64(containers))
	res.Faults[key] = append(res.Faults[key], float64(ru.Minflt+ru.Majflt)/float64(containers))
}

// whole runs a row's command once and returns its wall time, fork to reap,
// and its process state (for its resource usage).
func whole(e *env, r row) (ns float64, ps *os.ProcessState, err error) {
	argv := r.argv(e)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = e.log
	if r.podman != "" {
		cmd.Env = e.podman.env
	}
	var t0 time.Time
	start := func() { t0 = time.Now(); err = cmd.Start() }
	if r.hidden {
		onHidden(start)
	} else {
		start()
	}
	if err != nil {
		return 0, nil, err
	}
	err = cmd.Wait()
	ns = float64(time.Since(t0))
	if err != nil {
		return 0, nil, fmt.Errorf("%q: %w", cmd.Args, err)
	}
	return ns, cmd.ProcessState, nil
}

// batch runs a loop row's command and returns each container's time, less the
// first of the batch (the warm-up), and the batch's process state.
func batch(e *env, r row) (ns []float64, ps *os.ProcessState, err error) {
	argv := r.argv(e)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = e.log
	out, err := cmd.Output()
	if err != nil {
		return nil, nil, fmt.Errorf("%q: %w", argv, err)
	}
	if r.json {
		var cr ctrrunResult
		if err := json.Unmarshal(out, &cr); err != nil {
			return nil, nil, err
		}
		for _, x := range cr.NS {
			ns = append(ns, float64(x))
		}
		return ns, cmd.ProcessState, nil // ctrrun already ran its warm-up untimed
	}
	for i, l := range strings.Fields(string(out)) {
		x, err := strconv.ParseFloat(l, 64)
		if err != nil {
			return nil, nil, err
		}
		if i > 0 {
			ns = append(ns, x)
		}
	}
	return ns, cmd.ProcessState, nil
}

// ctrrunResult is bench/ctrrun's JSON.
type ctrrunResult struct {
	NS      []int64   `json:"ns"`
	WallNS  int64     `json:"wall_ns"`
	RSSKiB  [3]int64  `json:"rss_kib"`
	GoBytes [3]uint64 `json:"go_bytes"`
}

func ctrrun(e *env, args ...string) (*ctrrunResult, error) {
	cmd := exec.Command(e.bin("ctrrun"), args...)
	cmd.Stderr = e.log
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("ctrrun %q: %w", args, err)
	}
	var cr ctrrunResult
	return &cr, json.Unmarshal(out, &cr)
}

// measureThroughput runs TPCount containers two at a time per row: two
// workers start whole processes back to back; for our library also two
// goroutines in one process (ctrrun -j 2).
func measureThroughput(e *env, p plan, res *results) error {
	res.TP = map[string][]float64{}
	var tps []row
	for _, r := range res.Rows {
		if r.tp {
			tps = append(tps, r)
		}
	}
	for round := range p.TPRounds {
		for k := range tps {
			r := tps[(k+round)%len(tps)]
			var next atomic.Int64
			var wg sync.WaitGroup
			errs := make([]error, 2)
			t0 := time.Now()
			for w := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(p.TPCount) {
						if _, _, err := whole(e, r); err != nil {
							errs[w] = err
							return
						}
					}
				}()
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				return err
			}
			res.TP[r.Key] = append(res.TP[r.Key], float64(p.TPCount)/time.Since(t0).Seconds())
		}
		cr, err := ctrrun(e, "-n", strconv.Itoa(p.TPCount), "-j", "2", e.rootfs, "/bin/true")
		if err != nil {
			return err
		}
		res.TP["ours-loop-default"] = append(res.TP["ours-loop-default"], float64(p.TPCount)/(float64(cr.WallNS)/1e9))
	}
	return nil
}

// measureFlat runs Flat containers in one process after 10 untimed ones and
// compares the first 20 timed with the last 20; it also reads the parent's
// memory before and after.
func measureFlat(e *env, p plan, res *results) error {
	cr, err := ctrrun(e, "-n", strconv.Itoa(p.Flat), "-warm", "10", e.rootfs, "/bin/true")
	if err != nil {
		return err
	}
	f := &res.Flat
	for _, x := range cr.NS[:20] {
		f.Early = append(f.Early, float64(x))
	}
	for _, x := range cr.NS[len(cr.NS)-20:] {
		f.Late = append(f.Late, float64(x))
	}
	f.EarlyFrom, f.LateTo = 11, p.Flat+10
	f.RSSKiB, f.GoBytes = cr.RSSKiB, cr.GoBytes
	return nil
}

// measureBackground alternates batches with no container running and with
// Background sleeping containers running in the same process, for the default
// container and for "limits" (whose cgroup work could grow with the number of
// containers) when that variant exists. Keys: "VARIANT/N".
func measureBackground(e *env, p plan, res *results) error {
	res.BG = map[string][]float64{}
	for _, v := range bgVariants() {
		for round := range p.BGRounds {
			for k := range 2 {
				bg := []int{0, p.Background}[(k+round)%2]
				cr, err := ctrrun(e, "-n", strconv.Itoa(p.BGBatch), "-bg", strconv.Itoa(bg), "-variant", v, e.rootfs, "/bin/true")
				if err != nil {
					return err
				}
				key := v + "/" + strconv.Itoa(bg)
				for _, x := range cr.NS {
					res.BG[key] = append(res.BG[key], float64(x))
				}
			}
		}
	}
	return nil
}

func bgVariants() []string {
	vs := []string{"default"}
	if _, err := variants.Get("limits"); err == nil {
		vs = append(vs, "limits")
	}
	return vs
}

// measureGetpid runs a loop of getpid(2) calls on the host (no filter), in our
// default container and under crun with the default profile; each reports
// nanoseconds per call.
func measureGetpid(e *env, p plan, res *results) error {
	res.Getpid = map[string][]float64{}
	n := strconv.Itoa(p.GetpidCalls)
	cases := []struct {
		key    string
		argv   []string
		hidden bool
	}{
		{"host", []string{filepath.Join(e.rootfs, "bin", "getpidloop"), n}, false},
		{"ours", []string{e.bin("ctrrun"), e.rootfs, "/bin/getpidloop", n}, false},
		{"crun-seccomp", []string{"crun", "--root", *workDir + "/crun", "run", "-b", e.bundleGetpid, ""}, true},
	}
	if _, err := variants.Get("noseccomp"); err == nil {
		cases = append(cases, struct {
			key    string
			argv   []string
			hidden bool
		}{"ours-noseccomp", []string{e.bin("ctrrun"), "-variant", "noseccomp", e.rootfs, "/bin/getpidloop", n}, false})
	}
	for round := range p.GetpidRound {
		for k := range cases {
			c := cases[(k+round)%len(cases)]
			argv := slices.Clone(c.argv)
			if argv[len(argv)-1] == "" {
				argv[len(argv)-1] = e.id()
			}
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Stderr = e.log
			var out bytes.Buffer
			cmd.Stdout = &out
			if err := runHidden(cmd, c.hidden); err != nil {
				return fmt.Errorf("getpid %s: %q: %w", c.key, argv, err)
			}
			x, err := strconv.ParseFloat(strings.TrimSpace(out.String()), 64)
			if err != nil {
				return fmt.Errorf("getpid %s: output %q: %w", c.key, out.String(), err)
			}
			res.Getpid[c.key] = append(res.Getpid[c.key], x)
		}
	}
	return nil
}

// checkVariants starts each check-only variant (bench/variants) with a shell
// command that must print "ok": mem8m is issue 6's "a container with
// WithMemory(8<<20) starts and runs a shell command".
func checkVariants(e *env, p plan, res *results) error {
	res.Checks = map[string]string{}
	for _, v := range variants.All {
		if !v.Check {
			continue
		}
		cmd := exec.Command(e.bin("ctrrun"), "-variant", v.Name, e.rootfs, "/bin/sh", "-c", "echo ok")
		out, err := cmd.CombinedOutput()
		switch {
		case err != nil:
			res.Checks[v.Name] = fmt.Sprintf("failed: %v: %s", err, strings.TrimSpace(string(out)))
		case strings.TrimSpace(string(out)) != "ok":
			res.Checks[v.Name] = fmt.Sprintf("printed %q", out)
		default:
			res.Checks[v.Name] = "ok"
		}
	}
	return nil
}

// loadavg returns the 1-, 5- and 15-minute load averages.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func ms(ns float64) string {
	if math.IsNaN(ns) {
		return "n/a"
	}
	return fmt.Sprintf("%.2f ms", ns/1e6)
}
