package main

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/ctrkit/container"
)

// features are the rows of -check: each feature with the options that ask
// for it.
var features = []struct {
	name string
	opts []container.Option
}{
	{"a default container", nil},
	{"cgroup limits (WithMemory, WithCPU, WithPids)", []container.Option{container.WithMemory(64 << 20), container.WithCPU(1), container.WithPids(64)}},
	{"a user namespace with a range of ids (WithUIDMap)", []container.Option{
		container.WithUIDMap(container.IDMap{ContainerID: 0, HostID: 100000, Size: 65536}),
		container.WithGIDMap(container.IDMap{ContainerID: 0, HostID: 100000, Size: 65536})}},
	{"veth networking (WithVeth)", []container.Option{container.WithVeth(netip.MustParsePrefix("169.254.9.1/30"), netip.MustParsePrefix("169.254.9.2/30"))}},
	{"user-mode networking (WithUserNetwork)", []container.Option{container.WithUserNetwork()}},
	{"Landlock, every right the library knows (WithLandlock)", []container.Option{container.WithLandlock(container.LandlockRead("/"))}},
	{"Landlock, best effort", []container.Option{container.WithLandlock(container.LandlockRead("/")), container.WithLandlockBestEffort()}},
}

// check prints a table of every feature and whether this host, as this user,
// has it (container.Check), and returns 0 when all do.
func check() int {
	code := 0
	fmt.Printf("%-56s %s\n", "feature", "on this host, as uid "+fmt.Sprint(os.Geteuid()))
	for _, f := range features {
		err := container.Check(f.opts...)
		if err == nil {
			fmt.Printf("%-56s yes\n", f.name)
			continue
		}
		code = 1
		var lines []string
		for _, e := range flatten(err) {
			lines = append(lines, strings.TrimPrefix(e.Error(), "container: "))
		}
		fmt.Printf("%-56s no: %s\n", f.name, strings.Join(lines, "\n"+strings.Repeat(" ", 61)))
	}
	return code
}

func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{errors.Unwrap(err), err}[1:]
}
