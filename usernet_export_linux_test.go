package container

// Test hooks for the external tests of WithUserNetwork.

// SetUserNetHelpers makes Start look only for the named helpers ("pasta",
// "slirp4netns"), in order, until restore is called.
func SetUserNetHelpers(names ...string) (restore func()) {
	old := userNetHelpers
	userNetHelpers = nil
	for _, n := range names {
		userNetHelpers = append(userNetHelpers, userNetHelper(n))
	}
	return func() { userNetHelpers = old }
}

// UserNetHelperPid returns the pid of a started container's user-network
// helper, or 0.
func UserNetHelperPid(c *Container) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.run == nil || c.run.userNet == nil || c.run.userNet.cmd == nil {
		return 0
	}
	return c.run.userNet.cmd.Process.Pid
}
