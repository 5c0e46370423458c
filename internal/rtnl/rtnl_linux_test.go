package rtnl

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The integration test works in two network namespaces of its own, and
// never touches the host's links.

func skipUnlessRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: needs root (network namespaces, CAP_NET_ADMIN)")
	}
}

// newNetNS makes a network namespace and returns a descriptor of it, which
// keeps it alive until the test ends. The thread that made it goes back to
// its namespace, or is never unlocked and ends with its goroutine.
func newNetNS(t *testing.T) int {
	t.Helper()
	type result struct {
		fd  int
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			ch <- result{-1, err}
			return
		}
		defer unix.Close(orig)
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- result{-1, fmt.Errorf("unshare: %w", err)}
			return
		}
		fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		ch <- result{fd, err}
		if unix.Setns(orig, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
	}()
	res := <-ch
	if res.err != nil {
		t.Fatalf("new network namespace: %v", res.err)
	}
	t.Cleanup(func() { unix.Close(res.fd) })
	return res.fd
}

// inNetNS runs f on a thread in the namespace nsFD and returns its result;
// the thread goes back, or is never unlocked and ends with its goroutine.
func inNetNS(t *testing.T, nsFD int, f func() string) string {
	t.Helper()
	ch := make(chan string, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			ch <- err.Error()
			return
		}
		defer unix.Close(orig)
		if err := unix.Setns(nsFD, unix.CLONE_NEWNET); err != nil {
			ch <- "setns: " + err.Error()
			return
		}
		ch <- f()
		if unix.Setns(orig, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
	}()
	return <-ch
}

func readFile(name string) string {
	b, err := os.ReadFile(name)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func nsIno(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func openFDs(t *testing.T) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var fds []string
	for _, e := range ents {
		l, _ := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		fds = append(fds, e.Name()+" "+l)
	}
	return fds
}

func mustDialNamespace(t *testing.T, ns int) *Conn {
	t.Helper()
	c, err := DialNamespace(ns)
	if err != nil {
		t.Fatalf("DialNamespace: %v", err)
	}
	flags, err := unix.FcntlInt(uintptr(c.fd), unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("socket flags %#x, %v: not close-on-exec", flags, err)
	}
	return c
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantErrno(t *testing.T, what string, err error, want unix.Errno) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: %v, want %v", what, err, want)
	}
}

