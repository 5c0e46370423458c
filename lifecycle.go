package container

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/ctrkit/container/internal/lifecycle"

	"github.com/ctrkit/container/internal/devices"
)

// The OCI runtime's options and operations, handed to package oci (their
// public face, which documents them) through internal/lifecycle, so that this
// package's API is what a Go program needs.
func init() {
	lifecycle.WithExecFIFO = withExecFIFO
	lifecycle.WithJoin = withJoin
	lifecycle.WithCreateHook = withCreateHook
	lifecycle.WithStartHook = withStartHook
	lifecycle.WithBeforePivot = withBeforePivot
	lifecycle.WithCgroupPath = withCgroupPath
	lifecycle.WithDeviceRules = withDeviceRules
	lifecycle.WithInheritedCapabilities = withInheritedCapabilities
	lifecycle.WithBoundingCapabilitiesOnly = withBoundingCapabilitiesOnly
	lifecycle.UpdateCgroup = updateCgroupAt
	lifecycle.RemoveCgroup = removeCgroupAt
	lifecycle.FreezeCgroup = freezeCgroupAt
	lifecycle.CgroupFrozen = cgroupFrozenAt
	lifecycle.CgroupPids = cgroupPidsAt
	lifecycle.RootfsMounts = rootfsMounts
	lifecycle.ReleaseRootfsMounts = releaseRootfsMounts
}

// ociConfig, ociInit: what the lifecycle options asked for, and the
// init's part of it. The kernel side is lifecycle_linux.go.

// ociConfig is what the options of this file asked for.
type ociConfig struct {
	groups      []uint32
	umask       int // -1: inherit the caller's
	umaskSet    bool
	oomScoreAdj *int
	sysctls     []sysctlEntry
	masked      []string
	maskedSet   bool
	readonly    []string
	readonlySet bool
	execFIFO    string
	joinPID     int
	terminal    bool
	inherited   bool // WithInheritedCapabilities
	bounding    bool // lifecycle.WithBoundingCapabilitiesOnly
	devices     []device
	createHooks []lifecycle.Hook    // WithCreateHook
	startHooks  []lifecycle.Hook    // WithStartHook
	beforePivot func(pid int) error // WithBeforePivot
}

// ociInit is this file's part of the plan the init carries out.
type ociInit struct {
	Groups      []uint32
	Umask       int // -1: leave as inherited
	OOMScoreAdj *int
	Sysctls     []sysctlEntry
	ExecFIFO    string            // WithExecFIFO: park until this FIFO is opened for reading
	Detached    bool              // no parent-death signal: WithExecFIFO or WithJoin
	JoinPID     int               // WithJoin: the container's init, whose namespaces the init must be in
	JoinNS      map[string]uint64 // WithJoin: inode of each namespace of JoinPID, checked by the init
	Terminal    bool              // WithTerminal: a pty made in the container is the command's stdio
	ExtraFiles  int               // Container.ExtraFiles: how many descriptors follow the sync channel (fd 4 on)
	CreateHooks []hookEntry       // WithCreateHook: run after the mounts, before pivot_root
	StartHooks  []hookEntry       // WithStartHook: run after the privilege drop, before the command
	BeforePivot bool              // WithBeforePivot: wait for the parent after the mounts
	fifoFD      int               // the init's O_PATH descriptor of ExecFIFO, opened before pivot_root
	fifoDir     int               // the init's O_PATH descriptor of the host's /proc/self/fd, for fifoFD
	fifoWrite   int               // the init's write end of ExecFIFO once unparked (0: not open)
}

// hookEntry is a Hook as the init runs it; Stdin is filled in by Start.
type hookEntry struct {
	Path    string
	Args    []string
	Env     []string
	Timeout time.Duration
	Stdin   []byte
}

func (o *ociConfig) initConfig() ociInit {
	um := -1
	if o.umaskSet {
		um = o.umask
	}
	return ociInit{Groups: o.groups, Umask: um, OOMScoreAdj: o.oomScoreAdj, Sysctls: o.sysctls, ExecFIFO: o.execFIFO, Detached: o.execFIFO != "" || o.joinPID != 0, JoinPID: o.joinPID, Terminal: o.terminal,
		CreateHooks: hookEntries(o.createHooks), StartHooks: hookEntries(o.startHooks), BeforePivot: o.beforePivot != nil}
}

