//go:build linux

// Command ctrrun starts containers with the container package, for the
// benchmark in bench/run.sh. It stands in for examples/run until that exists.
//
// One container, as a whole process (stdio attached, exit status passed on):
//
//	ctrrun ROOTFS CMD [ARG...]
//
// Many containers in one process, for the in-process figures; it prints one
// JSON object (per-container times, peak RSS of the inits, the parent's memory):
//
//	ctrrun -n 1000 [-j 2] [-bg 200] [-variant default] ROOTFS /bin/true
//
// Run it as root.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ctrkit/container"
	"github.com/ctrkit/container/bench/variants"
)

type result struct {
	Variant    string  `json:"variant"`
	NS         []int64 `json:"ns"`         // New + Start + Wait of each timed container, in order
	WallNS     int64   `json:"wall_ns"`    // wall time of the timed part, all workers
	Workers    int     `json:"workers"`    // containers started at the same time
	Background int     `json:"background"` // containers running throughout
	// VmRSS of this process after the warm-up, after half the timed containers
	// (with -j 1 only) and at the end, each after a GC that returns free memory
	// to the OS; and the memory the Go runtime holds (Sys - HeapReleased) then.
	RSSKiB  [3]int64  `json:"rss_kib"`
	GoBytes [3]uint64 `json:"go_bytes"`
}

func main() {
	n := flag.Int("n", 0, "run `N` containers in this process and print JSON (0: run one, attached)")
	j := flag.Int("j", 1, "start `J` containers at a time")
	bg := flag.Int("bg", 0, "keep `B` containers (sleep) running while measuring")
	warm := flag.Int("warm", 1, "untimed containers before the timed ones")
	variant := flag.String("variant", "default", "configuration, from bench/variants")
	flag.Parse()
	if flag.NArg() < 2 {
		fmt.Fprintln(os.Stderr, "usage: ctrrun [-n N] [-j J] [-bg B] [-variant V] ROOTFS CMD [ARG...]")
		os.Exit(2)
	}
	v, err := variants.Get(*variant)
	if err != nil {
		fatal(err)
	}
	rootfs, cmd := flag.Arg(0), flag.Args()[1:]
	if *n == 0 {
		os.Exit(runOne(v, rootfs, cmd))
	}
	res, err := loop(v, rootfs, cmd, *n, *j, *bg, *warm)
	if err != nil {
		fatal(err)
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fatal(err)
	}
}

func runOne(v variants.Variant, rootfs string, cmd []string) int {
	c, err := container.New(rootfs, cmd, v.Options(0)...)
	if err != nil {
		fatal(err)
	}
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	err = c.Run(context.Background())
	if ee, ok := err.(*container.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		fatal(err)
	}
	return 0
}

func loop(v variants.Variant, rootfs string, cmd []string, n, workers, bg, warm int) (*result, error) {
	res := &result{Variant: v.Name, NS: make([]int64, n), Workers: workers, Background: bg}
	ctx := context.Background()
	idx := 0 // container index for Variant.Options; only this goroutine hands them out before the workers
	run := func(i int) error {
		c, err := container.New(rootfs, cmd, v.Options(i)...)
		if err != nil {
			return err
		}
		return c.Run(ctx)
	}

	// Background containers, killed at the end.
	bgCtx, cancel := context.WithCancel(ctx)
	var running []*container.Container
	defer func() {
		cancel()
		for _, c := range running {
			c.Wait()
		}
	}()
	for range bg {
		c, err := container.New(rootfs, []string{"/bin/sleep", "3600"}, v.Options(idx)...)
		if err != nil {
			return nil, err
		}
		idx++
		if err := c.Start(bgCtx); err != nil {
			return nil, fmt.Errorf("background container %d: %w", len(running), err)
		}
		running = append(running, c)
	}

	for range warm {
		if err := run(idx); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
		idx++
	}
	res.RSSKiB[0], res.GoBytes[0] = memNow()

	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, workers)
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1)) - 1
				if k >= n {
					return
				}
				if workers == 1 && k == n/2 {
					res.RSSKiB[1], res.GoBytes[1] = memNow()
				}
				t0 := time.Now()
				if err := run(idx + k); err != nil {
					errs[w] = fmt.Errorf("container %d: %w", k, err)
					return
				}
				res.NS[k] = int64(time.Since(t0))
			}
		}()
	}
	wg.Wait()
	res.WallNS = int64(time.Since(start))
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	res.RSSKiB[2], res.GoBytes[2] = memNow()
	return res, nil
}

// memNow returns this process's resident set (KiB) and the memory the Go
// runtime holds from the OS, after a GC that returns
// free pages to the OS.
func memNow() (int64, uint64) {
	debug.FreeOSMemory() // a GC, and free pages go back to the OS: RSS then tracks live memory
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var rss int64
	if f, err := os.Open("/proc/self/status"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
				rss, _ = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			}
		}
		f.Close()
	}
	return rss, ms.Sys - ms.HeapReleased
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "ctrrun:", err)
	os.Exit(1)
}
