package container_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ctrkit/container"
	"github.com/ctrkit/container/containertest"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The network tests use only link-local IPv4 (169.254.0.0/16) and ULA IPv6
// (fd00::/8) addresses, in subnets that no interface of the machine has (other
// tests run on it at the same time), and talk only between the host and
// containers on this machine.

func init() {
	leakChecks = append(leakChecks, leakCheck{"veths, bridges and /etc files of this process", func() string {
		// Veths vanish with their container's network namespace, which the
		// kernel destroys asynchronously: give it time before reporting.
		var s string
		for try := 0; try < 100; try++ {
			if s = fmt.Sprint(ourLinks(), ourTempDirs()); s == "[] []" {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		return s
	}})
}

// ourLinks lists the host's interfaces that this process's containers and
// networks made (their alias names this process as the owner).
func ourLinks() []string {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return []string{"netlink: " + err.Error()}
	}
	defer h.Close()
	links, err := h.LinkList()
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return []string{"netlink: " + err.Error()}
	}
	var out []string
	for _, l := range links {
		if ownedBy(l.Attrs().Alias, os.Getpid()) {
			out = append(out, l.Attrs().Name)
		}
	}
	return out
}

// ownedBy reports whether an interface alias names pid as its owner
// ("ctrkit-container owner=PIDNS.PID.START").
func ownedBy(alias string, pid int) bool {
	tok, ok := strings.CutPrefix(alias, "ctrkit-container owner=")
	f := strings.Split(tok, ".")
	return ok && len(f) == 3 && f[1] == strconv.Itoa(pid)
}

func ourTempDirs() []string { return tempDirsOf(os.Getpid()) }

func tempDirsOf(pid int) []string {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "ctrkit-net-*."+strconv.Itoa(pid)+".*"))
	return dirs
}

var subnets struct {
	mu   sync.Mutex
	next int
}

// freeSubnet returns a 169.254.X.0/24 that no interface on the machine has an
// address in, a different one each call; X starts from the test's pid so that
// concurrent test processes start apart.
func freeSubnet(t *testing.T) netip.Prefix {
	t.Helper()
	subnets.mu.Lock()
	defer subnets.mu.Unlock()
	used := hostAddrs(t)
	if subnets.next == 0 {
		subnets.next = 1 + os.Getpid()%253
	}
	for range 254 {
		x := subnets.next
		subnets.next = subnets.next%253 + 1
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{169, 254, byte(x), 0}), 24)
		if !slices.ContainsFunc(used, func(a netip.Prefix) bool { return a.Overlaps(p) }) {
			return p
		}
	}
	t.Fatal("no free 169.254.X.0/24 on this machine")
	return netip.Prefix{}
}

// freeSubnet6 is freeSubnet for a ULA fd63:746b:6e74:X::/64.
func freeSubnet6(t *testing.T) netip.Prefix {
	t.Helper()
	v4 := freeSubnet(t).Addr().As4()
	p := netip.MustParsePrefix(fmt.Sprintf("fd63:746b:6e74:%x%02x::/64", os.Getpid()%256, v4[2]))
	if slices.ContainsFunc(hostAddrs(t), func(a netip.Prefix) bool { return a.Overlaps(p) }) {
		t.Fatalf("%v is in use on this machine", p)
	}
	return p
}

func hostAddrs(t *testing.T) []netip.Prefix {
	t.Helper()
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	addrs, err := h.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	var out []netip.Prefix
	for _, a := range addrs {
		ip, _ := netip.AddrFromSlice(a.IP)
		bits, _ := a.Mask.Size()
		out = append(out, netip.PrefixFrom(ip.Unmap(), bits).Masked())
	}
	return out
}

// nth returns the n-th address of subnet with the given prefix length.
func nth(subnet netip.Prefix, n, bits int) netip.Prefix {
	a := subnet.Addr()
	for range n {
		a = a.Next()
	}
	return netip.PrefixFrom(a, bits)
}

