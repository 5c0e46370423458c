package container

// Hook points of the limits feature (issue 3); filled in by its implementation.

// cgroupState is the parent's handle on the container's cgroup.
type cgroupState struct{}

// createCgroup creates the container's cgroup before the clone, if limits need one.
func (r *running) createCgroup(c *config, rel *releaser) error { return nil }

// joinCgroup places the cloned init in its cgroup (v1) before it is told to go.
func (r *running) joinCgroup() error { return nil }

// killCgroup kills every process in the container's cgroup.
func (r *running) killCgroup() {}

// removeCgroup reads the OOM events and removes the cgroup after the first process exited.
func (r *running) removeCgroup() (oomKilled bool, err error) { return false, nil }
