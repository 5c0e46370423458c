//go:build !linux

package container

// Stats returns [ErrNotStarted] on this platform, where no container starts.
func (c *Container) Stats() (Stats, error) { return Stats{}, ErrNotStarted }