// echo connects to addr until it accepts (the container's server may not
// listen yet), sends msg, and returns what comes back before the server
// closes the connection.
func echo(t *testing.T, addr netip.AddrPort, msg string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var conn net.Conn
	for {
		var err error
		conn, err = net.DialTimeout("tcp", addr.String(), time.Second)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("connect to %v: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(conn, msg); err != nil {
		t.Fatalf("write to %v: %v", addr, err)
	}
	conn.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("read from %v: %v", addr, err)
	}
	return string(b)
}

// serveOnce accepts one connection on l, reads a line and answers reply.
func serveOnce(l net.Listener, reply string) (string, error) {
	l.(*net.TCPListener).SetDeadline(time.Now().Add(20 * time.Second))
	conn, err := l.Accept()
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return line, err
	}
	_, err = io.WriteString(conn, reply)
	return line, err
}

// testEcho runs an echo in both directions between the host and a container
// with a veth of the two prefixes.
func testEcho(t *testing.T, hostP, ctrP netip.Prefix) {
	rootfs := containertest.Rootfs(t)
	hostAddr := netip.AddrPortFrom(hostP.Addr(), 7001)
	ctrAddr := netip.AddrPortFrom(ctrP.Addr(), 7000)
	// First serve one connection from the host, then connect to the host.
	script := fmt.Sprintf("nc -l -p 7000 -e /bin/cat && echo ping | nc %s 7001", hostP.Addr())
	c, out := containertest.Start(t, rootfs, []string{"/bin/sh", "-c", script}, container.WithVeth(hostP, ctrP))

	// The host end has its address once Start returns.
	l, err := net.Listen("tcp", hostAddr.String())
	if err != nil {
		t.Fatalf("listen on the host end: %v", err)
	}
	defer l.Close()
	if got := echo(t, ctrAddr, "hello from the host\n"); got != "hello from the host\n" {
		t.Fatalf("host → container echo: got %q; container said %q", got, out)
	}
	line, err := serveOnce(l, "pong\n")
	if err != nil || line != "ping\n" {
		t.Fatalf("container → host: got %q, %v; container said %q", line, err, out)
	}
	if err := c.Wait(); err != nil {
		t.Fatalf("Wait: %v; container said %q", err, out)
	}
	if out.String() != "pong\n" {
		t.Fatalf("the container received %q, want pong", out)
	}
}

func TestVethEchoBothWays(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	s := freeSubnet(t)
	testEcho(t, nth(s, 1, 30), nth(s, 2, 30))
}

func TestVethIPv6(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	s := freeSubnet6(t)
	testEcho(t, nth(s, 1, 64), nth(s, 2, 64))
}

func TestVethInside(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	s, s6 := freeSubnet(t), freeSubnet6(t)
	hostP, ctrP := nth(s, 5, 29), nth(s, 6, 29)
	hostP6, ctrP6 := nth(s6, 1, 64), nth(s6, 2, 64)
	hostsBefore, _ := os.ReadFile(filepath.Join(rootfs, "etc/hosts"))
	out := containertest.Sh(t, rootfs, `
		cat /sys/class/net/lo/flags /sys/class/net/net0/flags /sys/class/net/net0/mtu
		ip -4 addr show dev net0 | grep -o 'inet [^ ]*'
		ip -6 addr show dev net0 scope global | grep -o 'inet6 [^ ]*'
		ip -4 route show default; ip -6 route show default | cut -d' ' -f1-5
		echo ---; cat /etc/hostname; grep -v '^#' /etc/hosts; echo ---
		echo x >>/etc/hosts 2>/dev/null || echo read-only`,
		container.WithVeth(hostP, ctrP), container.WithVeth(hostP6, ctrP6),
		container.WithVethName("net0"), container.WithHostname("box"))
	want := fmt.Sprintf(`0x9
0x1003
1500
inet %v
inet6 %v
default via %v dev net0 
default via %v dev net0
---
box
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
%v	box
%v	box
---
read-only
`, ctrP, ctrP6, hostP.Addr(), hostP6.Addr(), ctrP.Addr(), ctrP6.Addr())
	if out != want {
		t.Errorf("inside the container:\n%s\nwant:\n%s", out, want)
	}
	if hostsAfter, _ := os.ReadFile(filepath.Join(rootfs, "etc/hosts")); string(hostsAfter) != string(hostsBefore) {
		t.Errorf("the rootfs's /etc/hosts changed: %q", hostsAfter)
	}
}

