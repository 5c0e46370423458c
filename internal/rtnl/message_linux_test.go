package rtnl

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

// The wire format, written out field by field: lengths and padding are the
// test's own arithmetic, not the encoder's.

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func u16(v uint16) []byte { return ne.AppendUint16(nil, v) }
func u32(v uint32) []byte { return ne.AppendUint32(nil, v) }
func i32(v int32) []byte  { return ne.AppendUint32(nil, uint32(v)) }

// hdr is an nlmsghdr.
func hdr(length uint32, typ, flags uint16, seq, pid uint32) []byte {
	return cat(u32(length), u16(typ), u16(flags), u32(seq), u32(pid))
}

// ifi is an ifinfomsg of family AF_UNSPEC.
func ifi(typ uint16, index int32, flags, change uint32) []byte {
	return cat([]byte{unix.AF_UNSPEC, 0}, u16(typ), u32(uint32(index)), u32(flags), u32(change))
}

// rta is an attribute header and its payload, padding included.
func rta(length, typ uint16, payload ...[]byte) []byte {
	return cat(append([][]byte{u16(length), u16(typ)}, payload...)...)
}

func ip(s string) []byte { return netip.MustParseAddr(s).AsSlice() }

const (
	reqAck       = unix.NLM_F_REQUEST | unix.NLM_F_ACK                                       // 0x005
	reqAckCreate = unix.NLM_F_REQUEST | unix.NLM_F_ACK | unix.NLM_F_CREATE | unix.NLM_F_EXCL // 0x605
)

