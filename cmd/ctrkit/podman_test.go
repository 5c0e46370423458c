package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ctrkit/container/containertest"
)

// podman is a podman configured in a private scratch directory: its own
// store (vfs), run and tmp directories, events log, cgroupfs, ulimits within
// this machine's hard limits, our runtime, containers' cgroups under a parent
// of the test's own, and a private mount namespace for everything it mounts.
// Without bridge it runs containers with no network (netns "none"); with
// bridge, in podman's default network mode (bridge, Debian's backend) in a
// private network namespace too, with a tmpfs of its own on /run, so that
// the bridge, veths, firewall rules, forwarding sysctls and the DNS server
// podman's backend makes, and the network namespaces podman binds in
// /run/netns, are all the test's own and go with it.
type podman struct {
	runtime string
	parent  string   // --cgroup-parent of the test's containers
	holder  string   // pid of a process holding the namespaces podman runs in
	nsFlags []string // nsenter's flags for them
	env     []string
}

// podmanNetwork asks newPodman for podman's default network mode in a
// private network namespace.
type podmanNetwork bool

const (
	podmanNoNetwork podmanNetwork = false
	podmanBridge    podmanNetwork = true
)

func newPodman(t *testing.T, network podmanNetwork) *podman {
	containertest.SkipUnlessRoot(t)
	tools := []string{"podman", "conmon", "tar", "unshare", "nsenter"}
	if network == podmanBridge {
		tools = append(tools, "ip", "iptables", "/usr/lib/podman/netavark", "/usr/lib/podman/aardvark-dns")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			skipOrFail(t, "%s is not installed (Debian packages podman, netavark, aardvark-dns, iptables; .ci/run installs them): %v", tool, err)
		}
	}
	dir := containertest.ShortTempDir(t) // conmon's sockets go below it
	os.Chmod(dir, 0o755)
	p := &podman{runtime: runtimePath(t), parent: fmt.Sprintf("/ctrkit-e2e-%d", os.Getpid())}
	// Deviations from podman's defaults, each for a reason of this machine's
	// or of the test's:
	//   - default_ulimits: podman's defaults are nproc=pid_max:pid_max
	//     (containers-common's, which podman can give: it lowers its own
	//     hard limit to it) and, as no nofile is listed, nofile of 1048576
	//     (soft and hard). Raising a hard limit needs CAP_SYS_RESOURCE, which
	//     root here lacks, so any runtime (crun too) fails setrlimit: the
	//     test asks for this process's hard nofile limit, the nearest
	//     podman's default this machine can give. Writing default_ulimits
	//     replaces podman's list, so nproc is written out with its value.
	//   - cgroup_manager cgroupfs: there is no systemd here to ask for a scope.
	//   - events_logger file: no journald here; the log is the test's own.
	//   - log_driver k8s-file: podman's default, journald, is not here either.
	//   - tmp_dir, network_config_dir, the store (graphroot, runroot):
	//     private to the test, so nothing of the host's podman is used or
	//     changed.
	//   - driver vfs: the store must be unmountable with nothing left on any
	//     path; overlay's mounts would need unmounting.
	//   - without bridge only: netns "none".
	var nofile unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile); err != nil {
		t.Fatal(err)
	}
	pidMax, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		t.Fatal(err)
	}
	nproc := strings.TrimSpace(string(pidMax))
	netns := ""
	if network == podmanNoNetwork {
		netns = "netns = \"none\"\n"
	}
	ours := fmt.Sprintf(`[containers]
%[3]sdefault_ulimits = ["nofile=%[4]d:%[4]d", "nproc=%[5]s:%[5]s"]
log_driver = "k8s-file"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "%[1]s/events.log"
tmp_dir = "%[1]s/tmp"
runtime = "ctrkit"
[engine.runtimes]
ctrkit = [%[2]q]
[network]
network_config_dir = "%[1]s/net"
`, dir, p.runtime, netns, nofile.Max, nproc)
	// With CONTAINERS_CONF set podman reads that file alone, not the
	// distribution's defaults: podman's defaults here are containers-common's
	// /usr/share/containers/containers.conf (its default_sysctls and
	// default_capabilities), with the test's settings layered on.
	base, err := os.ReadFile(distroContainersConf)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	conf := layerTOML(string(base), ours)
	storage := fmt.Sprintf("[storage]\ndriver = \"vfs\"\ngraphroot = \"%[1]s/graph\"\nrunroot = \"%[1]s/run\"\n", dir)
	files := map[string]string{"containers.conf": conf, "storage.conf": storage, "registries.conf": "unqualified-search-registries = []\n"}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"tmp", "net", "xdg", "cfg", "data"} {
		os.Mkdir(filepath.Join(dir, d), 0o700)
	}
	p.env = append(os.Environ(),
		"CONTAINERS_CONF="+filepath.Join(dir, "containers.conf"),
		"CONTAINERS_STORAGE_CONF="+filepath.Join(dir, "storage.conf"),
		"CONTAINERS_REGISTRIES_CONF="+filepath.Join(dir, "registries.conf"),
		"XDG_RUNTIME_DIR="+filepath.Join(dir, "xdg"), "XDG_CONFIG_HOME="+filepath.Join(dir, "cfg"),
		"XDG_DATA_HOME="+filepath.Join(dir, "data"))
	// Podman mounts each container's /dev/shm: keep those mounts out of the
	// host's mount table (other tests watch it) by running podman, conmon and
	// the containers in a private mount namespace held by a sleeping process.
	// With bridge, the holder has a network namespace of its own too, with
	// lo up (for -p to loopback), and a tmpfs on /run: podman binds its
	// containers' network namespaces in /run/netns and netavark keeps state
	// below /run, wherever podman's own directories are.
	p.nsFlags = []string{"--mount"}
	args := []string{"--mount", "--propagation", "private"}
	script := "echo ready && exec sleep infinity"
	if network == podmanBridge {
		p.nsFlags = append(p.nsFlags, "--net")
		args = append(args, "--net")
		script = "mount -t tmpfs -o mode=0755 ctrkit-podman /run && ip link set lo up && " + script
	}
	holder := exec.Command("unshare", append(args, "sh", "-c", script)...)
	holder.Stderr = os.Stderr
	out, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	p.holder = fmt.Sprint(holder.Process.Pid)
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		holder.Process.Kill()
		holder.Wait()
		t.Fatalf("unshare %v did not make the namespaces (its shell said %q)", args, line)
	}
	t.Cleanup(func() {
		p.run(t, "rm", "--all", "--force", "--time", "0")
		if network == podmanBridge {
			p.run(t, "network", "prune", "--force")
			// Netavark stops aardvark-dns with the last container on its
			// network: anything else left in the namespaces is a leak
			// (ours: only the test's processes are in them).
			for _, pid := range p.inNamespaces(t) {
				comm, _ := os.ReadFile("/proc/" + pid + "/comm")
				t.Errorf("process %s (%s) left in podman's network namespace", pid, strings.TrimSpace(string(comm)))
				if id, err := strconv.Atoi(pid); err == nil {
					unix.Kill(id, unix.SIGKILL)
				}
			}
		}
		holder.Process.Kill()
		holder.Wait()
		// The store's layers are mounted nowhere (vfs); its files go with dir.
		// Podman puts conmon in PARENT/conmon: it is empty once conmon exits.
		p.noneLeft(t)
		// conmon may still be exiting: its cgroup is busy until it has.
		for _, pattern := range []string{"/sys/fs/cgroup/*" + p.parent + "/conmon", "/sys/fs/cgroup/*" + p.parent, "/sys/fs/cgroup" + p.parent} {
			dirs, _ := filepath.Glob(pattern)
			for _, d := range dirs {
				err := os.Remove(d)
				for deadline := time.Now().Add(15 * time.Second); errors.Is(err, unix.EBUSY) && time.Now().Before(deadline); {
					time.Sleep(50 * time.Millisecond)
					err = os.Remove(d)
				}
				if err != nil && !os.IsNotExist(err) {
					t.Errorf("remove %s: %v", d, err)
				}
			}
		}
	})
	// The image: a busybox rootfs imported into the private store.
	tarCmd := exec.Command("tar", "-C", containertest.Rootfs(t), "-c", ".")
	imp := p.command("import", "-", "localhost/bb")
	if imp.Stdin, err = tarCmd.StdoutPipe(); err != nil {
		t.Fatal(err)
	}
	if err := tarCmd.Start(); err != nil {
		t.Fatal(err)
	}
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("podman import: %v: %s", err, out)
	}
	if err := tarCmd.Wait(); err != nil {
		t.Fatal(err)
	}
	return p
}

