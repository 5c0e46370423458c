package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ctrkit/container"
	"github.com/ctrkit/container/internal/devices"
	"github.com/ctrkit/container/internal/lifecycle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// CgroupParent is the cgroup under which a container whose spec has a
// relative or no cgroupsPath gets its cgroup: never under the caller's own.
const CgroupParent = "/ctrkit"

// Config is a container described by a runtime spec: what [container.New]
// needs, plus what the runtime around it does itself.
type Config struct {
	Rootfs  string             // absolute path of the root file system
	Args    []string           // the command
	Options []container.Option // everything else, for [container.New]
	// CgroupPath is the container's cgroup, absolute in each hierarchy
	// (also among Options, as [WithCgroupPath]).
	CgroupPath string
	// Terminal is process.terminal: the runtime must give the container a
	// pseudo-terminal as its stdio.
	Terminal bool
	// ConsoleSize is process.consoleSize: the terminal's initial size.
	ConsoleSize *specs.Box
	// MountLabel is linux.mountLabel, the SELinux label of the container's
	// mounts. The library applies no SELinux labels: a runtime must refuse it
	// on a host where SELinux is enabled. On a host without SELinux nothing is
	// labelled and it has no effect (runc and crun ignore it there).
	MountLabel string
	// Hooks the runtime runs in its own namespaces: Prestart and
	// CreateRuntime once the container is created, Poststart after start,
	// Poststop after delete. The createContainer and startContainer hooks
	// run in the container's namespaces: they are among Options
	// ([WithCreateHook], [WithStartHook]), not here.
	Hooks specs.Hooks
}

// FieldError is [FromSpec]'s error: the JSON path of the field it cannot honour
// and why.
type FieldError struct {
	Field string // "linux.resources.blockIO", "process.capabilities.ambient"
	Err   error
}

// Error reads "oci: FIELD: why".
func (e *FieldError) Error() string { return "oci: " + e.Field + ": " + e.Err.Error() }

// Unwrap returns the cause, [ErrUnsupported] for a field the library cannot
// honour.
func (e *FieldError) Unwrap() error { return e.Err }

// ErrUnsupported is wrapped by a [FieldError] for a field the library cannot
// honour.
var ErrUnsupported = errors.New("not supported by this runtime")

// resourceFields names the spec field of each container.Resources field.
var resourceFields = map[string]string{
	"MemoryReservation": "linux.resources.memory.reservation",
	"MemoryHigh":        "linux.resources.unified",
	"MemorySwappiness":  "linux.resources.memory.swappiness",
	"DisableOOMKiller":  "linux.resources.memory.disableOOMKiller",
	"KernelTCPMemory":   "linux.resources.memory.kernelTCP",
	"CPUPeriod":         "linux.resources.cpu.period",
	"RealtimeRuntime":   "linux.resources.cpu.realtimeRuntime",
	"BlockIOWeight":     "linux.resources.blockIO.weight",
	"BlockIOLeafWeight": "linux.resources.blockIO.leafWeight",
	"BlockIODevices":    "linux.resources.blockIO",
	"HugepageLimits":    "linux.resources.hugepageLimits",
	"NetClassID":        "linux.resources.network",
	"Unified":           "linux.resources.unified",
}

// ResourceFieldError returns err, a failed container Start or UpdateCgroup,
// as a [*FieldError] naming the spec's field when a control of
// linux.resources caused it (one this host cannot apply, such as
// linux.resources.unified on a cgroup v1 host); otherwise err.
func ResourceFieldError(err error) error {
	var re *lifecycle.ResourceError
	if errors.As(err, &re) {
		if f, ok := resourceFields[re.Field]; ok {
			return &FieldError{Field: f, Err: err}
		}
	}
	return err
}

func unsupported(field string) error { return &FieldError{Field: field, Err: ErrUnsupported} }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// FromSpec builds the container of spec, whose relative root.path is relative
// to the bundle directory, for the container named id (which names its cgroup
// when the spec gives no absolute cgroupsPath). It returns a [*FieldError] for
// the first field it cannot honour.
func FromSpec(spec *specs.Spec, bundle, id string) (*Config, error) {
	if spec == nil {
		return nil, fieldErr("spec", "nil")
	}
	if !strings.HasPrefix(spec.Version, "1.") {
		return nil, fieldErr("ociVersion", "%q: want 1.x", spec.Version)
	}
	if spec.Solaris != nil || spec.Windows != nil || spec.VM != nil || spec.ZOS != nil {
		return nil, unsupported("solaris/windows/vm/zos")
	}
	b := &builder{cfg: &Config{}, bundle: bundle, id: id}
	steps := []func(*specs.Spec) error{b.root, b.process, b.hostnames, b.namespaces, b.mounts, b.linux, b.resources, b.seccomp, b.hooks}
	for _, s := range steps {
		if err := s(spec); err != nil {
			return nil, err
		}
	}
	b.cgroup(spec, id)
	b.cfg.Options = b.opts
	return b.cfg, nil
}

