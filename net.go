package container

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
)

// Networking: which network namespace a container runs in and what it finds
// there. This file is the pure part: the options, their validation in New, the
// address pool of a Network and the content of the files the library
// bind-mounts over /etc/hosts, /etc/hostname and /etc/resolv.conf. The kernel
// work is in net_linux.go and network_linux.go.
//
// A container gets one of:
//   - by default, a network namespace of its own with only the loopback
//     interface, up;
//   - WithVeth: that, plus a veth pair whose host end has the host address and
//     whose container end (eth0) has the container address and a default route
//     via the host end;
//   - WithNetwork: that, with the host end of the veth a port of a Network's
//     bridge and the container's address handed out by the Network;
//   - WithNamespacePath(NSNet, path): an existing network namespace, joined
//     as it is;
//   - WithoutNamespace(NSNet): the caller's own network namespace.

// defaultIfname is the name of the container's end of its veth pair.
const defaultIfname = "eth0"

// netConfig is what the networking options asked for.
type netConfig struct {
	nsPath  string      // WithNamespacePath(NSNet, ...)
	veth    []vethAddrs // WithVeth, at most one pair per address family
	ifname  string      // WithVethName; eth0 once finished, when there is a veth
	network *Network    // WithNetwork
	addr    netip.Addr  // WithNetworkAddress
}

// vethAddrs is one address family's addresses of a veth pair.
type vethAddrs struct {
	Host, Container netip.Prefix
}

// hasVeth reports whether the container gets a veth pair (WithVeth or WithNetwork).
func (n *netConfig) hasVeth() bool { return len(n.veth) > 0 || n.network != nil }

// netInit is the init's part of the network plan.
type netInit struct {
	// LoopbackUp brings lo up: the container has a network namespace of its own.
	LoopbackUp bool
}

// WithVeth connects the container to the host through a veth pair: the host end
// gets the address host, the container's end (eth0, see [WithVethName]) the
// address container and a default route via host. Both must be of one address
// family and one subnet, with distinct addresses that are neither the subnet's
// network address nor its IPv4 broadcast address; give WithVeth once per family
// to have both on the one pair. It needs CAP_NET_ADMIN on the host (root): when
// the pair cannot be created or configured, Start fails. It conflicts with
// [WithNetwork], [WithoutNamespace](NSNet) and [WithNamespacePath](NSNet, ...).
// See Networking in the package documentation for the pair and the /etc files.
func WithVeth(host, container netip.Prefix) Option {
	return optionFunc(func(c *config) error {
		if err := checkVeth(host, container); err != nil {
			return optErr("WithVeth", host.String()+" "+container.String(), "%w", err)
		}
		for _, v := range c.net.veth {
			if v.Host.Addr().Is4() == host.Addr().Is4() {
				return optErr("WithVeth", host.String()+" "+container.String(), "a second pair of %s addresses (give WithVeth once per address family)", family(host.Addr()))
			}
		}
		c.net.veth = append(c.net.veth, vethAddrs{Host: host, Container: container})
		return nil
	})
}

func family(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}

// checkVeth checks the two ends' prefixes of WithVeth.
func checkVeth(host, ctr netip.Prefix) error {
	for _, p := range []netip.Prefix{host, ctr} {
		if err := checkIfAddr(p); err != nil {
			return err
		}
	}
	if host.Addr().Is4() != ctr.Addr().Is4() {
		return errors.New("the two ends' addresses are of different families")
	}
	if host.Bits() != ctr.Bits() || host.Masked() != ctr.Masked() {
		return fmt.Errorf("the two ends are in different subnets (%v and %v)", host.Masked(), ctr.Masked())
	}
	if host.Addr() == ctr.Addr() {
		return errors.New("the two ends have the same address")
	}
	for _, p := range []netip.Prefix{host, ctr} {
		if !usableInSubnet(p.Masked(), p.Addr()) {
			return fmt.Errorf("%v is the network or broadcast address of %v", p.Addr(), p.Masked())
		}
	}
	return nil
}

// checkIfAddr checks an address given for an interface.
func checkIfAddr(p netip.Prefix) error {
	a := p.Addr()
	switch {
	case !p.IsValid():
		return errors.New("invalid prefix")
	case a.Is4In6():
		return fmt.Errorf("%v is an IPv4-mapped IPv6 address: give the IPv4 address", a)
	case a.IsUnspecified(), a.IsLoopback(), a.IsMulticast():
		return fmt.Errorf("%v cannot be an interface's address", a)
	case p.Bits() == a.BitLen():
		return fmt.Errorf("prefix %v has no room for a second address", p)
	}
	return nil
}

// usableInSubnet reports whether a is an address of subnet that a host can
// have: not the network address (nor, for IPv4, the broadcast address) of a
// subnet large enough to have those (/30 and /126 and larger).
func usableInSubnet(subnet netip.Prefix, a netip.Addr) bool {
	if !subnet.Contains(a) {
		return false
	}
	if a.BitLen()-subnet.Bits() < 2 {
		return true // a /31 or /127: both addresses are hosts (RFC 3021, RFC 6164)
	}
	if a == subnet.Addr() {
		return false
	}
	return !a.Is4() || a != lastAddr(subnet)
}

