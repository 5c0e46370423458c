package container

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// ErrNetworkClosed is returned by Start for a member of a Network that was
// closed, and by a second Close.
var ErrNetworkClosed = errors.New("container: network closed")

// Network is a bridge on the host that containers join with [WithNetwork], for
// test harnesses that want several hosts talking to each other: members reach
// each other and the host by address, and each other by hostname. [NewNetwork]
// creates it and Close removes it; one that its process did not close (the
// process was killed) is removed by a later NewNetwork or Start of any process
// (see Networking in the package documentation).
//
// A Network is safe for concurrent use.
type Network struct {
	name   string
	subnet netip.Prefix // masked
	host   netip.Addr

	mu      sync.Mutex
	pool    *addrPool
	members []member
	closed  bool
	sys     networkState // the kernel objects and files, per platform
}

// member is a running member of a Network.
type member struct {
	addr     netip.Addr
	hostname string // "" when the member shares the host's UTS namespace
}

// NewNetwork creates a network: a Linux bridge, up, with the host's address of
// prefix (its own address, or the subnet's first when it is the network
// address, as in 169.254.20.0/24). The subnet must leave room for the host and
// at least one member; name, a DNS label (letters, digits and '-'), names the
// network in members' /etc/hosts (member.name). It needs CAP_NET_ADMIN (root);
// when the bridge cannot be created or addressed, NewNetwork fails and leaves
// nothing behind. Call Close when its members have exited.
func NewNetwork(name string, prefix netip.Prefix) (*Network, error) {
	if err := checkLabel(name); err != nil {
		return nil, optErr("NewNetwork", name, "%w", err)
	}
	subnet, host, err := networkAddrs(prefix)
	if err != nil {
		return nil, optErr("NewNetwork", prefix, "%w", err)
	}
	n := &Network{name: name, subnet: subnet, host: host, pool: newAddrPool(subnet, host)}
	if err := n.create(); err != nil {
		return nil, needNetAdmin("NewNetwork", err) // usernet.go
	}
	return n, nil
}

// checkLabel checks a DNS label: 1 to 63 letters, digits and '-', not at
// either end.
func checkLabel(name string) error {
	if name == "" || len(name) > 63 {
		return errors.New("must be 1 to 63 bytes")
	}
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' && i > 0 && i < len(name)-1
		if !ok {
			return errors.New("must be letters, digits and '-' (not first or last)")
		}
	}
	return nil
}

// networkAddrs returns the subnet of prefix and the host's address in it.
func networkAddrs(prefix netip.Prefix) (subnet netip.Prefix, host netip.Addr, err error) {
	if err := checkIfAddr(prefix); err != nil {
		return subnet, host, err
	}
	subnet = prefix.Masked()
	host = prefix.Addr()
	if host == subnet.Addr() && host.BitLen()-subnet.Bits() >= 2 {
		host = host.Next()
	}
	if !usableInSubnet(subnet, host) {
		return subnet, host, fmt.Errorf("%v is the broadcast address of %v", host, subnet)
	}
	return subnet, host, nil
}

// Name returns the network's name, as given to [NewNetwork].
func (n *Network) Name() string { return n.name }

// Prefix returns the host's address on the network with the subnet's length,
// as in 169.254.20.1/24.
func (n *Network) Prefix() netip.Prefix { return netip.PrefixFrom(n.host, n.subnet.Bits()) }

// Bridge returns the name of the network's bridge interface on the host.
func (n *Network) Bridge() string { return n.sys.bridge }

// Addr returns the address of the running member with this hostname.
func (n *Network) Addr(hostname string) (netip.Addr, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, m := range n.members {
		if m.hostname == hostname && hostname != "" {
			return m.addr, true
		}
	}
	return netip.Addr{}, false
}

// checkMemberAddr checks an address fixed with WithNetworkAddress.
func (n *Network) checkMemberAddr(a netip.Addr) error {
	switch {
	case !n.subnet.Contains(a):
		return fmt.Errorf("not in network %q's subnet %v", n.name, n.subnet)
	case a == n.host:
		return fmt.Errorf("is network %q's host address", n.name)
	case !usableInSubnet(n.subnet, a):
		return fmt.Errorf("is the network or broadcast address of %v", n.subnet)
	}
	return nil
}

