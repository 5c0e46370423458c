package container

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestUserNetworkOptions(t *testing.T) {
	asRoot(t)
	dir := t.TempDir()
	n := testNetwork("net", "169.254.20.0/24")
	for _, tc := range []struct {
		name string
		opts []Option
		err  string // "" for valid
	}{
		{"alone", []Option{WithUserNetwork()}, ""},
		{"published", []Option{WithUserNetwork(), WithPublish(18080, 80), WithPublish(18081, 80)}, ""},
		{"user namespace", []Option{WithUserNetwork(), WithNamespaces(NSUser | NSNet | NSMount | NSPID)}, ""},
		{"publish without", []Option{WithPublish(18080, 80)}, `WithPublish "18080:80": needs WithUserNetwork`},
		{"host port 0", []Option{WithUserNetwork(), WithPublish(0, 80)}, "ports must not be 0"},
		{"container port 0", []Option{WithUserNetwork(), WithPublish(80, 0)}, "ports must not be 0"},
		{"host port twice", []Option{WithUserNetwork(), WithPublish(18080, 80), WithPublish(18080, 81)}, "host port 18080 is published already (to 80)"},
		{"veth", []Option{WithUserNetwork(), WithVeth(pfx("169.254.1.1/30"), pfx("169.254.1.2/30"))}, "WithUserNetwork: conflicts with WithVeth"},
		{"network", []Option{WithNetwork(n), WithUserNetwork()}, "WithUserNetwork: conflicts with WithNetwork"},
		{"joined", []Option{WithUserNetwork(), WithNamespacePath(NSNet, "/proc/1/ns/net")}, "WithUserNetwork: conflicts with WithNamespacePath(NSNet)"},
		{"shared", []Option{WithUserNetwork(), WithoutNamespace(NSNet)}, "WithUserNetwork: needs the container's own network namespace"},
		{"namespaces without net", []Option{WithUserNetwork(), WithNamespaces(NSMount | NSPID)}, "WithUserNetwork: needs the container's own network namespace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(dir, []string{"/bin/true"}, tc.opts...)
			if tc.err == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("New: %v, want an error containing %q", err, tc.err)
			}
			if _, ok := err.(*OptionError); !ok {
				t.Fatalf("New: %T, want *OptionError", err)
			}
		})
	}
}

// The documented addresses are one subnet's, the one both helpers are
// given, and link-local, so they collide with no network of the host's.
func TestUserNetworkPlan(t *testing.T) {
	subnet := netip.MustParsePrefix(userNetCIDR)
	if subnet.Bits() != userNetPrefixLen || subnet.Masked() != subnet {
		t.Fatalf("%v: want a masked /%d", subnet, userNetPrefixLen)
	}
	for i, a := range []string{UserNetworkHost, UserNetworkAddr, UserNetworkDNS} {
		addr := netip.MustParseAddr(a)
		if !subnet.Contains(addr) || !addr.IsLinkLocalUnicast() {
			t.Errorf("%v: not a link-local address of %v", addr, subnet)
		}
		// slirp4netns puts the gateway at .2, its DNS at .3, the guest at .100.
		if want := []byte{2, 100, 3}[i]; addr.As4()[3] != want {
			t.Errorf("%v: want .%d, as slirp4netns places it", addr, want)
		}
	}
}

func TestPastaArgs(t *testing.T) {
	u := &userNetConfig{on: true, publish: []portMap{{18080, 80}, {18443, 443}}}
	got := pastaArgs(u, userNetTarget{netns: "/proc/self/fd/4", userns: "/proc/self/fd/5"}, "/proc/self/fd/3")
	line := strings.Join(got, " ")
	for _, want := range []string{
		"--foreground", "--config-net", "--ipv4-only", "--ns-ifname eth0",
		"--address 169.254.2.100 --netmask 24 --gateway 169.254.2.2",
		"--tcp-ports 127.0.0.1/18080:80 --tcp-ports 127.0.0.1/18443:443",
		"--udp-ports none --tcp-ns none --udp-ns none",
		"--pid /proc/self/fd/3 --userns /proc/self/fd/5 --netns /proc/self/fd/4 --no-netns-quit",
	} {
		if !strings.Contains(line, want) {
			t.Errorf("pasta %s\nlacks %q", line, want)
		}
	}
	if slices.Contains(got, "--no-map-gw") || slices.Contains(got, "--runas") {
		t.Errorf("pasta %s: gateway unmapped or --runas for a caller that is not root", line)
	}
	line = strings.Join(pastaArgs(&userNetConfig{on: true}, userNetTarget{netns: "/proc/self/fd/4", root: true}, "p"), " ")
	for _, want := range []string{"--tcp-ports none", "--runas 0:0", "--pid p --netns /proc/self/fd/4"} {
		if !strings.Contains(line, want) {
			t.Errorf("pasta %s\nlacks %q", line, want)
		}
	}
	if strings.Contains(line, "--userns") {
		t.Errorf("pasta %s: --userns without a user namespace", line)
	}
}

func TestSlirpArgs(t *testing.T) {
	line := strings.Join(slirpArgs(userNetTarget{netns: "/proc/self/fd/5", userns: "/proc/self/fd/6"}, 3, 4, "/run/x/api.sock"), " ")
	want := "--configure --mtu=65520 --cidr=169.254.2.0/24 --ready-fd=3 --exit-fd=4 --api-socket=/run/x/api.sock --userns-path=/proc/self/fd/6 --netns-type=path /proc/self/fd/5 eth0"
	if line != want {
		t.Errorf("slirp4netns %s\nwant        %s", line, want)
	}
	if line := strings.Join(slirpArgs(userNetTarget{netns: "n"}, 3, 4, ""), " "); strings.Contains(line, "--api-socket") || strings.Contains(line, "--userns-path") {
		t.Errorf("slirp4netns %s: an API socket without published ports, or --userns-path without a user namespace", line)
	}
	if got, want := slirpHostfwd(portMap{18080, 80}), `{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"127.0.0.1","host_port":18080,"guest_port":80}}`; got != want {
		t.Errorf("hostfwd %s, want %s", got, want)
	}
}
