package container

import (
	"errors"
	"fmt"
	"os"
)

// CheckError is one reason a container cannot start on this host as this
// user, found by [Check]: the feature the options ask for, why the host
// cannot give it, and what to do about it.
type CheckError struct {
	Feature string // such as "user namespaces", "cgroup limits", "Landlock"
	Reason  string
	Fix     string
}

func (e *CheckError) Error() string {
	if e.Fix == "" {
		return fmt.Sprintf("container: %s: %s", e.Feature, e.Reason)
	}
	return fmt.Sprintf("container: %s: %s (%s)", e.Feature, e.Reason, e.Fix)
}

// Check reports, before any [Container.Start], whether a container with opts
// can start on this host as this user: nil, or every reason found, joined
// (errors.Join of *[OptionError] and *[CheckError] values), each with what to
// do about it. It reads the host (the kernel's version, its sysctls, the
// caller's cgroup and capabilities, the Landlock ABI, the helpers in $PATH)
// and changes nothing: no cgroup is made and no namespace is left. A nil
// error is no promise (a cgroup may fill up, a path may vanish), but a
// reason it gives is one Start would fail with.
func Check(opts ...Option) error {
	c, err := newConfig(os.TempDir(), []string{"/bin/true"}, opts)
	if err != nil {
		return err
	}
	return errors.Join(checkHost(c)...)
}
