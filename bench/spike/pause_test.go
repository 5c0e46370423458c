//go:build linux && amd64

package main

import (
	"context"
	"os"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"

	"github.com/ctrkit/container"
	"github.com/ctrkit/container/containertest"
)

// BenchmarkStopTheWorld measures what the rest of a caller's program pays for
// the spike's vfork child: while the parent's thread waits in clone3 (the
// whole container setup, ~2 ms here) its goroutine cannot be preempted, so a
// garbage collection's stop-the-world waits for it. A goroutine allocates
// garbage throughout; the benchmark reports the runtime's time-to-stop for
// GC (/sched/pauses/stopping/gc:seconds): median, 99th percentile, and the
// share of stops of 0.5 ms or more; for the spike (vfork), the spike with
// -vm (the parent waits in read(2), where the goroutine is stopped at once)
// and the library (whose vfork window is os/exec's, before the re-exec).
//
//	sudo go test -run '^$' -bench StopTheWorld -benchtime 300x ./bench/spike
func BenchmarkStopTheWorld(b *testing.B) {
	containertest.SkipUnlessRoot(b)
	rootfs := containertest.Rootfs(b)
	null, err := os.OpenFile("/dev/null", os.O_RDWR, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer null.Close()
	stdio := [3]int{int(null.Fd()), int(null.Fd()), int(null.Fd())}
	for _, tc := range []struct {
		name string
		run  func() error
	}{
		{"spike", func() error { useVM = false; return runTrue(rootfs, []string{"/bin/true"}, stdio) }},
		{"spike-vm", func() error { useVM = true; return runTrue(rootfs, []string{"/bin/true"}, stdio) }},
		{"library", func() error {
			c, err := container.New(rootfs, []string{"/bin/true"})
			if err != nil {
				return err
			}
			return c.Run(context.Background())
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			if tc.name == "spike-vm" && raceBuild {
				b.Skip("skipping: -vm is refused in a race build (race_on.go)")
			}
			if err := tc.run(); err != nil { // warm-up
				b.Fatal(err)
			}
			before := stopping()
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { // garbage: a GC every few milliseconds
				defer wg.Done()
				var keep [][]byte
				for {
					select {
					case <-stop:
						return
					default:
					}
					keep = append(keep, make([]byte, 64<<10))
					if len(keep) > 64 {
						keep = keep[:0]
					}
					runtime.Gosched()
				}
			}()
			b.ResetTimer()
			for range b.N {
				if err := tc.run(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			close(stop)
			wg.Wait()
			h := stopping()
			var counts []uint64
			var total uint64
			for i := range h.Counts {
				c := h.Counts[i] - before.Counts[i]
				counts = append(counts, c)
				total += c
			}
			if total == 0 {
				return
			}
			// Bucket upper bounds: the runtime's histogram is exponential,
			// so these are coarse (within ~12%).
			var seen, long uint64
			med, p99 := 0.0, 0.0
			for i, c := range counts {
				if c == 0 {
					continue
				}
				if seen < total/2 && seen+c >= total/2 {
					med = h.Buckets[i+1]
				}
				if seen < total*99/100 && seen+c >= total*99/100 {
					p99 = h.Buckets[i+1]
				}
				if h.Buckets[i] >= 500e-6 {
					long += c
				}
				seen += c
			}
			b.ReportMetric(float64(total)/float64(b.N), "GCs/op")
			b.ReportMetric(med*1e6, "µs-stop-p50")
			b.ReportMetric(p99*1e6, "µs-stop-p99")
			b.ReportMetric(100*float64(long)/float64(total), "%stops≥0.5ms")
		})
	}
}

func stopping() *metrics.Float64Histogram {
	s := []metrics.Sample{{Name: "/sched/pauses/stopping/gc:seconds"}}
	metrics.Read(s)
	h := s[0].Value.Float64Histogram()
	return &metrics.Float64Histogram{Counts: append([]uint64(nil), h.Counts...), Buckets: h.Buckets}
}
