package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctrkit/container/containertest"
	"github.com/ctrkit/container/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The test binary is also the runtime: run through a symlink named ctrkit
// (which is how the engines run it in these tests), it is the CLI.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == "ctrkit" {
		main()
		return
	}
	restore, err := containertest.PrivateTempDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, "private TMPDIR:", err)
		os.Exit(1)
	}
	// Containers whose spec gives no cgroupsPath live under oci.CgroupParent,
	// which ctrkit creates and keeps, as runtimes keep their parent: remove it
	// after the tests if they made it.
	existed := false
	for _, h := range []string{"freezer", "memory", "pids", "cpu", ""} {
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", h, oci.CgroupParent)); err == nil {
			existed = true
		}
	}
	code := m.Run()
	if !existed && os.Geteuid() == 0 {
		if err := oci.RemoveCgroup(oci.CgroupParent); err != nil {
			fmt.Fprintln(os.Stderr, "remove", oci.CgroupParent+":", err)
			code = 1
		}
	}
	if err := restore(); err != nil {
		fmt.Fprintln(os.Stderr, "leak: the tests left files in their temporary directory:", err)
		code = 1
	}
	os.Exit(code)
}

// runtimePath returns a path that runs this test binary as ctrkit.
func runtimePath(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "ctrkit")
	if err := os.Symlink(self, p); err != nil {
		t.Fatal(err)
	}
	return p
}

type cli struct {
	t    *testing.T
	path string
	root string
}

func newCLI(t *testing.T) *cli {
	return &cli{t: t, path: runtimePath(t), root: t.TempDir()}
}

// run runs the CLI and returns stdout, stderr and the exit status.
func (c *cli) run(args ...string) (string, string, int) {
	c.t.Helper()
	return runTool(c.t, exec.Command(c.path, append([]string{"--root", c.root}, args...)...))
}

func (c *cli) ok(args ...string) string {
	c.t.Helper()
	return succeeded(c.t, "ctrkit", args)(c.run(args...))
}

// runTool runs cmd (ctrkit, podman, ctr) and returns its stdout, stderr and
// exit status; it fails the test when cmd cannot run at all. The output goes
// to files, not pipes: a created container keeps the runtime's stdio, and a
// pipe would not see EOF until the container exits.
func runTool(t *testing.T, cmd *exec.Cmd) (string, string, int) {
	t.Helper()
	out, errb := tempFile(t), tempFile(t)
	cmd.Stdout, cmd.Stderr = out, errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	return readFile(out), readFile(errb), code
}

// succeeded returns a check of a runTool result that fails the test unless
// the tool (name, run with args) exited 0, and returns its stdout.
func succeeded(t *testing.T, name string, args []string) func(out, errOut string, code int) string {
	return func(out, errOut string, code int) string {
		t.Helper()
		if code != 0 {
			t.Fatalf("%s %v: exit %d\nstdout: %s\nstderr: %s", name, args, code, out, errOut)
		}
		return out
	}
}

