package container

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Landlock (landlock(7)) is the kernel's sandbox for unprivileged processes:
// a ruleset names the kinds of access it handles and, for each path or port,
// which of them are allowed; once a thread restricts itself, every handled
// access it or its descendants make that no rule allows fails with EACCES.
// New validates the rules; Start reads the kernel's Landlock ABI version and
// plans the ruleset for it here, in pure code (plan); the init builds it
// after pivot_root and enforces it right before the capabilities and the
// seccomp filter (landlock_linux.go).

// The access rights and scopes of the Landlock ABI
// (include/uapi/linux/landlock.h), here so that the plan builds and is tested
// on every platform; landlock_linux_test.go checks them against
// golang.org/x/sys/unix.
const (
	llFSExecute    = 1 << 0
	llFSWriteFile  = 1 << 1
	llFSReadFile   = 1 << 2
	llFSReadDir    = 1 << 3
	llFSRemoveDir  = 1 << 4
	llFSRemoveFile = 1 << 5
	llFSMakeChar   = 1 << 6
	llFSMakeDir    = 1 << 7
	llFSMakeReg    = 1 << 8
	llFSMakeSock   = 1 << 9
	llFSMakeFifo   = 1 << 10
	llFSMakeBlock  = 1 << 11
	llFSMakeSym    = 1 << 12
	llFSRefer      = 1 << 13 // ABI 2
	llFSTruncate   = 1 << 14 // ABI 3
	llFSIoctlDev   = 1 << 15 // ABI 5

	llNetBindTCP    = 1 << 0 // ABI 4
	llNetConnectTCP = 1 << 1 // ABI 4

	llScopeAbstractUnixSocket = 1 << 0 // ABI 6
	llScopeSignal             = 1 << 1 // ABI 6

	// The rights of ABI 1.
	llFSABI1 = llFSExecute | llFSWriteFile | llFSReadFile | llFSReadDir | llFSRemoveDir | llFSRemoveFile |
		llFSMakeChar | llFSMakeDir | llFSMakeReg | llFSMakeSock | llFSMakeFifo | llFSMakeBlock | llFSMakeSym

	// What each kind of rule allows.
	llRead  = llFSExecute | llFSReadFile | llFSReadDir
	llWrite = llRead | llFSWriteFile | llFSRemoveDir | llFSRemoveFile | llFSMakeChar | llFSMakeDir |
		llFSMakeReg | llFSMakeSock | llFSMakeFifo | llFSMakeBlock | llFSMakeSym | llFSRefer | llFSTruncate
	llIoctl = llFSIoctlDev

	// The rights the kernel accepts on a rule for a file that is not a
	// directory (the others only make sense below a directory).
	llFSFile = llFSExecute | llFSWriteFile | llFSReadFile | llFSTruncate | llFSIoctlDev
)

// landlockRights is everything WithLandlock fences, each with its name in
// errors and LandlockStatus.Dropped and the first ABI that has it.
var landlockRights = []struct {
	name            string
	abi             int
	fs, net, scoped uint64
	unlessAnyTCP    bool // LandlockAnyTCP leaves it unfenced
}{
	{name: "fs", abi: 1, fs: llFSABI1},
	{name: "refer", abi: 2, fs: llFSRefer},
	{name: "truncate", abi: 3, fs: llFSTruncate},
	{name: "bind_tcp", abi: 4, net: llNetBindTCP, unlessAnyTCP: true},
	{name: "connect_tcp", abi: 4, net: llNetConnectTCP, unlessAnyTCP: true},
	{name: "ioctl_dev", abi: 5, fs: llFSIoctlDev},
	{name: "abstract_unix_socket", abi: 6, scoped: llScopeAbstractUnixSocket},
	{name: "signal", abi: 6, scoped: llScopeSignal},
}

type landlockKind uint8

const (
	llRuleNone landlockKind = iota
	llRuleRead
	llRuleWrite
	llRuleIoctl
	llRuleBindTCP
	llRuleConnectTCP
	llRuleAnyTCP
)

var landlockKindNames = [...]string{"LandlockRule", "LandlockRead", "LandlockWrite", "LandlockIoctl", "LandlockBindTCP", "LandlockConnectTCP", "LandlockAnyTCP"}