func TestLoopbackUpByDefault(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	out := containertest.Sh(t, rootfs, "cat /sys/class/net/lo/flags; ls /sys/class/net")
	if out != "0x9\nlo\n" {
		t.Fatalf("got %q, want lo alone and up", out)
	}
}

func TestHostNetwork(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	host, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	out := containertest.Sh(t, rootfs, "readlink /proc/self/ns/net", container.WithoutNamespace(container.NSNet))
	if out != host+"\n" {
		t.Fatalf("container's network namespace %q, want the host's %q", out, host)
	}
}

func TestNetworkByAddressAndName(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	t.Run("IPv4", func(t *testing.T) { testNetworkMembers(t, rootfs, freeSubnet(t)) })
	t.Run("IPv6", func(t *testing.T) { testNetworkMembers(t, rootfs, freeSubnet6(t)) })
}

// testNetworkMembers has two members of a network exchange data by address
// and by name.
func testNetworkMembers(t *testing.T, rootfs string, subnet netip.Prefix) {
	n, err := container.NewNetwork("testnet", subnet)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := n.Close(); err != nil {
			t.Error(err)
		}
	}()
	// a serves three connections. Once the first came, b is a member: a's
	// /etc/hosts lists it (b leaves when the test has waited for it).
	a, aOut := containertest.Start(t, rootfs, []string{"/bin/sh", "-c", `
		nc -l -p 7000 -e /bin/cat || exit
		grep -v '^#' /etc/hosts >/tmp/hosts
		nc -l -p 7000 -e /bin/cat && nc -l -p 7000 -e /bin/cat && cat /tmp/hosts`},
		container.WithNetwork(n), container.WithHostname("a"))
	aAddr, ok := n.Addr("a")
	if !ok {
		t.Fatal("the network does not list a")
	}
	if want := n.Prefix().Addr().Next(); aAddr != want {
		t.Errorf("a got %v, want the first address after the host's, %v", aAddr, want)
	}
	// b tries each connection until a listens.
	b, bOut := containertest.Start(t, rootfs, []string{"/bin/sh", "-c", fmt.Sprintf(`
		send() {
			for i in $(seq 200); do
				out=$(echo $1 | nc $2 7000 2>/dev/null) && [ -n "$out" ] && break
				sleep 0.05
			done
			echo "$out"
		}
		send by-address %v; send by-name a; send by-qualified-name a.testnet`, aAddr)},
		container.WithNetwork(n), container.WithHostname("b"))
	if err := b.Wait(); err != nil {
		t.Fatalf("b: %v: %s", err, bOut)
	}
	if got := bOut.String(); got != "by-address\nby-name\nby-qualified-name\n" {
		t.Fatalf("b received %q", got)
	}
	if err := a.Wait(); err != nil {
		t.Fatalf("a: %v: %s", err, aOut)
	}
	bAddr := aAddr.Next()
	wantHosts := fmt.Sprintf("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n%v\ta.testnet a\n%v\tb.testnet b\n", aAddr, bAddr)
	if got := aOut.String(); got != wantHosts {
		t.Errorf("a's /etc/hosts:\n%s\nwant:\n%s", got, wantHosts)
	}
	if _, ok := n.Addr("a"); ok {
		t.Error("a is still listed after Wait")
	}
}

