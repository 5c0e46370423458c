package container

import "runtime"

// Test hooks for the external tests of the limits feature.

// CgroupDirs returns the directories of a started container's cgroup
// (controller → directory), or nil when it has none.
func CgroupDirs(c *Container) map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.run == nil || c.run.cg == nil {
		return nil
	}
	out := map[string]string{}
	for k, v := range c.run.cg.dirs {
		out[k] = v
	}
	return out
}

// InitTaskReserve is the init's reserve of tasks on this host.
var InitTaskReserve = initReserve(runtime.NumCPU())

// BornInV1Cgroups reports whether a started container's init was cloned
// straight into its v1 cgroups (startInV1) rather than moved there after.
func BornInV1Cgroups(c *Container) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.run != nil && c.run.cg != nil && c.run.cg.placedV1
}