// A LandlockRule allows the command of a container under WithLandlock some
// access: to the files below some paths (LandlockRead, LandlockWrite,
// LandlockIoctl) or to some TCP ports (LandlockBindTCP, LandlockConnectTCP,
// LandlockAnyTCP). The zero LandlockRule is empty, and New refuses it.
type LandlockRule struct {
	kind  landlockKind
	paths []string
	ports []uint16
}

// LandlockRead allows reading and executing the files below each path, and
// listing its directories: Landlock's execute, read_file and read_dir. A path
// is the container's, absolute; it may name a file that is not a directory,
// for which the rule allows reading and executing it.
func LandlockRead(paths ...string) LandlockRule {
	return LandlockRule{kind: llRuleRead, paths: append([]string(nil), paths...)}
}

// LandlockWrite allows what LandlockRead does and also writing, truncating,
// creating (files, directories, symbolic links, FIFOs, sockets, device nodes),
// removing, and renaming and linking below each path, between the paths of
// LandlockWrite rules too (Landlock's refer). A path naming a file that is not
// a directory allows reading, executing, writing and truncating it. Opening a
// device does not allow ioctl(2) on it: see LandlockIoctl.
func LandlockWrite(paths ...string) LandlockRule {
	return LandlockRule{kind: llRuleWrite, paths: append([]string(nil), paths...)}
}

// LandlockIoctl allows ioctl(2) on the character and block devices below each
// path (Landlock's ioctl_dev, ABI 5): a shell's job control on /dev/tty, a
// tun device's TUNSETIFF. Opening them needs LandlockRead or LandlockWrite as
// well. Without it, ioctl on a device the command opens fails with EACCES
// (the few generic commands, such as FIONREAD and FIOCLEX, always work; so
// does every ioctl on descriptors it inherited, its standard streams and the
// terminal of WithTerminal among them).
func LandlockIoctl(paths ...string) LandlockRule {
	return LandlockRule{kind: llRuleIoctl, paths: append([]string(nil), paths...)}
}

// LandlockBindTCP allows bind(2) of TCP sockets to each port (Landlock ABI 4).
// Port 0 allows binding to a port the kernel picks.
func LandlockBindTCP(ports ...uint16) LandlockRule {
	return LandlockRule{kind: llRuleBindTCP, ports: append([]uint16(nil), ports...)}
}

// LandlockConnectTCP allows connect(2) of TCP sockets to each port, on any
// address (Landlock ABI 4).
func LandlockConnectTCP(ports ...uint16) LandlockRule {
	return LandlockRule{kind: llRuleConnectTCP, ports: append([]uint16(nil), ports...)}
}

// LandlockAnyTCP leaves TCP unfenced: the command may bind and connect TCP
// sockets to every port, and the ruleset does not need ABI 4. It conflicts
// with LandlockBindTCP and LandlockConnectTCP.
func LandlockAnyTCP() LandlockRule { return LandlockRule{kind: llRuleAnyTCP} }

// check validates a rule as New sees it.
func (r LandlockRule) check() error {
	name := landlockKindNames[r.kind]
	switch r.kind {
	case llRuleNone:
		return optErr("WithLandlock", nil, "empty LandlockRule: make rules with LandlockRead, LandlockWrite, LandlockIoctl or the TCP rules")
	case llRuleRead, llRuleWrite, llRuleIoctl:
		if len(r.paths) == 0 {
			return optErr(name, nil, "no paths")
		}
		for _, p := range r.paths {
			switch {
			case strings.ContainsRune(p, 0):
				return optErr(name, p, "path contains a NUL byte")
			case !filepath.IsAbs(p):
				return optErr(name, p, "must be an absolute path in the container")
			}
		}
	case llRuleBindTCP, llRuleConnectTCP:
		if len(r.ports) == 0 {
			return optErr(name, nil, "no ports")
		}
	}
	return nil
}

// landlockConfig is what the Landlock options ask for.
type landlockConfig struct {
	on         bool // WithLandlock
	bestEffort bool // WithLandlockBestEffort
	rules      []LandlockRule
	// status is what Start found and planned (Container.Landlock).
	status LandlockStatus
}