func TestRequests(t *testing.T) {
	mustAddr := func(r *request, err error) *request {
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, tc := range []struct {
		name string
		req  *request
		want []byte
	}{
		{"veth, peer in a namespace", newVethRequest(Veth{Name: "ctkabc", MTU: 1500, Master: 7, Up: true, PeerName: "eth0", PeerNamespace: 9}), cat(
			hdr(124, unix.RTM_NEWLINK, reqAckCreate, 3, 0),
			ifi(0, 0, unix.IFF_UP, unix.IFF_UP),
			rta(11, unix.IFLA_IFNAME, []byte("ctkabc\x00\x00")),
			rta(8, unix.IFLA_MTU, u32(1500)),
			rta(8, unix.IFLA_MASTER, u32(7)),
			rta(64, unix.IFLA_LINKINFO,
				rta(8, unix.IFLA_INFO_KIND, []byte("veth")),
				rta(52, unix.IFLA_INFO_DATA,
					rta(48, 1, // VETH_INFO_PEER
						ifi(0, 0, 0, 0),
						rta(9, unix.IFLA_IFNAME, []byte("eth0\x00\x00\x00\x00")),
						rta(8, unix.IFLA_MTU, u32(1500)),
						rta(8, unix.IFLA_NET_NS_FD, u32(9))))))},
		{"veth, plain", newVethRequest(Veth{Name: "a", PeerName: "b", PeerNamespace: -1}), cat(
			hdr(84, unix.RTM_NEWLINK, reqAckCreate, 3, 0),
			ifi(0, 0, 0, 0),
			rta(6, unix.IFLA_IFNAME, []byte("a\x00\x00\x00")),
			rta(44, unix.IFLA_LINKINFO,
				rta(8, unix.IFLA_INFO_KIND, []byte("veth")),
				rta(32, unix.IFLA_INFO_DATA,
					rta(28, 1, ifi(0, 0, 0, 0), rta(6, unix.IFLA_IFNAME, []byte("b\x00\x00\x00"))))))},
		{"bridge", newBridgeRequest("ctbx", true), cat(
			hdr(60, unix.RTM_NEWLINK, reqAckCreate, 3, 0),
			ifi(0, 0, unix.IFF_UP, unix.IFF_UP),
			rta(9, unix.IFLA_IFNAME, []byte("ctbx\x00\x00\x00\x00")),
			rta(16, unix.IFLA_LINKINFO, rta(10, unix.IFLA_INFO_KIND, []byte("bridge\x00\x00"))))},
		{"up", setUpRequest(3), cat(
			hdr(32, unix.RTM_NEWLINK, reqAck, 3, 0),
			ifi(0, 3, unix.IFF_UP, unix.IFF_UP))},
		{"alias", setAliasRequest(3, "abc"), cat(
			hdr(40, unix.RTM_SETLINK, reqAck, 3, 0),
			ifi(0, 3, 0, 0),
			rta(7, unix.IFLA_IFALIAS, []byte("abc\x00")))},
		{"master", setMasterRequest(3, 7), cat(
			hdr(40, unix.RTM_SETLINK, reqAck, 3, 0),
			ifi(0, 3, 0, 0),
			rta(8, unix.IFLA_MASTER, u32(7)))},
		{"delete", delLinkRequest(12), cat(
			hdr(32, unix.RTM_DELLINK, reqAck, 3, 0),
			ifi(0, 12, 0, 0))},
		{"link by index", getLinkRequest(3, ""), cat(
			hdr(40, unix.RTM_GETLINK, reqAck, 3, 0),
			ifi(0, 3, 0, 0),
			rta(8, unix.IFLA_EXT_MASK, u32(8)))},
		{"link by name", getLinkRequest(0, "eth0"), cat(
			hdr(52, unix.RTM_GETLINK, reqAck, 3, 0),
			ifi(0, 0, 0, 0),
			rta(8, unix.IFLA_EXT_MASK, u32(8)),
			rta(9, unix.IFLA_IFNAME, []byte("eth0\x00\x00\x00\x00")))},
		{"link dump", getLinkRequest(0, ""), cat(
			hdr(40, unix.RTM_GETLINK, reqAck|unix.NLM_F_DUMP, 3, 0),
			ifi(0, 0, 0, 0),
			rta(8, unix.IFLA_EXT_MASK, u32(8)))},
		{"IPv4 /30", mustAddr(addAddrRequest(5, netip.MustParsePrefix("169.254.1.2/30"), 0)), cat(
			hdr(48, unix.RTM_NEWADDR, reqAckCreate, 3, 0),
			[]byte{unix.AF_INET, 30, 0, 0}, u32(5),
			rta(8, unix.IFA_LOCAL, ip("169.254.1.2")),
			rta(8, unix.IFA_ADDRESS, ip("169.254.1.2")),
			rta(8, unix.IFA_BROADCAST, ip("169.254.1.3")))},
		{"IPv4 /20", mustAddr(addAddrRequest(5, netip.MustParsePrefix("10.1.17.5/20"), 0)), cat(
			hdr(48, unix.RTM_NEWADDR, reqAckCreate, 3, 0),
			[]byte{unix.AF_INET, 20, 0, 0}, u32(5),
			rta(8, unix.IFA_LOCAL, ip("10.1.17.5")),
			rta(8, unix.IFA_ADDRESS, ip("10.1.17.5")),
			rta(8, unix.IFA_BROADCAST, ip("10.1.31.255")))},
		{"IPv4 /31: no broadcast", mustAddr(addAddrRequest(5, netip.MustParsePrefix("169.254.1.0/31"), 0)), cat(
			hdr(40, unix.RTM_NEWADDR, reqAckCreate, 3, 0),
			[]byte{unix.AF_INET, 31, 0, 0}, u32(5),
			rta(8, unix.IFA_LOCAL, ip("169.254.1.0")),
			rta(8, unix.IFA_ADDRESS, ip("169.254.1.0")))},
		{"IPv6 without DAD", mustAddr(addAddrRequest(6, netip.MustParsePrefix("fd63::2/64"), unix.IFA_F_NODAD)), cat(
			hdr(64, unix.RTM_NEWADDR, reqAckCreate, 3, 0),
			[]byte{unix.AF_INET6, 64, unix.IFA_F_NODAD, 0}, u32(6),
			rta(20, unix.IFA_LOCAL, ip("fd63::2")),
			rta(20, unix.IFA_ADDRESS, ip("fd63::2")))},
		{"flags beyond 8 bits", mustAddr(addAddrRequest(6, netip.MustParsePrefix("fd63::2/64"), unix.IFA_F_NOPREFIXROUTE|unix.IFA_F_NODAD)), cat(
			hdr(72, unix.RTM_NEWADDR, reqAckCreate, 3, 0),
			[]byte{unix.AF_INET6, 64, 0, 0}, u32(6),
			rta(20, unix.IFA_LOCAL, ip("fd63::2")),
			rta(20, unix.IFA_ADDRESS, ip("fd63::2")),
			rta(8, unix.IFA_FLAGS, u32(unix.IFA_F_NOPREFIXROUTE|unix.IFA_F_NODAD)))},
		{"IPv4 default route", mustAddr(addDefaultRouteRequest(4, netip.MustParseAddr("169.254.1.1"))), cat(
			hdr(44, unix.RTM_NEWROUTE, reqAckCreate, 3, 0),
			[]byte{unix.AF_INET, 0, 0, 0, unix.RT_TABLE_MAIN, unix.RTPROT_BOOT, unix.RT_SCOPE_UNIVERSE, unix.RTN_UNICAST}, u32(0),
			rta(8, unix.RTA_GATEWAY, ip("169.254.1.1")),
			rta(8, unix.RTA_OIF, u32(4)))},
		{"IPv6 default route", mustAddr(addDefaultRouteRequest(4, netip.MustParseAddr("fd63::1"))), cat(
			hdr(56, unix.RTM_NEWROUTE, reqAckCreate, 3, 0),
			[]byte{unix.AF_INET6, 0, 0, 0, unix.RT_TABLE_MAIN, unix.RTPROT_BOOT, unix.RT_SCOPE_UNIVERSE, unix.RTN_UNICAST}, u32(0),
			rta(20, unix.RTA_GATEWAY, ip("fd63::1")),
			rta(8, unix.RTA_OIF, u32(4)))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.req.finish(3); !bytes.Equal(got, tc.want) {
				t.Errorf("request:\n got % x\nwant % x", got, tc.want)
			}
		})
	}
}