type builder struct {
	cfg    *Config
	bundle string
	id     string
	opts   []container.Option
	ns     map[specs.LinuxNamespaceType]bool
}

func (b *builder) add(o ...container.Option) { b.opts = append(b.opts, o...) }

func (b *builder) root(s *specs.Spec) error {
	if s.Root == nil || s.Root.Path == "" {
		return fieldErr("root.path", "missing")
	}
	b.cfg.Rootfs = s.Root.Path
	if !filepath.IsAbs(b.cfg.Rootfs) {
		b.cfg.Rootfs = filepath.Join(b.bundle, b.cfg.Rootfs)
	}
	if s.Root.Readonly {
		b.add(container.WithReadonlyRootfs())
	}
	return nil
}

func (b *builder) process(s *specs.Spec) error {
	if s.Process == nil {
		return fieldErr("process", "missing")
	}
	b.cfg.Args = s.Process.Args
	b.cfg.Terminal = s.Process.Terminal
	b.cfg.ConsoleSize = s.Process.ConsoleSize
	opts, err := ProcessOptions(s.Process)
	b.add(opts...)
	return err
}

// ProcessOptions returns the options of an OCI process (config.json's
// process, or the process of `exec --process`): environment, working
// directory, user, groups, umask, capabilities, rlimits, no_new_privs and OOM
// score. Args and Terminal are for the caller to take from p. Its errors are
// [*FieldError] values naming fields under "process".
func ProcessOptions(p *specs.Process) ([]container.Option, error) {
	b := &builder{cfg: &Config{}}
	err := b.processOptions(p)
	return b.opts, err
}

func (b *builder) processOptions(p *specs.Process) error {
	if len(p.Args) == 0 {
		return fieldErr("process.args", "empty")
	}
	if p.CommandLine != "" {
		return unsupported("process.commandLine")
	}
	if p.ConsoleSize != nil && !p.Terminal {
		return fieldErr("process.consoleSize", "set without process.terminal")
	}
	if len(p.Env) > 0 {
		b.add(container.WithEnv(p.Env...))
	}
	if p.Cwd == "" || !filepath.IsAbs(p.Cwd) {
		return fieldErr("process.cwd", "%q: must be an absolute path", p.Cwd)
	}
	b.add(container.WithDir(p.Cwd))
	u := p.User
	if u.Username != "" {
		return unsupported("process.user.username")
	}
	b.add(container.WithUser(u.UID, u.GID))
	if u.Umask != nil {
		b.add(container.WithUmask(*u.Umask))
	}
	if gids := slices.DeleteFunc(slices.Clone(u.AdditionalGids), func(g uint32) bool { return g == u.GID }); len(gids) > 0 {
		b.add(container.WithGroups(gids...))
	}
	if err := b.capabilities(p.Capabilities, u.UID); err != nil {
		return err
	}
	for i, r := range p.Rlimits {
		if r.Soft > r.Hard {
			return fieldErr(fmt.Sprintf("process.rlimits[%d]", i), "soft %d above hard %d", r.Soft, r.Hard)
		}
		b.add(container.WithRlimit(r.Type, r.Soft, r.Hard))
	}
	if !p.NoNewPrivileges {
		b.add(container.WithNewPrivileges())
	}
	if p.ApparmorProfile != "" {
		return unsupported("process.apparmorProfile")
	}
	if p.SelinuxLabel != "" {
		return unsupported("process.selinuxLabel")
	}
	if p.OOMScoreAdj != nil {
		b.add(container.WithOOMScoreAdj(*p.OOMScoreAdj))
	}
	if p.Scheduler != nil {
		return unsupported("process.scheduler")
	}
	if p.IOPriority != nil {
		return unsupported("process.ioPriority")
	}
	if p.ExecCPUAffinity != nil {
		return unsupported("process.execCPUAffinity")
	}
	return nil
}