func TestNetworkRejects(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	s := freeSubnet(t)
	n, err := container.NewNetwork("rejects", nth(s, 254, 24))
	if err != nil {
		t.Fatal(err)
	}
	if got := n.Prefix(); got != nth(s, 254, 24) {
		t.Errorf("Prefix() = %v, want %v", got, nth(s, 254, 24))
	}
	a, _ := containertest.Start(t, rootfs, []string{"/bin/sh", "-c", "sleep 100"}, container.WithNetwork(n), container.WithHostname("same"),
		container.WithNetworkAddress(nth(s, 9, 24).Addr()))
	if got, _ := n.Addr("same"); got != nth(s, 9, 24).Addr() {
		t.Errorf("fixed address: got %v", got)
	}
	for name, opts := range map[string][]container.Option{
		"same hostname": {container.WithNetwork(n), container.WithHostname("same")},
		"same address":  {container.WithNetwork(n), container.WithHostname("other"), container.WithNetworkAddress(nth(s, 9, 24).Addr())},
	} {
		c, err := container.New(rootfs, []string{"/bin/true"}, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(context.Background()); err == nil {
			c.Wait()
			t.Errorf("%s: Start succeeded", name)
		}
	}
	a.Signal(syscall.SIGKILL)
	a.Wait()
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); !errors.Is(err, container.ErrNetworkClosed) {
		t.Errorf("second Close: %v", err)
	}
	c, err := container.New(rootfs, []string{"/bin/true"}, container.WithNetwork(n))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); !errors.Is(err, container.ErrNetworkClosed) {
		t.Errorf("Start on a closed network: %v", err)
	}
}

// makeNetNS makes a network namespace with a veth pair in it (ifname and
// its peer), bound to a file, as `ip netns add` does; the test's cleanup
// removes it.
func makeNetNS(t *testing.T, ifname string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "netns")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	mounted := make(chan bool, 1)
	errc := make(chan error, 1)
	go func() {
		// The thread leaves the process's network namespace: it is never
		// unlocked, so the runtime ends it when this goroutine returns.
		runtime.LockOSThread()
		errc <- func() error {
			defer close(mounted)
			if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
				return fmt.Errorf("unshare: %w", err)
			}
			if err := unix.Mount("/proc/thread-self/ns/net", path, "", unix.MS_BIND, ""); err != nil {
				return fmt.Errorf("bind: %w", err)
			}
			mounted <- true
			h, err := netlink.NewHandle(unix.NETLINK_ROUTE) // a socket in the new namespace
			if err != nil {
				return err
			}
			defer h.Close()
			la := netlink.NewLinkAttrs()
			la.Name = ifname
			return h.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: ifname + "p"})
		}()
	}()
	if <-mounted {
		t.Cleanup(func() {
			if err := unix.Unmount(path, unix.MNT_DETACH); err != nil {
				t.Errorf("unmount %s: %v", path, err)
			}
		})
	}
	if err := <-errc; err != nil {
		t.Fatalf("make a network namespace: %v", err)
	}
	return path
}