func tempFile(t *testing.T) *os.File {
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func readFile(f *os.File) string {
	b, _ := os.ReadFile(f.Name())
	return string(b)
}

func (c *cli) status(id string) string {
	c.t.Helper()
	var st specs.State
	if err := json.Unmarshal([]byte(c.ok("state", id)), &st); err != nil {
		c.t.Fatal(err)
	}
	return string(st.Status)
}

// bundle writes a bundle around a busybox rootfs running args.
func bundle(t *testing.T, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	s := oci.DefaultSpec()
	s.Root.Path = containertest.Rootfs(t)
	s.Process.Args = args
	writeSpec(t, dir, s)
	return dir
}

// writeSpec writes s as the bundle dir's config.json.
func writeSpec(t *testing.T, dir string, s *specs.Spec) {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func cgroupGone(t *testing.T, path string) {
	t.Helper()
	for _, h := range []string{"freezer", "memory", "pids", "cpu", "unified", ""} {
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", h, path)); err == nil && h != "" {
			t.Errorf("cgroup %s left behind in %s", path, h)
		}
	}
}

func TestVersionAndFeatures(t *testing.T) {
	c := newCLI(t)
	if out := c.ok("--version"); !strings.HasPrefix(out, "ctrkit version ") || !strings.Contains(out, "\nspec: 1.") {
		t.Fatalf("--version: %q", out)
	}
	var f map[string]any
	if err := json.Unmarshal([]byte(c.ok("features")), &f); err != nil || f["ociVersionMax"] != specs.Version {
		t.Fatalf("features: %v %v", f, err)
	}
}

// TestHelp: --help and -h on every command print that command's usage and
// exit 0, also after other flags; ctrkit --help lists every command.
func TestHelp(t *testing.T) {
	c := newCLI(t)
	all := c.ok("--help")
	for _, u := range usages {
		if !strings.Contains(all, "\n  "+u.name+" ") {
			t.Errorf("ctrkit --help does not list %s:\n%s", u.name, all)
		}
		for _, args := range [][]string{{u.name, "--help"}, {u.name, "-h"}, {u.name, "--bundle", "/nowhere", "--help"}} {
			if len(args) > 2 && u.name != "create" && u.name != "run" && u.name != "spec" {
				continue // --bundle is theirs only
			}
			out, errOut, code := c.run(args...)
			if code != 0 || !strings.HasPrefix(out, "usage: ctrkit "+u.name) {
				t.Errorf("%q: exit %d, %q %q", args, code, out, errOut)
			}
		}
	}
	if out := c.ok("help", "exec"); !strings.HasPrefix(out, "usage: ctrkit exec") {
		t.Errorf("help exec: %q", out)
	}
}

func TestErrorsAsJSONLog(t *testing.T) {
	c := newCLI(t)
	log := filepath.Join(t.TempDir(), "log.json")
	_, _, code := c.run("--log", log, "--log-format", "json", "state", "nope")
	if code != 1 {
		t.Fatalf("state of an unknown id: exit %d", code)
	}
	b, _ := os.ReadFile(log)
	var line struct{ Level, Msg string }
	if err := json.Unmarshal(bytes.TrimSpace(b), &line); err != nil || line.Level != "error" || !strings.Contains(line.Msg, `"nope" does not exist`) {
		t.Fatalf("log %q: %v", b, err)
	}
	if _, _, code := c.run("delete", "--force", "nope"); code != 0 {
		t.Fatalf("delete --force of an unknown id: exit %d", code)
	}
	if _, _, code := c.run("delete", "nope"); code != 1 {
		t.Fatalf("delete of an unknown id: exit %d", code)
	}
	if _, _, code := c.run("--systemd-cgroup", "state", "x"); code != 1 {
		t.Fatal("--systemd-cgroup accepted")
	}
}

func TestSpecRunsAsIs(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	c := newCLI(t)
	dir := t.TempDir()
	c.ok("spec", "--bundle", dir)
	if _, _, code := c.run("spec", "--bundle", dir); code == 0 {
		t.Fatal("spec overwrote config.json")
	}
	// The default spec's rootfs is the bundle's "rootfs"; its command a shell.
	rootfs := containertest.Rootfs(t)
	if err := os.Symlink(rootfs, filepath.Join(dir, "rootfs")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(c.path, "--root", c.root, "run", "--bundle", dir, "spec-run")
	cmd.Stdin = strings.NewReader("echo from-sh; exit 3\n")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 || !strings.Contains(string(out), "from-sh") {
		t.Fatalf("run: %v: %s", err, out)
	}
	if _, err := os.Stat(filepath.Join(c.root, "spec-run")); err == nil {
		t.Error("run left its state behind")
	}
	cgroupGone(t, "/ctrkit/spec-run")
}

func TestLifecycle(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	c := newCLI(t)
	id := fmt.Sprintf("life-%d", os.Getpid())
	b := bundle(t, "/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done")
	t.Cleanup(func() { c.run("delete", "--force", id) })
	pidFile := filepath.Join(t.TempDir(), "pid")
	c.ok("create", "--bundle", b, "--pid-file", pidFile, id)
	pid, _ := os.ReadFile(pidFile)
	if c.status(id) != "created" || len(pid) == 0 {
		t.Fatalf("after create: %s, pid %q", c.status(id), pid)
	}
	if _, _, code := c.run("create", "--bundle", b, id); code == 0 {
		t.Fatal("second create with the same id succeeded")
	}
	if _, _, code := c.run("delete", id); code == 0 {
		t.Fatal("delete of a created container without --force succeeded")
	}
	c.ok("start", id)
	if s := c.status(id); s != "running" {
		t.Fatalf("after start: %s", s)
	}
	if _, _, code := c.run("start", id); code == 0 {
		t.Fatal("second start succeeded")
	}
	var pids []int
	// The init, and maybe the loop's sleep of the moment.
	if err := json.Unmarshal([]byte(c.ok("ps", "--format", "json", id)), &pids); err != nil || !strings.Contains(" "+strings.Trim(fmt.Sprint(pids), "[]")+" ", " "+string(pid)+" ") {
		t.Fatalf("ps: %v %v (pid %s)", pids, err, pid)
	}
	if out, errOut, code := c.run("exec", id, "sh", "-c", "hostname; exit 4"); code != 4 || out != "ctrkit\n" {
		t.Fatalf("exec: exit %d, %q, %q", code, out, errOut)
	}
	c.ok("pause", id)
	if s := c.status(id); s != "paused" {
		t.Fatalf("after pause: %s", s)
	}
	c.ok("resume", id)
	c.ok("kill", id, "TERM")
	for i := 0; c.status(id) != "stopped"; i++ {
		if i > 100 {
			t.Fatal("container did not stop after SIGTERM")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, _, code := c.run("kill", id, "KILL"); code == 0 {
		t.Fatal("kill of a stopped container succeeded")
	}
	var st specs.State
	if err := json.Unmarshal([]byte(c.ok("state", id)), &st); err != nil || fmt.Sprint(st.Pid) != strings.TrimSpace(string(pid)) {
		t.Fatalf("state of the stopped container: pid %d (%v), want the pid file's %s", st.Pid, err, pid)
	}
	c.ok("delete", id)
	if _, err := os.Stat(filepath.Join(c.root, id)); err == nil {
		t.Error("state left behind")
	}
	cgroupGone(t, "/ctrkit/"+id)
}

func TestKillAllAndForceDelete(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	c := newCLI(t)
	id := fmt.Sprintf("killall-%d", os.Getpid())
	c.ok("create", "--bundle", bundle(t, "/bin/sh", "-c", "sleep 100 & sleep 100"), id)
	c.ok("start", id)
	for i := 0; ; i++ {
		var pids []int
		json.Unmarshal([]byte(c.ok("ps", "--format", "json", id)), &pids)
		if len(pids) >= 2 {
			break
		}
		if i > 100 {
			t.Fatal("the container's second process did not appear")
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.ok("kill", "--all", id, "9")
	for i := 0; c.status(id) != "stopped"; i++ {
		if i > 100 {
			t.Fatal("kill --all did not stop the container")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A created container is deleted with --force.
	id2 := id + "-b"
	c.ok("create", "--bundle", bundle(t, "true"), id2)
	c.ok("delete", "--force", id2)
	c.ok("delete", id)
	cgroupGone(t, "/ctrkit/"+id)
	cgroupGone(t, "/ctrkit/"+id2)
}

// A failing poststart or poststop hook is a warning: start and delete
// succeed, the hooks after it run, and the log file has the warning.
func TestFailingHooksWarn(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	c := newCLI(t)
	id := fmt.Sprintf("hookwarn-%d", os.Getpid())
	dir := t.TempDir()
	ran := filepath.Join(dir, "ran")
	s := oci.DefaultSpec()
	s.Root.Path = containertest.Rootfs(t)
	s.Process.Args = []string{"true"}
	s.Process.Terminal = false
	record := func(name string) specs.Hook {
		return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "echo " + name + " >> " + ran}}
	}
	fails := specs.Hook{Path: "/bin/false"}
	s.Hooks = &specs.Hooks{Poststart: []specs.Hook{fails, record("poststart")}, Poststop: []specs.Hook{fails, record("poststop")}}
	writeSpec(t, dir, s)
	log := filepath.Join(dir, "log.json")
	t.Cleanup(func() { c.run("delete", "--force", id) })
	c.ok("create", "--bundle", dir, id)
	c.ok("--log", log, "--log-format", "json", "start", id)
	for i := 0; c.status(id) != "stopped"; i++ {
		if i > 100 {
			t.Fatal("container did not stop")
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.ok("--log", log, "--log-format", "json", "delete", id)
	if got, _ := os.ReadFile(ran); string(got) != "poststart\npoststop\n" {
		t.Errorf("hooks after the failing ones ran: %q, want poststart and poststop", got)
	}
	lines := strings.Split(strings.TrimSpace(readFileName(t, log)), "\n")
	for i, want := range []string{"poststart hook /bin/false", "poststop hook /bin/false"} {
		var l struct{ Level, Msg string }
		if i >= len(lines) || json.Unmarshal([]byte(lines[i]), &l) != nil || l.Level != "warning" || !strings.Contains(l.Msg, want) {
			t.Errorf("log %q: want a warning %q", lines, want)
		}
	}
	cgroupGone(t, "/ctrkit/"+id)
}

func readFileName(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSelinuxMounted(t *testing.T) {
	for _, tc := range []struct {
		mountinfo string
		want      bool
	}{
		{"21 26 0:20 / /proc rw,relatime - proc proc rw\n", false},
		{"21 26 0:20 / /proc rw,relatime - proc proc rw\n30 21 0:25 / /sys/fs/selinux rw,relatime - selinuxfs selinuxfs rw\n", true},
		{"40 21 0:30 / /mnt/selinuxfs rw - tmpfs selinuxfs rw\n", false}, // a tmpfs whose source is named so
	} {
		if got := selinuxMounted(tc.mountinfo); got != tc.want {
			t.Errorf("selinuxMounted(%q) = %v, want %v", tc.mountinfo, got, tc.want)
		}
	}
}

// linux.mountLabel: refused where SELinux is enabled (this runtime applies no
// labels), without effect and accepted where it is not, as runc and crun do.
func TestMountLabel(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	c := newCLI(t)
	dir := t.TempDir()
	s := oci.DefaultSpec()
	s.Root.Path = containertest.Rootfs(t)
	s.Process.Args = []string{"echo", "labelled"}
	s.Process.Terminal = false
	s.Linux.MountLabel = "system_u:object_r:container_file_t:s0:c1,c2"
	writeSpec(t, dir, s)
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := c.run("run", "--bundle", dir, fmt.Sprintf("label-%d", os.Getpid()))
	if selinuxMounted(string(mi)) {
		if code == 0 || !strings.Contains(errOut, "linux.mountLabel") {
			t.Fatalf("SELinux host: exit %d, stderr %q; want an error naming linux.mountLabel", code, errOut)
		}
		return
	}
	if code != 0 || out != "labelled\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestCreateMissingCommand: create fails when the command is not in the
// container, as runc's does, and leaves no state or cgroup.
func TestCreateMissingCommand(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	c := newCLI(t)
	id := fmt.Sprintf("nocmd-%d", os.Getpid())
	t.Cleanup(func() { c.run("delete", "--force", id) })
	_, errOut, code := c.run("create", "--bundle", bundle(t, "/bin/nope"), id)
	if code == 0 || !strings.Contains(errOut, "/bin/nope") {
		t.Fatalf("create: exit %d, %q; want a failure naming /bin/nope", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(c.root, id)); err == nil {
		t.Error("state left behind")
	}
	cgroupGone(t, "/ctrkit/"+id)
}