// join adds a member: it takes an address (fixed, when valid, or the next
// free one) and rewrites the network's /etc/hosts.
func (n *Network) join(hostname string, fixed netip.Addr) (netip.Addr, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return netip.Addr{}, fmt.Errorf("container: join network %q: %w", n.name, ErrNetworkClosed)
	}
	if hostname != "" {
		for _, m := range n.members {
			if m.hostname == hostname {
				return netip.Addr{}, fmt.Errorf("container: join network %q: hostname %q is taken by member %v (give each member a hostname of its own)", n.name, hostname, m.addr)
			}
		}
	}
	var a netip.Addr
	if fixed.IsValid() {
		if err := n.pool.claim(fixed); err != nil {
			return netip.Addr{}, fmt.Errorf("container: join network %q: %w", n.name, err)
		}
		a = fixed
	} else {
		var ok bool
		if a, ok = n.pool.take(); !ok {
			return netip.Addr{}, fmt.Errorf("container: join network %q: no free address in %v", n.name, n.subnet)
		}
	}
	n.members = append(n.members, member{addr: a, hostname: hostname})
	if err := n.writeHosts(); err != nil {
		n.members = n.members[:len(n.members)-1]
		n.pool.free(a)
		return netip.Addr{}, err
	}
	return a, nil
}

// leave removes the member with address a.
func (n *Network) leave(a netip.Addr) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.members = slices.DeleteFunc(n.members, func(m member) bool { return m.addr == a })
	n.pool.free(a)
	if !n.closed {
		n.writeHosts() // a stale line names an address nobody answers on: harmless
	}
}

// hostEntries lists the members for /etc/hosts, in address order.
func (n *Network) hostEntries() []hostEntry {
	ms := slices.Clone(n.members)
	slices.SortFunc(ms, func(a, b member) int { return a.addr.Compare(b.addr) })
	var out []hostEntry
	for _, m := range ms {
		if m.hostname == "" {
			continue
		}
		names := []string{m.hostname}
		if !strings.Contains(m.hostname, ".") {
			names = []string{m.hostname + "." + n.name, m.hostname}
		}
		out = append(out, hostEntry{Addr: m.addr, Names: names})
	}
	return out
}

// addrPool hands out a subnet's addresses in order. After the last address it
// starts again from the first, so an address that was given back is reused
// only when every later one is taken, long after neighbours forgot its MAC.
type addrPool struct {
	subnet netip.Prefix
	used   map[netip.Addr]bool
	last   netip.Addr // the address handed out last; the search starts after it
}

func newAddrPool(subnet netip.Prefix, reserved ...netip.Addr) *addrPool {
	p := &addrPool{subnet: subnet, used: map[netip.Addr]bool{}, last: lastAddr(subnet)}
	for _, a := range reserved {
		p.used[a] = true
	}
	return p
}

// next returns the address after a in the subnet, wrapping around.
func (p *addrPool) next(a netip.Addr) netip.Addr {
	a = a.Next()
	if !a.IsValid() || !p.subnet.Contains(a) {
		return p.subnet.Addr()
	}
	return a
}

// take returns the first free usable address after the one handed out last.
func (p *addrPool) take() (netip.Addr, bool) {
	a := p.last
	for {
		a = p.next(a)
		if usableInSubnet(p.subnet, a) && !p.used[a] {
			p.used[a] = true
			p.last = a
			return a, true
		}
		if a == p.last {
			return netip.Addr{}, false
		}
	}
}

// claim takes the address a.
func (p *addrPool) claim(a netip.Addr) error {
	if !usableInSubnet(p.subnet, a) {
		return fmt.Errorf("%v is not a usable address of %v", a, p.subnet)
	}
	if p.used[a] {
		return fmt.Errorf("address %v is in use", a)
	}
	p.used[a] = true
	return nil
}

// free gives a back.
func (p *addrPool) free(a netip.Addr) { delete(p.used, a) }

func (n *Network) hostsPath() string { return filepath.Join(n.sys.dir, "hosts") }

// writeHosts rewrites the members' /etc/hosts in place: the file stays the
// same inode, so the members, which have it bind-mounted, see the new content.
// (A member reading it at that very moment may see a mix of the two versions;
// a rename would be atomic but would leave the members with the old inode.)
// The caller holds n.mu.
func (n *Network) writeHosts() error {
	data := hostsContent(n.hostEntries())
	f, err := os.OpenFile(n.hostsPath(), os.O_WRONLY|os.O_CREATE, 0o644)
	if err == nil {
		if _, err = f.WriteAt(data, 0); err == nil {
			err = f.Truncate(int64(len(data)))
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("container: network %q: write /etc/hosts: %w", n.name, err)
	}
	return nil
}
