package container_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ctrkit/container"
	"github.com/ctrkit/container/containertest"
)

// skipUnlessUserNetHelper skips unless helper is installed and /dev/net/tun
// is open to every user, as Debian's udev makes it (mode 0666), which the
// helper needs when it runs as an unprivileged user.
func skipUnlessUserNetHelper(t *testing.T, helper string) {
	t.Helper()
	if _, err := exec.LookPath(helper); err != nil {
		// Not fatal on CI: .ci/run installs both, its cgroup v2 guest neither.
		t.Skipf("skipping: %v (Debian's passt package has pasta)", err)
	}
	fi, err := os.Stat("/dev/net/tun")
	if err != nil {
		t.Skipf("skipping: %v", err)
	}
	if fi.Mode().Perm()&0o006 != 0o006 {
		t.Skipf("skipping: /dev/net/tun is mode %v: an unprivileged %s needs it 0666, as Debian's udev makes it", fi.Mode().Perm(), helper)
	}
}

// TestUserNetwork runs WithUserNetwork rootless, with pasta and with the
// slirp4netns fallback: the test binary re-runs itself as uid 65534 and
// TestUserNetworkChild does the work there.
func TestUserNetwork(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	containertest.SkipUnlessUserNS(t)
	for _, helper := range []string{"pasta", "slirp4netns"} {
		t.Run(helper, func(t *testing.T) {
			skipUnlessUserNetHelper(t, helper)
			rootfs := containertest.Rootfs(t)
			out := containertest.RerunAs(t, 65534, 65534, "TestUserNetworkChild", "CTR_USERNET_ROOTFS="+rootfs, "CTR_USERNET_HELPER="+helper)
			t.Logf("as uid 65534:\n%s", out)
		})
	}
}

// TestUserNetworkAsRoot runs the same checks as root, without a user
// namespace: pasta keeps uid 0 for its parent-death signal.
func TestUserNetworkAsRoot(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	for _, helper := range []string{"pasta", "slirp4netns"} {
		t.Run(helper, func(t *testing.T) {
			if _, err := exec.LookPath(helper); err != nil {
				t.Skipf("skipping: %v", err)
			}
			defer container.SetUserNetHelpers(helper)()
			rootfs := containertest.Rootfs(t)
			checkUserNetwork(t, rootfs, helper)
			checkOrphanedHelper(t, rootfs, helper)
		})
	}
}

// As root, in a user namespace of the container's own (root mapped to
// root), the helper joins that namespace too.
func TestUserNetworkAsRootInUserNS(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	containertest.SkipUnlessUserNS(t)
	for _, helper := range []string{"pasta", "slirp4netns"} {
		t.Run(helper, func(t *testing.T) {
			if _, err := exec.LookPath(helper); err != nil {
				t.Skipf("skipping: %v", err)
			}
			defer container.SetUserNetHelpers(helper)()
			port := serveHello(t)
			script := fmt.Sprintf("grep -c . /proc/self/uid_map; wget -q -O- http://%s:%d/", container.UserNetworkHost, port)
			out, err := containertest.CombinedOutput(t, containertest.Rootfs(t), []string{"/bin/sh", "-c", script},
				container.WithUserNetwork(), container.WithNamespaces(container.NSMount|container.NSUTS|container.NSIPC|container.NSPID|container.NSNet|container.NSUser))
			if err != nil || !strings.HasPrefix(out, "1\nhost says hello to 127.0.0.1:") {
				t.Fatalf("%s: %q, %v; want the user namespace's one line and the host's greeting", helper, out, err)
			}
			if n := helperChildren(t); n != nil {
				t.Fatalf("%s: helper still running after Wait: %v", helper, n)
			}
		})
	}
}

func TestUserNetworkChild(t *testing.T) {
	rootfs, helper := os.Getenv("CTR_USERNET_ROOTFS"), os.Getenv("CTR_USERNET_HELPER")
	if rootfs == "" {
		t.Skip("skipping: run by TestUserNetwork as an unprivileged user")
	}
	if os.Geteuid() == 0 {
		t.Fatal("TestUserNetworkChild runs as root")
	}
	defer container.SetUserNetHelpers(helper)()
	checkUserNetwork(t, rootfs, helper)
	checkOrphanedHelper(t, rootfs, helper)
}

// TestVethNeedsRoot: without root, WithVeth and NewNetwork fail saying they
// need root and pointing at WithUserNetwork (as uid 65534, in
// TestVethNeedsRootChild).
func TestVethNeedsRoot(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	containertest.SkipUnlessUserNS(t)
	rootfs := containertest.Rootfs(t)
	t.Logf("as uid 65534:\n%s", containertest.RerunAs(t, 65534, 65534, "TestVethNeedsRootChild", "CTR_VETH_ROOTFS="+rootfs))
}