// capabilities maps the five OCI sets onto the library's model: the bounding
// set is the container's set; root gets it permitted and effective, another
// user gets it as ambient (and so permitted, effective and inheritable). A
// spec that lists them in bounding alone (Docker's for a user other than
// root) gets them as the bounding set only, none permitted, effective,
// inheritable or ambient, as runc gives them.
func (b *builder) capabilities(c *specs.LinuxCapabilities, uid uint32) error {
	if c == nil {
		b.add(container.WithCapabilities())
		return nil
	}
	bounding := normCaps(c.Bounding)
	if len(c.Effective) == 0 && len(c.Permitted) == 0 && len(c.Inheritable) == 0 && len(c.Ambient) == 0 {
		b.add(container.WithCapabilities(bounding...), withBoundingCapabilitiesOnly())
		return nil
	}
	eq := func(field string, set []string) error {
		if !slices.Equal(normCaps(set), bounding) {
			return fieldErr("process.capabilities."+field, "must equal the bounding set (this runtime gives the container one set of capabilities)")
		}
		return nil
	}
	if uid == 0 {
		for _, f := range []struct {
			name string
			set  []string
		}{{"effective", c.Effective}, {"permitted", c.Permitted}} {
			if err := eq(f.name, f.set); err != nil {
				return err
			}
		}
		// Inheritable and ambient: both empty, or both the whole set.
		if len(c.Inheritable) > 0 || len(c.Ambient) > 0 {
			if err := eq("inheritable", c.Inheritable); err != nil {
				return err
			}
			if err := eq("ambient", c.Ambient); err != nil {
				return err
			}
			b.add(WithInheritedCapabilities())
		}
	} else if len(bounding) > 0 {
		for _, f := range []struct {
			name string
			set  []string
		}{{"effective", c.Effective}, {"permitted", c.Permitted}, {"inheritable", c.Inheritable}, {"ambient", c.Ambient}} {
			if err := eq(f.name, f.set); err != nil {
				return err
			}
		}
	}
	b.add(container.WithCapabilities(bounding...))
	return nil
}

func normCaps(set []string) []string {
	out := make([]string, 0, len(set))
	for _, c := range set {
		c = strings.ToUpper(c)
		if !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		out = append(out, c)
	}
	sort.Strings(out)
	return slices.Compact(out)
}

func (b *builder) hostnames(s *specs.Spec) error {
	if s.Hostname != "" {
		b.add(container.WithHostname(s.Hostname))
	}
	if s.Domainname != "" {
		b.add(container.WithDomainname(s.Domainname))
	}
	return nil
}

var nsTypes = map[specs.LinuxNamespaceType]container.Namespace{
	specs.MountNamespace: container.NSMount, specs.UTSNamespace: container.NSUTS, specs.IPCNamespace: container.NSIPC,
	specs.PIDNamespace: container.NSPID, specs.NetworkNamespace: container.NSNet, specs.CgroupNamespace: container.NSCgroup,
	specs.UserNamespace: container.NSUser,
}

func (b *builder) namespaces(s *specs.Spec) error {
	if s.Linux == nil {
		return fieldErr("linux", "missing")
	}
	b.ns = map[specs.LinuxNamespaceType]bool{}
	var set []container.Namespace
	for i, n := range s.Linux.Namespaces {
		field := fmt.Sprintf("linux.namespaces[%d]", i)
		ns, ok := nsTypes[n.Type]
		if !ok {
			return fieldErr(field+".type", "%q: %w", n.Type, ErrUnsupported)
		}
		if b.ns[n.Type] {
			return fieldErr(field+".type", "%q given twice", n.Type)
		}
		b.ns[n.Type] = true
		if n.Path != "" {
			if n.Type == specs.UserNamespace {
				// setns(2) refuses a multi-threaded process, and the other
				// namespaces, made at clone, would not belong to it.
				return fieldErr(field+".path", "joining an existing user namespace: %w", ErrUnsupported)
			}
			b.add(container.WithNamespacePath(ns, n.Path)) // joined, not created
			continue
		}
		set = append(set, ns)
	}
	b.add(container.WithNamespaces(set...))
	// No mount namespace (as runc and crun): the container's mounts are made
	// below the rootfs in the runtime's mount namespace, and its root is
	// entered with chroot(2) (container.WithoutNamespace documents the rest).
	if !b.ns[specs.MountNamespace] {
		b.add(container.WithoutNamespace(container.NSMount))
	}
	// A network namespace with a path is joined; one without is created
	// with only lo in it, as the engines expect (they configure it, or use
	// netns "none"); no network namespace entry means the host's network.
	for _, n := range []specs.LinuxNamespaceType{specs.UTSNamespace, specs.IPCNamespace, specs.PIDNamespace, specs.NetworkNamespace, specs.CgroupNamespace} {
		if !b.ns[n] {
			b.add(container.WithoutNamespace(nsTypes[n]))
		}
	}
	if len(s.Linux.UIDMappings)+len(s.Linux.GIDMappings) > 0 && !b.ns[specs.UserNamespace] {
		return fieldErr("linux.uidMappings", "set without a user namespace")
	}
	if b.ns[specs.UserNamespace] {
		if len(s.Linux.UIDMappings) == 0 || len(s.Linux.GIDMappings) == 0 {
			return fieldErr("linux.uidMappings", "a user namespace needs uid and gid mappings")
		}
		b.add(container.WithUIDMap(idMaps(s.Linux.UIDMappings)...), container.WithGIDMap(idMaps(s.Linux.GIDMappings)...))
	}
	return nil
}

