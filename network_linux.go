package container

import (
	"errors"
	"fmt"
	"os"

	"github.com/ctrkit/container/internal/rtnl"
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

	h, err := rtnl.Dial()
	if err != nil {
		return fmt.Errorf("container: network %q: netlink: %w", n.name, err)
	}
	defer h.Close()
	name := "ctb" + newID()
	if err := h.AddBridge(name, true); err != nil {
		return fmt.Errorf("container: network %q: create bridge %s: %w", n.name, name, err)
	}
	br, err := h.LinkByName(name)
	if err != nil {
		// Only another process deleting or renaming it makes the new
		// bridge not found, and then there is nothing of ours to delete.
		return fmt.Errorf("container: network %q: find bridge %s: %w", n.name, name, err)
	}
	// The kernel ignores an alias in the request that creates a link.
	if err := h.SetAlias(br.Index, ownerAlias()); err != nil {
		h.DeleteLink(br.Index)
		return fmt.Errorf("container: network %q: set the alias of bridge %s: %w", n.name, name, err)
	}
	if err := h.AddAddress(br.Index, n.Prefix(), addrFlags(n.Prefix())); err != nil {
		h.DeleteLink(br.Index)
		return fmt.Errorf("container: network %q: add address %v to bridge %s: %w", n.name, n.Prefix(), name, err)
	}
	n.sys.bridge, n.sys.index = name, br.Index
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

	// The directory goes last: while it is there, a Start of another
	// process that finds its owner dead also looks for its bridge
	// (reapStale).
	defer os.RemoveAll(n.sys.dir)
	h, err := rtnl.Dial()
	if err != nil {
		return fmt.Errorf("container: network %q: netlink: %w", n.name, err)
	}
	defer h.Close()
	if err := h.DeleteLink(n.sys.index); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("container: network %q: delete bridge %s: %w", n.name, n.sys.bridge, err)
	}
	return nil
}