func TestVethNeedsRootChild(t *testing.T) {
	rootfs := os.Getenv("CTR_VETH_ROOTFS")
	if rootfs == "" {
		t.Skip("skipping: run by TestVethNeedsRoot as an unprivileged user")
	}
	checkVethNeedsRoot(t, rootfs)
}

// checkUserNetwork: the container has eth0 with the documented address,
// reaches a server on the host's 127.0.0.1 at UserNetworkHost, and a server
// in it is reached from the host through a published port; no helper
// survives Wait or a Start that failed after the helper started.
func checkUserNetwork(t *testing.T, rootfs, helper string) {
	t.Helper()
	if n := helperChildren(t); n != nil {
		t.Fatalf("helpers running before the test: %v", n)
	}

	// The host's loopback, from the container.
	port := serveHello(t)
	script := fmt.Sprintf("ip -4 -o addr show eth0 | awk '{print $4}'; ip route | grep default; wget -q -O- http://%s:%d/", container.UserNetworkHost, port)
	out, err := containertest.CombinedOutput(t, rootfs, []string{"/bin/sh", "-c", script}, container.WithUserNetwork())
	if err != nil {
		t.Fatalf("%s: container reaching the host's loopback: %v\n%s", helper, err, out)
	}
	want := fmt.Sprintf("%s/24\ndefault via %s dev eth0", container.UserNetworkAddr, container.UserNetworkHost)
	if !strings.HasPrefix(out, want) || !strings.Contains(out, "host says hello to 127.0.0.1:") {
		t.Fatalf("%s: container output:\n%s\nwant %q, then the host's greeting from 127.0.0.1", helper, out, want)
	}
	t.Logf("%s: the container reaching the host:\n%s", helper, out)
	if n := helperChildren(t); n != nil {
		t.Fatalf("%s: helper still running after Wait: %v", helper, n)
	}

	// A published port, from the host.
	hostPort := freePort(t)
	c, cout := containertest.Start(t, rootfs,
		[]string{"/bin/sh", "-c", "mkdir /tmp/www && echo container says hello > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www"},
		container.WithUserNetwork(), container.WithPublish(hostPort, 8080))
	pid := container.UserNetHelperPid(c)
	if pid == 0 {
		t.Fatal("no helper pid")
	}
	body, err := getRetry(fmt.Sprintf("http://127.0.0.1:%d/index.html", hostPort))
	if err != nil || body != "container says hello\n" {
		t.Fatalf("%s: GET through the published port %d: %q, %v\n%s", helper, hostPort, body, err, cout)
	}
	t.Logf("%s (pid %d): the host reaching 127.0.0.1:%d: %q", helper, pid, hostPort, body)
	c.Signal(syscall.SIGKILL)
	var ee *container.ExitError
	if err := c.Wait(); !errors.As(err, &ee) {
		t.Fatalf("Wait: %v, want the SIGKILL exit", err)
	}
	if alive(strconv.Itoa(pid)) {
		t.Fatalf("%s: helper %d still runs after Wait", helper, pid)
	}

	// A Start that fails after the helper started (the init's chdir, after
	// "go") leaves no helper.
	cf, err := container.New(rootfs, []string{"/bin/true"}, container.WithUserNetwork(), container.WithPublish(hostPort, 8080), container.WithDir("/does/not/exist"))
	if err != nil {
		t.Fatal(err)
	}
	var se *container.SetupError
	if err := cf.Start(context.Background()); !errors.As(err, &se) || se.Op != "chdir" {
		t.Fatalf("Start: %v, want the chdir SetupError", err)
	}
	if n := helperChildren(t); n != nil {
		t.Fatalf("%s: helper still running after a failed Start: %v", helper, n)
	}
	// The port it had is free again.
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(int(hostPort)))
	if err != nil {
		t.Fatalf("%s: host port %d after the failed Start: %v", helper, hostPort, err)
	}
	l.Close()
}

// checkOrphanedHelper: a caller killed while its container runs leaves no
// helper: the test binary runs itself once more (TestUserNetworkOrphan),
// which starts a container and reports its helper's pid, and kills it.
func checkOrphanedHelper(t *testing.T, rootfs, helper string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^TestUserNetworkOrphan$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "CTR_USERNET_ORPHAN=1", "CTR_USERNET_ROOTFS="+rootfs, "CTR_USERNET_HELPER="+helper)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stdout)
	var helperPid, initPid int
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "helper %d init %d", &helperPid, &initPid); err == nil {
			break
		}
	}
	if helperPid == 0 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("%s: the orphaned caller reported no helper", helper)
	}
	cmd.Process.Kill()
	cmd.Wait()
	go io.Copy(io.Discard, stdout)
	deadline := time.Now().Add(10 * time.Second)
	for (alive(strconv.Itoa(helperPid)) || alive(strconv.Itoa(initPid))) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if alive(strconv.Itoa(helperPid)) {
		t.Fatalf("%s: helper %d survives its killed caller", helper, helperPid)
	}
	if alive(strconv.Itoa(initPid)) {
		t.Fatalf("%s: container init %d survives its killed caller", helper, initPid)
	}
	t.Logf("%s: helper %d and init %d gone with their killed caller", helper, helperPid, initPid)
}

