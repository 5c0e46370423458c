package container

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ctrkit/container/internal/rtnl"
	"golang.org/x/sys/unix"
)

// The network steps of the start sequence:
//
//	parent, before the clone   createNetwork: reap what killed parents left; write the
//	                           container's /etc files; take a Network address
//	                           (joined: joinNamespaces in ns_linux.go)
//	parent, before "go"        attachNetwork: the veth pair, its container end created
//	                           straight in the child's namespace and configured
//	                           through a netlink socket opened there
//	init                       setupNetworkInside: lo up
//	parent, Wait               releaseNetwork: files, address; the veth pair
//	                           is not deleted: it dies with the child's namespace
//
// Every netlink request goes through a socket of our own (internal/rtnl),
// opened in the host's or the child's network namespace.

// netState is the parent's handle on a container's network objects.
type netState struct {
	dir     string     // the container's generated /etc files
	network *Network   // WithNetwork
	addr    netip.Addr // the container's address on network
	once    sync.Once
}

// createNetwork runs before the clone.
func (r *running) createNetwork(c *config, icfg *initConfig, rel *releaser) error {
	nc := &c.net
	if !nc.hasVeth() { // a joined namespace is joined by joinNamespaces (ns_linux.go)
		return nil
	}
	st := &netState{}
	r.net = st
	rel.add(st.release)

	reapStale()
	dir, err := os.MkdirTemp("", tempDirPattern())
	if err != nil {
		return fmt.Errorf("container: directory for /etc files: %w", err)
	}
	st.dir = dir
	// The init may run as a mapped user (WithUIDMap): it must reach the files.
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("container: directory for /etc files: %w", err)
	}
	hostname := ""
	if c.namespaces&NSUTS != 0 {
		hostname = c.hostname
	}
	resolv, err := os.ReadFile("/etc/resolv.conf")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("container: read the host's resolv.conf: %w", err)
	}
	files := map[string][]byte{
		"hostname":    hostnameContent(c.hostname),
		"resolv.conf": resolvConfContent(resolv),
	}
	hostsPath := ""
	if n := nc.network; n != nil {
		a, err := n.join(hostname, nc.addr)
		if err != nil {
			return err
		}
		st.network, st.addr = n, a
		hostsPath = n.hostsPath()
	} else {
		files["hosts"] = hostsContent(vethHostEntries(c))
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("container: write /etc/%s: %w", name, err)
		}
	}
	fillNetFiles(icfg.Mounts, dir, hostsPath)
	return nil
}

// attachNetwork runs between the clone and "go": it creates the veth pair,
// the container's end directly in the child's network namespace (so it never
// exists in the host's, and vanishes with the child's), and configures the
// container's end from a netlink socket in that namespace: address, up,
// default route via the host end.
func (r *running) attachNetwork(c *config) (err error) {
	nc := &c.net
	if r.net == nil || !nc.hasVeth() {
		return nil
	}
	h, err := rtnl.Dial()
	if err != nil {
		return fmt.Errorf("container: netlink: %w", err)
	}
	defer h.Close()
	nsPath := "/proc/" + strconv.Itoa(r.pid()) + "/ns/net"
	nsf, err := os.Open(nsPath)
	if err != nil {
		return fmt.Errorf("container: open the container's network namespace: %w", err)
	}
	defer nsf.Close()

	veth := rtnl.Veth{Name: vethName(r.id), Up: true, PeerName: nc.ifname, PeerNamespace: int(nsf.Fd())}
	var ctrAddrs []netip.Prefix
	var gateways []netip.Addr
	if n := r.net.network; n != nil {
		br, err := h.LinkByIndex(n.sys.index)
		if err != nil {
			return fmt.Errorf("container: network %q: bridge %s: %w", n.name, n.sys.bridge, err)
		}
		veth.MTU = br.MTU // the container's end gets it too
		veth.Master = n.sys.index
		ctrAddrs = append(ctrAddrs, netip.PrefixFrom(r.net.addr, n.subnet.Bits()))
		gateways = append(gateways, n.host)
	} else {
		for _, v := range nc.veth {
			ctrAddrs = append(ctrAddrs, v.Container)
			gateways = append(gateways, v.Host.Addr())
		}
	}
	if err := h.AddVeth(veth); err != nil {
		return fmt.Errorf("container: create veth %s: %w", veth.Name, err)
	}
	// The index, for the requests that follow; while it is unknown, a failed
	// Start leaves the veth pair to die with the child's namespace.
	host, err := h.LinkByName(veth.Name)
	if err != nil {
		return fmt.Errorf("container: find veth %s: %w", veth.Name, err)
	}
	defer func() {
		// Deleting costs a synchronize_net; only a failed Start pays it.
		if err != nil {
			h.DeleteLink(host.Index)
		}
	}()
	// The kernel ignores an alias in the request that creates a link.
	if err := h.SetAlias(host.Index, ownerAlias()); err != nil {
		return fmt.Errorf("container: set the alias of %s: %w", veth.Name, err)
	}
	for _, v := range nc.veth {
		if err := h.AddAddress(host.Index, v.Host, addrFlags(v.Host)); err != nil {
			return fmt.Errorf("container: add address %v to %s: %w", v.Host, veth.Name, err)
		}
	}

	ch, err := rtnl.DialNamespace(int(nsf.Fd()))
	if err != nil {
		return fmt.Errorf("container: netlink in the container's network namespace: %w", err)
	}
	defer ch.Close()
	peer, err := ch.LinkByName(nc.ifname)
	if err != nil {
		return fmt.Errorf("container: find %s in the container: %w", nc.ifname, err)
	}
	for _, p := range ctrAddrs {
		if err := ch.AddAddress(peer.Index, p, addrFlags(p)); err != nil {
			return fmt.Errorf("container: add address %v to %s in the container: %w", p, nc.ifname, err)
		}
	}
	if err := ch.SetUp(peer.Index); err != nil {
		return fmt.Errorf("container: bring %s up in the container: %w", nc.ifname, err)
	}
	for _, gw := range gateways {
		if err := ch.AddDefaultRoute(peer.Index, gw); err != nil {
			return fmt.Errorf("container: default route via %v in the container: %w", gw, err)
		}
	}
	return nil
}

