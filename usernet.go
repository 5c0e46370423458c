package container

import (
	"errors"
	"fmt"
	"strconv"
	"syscall"
)

// User-mode networking (WithUserNetwork): the pure part, the option, its
// validation in New and the helper's command line. The helper process is
// started, watched and stopped in usernet_linux.go.
//
// The container's network namespace is its own (the default); a user-mode
// network stack on the host, pasta (Debian's passt package) or else
// slirp4netns, joins it, creates a tap interface there and carries the
// container's traffic through ordinary sockets of the caller's. It needs no
// privilege, so it is how a container started without root gets a network.
//
// The address plan is fixed, the same for both helpers (it is slirp4netns's
// own layout, in a link-local subnet so as not to collide with the host's
// networks):
//
//	169.254.2.0/24   the container's subnet, on eth0
//	169.254.2.100    the container's address
//	169.254.2.2      the gateway (default route); connections to it reach
//	                 the host's loopback, 127.0.0.1
//	169.254.2.3      a DNS forwarder to the host's resolver

// The addresses of a container's user-mode network (WithUserNetwork).
const (
	// UserNetworkHost is the address at which a container with
	// [WithUserNetwork] reaches the host's loopback: a connection to
	// UserNetworkHost:port inside the container is a connection to
	// 127.0.0.1:port on the host. It is also the container's gateway.
	UserNetworkHost = "169.254.2.2"
	// UserNetworkAddr is the container's own address on its eth0, in the
	// /24 of UserNetworkHost.
	UserNetworkAddr = "169.254.2.100"
	// UserNetworkDNS is a DNS forwarder to the host's first resolver.
	UserNetworkDNS = "169.254.2.3"
)

const (
	userNetPrefixLen = 24
	userNetCIDR      = "169.254.2.0/24"
	userNetIfname    = "eth0"
	userNetMTU       = 65520
)

// userNetConfig is what WithUserNetwork and WithPublish asked for.
type userNetConfig struct {
	on      bool
	publish []portMap
}

// portMap is one published TCP port: 127.0.0.1:Host on the host to
// Container in the container.
type portMap struct {
	Host, Container uint16
}

// WithUserNetwork gives the container a network without privileges: a
// user-mode network stack on the host, pasta (from Debian's passt package)
// or, where pasta is missing, slirp4netns, joins the container's network
// namespace, creates its eth0 there with the address [UserNetworkAddr]/24
// and a default route via [UserNetworkHost], and carries its traffic
// through sockets of the caller's. TCP connections to [UserNetworkHost]
// reach the host's loopback, 127.0.0.1: a rootless test harness reaches a server
// it runs on the host's 127.0.0.1:port at UserNetworkHost:port.
// [UserNetworkDNS] forwards DNS queries to the host's resolver (the
// container's /etc/resolv.conf stays its root file system's). [WithPublish]
// makes a port of the container reachable on the host's 127.0.0.1. IPv4
// only.
//
// [Container.Start] starts the helper between the clone and the container's
// setup, from the thread the library clones inits from and with a
// parent-death signal, and goes on once the helper has configured eth0;
// [Container.Wait], or a failed Start, kills and reaps it, and a caller that
// is killed takes it along (the parent-death signal; slirp4netns also exits
// when its exit pipe closes). Neither helper needs a privilege, but both need
// /dev/net/tun open to the caller (mode 0666, as Debian's udev makes it). As
// root, pasta is told to keep uid 0 (it drops its capabilities itself): its
// default, switching to nobody, would clear its parent-death signal. Start
// fails when neither helper is in $PATH (the error wraps exec.ErrNotFound and
// names the package), and with the helper's own message when it fails.
//
// It needs the container's own network namespace: it conflicts with
// [WithVeth], [WithNetwork], WithoutNamespace(NSNet) and
// WithNamespacePath(NSNet, ...), and with package oci's WithExecFIFO and
// WithJoin (a container that outlives its caller, or one it joins).
func WithUserNetwork() Option {
	return optionFunc(func(c *config) error {
		c.userNet.on = true
		return nil
	})
}

// WithPublish publishes the container's TCP port containerPort on the
// host's loopback: connections to 127.0.0.1:hostPort on the host reach
// containerPort in the container, where they come from the container's own
// loopback (pasta) or from [UserNetworkHost] (slirp4netns), so a server that
// listens on 0.0.0.0 gets them. Neither port may be 0, and a host port is
// published once. It needs [WithUserNetwork]. The helper listens on hostPort
// from Start to Wait; Start fails when it cannot (the port is taken).
func WithPublish(hostPort, containerPort uint16) Option {
	return optionFunc(func(c *config) error {
		v := strconv.Itoa(int(hostPort)) + ":" + strconv.Itoa(int(containerPort))
		if hostPort == 0 || containerPort == 0 {
			return optErr("WithPublish", v, "ports must not be 0")
		}
		for _, p := range c.userNet.publish {
			if p.Host == hostPort {
				return optErr("WithPublish", v, "host port %d is published already (to %d)", hostPort, p.Container)
			}
		}
		c.userNet.publish = append(c.userNet.publish, portMap{Host: hostPort, Container: containerPort})
		return nil
	})
}