// WithLandlock confines the container's command, and every process it starts,
// with a Landlock ruleset (landlock(7)): it may touch only what the rules
// allow, and the kernel refuses everything else with EACCES, whatever the
// file modes, the mounts (a path bound read-write from the host is refused
// unless a rule allows it) and the command's capabilities. The ruleset fences:
//
//   - every file system access Landlock knows, below every path but the
//     rules': executing, reading, listing, writing, creating, removing (ABI 1),
//     linking and renaming into another directory ("refer", ABI 2),
//     truncating (ABI 3), ioctl on devices ("ioctl_dev", ABI 5);
//   - binding and connecting TCP sockets ("bind_tcp", "connect_tcp", ABI 4), on
//     every port but the rules' (LandlockAnyTCP leaves TCP open; Landlock does
//     not fence UDP or other protocols);
//   - IPC out of the container's Landlock domain (ABI 6): connecting to an
//     abstract unix socket ("abstract_unix_socket") of, and sending a signal
//     ("signal") to, a process not started under the ruleset (the host's,
//     with WithoutNamespace(NSNet) or NSPID; one that WithJoin adds).
//
// Paths are the container's. The init opens each one (O_PATH, following
// symbolic links) after the mounts and pivot_root (chroot without a mount
// namespace), so it resolves in the container's root, and before it drops its
// privileges: Start fails with a *SetupError naming a path that does not exist
// in the container ("landlock rule /data: no such file or directory"). A rule
// covers the file or directory the path names as it is then, and everything
// below it. The init enforces the ruleset on the thread that goes on to
// execve (Landlock restricts a thread, and execve ends every other one), after
// the user change and right before the capabilities and the seccomp filter
// (landlock_restrict_self needs no_new_privs, which the init then sets, or
// with WithNewPrivileges CAP_SYS_ADMIN in the container's user namespace,
// which it has); descriptors opened before, the command's standard streams
// and ExtraFiles among them, keep their access. WithStartHook's hooks and
// WithInit's reaper run under it too. Without a mount namespace
// (WithoutNamespace(NSMount)) it is the fence that chroot is not.
//
// Start reads the kernel's Landlock ABI version (landlock_create_ruleset with
// LANDLOCK_CREATE_RULESET_VERSION; no privilege needed). Fencing all of the
// above needs ABI 6 (Linux 6.12); on an older kernel, or one without Landlock,
// Start fails with an error that names each right the kernel lacks and the ABI
// it needs, and wraps errors.ErrUnsupported, unless WithLandlockBestEffort is
// given. The command can add rulesets of its own (the default seccomp policy
// allows the landlock_* calls), never remove this one.
//
// Several WithLandlock options add up. New fails on an empty rule, a relative
// path, conflicting TCP rules, and rules that name no path at all (the
// command itself could not be executed: give it LandlockRead of the
// directories its program and libraries are in).
func WithLandlock(rules ...LandlockRule) Option {
	return optionFunc(func(c *config) error {
		for _, r := range rules {
			if err := r.check(); err != nil {
				return err
			}
		}
		c.landlock.on = true
		c.landlock.rules = append(c.landlock.rules, rules...)
		return nil
	})
}

// WithLandlockBestEffort makes WithLandlock apply what the kernel can enforce
// instead of failing Start when its Landlock ABI lacks some of it, as
// go-landlock's BestEffort does: the rights of newer ABIs are left unfenced
// (on ABI 1, which cannot allow renaming or linking into another directory,
// the kernel refuses every such rename and link), and on a kernel without
// Landlock the container runs unconfined. Container.Landlock reports what was
// dropped. It needs WithLandlock.
func WithLandlockBestEffort() Option {
	return optionFunc(func(c *config) error {
		c.landlock.bestEffort = true
		return nil
	})
}

// LandlockStatus is what Landlock enforces in a started container
// (Container.Landlock).
type LandlockStatus struct {
	// ABI is the kernel's Landlock ABI version; 0 when it has no Landlock.
	ABI int
	// Dropped names what WithLandlockBestEffort left unfenced because the
	// kernel lacks it, each with the ABI that has it: "ioctl_dev (ABI 5)",
	// "fs (ABI 1)" for the file system as a whole. It is nil when the
	// ruleset enforces everything WithLandlock fences.
	Dropped []string
}

// Landlock reports, once Start has run, the kernel's Landlock ABI and what
// WithLandlockBestEffort dropped from the ruleset. It is the zero
// LandlockStatus for a container without WithLandlock, and before Start.
func (c *Container) Landlock() LandlockStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.cfg.landlock.status
	s.Dropped = append([]string(nil), s.Dropped...)
	if len(s.Dropped) == 0 {
		s.Dropped = nil
	}
	return s
}