// distroContainersConf is Debian's containers-common's podman defaults.
const distroContainersConf = "/usr/share/containers/containers.conf"

// layerTOML puts the keys of each table of ours after that table's header in
// base, and the tables base lacks at its end. Neither may set a key the other
// sets (TOML refuses a key set twice: podman fails, naming it).
func layerTOML(base, ours string) string {
	add := map[string][]string{}
	var order []string
	table := ""
	for _, l := range strings.Split(strings.TrimSpace(ours), "\n") {
		if strings.HasPrefix(l, "[") {
			table = l
			order = append(order, l)
			continue
		}
		add[table] = append(add[table], l)
	}
	var b strings.Builder
	for _, l := range strings.Split(base, "\n") {
		b.WriteString(l + "\n")
		if lines, ok := add[strings.TrimSpace(l)]; ok {
			b.WriteString(strings.Join(lines, "\n") + "\n")
			delete(add, strings.TrimSpace(l))
		}
	}
	for _, t := range order {
		if lines, ok := add[t]; ok {
			b.WriteString(t + "\n" + strings.Join(lines, "\n") + "\n")
		}
	}
	return b.String()
}

// command is podman with args in the holder's namespaces, with the test's
// configuration.
func (p *podman) command(args ...string) *exec.Cmd {
	return p.nsenter(append([]string{"podman"}, args...)...)
}

