//go:build linux

package container_test

// Benchmarks of the start path (issue 6). Run as root:
//
//	go test -run '^$' -bench . -benchmem
//	go test -run '^$' -bench 'Start$/default' -benchmem -cpuprofile cpu.out
//
// Every benchmark runs once per configuration in bench/variants: adding a
// feature's row (WithMemory, WithVeth, ...) to all of them is one line there.
// The side-by-side comparison with runc, crun and bubblewrap is bench/run.sh.
// No benchmark asserts a time: the numbers are read, not tested.

import (
	"bufio"
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ctrkit/container"
	"github.com/ctrkit/container/bench/variants"
	"github.com/ctrkit/container/containertest"
)

// runTrue starts the i-th container of variant v running /bin/true and waits
// for it, New included: what a caller pays per container.
func runTrue(b *testing.B, rootfs string, v variants.Variant, i int) {
	c, err := container.New(rootfs, []string{"/bin/true"}, v.Options(i)...)
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
}

// forEachVariant runs f as a sub-benchmark for every configuration.
// They share one busybox rootfs, removed when the benchmark ends.
func forEachVariant(b *testing.B, f func(b *testing.B, rootfs string, v variants.Variant)) {
	containertest.SkipUnlessRoot(b)
	rootfs := containertest.Rootfs(b)
	for _, v := range variants.All {
		if v.Check {
			continue
		}
		b.Run(v.Name, func(b *testing.B) { f(b, rootfs, v) })
	}
}

// BenchmarkStart: one container after another, /bin/true, started and waited.
// ns/op is the wall time per container; B/op and allocs/op are the parent's.
func BenchmarkStart(b *testing.B) {
	forEachVariant(b, func(b *testing.B, rootfs string, v variants.Variant) {
		runTrue(b, rootfs, v, 0) // warm-up: the fork threads, the page cache
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			runTrue(b, rootfs, v, i+1)
		}
	})
}

// BenchmarkStartParallel: two containers at a time from two goroutines;
// containers/s is the throughput (ns/op is wall time over all containers).
func BenchmarkStartParallel(b *testing.B) {
	forEachVariant(b, func(b *testing.B, rootfs string, v variants.Variant) {
		const workers = 2
		runTrue(b, rootfs, v, 0)
		b.ReportAllocs()
		b.ResetTimer()
		var next atomic.Int64
		var wg sync.WaitGroup
		t0 := time.Now()
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1))
					if i > b.N {
						return
					}
					c, err := container.New(rootfs, []string{"/bin/true"}, v.Options(i)...)
					if err == nil {
						err = c.Run(context.Background())
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "containers/s")
	})
}

// BenchmarkStartNth: start-up cost as work grows. Each op runs nth containers
// one after another in this process and reports the median time of the ones
// around the 10th and of the last 20 (ms@10, ms@nth) and their ratio. Run it
// with -benchtime=1x; -short uses 100 containers instead of 1000.
func BenchmarkStartNth(b *testing.B) {
	forEachVariant(b, func(b *testing.B, rootfs string, v variants.Variant) {
		nth := 1000
		if testing.Short() {
			nth = 100
		}
		var early, late []float64
		for b.Loop() {
			times := make([]float64, nth)
			for i := range nth {
				t0 := time.Now()
				runTrue(b, rootfs, v, i)
				times[i] = float64(time.Since(t0)) / 1e6
			}
			early = append(early, times[:20]...)
			late = append(late, times[nth-20:]...)
		}
		b.ReportMetric(medianOf(early), "ms@10")
		b.ReportMetric(medianOf(late), "ms@"+strconv.Itoa(nth))
		b.ReportMetric(medianOf(late)/medianOf(early), "late/early")
	})
}

// BenchmarkStartWhileRunning: a container's start-up with none and with 200
// other containers (sleeping) running in this process. -short: 20.
func BenchmarkStartWhileRunning(b *testing.B) {
	forEachVariant(b, func(b *testing.B, rootfs string, v variants.Variant) {
		n := 200
		if testing.Short() {
			n = 20
		}
		for _, running := range []int{0, n} {
			b.Run("running="+strconv.Itoa(running), func(b *testing.B) {
				ctx, cancel := context.WithCancel(context.Background())
				var bg []*container.Container
				defer func() {
					cancel() // kills every background container
					for _, c := range bg {
						c.Wait()
					}
				}()
				for i := range running {
					c, err := container.New(rootfs, []string{"/bin/sleep", "3600"}, v.Options(i)...)
					if err != nil {
						b.Fatal(err)
					}
					if err := c.Start(ctx); err != nil {
						b.Fatalf("background container %d: %v", i, err)
					}
					bg = append(bg, c)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; b.Loop(); i++ {
					runTrue(b, rootfs, v, running+i)
				}
			})
		}
	})
}

// BenchmarkParentMemory: the caller's memory over many sequential containers.
// Each op runs 1000 containers (-short: 100); it reports, after a GC that
// returns free memory to the OS, how much the process's resident set and the
// Go heap in use grew over the second half (rss-KiB, heap-KiB: a leak shows
// here) and over the first (rss-warmup-KiB: the runtime's metadata warming
// up). No per-child peak RSS here: an init started with vfork, as os/exec
// does, inherits its parent's high-water mark at execve, so getrusage cannot
// tell an init's own; bench/run.sh measures that.
func BenchmarkParentMemory(b *testing.B) {
	forEachVariant(b, func(b *testing.B, rootfs string, v variants.Variant) {
		n := 1000
		if testing.Short() {
			n = 100
		}
		var warm, rssGrowth, heapGrowth float64
		for b.Loop() {
			var rss [2]int64
			var heap [2]uint64
			for i := range n {
				switch i {
				case 10:
					rss[0], heap[0] = memNow()
				case n / 2:
					rss[1], heap[1] = memNow()
				}
				runTrue(b, rootfs, v, i)
			}
			rss2, heap2 := memNow()
			warm = max(warm, float64(rss[1]-rss[0]))
			rssGrowth = max(rssGrowth, float64(rss2-rss[1]))
			heapGrowth = max(heapGrowth, (float64(heap2)-float64(heap[1]))/1024)
		}
		b.ReportMetric(rssGrowth, "rss-KiB")
		b.ReportMetric(heapGrowth, "heap-KiB")
		b.ReportMetric(warm, "rss-warmup-KiB")
	})
}

// memNow returns this process's VmRSS in KiB and the Go heap in use, after a GC that
// returns free pages to the OS.
func memNow() (rssKiB int64, heap uint64) {
	debug.FreeOSMemory() // a GC, and free pages go back to the OS: RSS then tracks live memory
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if f, err := os.Open("/proc/self/status"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
				rssKiB, _ = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			}
		}
		f.Close()
	}
	return rssKiB, ms.HeapInuse
}

func medianOf(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