// lastAddr returns the highest address of the subnet.
func lastAddr(subnet netip.Prefix) netip.Addr {
	b := subnet.Masked().Addr().AsSlice()
	host := len(b)*8 - subnet.Bits()
	for i := len(b) - 1; i >= 0 && host > 0; i-- {
		n := min(host, 8)
		b[i] |= byte(1<<n - 1)
		host -= n
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// WithVethName names the container's end of its veth pair (default "eth0").
// The name follows the kernel's rules for interface names: 1 to 15 bytes,
// not "." or "..", without '/', ':' or white space. It needs [WithVeth] or
// [WithNetwork].
func WithVethName(name string) Option {
	return optionFunc(func(c *config) error {
		if err := checkIfname(name); err != nil {
			return optErr("WithVethName", name, "%w", err)
		}
		c.net.ifname = name
		return nil
	})
}

// checkIfname applies the kernel's dev_valid_name.
func checkIfname(name string) error {
	if name == "" || len(name) > 15 {
		return errors.New("must be 1 to 15 bytes")
	}
	if name == "." || name == ".." {
		return errors.New(`must not be "." or ".."`)
	}
	if strings.ContainsFunc(name, func(r rune) bool {
		return r == '/' || r == ':' || r <= ' ' || r == 0x7f
	}) {
		return errors.New("must not contain '/', ':', white space or control characters")
	}
	return nil
}

// WithNetwork makes the container a member of n: a veth pair connects it to n's
// bridge, with the next free address of n's subnet (or the one
// [WithNetworkAddress] fixes) and a default route via n's host address, and its
// /etc/hosts lists every member by hostname (see Networking in the package
// documentation). Start takes the address and Wait gives it back. It needs
// CAP_NET_ADMIN on the host (root): Start fails when the pair cannot be
// created, when n is closed or has no free address, and when a running member
// has the same hostname. It conflicts with [WithVeth],
// [WithoutNamespace](NSNet) and [WithNamespacePath](NSNet, ...).
func WithNetwork(n *Network) Option {
	return optionFunc(func(c *config) error {
		if n == nil {
			return &OptionError{Option: "WithNetwork", Err: errors.New("nil network")}
		}
		if c.net.network != nil && c.net.network != n {
			return optErr("WithNetwork", n.name, "a container joins one network (already %q)", c.net.network.name)
		}
		c.net.network = n
		return nil
	})
}

// WithNetworkAddress fixes the container's address on the network of
// [WithNetwork], instead of the next free one. It must be an address of the
// network's subnet other than the host's, the network address and the IPv4
// broadcast address. When another member has it, Start fails.
func WithNetworkAddress(addr netip.Addr) Option {
	return optionFunc(func(c *config) error {
		if !addr.IsValid() || addr.Is4In6() || addr.Zone() != "" {
			return optErr("WithNetworkAddress", addr, "want a plain IPv4 or IPv6 address")
		}
		c.net.addr = addr
		return nil
	})
}

// joinNS records the network namespace a container joins
// (WithNamespacePath(NSNet, path)). The library leaves that namespace as it
// finds it: no interface is added, and lo is not touched.
func (n *netConfig) joinNS(path string) error {
	if !filepath.IsAbs(path) {
		return optErr("WithNamespacePath", path, "must be an absolute path")
	}
	if strings.ContainsRune(path, 0) {
		return optErr("WithNamespacePath", path, "contains a NUL byte")
	}
	if n.nsPath != "" && n.nsPath != filepath.Clean(path) {
		return optErr("WithNamespacePath", path, "a container joins one network namespace (already %q)", n.nsPath)
	}
	n.nsPath = filepath.Clean(path)
	return nil
}

// finish checks the networking options against each other and the
// namespaces; it runs from config.finish.
func (n *netConfig) finish(c *config) error {
	explicitNet := c.nsExplicit && c.namespaces&NSNet != 0
	vethOpt := "WithVeth"
	if n.network != nil {
		vethOpt = "WithNetwork"
	}
	if n.nsPath != "" {
		switch {
		case n.hasVeth():
			return optErr("WithNamespacePath", n.nsPath, "conflicts with %s: a joined namespace's interfaces are its maker's", vethOpt)
		case c.nsDropped&NSNet != 0:
			return optErr("WithNamespacePath", n.nsPath, "conflicts with WithoutNamespace(NSNet)")
		case explicitNet:
			return optErr("WithNamespacePath", n.nsPath, "conflicts with WithNamespaces(NSNet)")
		}
		c.namespaces &^= NSNet
	}
	if len(n.veth) > 0 && n.network != nil {
		return optErr("WithVeth", nil, "conflicts with WithNetwork: a container has one veth pair")
	}
	if n.hasVeth() && c.namespaces&NSNet == 0 {
		return optErr(vethOpt, nil, "needs the container's own network namespace: conflicts with WithoutNamespace(NSNet)")
	}
	if n.ifname != "" && !n.hasVeth() {
		return optErr("WithVethName", n.ifname, "needs WithVeth or WithNetwork")
	}
	if n.addr.IsValid() {
		if n.network == nil {
			return optErr("WithNetworkAddress", n.addr, "needs WithNetwork")
		}
		if err := n.network.checkMemberAddr(n.addr); err != nil {
			return optErr("WithNetworkAddress", n.addr, "%w", err)
		}
	}
	if n.hasVeth() {
		if n.ifname == "" {
			n.ifname = defaultIfname
		}
		if c.namespaces&NSUTS != 0 && !hostsSafe(c.hostname) {
			return optErr("WithHostname", c.hostname, "cannot be listed in /etc/hosts (white space, control characters or '#')")
		}
	}
	return nil
}

// hostsSafe reports whether name can be a name in /etc/hosts.
func hostsSafe(name string) bool {
	return name != "" && !strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '#' })
}