func idMaps(ms []specs.LinuxIDMapping) []container.IDMap {
	out := make([]container.IDMap, len(ms))
	for i, m := range ms {
		out[i] = container.IDMap{ContainerID: m.ContainerID, HostID: m.HostID, Size: m.Size}
	}
	return out
}

// standardMounts are the mounts every container of the library gets (see
// package container's mount plan): a spec's mount of one of these types at
// one of these places is honoured by the standard mount.
var standardMounts = map[string][]string{
	"/proc": {"proc"}, "/sys": {"sysfs"}, "/dev": {"tmpfs"}, "/dev/pts": {"devpts"},
	"/dev/shm": {"tmpfs"}, "/dev/mqueue": {"mqueue"},
}

func (b *builder) mounts(s *specs.Spec) error {
	for i, m := range s.Mounts {
		field := fmt.Sprintf("mounts[%d]", i)
		if len(m.UIDMappings)+len(m.GIDMappings) > 0 {
			return fieldErr(field+".uidMappings", "id-mapped mounts: %w", ErrUnsupported)
		}
		dst := filepath.Clean(m.Destination)
		typ := m.Type
		bind := slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind")
		if bind || typ == "bind" {
			typ = "bind"
		}
		if types, ok := standardMounts[dst]; ok && slices.Contains(types, typ) {
			continue
		}
		switch typ {
		case "bind":
			src := m.Source
			if !filepath.IsAbs(src) {
				src = filepath.Join(b.bundle, src)
			}
			b.add(container.WithMount("bind", src, dst, m.Options...))
		case "cgroup", "cgroup2":
			// A cgroup namespace's view of the unified hierarchy (on a v1 host
			// it shows no v1 controller), read-only unless asked otherwise.
			b.add(container.WithMount("cgroup2", "cgroup2", dst, m.Options...))
		case "tmpfs", "proc", "sysfs", "devpts", "mqueue":
			b.add(container.WithMount(typ, m.Source, dst, m.Options...))
		default:
			return fieldErr(field+".type", "%q: %w", m.Type, ErrUnsupported)
		}
	}
	return nil
}

// rootfsPropagations are the values of linux.rootfsPropagation.
var rootfsPropagations = []string{"private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable"}

// defaultDevices are the device nodes every container of the library gets.
// /dev/ptmx is among them as runc has it: the container's is the link to its
// own devpts' pts/ptmx, not the host's node (which Docker's --privileged lists
// with every other node of the host's /dev).
var defaultDevices = map[string][2]int64{
	"/dev/null": {1, 3}, "/dev/zero": {1, 5}, "/dev/full": {1, 7}, "/dev/random": {1, 8},
	"/dev/urandom": {1, 9}, "/dev/tty": {5, 0}, "/dev/ptmx": {5, 2},
}

// utsSysctls are the kernel parameters that the spec's hostname and
// domainname fields also set, and which field.
var utsSysctls = map[string]string{"kernel.hostname": "hostname", "kernel.domainname": "domainname"}

// utsSysctl honours linux.sysctl's kernel.hostname or kernel.domainname, which
// container.WithSysctl refuses (the init sets the names after the sysctls, so
// the value would be lost). Writing the parameter in the container's UTS
// namespace is sethostname(2) or setdomainname(2) there, so a spec whose
// dedicated field is empty gets the sysctl's value through WithHostname or
// WithDomainname, and one whose field says the same needs nothing more. A
// field that says otherwise is an error: the spec names two values and a
// runtime can only pick one by its order of writes (runc refuses
// kernel.hostname outright; this is as strict only where the spec contradicts
// itself).
func (b *builder) utsSysctl(s *specs.Spec, key, field string) error {
	v, have := s.Linux.Sysctl[key], s.Hostname
	if field == "domainname" {
		have = s.Domainname
	}
	f := fmt.Sprintf("linux.sysctl[%q]", key)
	switch {
	case !b.ns[specs.UTSNamespace]:
		return fieldErr(f, "the container shares the host's UTS namespace")
	case have == v:
		return nil
	case have != "":
		return fieldErr(f, "%q conflicts with the %s field %q", v, field, have)
	case field == "hostname":
		b.add(container.WithHostname(v))
	default:
		b.add(container.WithDomainname(v))
	}
	return nil
}