// releaseNetwork runs in Wait, after the container's processes are gone. It
// does not delete the veth pair: the kernel does when it destroys the
// container's network namespace, and deleting it here would make Wait wait
// for a synchronize_net (tens of milliseconds).
func (r *running) releaseNetwork() {
	if r.net != nil {
		r.net.release()
	}
}

// release undoes createNetwork; it runs once, from Wait or a failed Start.
func (st *netState) release() {
	st.once.Do(func() {
		if st.network != nil {
			st.network.leave(st.addr)
		}
		if st.dir != "" {
			os.RemoveAll(st.dir)
		}
	})
}

// setupNetworkInside runs in the init: it brings lo up when the container has
// a network namespace of its own (SIOCSIFFLAGS; a new namespace's lo is down).
// Everything else about the container's interfaces the parent did.
func setupNetworkInside(cfg *initConfig) error {
	if !cfg.Net.LoopbackUp {
		return nil
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return &SetupError{Op: "socket for", Path: "lo", Err: err}
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return &SetupError{Op: "bring up", Path: "lo", Err: err}
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return &SetupError{Op: "get flags of", Path: "lo", Err: err}
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return &SetupError{Op: "bring up", Path: "lo", Err: err}
	}
	return nil
}

// vethName is the host end's name: "ctk" and the container's 12 hex digits,
// 15 bytes, the most an interface name may have.
func vethName(id string) string { return "ctk" + id }

// addrFlags are the flags of the address p: IPv6 addresses skip duplicate
// address detection, which would keep them unusable for a second or more.
func addrFlags(p netip.Prefix) uint32 {
	if p.Addr().Is6() {
		return unix.IFA_F_NODAD
	}
	return 0
}

// Reaping. Every veth host end and bridge the library makes carries an alias
// naming its owner, the process that made it, by pid namespace, pid and start
// time; every directory of generated files names it too. A later process
// removes what an owner that no longer runs left behind (it was killed before
// Wait or Close), and never touches a live owner's, nor one whose pid it
// cannot check (another pid namespace).

const (
	aliasPrefix   = "ctrkit-container owner="
	tempDirPrefix = "ctrkit-net-"
)

// owner identifies this process: "pidns-inode.pid.start-time".
var owner = sync.OnceValue(func() string {
	pid := os.Getpid()
	start := ""                                // an owner without a start time is never taken for gone
	if st, err := startTime(pid); err == nil { // cgroup_linux.go
		start = strconv.FormatUint(st, 10)
	}
	return pidNS() + "." + strconv.Itoa(pid) + "." + start
})

func ownerAlias() string     { return aliasPrefix + owner() }
func tempDirPattern() string { return tempDirPrefix + owner() + "-*" }

func pidNS() string {
	var st unix.Stat_t
	if unix.Stat("/proc/self/ns/pid", &st) != nil {
		return "0"
	}
	return strconv.FormatUint(st.Ino, 10)
}

// ownerGone reports whether the owner named by tok has certainly exited.
func ownerGone(tok string) bool {
	f := strings.Split(tok, ".")
	if len(f) != 3 || f[0] != pidNS() || f[2] == "" {
		return false
	}
	pid, err := strconv.Atoi(f[1])
	if err != nil || pid <= 0 {
		return false
	}
	start, err := startTime(pid)
	if errors.Is(err, fs.ErrNotExist) {
		return true
	}
	return err == nil && strconv.FormatUint(start, 10) != f[2]
}

// reapStale removes the links and directories of owners that are gone. It is
// housekeeping for the Start or NewNetwork that runs it: its failures are not
// theirs, and are left for the next one. Every owner makes its directory
// before its links and removes it after them, so the link table (a dump of
// every link on the host) is searched only where a dead owner's directory
// is left, and once per process for anything else.
func reapStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), tempDirPrefix+"*"))
	var dead []string
	for _, d := range dirs {
		rest := strings.TrimPrefix(filepath.Base(d), tempDirPrefix)
		if tok, _, ok := strings.Cut(rest, "-"); ok && ownerGone(tok) {
			dead = append(dead, d)
		}
	}
	if len(dead) > 0 || !linksReaped.Load() {
		h, err := rtnl.Dial()
		if err != nil {
			return // the directories stay, for the next one
		}
		links, _ := h.Links() // a dump interrupted by a change still lists the rest
		for _, l := range links {
			if tok, ok := strings.CutPrefix(l.Alias, aliasPrefix); ok && ownerGone(tok) {
				h.DeleteLink(l.Index)
			}
		}
		h.Close()
		linksReaped.Store(true)
	}
	for _, d := range dead {
		os.RemoveAll(d)
	}
}

// linksReaped: this process searched the link table once (reapStale).
var linksReaped atomic.Bool
