package container

// Hook point of the security feature (issue 4); filled in by its implementation.

// lockDown runs last before execve, on the thread that calls it:
// capabilities, then no_new_privs, then seccomp.
func lockDown(cfg *initConfig) error { return nil }