// detached reports whether the container outlives the process that started it.
func (c *config) detached() bool { return c.oci.execFIFO != "" || c.oci.joinPID != 0 }

// withExecFIFO is oci.WithExecFIFO; see there.
func withExecFIFO(path string) Option {
	return optionFunc(func(c *config) error {
		if !filepath.IsAbs(path) {
			return optErr("WithExecFIFO", path, "must be an absolute path")
		}
		c.oci.execFIFO = filepath.Clean(path)
		return nil
	})
}

// withJoin is oci.WithJoin; see there.
func withJoin(pid int) Option {
	return optionFunc(func(c *config) error {
		if pid <= 0 {
			return optErr("WithJoin", pid, "not a process id")
		}
		c.oci.joinPID = pid
		return nil
	})
}

// withInheritedCapabilities is oci.WithInheritedCapabilities; see there.
func withInheritedCapabilities() Option {
	return optionFunc(func(c *config) error {
		c.oci.inherited = true
		return nil
	})
}

// withBoundingCapabilitiesOnly is lifecycle.WithBoundingCapabilitiesOnly:
// the container's capabilities are its bounding set only, and the command
// starts with none permitted, effective, inheritable or ambient, whatever its
// user (an OCI spec that lists them in bounding alone, as Docker's for a user
// other than root: such a user gains them only through execve of a program
// with file capabilities, or setuid root without no_new_privs).
func withBoundingCapabilitiesOnly() Option {
	return optionFunc(func(c *config) error {
		c.oci.bounding = true
		return nil
	})
}

// withCreateHook is oci.WithCreateHook; see there.
func withCreateHook(h lifecycle.Hook) Option {
	return optionFunc(func(c *config) error {
		h, err := checkHook("WithCreateHook", h)
		if err != nil {
			return err
		}
		c.oci.createHooks = append(c.oci.createHooks, h)
		return nil
	})
}

// withStartHook is oci.WithStartHook; see there.
func withStartHook(h lifecycle.Hook) Option {
	return optionFunc(func(c *config) error {
		h, err := checkHook("WithStartHook", h)
		if err != nil {
			return err
		}
		c.oci.startHooks = append(c.oci.startHooks, h)
		return nil
	})
}

// withBeforePivot is oci.WithBeforePivot; see there.
func withBeforePivot(f func(pid int) error) Option {
	return optionFunc(func(c *config) error {
		if f == nil {
			return optErr("WithBeforePivot", nil, "nil function")
		}
		c.oci.beforePivot = f
		return nil
	})
}

func checkHook(option string, h lifecycle.Hook) (lifecycle.Hook, error) {
	if !filepath.IsAbs(h.Path) {
		return h, optErr(option, h.Path, "must be an absolute path")
	}
	if h.Timeout < 0 {
		return h, optErr(option, h.Path, "negative timeout %v", h.Timeout)
	}
	for _, s := range append(append([]string{h.Path}, h.Args...), h.Env...) {
		if strings.ContainsRune(s, 0) {
			return h, optErr(option, h.Path, "argument or variable contains a NUL byte")
		}
	}
	h.Args = append([]string(nil), h.Args...)
	if len(h.Args) == 0 {
		h.Args = []string{h.Path}
	}
	h.Env = append([]string(nil), h.Env...)
	return h, nil
}

func hookEntries(hs []lifecycle.Hook) []hookEntry {
	var out []hookEntry
	for _, h := range hs {
		out = append(out, hookEntry{Path: h.Path, Args: h.Args, Env: h.Env, Timeout: h.Timeout})
	}
	return out
}

// hookInput fills in what each hook reads on its stdin, once the init's pid
// is known: pid is the init's pid on the host.
func (o *ociConfig) hookInput(icfg *initConfig, ns Namespace, pid int) {
	if ns&NSPID != 0 {
		pid = 1
	}
	for i, h := range o.createHooks {
		if h.Stdin != nil {
			icfg.OCI.CreateHooks[i].Stdin = h.Stdin(pid)
		}
	}
	for i, h := range o.startHooks {
		if h.Stdin != nil {
			icfg.OCI.StartHooks[i].Stdin = h.Stdin(pid)
		}
	}
}

