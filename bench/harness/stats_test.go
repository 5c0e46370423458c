//go:build linux

package main

import (
	"math"
	"testing"
)

func TestSummarise(t *testing.T) {
	for _, tc := range []struct {
		in            []float64
		med, p25, p75 float64
	}{
		{[]float64{5}, 5, 5, 5},
		{[]float64{3, 1, 2}, 2, 1.5, 2.5},
		{[]float64{4, 1, 3, 2}, 2.5, 1.75, 3.25},
		{[]float64{1, 2, 3, 4, 100}, 3, 2, 4},
	} {
		s := summarise(tc.in)
		if s.Median != tc.med || s.P25 != tc.p25 || s.P75 != tc.p75 || s.N != len(tc.in) {
			t.Errorf("summarise(%v) = %+v, want median %v p25 %v p75 %v", tc.in, s, tc.med, tc.p25, tc.p75)
		}
	}
	if s := summarise(nil); !math.IsNaN(s.Median) || s.N != 0 {
		t.Errorf("summarise(nil) = %+v, want NaN median", s)
	}
}

func TestSeccompListIsLargeAndUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, n := range defaultSyscalls {
		if seen[n] {
			t.Errorf("syscall %q listed twice", n)
		}
		seen[n] = true
	}
	if len(defaultSyscalls) < 300 {
		t.Errorf("allowlist has %d syscalls, want 300 or more", len(defaultSyscalls))
	}
}
