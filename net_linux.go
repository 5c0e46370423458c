package container

// Hook points of the network feature (issue 5); filled in by its implementation.

// netState is the parent's handle on the container's host-side network objects.
type netState struct{}

// createNetwork creates host-side objects (veth pair) before the clone.
func (r *running) createNetwork(c *config, rel *releaser) error { return nil }

// attachNetwork moves the container's end into the init's network namespace
// and configures it, before the init is told to go.
func (r *running) attachNetwork(c *config) error { return nil }

// releaseNetwork releases host-side network objects after the container exited.
func (r *running) releaseNetwork() {}

// setupNetworkInside runs in the init after pivot_root: lo up, eth0 address and route.
func setupNetworkInside(cfg *initConfig) error { return nil }
