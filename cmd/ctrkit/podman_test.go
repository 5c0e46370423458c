package main

import (
	"errors"
	"fmt"
	"golang.org/x/sys/unix"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctrkit/container/containertest"
)

// podman is a podman configured in a private scratch directory: its own
// store (vfs), run and tmp directories, events log, no network (netns
// "none"), cgroupfs, ulimits within this machine's hard limits, our runtime,
// containers' cgroups under a parent of the test's own, and a private mount
// namespace for everything it mounts.
type podman struct {
	t       *testing.T
	env     []string
	runtime string
	parent  string // --cgroup-parent of the test's containers
	mntns   string // pid of a process holding the private mount namespace podman runs in
}

func newPodman(t *testing.T) *podman {
	containertest.SkipUnlessRoot(t)
	for _, tool := range []string{"podman", "conmon", "tar", "unshare", "nsenter"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (Debian package podman; .ci/run installs it): %v", tool, err)
		}
	}
	dir := containertest.ShortTempDir(t) // conmon's sockets go below it
	os.Chmod(dir, 0o755)
	p := &podman{t: t, runtime: runtimePath(t), parent: fmt.Sprintf("/ctrkit-e2e-%d", os.Getpid())}
	conf := fmt.Sprintf(`[containers]
netns = "none"
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
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
`, dir, p.runtime)
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
	holder := exec.Command("unshare", "--mount", "--propagation", "private", "sleep", "infinity")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	p.mntns = fmt.Sprint(holder.Process.Pid)
	own, _ := os.Readlink("/proc/self/ns/mnt")
	for i := 0; ; i++ {
		if ns, err := os.Readlink("/proc/" + p.mntns + "/ns/mnt"); err == nil && ns != own {
			break
		}
		if i > 200 {
			holder.Process.Kill()
			holder.Wait()
			t.Fatal("unshare did not make a mount namespace")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Cleanup(func() {
		p.run("rm", "--all", "--force", "--time", "0")
		holder.Process.Kill()
		holder.Wait()
		// The store's layers are mounted nowhere (vfs); its files go with dir.
		// Podman puts conmon in PARENT/conmon: it is empty once conmon exits.
		p.noneLeft()
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
	imp := exec.Command("nsenter", "--target", p.mntns, "--mount", "--", "podman", "import", "-", "localhost/bb")
	imp.Env = p.env
	var err error
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

// run runs podman with our runtime; stdout, stderr, exit status.
func (p *podman) run(args ...string) (string, string, int) {
	p.t.Helper()
	cmd := exec.Command("nsenter", append([]string{"--target", p.mntns, "--mount", "--", "podman", "--runtime", p.runtime}, args...)...)
	cmd.Env = p.env
	return runTool(p.t, cmd)
}

func (p *podman) ok(args ...string) string {
	p.t.Helper()
	return succeeded(p.t, "podman", args)(p.run(args...))
}

// noneLeft checks that no container cgroup under the test's parent is left.
func (p *podman) noneLeft() {
	p.t.Helper()
	for _, h := range []string{"freezer", "memory", "pids"} {
		ents, _ := os.ReadDir(filepath.Join("/sys/fs/cgroup", h, p.parent))
		for _, e := range ents {
			if e.IsDir() && e.Name() != "conmon" {
				p.t.Errorf("cgroup %s left behind in %s", filepath.Join(p.parent, e.Name()), h)
			}
		}
	}
}

func TestPodman(t *testing.T) {
	p := newPodman(t)
	run := []string{"run", "--cgroup-parent", p.parent}

	t.Run("run --rm prints", func(t *testing.T) {
		if out := p.ok(append(run, "--rm", "localhost/bb", "/bin/echo", "hi")...); out != "hi\n" {
			t.Fatalf("output %q", out)
		}
	})
	t.Run("exit code", func(t *testing.T) {
		if _, errOut, code := p.run(append(run, "--rm", "localhost/bb", "sh", "-c", "exit 7")...); code != 7 {
			t.Fatalf("exit status %d, want 7: %s", code, errOut)
		}
	})
	t.Run("run -d, stop, rm", func(t *testing.T) {
		id := strings.TrimSpace(p.ok(append(run, "-d", "localhost/bb", "sh", "-c", "trap 'exit 3' TERM; while :; do sleep 0.1; done")...))
		if st := strings.TrimSpace(p.ok("inspect", "--format", "{{.State.Status}}", id)); st != "running" {
			t.Fatalf("status %q after run -d", st)
		}
		p.ok("stop", "--time", "10", id)
		if code := strings.TrimSpace(p.ok("inspect", "--format", "{{.State.ExitCode}}", id)); code != "3" {
			t.Fatalf("exit code %s after stop, want 3 (the TERM trap)", code)
		}
		p.ok("rm", id)
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/freezer", p.parent, "libpod-"+id)); err == nil {
			t.Fatal("cgroup left after rm")
		}
	})
	t.Run("memory and pids limits", func(t *testing.T) {
		id := strings.TrimSpace(p.ok(append(run, "-d", "--memory", "64m", "--pids-limit", "50", "localhost/bb", "sleep", "100")...))
		defer p.run("rm", "--force", "--time", "0", id)
		cg := filepath.Join(p.parent, "libpod-"+id)
		for file, want := range map[string]string{"memory/" + cg + "/memory.limit_in_bytes": "67108864", "pids/" + cg + "/pids.max": "50"} {
			b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", file))
			if err != nil || strings.TrimSpace(string(b)) != want {
				t.Errorf("%s = %q, %v; want %s", file, b, err, want)
			}
		}
		p.ok("update", "--memory", "128m", id)
		if b, _ := os.ReadFile(filepath.Join("/sys/fs/cgroup/memory", cg, "memory.limit_in_bytes")); strings.TrimSpace(string(b)) != "134217728" {
			t.Errorf("after podman update: memory.limit_in_bytes = %q", b)
		}
	})
	t.Run("pause and unpause", func(t *testing.T) {
		id := strings.TrimSpace(p.ok(append(run, "-d", "localhost/bb", "sleep", "100")...))
		defer p.run("rm", "--force", "--time", "0", id)
		p.ok("pause", id)
		if st := strings.TrimSpace(p.ok("inspect", "--format", "{{.State.Status}}", id)); st != "paused" {
			t.Fatalf("status %q after pause", st)
		}
		p.ok("unpause", id)
		p.ok("top", id)
	})
	t.Run("exec", func(t *testing.T) {
		id := strings.TrimSpace(p.ok(append(run, "-d", "--hostname", "box", "localhost/bb", "sleep", "100")...))
		defer p.run("rm", "--force", "--time", "0", id)
		out, errOut, code := p.run("exec", id, "sh", "-c", "hostname; echo $$; exit 3")
		if code != 3 || !strings.HasPrefix(out, "box\n") || strings.HasSuffix(out, "\n1\n") {
			t.Fatalf("exec: exit %d, output %q, stderr %q; want exit 3, the container's hostname, a pid other than 1", code, out, errOut)
		}
		p.ok("exec", "-d", id, "sleep", "100")
		if top := p.ok("top", id); strings.Count(top, "sleep 100") != 2 {
			t.Fatalf("after exec -d, top shows:\n%s", top)
		}
	})
	t.Run("run -t and exec -t", func(t *testing.T) {
		out := p.ok(append(run, "--rm", "-t", "localhost/bb", "sh", "-c", "tty; echo tty-ok")...)
		if got := strings.ReplaceAll(out, "\r", ""); got != "/dev/pts/0\ntty-ok\n" {
			t.Fatalf("run -t printed %q", out)
		}
		id := strings.TrimSpace(p.ok(append(run, "-d", "localhost/bb", "sleep", "100")...))
		defer p.run("rm", "--force", "--time", "0", id)
		out = p.ok("exec", "-t", id, "sh", "-c", "tty >/dev/null && echo exec-tty-ok")
		if got := strings.ReplaceAll(out, "\r", ""); got != "exec-tty-ok\n" {
			t.Fatalf("exec -t printed %q", out)
		}
	})
	t.Run("cpuset", func(t *testing.T) {
		out := p.ok(append(run, "--rm", "--cpuset-cpus", "0", "localhost/bb", "grep", "Cpus_allowed_list", "/proc/self/status")...)
		if got := strings.Join(strings.Fields(out), " "); got != "Cpus_allowed_list: 0" {
			t.Fatalf("--cpuset-cpus 0: %q", out)
		}
	})
	t.Run("unsupported field is an error naming it", func(t *testing.T) {
		_, errOut, code := p.run(append(run, "--rm", "--personality", "LINUX32", "localhost/bb", "true")...)
		if code == 0 || !strings.Contains(errOut, "linux.personality") {
			t.Fatalf("exit %d, stderr %q: want the field named", code, errOut)
		}
	})
}
