package container

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// config is the validated, normalised result of New's arguments and options.
// It is pure data: building it does no kernel work beyond stat(2).
type config struct {
	rootfs         string
	args           []string
	env            []string
	dir            string
	hostname       string
	hostnameSet    bool // WithHostname: set in a joined UTS namespace too
	domainname     string
	uid, gid       uint32
	uidMap, gidMap []IDMap
	namespaces     Namespace
	nsExplicit     bool
	nsDropped      Namespace
	nsPaths        map[Namespace]string // WithNamespacePath (but NSNet: net.nsPath)
	rootProp       uintptr              // WithRootfsPropagation: propagation flags of the root mount
	noPivot        bool                 // WithoutPivotRoot
	mounts         []userMount
	readonlyRootfs bool
	rootless       bool // the caller's effective uid is not 0
	hostUID        uint32
	hostGID        uint32
	security       securityConfig // seccomp, capabilities, no_new_privs (seccomp.go, caps.go)
	limits         limitsConfig   // cgroup.go, rlimit.go
	oci            ociConfig      // lifecycle.go
	net            netConfig      // networking options (net.go)
	landlock       landlockConfig // WithLandlock (landlock.go)
	userNet        userNetConfig  // WithUserNetwork, WithPublish (usernet.go)
	overlay        overlayConfig  // WithOverlay (overlay.go)
	logger         *slog.Logger   // WithLogger (trace.go)
}

const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// geteuid is os.Geteuid; the pure tests of what root may configure set it
// (asRoot), so that they pass for any user.
var geteuid = os.Geteuid

func newConfig(rootfs string, cmd []string, opts []Option) (*config, error) {
	c := &config{
		dir:        "/",
		hostname:   "container",
		namespaces: defaultNamespaces,
		hostUID:    uint32(geteuid()),
		hostGID:    uint32(os.Getegid()),
		security:   securityConfig{caps: defaultCaps},
	}
	c.rootless = c.hostUID != 0
	if err := checkRootfs(rootfs); err != nil {
		return nil, err
	}
	c.rootfs = filepath.Clean(rootfs)
	if len(cmd) == 0 || cmd[0] == "" {
		return nil, &OptionError{Option: "cmd", Err: errors.New("empty command")}
	}
	for _, a := range cmd {
		if strings.ContainsRune(a, 0) {
			return nil, optErr("cmd", a, "argument contains a NUL byte")
		}
	}
	c.args = append([]string(nil), cmd...)
	for _, o := range opts {
		if o == nil {
			return nil, &OptionError{Option: "Option", Err: errors.New("nil option")}
		}
		if err := o.apply(c); err != nil {
			return nil, err
		}
	}
	if err := c.finish(); err != nil {
		return nil, err
	}
	return c, nil
}

func checkRootfs(rootfs string) error {
	if rootfs == "" {
		return &OptionError{Option: "rootfs", Err: errors.New("empty path")}
	}
	clean := filepath.Clean(rootfs)
	if !filepath.IsAbs(clean) {
		return optErr("rootfs", rootfs, "must be an absolute path")
	}
	if clean == "/" {
		return optErr("rootfs", rootfs, "must not be the host's root")
	}
	fi, err := os.Stat(clean)
	if err != nil {
		return optErr("rootfs", rootfs, "%w", err)
	}
	if !fi.IsDir() {
		return optErr("rootfs", rootfs, "not a directory")
	}
	if same, _ := sameFile(clean, "/"); same {
		return optErr("rootfs", rootfs, "must not be the host's root")
	}
	return nil
}

func sameFile(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(fa, fb), nil
}

