package main

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ctrkit/container/containertest"
	"github.com/ctrkit/container/oci"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// criSubnet is the pods' network: link-local, inside the daemon's private
// network namespace.
const criSubnet = "169.254.4.0/24"

// The images the test builds and imports: nothing is pulled.
const (
	criPauseImage = "localhost/ctrkit-pause:test"
	criImage      = "localhost/ctrkit-busybox:test"
)

// crictlEnv names the crictl binary the test uses; without it, crictl in
// PATH. .ci/run builds crictl through the Go module proxy and sets it.
const crictlEnv = "CTRKIT_CRICTL"

// criDaemon is a private containerd (Debian's, 1.6) with its CRI plugin on,
// driven as kubelet drives it, with crictl: its own root, state, socket and
// config in a scratch directory, a runtime handler "ctrkit" of type
// io.containerd.runc.v2 whose BinaryName is this test binary run as ctrkit
// (with a runtime root of the test's), the cgroupfs driver, a sandbox image
// built here and imported, and Debian's CNI plugins on a link-local bridge
// configured in a private directory (host-local IPAM data there too).
// containerd, its shims, the CNI plugins and the pods run in a private
// network namespace (loopback up) and a private mount namespace with tmpfs
// on /run (the shims' sockets, the pods' network namespace mounts) and on
// /var/lib (libcni's cache, /var/lib/cni; containerd's directories are the
// test's): nothing changes in the host's network, mount table or file
// system. crictl talks to the socket from outside.
type criDaemon struct {
	t      *testing.T
	dir    string
	crictl string
	conf   string // crictl's config file
	sock   string
	rtRoot string // the handler's Root: the shim runs ctrkit with --root ROOT/k8s.io
	parent string // the pods' cgroup parents go below this one
	v2     bool
	mntns  string // containerd's mount namespace
	netns  string // and network namespace
}

