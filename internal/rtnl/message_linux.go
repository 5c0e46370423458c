package rtnl

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// The wire format, pure: requests are built into byte slices and replies
// parsed from them, so the table tests check both on any Linux machine.
// Netlink is in the host's byte order.

var ne = binary.NativeEndian

const (
	vethInfoPeer         = 1      // VETH_INFO_PEER, <linux/veth.h>
	rtextFilterSkipStats = 1 << 3 // RTEXT_FILTER_SKIP_STATS, <linux/rtnetlink.h>
	attrTypeMask         = ^uint16(unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)
)

func align(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }

// A request is one netlink message under construction: a header whose
// length and sequence number finish fills in, a fixed part (ifinfomsg,
// ifaddrmsg or rtmsg) and attributes, nested ones by begin and end.
type request struct {
	b     []byte
	nests []int // offsets of the open nested attributes
}

// newRequest starts a message of type typ; every request asks for an
// acknowledgement.
func newRequest(typ, flags uint16) *request {
	r := &request{b: make([]byte, unix.NLMSG_HDRLEN, 128)}
	ne.PutUint16(r.b[4:], typ)
	ne.PutUint16(r.b[6:], flags|unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	return r
}

func (r *request) ifinfomsg(m unix.IfInfomsg) {
	var b [unix.SizeofIfInfomsg]byte
	b[0] = m.Family
	ne.PutUint16(b[2:], m.Type)
	ne.PutUint32(b[4:], uint32(m.Index))
	ne.PutUint32(b[8:], m.Flags)
	ne.PutUint32(b[12:], m.Change)
	r.b = append(r.b, b[:]...)
}

func (r *request) ifaddrmsg(m unix.IfAddrmsg) {
	var b [unix.SizeofIfAddrmsg]byte
	b[0], b[1], b[2], b[3] = m.Family, m.Prefixlen, m.Flags, m.Scope
	ne.PutUint32(b[4:], m.Index)
	r.b = append(r.b, b[:]...)
}

func (r *request) rtmsg(m unix.RtMsg) {
	var b [unix.SizeofRtMsg]byte
	b[0], b[1], b[2], b[3] = m.Family, m.Dst_len, m.Src_len, m.Tos
	b[4], b[5], b[6], b[7] = m.Table, m.Protocol, m.Scope, m.Type
	ne.PutUint32(b[8:], m.Flags)
	r.b = append(r.b, b[:]...)
}

// attr appends an attribute and pads it to the netlink alignment.
func (r *request) attr(typ uint16, data []byte) {
	var h [unix.SizeofRtAttr]byte
	ne.PutUint16(h[0:], uint16(unix.SizeofRtAttr+len(data)))
	ne.PutUint16(h[2:], typ)
	r.b = append(r.b, h[:]...)
	r.b = append(r.b, data...)
	r.pad()
}

func (r *request) pad() {
	for len(r.b)%unix.NLMSG_ALIGNTO != 0 {
		r.b = append(r.b, 0)
	}
}

func (r *request) u32(typ uint16, v uint32) { r.attr(typ, ne.AppendUint32(nil, v)) }

// str appends a NUL-terminated string attribute (NLA_NUL_STRING: names).
func (r *request) str(typ uint16, s string) { r.attr(typ, append([]byte(s), 0)) }

// begin opens a nested attribute; end closes the innermost one.
func (r *request) begin(typ uint16) {
	r.nests = append(r.nests, len(r.b))
	r.attr(typ, nil)
}

func (r *request) end() {
	off := r.nests[len(r.nests)-1]
	r.nests = r.nests[:len(r.nests)-1]
	ne.PutUint16(r.b[off:], uint16(len(r.b)-off))
}

// finish sets the message's length and sequence number and returns it.
func (r *request) finish(seq uint32) []byte {
	ne.PutUint32(r.b[0:], uint32(len(r.b)))
	ne.PutUint32(r.b[8:], seq)
	return r.b
}

// The requests the container package makes.

// Veth is a veth pair to create.
type Veth struct {
	Name   string // the end in the namespace of the Conn
	MTU    int    // of both ends; 0 leaves the kernel's default
	Master int    // the index of a bridge to enslave Name to; 0 for none
	Up     bool   // bring Name up

	PeerName string
	// PeerNamespace is a descriptor of the network namespace to create the
	// peer in (IFLA_NET_NS_FD), or -1 for the Conn's namespace.
	PeerNamespace int
}

func newVethRequest(v Veth) *request {
	r := newRequest(unix.RTM_NEWLINK, unix.NLM_F_CREATE|unix.NLM_F_EXCL)
	r.ifinfomsg(upMsg(0, v.Up))
	r.str(unix.IFLA_IFNAME, v.Name)
	if v.MTU > 0 {
		r.u32(unix.IFLA_MTU, uint32(v.MTU))
	}
	if v.Master > 0 {
		r.u32(unix.IFLA_MASTER, uint32(v.Master))
	}
	r.begin(unix.IFLA_LINKINFO)
	r.attr(unix.IFLA_INFO_KIND, []byte("veth"))
	r.begin(unix.IFLA_INFO_DATA)
	r.begin(vethInfoPeer) // an ifinfomsg, then the peer's attributes
	r.ifinfomsg(unix.IfInfomsg{Family: unix.AF_UNSPEC})
	r.str(unix.IFLA_IFNAME, v.PeerName)
	if v.MTU > 0 {
		r.u32(unix.IFLA_MTU, uint32(v.MTU))
	}
	if v.PeerNamespace >= 0 {
		r.u32(unix.IFLA_NET_NS_FD, uint32(v.PeerNamespace))
	}
	r.end()
	r.end()
	r.end()
	return r
}

func newBridgeRequest(name string, up bool) *request {
	r := newRequest(unix.RTM_NEWLINK, unix.NLM_F_CREATE|unix.NLM_F_EXCL)
	r.ifinfomsg(upMsg(0, up))
	r.str(unix.IFLA_IFNAME, name)
	r.begin(unix.IFLA_LINKINFO)
	r.attr(unix.IFLA_INFO_KIND, []byte("bridge"))
	r.end()
	return r
}

func upMsg(index int, up bool) unix.IfInfomsg {
	m := unix.IfInfomsg{Family: unix.AF_UNSPEC, Index: int32(index)}
	if up {
		m.Flags, m.Change = unix.IFF_UP, unix.IFF_UP
	}
	return m
}

func setUpRequest(index int) *request {
	r := newRequest(unix.RTM_NEWLINK, 0)
	r.ifinfomsg(upMsg(index, true))
	return r
}

func setAliasRequest(index int, alias string) *request {
	r := newRequest(unix.RTM_SETLINK, 0)
	r.ifinfomsg(unix.IfInfomsg{Family: unix.AF_UNSPEC, Index: int32(index)})
	r.attr(unix.IFLA_IFALIAS, []byte(alias)) // NLA_STRING: no NUL
	return r
}

func setMasterRequest(index, master int) *request {
	r := newRequest(unix.RTM_SETLINK, 0)
	r.ifinfomsg(unix.IfInfomsg{Family: unix.AF_UNSPEC, Index: int32(index)})
	r.u32(unix.IFLA_MASTER, uint32(master))
	return r
}

func delLinkRequest(index int) *request {
	r := newRequest(unix.RTM_DELLINK, 0)
	r.ifinfomsg(unix.IfInfomsg{Family: unix.AF_UNSPEC, Index: int32(index)})
	return r
}

// getLinkRequest asks for the link index, or the link called name when
// index is 0, or every link when both are empty (a dump).
func getLinkRequest(index int, name string) *request {
	flags := uint16(0)
	if index == 0 && name == "" {
		flags = unix.NLM_F_DUMP
	}
	r := newRequest(unix.RTM_GETLINK, flags)
	r.ifinfomsg(unix.IfInfomsg{Family: unix.AF_UNSPEC, Index: int32(index)})
	r.u32(unix.IFLA_EXT_MASK, rtextFilterSkipStats)
	if name != "" {
		r.str(unix.IFLA_IFNAME, name)
	}
	return r
}

// addAddrRequest adds p to the link index, as `ip addr add` does: IFA_LOCAL
// and IFA_ADDRESS both the address, and for IPv4 prefixes shorter than /31
// the broadcast address. flags (IFA_F_*) that do not fit the ifaddrmsg go in
// IFA_FLAGS.
func addAddrRequest(index int, p netip.Prefix, flags uint32) (*request, error) {
	a := p.Addr()
	if !p.IsValid() || a.Is4In6() {
		return nil, fmt.Errorf("address %v: %w", p, unix.EINVAL)
	}
	m := unix.IfAddrmsg{Family: family(a), Prefixlen: uint8(p.Bits()), Index: uint32(index)}
	if flags <= 0xff {
		m.Flags = uint8(flags)
	}
	r := newRequest(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_EXCL)
	r.ifaddrmsg(m)
	r.attr(unix.IFA_LOCAL, a.AsSlice())
	r.attr(unix.IFA_ADDRESS, a.AsSlice())
	if flags > 0xff {
		r.u32(unix.IFA_FLAGS, flags)
	}
	if a.Is4() && p.Bits() < 31 {
		r.attr(unix.IFA_BROADCAST, broadcast(p))
	}
	return r, nil
}

// broadcast is the last address of the IPv4 prefix p: its address with
// every host bit set.
func broadcast(p netip.Prefix) []byte {
	b := p.Addr().As4()
	for i := range b {
		switch bits := p.Bits() - 8*i; {
		case bits <= 0:
			b[i] = 0xff
		case bits < 8:
			b[i] |= 0xff >> bits
		}
	}
	return b[:]
}

// addDefaultRouteRequest adds a default route via gw on the link index, in
// the main table, as `ip route add default via GW dev LINK` does.
func addDefaultRouteRequest(index int, gw netip.Addr) (*request, error) {
	if !gw.IsValid() || gw.Zone() != "" || gw.Is4In6() {
		return nil, fmt.Errorf("gateway %v: %w", gw, unix.EINVAL)
	}
	r := newRequest(unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_EXCL)
	r.rtmsg(unix.RtMsg{
		Family:   family(gw),
		Table:    unix.RT_TABLE_MAIN,
		Protocol: unix.RTPROT_BOOT,
		Scope:    unix.RT_SCOPE_UNIVERSE,
		Type:     unix.RTN_UNICAST,
	})
	r.attr(unix.RTA_GATEWAY, gw.AsSlice())
	r.u32(unix.RTA_OIF, uint32(index))
	return r, nil
}

func family(a netip.Addr) uint8 {
	if a.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

// Replies.

// A message is one netlink message of a reply: its header and payload.
type message struct {
	hdr  unix.NlMsghdr
	data []byte
}

var errMalformed = errors.New("rtnl: malformed netlink message")

// parseMessages splits a datagram into its messages.
func parseMessages(b []byte) ([]message, error) {
	var msgs []message
	for len(b) >= unix.NLMSG_HDRLEN {
		h := unix.NlMsghdr{
			Len:   ne.Uint32(b[0:]),
			Type:  ne.Uint16(b[4:]),
			Flags: ne.Uint16(b[6:]),
			Seq:   ne.Uint32(b[8:]),
			Pid:   ne.Uint32(b[12:]),
		}
		if h.Len < unix.NLMSG_HDRLEN || int(h.Len) > len(b) {
			return msgs, errMalformed
		}
		msgs = append(msgs, message{h, b[unix.NLMSG_HDRLEN:h.Len]})
		b = b[min(align(int(h.Len)), len(b)):]
	}
	if len(b) != 0 {
		return msgs, errMalformed
	}
	return msgs, nil
}

// parseErrno reads the error code of an NLMSG_ERROR (or NLMSG_DONE)
// payload: nil for an acknowledgement, else the errno.
func parseErrno(data []byte) error {
	if len(data) < 4 {
		return errMalformed
	}
	if code := int32(ne.Uint32(data)); code != 0 {
		return unix.Errno(-code)
	}
	return nil
}

// forAttrs calls f with the type (without the nested and byte order flags)
// and payload of each attribute in b.
func forAttrs(b []byte, f func(typ uint16, data []byte) error) error {
	for len(b) >= unix.SizeofRtAttr {
		l := int(ne.Uint16(b[0:]))
		if l < unix.SizeofRtAttr || l > len(b) {
			return errMalformed
		}
		if err := f(ne.Uint16(b[2:])&attrTypeMask, b[unix.SizeofRtAttr:l]); err != nil {
			return err
		}
		b = b[min(align(l), len(b)):]
	}
	return nil
}

// A Link is what the container package reads of a network interface.
type Link struct {
	Index  int
	Name   string
	Alias  string // IFLA_IFALIAS; "" when it has none
	Kind   string // IFLA_INFO_KIND: "veth", "bridge"; "" for a physical one or lo
	MTU    int
	Master int    // the index of its bridge, 0 for none
	Flags  uint32 // IFF_*
}

// parseLink decodes an RTM_NEWLINK payload.
func parseLink(data []byte) (Link, error) {
	if len(data) < unix.SizeofIfInfomsg {
		return Link{}, errMalformed
	}
	l := Link{Index: int(int32(ne.Uint32(data[4:]))), Flags: ne.Uint32(data[8:])}
	err := forAttrs(data[align(unix.SizeofIfInfomsg):], func(typ uint16, b []byte) error {
		switch typ {
		case unix.IFLA_IFNAME:
			l.Name = cstring(b)
		case unix.IFLA_IFALIAS:
			l.Alias = cstring(b)
		case unix.IFLA_MTU, unix.IFLA_MASTER:
			if len(b) < 4 {
				return errMalformed
			}
			if typ == unix.IFLA_MTU {
				l.MTU = int(ne.Uint32(b))
			} else {
				l.Master = int(ne.Uint32(b))
			}
		case unix.IFLA_LINKINFO:
			return forAttrs(b, func(typ uint16, b []byte) error {
				if typ == unix.IFLA_INFO_KIND {
					l.Kind = cstring(b)
				}
				return nil
			})
		}
		return nil
	})
	return l, err
}

// cstring is b up to its first NUL, if any.
func cstring(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