// finish checks the options against each other and fills in derived values.
func (c *config) finish() error {
	c.limits.foldUnifiedPids() // cgroup_resources.go
	if err := c.net.finish(c); err != nil {
		return err
	}
	if err := c.userNet.finish(c); err != nil { // usernet.go
		return err
	}
	if c.rootless {
		if c.nsDropped&NSUser != 0 {
			return optErr("WithoutNamespace", NSUser, "a caller that is not root needs a user namespace")
		}
		c.namespaces |= NSUser
	}
	if err := c.finishNamespaces(); err != nil { // options.go: WithNamespacePath
		return err
	}
	if err := c.checkNoMountNS(); err != nil {
		return err
	}
	if err := c.checkNoPivot(); err != nil {
		return err
	}
	if err := c.overlay.finish(c); err != nil { // overlay.go
		return err
	}
	utsJoined := c.nsPaths[NSUTS] != ""
	if c.namespaces&NSUTS == 0 && !utsJoined && c.hostname != "container" {
		return optErr("WithHostname", c.hostname, "conflicts with WithoutNamespace(NSUTS)")
	}
	if c.namespaces&NSUTS == 0 && !utsJoined && c.domainname != "" {
		return optErr("WithDomainname", c.domainname, "conflicts with WithoutNamespace(NSUTS)")
	}
	if c.namespaces&NSUser != 0 {
		if c.uidMap == nil {
			c.uidMap = []IDMap{{ContainerID: c.uid, HostID: c.hostUID, Size: 1}}
		}
		if c.gidMap == nil {
			c.gidMap = []IDMap{{ContainerID: c.gid, HostID: c.hostGID, Size: 1}}
		}
		if !idMapped(c.uidMap, c.uid) {
			return optErr("WithUser", c.uid, "uid is not mapped by the user namespace's uid map")
		}
		if !idMapped(c.gidMap, c.gid) {
			return optErr("WithUser", c.gid, "gid is not mapped by the user namespace's gid map")
		}
	}
	env := []string{defaultPath, "HOME=" + map[bool]string{true: "/root", false: "/"}[c.uid == 0]}
	c.env = mergeEnv(env, c.env)
	for _, m := range c.mounts {
		if m.dest == "/proc" || strings.HasPrefix(m.dest, "/proc/") {
			return optErr("WithBind", m.dest, "mounts over /proc are not allowed")
		}
	}
	if err := c.oci.finish(c); err != nil {
		return err
	}
	if err := c.landlock.finish(); err != nil {
		return err
	}
	c.limits.autoView = c.wantsCgroupView()
	return c.security.finish()
}

// wantsCgroupView reports whether the container gets the library's own
// read-only view of its cgroups at /sys/fs/cgroup: with its own mount and
// cgroup namespaces, when the caller mounts nothing there.
func (c *config) wantsCgroupView() bool {
	if c.noMountNS() || c.namespaces&NSCgroup == 0 || c.nsPaths[NSCgroup] != "" || c.oci.joinPID != 0 {
		return false
	}
	return !c.mountsOn("/sys/fs/cgroup", "/sys/fs", "/sys")
}

func idMapped(maps []IDMap, id uint32) bool {
	for _, m := range maps {
		if id >= m.ContainerID && uint64(id) < uint64(m.ContainerID)+uint64(m.Size) {
			return true
		}
	}
	return false
}

// mergeEnv returns base with each KEY=value of add appended or replacing the
// variable of the same name, keeping the first position of each name.
func mergeEnv(base, add []string) []string {
	out := make([]string, 0, len(base)+len(add))
	idx := map[string]int{}
	for _, kv := range append(append([]string(nil), base...), add...) {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[k]; ok {
			out[i] = kv
			continue
		}
		idx[k] = len(out)
		out = append(out, kv)
	}
	return out
}

func (c *config) String() string {
	return fmt.Sprintf("rootfs=%s cmd=%q ns=%v", c.rootfs, c.args, c.namespaces)
}