// The files a container with a veth gets, bind-mounted read-only over the
// rootfs's. The mount plan names their sources with netFilesDir; the parent
// replaces it with the directory it wrote them to (fillNetFiles), since that
// directory is made by Start.
const netFilesDir = "<network files>"

var netFiles = []string{"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"}

// netFileMounts returns the mount plan's entries for the generated files. A
// file the caller binds with WithBind is the caller's, and /etc/hostname is
// only generated for a container with its own hostname (UTS namespace).
func netFileMounts(c *config) []mountEntry {
	if !c.net.hasVeth() {
		return nil
	}
	var plan []mountEntry
	for _, dst := range netFiles {
		if dst == "/etc/hostname" && c.namespaces&NSUTS == 0 || c.mountsOn(dst) {
			continue
		}
		plan = append(plan, mountEntry{Kind: mountBind, Source: netFilesDir + dst, Dest: dst, Readonly: true, File: true})
	}
	return plan
}

// fillNetFiles points the generated files' entries of plan at the files in
// dir, and /etc/hosts at hosts when it is not empty (a Network's shared file).
func fillNetFiles(plan []mountEntry, dir, hosts string) {
	for i, e := range plan {
		rest, ok := strings.CutPrefix(e.Source, netFilesDir)
		if !ok || e.Kind != mountBind {
			continue
		}
		if rest == "/etc/hosts" && hosts != "" {
			plan[i].Source = hosts
		} else {
			plan[i].Source = filepath.Join(dir, filepath.Base(rest))
		}
	}
}

// hostEntry is a line of /etc/hosts.
type hostEntry struct {
	Addr  netip.Addr
	Names []string
}

// hostsContent renders /etc/hosts: localhost, then the entries in order.
func hostsContent(entries []hostEntry) []byte {
	var b bytes.Buffer
	b.WriteString("# Generated by github.com/ctrkit/container.\n")
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	for _, e := range entries {
		var names []string
		for _, n := range e.Names {
			if hostsSafe(n) {
				names = append(names, n)
			}
		}
		if len(names) == 0 || !e.Addr.IsValid() {
			continue
		}
		fmt.Fprintf(&b, "%s\t%s\n", e.Addr, strings.Join(names, " "))
	}
	return b.Bytes()
}

// hostnameContent renders /etc/hostname.
func hostnameContent(hostname string) []byte { return []byte(hostname + "\n") }

// resolvConfContent renders the container's /etc/resolv.conf from the host's:
// its nameserver, search, domain and options lines, less the nameservers on
// the loopback (a local stub resolver such as 127.0.0.53), which are not
// reachable from the container's own network namespace.
func resolvConfContent(host []byte) []byte {
	var b bytes.Buffer
	b.WriteString("# Generated by github.com/ctrkit/container from the host's resolv.conf,\n")
	b.WriteString("# less nameservers on the loopback, which the container cannot reach.\n")
	for _, line := range strings.Split(string(host), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "nameserver":
			if len(f) < 2 {
				continue
			}
			addr, _, _ := strings.Cut(f[1], "%")
			a, err := netip.ParseAddr(addr)
			if err != nil || a.Unmap().IsLoopback() {
				continue
			}
		case "search", "domain", "options":
		default:
			continue
		}
		b.WriteString(strings.Join(f, " ") + "\n")
	}
	return b.Bytes()
}

// vethHostEntries lists the container's own addresses under its hostname,
// the /etc/hosts of a WithVeth container.
func vethHostEntries(c *config) []hostEntry {
	if c.namespaces&NSUTS == 0 {
		return nil
	}
	var out []hostEntry
	for _, v := range c.net.veth {
		out = append(out, hostEntry{Addr: v.Container.Addr(), Names: []string{c.hostname}})
	}
	return out
}
