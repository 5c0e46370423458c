// Package variants lists the container configurations the benchmarks compare:
// the default container and the default plus each feature whose cost the
// performance goals bound (issue 6). Both the Go benchmarks (bench_test.go at
// the module root) and the whole-process driver (bench/ctrrun) read this one
// list, so adding a row to every benchmark is one line here.
package variants

import (
	"fmt"
	"net/netip"

	"github.com/ctrkit/container"
)

// A Variant is one configuration of the container under test.
type Variant struct {
	// Name is the sub-benchmark name and the -variant flag of bench/ctrrun.
	Name string
	// Check marks a variant that is only started by the harness's functional
	// checks (e.g. a container that must start under a tight memory limit),
	// not timed as rows or benchmarks.
	Check bool
	// Options returns the options of the i-th container started in a run (i
	// counts from 0). Variants that need a distinct resource per container
	// (addresses, names) derive it from i; containers started at the same time
	// never share an i.
	Options func(i int) []container.Option
}

// All is every variant, the default container first.
var All = []Variant{
	{Name: "default", Options: func(int) []container.Option { return nil }},
	{Name: "limits", Options: func(int) []container.Option {
		return []container.Option{container.WithMemory(64 << 20), container.WithPids(64)}
	}},
	{Name: "noseccomp", Options: func(int) []container.Option { return []container.Option{container.WithoutSeccomp()} }},
	{Name: "mem8m", Check: true, Options: func(int) []container.Option { return []container.Option{container.WithMemory(8 << 20)} }},
	{Name: "veth", Options: func(i int) []container.Option {
		h, c := Veth30(i)
		return []container.Option{container.WithVeth(h, c)}
	}},
	{Name: "overlay", Options: func(int) []container.Option { return []container.Option{container.WithOverlay()} }},
	// To add a feature's cost to every benchmark, add its line here. The
	// harness checks the goal of each of "limits", "veth" and "mem8m".
}

// Get returns the variant called name.
func Get(name string) (Variant, error) {
	for _, v := range All {
		if v.Name == name {
			return v, nil
		}
	}
	var names []string
	for _, v := range All {
		names = append(names, v.Name)
	}
	return Variant{}, fmt.Errorf("unknown variant %q (have %v)", name, names)
}

// Veth30 returns the host and container ends of the i-th /30 link in
// 169.254.128.0/17 (link-local, never routed off this machine): 8192 distinct
// links before they repeat.
func Veth30(i int) (host, ctr netip.Prefix) {
	n := 128<<8 + (i%8192)*4 // offset in 169.254.0.0/16
	a, b := byte(n>>8), byte(n&0xff)
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{169, 254, a, b + 1}), 30),
		netip.PrefixFrom(netip.AddrFrom4([4]byte{169, 254, a, b + 2}), 30)
}