// initConfig is the plan the init carries out, computed before the clone.
func (c *config) initConfig() *initConfig {
	userns := c.namespaces&NSUser != 0
	return &initConfig{
		Rootfs:         c.rootfs,
		Args:           c.args,
		Env:            c.env,
		Dir:            c.dir,
		Hostname:       c.hostnameOf(),
		Domainname:     c.domainname,
		UID:            c.uid,
		GID:            c.gid,
		SetGroups:      !userns,
		BecomeRoot:     userns && !mapsRoot(c.uidMap, c.hostUID) && idMapped(c.uidMap, 0) && idMapped(c.gidMap, 0),
		Namespaces:     c.namespaces,
		Mounts:         planMounts(c),
		Devices:        append(append([]device(nil), defaultDevices...), c.oci.devices...), // WithDevices
		BindDevices:    userns,
		ReadonlyRootfs: c.readonlyRootfs,
		RootProp:       c.rootProp,
		Chroot:         c.noMountNS(),
		NoPivot:        c.noPivot,
		Security:       c.oci.security(c.security.initSecurity(c.uid)), // lifecycle.go: WithInheritedCapabilities
		Limits:         c.oci.limits(c.limits.initConfig()),            // lifecycle.go: no handshake with a parent that is gone
		OCI:            c.oci.initConfig(),
		Net:            netInit{LoopbackUp: c.namespaces&NSNet != 0},
	}
}

// noMountNS reports whether the container shares the caller's mount
// namespace (WithoutNamespace(NSMount)): its mounts are made on the host and
// its root is entered with chroot(2).
func (c *config) noMountNS() bool {
	return c.namespaces&NSMount == 0 && c.nsPaths[NSMount] == ""
}

// checkNoMountNS refuses what cannot work without a mount namespace of the
// container's own: each would change a mount of the host's.
func (c *config) checkNoMountNS() error {
	if !c.noMountNS() {
		return nil
	}
	switch {
	case c.readonlyRootfs:
		return optErr("WithReadonlyRootfs", nil, "conflicts with WithoutNamespace(NSMount): it would make the host's mount that holds the rootfs read-only")
	case c.rootProp != 0:
		return optErr("WithRootfsPropagation", nil, "conflicts with WithoutNamespace(NSMount): the container has no root mount of its own")
	case c.namespaces&NSUser != 0:
		return optErr("WithoutNamespace", NSMount, "a user namespace needs a mount namespace: its root has no privilege to mount in the host's")
	}
	return nil
}

// checkNoPivot refuses what WithoutPivotRoot cannot do: it needs a mount
// namespace of the container's own, whose host mounts it may detach, and a
// root mount that is not shared with the host's.
func (c *config) checkNoPivot() error {
	if !c.noPivot {
		return nil
	}
	switch {
	case c.noMountNS():
		return optErr("WithoutPivotRoot", nil, "conflicts with WithoutNamespace(NSMount), which enters the root with chroot(2) already")
	case c.nsPaths[NSMount] != "":
		return optErr("WithoutPivotRoot", nil, "conflicts with WithNamespacePath(NSMount): it would detach the mounts of a namespace other processes use")
	case c.namespaces&NSUser != 0 || c.nsPaths[NSUser] != "":
		return optErr("WithoutPivotRoot", nil, "conflicts with a user namespace: the host's mounts are locked there and could not be detached from the old root")
	case c.rootProp&msShared != 0:
		return optErr("WithRootfsPropagation", "shared", "conflicts with WithoutPivotRoot: moving the rootfs onto a shared root would mount it on the host's root as well")
	}
	return nil
}

// hostnameOf is the hostname the init sets: the container's own UTS
// namespace always gets one, a joined one only WithHostname's.
func (c *config) hostnameOf() string {
	if c.namespaces&NSUTS != 0 || c.hostnameSet && c.nsPaths[NSUTS] != "" {
		return c.hostname
	}
	return ""
}

// mapsRoot reports whether maps make hostID the namespace's root.
func mapsRoot(maps []IDMap, hostID uint32) bool {
	for _, m := range maps {
		if m.ContainerID == 0 && m.HostID == hostID {
			return true
		}
	}
	return false
}