func TestRequestsRejectAddresses(t *testing.T) {
	for _, p := range []netip.Prefix{{}, netip.MustParsePrefix("::ffff:169.254.1.1/120"), netip.PrefixFrom(netip.MustParseAddr("169.254.1.1"), 33)} {
		if _, err := addAddrRequest(1, p, 0); !errors.Is(err, unix.EINVAL) {
			t.Errorf("address %v: %v, want EINVAL", p, err)
		}
	}
	for _, a := range []netip.Addr{{}, netip.MustParseAddr("::ffff:169.254.1.1"), netip.MustParseAddr("fe80::1%eth0")} {
		if _, err := addDefaultRouteRequest(1, a); !errors.Is(err, unix.EINVAL) {
			t.Errorf("gateway %v: %v, want EINVAL", a, err)
		}
	}
}

// A link as the kernel sends it: NUL-terminated strings, a nested
// IFLA_LINKINFO flagged NLA_F_NESTED, attributes the decoder skips.
var vethLink = cat(
	ifi(unix.ARPHRD_ETHER, 7, unix.IFF_UP|unix.IFF_BROADCAST|unix.IFF_MULTICAST, 0),
	rta(9, unix.IFLA_IFNAME, []byte("ctkx\x00\x00\x00\x00")),
	rta(8, unix.IFLA_TXQLEN, u32(1000)),
	rta(8, unix.IFLA_MTU, u32(1400)),
	rta(8, unix.IFLA_MASTER, u32(4)),
	rta(10, unix.IFLA_IFALIAS, []byte("owner\x00\x00\x00")),
	rta(5, unix.IFLA_OPERSTATE, []byte{6, 0, 0, 0}),
	rta(28, unix.IFLA_LINKINFO|unix.NLA_F_NESTED,
		rta(9, unix.IFLA_INFO_KIND, []byte("veth\x00\x00\x00\x00")),
		rta(4, unix.IFLA_INFO_DATA|unix.NLA_F_NESTED),
		rta(8, unix.IFLA_INFO_SLAVE_KIND, []byte("brid"))),
)