// TestBridgeAndVeth builds, in namespace a, a bridge and a veth pair
// enslaved to it whose peer is created straight in namespace b, configures
// both ends, and checks each step through the kernel's own files.
func TestBridgeAndVeth(t *testing.T) {
	skipUnlessRoot(t)
	hostNS := nsIno(t, "/proc/self/ns/net")
	a, b := newNetNS(t), newNetNS(t)
	before := openFDs(t)

	ca := mustDialNamespace(t, a)
	defer ca.Close()
	cb := mustDialNamespace(t, b)
	defer cb.Close()

	// lo: down in a new namespace.
	lo, err := ca.LinkByName("lo")
	must(t, "lo", err)
	if lo.Index != 1 || lo.Kind != "" || lo.Flags&unix.IFF_LOOPBACK == 0 || lo.Flags&unix.IFF_UP != 0 {
		t.Errorf("lo in a new namespace: %+v", lo)
	}
	must(t, "lo up", ca.SetUp(lo.Index))
	if lo, err = ca.LinkByIndex(1); err != nil || lo.Flags&unix.IFF_UP == 0 || lo.Name != "lo" {
		t.Errorf("lo after SetUp: %+v, %v", lo, err)
	}

	must(t, "AddBridge", ca.AddBridge("br0", true))
	wantErrno(t, "AddBridge again", ca.AddBridge("br0", true), unix.EEXIST)
	br, err := ca.LinkByName("br0")
	must(t, "br0", err)
	if br.Kind != "bridge" || br.Flags&unix.IFF_UP == 0 {
		t.Errorf("br0: %+v", br)
	}

	must(t, "AddVeth", ca.AddVeth(Veth{Name: "v0", MTU: 1400, Master: br.Index, Up: true, PeerName: "p0", PeerNamespace: b}))
	v0, err := ca.LinkByName("v0")
	must(t, "v0", err)
	if v0.Kind != "veth" || v0.MTU != 1400 || v0.Master != br.Index || v0.Flags&unix.IFF_UP == 0 {
		t.Errorf("v0: %+v, want a veth of MTU 1400, up, enslaved to %d", v0, br.Index)
	}
	_, err = ca.LinkByName("p0")
	wantErrno(t, "the peer in a", err, unix.ENODEV)
	p0, err := cb.LinkByName("p0")
	must(t, "p0 in b", err)
	if p0.Kind != "veth" || p0.MTU != 1400 || p0.Master != 0 || p0.Flags&unix.IFF_UP != 0 {
		t.Errorf("p0: %+v, want a veth of MTU 1400, down, no master", p0)
	}

	// A second veth without a peer namespace, enslaved afterwards.
	must(t, "AddVeth in a", ca.AddVeth(Veth{Name: "v1", PeerName: "v1p", PeerNamespace: -1}))
	v1, err := ca.LinkByName("v1")
	must(t, "v1", err)
	must(t, "SetMaster", ca.SetMaster(v1.Index, br.Index))
	if v1, err = ca.LinkByIndex(v1.Index); err != nil || v1.Master != br.Index {
		t.Errorf("v1 after SetMaster: %+v, %v", v1, err)
	}

	const alias = "ctrkit-container owner=1.2.3"
	must(t, "SetAlias", ca.SetAlias(v0.Index, alias))
	links, err := ca.Links()
	must(t, "Links", err)
	var got []string
	for _, l := range links {
		got = append(got, fmt.Sprintf("%s:%s:%q", l.Name, l.Kind, l.Alias))
	}
	slices.Sort(got)
	want := []string{`br0:bridge:""`, `lo::""`, `v0:veth:"` + alias + `"`, `v1:veth:""`, `v1p:veth:""`}
	if !slices.Equal(got, want) {
		t.Errorf("Links in a:\n got %v\nwant %v", got, want)
	}

	// Addresses: the bridge's in a, the peer's in b, and default routes.
	must(t, "address of br0", ca.AddAddress(br.Index, netip.MustParsePrefix("169.254.200.1/24"), 0))
	must(t, "IPv6 address of br0", ca.AddAddress(br.Index, netip.MustParsePrefix("fd63:746b::1/64"), unix.IFA_F_NODAD))
	wantErrno(t, "the address again", ca.AddAddress(br.Index, netip.MustParsePrefix("169.254.200.1/24"), 0), unix.EEXIST)
	must(t, "address of p0", cb.AddAddress(p0.Index, netip.MustParsePrefix("169.254.200.2/24"), 0))
	must(t, "IPv6 address of p0", cb.AddAddress(p0.Index, netip.MustParsePrefix("fd63:746b::2/64"), unix.IFA_F_NODAD))
	must(t, "p0 up", cb.SetUp(p0.Index))
	must(t, "IPv4 default route", cb.AddDefaultRoute(p0.Index, netip.MustParseAddr("169.254.200.1")))
	must(t, "IPv6 default route", cb.AddDefaultRoute(p0.Index, netip.MustParseAddr("fd63:746b::1")))
	wantErrno(t, "the route again", cb.AddDefaultRoute(p0.Index, netip.MustParseAddr("169.254.200.1")), unix.EEXIST)
	if err := cb.AddDefaultRoute(999, netip.MustParseAddr("169.254.200.1")); !errors.As(err, new(unix.Errno)) {
		t.Errorf("a route on no link: %v, want an errno", err) // ENETUNREACH: the gateway is checked first
	}
	wantErrno(t, "an address on no link", cb.AddAddress(999, netip.MustParsePrefix("169.254.201.2/24"), 0), unix.ENODEV)

	if got := inNetNS(t, a, func() string { return ifAddr4("br0") }); got != "169.254.200.1" {
		t.Errorf("br0's IPv4 address: %s", got)
	}
	got6 := inNetNS(t, b, func() string {
		return readFile("/proc/thread-self/net/if_inet6") + readFile("/proc/thread-self/net/route") + readFile("/proc/thread-self/net/ipv6_route")
	})
	for _, want := range []string{
		// if_inet6: address, index, prefix length, scope, flags (IFA_F_NODAD|IFA_F_PERMANENT), name
		fmt.Sprintf("fd63746b000000000000000000000002 %02x 40 00 82       p0", p0.Index),
		"p0\t00000000\t01C8FEA9\t0003", // route: a default route via 169.254.200.1, up and via a gateway
		"00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd63746b000000000000000000000001",
	} {
		if !strings.Contains(got6, want) {
			t.Errorf("in b: no %q in\n%s", want, got6)
		}
	}

	// Deleting one end deletes the pair, in both namespaces.
	must(t, "DeleteLink", ca.DeleteLink(v0.Index))
	wantErrno(t, "DeleteLink again", ca.DeleteLink(v0.Index), unix.ENODEV)
	_, err = ca.LinkByIndex(v0.Index)
	wantErrno(t, "v0 after DeleteLink", err, unix.ENODEV)
	_, err = cb.LinkByName("p0")
	wantErrno(t, "p0 after DeleteLink", err, unix.ENODEV)
	must(t, "delete br0", ca.DeleteLink(br.Index))

	must(t, "Close", ca.Close())
	must(t, "Close again", ca.Close())
	if _, err := ca.LinkByName("lo"); !errors.Is(err, os.ErrClosed) {
		t.Errorf("a request after Close: %v", err)
	}
	cb.Close()
	if after := openFDs(t); !slices.Equal(before, after) {
		t.Errorf("descriptors before:\n%v\nafter:\n%v", before, after)
	}
	// DialNamespace's threads came back: every thread is in the process's namespace.
	tasks, _ := filepath.Glob("/proc/self/task/*/ns/net")
	for _, p := range tasks {
		var st unix.Stat_t
		if unix.Stat(p, &st) == nil && st.Ino != hostNS {
			t.Errorf("%s is in another network namespace", p)
		}
	}
}