func (b *builder) linux(s *specs.Spec) error {
	l := s.Linux
	keys := make([]string, 0, len(l.Sysctl))
	for k := range l.Sysctl {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if field, ok := utsSysctls[strings.ReplaceAll(k, "/", ".")]; ok {
			if err := b.utsSysctl(s, k, field); err != nil {
				return err
			}
			continue
		}
		b.add(container.WithSysctl(k, l.Sysctl[k]))
	}
	var devs []container.Device
	for i, d := range l.Devices {
		field := fmt.Sprintf("linux.devices[%d]", i)
		if n, ok := defaultDevices[d.Path]; ok && d.Type == "c" && n == [2]int64{d.Major, d.Minor} {
			continue // a standard device: made already
		}
		name, ok := strings.CutPrefix(filepath.Clean(d.Path), "/dev/")
		if !ok {
			return fieldErr(field+".path", "%s: only nodes below /dev are supported", d.Path)
		}
		dev := container.Device{Name: name, Major: uint32(d.Major), Minor: uint32(d.Minor)}
		switch d.Type {
		case "c", "u":
		case "b", "p":
			dev.Type = d.Type[0]
		default:
			return fieldErr(field+".type", "%q: %w", d.Type, ErrUnsupported)
		}
		if d.Major < 0 || d.Minor < 0 || d.Major > 1<<32-1 || d.Minor > 1<<32-1 {
			return fieldErr(field, "device numbers out of range")
		}
		if d.FileMode != nil {
			if *d.FileMode&^0o777 != 0 && *d.FileMode&^os.ModePerm&^(os.ModeDevice|os.ModeCharDevice) != 0 {
				return fieldErr(field+".fileMode", "%v: only permission bits are supported", *d.FileMode)
			}
			dev.Mode = d.FileMode.Perm()
		}
		if d.UID != nil {
			dev.UID = *d.UID
		}
		if d.GID != nil {
			dev.GID = *d.GID
		}
		devs = append(devs, dev)
	}
	if len(devs) > 0 {
		b.add(container.WithDevices(devs...))
	}
	if l.RootfsPropagation != "" {
		if !slices.Contains(rootfsPropagations, l.RootfsPropagation) {
			return fieldErr("linux.rootfsPropagation", "%q: want one of %s", l.RootfsPropagation, strings.Join(rootfsPropagations, ", "))
		}
		b.add(container.WithRootfsPropagation(l.RootfsPropagation))
	}
	if l.MaskedPaths != nil {
		b.add(container.WithMaskedPaths(l.MaskedPaths...))
	}
	if l.ReadonlyPaths != nil {
		b.add(container.WithReadonlyPaths(l.ReadonlyPaths...))
	}
	b.cfg.MountLabel = l.MountLabel
	switch {
	case l.IntelRdt != nil:
		return unsupported("linux.intelRdt")
	case l.Personality != nil:
		return unsupported("linux.personality")
	case len(l.TimeOffsets) > 0:
		return unsupported("linux.timeOffsets")
	case len(l.NetDevices) > 0:
		return unsupported("linux.netDevices")
	case l.MemoryPolicy != nil:
		return unsupported("linux.memoryPolicy")
	}
	return nil
}

func (b *builder) resources(s *specs.Spec) error {
	r := s.Linux.Resources
	if r == nil {
		return nil
	}
	if err := b.deviceRules(r.Devices); err != nil {
		return err
	}
	rest := *r
	rest.Devices = nil
	opts, err := ResourceOptions(&rest)
	if err != nil {
		return err
	}
	b.add(opts...)
	return nil
}