func TestParseLink(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		want Link
		err  error
	}{
		{"veth", vethLink, Link{Index: 7, Name: "ctkx", Alias: "owner", Kind: "veth", MTU: 1400, Master: 4, Flags: unix.IFF_UP | unix.IFF_BROADCAST | unix.IFF_MULTICAST}, nil},
		{"lo", cat(ifi(unix.ARPHRD_LOOPBACK, 1, unix.IFF_LOOPBACK, 0), rta(7, unix.IFLA_IFNAME, []byte("lo\x00\x00")), rta(8, unix.IFLA_MTU, u32(65536))),
			Link{Index: 1, Name: "lo", MTU: 65536, Flags: unix.IFF_LOOPBACK}, nil},
		{"short header", vethLink[:12], Link{}, errMalformed},
		{"attribute past the end", cat(ifi(0, 1, 0, 0), rta(12, unix.IFLA_IFNAME, []byte("lo\x00\x00"))), Link{}, errMalformed},
		{"attribute shorter than its header", cat(ifi(0, 1, 0, 0), rta(2, unix.IFLA_IFNAME)), Link{}, errMalformed},
		{"short MTU", cat(ifi(0, 1, 0, 0), rta(6, unix.IFLA_MTU, []byte{1, 2, 0, 0})), Link{}, errMalformed},
		{"nested past the end", cat(ifi(0, 1, 0, 0), rta(12, unix.IFLA_LINKINFO, rta(9, unix.IFLA_INFO_KIND, []byte("veth")))), Link{}, errMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseLink(tc.data)
			if !errors.Is(err, tc.err) || (err == nil && got != tc.want) {
				t.Errorf("parseLink = %+v, %v; want %+v, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestParseMessages(t *testing.T) {
	ack := cat(hdr(36, unix.NLMSG_ERROR, 0, 3, 99), u32(0), hdr(32, unix.RTM_SETLINK, reqAck, 3, 0))
	link := cat(hdr(uint32(16+len(vethLink)), unix.RTM_NEWLINK, 0, 3, 99), vethLink)
	for _, tc := range []struct {
		name  string
		b     []byte
		types []uint16
		err   error
	}{
		{"one", ack, []uint16{unix.NLMSG_ERROR}, nil},
		{"two", cat(link, ack), []uint16{unix.RTM_NEWLINK, unix.NLMSG_ERROR}, nil},
		{"unaligned last", cat(ack, hdr(18, unix.NLMSG_DONE, 0, 3, 99), []byte{1, 2}), []uint16{unix.NLMSG_ERROR, unix.NLMSG_DONE}, nil},
		{"empty", nil, nil, nil},
		{"length past the end", cat(hdr(40, unix.NLMSG_ERROR, 0, 3, 99), u32(0)), nil, errMalformed},
		{"length shorter than the header", hdr(8, unix.NLMSG_ERROR, 0, 3, 99), nil, errMalformed},
		{"trailing bytes", cat(ack, []byte{1, 2, 3}), []uint16{unix.NLMSG_ERROR}, errMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msgs, err := parseMessages(tc.b)
			var types []uint16
			for _, m := range msgs {
				types = append(types, m.hdr.Type)
				if int(m.hdr.Len) != unix.NLMSG_HDRLEN+len(m.data) {
					t.Errorf("message of length %d with %d bytes of data", m.hdr.Len, len(m.data))
				}
			}
			if !errors.Is(err, tc.err) || fmt.Sprint(types) != fmt.Sprint(tc.types) {
				t.Errorf("parseMessages: %v, %v; want %v, %v", types, err, tc.types, tc.err)
			}
		})
	}
}

// errMsg is an NLMSG_ERROR answering request 3 on port 99 with code.
func errMsg(code int32) []byte {
	return cat(hdr(36, unix.NLMSG_ERROR, 0, 3, 99), i32(code), hdr(32, unix.RTM_NEWLINK, reqAck, 3, 0))
}

func linkMsg(flags uint16, seq uint32, l []byte) []byte {
	return cat(hdr(uint32(16+len(l)), unix.RTM_NEWLINK, flags, seq, 99), l)
}

func TestReply(t *testing.T) {
	lo := cat(ifi(unix.ARPHRD_LOOPBACK, 1, 0, 0), rta(7, unix.IFLA_IFNAME, []byte("lo\x00\x00")))
	done := cat(hdr(20, unix.NLMSG_DONE, unix.NLM_F_MULTI, 3, 99), u32(0))
	errBad := errors.New("bad link")
	for _, tc := range []struct {
		name      string
		datagrams [][]byte
		fail      string // the link name f fails on
		links     []string
		err       error // nil, an Errno, or a sentinel
		errText   string
	}{
		{"ack", [][]byte{errMsg(0)}, "", nil, nil, ""},
		{"EEXIST", [][]byte{errMsg(-int32(unix.EEXIST))}, "", nil, unix.EEXIST, "file exists"},
		{"EPERM", [][]byte{errMsg(-int32(unix.EPERM))}, "", nil, unix.EPERM, "operation not permitted"},
		{"ENODEV", [][]byte{errMsg(-int32(unix.ENODEV))}, "", nil, unix.ENODEV, "no such device"},
		{"a link, then the ack", [][]byte{linkMsg(0, 3, vethLink), errMsg(0)}, "", []string{"ctkx"}, nil, ""},
		{"a dump in two datagrams", [][]byte{cat(linkMsg(unix.NLM_F_MULTI, 3, lo), linkMsg(unix.NLM_F_MULTI, 3, vethLink)), done}, "", []string{"lo", "ctkx"}, nil, ""},
		{"a dump with its end in the same datagram", [][]byte{cat(linkMsg(unix.NLM_F_MULTI, 3, lo), done)}, "", []string{"lo"}, nil, ""},
		{"an interrupted dump", [][]byte{linkMsg(unix.NLM_F_MULTI|unix.NLM_F_DUMP_INTR, 3, lo), done}, "", []string{"lo"}, ErrDumpInterrupted, ""},
		{"a dump that fails", [][]byte{linkMsg(unix.NLM_F_MULTI, 3, lo), cat(hdr(20, unix.NLMSG_DONE, unix.NLM_F_MULTI, 3, 99), i32(-int32(unix.EMSGSIZE)))}, "", []string{"lo"}, unix.EMSGSIZE, ""},
		{"a done without a code", [][]byte{hdr(16, unix.NLMSG_DONE, unix.NLM_F_MULTI, 3, 99)}, "", nil, nil, ""},
		{"f fails: read to the end, its error", [][]byte{cat(linkMsg(unix.NLM_F_MULTI, 3, lo), linkMsg(unix.NLM_F_MULTI, 3, vethLink)), done}, "lo", []string{"lo"}, errBad, ""},
		{"noop", [][]byte{cat(hdr(16, unix.NLMSG_NOOP, 0, 3, 99), errMsg(0))}, "", nil, nil, ""},
		{"overrun", [][]byte{hdr(16, unix.NLMSG_OVERRUN, 0, 3, 99)}, "", nil, unix.ENOBUFS, ""},
		{"another request's answer", [][]byte{linkMsg(0, 2, lo)}, "", nil, nil, "rtnl: reply with sequence number 2 to port 99, want 3 to 99"},
		{"another port's", [][]byte{cat(hdr(36, unix.NLMSG_ERROR, 0, 3, 98), u32(0), hdr(32, unix.RTM_NEWLINK, reqAck, 3, 0))}, "", nil, nil, "rtnl: reply with sequence number 3 to port 98, want 3 to 99"},
		{"short error", [][]byte{cat(hdr(18, unix.NLMSG_ERROR, 0, 3, 99), []byte{0, 0, 0, 0})}, "", nil, errMalformed, ""},
		{"malformed", [][]byte{hdr(40, unix.NLMSG_ERROR, 0, 3, 99)}, "", nil, errMalformed, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var names []string
			rp := reply{seq: 3, pid: 99, f: func(m message) error {
				l, err := parseLink(m.data)
				if err != nil {
					return err
				}
				names = append(names, l.Name)
				if l.Name == tc.fail {
					return errBad
				}
				return nil
			}}
			var err error
			complete := false
			for i, d := range tc.datagrams {
				done, e := rp.feed(d)
				if done != (i == len(tc.datagrams)-1) {
					t.Fatalf("datagram %d: done = %v", i, done)
				}
				complete, err = done, e
			}
			if !complete {
				t.Fatal("the reply never completed")
			}
			switch {
			case tc.errText != "":
				if err == nil || err.Error() != tc.errText {
					t.Errorf("error %v, want %q", err, tc.errText)
				}
			case !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil):
				t.Errorf("error %v, want %v", err, tc.err)
			}
			if _, ok := tc.err.(unix.Errno); ok && tc.err != unix.ENOBUFS {
				if _, ok := err.(unix.Errno); !ok { // the library's messages stay "container: ...: file exists"
					t.Errorf("error %T, want a bare unix.Errno", err)
				}
			}
			if fmt.Sprint(names) != fmt.Sprint(tc.links) {
				t.Errorf("links %v, want %v", names, tc.links)
			}
		})
	}
}

func TestCString(t *testing.T) {
	for in, want := range map[string]string{"": "", "lo": "lo", "lo\x00": "lo", "lo\x00junk": "lo", "\x00": ""} {
		if got := cstring([]byte(in)); got != want {
			t.Errorf("cstring(%q) = %q, want %q", in, got, want)
		}
	}
}