// ifAddr4 is the IPv4 address of the calling thread's interface name.
func ifAddr4(name string) string {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err.Error()
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err.Error()
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFADDR, ifr); err != nil {
		return err.Error()
	}
	a, err := ifr.Inet4Addr()
	if err != nil {
		return err.Error()
	}
	return netip.AddrFrom4([4]byte(a)).String()
}

func TestDialNamespaceFails(t *testing.T) {
	skipUnlessRoot(t)
	before := openFDs(t)
	f, err := os.Open("/proc/self/ns/pid")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if c, err := DialNamespace(int(f.Fd())); !errors.Is(err, unix.EINVAL) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("DialNamespace of a pid namespace: %v, want EINVAL", err)
	}
	f.Close()
	if after := openFDs(t); !slices.Equal(before, after) {
		t.Errorf("descriptors before:\n%v\nafter:\n%v", before, after)
	}
}

// TestDial opens a socket in the test's own namespace and only reads.
func TestDial(t *testing.T) {
	c, err := Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	lo, err := c.LinkByName("lo")
	if err != nil || lo.Index != 1 {
		t.Fatalf("lo: %+v, %v", lo, err)
	}
	links, err := c.Links()
	if err != nil && !errors.Is(err, ErrDumpInterrupted) {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(links, func(l Link) bool { return l.Name == "lo" }) {
		t.Errorf("Links: no lo in %v", links)
	}
	_, err = c.LinkByName("ctrkit-none")
	wantErrno(t, "a missing link", err, unix.ENODEV)
	_, err = c.LinkByIndex(-1)
	wantErrno(t, "index -1", err, unix.ENODEV)
}