func newCRI(t *testing.T) *criDaemon {
	containertest.SkipUnlessRoot(t)
	crictl := os.Getenv(crictlEnv)
	if crictl == "" {
		p, err := exec.LookPath("crictl")
		if err != nil {
			skipOrFail(t, "crictl is not installed (.ci/run builds it: go install sigs.k8s.io/cri-tools/cmd/crictl@v1.37.0; or set %s): %v", crictlEnv, err)
		}
		crictl = p
	} else if _, err := os.Stat(crictl); err != nil {
		t.Fatalf("%s: %v", crictlEnv, err)
	}
	for _, tool := range []string{"containerd", "ctr", "containerd-shim-runc-v2", "unshare", "ip", "tar", "gcc"} {
		if _, err := exec.LookPath(tool); err != nil {
			skipOrFail(t, "%s is not installed (Debian packages containerd, iproute2, gcc; .ci/run installs them): %v", tool, err)
		}
	}
	for _, plugin := range []string{"bridge", "host-local", "loopback"} {
		if _, err := os.Stat(filepath.Join("/usr/lib/cni", plugin)); err != nil {
			skipOrFail(t, "no CNI plugin %s (Debian package containernetworking-plugins; .ci/run installs it): %v", plugin, err)
		}
	}
	before, err := containertest.HostMounts()
	if err != nil {
		t.Fatal(err)
	}
	_, statErr := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	dir := containertest.ShortTempDir(t) // the sockets go below it
	os.Chmod(dir, 0o755)
	c := &criDaemon{t: t, dir: dir, crictl: crictl, sock: filepath.Join(dir, "c.sock"), rtRoot: filepath.Join(dir, "ctrkit"),
		parent: fmt.Sprintf("/ctrkit-cri-%d", os.Getpid()), v2: statErr == nil}
	for _, sub := range []string{"cni", "ipam", "logs", "images"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	conf := fmt.Sprintf(`version = 2
root = "%[1]s/root"
state = "%[1]s/state"
[grpc]
  address = %[2]q
[ttrpc]
  address = "%[2]s.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[3]q
  # A root without CAP_SYS_RESOURCE (this machine's) cannot lower
  # oom_score_adj below its own: the CRI then raises what it asks to that.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "ctrkit"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.ctrkit]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.ctrkit.options]
        BinaryName = %[4]q
        Root = %[5]q
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "%[1]s/cni"
    max_conf_num = 1
`, dir, c.sock, criPauseImage, runtimePath(t), c.rtRoot)
	cni := fmt.Sprintf(`{"cniVersion": "1.0.0", "name": "ctrkit-cri", "plugins": [{"type": "bridge", "bridge": "ctrkitcri0",
  "isGateway": true, "ipMasq": false, "ipam": {"type": "host-local", "ranges": [[{"subnet": %q}]], "dataDir": "%s/ipam"}}]}
`, criSubnet, dir)
	c.conf = filepath.Join(dir, "crictl.yaml")
	crictlConf := fmt.Sprintf("runtime-endpoint: unix://%[1]s\nimage-endpoint: unix://%[1]s\ntimeout: 60\n", c.sock)
	for file, content := range map[string]string{"config.toml": conf, "cni/10-ctrkit.conflist": cni, "crictl.yaml": crictlConf} {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	log, err := os.Create(filepath.Join(dir, "daemon.log"))
	if err != nil {
		t.Fatal(err)
	}
	daemon := exec.Command("unshare", "--net", "--mount", "--propagation", "private", "sh", "-c",
		`mount -t tmpfs -o mode=0755 tmpfs /run && mount -t tmpfs -o mode=0755 tmpfs /var/lib && mkdir /var/lib/cni && ip link set lo up && exec "$@"`,
		"sh", "containerd", "--config", filepath.Join(dir, "config.toml"))
	daemon.Stdout, daemon.Stderr = log, log
	daemon.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := daemon.Start(); err != nil {
		log.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- daemon.Wait() }()
	t.Cleanup(func() {
		c.stop(daemon.Process.Pid, done)
		log.Close()
		if after, _ := containertest.HostMounts(); after != before {
			t.Errorf("the host's mount table changed:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("containerd's log:\n%s", b)
		}
	})
	ns := newNamespaces(t, daemon.Process.Pid, "mnt", "net")
	c.mntns, c.netns = ns[0], ns[1]
	waitUp(t, "containerd's CRI", done, log.Name(), func() bool {
		_, _, code := c.run("version")
		return code == 0
	})
	c.importImage(criPauseImage, c.pauseRootfs(), []string{"/pause"})
	rootfs := containertest.Rootfs(t)
	c.importImage(criImage, rootfs, []string{"sh"})
	return c
}

// pauseRootfs returns a root file system with a static /pause built here:
// it waits for SIGTERM or SIGINT and reaps children, as kubernetes' pause.
func (c *criDaemon) pauseRootfs() string {
	t := c.t
	src := filepath.Join(c.dir, "pause.c")
	prog := `#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
static void stop(int s) { _exit(0); }
static void reap(int s) { while (waitpid(-1, 0, WNOHANG) > 0) ; }
int main(void) {
	signal(SIGTERM, stop);
	signal(SIGINT, stop);
	signal(SIGCHLD, reap);
	for (;;) pause();
}
`
	if err := os.WriteFile(src, []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	rootfs := t.TempDir()
	os.Chmod(rootfs, 0o755)
	if out, err := exec.Command("gcc", "-static", "-O2", "-o", filepath.Join(rootfs, "pause"), src).CombinedOutput(); err != nil {
		t.Fatalf("gcc pause.c: %v: %s", err, out)
	}
	return rootfs
}

// importImage makes an image named ref of one layer, rootfs, running cmd,
// writes it as a docker archive and imports it with ctr into containerd's
// k8s.io namespace (unpacked for the CRI's snapshotter).
func (c *criDaemon) importImage(ref string, rootfs string, cmd []string) {
	t := c.t
	base := filepath.Join(c.dir, "images", strings.NewReplacer("/", "_", ":", "_").Replace(ref))
	if out, err := exec.Command("tar", "-C", rootfs, "-cf", base+".layer.tar", ".").CombinedOutput(); err != nil {
		t.Fatalf("tar %s: %v: %s", rootfs, err, out)
	}
	layer, err := tarball.LayerFromFile(base + ".layer.tar")
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: runtime.GOARCH, OS: "linux",
		RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{mustDiffID(t, layer)}},
		Config: v1.Config{Cmd: cmd, Env: []string{"PATH=/bin:/usr/bin:/sbin:/usr/sbin"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(base+".tar", tag, img); err != nil {
		t.Fatalf("write %s: %v", ref, err)
	}
	succeeded(t, "ctr", nil)(runTool(t, exec.Command("ctr", "--address", c.sock, "-n", "k8s.io", "images", "import", base+".tar")))
}

func mustDiffID(t *testing.T, l v1.Layer) v1.Hash {
	h, err := l.DiffID()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// run runs crictl: stdout, stderr, exit status.
func (c *criDaemon) run(args ...string) (string, string, int) {
	c.t.Helper()
	return runTool(c.t, exec.Command(c.crictl, append([]string{"--config", c.conf}, args...)...))
}

// ok runs crictl, failing the test unless it exits 0; it returns crictl's
// stdout, trimmed.
func (c *criDaemon) ok(args ...string) string {
	c.t.Helper()
	return strings.TrimSpace(succeeded(c.t, "crictl", args)(c.run(args...)))
}

// writeJSON writes v as JSON to a file of the scratch directory and returns
// its path.
func (c *criDaemon) writeJSON(file string, v any) string {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	p := filepath.Join(c.dir, file)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		c.t.Fatal(err)
	}
	return p
}

// inspect runs crictl inspect (or inspectp) on id and decodes its JSON.
func (c *criDaemon) inspect(verb, id string, v any) {
	c.t.Helper()
	if err := json.Unmarshal([]byte(c.ok(verb, id)), v); err != nil {
		c.t.Fatalf("crictl %s %s: %v", verb, id, err)
	}
}

// stop removes every pod, stops containerd (SIGTERM, then SIGKILL to its
// process group), kills and reports any process left in its mount or
// network namespace (the shims, the pods), and reports and removes the
// cgroups left below the test's cgroup parent.
func (c *criDaemon) stop(pid int, done chan error) {
	t := c.t
	if ids, _, code := c.run("pods", "-q"); code == 0 && strings.TrimSpace(ids) != "" {
		c.run("rmp", "-f", "-a")
	}
	select {
	case <-done:
	default:
		syscall.Kill(pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Errorf("containerd did not exit within 30s of SIGTERM: killing its process group")
			syscall.Kill(-pid, syscall.SIGKILL)
			<-done
		}
	}
	left := func() map[int]string {
		m := processesIn("mnt", c.mntns)
		for p, comm := range processesIn("net", c.netns) {
			m[p] = comm
		}
		return m
	}
	if c.mntns != "" && !waitFor(10*time.Second, func() bool { return len(left()) == 0 }) {
		t.Errorf("processes left in containerd's namespaces 10s after it exited: %v", left())
		if !waitFor(10*time.Second, func() bool {
			for p := range left() {
				syscall.Kill(p, syscall.SIGKILL)
			}
			return len(left()) == 0
		}) {
			t.Errorf("processes in containerd's namespaces survive SIGKILL: %v", left())
		}
	}
	for _, cg := range c.leftCgroups() {
		t.Errorf("cgroup %s left behind", cg)
	}
	if err := removeCgroupTree(c.parent); err != nil {
		t.Errorf("remove the cgroup parent: %v", err)
	}
	if ents, _ := os.ReadDir(c.state()); len(ents) > 0 {
		t.Errorf("ctrkit's state left behind in %s: %v", c.state(), ents)
	}
}

// state is the directory of ctrkit's state of the containers (ctrkit's
// --root): the shim puts the containerd namespace below the handler's Root.
func (c *criDaemon) state() string { return filepath.Join(c.rtRoot, "k8s.io") }

// leftCgroups returns the containers' cgroups below the pods' cgroup
// parents (PARENT/POD/ID): the pod parents themselves are kubelet's, which
// the test removes.
func (c *criDaemon) leftCgroups() []string {
	var out []string
	dirs := []string{filepath.Join("/sys/fs/cgroup", c.parent)}
	if !c.v2 {
		dirs, _ = filepath.Glob("/sys/fs/cgroup/*" + c.parent)
	}
	for _, dir := range dirs {
		pods, _ := os.ReadDir(dir)
		for _, pod := range pods {
			ents, _ := os.ReadDir(filepath.Join(dir, pod.Name()))
			for _, e := range ents {
				if cg := c.parent + "/" + pod.Name() + "/" + e.Name(); e.IsDir() && !slices.Contains(out, cg) {
					out = append(out, cg)
				}
			}
		}
	}
	return out
}

// removeCgroupTree removes the cgroup path and the cgroups below it, in
// every hierarchy.
func removeCgroupTree(path string) error {
	dirs := []string{filepath.Join("/sys/fs/cgroup", path)}
	if v1dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + path); len(v1dirs) > 0 {
		dirs = append(dirs, v1dirs...)
	}
	for _, dir := range dirs {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if e.IsDir() {
				if err := oci.RemoveCgroup(path + "/" + e.Name()); err != nil {
					return err
				}
			}
		}
	}
	return oci.RemoveCgroup(path)
}

// cgroupOf returns the cgroup (the path below the hierarchy's mount) of
// process pid in the v1 hierarchy of controller, or in the unified one
// (controller "").
func cgroupOf(t *testing.T, pid int, controller string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) == 3 && (controller == "" && f[0] == "0" || controller != "" && slices.Contains(strings.Split(f[1], ","), controller)) {
			return f[2]
		}
	}
	t.Fatalf("process %d is in no cgroup of %q:\n%s", pid, controller, b)
	return ""
}

// criPod is crictl's pod sandbox config, as JSON.
type criPod struct {
	Metadata     map[string]any `json:"metadata"`
	Hostname     string         `json:"hostname"`
	LogDirectory string         `json:"log_directory"`
	Linux        map[string]any `json:"linux"`
}

// criContainer is crictl's container config, as JSON.
type criContainer struct {
	Metadata map[string]any    `json:"metadata"`
	Image    map[string]string `json:"image"`
	Command  []string          `json:"command"`
	Envs     []map[string]any  `json:"envs,omitempty"`
	Mounts   []map[string]any  `json:"mounts,omitempty"`
	LogPath  string            `json:"log_path"`
	Linux    map[string]any    `json:"linux,omitempty"`
}

// The CRI's enums, as numbers in crictl's JSON.
const (
	criNamespacePod       = 0 // NamespaceMode POD
	criNamespaceContainer = 1 // NamespaceMode CONTAINER
	criSeccompDefault     = 0 // SecurityProfile RuntimeDefault
	criSeccompUnconfined  = 1 // SecurityProfile Unconfined
)

// kubeletSecurity is the container security context kubelet sends for a
// pod that asks for nothing (kubelet's default masked and read-only paths,
// its own PID namespace per container), with the seccomp profile type
// seccomp: Unconfined is kubelet's default, RuntimeDefault that of
// --seccomp-default and of the restricted pod security standard.
func kubeletSecurity(seccomp int) map[string]any {
	return map[string]any{
		"namespace_options": map[string]any{"network": criNamespacePod, "pid": criNamespaceContainer, "ipc": criNamespacePod},
		"seccomp":           map[string]any{"profile_type": seccomp},
		"masked_paths": []string{"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
			"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"},
		"readonly_paths": []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
	}
}

// TestCRI does what kubelet does with containerd's CRI and the ctrkit
// runtime handler: a pod with two containers, a server and a client that
// reaches it over the pod's network, exec, logs, the container's resources
// in its cgroup, then stop and remove; nothing is left behind.
func TestCRI(t *testing.T) {
	c := newCRI(t)
	podParent := c.parent + "/pod-web"
	pod := c.writeJSON("pod.json", criPod{
		Metadata:     map[string]any{"name": "web", "namespace": "ctrkit", "uid": "ctrkit-web-1", "attempt": 0},
		Hostname:     "web",
		LogDirectory: filepath.Join(c.dir, "logs"),
		Linux: map[string]any{"cgroup_parent": podParent, "security_context": map[string]any{
			"namespace_options": map[string]any{"network": criNamespacePod, "pid": criNamespaceContainer, "ipc": criNamespacePod},
			"seccomp":           map[string]any{"profile_type": criSeccompUnconfined},
		}},
	})
	// What kubelet mounts in every container: a termination log file on
	// /dev/termination-log and the service account's token directory, read
	// only.
	termLog := filepath.Join(c.dir, "termination-log")
	token := filepath.Join(c.dir, "serviceaccount")
	if err := os.WriteFile(termLog, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(token, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(token, "token"), []byte("ctrkit-token"), 0o644); err != nil {
		t.Fatal(err)
	}
	kubeletMounts := []map[string]any{
		{"container_path": "/dev/termination-log", "host_path": termLog},
		{"container_path": "/var/run/secrets/kubernetes.io/serviceaccount", "host_path": token, "readonly": true},
	}
	server := c.writeJSON("server.json", criContainer{
		Metadata: map[string]any{"name": "server"},
		Image:    map[string]string{"image": criImage},
		Command: []string{"sh", "-c", "mkdir -p /tmp/www && echo hello-from-ctrkit >/tmp/www/index.html && " +
			"echo server-up && exec httpd -f -v -p 8080 -h /tmp/www"},
		Envs:    []map[string]any{{"key": "KUBERNETES_SERVICE_HOST", "value": "169.254.4.1"}},
		Mounts:  kubeletMounts,
		LogPath: "server.log",
		// A burstable pod's container with a CPU request of 100m, limits
		// of 500m and 64 MiB, and its oom_score_adj.
		Linux: map[string]any{"resources": map[string]any{
			"memory_limit_in_bytes": 64 << 20, "cpu_period": 100000, "cpu_quota": 50000, "cpu_shares": 102, "oom_score_adj": 968},
			"security_context": kubeletSecurity(criSeccompDefault)},
	})
	client := c.writeJSON("client.json", criContainer{
		Metadata: map[string]any{"name": "client"},
		Image:    map[string]string{"image": criImage},
		Command: []string{"sh", "-c", "for i in $(seq 100); do wget -q -O- http://127.0.0.1:8080/ && break; sleep 0.1; done; " +
			"exec sleep 1000"},
		Mounts:  kubeletMounts,
		LogPath: "client.log",
		Linux:   map[string]any{"security_context": kubeletSecurity(criSeccompUnconfined)},
	})

	podID := c.ok("runp", "--runtime", "ctrkit", pod)
	var podInfo struct {
		Status struct {
			State   string `json:"state"`
			Network struct {
				IP string `json:"ip"`
			} `json:"network"`
		} `json:"status"`
		Info struct {
			Pid            int    `json:"pid"`
			RuntimeHandler string `json:"runtimeHandler"`
		} `json:"info"`
	}
	c.inspect("inspectp", podID, &podInfo)
	if podInfo.Status.State != "SANDBOX_READY" || podInfo.Info.RuntimeHandler != "ctrkit" {
		t.Fatalf("pod %s: state %q, handler %q", podID, podInfo.Status.State, podInfo.Info.RuntimeHandler)
	}
	if ip, err := netip.ParseAddr(podInfo.Status.Network.IP); err != nil || !netip.MustParsePrefix(criSubnet).Contains(ip) {
		t.Errorf("pod IP %q is not in %s (%v)", podInfo.Status.Network.IP, criSubnet, err)
	}
	if _, err := os.Stat(filepath.Join(c.state(), podID)); err != nil {
		t.Errorf("the pod's sandbox is not ctrkit's: %v", err)
	}
	podNetns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", podInfo.Info.Pid))
	if err != nil {
		t.Fatal(err)
	}

	serverID := c.ok("create", podID, server, pod)
	c.ok("start", serverID)
	clientID := c.ok("create", podID, client, pod)
	c.ok("start", clientID)
	for _, id := range []string{serverID, clientID} {
		if _, err := os.Stat(filepath.Join(c.state(), id)); err != nil {
			t.Errorf("container %s is not ctrkit's: %v", id, err)
		}
	}

	t.Run("client reaches server over the pod's network", func(t *testing.T) {
		if !waitFor(30*time.Second, func() bool {
			out, _, _ := c.run("logs", clientID)
			return strings.Contains(out, "hello-from-ctrkit")
		}) {
			out, errOut, _ := c.run("logs", clientID)
			t.Fatalf("client's log: %q %q", out, errOut)
		}
		// httpd -v logs each request to stderr.
		out, errOut, _ := c.run("logs", serverID)
		if !strings.Contains(out, "server-up") || !strings.Contains(errOut, "response:200") {
			t.Errorf("server's log: stdout %q, stderr %q: want server-up and the request", out, errOut)
		}
	})
	t.Run("exec -s", func(t *testing.T) {
		if out := c.ok("exec", "-s", clientID, "wget", "-q", "-O-", "http://127.0.0.1:8080/"); out != "hello-from-ctrkit" {
			t.Errorf("exec wget: %q", out)
		}
		out := c.ok("exec", "-s", serverID, "sh", "-c", "echo $$ $KUBERNETES_SERVICE_HOST; hostname")
		if f := strings.Fields(out); len(f) != 3 || f[0] == "1" || f[1] != "169.254.4.1" || f[2] != "web" {
			t.Errorf("exec echo $$ $KUBERNETES_SERVICE_HOST; hostname: %q, want a pid other than 1, the variable and the pod's hostname", out)
		}
		// crictl exits 1 and names the command's exit status.
		if _, errOut, code := c.run("exec", "-s", serverID, "sh", "-c", "exit 3"); code == 0 || !strings.Contains(errOut, "exited with 3") {
			t.Errorf("exec sh -c 'exit 3': exit %d: %s", code, errOut)
		}
	})
	t.Run("kubelet's mounts, masked and read-only paths, seccomp", func(t *testing.T) {
		// /proc/timer_list is masked (it has text on the host), /proc/sys
		// read only.
		script := `exec 2>&1
cat /var/run/secrets/kubernetes.io/serviceaccount/token; echo
touch /var/run/secrets/kubernetes.io/serviceaccount/x
echo done >/dev/termination-log
wc -c </proc/timer_list
echo x >/proc/sys/kernel/domainname
grep Seccomp: /proc/self/status`
		for id, seccomp := range map[string]string{serverID: "2", clientID: "0"} {
			out, errOut, code := c.run("exec", "-s", id, "sh", "-c", script)
			want := "ctrkit-token\n" +
				"touch: /var/run/secrets/kubernetes.io/serviceaccount/x: Read-only file system\n" +
				"0\n" +
				"sh: can't create /proc/sys/kernel/domainname: Read-only file system\n" +
				"Seccomp:\t" + seccomp
			if strings.TrimSpace(out) != want { // crictl ends what it prints with blank lines
				t.Errorf("container %s: exit %d, stderr %q, stdout:\n%s\nwant:\n%s", id, code, errOut, out, want)
			}
			if got := readTrim(t, termLog); got != "done" {
				t.Errorf("termination log: %q", got)
			}
			os.WriteFile(termLog, nil, 0o644)
		}
	})
	t.Run("resources in the cgroup", func(t *testing.T) {
		var info struct {
			Info struct {
				Pid int `json:"pid"`
			} `json:"info"`
		}
		c.inspect("inspect", serverID, &info)
		files := map[string]string{"memory.limit_in_bytes": "67108864", "cpu.cfs_quota_us": "50000", "cpu.cfs_period_us": "100000",
			"cpu.shares": "102"}
		if _, err := os.Stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"); err == nil {
			files["memory.memsw.limit_in_bytes"] = "67108864" // the CRI sets swap = limit where it can
		}
		if c.v2 {
			files = map[string]string{"memory.max": "67108864", "cpu.max": "50000 100000"}
		}
		if got := readTrim(t, fmt.Sprintf("/proc/%d/oom_score_adj", info.Info.Pid)); got != "968" {
			t.Errorf("oom_score_adj %s, want 968", got)
		}
		for file, want := range files {
			controller, dir := "", "/sys/fs/cgroup"
			if !c.v2 {
				controller, _, _ = strings.Cut(file, ".")
				dir = filepath.Join(dir, controller)
			}
			cg := cgroupOf(t, info.Info.Pid, controller)
			if !strings.HasPrefix(cg, podParent+"/") {
				t.Errorf("the server is in cgroup %s of %q, not below the pod's parent %s", cg, controller, podParent)
			}
			if got := readTrim(t, filepath.Join(dir, cg, file)); got != want {
				t.Errorf("%s of %s: %s, want %s", file, cg, got, want)
			}
		}
	})
	t.Run("a field this host cannot honour fails start, naming it", func(t *testing.T) {
		// linux.resources.unified (cgroup v2 files by name, which kubelet
		// sends on cgroup v2 hosts only) cannot apply on this v1 hybrid
		// host: the runtime's error, naming the field, reaches crictl. (On
		// a v2 host ctrkit writes the files: TestResourcesUnified.)
		bad := c.writeJSON("bad.json", criContainer{
			Metadata: map[string]any{"name": "bad"},
			Image:    map[string]string{"image": criImage},
			Command:  []string{"true"},
			LogPath:  "bad.log",
			Linux:    map[string]any{"resources": map[string]any{"unified": map[string]string{"memory.high": "max"}}},
		})
		id := c.ok("create", podID, bad, pod)
		defer c.run("rm", "-f", id)
		if _, errOut, code := c.run("start", id); code == 0 || !strings.Contains(errOut, "linux.resources.unified") {
			t.Errorf("start with linux.resources.unified: exit %d, %q; want a failure naming the field", code, errOut)
		}
		c.ok("rm", id)
		if _, err := os.Stat(filepath.Join(c.state(), id)); err == nil {
			t.Errorf("ctrkit's state of the failed container left behind")
		}
	})

	for _, id := range []string{clientID, serverID} {
		c.ok("stop", id)
		c.ok("rm", id)
	}
	c.ok("stopp", podID)
	c.ok("rmp", podID)
	if out := c.ok("pods", "-q"); out != "" {
		t.Errorf("pods left: %q", out)
	}
	if out := c.ok("ps", "-a", "-q"); out != "" {
		t.Errorf("containers left: %q", out)
	}
	if ents, _ := os.ReadDir(c.state()); len(ents) > 0 {
		t.Errorf("ctrkit's state left after rmp: %v", ents)
	}
	for _, cg := range c.leftCgroups() {
		t.Errorf("cgroup %s left after rmp", cg)
	}
	if ps := processesIn("net", podNetns); len(ps) > 0 {
		t.Errorf("processes left in the pod's network namespace: %v", ps)
	}
	// host-local keeps a file per address it leased: the pod's is gone.
	ents, err := os.ReadDir(filepath.Join(c.dir, "ipam", "ctrkit-cri"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != "lock" && !strings.HasPrefix(e.Name(), "last_reserved_ip") {
			t.Errorf("address %s still leased after rmp", e.Name())
		}
	}
}
