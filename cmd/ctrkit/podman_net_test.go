package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
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
	// hierarchy has hugetlb); changing that would change the host. So crun
	// runs as crunV1 makes it: in a mount namespace of its own without the
	// unified hierarchy, a deviation of crun's alone.
	gave := map[string]string{}
	for _, rt := range []struct{ name, path, port string }{
		{"ctrkit", p.runtime, "8080"},
		{"crun", crunV1(t), "8081"},
	} {
		t.Run(rt.name, func(t *testing.T) {
			if rt.path == "" {
				skipOrFail(t, "crun is not installed (Debian package crun; .ci/run installs it)")
			}
			ok := func(args ...string) string {
				t.Helper()
				return succeeded(t, "podman --runtime "+rt.name, args)(p.runWith(t, rt.path, args...))
			}
			web := "web-" + rt.name
			defer p.runWith(t, rt.path, "rm", "--force", "--time", "0", web)
			ok(append(append([]string{"run", "-d"}, "--cgroup-parent", p.parent), "--network", network, "--name", web, "-p", "127.0.0.1:"+rt.port+":80",
				"localhost/bb", "sh", "-c", "mkdir /www && echo hello from "+web+" >/www/index.html && exec httpd -f -p 80 -h /www")...)
			// What podman asks for by default and the runtime gave, to compare
			// with crun's.
			id := strings.TrimSpace(ok("inspect", "--format", "{{.Id}}", web))
			pids, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/pids", p.parent, "libpod-"+id, "pids.max"))
			if err != nil {
				t.Error(err)
			}
			gave[rt.name] = string(pids) + ok("exec", web, "sh", "-c", podmanDefaultsShown)
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
			out := ok(append(append([]string{"run", "--rm"}, "--cgroup-parent", p.parent), "--network", network, "localhost/bb", "sh", "-c",
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
	// With --network host podman leaves its default net sysctls out (they
	// would change the host's, here the test's namespace's): the container
	// shares that namespace and its value.
	t.Run("network host", func(t *testing.T) {
		want := succeeded(t, "cat", nil)(runTool(t, p.nsenter("cat", "/proc/sys/net/ipv4/ping_group_range")))
		out := p.ok(t, "run", "--rm", "--cgroup-parent", p.parent, "--network", "host", "localhost/bb", "sh", "-c",
			"cat /proc/sys/net/ipv4/ping_group_range; readlink /proc/self/ns/net")
		ns, err := os.Readlink("/proc/" + p.holder + "/ns/net")
		if err != nil {
			t.Fatal(err)
		}
		if out != want+ns+"\n" {
			t.Fatalf("--network host: %q; want %q and podman's network namespace %s", out, want, ns)
		}
	})
	// ctrkit gives what crun gives: podman's default pids limit (2048),
	// capabilities, seccomp filter, rlimits, user, umask, sysctls.
	if gave["ctrkit"] == "" || gave["crun"] == "" {
		return
	}
	if gave["ctrkit"] != gave["crun"] {
		t.Errorf("podman's defaults as ctrkit gave them:\n%s\nas crun gave them:\n%s", gave["ctrkit"], gave["crun"])
	}
	t.Logf("podman's defaults as both runtimes gave them:\n%s", gave["ctrkit"])
	p.ok(t, "network", "rm", network)
}

// podmanDefaultsShown is a script that prints what of podman's defaults the
// runtime applied to the container's first process.
const podmanDefaultsShown = `grep -E "^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp(_filters)?):" /proc/1/status
grep -E "^Max (open files|processes) " /proc/1/limits
grep -E "^Umask" /proc/1/status
cat /proc/sys/net/ipv4/ping_group_range
id
test -s /proc/kcore && echo kcore readable || echo kcore masked
`

// crunV1 returns the path of a script named crun that runs Debian's crun in
// a new mount namespace where, on a hybrid cgroup host, the unified
// hierarchy is unmounted (crun then sees cgroup v1 alone), or "" if crun is
// not installed.
func crunV1(t *testing.T) string {
	crun, err := exec.LookPath("crun")
	if err != nil {
		return ""
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	path := filepath.Join(dir, "crun")
	script := `#!/bin/sh
exec unshare --mount --propagation private sh -c 'if grep -q " /sys/fs/cgroup/unified " /proc/self/mountinfo; then umount /sys/fs/cgroup/unified || exit 1; fi; exec "$0" "$@"' ` + crun + ` "$@"
`
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}