// ResourceOptions returns the container options of linux.resources: the cgroup
// limits ([container.WithMemory], [container.WithCPU],
// [container.WithCPUShares], [container.WithPids] and [container.WithResources]
// for the rest), for [container.New] or [UpdateCgroup]. Device rules are not
// among them ([FromSpec] handles them); any other field the library cannot
// honour is a [*FieldError], and so is a deprecated memory.kernel that limits
// something (see Deprecated memory fields in the package documentation). What
// the host cannot apply (a controller that is not mounted, a cgroup v1 control
// on a v2 host, a huge page size the host lacks) makes Start fail, naming it.
func ResourceOptions(r *specs.LinuxResources) ([]container.Option, error) {
	l, err := resourceLimitsOf(r)
	if err != nil {
		return nil, err
	}
	var opts []container.Option
	if l.memory > 0 {
		opts = append(opts, container.WithMemory(l.memory))
	}
	if l.shares > 0 {
		opts = append(opts, container.WithCPUShares(l.shares))
	}
	if l.cpus > 0 {
		opts = append(opts, container.WithCPU(l.cpus))
	}
	if l.pids > 0 {
		opts = append(opts, container.WithPids(l.pids))
	}
	if !reflect.ValueOf(l.res).IsZero() {
		opts = append(opts, container.WithResources(l.res))
	}
	return opts, nil
}

// resourceLimits is what linux.resources asks of the library, before it
// becomes options.
type resourceLimits struct {
	memory int64   // container.WithMemory
	cpus   float64 // container.WithCPU
	shares uint64  // container.WithCPUShares
	pids   int64   // container.WithPids
	res    container.Resources
}

func resourceLimitsOf(r *specs.LinuxResources) (resourceLimits, error) {
	var l resourceLimits
	if len(r.Devices) > 0 {
		return l, fieldErr("linux.resources.devices", "device rules cannot be changed: %w", ErrUnsupported)
	}
	if err := l.memoryOf(r.Memory); err != nil {
		return l, err
	}
	if err := l.cpuOf(r.CPU); err != nil {
		return l, err
	}
	if r.Pids != nil && r.Pids.Limit != nil && *r.Pids.Limit > 0 {
		l.pids = *r.Pids.Limit
	}
	if err := l.blockIOOf(r.BlockIO); err != nil {
		return l, err
	}
	for _, h := range r.HugepageLimits {
		l.res.HugepageLimits = append(l.res.HugepageLimits, container.HugepageLimit{PageSize: h.Pagesize, Bytes: h.Limit})
	}
	if n := r.Network; n != nil {
		if n.ClassID != nil {
			l.res.NetClassID = *n.ClassID
		}
		for _, p := range n.Priorities {
			l.res.NetPriorities = append(l.res.NetPriorities, container.NetPriority{Interface: p.Name, Priority: p.Priority})
		}
	}
	if len(r.Rdma) > 0 {
		return l, unsupported("linux.resources.rdma")
	}
	l.res.Unified = r.Unified
	return l, nil
}

func (l *resourceLimits) memoryOf(m *specs.LinuxMemory) error {
	if m == nil {
		return nil
	}
	if m.CheckBeforeUpdate != nil && *m.CheckBeforeUpdate {
		return unsupported("linux.resources.memory.checkBeforeUpdate")
	}
	if m.Limit != nil && *m.Limit > 0 {
		// The library's limit covers memory and swap together: a swap
		// limit (memory+swap) is honoured when it is the same, or larger
		// (the container then gets less swap than it could have).
		if m.Swap != nil && *m.Swap > 0 && *m.Swap < *m.Limit {
			return fieldErr("linux.resources.memory.swap", "%d is below the memory limit %d", *m.Swap, *m.Limit)
		}
		l.memory = *m.Limit
	} else if m.Swap != nil && *m.Swap > 0 {
		return fieldErr("linux.resources.memory.swap", "a swap limit without a memory limit: %w", ErrUnsupported)
	}
	if v := m.Reservation; v != nil && *v != 0 {
		if *v < 0 {
			return fieldErr("linux.resources.memory.reservation", "%d: want a number of bytes", *v)
		}
		l.res.MemoryReservation = *v
	}
	// 0 is no value (Docker's update sends it for a flag not given), as -1 is.
	if v := m.Kernel; v != nil && *v != -1 && *v != 0 && (l.memory == 0 || *v < l.memory) {
		return fieldErr("linux.resources.memory.kernel", "%d: kernel memory has no limit of its own (deprecated; charged to the memory limit): "+
			"only -1, 0 or a value of at least memory.limit is accepted: %w", *v, ErrUnsupported)
	}
	if v := m.KernelTCP; v != nil && *v != -1 {
		if *v <= 0 {
			return fieldErr("linux.resources.memory.kernelTCP", "%d: want a number of bytes or -1", *v)
		}
		l.res.KernelTCPMemory = *v
	}
	if v := m.Swappiness; v != nil {
		if *v > 100 {
			return fieldErr("linux.resources.memory.swappiness", "%d: must be at most 100", *v)
		}
		l.res.MemorySwappiness = v
	}
	if m.DisableOOMKiller != nil && *m.DisableOOMKiller {
		l.res.DisableOOMKiller = true
	}
	return nil
}