// finish checks the Landlock options against each other.
func (l *landlockConfig) finish() error {
	if !l.on {
		if l.bestEffort {
			return optErr("WithLandlockBestEffort", nil, "needs WithLandlock")
		}
		return nil
	}
	var paths, anyTCP, ports bool
	for _, r := range l.rules {
		paths = paths || r.kind == llRuleRead || r.kind == llRuleWrite
		anyTCP = anyTCP || r.kind == llRuleAnyTCP
		ports = ports || len(r.ports) > 0
	}
	switch {
	case !paths:
		return optErr("WithLandlock", nil, "no LandlockRead or LandlockWrite rule: the file system would be closed to the command, which could not even be executed")
	case anyTCP && ports:
		return optErr("LandlockAnyTCP", nil, "conflicts with LandlockBindTCP and LandlockConnectTCP")
	}
	return nil
}

// landlockInit is the ruleset the init builds, planned for the kernel's ABI:
// the handled access rights and scopes, and the rules. All three sets empty
// means no ruleset.
type landlockInit struct {
	FS     uint64 // handled_access_fs
	Net    uint64 // handled_access_net
	Scoped uint64
	Paths  []landlockPathRule
	Ports  []landlockPortRule
}

type landlockPathRule struct {
	Path   string
	Access uint64 // allowed_access, for a directory (landlockFileAccess for others)
}

type landlockPortRule struct {
	Port   uint64
	Access uint64
}

// on reports whether there is a ruleset to enforce.
func (l *landlockInit) on() bool { return l.FS|l.Net|l.Scoped != 0 }

// landlockFileAccess is what a path rule allows on a path that is not a
// directory: the kernel refuses a rule for a file with directory rights.
func landlockFileAccess(access uint64) uint64 { return access & llFSFile }

// plan is the ruleset for a kernel of Landlock ABI abi (0: none), and the
// status to report. Without best effort it fails, naming each right the
// kernel lacks with the ABI it needs.
func (l *landlockConfig) plan(abi int) (landlockInit, LandlockStatus, error) {
	var li landlockInit
	st := LandlockStatus{ABI: abi}
	if !l.on {
		return li, LandlockStatus{}, nil
	}
	anyTCP := false
	for _, r := range l.rules {
		anyTCP = anyTCP || r.kind == llRuleAnyTCP
	}
	var missing []string
	for _, r := range landlockRights {
		if r.unlessAnyTCP && anyTCP {
			continue
		}
		if abi < r.abi {
			missing = append(missing, fmt.Sprintf("%s (ABI %d)", r.name, r.abi))
			continue
		}
		li.FS |= r.fs
		li.Net |= r.net
		li.Scoped |= r.scoped
	}
	if len(missing) > 0 && !l.bestEffort {
		have := fmt.Sprintf("Landlock ABI %d", abi)
		if abi == 0 {
			have = "no Landlock (not built in, or not enabled by the lsm= boot parameter)"
		}
		return landlockInit{}, st, fmt.Errorf("container: WithLandlock: the kernel has %s, which cannot fence %s; WithLandlockBestEffort drops what it lacks: %w",
			have, strings.Join(missing, ", "), errors.ErrUnsupported)
	}
	st.Dropped = missing
	if abi == 0 {
		return landlockInit{}, st, nil
	}
	for _, r := range l.rules {
		var access uint64
		switch r.kind {
		case llRuleRead:
			access = llRead & li.FS
		case llRuleWrite:
			access = llWrite & li.FS
		case llRuleIoctl:
			access = llIoctl & li.FS
		case llRuleBindTCP:
			access = llNetBindTCP & li.Net
		case llRuleConnectTCP:
			access = llNetConnectTCP & li.Net
		}
		if access == 0 { // the kernel lacks what the rule allows, which is then unfenced
			continue
		}
		for _, p := range r.paths {
			li.Paths = append(li.Paths, landlockPathRule{Path: filepath.Clean(p), Access: access})
		}
		for _, port := range r.ports {
			li.Ports = append(li.Ports, landlockPortRule{Port: uint64(port), Access: access})
		}
	}
	return li, st, nil
}