// finish checks the user network against the other networking options; it
// runs from config.finish, after netConfig.finish.
func (u *userNetConfig) finish(c *config) error {
	if !u.on {
		if len(u.publish) > 0 {
			p := u.publish[0]
			return optErr("WithPublish", fmt.Sprintf("%d:%d", p.Host, p.Container), "needs WithUserNetwork")
		}
		return nil
	}
	switch {
	case c.net.network != nil:
		return optErr("WithUserNetwork", nil, "conflicts with WithNetwork: a container has one network")
	case len(c.net.veth) > 0:
		return optErr("WithUserNetwork", nil, "conflicts with WithVeth: a container has one network")
	case c.net.nsPath != "":
		return optErr("WithUserNetwork", nil, "conflicts with WithNamespacePath(NSNet): a joined namespace's interfaces are its maker's")
	case c.namespaces&NSNet == 0:
		return optErr("WithUserNetwork", nil, "needs the container's own network namespace: conflicts with WithoutNamespace(NSNet)")
	case c.detached():
		return optErr("WithUserNetwork", nil, "conflicts with WithExecFIFO and WithJoin: the helper lives and dies with its caller, and a joined container has its network already")
	}
	return nil
}

// userNetHelper is a user-mode network helper program.
type userNetHelper string

const (
	helperPasta       userNetHelper = "pasta"
	helperSlirp4netns userNetHelper = "slirp4netns"
)

// userNetTarget is where the helper goes: the init's namespaces, as paths
// the helper can open (the parent passes them as descriptors it inherits:
// pasta as root drops the capabilities that opening another process's
// /proc/PID/ns files needs before it opens them).
type userNetTarget struct {
	netns  string
	userns string // "" when the container has no user namespace of its own
	root   bool   // the caller is root (pasta would switch to nobody)
}

// pastaArgs is pasta's command line (Debian's 0.0~git20230309): in the
// foreground (it stays the caller's child, with its parent-death signal),
// quiet, configuring the namespace's eth0 with the plan's addresses, IPv4 only,
// the gateway mapped to the host's loopback (pasta's default), only the
// published ports forwarded from the host and none the other way, DHCP off,
// its pid written to pidFile once it is ready, staying when the namespace's
// path goes (Wait stops it).
func pastaArgs(u *userNetConfig, t userNetTarget, pidFile string) []string {
	args := []string{
		"--foreground", "--quiet", "--config-net", "--ipv4-only",
		"--ns-ifname", userNetIfname, "--mtu", strconv.Itoa(userNetMTU),
		"--address", UserNetworkAddr, "--netmask", strconv.Itoa(userNetPrefixLen),
		"--gateway", UserNetworkHost, "--dns-forward", UserNetworkDNS,
		"--no-dhcp", "--no-ndp", "--no-dhcpv6", "--no-ra",
		"--udp-ports", "none", "--tcp-ns", "none", "--udp-ns", "none",
	}
	if len(u.publish) == 0 {
		args = append(args, "--tcp-ports", "none")
	}
	for _, p := range u.publish {
		args = append(args, "--tcp-ports", fmt.Sprintf("127.0.0.1/%d:%d", p.Host, p.Container))
	}
	if t.root {
		args = append(args, "--runas", "0:0")
	}
	args = append(args, "--pid", pidFile)
	if t.userns != "" {
		args = append(args, "--userns", t.userns)
	}
	return append(args, "--netns", t.netns, "--no-netns-quit")
}

// slirpArgs is slirp4netns's command line (1.2): the namespace's eth0
// configured in the plan's subnet (slirp4netns puts the gateway at .2, its
// DNS at .3 and the container at .100), the host's loopback reachable at the
// gateway (its default), readiness written to readyFD, exiting when exitFD
// is closed, ports published through the API socket at apiSocket (none
// without published ports).
func slirpArgs(t userNetTarget, readyFD, exitFD int, apiSocket string) []string {
	args := []string{
		"--configure", "--mtu=" + strconv.Itoa(userNetMTU), "--cidr=" + userNetCIDR,
		"--ready-fd=" + strconv.Itoa(readyFD), "--exit-fd=" + strconv.Itoa(exitFD),
	}
	if apiSocket != "" {
		args = append(args, "--api-socket="+apiSocket)
	}
	if t.userns != "" {
		args = append(args, "--userns-path="+t.userns)
	}
	return append(args, "--netns-type=path", t.netns, userNetIfname)
}

// slirpHostfwd is the API request that publishes p (slirp4netns(1), "API").
func slirpHostfwd(p portMap) string {
	return fmt.Sprintf(`{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"127.0.0.1","host_port":%d,"guest_port":%d}}`, p.Host, p.Container)
}

// needNetAdmin explains an EPERM of the veth and bridge steps (op names the
// option: WithVeth, WithNetwork, NewNetwork): they need CAP_NET_ADMIN in the
// host's network namespace, which only root has, and a caller without it
// gets a network with WithUserNetwork.
func needNetAdmin(op string, err error) error {
	if err == nil || !errors.Is(err, syscall.EPERM) {
		return err
	}
	return fmt.Errorf("container: %s needs root (CAP_NET_ADMIN in the host's network namespace); without it, WithUserNetwork gives a container a network: %w", op, err)
}

// vethOption names the option that gave the container its veth pair.
func (n *netConfig) vethOption() string {
	if n.network != nil {
		return "WithNetwork"
	}
	return "WithVeth"
}