func (l *resourceLimits) cpuOf(c *specs.LinuxCPU) error {
	if c == nil {
		return nil
	}
	switch {
	case c.Burst != nil && *c.Burst != 0:
		return unsupported("linux.resources.cpu.burst")
	case c.Idle != nil && *c.Idle != 0:
		return unsupported("linux.resources.cpu.idle")
	}
	if c.Shares != nil && *c.Shares > 0 {
		l.shares = *c.Shares
	}
	period := uint64(100000)
	if c.Period != nil && *c.Period != 0 {
		period = *c.Period
		if period < 1000 || period > 1000000 {
			return fieldErr("linux.resources.cpu.period", "%d: must be between 1000 and 1000000 µs", period)
		}
		l.res.CPUPeriod = period
	}
	if c.Quota != nil && *c.Quota > 0 {
		l.cpus = float64(*c.Quota) / float64(period)
	}
	l.res.CPUs, l.res.Mems = c.Cpus, c.Mems
	if c.RealtimeRuntime != nil {
		l.res.RealtimeRuntime = *c.RealtimeRuntime
	}
	if c.RealtimePeriod != nil {
		l.res.RealtimePeriod = *c.RealtimePeriod
	}
	return nil
}

func (l *resourceLimits) blockIOOf(b *specs.LinuxBlockIO) error {
	if b == nil {
		return nil
	}
	weight := func(field string, w *uint16) (uint16, error) {
		if w == nil || *w == 0 {
			return 0, nil
		}
		if *w < 10 || *w > 1000 {
			return 0, fieldErr(field, "%d: must be between 10 and 1000", *w)
		}
		return *w, nil
	}
	var err error
	if l.res.BlockIOWeight, err = weight("linux.resources.blockIO.weight", b.Weight); err != nil {
		return err
	}
	if l.res.BlockIOLeafWeight, err = weight("linux.resources.blockIO.leafWeight", b.LeafWeight); err != nil {
		return err
	}
	// The spec lists weights and each throttle separately; the library
	// takes one entry per device.
	dev := func(major, minor int64) *container.BlockIODevice {
		for i := range l.res.BlockIODevices {
			if d := &l.res.BlockIODevices[i]; d.Major == major && d.Minor == minor {
				return d
			}
		}
		l.res.BlockIODevices = append(l.res.BlockIODevices, container.BlockIODevice{Major: major, Minor: minor})
		return &l.res.BlockIODevices[len(l.res.BlockIODevices)-1]
	}
	for i, w := range b.WeightDevice {
		field := fmt.Sprintf("linux.resources.blockIO.weightDevice[%d]", i)
		wt, err := weight(field+".weight", w.Weight)
		if err != nil {
			return err
		}
		lw, err := weight(field+".leafWeight", w.LeafWeight)
		if err != nil {
			return err
		}
		d := dev(w.Major, w.Minor)
		d.Weight, d.LeafWeight = wt, lw
	}
	for _, t := range []struct {
		list []specs.LinuxThrottleDevice
		set  func(d *container.BlockIODevice, rate uint64)
	}{
		{b.ThrottleReadBpsDevice, func(d *container.BlockIODevice, r uint64) { d.ReadBPS = r }},
		{b.ThrottleWriteBpsDevice, func(d *container.BlockIODevice, r uint64) { d.WriteBPS = r }},
		{b.ThrottleReadIOPSDevice, func(d *container.BlockIODevice, r uint64) { d.ReadIOPS = r }},
		{b.ThrottleWriteIOPSDevice, func(d *container.BlockIODevice, r uint64) { d.WriteIOPS = r }},
	} {
		for _, td := range t.list {
			t.set(dev(td.Major, td.Minor), td.Rate)
		}
	}
	return nil
}

// deviceRules: linux.resources.devices becomes container.WithDeviceRules, in
// its order (the last rule that names a device and an access decides, as
// runc has it; the standard devices are allowed after them): the cgroup v1
// devices controller, or on v2 the eBPF device program that this package
// installs (devices_linux.go). A list the devices cgroup cannot express is
// refused, naming the rule.
func (b *builder) deviceRules(rules []specs.LinuxDeviceCgroup) error {
	if len(rules) == 0 {
		return nil
	}
	out, err := deviceRuleList(rules)
	if err != nil {
		return err
	}
	b.add(WithDeviceRules(out...))
	return nil
}