// nsenter is a command in the holder's namespaces.
func (p *podman) nsenter(args ...string) *exec.Cmd {
	cmd := exec.Command("nsenter", append(append(append([]string{"--target", p.holder}, p.nsFlags...), "--"), args...)...)
	cmd.Env = p.env
	return cmd
}

// inNamespaces lists the processes other than the holder in its network
// namespace.
func (p *podman) inNamespaces(t *testing.T) []string {
	t.Helper()
	ns, err := os.Readlink("/proc/" + p.holder + "/ns/net")
	if err != nil {
		t.Errorf("the holder's network namespace: %v", err)
		return nil
	}
	var pids []string
	for pid := range processesIn("net", ns) {
		if s := strconv.Itoa(pid); s != p.holder {
			pids = append(pids, s)
		}
	}
	slices.Sort(pids)
	return pids
}

// run runs podman with our runtime; stdout, stderr, exit status.
func (p *podman) run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return p.runWith(t, p.runtime, args...)
}

// runWith runs podman with runtime; stdout, stderr, exit status.
func (p *podman) runWith(t *testing.T, runtime string, args ...string) (string, string, int) {
	t.Helper()
	return runTool(t, p.command(append([]string{"--runtime", runtime}, args...)...))
}

func (p *podman) ok(t *testing.T, args ...string) string {
	t.Helper()
	return succeeded(t, "podman", args)(p.run(t, args...))
}

// noneLeft checks that no container cgroup under the test's parent is left.
func (p *podman) noneLeft(t *testing.T) {
	t.Helper()
	for _, h := range []string{"freezer", "memory", "pids"} {
		ents, _ := os.ReadDir(filepath.Join("/sys/fs/cgroup", h, p.parent))
		for _, e := range ents {
			if e.IsDir() && e.Name() != "conmon" {
				t.Errorf("cgroup %s left behind in %s", filepath.Join(p.parent, e.Name()), h)
			}
		}
	}
}

