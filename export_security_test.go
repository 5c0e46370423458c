package container

// WithInitPause is a test hook: the init waits, just before it locks itself
// down, until path (inside the container) exists.
func WithInitPause(path string) Option {
	return optionFunc(func(c *config) error {
		c.security.testPause = path
		return nil
	})
}