// TestUserNetworkOrphan is run by checkOrphanedHelper: it starts a container
// with a user network, prints its helper's and init's pids and waits to be
// killed.
func TestUserNetworkOrphan(t *testing.T) {
	if os.Getenv("CTR_USERNET_ORPHAN") != "1" {
		t.Skip("skipping: run by TestUserNetwork")
	}
	defer container.SetUserNetHelpers(os.Getenv("CTR_USERNET_HELPER"))()
	c, err := container.New(os.Getenv("CTR_USERNET_ROOTFS"), []string{"/bin/sleep", "60"}, container.WithUserNetwork())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("helper %d init %d\n", container.UserNetHelperPid(c), c.Pid())
	c.Wait()
}

// checkVethNeedsRoot: without root, WithVeth and NewNetwork fail saying so
// and pointing at WithUserNetwork, with the kernel's EPERM kept.
func checkVethNeedsRoot(t *testing.T, rootfs string) {
	t.Helper()
	c, err := container.New(rootfs, []string{"/bin/true"}, container.WithVeth(netip.MustParsePrefix("169.254.30.1/30"), netip.MustParsePrefix("169.254.30.2/30")))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Start(context.Background())
	if err == nil {
		c.Wait()
	}
	if !errors.Is(err, syscall.EPERM) || !strings.Contains(err.Error(), "WithVeth needs root (CAP_NET_ADMIN") || !strings.Contains(err.Error(), "WithUserNetwork") {
		t.Fatalf("rootless WithVeth: Start: %v, want EPERM saying it needs root and pointing at WithUserNetwork", err)
	}
	t.Logf("WithVeth: %v", err)
	n, err := container.NewNetwork("net", netip.MustParsePrefix("169.254.31.0/24"))
	if err == nil {
		n.Close()
	}
	if !errors.Is(err, syscall.EPERM) || !strings.Contains(err.Error(), "NewNetwork needs root (CAP_NET_ADMIN") || !strings.Contains(err.Error(), "WithUserNetwork") {
		t.Fatalf("rootless NewNetwork: %v, want EPERM saying it needs root and pointing at WithUserNetwork", err)
	}
	t.Logf("NewNetwork: %v", err)
}

// helperChildren lists this process's children that are user-network
// helpers, or nil.
func helperChildren(t *testing.T) []string {
	t.Helper()
	var out []string
	tasks, _ := filepath.Glob("/proc/self/task/*/children")
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, pid := range strings.Fields(string(b)) {
			comm, _ := os.ReadFile("/proc/" + pid + "/comm") // pasta execs passt.avx2 where it can
			if name := strings.TrimSpace(string(comm)); strings.HasPrefix(name, "pasta") || strings.HasPrefix(name, "passt") || name == "slirp4netns" {
				out = append(out, pid+" "+name)
			}
		}
	}
	return out
}

// serveHello serves HTTP on the host's 127.0.0.1 until the test ends,
// greeting the client by its address, and returns the port.
func serveHello(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "host says hello to %s\n", r.RemoteAddr)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) uint16 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

// getRetry GETs url until the server in the container answers.
func getRetry(url string) (string, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	var err error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var resp *http.Response
		if resp, err = client.Get(url); err == nil {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK {
				return string(b), nil
			}
			err = fmt.Errorf("status %s, %v", resp.Status, rerr)
		}
	}
	return "", err
}

// Without pasta and slirp4netns, Start fails naming the package to install,
// and leaves nothing behind (TestMain checks).
func TestUserNetworkMissingHelper(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	defer container.SetUserNetHelpers("ctrkit-no-pasta", "ctrkit-no-slirp4netns")()
	c, err := container.New(containertest.Rootfs(t), []string{"/bin/true"}, container.WithUserNetwork())
	if err != nil {
		t.Fatal(err)
	}
	err = c.Start(context.Background())
	if err == nil {
		c.Wait()
	}
	if !errors.Is(err, exec.ErrNotFound) || !strings.Contains(err.Error(), "install Debian's passt package") {
		t.Fatalf("Start: %v, want exec.ErrNotFound naming the passt package", err)
	}
	t.Log(err)
}
