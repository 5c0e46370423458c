// Package rtnl makes the few rtnetlink (NETLINK_ROUTE) requests the
// container package needs: veth pairs (the peer created straight in another
// network namespace) and bridges, a link's alias, master and up flag,
// addresses and default routes, link lookups and dumps, in the caller's
// network namespace or another one.
//
// It is built on golang.org/x/sys/unix alone. It imports neither net nor
// anything that does, so the standard library's cgo resolver stays out of
// every program that imports the container package: such a program links
// statically, and the container's init, the same binary re-executed, starts
// without ld.so and libc.
//
// Every request asks for an acknowledgement (NLM_F_ACK), every reply's
// sequence number and port are checked, and an NLMSG_ERROR reply is returned
// as its unix.Errno, so errors.Is(err, unix.EEXIST) works.
package rtnl

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// ErrDumpInterrupted is returned with a link dump that the kernel marked
// NLM_F_DUMP_INTR: the links changed during the dump, which still lists
// the others.
var ErrDumpInterrupted = errors.New("rtnl: dump interrupted by a change of the links")

// A Conn is a NETLINK_ROUTE socket in one network namespace. It serves one
// request at a time; concurrent requests wait for each other.
type Conn struct {
	fd   int
	pid  uint32 // the socket's port id, which the kernel's replies carry
	seq  uint32
	mu   sync.Mutex
	done bool
}

// Dial opens a NETLINK_ROUTE socket in the calling thread's network
// namespace.
func Dial() (*Conn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("bind", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("getsockname", err)
	}
	nl, ok := sa.(*unix.SockaddrNetlink)
	if !ok {
		unix.Close(fd)
		return nil, fmt.Errorf("rtnl: getsockname: %T, not a netlink address", sa)
	}
	return &Conn{fd: fd, pid: nl.Pid}, nil
}

// DialNamespace opens a NETLINK_ROUTE socket in the network namespace that
// nsFD refers to; the socket stays there for its lifetime. A socket's
// namespace is the creating thread's, so a goroutine of its own locks its
// thread, enters the namespace with setns, opens the socket and goes back;
// it unlocks the thread only if going back succeeded. Otherwise it exits
// locked and the runtime ends the thread, so no goroutine ever runs in the
// wrong namespace.
func DialNamespace(nsFD int) (*Conn, error) {
	type result struct {
		c   *Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: &os.PathError{Op: "open", Path: "/proc/thread-self/ns/net", Err: err}}
			return
		}
		defer unix.Close(orig)
		if err := unix.Setns(nsFD, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread() // a failed setns leaves the thread where it was
			ch <- result{err: os.NewSyscallError("setns", err)}
			return
		}
		c, err := Dial()
		ch <- result{c, err}
		if unix.Setns(orig, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
	}()
	res := <-ch
	return res.c, res.err
}

// Close closes the socket. A second Close does nothing.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		return nil
	}
	c.done = true
	return unix.Close(c.fd)
}

// recvBufs holds receive buffers: the kernel sends a dump in datagrams of at
// most 32 KiB (less the skb overhead), and a single link in far less.
var recvBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// execute sends r and reads the reply up to its acknowledgement, its error,
// or for a dump its NLMSG_DONE, calling f (if not nil) on each other message.
// Datagrams from other senders than the kernel are dropped.
func (c *Conn) execute(r *request, f func(message) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		return os.ErrClosed
	}
	c.seq++
	if err := unix.Sendto(c.fd, r.finish(c.seq), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return os.NewSyscallError("sendto", err)
	}
	bp := recvBufs.Get().(*[]byte)
	defer recvBufs.Put(bp)
	buf := *bp
	rp := reply{seq: c.seq, pid: c.pid, f: f}
	for {
		n, _, flags, from, err := unix.Recvmsg(c.fd, buf, nil, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return os.NewSyscallError("recvmsg", err)
		}
		if flags&unix.MSG_TRUNC != 0 {
			return fmt.Errorf("rtnl: reply longer than %d bytes", len(buf))
		}
		if nl, ok := from.(*unix.SockaddrNetlink); !ok || nl.Pid != 0 {
			continue // not the kernel's
		}
		if done, err := rp.feed(buf[:n]); done {
			return err
		}
	}
}

// A reply is the state of reading the answer to the request seq on the
// port pid.
type reply struct {
	seq, pid uint32
	f        func(message) error // for messages other than the last
	ferr     error               // f's first error
	intr     bool                // a message had NLM_F_DUMP_INTR
}

