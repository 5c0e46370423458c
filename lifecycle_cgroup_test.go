package container

import (
	"slices"
	"testing"
)

// A cgroup at a fixed path (an OCI runtime's) is in the hierarchies that
// updates and statistics need, where the host has them, besides those its
// limits need.
func TestControllersAt(t *testing.T) {
	mounted := map[string]string{"memory": "/m", "cpu": "/c", "cpuacct": "/c", "freezer": "/f", "blkio": "/b", "devices": "/d"}
	l := &limitsConfig{path: "/x"}
	if got, want := l.v1ControllersAt(mounted), []string{"freezer", "memory", "cpu", "cpuacct", "blkio"}; !slices.Equal(got, want) {
		t.Errorf("v1, no limits: %v, want %v", got, want)
	}
	l = &limitsConfig{path: "/x", pids: 10, memory: 64 << 20}
	// pids is needed: listed even where it is not mounted (createAt fails
	// then, naming it).
	if got, want := l.v1ControllersAt(mounted), []string{"memory", "pids", "freezer", "cpu", "cpuacct", "blkio"}; !slices.Equal(got, want) {
		t.Errorf("v1, memory and pids: %v, want %v", got, want)
	}
	if got, want := (&limitsConfig{}).v2ExtraAt("cpuset cpu io memory hugetlb pids rdma misc\n"), []string{"memory", "cpu", "io", "pids"}; !slices.Equal(got, want) {
		t.Errorf("v2, no limits: %v, want %v", got, want)
	}
	if got, want := (&limitsConfig{memory: 64 << 20}).v2ExtraAt("cpu memory\n"), []string{"cpu"}; !slices.Equal(got, want) {
		t.Errorf("v2, memory, host without io and pids: %v, want %v", got, want)
	}
}