// deviceRuleList maps the rules one for one, in order, and checks that the
// devices cgroup can express them.
func deviceRuleList(rules []specs.LinuxDeviceCgroup) ([]DeviceRule, error) {
	var out []DeviceRule
	var list []devices.Rule
	for i, r := range rules {
		field := fmt.Sprintf("linux.resources.devices[%d]", i)
		d := DeviceRule{Type: 'a', Major: -1, Minor: -1, Access: r.Access, Deny: !r.Allow}
		switch r.Type {
		case "", "a", "b", "c":
			if r.Type != "" {
				d.Type = r.Type[0]
			}
		default:
			return nil, fieldErr(field+".type", "%q: want a, b or c", r.Type)
		}
		if r.Major != nil {
			d.Major = *r.Major
		}
		if r.Minor != nil {
			d.Minor = *r.Minor
		}
		if d.Access == "" {
			d.Access = "rwm"
		}
		a, ok := devices.ParseAccess(d.Access)
		if !ok {
			return nil, fieldErr(field+".access", "%q: want a combination of r, w and m", r.Access)
		}
		out = append(out, d)
		list = append(list, devices.Rule{Allow: r.Allow, Type: d.Type, Major: d.Major, Minor: d.Minor, Access: a})
	}
	var re *devices.RuleError
	if _, err := devices.Compute(list); errors.As(err, &re) {
		return nil, fieldErr(fmt.Sprintf("linux.resources.devices[%d]", re.Index), "%s", re.Reason)
	} else if err != nil {
		return nil, fieldErr("linux.resources.devices", "%w", err)
	}
	return out, nil
}

func (b *builder) cgroup(s *specs.Spec, id string) {
	p := s.Linux.CgroupsPath
	switch {
	case strings.Contains(p, ":"):
		// systemd's slice:prefix:name form: not a path. The runtime refuses
		// --systemd-cgroup; here it becomes a name under CgroupParent.
		p = CgroupParent + "/" + strings.ReplaceAll(p, ":", "-")
	case p == "":
		p = CgroupParent + "/" + id
	case !filepath.IsAbs(p):
		p = CgroupParent + "/" + p
	}
	b.cfg.CgroupPath = filepath.Clean(p)
	b.add(WithCgroupPath(b.cfg.CgroupPath))
}

func (b *builder) hooks(s *specs.Spec) error {
	h := s.Hooks
	if h == nil {
		return nil
	}
	for name, hs := range map[string][]specs.Hook{"prestart": h.Prestart, "createRuntime": h.CreateRuntime, "createContainer": h.CreateContainer,
		"startContainer": h.StartContainer, "poststart": h.Poststart, "poststop": h.Poststop} {
		for i, hk := range hs {
			if !filepath.IsAbs(hk.Path) {
				return fieldErr(fmt.Sprintf("hooks.%s[%d].path", name, i), "%q: must be absolute", hk.Path)
			}
			if hk.Timeout != nil && *hk.Timeout <= 0 {
				return fieldErr(fmt.Sprintf("hooks.%s[%d].timeout", name, i), "%d: must be positive", *hk.Timeout)
			}
		}
	}
	// createContainer and startContainer hooks run in the container's
	// namespaces: the library's init runs them, with the state on stdin.
	state := specs.State{Version: specs.Version, ID: b.id, Bundle: b.bundle, Annotations: s.Annotations}
	for _, hk := range h.CreateContainer {
		b.add(WithCreateHook(libraryHook(hk, state, specs.StateCreating)))
	}
	for _, hk := range h.StartContainer {
		b.add(WithStartHook(libraryHook(hk, state, specs.StateCreated)))
	}
	b.cfg.Hooks = *h
	b.cfg.Hooks.CreateContainer, b.cfg.Hooks.StartContainer = nil, nil
	return nil
}

// libraryHook is a hook of the spec as the library's init runs it: with the
// container's state, in status, on its stdin, and the pid as the container
// sees it (the spec's rule for hooks run in the container's namespaces).
func libraryHook(h specs.Hook, state specs.State, status specs.ContainerState) Hook {
	lh := Hook{Path: h.Path, Args: h.Args, Env: h.Env}
	if h.Timeout != nil {
		lh.Timeout = time.Duration(*h.Timeout) * time.Second
	}
	state.Status = status
	lh.Stdin = func(pid int) []byte {
		st := state
		st.Pid = pid
		b, _ := json.Marshal(st) // strings, ints and a map of strings: cannot fail
		return b
	}
	return lh
}