func TestJoinedNetNS(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	ifname := fmt.Sprintf("ctkt%d", os.Getpid())
	path := makeNetNS(t, ifname)
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("net:[%d]\n", st.Ino)
	for name, extra := range map[string][]container.Option{
		"":                    nil,
		"in a user namespace": {container.WithUIDMap(container.IDMap{ContainerID: 0, HostID: 100000, Size: 65536}), container.WithGIDMap(container.IDMap{ContainerID: 0, HostID: 100000, Size: 65536})},
	} {
		t.Run(name, func(t *testing.T) {
			out := containertest.Sh(t, rootfs, "readlink /proc/self/ns/net; grep -o '"+ifname+":' /proc/net/dev",
				append([]container.Option{container.WithNamespacePath(container.NSNet, path)}, extra...)...)
			if out != want+ifname+":\n" {
				t.Fatalf("got %q, want %q and the test's interface", out, want)
			}
		})
	}
	c, err := container.New(rootfs, []string{"/bin/true"}, container.WithNamespacePath(container.NSNet, "/proc/self/ns/pid"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err == nil || !errors.Is(err, unix.EINVAL) {
		if err == nil {
			c.Wait()
		}
		t.Fatalf("Start with a pid namespace as the network namespace: %v, want EINVAL", err)
	}
}

// waitGone waits until none of the names is a link on the host any more.
func waitGone(t *testing.T, names ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		left := slices.DeleteFunc(ourLinks(), func(n string) bool { return !slices.Contains(names, n) })
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still on the host long after Wait: %v", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// nsInUse reports whether a process on the machine is in the namespace ns
// ("net:[N]").
func nsInUse(ns string) bool {
	paths, _ := filepath.Glob("/proc/[0-9]*/ns/net")
	for _, p := range paths {
		if l, _ := os.Readlink(p); l == ns {
			return true
		}
	}
	return false
}

func TestNothingLeftAfterWait(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	for _, how := range []string{"exit", "kill", "cancel"} {
		t.Run(how, func(t *testing.T) {
			s := freeSubnet(t)
			before := ourLinks()
			c, err := container.New(rootfs, []string{"/bin/cat"}, container.WithVeth(nth(s, 1, 30), nth(s, 2, 30)))
			if err != nil {
				t.Fatal(err)
			}
			stdin, w := io.Pipe()
			c.Stdin = stdin
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if err := c.Start(ctx); err != nil {
				t.Fatal(err)
			}
			ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", c.Pid()))
			if err != nil {
				t.Fatal(err)
			}
			veths := slices.DeleteFunc(ourLinks(), func(n string) bool { return slices.Contains(before, n) })
			if len(veths) != 1 {
				t.Fatalf("new links of this process: %v, want one veth", veths)
			}
			switch how {
			case "kill":
				c.Signal(syscall.SIGKILL)
			case "cancel":
				cancel()
			}
			if how != "exit" {
				// The kill first: closing stdin before it lands would let
				// cat exit on its own, and Wait rightly report success.
				waitZombie(t, c.Pid())
			}
			w.Close() // cat exits, if it still runs; Wait waits for the copy of stdin
			err = c.Wait()
			if how == "exit" && err != nil {
				t.Fatalf("Wait: %v", err)
			}
			if how != "exit" && err == nil {
				t.Fatal("Wait: nil error for a killed container")
			}
			if dirs := ourTempDirs(); len(dirs) != 0 {
				t.Errorf("generated files left after Wait: %v", dirs)
			}
			waitGone(t, veths...)
			if nsInUse(ns) {
				t.Errorf("a process is still in the container's network namespace %s", ns)
			}
		})
	}
}

// waitZombie waits until the process pid has died (a zombie, not yet
// reaped, or gone).
func waitZombie(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		if i := bytes.LastIndexByte(b, ')'); i > 0 && i+2 < len(b) && (b[i+2] == 'Z' || b[i+2] == 'X') {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d still alive 10 s after it was killed", pid)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestConcurrentVeths(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	const n = 20
	s := freeSubnet(t)
	before := ourLinks()
	type ctr struct {
		c        *container.Container
		out      *containertest.Buffer
		host, ct netip.Prefix
	}
	ctrs := make([]ctr, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range ctrs {
		ctrs[i].host, ctrs[i].ct = nth(s, 4*i+1, 30), nth(s, 4*i+2, 30)
		c, err := container.New(rootfs, []string{"/bin/sh", "-c", "nc -l -p 7000 -e /bin/cat"}, container.WithVeth(ctrs[i].host, ctrs[i].ct))
		if err != nil {
			t.Fatal(err)
		}
		ctrs[i].c, ctrs[i].out = c, &containertest.Buffer{}
		c.Stdout, c.Stderr = ctrs[i].out, ctrs[i].out
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Start(context.Background()); err != nil {
				errs <- err
				return
			}
			t.Cleanup(func() { c.Signal(syscall.SIGKILL); c.Wait() })
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Start: %v", err)
	}

	// Distinct host ends, each with its container's host address.
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var names []string
	var addrs []netip.Prefix
	for _, name := range slices.DeleteFunc(ourLinks(), func(n string) bool { return slices.Contains(before, n) }) {
		l, err := h.LinkByName(name)
		if err != nil {
			t.Fatal(err)
		}
		as, err := h.AddrList(l, netlink.FAMILY_V4)
		if err != nil || len(as) != 1 {
			t.Fatalf("addresses of %s: %v %v", name, as, err)
		}
		ip, _ := netip.AddrFromSlice(as[0].IP)
		bits, _ := as[0].Mask.Size()
		names = append(names, name)
		addrs = append(addrs, netip.PrefixFrom(ip.Unmap(), bits))
	}
	for i := range ctrs {
		if !slices.Contains(addrs, ctrs[i].host) {
			t.Errorf("no host end has %v: %v", ctrs[i].host, addrs)
		}
	}
	if len(names) != n || len(slices.Compact(slices.Sorted(slices.Values(names)))) != n {
		t.Fatalf("host ends: %v, want %d distinct", names, n)
	}

	// All connect, concurrently.
	var ewg sync.WaitGroup
	for i := range ctrs {
		ewg.Add(1)
		go func() {
			defer ewg.Done()
			msg := fmt.Sprintf("hello %d\n", i)
			if got := echo(t, netip.AddrPortFrom(ctrs[i].ct.Addr(), 7000), msg); got != msg {
				t.Errorf("container %d echoed %q, said %q", i, got, ctrs[i].out)
			}
		}()
	}
	ewg.Wait()
	for i := range ctrs {
		if err := ctrs[i].c.Wait(); err != nil {
			t.Errorf("container %d: %v: %s", i, err, ctrs[i].out)
		}
	}
	waitGone(t, names...)
}

func TestFailedStartLeavesNothing(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	n, err := container.NewNetwork("failing", freeSubnet(t))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	s := freeSubnet(t)
	before := ourLinks()
	for name, opt := range map[string]container.Option{
		"veth":    container.WithVeth(nth(s, 1, 30), nth(s, 2, 30)),
		"network": container.WithNetwork(n),
	} {
		// The init fails after the parent's network steps: exec finds no command.
		c, err := container.New(rootfs, []string{"/no/such/command"}, opt, container.WithHostname(name))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(context.Background()); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s: Start: %v, want ENOENT from exec", name, err)
		}
		if _, ok := n.Addr(name); ok {
			t.Errorf("%s: still a member of the network", name)
		}
	}
	if dirs := ourTempDirs(); len(dirs) != 1 { // the network's own
		t.Errorf("generated files left after a failed Start: %v", dirs)
	}
	waitGone(t, slices.DeleteFunc(ourLinks(), func(l string) bool { return slices.Contains(before, l) || l == n.Bridge() })...)
}

// TestKilledParentLeavesNothing runs a helper process (this test binary) that
// makes a network and starts containers, kills it mid-run, and checks that
// the next Start removes what it left.
func TestKilledParentLeavesNothing(t *testing.T) {
	if os.Getenv("CTRKIT_NET_HELPER") != "" {
		killedParentHelper()
		return
	}
	containertest.SkipUnlessRoot(t)
	s := freeSubnet(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledParentLeavesNothing$", "-test.count=1")
	cmd.Env = append(os.Environ(), "CTRKIT_NET_HELPER="+s.String(), "TMPDIR="+os.TempDir())
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if !strings.HasPrefix(line, "ready ") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper: %q, %v", line, err)
	}
	bridge := strings.TrimSpace(strings.TrimPrefix(line, "ready "))
	helper := cmd.Process.Pid
	var links []string
	for _, l := range allLinks(t) {
		if ownedBy(l.Attrs().Alias, helper) {
			links = append(links, l.Attrs().Name)
		}
	}
	if !slices.Contains(links, bridge) || len(links) != 3 || len(tempDirsOf(helper)) != 3 {
		t.Fatalf("the helper made links %v and directories %v; want its bridge %s, two veths and three directories", links, tempDirsOf(helper), bridge)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	// The next Start reaps the bridge and directories at once, and the veths
	// die with their containers, which died with the helper.
	rootfs := containertest.Rootfs(t)
	containertest.Sh(t, rootfs, "true", container.WithVeth(nth(s, 201, 30), nth(s, 202, 30)))
	var left []string
	for _, l := range allLinks(t) {
		if l.Attrs().Name == bridge {
			left = append(left, bridge)
		}
	}
	if len(left) != 0 || len(tempDirsOf(helper)) != 0 {
		t.Fatalf("left after the next Start: links %v, directories %v", left, tempDirsOf(helper))
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		left = nil
		for _, l := range allLinks(t) {
			if ownedBy(l.Attrs().Alias, helper) {
				left = append(left, l.Attrs().Name)
			}
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the killed helper's links are still there: %v", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func allLinks(t *testing.T) []netlink.Link {
	t.Helper()
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	links, err := h.LinkList()
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		t.Fatal(err)
	}
	return links
}

// killedParentHelper is the helper process: a network with a member, a
// container with a veth, then it waits to be killed.
func killedParentHelper() {
	fail := func(err error) {
		fmt.Println("error", err)
		os.Exit(1)
	}
	s := netip.MustParsePrefix(os.Getenv("CTRKIT_NET_HELPER"))
	dir, err := os.MkdirTemp("", "ctrkit-helper-rootfs-")
	if err != nil {
		fail(err)
	}
	bb, err := containertest.BusyboxPath()
	if err != nil {
		fail(err)
	}
	if err := containertest.BuildBusyboxRootfs(dir, bb); err != nil {
		fail(err)
	}
	n, err := container.NewNetwork("killed", nth(s, 0, 25))
	if err != nil {
		fail(err)
	}
	for _, opt := range []container.Option{container.WithNetwork(n), container.WithVeth(nth(s, 129, 30), nth(s, 130, 30))} {
		c, err := container.New(dir, []string{"/bin/sleep", "1000"}, opt)
		if err != nil {
			fail(err)
		}
		if err := c.Start(context.Background()); err != nil {
			fail(err)
		}
	}
	os.RemoveAll(dir) // the containers have their root already
	fmt.Println("ready", n.Bridge())
	time.Sleep(time.Hour)
}

// TestRootlessVeth: a caller without CAP_NET_ADMIN cannot have a veth, and
// Start says so and leaves nothing. The test binary re-runs itself as uid
// 65534, where TestRootlessVethChild does the work.
func TestRootlessVeth(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	containertest.SkipUnlessUserNS(t)
	rootfs := containertest.Rootfs(t)
	s := freeSubnet(t)
	containertest.RerunAs(t, 65534, 65534, "TestRootlessVethChild", "CTRKIT_ROOTLESS_VETH="+rootfs+" "+s.String())
}

func TestRootlessVethChild(t *testing.T) {
	rootfs, subnet, ok := strings.Cut(os.Getenv("CTRKIT_ROOTLESS_VETH"), " ")
	if !ok {
		t.Skip("skipping: run by TestRootlessVeth as an unprivileged user")
	}
	if os.Geteuid() == 0 {
		t.Fatal("TestRootlessVethChild runs as root")
	}
	s := netip.MustParsePrefix(subnet)
	c, err := container.New(rootfs, []string{"/bin/true"}, container.WithVeth(nth(s, 1, 30), nth(s, 2, 30)))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); !errors.Is(err, unix.EPERM) {
		if err == nil {
			c.Wait()
		}
		t.Fatalf("Start: %v, want EPERM", err)
	}
	if dirs := ourTempDirs(); len(dirs) != 0 {
		t.Fatalf("left after a failed Start: %v", dirs)
	}
}