// feed takes the datagram b of the reply; done says the reply is complete,
// and err is then the request's outcome. A message that does not answer the
// request ends the reply with an error. When f fails, the rest of the reply
// is still read, so the next request finds the socket clean, and f's first
// error is the outcome.
func (rp *reply) feed(b []byte) (done bool, err error) {
	msgs, err := parseMessages(b)
	if err != nil {
		return true, err
	}
	for _, m := range msgs {
		if m.hdr.Seq != rp.seq || m.hdr.Pid != rp.pid {
			return true, fmt.Errorf("rtnl: reply with sequence number %d to port %d, want %d to %d", m.hdr.Seq, m.hdr.Pid, rp.seq, rp.pid)
		}
		if m.hdr.Flags&unix.NLM_F_DUMP_INTR != 0 {
			rp.intr = true
		}
		switch m.hdr.Type {
		case unix.NLMSG_NOOP:
			continue
		case unix.NLMSG_OVERRUN:
			return true, fmt.Errorf("rtnl: %w", unix.ENOBUFS)
		case unix.NLMSG_ERROR, unix.NLMSG_DONE:
			var err error
			if m.hdr.Type == unix.NLMSG_ERROR || len(m.data) > 0 { // a DONE may carry no code
				err = parseErrno(m.data)
			}
			switch {
			case err != nil:
			case rp.ferr != nil:
				err = rp.ferr
			case rp.intr:
				err = ErrDumpInterrupted
			}
			return true, err
		}
		if rp.f != nil && rp.ferr == nil {
			rp.ferr = rp.f(m)
		}
	}
	return false, nil
}

// AddVeth creates the veth pair v.
func (c *Conn) AddVeth(v Veth) error { return c.execute(newVethRequest(v), nil) }

// AddBridge creates a bridge called name, up if up is set.
func (c *Conn) AddBridge(name string, up bool) error {
	return c.execute(newBridgeRequest(name, up), nil)
}

// DeleteLink deletes the link index (a veth pair with either end).
func (c *Conn) DeleteLink(index int) error { return c.execute(delLinkRequest(index), nil) }

// SetUp brings the link index up. Its peer, for a veth, must be up too for
// the link to carry packets.
func (c *Conn) SetUp(index int) error { return c.execute(setUpRequest(index), nil) }

// SetAlias sets the alias (IFLA_IFALIAS) of the link index: the kernel
// ignores one in the request that creates a link.
func (c *Conn) SetAlias(index int, alias string) error {
	return c.execute(setAliasRequest(index, alias), nil)
}

// SetMaster enslaves the link index to the bridge master.
func (c *Conn) SetMaster(index, master int) error {
	return c.execute(setMasterRequest(index, master), nil)
}

// LinkByIndex returns the link index; the error for a missing one is ENODEV.
func (c *Conn) LinkByIndex(index int) (Link, error) {
	if index <= 0 {
		return Link{}, unix.ENODEV
	}
	return c.link(getLinkRequest(index, ""))
}

// LinkByName returns the link called name; the error for a missing one is
// ENODEV.
func (c *Conn) LinkByName(name string) (Link, error) {
	if name == "" {
		return Link{}, unix.ENODEV
	}
	return c.link(getLinkRequest(0, name))
}

func (c *Conn) link(r *request) (Link, error) {
	var l Link
	found := false
	err := c.execute(r, func(m message) (err error) {
		if m.hdr.Type == unix.RTM_NEWLINK && !found {
			l, err = parseLink(m.data)
			found = err == nil
		}
		return err
	})
	if err == nil && !found {
		err = unix.ENODEV
	}
	return l, err
}

// Links lists the namespace's links. With ErrDumpInterrupted it returns
// those the interrupted dump did list.
func (c *Conn) Links() ([]Link, error) {
	var links []Link
	err := c.execute(getLinkRequest(0, ""), func(m message) error {
		if m.hdr.Type != unix.RTM_NEWLINK {
			return nil
		}
		l, err := parseLink(m.data)
		if err == nil {
			links = append(links, l)
		}
		return err
	})
	if err != nil && !errors.Is(err, ErrDumpInterrupted) {
		return nil, err
	}
	return links, err
}

// AddAddress adds the address p (its address, and its length as the
// prefix) to the link index with the IFA_F_* flags: IFA_F_NODAD makes an
// IPv6 address usable at once, without duplicate address detection.
func (c *Conn) AddAddress(index int, p netip.Prefix, flags uint32) error {
	r, err := addAddrRequest(index, p, flags)
	if err != nil {
		return err
	}
	return c.execute(r, nil)
}

// AddDefaultRoute adds a default route via gw on the link index, in the
// main table.
func (c *Conn) AddDefaultRoute(index int, gw netip.Addr) error {
	r, err := addDefaultRouteRequest(index, gw)
	if err != nil {
		return err
	}
	return c.execute(r, nil)
}
