package container

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var pfx = netip.MustParsePrefix

// testNetwork is a Network without kernel objects, for pure tests.
func testNetwork(name, prefix string) *Network {
	subnet, host, err := networkAddrs(pfx(prefix))
	if err != nil {
		panic(err)
	}
	return &Network{name: name, subnet: subnet, host: host, pool: newAddrPool(subnet, host)}
}

func TestNetworkOptionsValid(t *testing.T) {
	dir := t.TempDir()
	n := testNetwork("net", "169.254.20.0/24")
	for _, tc := range []struct {
		name     string
		opts     []Option
		ns       Namespace // the namespaces the container gets, of NSNet
		ifname   string
		veth     int
		hasFiles bool
	}{
		{"default", nil, NSNet, "", 0, false},
		{"veth", []Option{WithVeth(pfx("169.254.10.1/30"), pfx("169.254.10.2/30"))}, NSNet, "eth0", 1, true},
		{"veth /31", []Option{WithVeth(pfx("169.254.10.0/31"), pfx("169.254.10.1/31"))}, NSNet, "eth0", 1, true},
		{"veth IPv6", []Option{WithVeth(pfx("fd00:1::1/64"), pfx("fd00:1::2/64"))}, NSNet, "eth0", 1, true},
		{"veth IPv6 link-local", []Option{WithVeth(pfx("fe80::1/64"), pfx("fe80::2/64"))}, NSNet, "eth0", 1, true},
		{"veth dual stack", []Option{WithVeth(pfx("169.254.10.1/30"), pfx("169.254.10.2/30")), WithVeth(pfx("fd00:1::1/64"), pfx("fd00:1::2/64"))}, NSNet, "eth0", 2, true},
		{"veth name", []Option{WithVethName("net0"), WithVeth(pfx("169.254.10.1/30"), pfx("169.254.10.2/30"))}, NSNet, "net0", 1, true},
		{"network", []Option{WithNetwork(n), WithHostname("a")}, NSNet, "eth0", 0, true},
		{"network twice", []Option{WithNetwork(n), WithNetwork(n)}, NSNet, "eth0", 0, true},
		{"network address", []Option{WithNetwork(n), WithNetworkAddress(netip.MustParseAddr("169.254.20.200"))}, NSNet, "eth0", 0, true},
		{"netns", []Option{WithNamespacePath(NSNet, "/run/netns/x")}, 0, "", 0, false},
		{"no network", []Option{WithoutNamespace(NSNet)}, 0, "", 0, false},
		{"explicit namespaces with veth", []Option{WithNamespaces(NSMount, NSUTS, NSNet), WithVeth(pfx("169.254.10.1/30"), pfx("169.254.10.2/30"))}, NSNet, "eth0", 1, true},
		{"explicit namespaces without net", []Option{WithNamespaces(NSMount, NSPID), WithoutNamespace(NSNet)}, 0, "", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(dir, []string{"/bin/true"}, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			cfg := c.cfg
			if cfg.namespaces&NSNet != tc.ns {
				t.Errorf("namespaces %v, want net: %v", cfg.namespaces, tc.ns != 0)
			}
			if cfg.net.ifname != tc.ifname || len(cfg.net.veth) != tc.veth {
				t.Errorf("ifname %q, %d veth pairs; want %q, %d", cfg.net.ifname, len(cfg.net.veth), tc.ifname, tc.veth)
			}
			icfg := cfg.initConfig()
			if icfg.Net.LoopbackUp != (tc.ns != 0) {
				t.Errorf("LoopbackUp = %v", icfg.Net.LoopbackUp)
			}
			var files []string
			for _, m := range icfg.Mounts {
				if strings.HasPrefix(m.Source, netFilesDir) {
					files = append(files, m.Dest)
				}
			}
			if tc.hasFiles != (len(files) == 3) || !tc.hasFiles && len(files) != 0 {
				t.Errorf("generated files in the plan: %v", files)
			}
		})
	}
}