// limits adjusts the init's limits plan: a WithExecFIFO container's creator
// may be gone when the command is about to run, so the init does not ask it
// to lower pids.max (UpdateCgroup does, after the start).
func (o *ociConfig) limits(l limitsInit) limitsInit {
	if o.execFIFO != "" {
		l.PidsHandshake = false
	}
	return l
}

// security adjusts the init's security plan for WithInheritedCapabilities
// and lifecycle.WithBoundingCapabilitiesOnly.
func (o *ociConfig) security(s securityInit) securityInit {
	if o.inherited {
		s.Ambient = s.Permitted
	}
	if o.bounding {
		s.Permitted, s.Ambient = 0, 0
	}
	return s
}

// finish checks this file's options against the others.
func (o *ociConfig) finish(c *config) error {
	if o.joinPID != 0 {
		switch {
		case c.nsExplicit || c.nsDropped != 0 || c.uidMap != nil || c.gidMap != nil:
			return optErr("WithJoin", o.joinPID, "conflicts with namespace and id map options")
		case len(c.mounts) > 0 || c.readonlyRootfs || o.maskedSet || o.readonlySet || c.noPivot:
			return optErr("WithJoin", o.joinPID, "conflicts with mount options and WithoutPivotRoot")
		case c.hostname != "container" || c.domainname != "":
			return optErr("WithJoin", o.joinPID, "conflicts with WithHostname and WithDomainname")
		case c.limits.needsCgroup():
			return optErr("WithJoin", o.joinPID, "conflicts with limits and WithCgroupPath")
		case o.execFIFO != "" || len(o.sysctls) > 0:
			return optErr("WithJoin", o.joinPID, "conflicts with WithExecFIFO and WithSysctl")
		case len(o.createHooks)+len(o.startHooks) > 0 || o.beforePivot != nil:
			return optErr("WithJoin", o.joinPID, "conflicts with WithCreateHook, WithStartHook and WithBeforePivot")
		case c.limits.init:
			return optErr("WithJoin", o.joinPID, "conflicts with WithInit: the container has its init")
		}
		c.namespaces = 0 // nothing new: the nsenter constructor joins the container's
		c.uidMap, c.gidMap = nil, nil
	}
	if len(o.devices) > 0 && c.namespaces&NSUser != 0 {
		return optErr("WithDevices", o.devices[0].Name, "device nodes cannot be created in a user namespace")
	}
	if c.limits.devices != nil {
		for _, d := range o.devices {
			t := d.Type
			if t == 'p' {
				continue // a FIFO is no device
			}
			if t == 0 {
				t = 'c'
			}
			c.limits.devices = append(c.limits.devices, lifecycle.DeviceRule{Type: t, Major: int64(d.Major), Minor: int64(d.Minor), Access: "rwm"})
		}
	}
	if c.limits.devices != nil && c.limits.path == "" {
		return optErr("WithDeviceRules", nil, "needs WithCgroupPath")
	}
	if c.limits.devices != nil {
		set, err := deviceSet(c.limits.devices)
		var re *devices.RuleError
		switch {
		case errors.As(err, &re) && re.Index < len(c.limits.devices):
			return optErr("WithDeviceRules", c.limits.devices[re.Index], "rule %d: %s", re.Index, re.Reason)
		case errors.As(err, &re):
			return optErr("WithDeviceRules", nil, "allowing the standard devices and WithDevices' after the rules: %s", re.Reason)
		case err != nil:
			return optErr("WithDeviceRules", nil, "%v", err)
		}
		c.limits.deviceSet = &set
	}
	if len(o.groups) > 0 && c.namespaces&NSUser != 0 {
		return optErr("WithGroups", fmt.Sprint(o.groups), "setgroups(2) is denied in a user namespace")
	}
	for _, s := range o.sysctls {
		// A namespace the container joins by path is not the host's either.
		if ns := sysctlNamespace(s.Key); c.namespaces&ns == 0 && c.joined()&ns == 0 {
			return optErr("WithSysctl", s.Key, "the container shares the %v namespace with the host", ns)
		}
	}
	return nil
}