func TestPodman(t *testing.T) {
	p := newPodman(t, podmanNoNetwork)
	run := []string{"run", "--cgroup-parent", p.parent}

	t.Run("run --rm prints", func(t *testing.T) {
		if out := p.ok(t, append(run, "--rm", "localhost/bb", "/bin/echo", "hi")...); out != "hi\n" {
			t.Fatalf("output %q", out)
		}
	})
	t.Run("exit code", func(t *testing.T) {
		if _, errOut, code := p.run(t, append(run, "--rm", "localhost/bb", "sh", "-c", "exit 7")...); code != 7 {
			t.Fatalf("exit status %d, want 7: %s", code, errOut)
		}
	})
	t.Run("run -d, stop, rm", func(t *testing.T) {
		id := strings.TrimSpace(p.ok(t, append(run, "-d", "localhost/bb", "sh", "-c", "trap 'exit 3' TERM; while :; do sleep 0.1; done")...))
		if st := strings.TrimSpace(p.ok(t, "inspect", "--format", "{{.State.Status}}", id)); st != "running" {
			t.Fatalf("status %q after run -d", st)
		}
		p.ok(t, "stop", "--time", "10", id)
		if code := strings.TrimSpace(p.ok(t, "inspect", "--format", "{{.State.ExitCode}}", id)); code != "3" {
			t.Fatalf("exit code %s after stop, want 3 (the TERM trap)", code)
		}
		p.ok(t, "rm", id)
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/freezer", p.parent, "libpod-"+id)); err == nil {
			t.Fatal("cgroup left after rm")
		}
	})
	t.Run("memory and pids limits", func(t *testing.T) {
		id := strings.TrimSpace(p.ok(t, append(run, "-d", "--memory", "64m", "--pids-limit", "50", "localhost/bb", "sleep", "100")...))
		defer p.run(t, "rm", "--force", "--time", "0", id)
		cg := filepath.Join(p.parent, "libpod-"+id)
		for file, want := range map[string]string{"memory/" + cg + "/memory.limit_in_bytes": "67108864", "pids/" + cg + "/pids.max": "50"} {
			b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", file))
			if err != nil || strings.TrimSpace(string(b)) != want {
				t.Errorf("%s = %q, %v; want %s", file, b, err, want)
			}
		}
		p.ok(t, "update", "--memory", "128m", id)
		if b, _ := os.ReadFile(filepath.Join("/sys/fs/cgroup/memory", cg, "memory.limit_in_bytes")); strings.TrimSpace(string(b)) != "134217728" {
			t.Errorf("after podman update: memory.limit_in_bytes = %q", b)
		}
	})
	t.Run("pause and unpause", func(t *testing.T) {
		id := strings.TrimSpace(p.ok(t, append(run, "-d", "localhost/bb", "sleep", "100")...))
		defer p.run(t, "rm", "--force", "--time", "0", id)
		p.ok(t, "pause", id)
		if st := strings.TrimSpace(p.ok(t, "inspect", "--format", "{{.State.Status}}", id)); st != "paused" {
			t.Fatalf("status %q after pause", st)
		}
		p.ok(t, "unpause", id)
		p.ok(t, "top", id)
	})
	t.Run("exec", func(t *testing.T) {
		id := strings.TrimSpace(p.ok(t, append(run, "-d", "--hostname", "box", "localhost/bb", "sleep", "100")...))
		defer p.run(t, "rm", "--force", "--time", "0", id)
		out, errOut, code := p.run(t, "exec", id, "sh", "-c", "hostname; echo $$; exit 3")
		if code != 3 || !strings.HasPrefix(out, "box\n") || strings.HasSuffix(out, "\n1\n") {
			t.Fatalf("exec: exit %d, output %q, stderr %q; want exit 3, the container's hostname, a pid other than 1", code, out, errOut)
		}
		p.ok(t, "exec", "-d", id, "sleep", "100")
		if top := p.ok(t, "top", id); strings.Count(top, "sleep 100") != 2 {
			t.Fatalf("after exec -d, top shows:\n%s", top)
		}
	})
	t.Run("run -t and exec -t", func(t *testing.T) {
		out := p.ok(t, append(run, "--rm", "-t", "localhost/bb", "sh", "-c", "tty; echo tty-ok")...)
		if got := strings.ReplaceAll(out, "\r", ""); got != "/dev/pts/0\ntty-ok\n" {
			t.Fatalf("run -t printed %q", out)
		}
		id := strings.TrimSpace(p.ok(t, append(run, "-d", "localhost/bb", "sleep", "100")...))
		defer p.run(t, "rm", "--force", "--time", "0", id)
		out = p.ok(t, "exec", "-t", id, "sh", "-c", "tty >/dev/null && echo exec-tty-ok")
		if got := strings.ReplaceAll(out, "\r", ""); got != "exec-tty-ok\n" {
			t.Fatalf("exec -t printed %q", out)
		}
	})
	t.Run("cpuset", func(t *testing.T) {
		out := p.ok(t, append(run, "--rm", "--cpuset-cpus", "0", "localhost/bb", "grep", "Cpus_allowed_list", "/proc/self/status")...)
		if got := strings.Join(strings.Fields(out), " "); got != "Cpus_allowed_list: 0" {
			t.Fatalf("--cpuset-cpus 0: %q", out)
		}
	})
	t.Run("unsupported field is an error naming it", func(t *testing.T) {
		_, errOut, code := p.run(t, append(run, "--rm", "--personality", "LINUX32", "localhost/bb", "true")...)
		if code == 0 || !strings.Contains(errOut, "linux.personality") {
			t.Fatalf("exit %d, stderr %q: want the field named", code, errOut)
		}
	})
}