func TestNetworkOptionsInvalid(t *testing.T) {
	dir := t.TempDir()
	n := testNetwork("net", "169.254.20.0/24")
	n2 := testNetwork("other", "169.254.21.0/24")
	veth := WithVeth(pfx("169.254.10.1/30"), pfx("169.254.10.2/30"))
	for _, tc := range []struct {
		name string
		opts []Option
		want string
	}{
		{"invalid prefix", []Option{WithVeth(netip.Prefix{}, pfx("169.254.10.2/30"))}, "invalid prefix"},
		{"different families", []Option{WithVeth(pfx("169.254.10.1/30"), pfx("fd00::2/64"))}, "different families"},
		{"different subnets", []Option{WithVeth(pfx("169.254.10.1/30"), pfx("169.254.11.2/30"))}, "different subnets"},
		{"different lengths", []Option{WithVeth(pfx("169.254.10.1/30"), pfx("169.254.10.2/24"))}, "different subnets"},
		{"same address", []Option{WithVeth(pfx("169.254.10.1/30"), pfx("169.254.10.1/30"))}, "same address"},
		{"network address", []Option{WithVeth(pfx("169.254.10.0/30"), pfx("169.254.10.1/30"))}, "network or broadcast"},
		{"broadcast address", []Option{WithVeth(pfx("169.254.10.1/30"), pfx("169.254.10.3/30"))}, "network or broadcast"},
		{"IPv6 subnet address", []Option{WithVeth(pfx("fd00:1::/64"), pfx("fd00:1::2/64"))}, "network or broadcast"},
		{"/32", []Option{WithVeth(pfx("169.254.10.1/32"), pfx("169.254.10.2/32"))}, "no room"},
		{"mapped", []Option{WithVeth(pfx("::ffff:169.254.10.1/126"), pfx("::ffff:169.254.10.2/126"))}, "IPv4-mapped"},
		{"loopback", []Option{WithVeth(pfx("127.0.0.1/8"), pfx("127.0.0.2/8"))}, "cannot be an interface's address"},
		{"multicast", []Option{WithVeth(pfx("224.0.0.1/24"), pfx("224.0.0.2/24"))}, "cannot be an interface's address"},
		{"two IPv4 pairs", []Option{veth, WithVeth(pfx("169.254.11.1/30"), pfx("169.254.11.2/30"))}, "once per address family"},
		{"veth and no network", []Option{veth, WithoutNamespace(NSNet)}, "WithVeth: needs the container's own network namespace"},
		{"no network and veth", []Option{WithoutNamespace(NSNet), veth}, "WithVeth: needs the container's own network namespace"},
		{"veth without net namespace", []Option{WithoutNamespace(NSNet), veth}, "conflicts with WithoutNamespace(NSNet)"},
		{"veth with namespaces lacking net", []Option{WithNamespaces(NSMount), veth}, "conflicts with WithoutNamespace(NSNet)"},
		{"veth and network", []Option{veth, WithNetwork(n)}, "conflicts with WithNetwork"},
		{"veth and netns", []Option{veth, WithNamespacePath(NSNet, "/run/netns/x")}, "conflicts with WithVeth"},
		{"network and netns", []Option{WithNetwork(n), WithNamespacePath(NSNet, "/run/netns/x")}, "conflicts with WithNetwork"},
		{"network and no network", []Option{WithNetwork(n), WithoutNamespace(NSNet)}, "WithNetwork: needs the container's own network namespace"},
		{"netns and no network", []Option{WithNamespacePath(NSNet, "/run/netns/x"), WithoutNamespace(NSNet)}, "conflicts with WithoutNamespace(NSNet)"},
		{"netns and no net namespace", []Option{WithNamespacePath(NSNet, "/run/netns/x"), WithoutNamespace(NSNet)}, "conflicts with WithoutNamespace(NSNet)"},
		{"netns and explicit net namespace", []Option{WithNamespacePath(NSNet, "/run/netns/x"), WithNamespaces(NSMount, NSNet)}, "conflicts with WithNamespaces(NSNet)"},
		{"two netns", []Option{WithNamespacePath(NSNet, "/run/netns/x"), WithNamespacePath(NSNet, "/run/netns/y")}, "one network namespace"},
		{"relative netns", []Option{WithNamespacePath(NSNet, "netns/x")}, "absolute"},
		{"two networks", []Option{WithNetwork(n), WithNetwork(n2)}, "one network"},
		{"nil network", []Option{WithNetwork(nil)}, "nil network"},
		{"veth name alone", []Option{WithVethName("net0")}, "needs WithVeth or WithNetwork"},
		{"veth name too long", []Option{veth, WithVethName("a234567890123456")}, "1 to 15 bytes"},
		{"veth name with slash", []Option{veth, WithVethName("a/b")}, "must not contain"},
		{"veth name with space", []Option{veth, WithVethName("a b")}, "must not contain"},
		{"veth name dot", []Option{veth, WithVethName("..")}, `must not be "." or ".."`},
		{"address alone", []Option{WithNetworkAddress(netip.MustParseAddr("169.254.20.9"))}, "needs WithNetwork"},
		{"address outside", []Option{WithNetwork(n), WithNetworkAddress(netip.MustParseAddr("169.254.21.9"))}, "not in network"},
		{"address of the host", []Option{WithNetwork(n), WithNetworkAddress(netip.MustParseAddr("169.254.20.1"))}, "host address"},
		{"broadcast member", []Option{WithNetwork(n), WithNetworkAddress(netip.MustParseAddr("169.254.20.255"))}, "network or broadcast"},
		{"invalid member address", []Option{WithNetwork(n), WithNetworkAddress(netip.Addr{})}, "plain IPv4 or IPv6"},
		{"hostname unfit for hosts", []Option{veth, WithHostname("a\tb")}, "cannot be listed in /etc/hosts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(dir, []string{"/bin/true"}, tc.opts...)
			if err == nil {
				t.Fatalf("New succeeded: %v", c.cfg)
			}
			var oe *OptionError
			if !errors.As(err, &oe) {
				t.Fatalf("error %T %v, want *OptionError", err, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestNewNetworkRejects(t *testing.T) {
	for _, tc := range []struct {
		name, netName string
		prefix        netip.Prefix
		want          string
	}{
		{"empty name", "", pfx("169.254.20.0/24"), "1 to 63 bytes"},
		{"dotted name", "a.b", pfx("169.254.20.0/24"), "letters, digits"},
		{"leading dash", "-a", pfx("169.254.20.0/24"), "letters, digits"},
		{"/32", "n", pfx("169.254.20.1/32"), "no room"},
		{"broadcast host", "n", pfx("169.254.20.255/24"), "broadcast"},
		{"invalid", "n", netip.Prefix{}, "invalid prefix"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewNetwork(tc.netName, tc.prefix)
			var oe *OptionError
			if !errors.As(err, &oe) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewNetwork: %v, want an *OptionError mentioning %q", err, tc.want)
			}
		})
	}
}

func TestNetworkAddrs(t *testing.T) {
	for _, tc := range []struct{ prefix, subnet, host string }{
		{"169.254.20.0/24", "169.254.20.0/24", "169.254.20.1"},
		{"169.254.20.254/24", "169.254.20.0/24", "169.254.20.254"},
		{"169.254.20.0/31", "169.254.20.0/31", "169.254.20.0"},
		{"fd00:1::/64", "fd00:1::/64", "fd00:1::1"},
		{"fd00:1::53/64", "fd00:1::/64", "fd00:1::53"},
	} {
		subnet, host, err := networkAddrs(pfx(tc.prefix))
		if err != nil || subnet != pfx(tc.subnet) || host != netip.MustParseAddr(tc.host) {
			t.Errorf("networkAddrs(%s) = %v, %v, %v; want %s, %s", tc.prefix, subnet, host, err, tc.subnet, tc.host)
		}
	}
}

func TestAddrPool(t *testing.T) {
	a := netip.MustParseAddr
	take := func(p *addrPool, n int) []string {
		var out []string
		for range n {
			addr, ok := p.take()
			if !ok {
				out = append(out, "none")
				continue
			}
			out = append(out, addr.String())
		}
		return out
	}
	t.Run("in order, after the host", func(t *testing.T) {
		p := newAddrPool(pfx("169.254.20.0/29"), a("169.254.20.1"))
		got := take(p, 7)
		want := []string{"169.254.20.2", "169.254.20.3", "169.254.20.4", "169.254.20.5", "169.254.20.6", "none", "none"}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})
	t.Run("freed addresses come back after the rest", func(t *testing.T) {
		p := newAddrPool(pfx("169.254.20.0/29"), a("169.254.20.1"))
		take(p, 2) // .2 .3
		p.free(a("169.254.20.2"))
		got := take(p, 5)
		want := []string{"169.254.20.4", "169.254.20.5", "169.254.20.6", "169.254.20.2", "none"}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})
	t.Run("claim", func(t *testing.T) {
		p := newAddrPool(pfx("169.254.20.0/29"), a("169.254.20.1"))
		if err := p.claim(a("169.254.20.3")); err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"169.254.20.3", "169.254.20.1", "169.254.20.0", "169.254.20.7", "169.254.21.2"} {
			if err := p.claim(a(bad)); err == nil {
				t.Errorf("claim(%s) succeeded", bad)
			}
		}
		if got := take(p, 2); !reflect.DeepEqual(got, []string{"169.254.20.2", "169.254.20.4"}) {
			t.Fatalf("got %v", got)
		}
	})
	t.Run("/31", func(t *testing.T) {
		p := newAddrPool(pfx("169.254.20.0/31"), a("169.254.20.0"))
		if got := take(p, 2); !reflect.DeepEqual(got, []string{"169.254.20.1", "none"}) {
			t.Fatalf("got %v", got)
		}
	})
	t.Run("IPv6", func(t *testing.T) {
		p := newAddrPool(pfx("fd00:1::/64"), a("fd00:1::1"))
		if got := take(p, 2); !reflect.DeepEqual(got, []string{"fd00:1::2", "fd00:1::3"}) {
			t.Fatalf("got %v", got)
		}
	})
}

func TestNetworkJoinLeave(t *testing.T) {
	n := testNetwork("net", "169.254.20.0/24")
	n.sys = networkState{dir: t.TempDir()}
	if _, err := n.join("a", netip.Addr{}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.join("a", netip.Addr{}); err == nil {
		t.Fatal("a second member named a joined")
	}
	b, err := n.join("b.example", netip.MustParseAddr("169.254.20.9"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.join("", netip.Addr{}); err != nil { // a member without a name of its own
		t.Fatal(err)
	}
	want := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
		"169.254.20.2\ta.net a\n169.254.20.9\tb.example\n"
	got, err := os.ReadFile(n.hostsPath())
	if err != nil || !strings.HasSuffix(string(got), want) {
		t.Fatalf("hosts:\n%s\nwant it to end with:\n%s", got, want)
	}
	n.leave(b)
	got, _ = os.ReadFile(n.hostsPath())
	if strings.Contains(string(got), "b.example") {
		t.Fatalf("hosts after b left:\n%s", got)
	}
	if _, ok := n.Addr("b.example"); ok {
		t.Fatal("b is still a member")
	}
	if addr, ok := n.Addr("a"); !ok || addr != netip.MustParseAddr("169.254.20.2") {
		t.Fatalf("Addr(a) = %v, %v", addr, ok)
	}
}

func TestNetFiles(t *testing.T) {
	dir := t.TempDir()
	veth := WithVeth(pfx("169.254.10.1/30"), pfx("169.254.10.2/30"))
	files := func(opts ...Option) map[string]string {
		c, err := New(dir, []string{"/bin/true"}, opts...)
		if err != nil {
			t.Fatal(err)
		}
		plan := planMounts(c.cfg)
		fillNetFiles(plan, "/tmp/files", "/tmp/net/hosts")
		out := map[string]string{}
		for _, m := range plan {
			if m.Kind == mountBind && strings.HasPrefix(m.Dest, "/etc/") {
				if !m.Readonly || !m.File {
					t.Errorf("%s is not a read-only file bind: %+v", m.Dest, m)
				}
				out[m.Dest] = m.Source
			}
		}
		return out
	}
	want := map[string]string{"/etc/hosts": "/tmp/net/hosts", "/etc/hostname": "/tmp/files/hostname", "/etc/resolv.conf": "/tmp/files/resolv.conf"}
	if got := files(veth); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	// The caller's own binds win; without a UTS namespace there is no hostname of the container's own.
	own := filepath.Join(dir, "hosts")
	if err := os.WriteFile(own, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	want = map[string]string{"/etc/hosts": own, "/etc/resolv.conf": "/tmp/files/resolv.conf"}
	if got := files(veth, WithBind(own, "/etc/hosts", true), WithoutNamespace(NSUTS)); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := files(); len(got) != 0 {
		t.Errorf("files for a container without a veth: %v", got)
	}
}

func TestHostsContent(t *testing.T) {
	got := string(hostsContent([]hostEntry{
		{netip.MustParseAddr("169.254.10.2"), []string{"box"}},
		{netip.MustParseAddr("fd00::2"), []string{"box.net", "box"}},
		{netip.MustParseAddr("169.254.10.3"), []string{"bad\nname"}},
		{netip.Addr{}, []string{"noaddr"}},
	}))
	want := "# Generated by github.com/ctrkit/container.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
		"169.254.10.2\tbox\nfd00::2\tbox.net box\n"
	if got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestResolvConfContent(t *testing.T) {
	host := `# comment
nameserver 127.0.0.53
nameserver 10.0.0.2
nameserver ::1
nameserver fe80::1%eth0
nameserver ::ffff:127.0.0.1
nameserver not-an-address
search example.test
options edns0 trust-ad
sortlist 10.0.0.0
`
	got := string(resolvConfContent([]byte(host)))
	body := strings.Join(strings.Split(got, "\n")[2:], "\n")
	want := "nameserver 10.0.0.2\nnameserver fe80::1%eth0\nsearch example.test\noptions edns0 trust-ad\n"
	if body != want {
		t.Fatalf("got:\n%s\nwant after the comment:\n%s", got, want)
	}
	if !strings.HasPrefix(got, "# ") {
		t.Fatalf("no header comment: %q", got)
	}
}

func TestUsableInSubnet(t *testing.T) {
	for _, tc := range []struct {
		subnet, addr string
		want         bool
	}{
		{"169.254.10.0/30", "169.254.10.0", false},
		{"169.254.10.0/30", "169.254.10.1", true},
		{"169.254.10.0/30", "169.254.10.3", false},
		{"169.254.10.0/31", "169.254.10.0", true},
		{"169.254.10.0/31", "169.254.10.1", true},
		{"169.254.10.0/30", "169.254.11.1", false},
		{"fd00::/64", "fd00::", false},
		{"fd00::/64", "fd00::ffff:ffff:ffff:ffff", true},
		{"fd00::/127", "fd00::", true},
	} {
		if got := usableInSubnet(pfx(tc.subnet), netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("usableInSubnet(%s, %s) = %v", tc.subnet, tc.addr, got)
		}
	}
	if got := lastAddr(pfx("169.254.10.0/22")); got != netip.MustParseAddr("169.254.11.255") {
		t.Errorf("lastAddr = %v", got)
	}
}
