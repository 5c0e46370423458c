package container

import (
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// networkState is a Network's kernel objects and files.
type networkState struct {
	bridge string // the bridge's interface name
	index  int    // and index
	dir    string // holds the members' shared /etc/hosts
}

// create makes the bridge, gives it the host's address and brings it up, and
// writes the members' /etc/hosts.
func (n *Network) create() (err error) {
	reapStale()
	dir, err := os.MkdirTemp("", tempDirPattern())
	if err != nil {
		return fmt.Errorf("container: network %q: directory for /etc/hosts: %w", n.name, err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("container: network %q: %w", n.name, err)
	}
	n.sys.dir = dir
	if err := n.writeHosts(); err != nil {
		return err
	}

	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("container: network %q: netlink: %w", n.name, err)
	}
	defer h.Close()
	la := netlink.NewLinkAttrs()
	la.Name = "ctb" + newID()
	la.Alias = ownerAlias() // set once the link exists
	la.Flags = net.FlagUp
	br := &netlink.Bridge{LinkAttrs: la}
	if err := h.LinkAdd(br); err != nil {
		return fmt.Errorf("container: network %q: create bridge %s: %w", n.name, la.Name, err)
	}
	// The kernel ignores an alias in the request that creates a link.
	if err := h.LinkSetAlias(br, la.Alias); err != nil {
		h.LinkDel(br)
		return fmt.Errorf("container: network %q: set the alias of bridge %s: %w", n.name, la.Name, err)
	}
	if err := h.AddrAdd(br, ifAddr(n.Prefix())); err != nil {
		h.LinkDel(br)
		return fmt.Errorf("container: network %q: add address %v to bridge %s: %w", n.name, n.Prefix(), la.Name, err)
	}
	n.sys.bridge, n.sys.index = la.Name, br.Attrs().Index
	return nil
}

// Close removes the network's bridge and its files. Members still running
// lose their connection; members started later fail to start. A second Close
// returns [ErrNetworkClosed].
func (n *Network) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return ErrNetworkClosed
	}
	n.closed = true
	n.mu.Unlock()

	os.RemoveAll(n.sys.dir)
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("container: network %q: netlink: %w", n.name, err)
	}
	defer h.Close()
	la := netlink.NewLinkAttrs()
	la.Name, la.Index = n.sys.bridge, n.sys.index
	if err := h.LinkDel(&netlink.Bridge{LinkAttrs: la}); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("container: network %q: delete bridge %s: %w", n.name, n.sys.bridge, err)
	}
	return nil
}
