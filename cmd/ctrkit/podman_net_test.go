package main

import (
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// podmanSubnet is the link-local subnet of the test's podman network: in
// the network namespace of the test's own, away from 169.254.2.0/24 (the
// library's WithUserNetwork) and 169.254.169.254.
const podmanSubnet = "169.254.3.0/24"

// podmanPingGroupRange is /proc/sys/net/ipv4/ping_group_range as podman's
// default_sysctls ("net.ipv4.ping_group_range=0 0", containers-common's
// containers.conf) sets it; a new network namespace starts with "1 0".
const podmanPingGroupRange = "0\t0\n"

// TestPodmanNetwork runs podman in its default network mode (bridge, with
// Debian's backend: netavark with aardvark-dns for names) on a network the
// test creates on a link-local subnet, in a network namespace of the test's
// own (see newPodman), with ctrkit and, to tell the machine's limits from
// ctrkit's, crun as the runtime: two containers reach each other by name,
// -p publishes a port on that namespace's loopback, podman's default
// sysctls are applied in the containers' network namespaces (ones podman
// made and binds in /run/netns; the runtime joins them by path).
func TestPodmanNetwork(t *testing.T) {
	p := newPodman(t, podmanBridge)
	backend := strings.TrimSpace(p.ok(t, "info", "--format", "{{.Host.NetworkBackend}}"))
	t.Logf("podman's network backend: %s", backend)
	const network = "ctknet"
	p.ok(t, "network", "create", "--subnet", podmanSubnet, network)
	if dns := strings.TrimSpace(p.ok(t, "network", "inspect", "--format", "{{.DNSEnabled}}", network)); dns != "true" {
		t.Fatalf("network %s: dns_enabled %s; want true (%s's DNS: aardvark-dns)", network, dns, backend)
	}
	bridge := strings.TrimSpace(p.ok(t, "network", "inspect", "--format", "{{.NetworkInterface}}", network))
	// crun (1.8) refuses this machine's hybrid cgroups ("cgroups in hybrid
	// mode not supported, drop all controllers from cgroupv2": the unified
	// hierarchy has hugetlb), a change of the host's: its containers run
	// with --cgroups disabled, a deviation of crun's alone.
	for _, rt := range []struct {
		name, path, port string
		cgroups          []string
	}{
		{"ctrkit", p.runtime, "8080", []string{"--cgroup-parent", p.parent}},
		{"crun", "crun", "8081", []string{"--cgroups", "disabled"}},
	} {
		t.Run(rt.name, func(t *testing.T) {
			if rt.name == "crun" {
				if _, err := os.Stat("/usr/bin/crun"); err != nil {
					t.Skipf("crun is not installed (Debian package crun; .ci/run installs it): %v", err)
				}
			}
			ok := func(args ...string) string {
				t.Helper()
				return succeeded(t, "podman --runtime "+rt.name, args)(p.runWith(t, rt.path, args...))
			}
			web := "web-" + rt.name
			defer p.runWith(t, rt.path, "rm", "--force", "--time", "0", web)
			ok(append(append([]string{"run", "-d"}, rt.cgroups...), "--network", network, "--name", web, "-p", "127.0.0.1:"+rt.port+":80",
				"localhost/bb", "sh", "-c", "mkdir /www && echo hello from "+web+" >/www/index.html && exec httpd -f -p 80 -h /www")...)
			cfgPath := strings.TrimSpace(ok("inspect", "--format", "{{.OCIConfigPath}}", web))
			if b, err := os.ReadFile(cfgPath); err == nil {
				os.WriteFile("/tmp/podman-spec-"+rt.name+".json", b, 0o644)
			}
			if got := ok("exec", web, "cat", "/proc/sys/net/ipv4/ping_group_range"); got != podmanPingGroupRange {
				t.Errorf("%s: net.ipv4.ping_group_range %q, want podman's default %q", web, got, podmanPingGroupRange)
			}
			// What podman's backend made is in the test's network
			// namespace: the bridge is there, not on the host.
			if _, _, code := runTool(t, p.nsenter("ip", "link", "show", bridge)); code != 0 {
				t.Errorf("no bridge %s in podman's network namespace", bridge)
			}
			if _, err := net.InterfaceByName(bridge); err == nil {
				t.Errorf("bridge %s on the host", bridge)
			}
			// The client finds the server by name (aardvark-dns on the
			// bridge's address); httpd may not listen yet.
			want := "hello from " + web + "\n"
			out := ok(append(append([]string{"run", "--rm"}, rt.cgroups...), "--network", network, "localhost/bb", "sh", "-c",
				"cat /proc/sys/net/ipv4/ping_group_range; for i in $(seq 100); do wget -q -O- http://"+web+"/ && exit; sleep 0.1; done; cat /etc/resolv.conf; exit 1")...)
			if out != podmanPingGroupRange+want {
				t.Errorf("client: %q; want %q and %q", out, podmanPingGroupRange, want)
			}
			// -p 127.0.0.1:PORT:80: the loopback of podman's network
			// namespace, from a client there.
			var got string
			for i := 0; i < 100 && got != want; i++ {
				got, _, _ = runTool(t, p.nsenter("busybox", "wget", "-q", "-O-", "http://127.0.0.1:"+rt.port+"/"))
				if got != want {
					time.Sleep(100 * time.Millisecond)
				}
			}
			if got != want {
				t.Errorf("wget http://127.0.0.1:%s/ in podman's network namespace: %q; want %q", rt.port, got, want)
			}
		})
	}
	p.ok(t, "network", "rm", network)
}
