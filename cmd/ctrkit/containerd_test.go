package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctrkit/container/containertest"
)

// ctrd is a private containerd daemon: its own root, state, socket and
// config, the CRI plugin off, driven with ctr and our runtime as the runc
// shim's binary (with its own runc root and FIFO directory). Containers use
// a custom rootfs (ctr run --rootfs), so no image is needed.
type ctrd struct {
	t      *testing.T
	dir    string
	sock   string
	rt     string
	rootfs string
	parent string
}

func newContainerd(t *testing.T) *ctrd {
	containertest.SkipUnlessRoot(t)
	for _, tool := range []string{"containerd", "ctr", "containerd-shim-runc-v2", "unshare"} {
		if _, err := exec.LookPath(tool); err != nil {
			skipOrFail(t, "%s is not installed (Debian package containerd; .ci/run installs it): %v", tool, err)
		}
	}
	// The 1.6 shim makes its socket under /run/containerd/s, whatever the
	// daemon's state directory: remove what this test made there.
	_, sErr := os.Stat("/run/containerd/s")
	_, dErr := os.Stat("/run/containerd")
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	c := &ctrd{t: t, dir: dir, sock: filepath.Join(dir, "c.sock"), rt: runtimePath(t), rootfs: containertest.Rootfs(t),
		parent: fmt.Sprintf("/ctrkit-ctd-%d", os.Getpid())}
	conf := fmt.Sprintf(`version = 2
root = "%[1]s/root"
state = "%[1]s/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = %[2]q
[ttrpc]
  address = "%[2]s.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
`, dir, c.sock)
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(filepath.Join(dir, "daemon.log"))
	if err != nil {
		t.Fatal(err)
	}
	// In a private mount namespace: nothing it or its shims mount reaches
	// the host's mount table.
	d := exec.Command("unshare", "--mount", "--propagation", "private", "containerd", "--config", filepath.Join(dir, "config.toml"))
	d.Stdout, d.Stderr = log, log
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Process.Kill()
		d.Wait()
		log.Close()
		for _, h := range []string{"freezer", "memory", "pids"} {
			ents, _ := os.ReadDir(filepath.Join("/sys/fs/cgroup", h, c.parent))
			for _, e := range ents {
				if e.IsDir() {
					t.Errorf("cgroup %s left behind in %s", filepath.Join(c.parent, e.Name()), h)
				}
			}
		}
		dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + c.parent)
		for _, d := range dirs {
			if err := os.Remove(d); err != nil && !os.IsNotExist(err) {
				t.Errorf("remove %s: %v", d, err)
			}
		}
		if ents, _ := os.ReadDir(filepath.Join(dir, "runc", "default")); len(ents) > 0 {
			t.Errorf("runtime state left behind: %v", ents)
		}
		if sErr != nil {
			os.Remove("/run/containerd/s")
		}
		if dErr != nil {
			os.Remove("/run/containerd")
		}
	})
	for i := 0; ; i++ {
		if _, _, code := c.run("version"); code == 0 {
			break
		}
		if i > 100 {
			b, _ := os.ReadFile(log.Name())
			t.Fatalf("containerd did not come up:\n%s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return c
}

func (c *ctrd) run(args ...string) (string, string, int) {
	c.t.Helper()
	return runTool(c.t, exec.Command("ctr", append([]string{"--address", c.sock}, args...)...))
}

func (c *ctrd) ok(args ...string) string {
	c.t.Helper()
	return succeeded(c.t, "ctr", args)(c.run(args...))
}

// runArgs are ctr run's flags for a container id running cmd.
func (c *ctrd) runArgs(id string, extra ...string) []string {
	return append([]string{"run", "--runc-binary", c.rt, "--runc-root", filepath.Join(c.dir, "runc"),
		"--fifo-dir", filepath.Join(c.dir, "fifo"), "--cgroup", c.parent + "/" + id, "--rootfs"}, extra...)
}

func TestContainerd(t *testing.T) {
	c := newContainerd(t)
	t.Run("run --rm", func(t *testing.T) {
		args := append(c.runArgs("c1", "--rm"), c.rootfs, "c1", "/bin/echo", "hi")
		if out := c.ok(args...); out != "hi\n" {
			t.Fatalf("output %q", out)
		}
	})
	t.Run("exit code", func(t *testing.T) {
		args := append(c.runArgs("c2", "--rm"), c.rootfs, "c2", "sh", "-c", "exit 6")
		if _, errOut, code := c.run(args...); code != 6 {
			t.Fatalf("exit %d, want 6: %s", code, errOut)
		}
	})
	t.Run("exec, kill, delete", func(t *testing.T) {
		args := append(c.runArgs("c3", "-d"), c.rootfs, "c3", "sleep", "100")
		c.ok(args...)
		defer func() { // whatever failed, leave no task, shim or cgroup behind
			c.run("task", "kill", "-s", "KILL", "c3")
			c.run("task", "delete", "-f", "c3")
			c.run("container", "delete", "c3")
		}()
		// The short sleep lets ctr's copy of the exec's output attach before
		// the process exits: on a loaded machine ctr can otherwise lose it.
		out, errOut, code := c.run("task", "exec", "--fifo-dir", filepath.Join(c.dir, "fifo"), "--exec-id", "e1", "c3", "sh", "-c", "echo $$; sleep 0.2; exit 2")
		if code != 2 || strings.TrimSpace(out) == "1" || out == "" {
			t.Fatalf("task exec: exit %d, %q, %q; want exit 2 and a pid other than 1", code, out, errOut)
		}
		c.ok("task", "kill", "-s", "KILL", "c3")
		for i := 0; !strings.Contains(c.ok("task", "ls"), "STOPPED"); i++ {
			if i > 100 {
				t.Fatalf("task did not stop:\n%s", c.ok("task", "ls"))
			}
			time.Sleep(50 * time.Millisecond)
		}
		c.ok("task", "delete", "c3")
		c.ok("container", "delete", "c3")
	})
}
