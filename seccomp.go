package container

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/ctrkit/container/internal/seccompopt"
)

// Seccomp: the policies and their compiler are package seccomp's
// (github.com/ctrkit/container/seccomp), which reaches this package through
// internal/seccompopt. This package holds only compiled programs: the
// default policy's, pregenerated per architecture (seccomp_default_*.go,
// written and checked by package seccomp's TestDefaultProgramPregenerated),
// and the one seccomp.WithPolicy compiled in New; the init only loads the
// bytes (seccomp_linux.go). So a program that imports this package alone
// links no seccomp compiler, and a container's init runs none of its package
// initialisation.

func init() {
	seccompopt.WithProgram = func(option string, program func() ([]byte, error)) any {
		return withProgram(option, program)
	}
}

// securityConfig is the security part of a container's configuration.
type securityConfig struct {
	compile   func() ([]byte, error) // seccomp.WithPolicy's; nil: the default policy
	option    string                 // the option that set compile, for errors
	noSeccomp bool
	program   []byte // the compiled filter, set by finish
	caps      capMask
	capsAsked capMask // capabilities named by WithCapabilities or WithCapAdd
	newPrivs  bool
}

// securityInit is what the init needs to lock itself down, computed by the parent.
type securityInit struct {
	Seccomp    []byte // struct sock_filter array, native byte order; empty: no filter
	Bounding   uint64 // capability bits kept in the bounding set
	Permitted  uint64 // permitted and effective
	Ambient    uint64 // inheritable and ambient
	NoNewPrivs bool
}

// defaultProgram returns the default policy's program, pregenerated for the
// architecture: compiling it would take a few milliseconds and, worse, the
// compiler's package initialisation in every container's init. Where no
// program is pregenerated, a container without a seccomp option fails: there
// is no silent fallback to none.
func defaultProgram() ([]byte, error) {
	if pregeneratedDefaultProgram == "" {
		return nil, fmt.Errorf("no default filter is pregenerated for %s: pass seccomp.WithPolicy(seccomp.Default()) or WithoutSeccomp: %w",
			runtime.GOARCH, errors.ErrUnsupported)
	}
	return []byte(pregeneratedDefaultProgram), nil
}

// finish compiles the seccomp filter (package seccomp caches it by policy).
func (s *securityConfig) finish() error {
	if s.noSeccomp {
		if s.compile != nil {
			return optErr("WithoutSeccomp", nil, "conflicts with %s", s.option)
		}
		return nil
	}
	var err error
	if s.compile == nil {
		if s.program, err = defaultProgram(); err != nil {
			return &OptionError{Option: "seccomp", Err: fmt.Errorf("default policy: %w", err)}
		}
		return nil
	}
	if s.program, err = s.compile(); err != nil {
		return &OptionError{Option: s.option, Err: err}
	}
	return nil
}

func (s *securityConfig) initSecurity(uid uint32) securityInit {
	si := securityInit{Seccomp: s.program, Bounding: uint64(s.caps), NoNewPrivs: !s.newPrivs}
	if uid == 0 {
		si.Permitted = uint64(s.caps)
	} else {
		// A user other than root gets only what was asked for by name, as
		// ambient capabilities (the only kind execve keeps for a non-root user).
		si.Permitted = uint64(s.caps & s.capsAsked)
		si.Ambient = si.Permitted
	}
	return si
}

// withProgram is the option behind package seccomp's WithPolicy (see
// internal/seccompopt): New calls program in finish, unless WithoutSeccomp
// conflicts with it. A later seccomp option replaces an earlier one.
func withProgram(option string, program func() ([]byte, error)) Option {
	return optionFunc(func(c *config) error {
		c.security.compile = program
		c.security.option = option
		return nil
	})
}

// WithoutSeccomp runs the container without a seccomp filter. Capabilities and
// no_new_privs still apply. Without it, or a policy of
// [github.com/ctrkit/container/seccomp.WithPolicy], a container loads the
// default policy ([github.com/ctrkit/container/seccomp.Default]: Docker's
// allowlist), pregenerated for amd64, arm64, 386 and arm; on any other
// architecture New fails and says to pass one or the other. New fails if
// both WithoutSeccomp and seccomp.WithPolicy are given.
func WithoutSeccomp() Option {
	return optionFunc(func(c *config) error {
		c.security.noSeccomp = true
		return nil
	})
}
