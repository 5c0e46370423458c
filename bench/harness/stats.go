//go:build linux

package main

import (
	"math"
	"slices"
)

// stats summarises a sample of durations in nanoseconds.
type stats struct {
	N                int
	Median, P25, P75 float64
	Min, Max         float64
}

func summarise(xs []float64) stats {
	if len(xs) == 0 {
		return stats{Median: math.NaN(), P25: math.NaN(), P75: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return stats{N: len(s), Median: quantile(s, 0.5), P25: quantile(s, 0.25), P75: quantile(s, 0.75), Min: s[0], Max: s[len(s)-1]}
}

// quantile of a sorted sample, interpolating linearly between order statistics.
func quantile(s []float64, q float64) float64 {
	if len(s) == 1 {
		return s[0]
	}
	pos := q * float64(len(s)-1)
	i := int(pos)
	if i >= len(s)-1 {
		return s[len(s)-1]
	}
	f := pos - float64(i)
	return s[i]*(1-f) + s[i+1]*f
}

func median(xs []float64) float64 { return summarise(xs).Median }
