package container

import (
	"errors"
	"fmt"
	"math/bits"
	"strings"
)

// Capabilities: the container's sets are computed here from the options, as
// bit masks in Linux's numbering; caps_linux.go applies them in the init.

// ErrCapabilityUnavailable is wrapped by Start's error when the container is
// to get a capability that the caller's bounding set lacks: no process the
// caller starts can have it, so Start fails instead of silently running the
// container without it.
var ErrCapabilityUnavailable = errors.New("capability not in the bounding set of the caller")

// capMask is a set of capabilities, bit n for capability number n.
type capMask uint64

// capNames are Linux's capability names, indexed by number (linux/capability.h).
var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
	"CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
	"CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// allCapsMask is every capability this library knows by name.
const allCapsMask = capMask(1)<<41 - 1

// defaultCaps are Docker's 14 default capabilities.
var defaultCaps = mustCaps("CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
	"SETPCAP", "NET_BIND_SERVICE", "NET_RAW", "SYS_CHROOT", "MKNOD", "AUDIT_WRITE", "SETFCAP")

// parseCap returns the mask of one capability name, with or without the CAP_
// prefix, in any case; "ALL" means every capability. Nothing else is
// forgiven: a name with a space, a dash or any other character is unknown.
func parseCap(name string) (capMask, bool) {
	n := strings.ToUpper(name)
	if n == "ALL" {
		return allCapsMask, true
	}
	if !strings.HasPrefix(n, "CAP_") {
		n = "CAP_" + n
	}
	for i, c := range capNames {
		if c == n {
			return 1 << i, true
		}
	}
	return 0, false
}

func parseCaps(option string, names []string) (capMask, error) {
	var m capMask
	for _, n := range names {
		b, ok := parseCap(n)
		switch {
		case !ok && strings.IndexFunc(n, notCapNameRune) >= 0:
			return 0, optErr(option, n, "not a capability name: only letters, digits and '_' (as CAP_NET_ADMIN or net_admin)")
		case !ok:
			return 0, optErr(option, n, "unknown capability")
		}
		m |= b
	}
	return m, nil
}

// notCapNameRune reports whether r cannot be part of a capability name.
func notCapNameRune(r rune) bool {
	return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_')
}

func mustCaps(names ...string) capMask {
	m, err := parseCaps("defaultCaps", names)
	if err != nil {
		panic(err)
	}
	return m
}

// String lists the capabilities by name, in number order.
func (m capMask) String() string {
	var out []string
	for b := m; b != 0; b &= b - 1 {
		i := bits.TrailingZeros64(uint64(b))
		if i < len(capNames) {
			out = append(out, capNames[i])
		} else {
			out = append(out, fmt.Sprintf("cap_%d", i))
		}
	}
	return strings.Join(out, " ")
}

// WithCapabilities replaces the container's capabilities with the named ones
// ("CAP_NET_ADMIN" or "NET_ADMIN", or "ALL"). Without it a container gets
// Docker's 14: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP
// NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP. They form the
// bounding set; a root user also gets them permitted and effective, any other
// user ([WithUser]) gets only the ones named here or by [WithCapAdd], as
// ambient capabilities. An unknown name makes New fail; a capability missing
// from the bounding set of the caller makes Start fail (the init sets them with
// capset(2) and prctl(PR_CAPBSET_DROP, PR_CAP_AMBIENT) right before execve).
func WithCapabilities(names ...string) Option {
	return optionFunc(func(c *config) error {
		m, err := parseCaps("WithCapabilities", names)
		if err != nil {
			return err
		}
		c.security.caps = m
		c.security.capsAsked = m
		return nil
	})
}

// WithCapAdd adds the named capabilities to the container's set (see
// [WithCapabilities] for names and how they are applied).
func WithCapAdd(names ...string) Option {
	return optionFunc(func(c *config) error {
		m, err := parseCaps("WithCapAdd", names)
		if err != nil {
			return err
		}
		c.security.caps |= m
		c.security.capsAsked |= m
		return nil
	})
}

// WithCapDrop removes the named capabilities from the container's set (see
// [WithCapabilities] for names and how they are applied).
func WithCapDrop(names ...string) Option {
	return optionFunc(func(c *config) error {
		m, err := parseCaps("WithCapDrop", names)
		if err != nil {
			return err
		}
		c.security.caps &^= m
		c.security.capsAsked &^= m
		return nil
	})
}

// WithNewPrivileges lets the container's processes gain privileges through
// execve of setuid, setgid or file-capability binaries: the init does not set
// no_new_privs (prctl PR_SET_NO_NEW_PRIVS), which it sets by default. The
// seccomp filter is then loaded before the capabilities are dropped, since
// loading it without no_new_privs needs CAP_SYS_ADMIN.
func WithNewPrivileges() Option {
	return optionFunc(func(c *config) error {
		c.security.newPrivs = true
		return nil
	})
}
