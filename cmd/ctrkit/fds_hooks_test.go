package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctrkit/container/containertest"
	"github.com/ctrkit/container/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// specBundle writes a bundle around a busybox rootfs running args, with the
// default spec changed by change; it returns the bundle and the rootfs.
func specBundle(t *testing.T, change func(s *specs.Spec), args ...string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	s := oci.DefaultSpec()
	s.Root.Path = containertest.Rootfs(t)
	s.Process.Args = args
	change(s)
	writeSpec(t, dir, s)
	return dir, s.Root.Path
}

// withFiles runs the CLI with extra files as its descriptors 3, 4, ...
func (c *cli) withFiles(files []*os.File, args ...string) (string, string, int) {
	c.t.Helper()
	cmd := exec.Command(c.path, append([]string{"--root", c.root}, args...)...)
	cmd.ExtraFiles = files
	return runTool(c.t, cmd)
}

// pipe returns a pipe whose write end the caller passes on and closes.
func pipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}

func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPreserveFDs: run, create and exec pass the runtime's descriptors 3 to
// 2+N to the container's process as its 3 to 2+N, and nothing else (ls's own
// directory takes the next number).
func TestPreserveFDs(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	c := newCLI(t)
	in := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(in, []byte("from-file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	script := `echo to-pipe >&3; read line <&4; echo "read $line"; ls /proc/self/fd | tr '\n' ' '`

	// run
	r, w := pipe(t)
	b, _ := specBundle(t, func(*specs.Spec) {}, "/bin/sh", "-c", script)
	out, errOut, code := c.withFiles([]*os.File{w, f}, "run", "--preserve-fds", "2", "--bundle", b, fmt.Sprintf("fds-run-%d", os.Getpid()))
	w.Close()
	if code != 0 || out != "read from-file\n0 1 2 3 4 5 " {
		t.Fatalf("run --preserve-fds 2: exit %d, %q, %q", code, out, errOut)
	}
	if got := readAll(t, r); got != "to-pipe\n" {
		t.Errorf("run: pipe carried %q", got)
	}

	// create, start: the parked init holds the descriptor until the command runs.
	id := fmt.Sprintf("fds-create-%d", os.Getpid())
	t.Cleanup(func() { c.run("delete", "--force", id) })
	r, w = pipe(t)
	b, _ = specBundle(t, func(*specs.Spec) {}, "/bin/sh", "-c", "echo created-pipe >&3; exec sleep 100")
	succeeded(t, "ctrkit", []string{"create"})(c.withFiles([]*os.File{w}, "create", "--preserve-fds", "1", "--bundle", b, id))
	w.Close()
	c.ok("start", id)
	if line, err := readLine(r); err != nil || line != "created-pipe\n" {
		t.Errorf("create --preserve-fds 1: pipe carried %q, %v", line, err)
	}

	// exec into it.
	r, w = pipe(t)
	out, errOut, code = c.withFiles([]*os.File{w}, "exec", "--preserve-fds", "1", id, "sh", "-c", "echo exec-pipe >&3; ls /proc/self/fd | tr '\n' ' '")
	w.Close()
	if code != 0 || out != "0 1 2 3 4 " {
		t.Fatalf("exec --preserve-fds 1: exit %d, %q, %q", code, out, errOut)
	}
	if got := readAll(t, r); got != "exec-pipe\n" {
		t.Errorf("exec: pipe carried %q", got)
	}
	c.ok("kill", id, "KILL")
	c.ok("delete", "--force", id)
	cgroupGone(t, "/ctrkit/"+id)

	// A descriptor that is not open is an error, before anything is made.
	if _, errOut, code := c.run("run", "--preserve-fds", "1", "--bundle", b, "fds-none"); code != 1 || !strings.Contains(errOut, "descriptor 3") {
		t.Errorf("run --preserve-fds 1 without fd 3: exit %d, %q", code, errOut)
	}
	if _, errOut, code := c.run("run", "--preserve-fds", "x", "--bundle", b, "fds-none"); code != 1 || !strings.Contains(errOut, "--preserve-fds") {
		t.Errorf("run --preserve-fds x: exit %d, %q", code, errOut)
	}
}

// readLine reads up to a newline, without waiting for EOF (the container
// still runs, and holds the write end).
func readLine(r io.Reader) (string, error) {
	var b []byte
	buf := make([]byte, 1)
	for {
		if _, err := r.Read(buf); err != nil {
			return string(b), err
		}
		b = append(b, buf[0])
		if buf[0] == '\n' {
			return string(b), nil
		}
	}
}

// TestContainerHooks: the createContainer hook runs before pivot_root (it
// resolves its path and writes on the host, and sees the rootfs's /proc
// mount) and after the createRuntime hook, the startContainer hook inside the
// container's root; each reads the state; the command sees what both wrote.
func TestContainerHooks(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	c := newCLI(t)
	id := fmt.Sprintf("hooks-%d", os.Getpid())
	var rootfs string
	b, rootfs := specBundle(t, func(s *specs.Spec) {
		s.Root.Readonly = false
		create := `cat > "$R/created"; echo >> "$R/created"; grep -c " $R/proc " /proc/self/mountinfo >> "$R/created"; ` +
			`test -f "$R/runtime" && echo after-createRuntime >> "$R/created"`
		s.Hooks = &specs.Hooks{
			CreateRuntime:   []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", `cat > "$R/runtime"`}, Env: []string{"R=" + s.Root.Path}}},
			CreateContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", create}, Env: []string{"R=" + s.Root.Path}}},
			StartContainer:  []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "cat > /tmp/started"}}},
		}
	}, "/bin/cat", "/created", "/tmp/started")
	if err := os.Chmod(filepath.Join(rootfs, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	out := c.ok("run", "--bundle", b, id)
	lines := strings.SplitN(out, "\n", 4)
	if len(lines) != 4 || lines[1] != "1" || lines[2] != "after-createRuntime" {
		t.Fatalf("run: %q: want the createContainer hook's state, a 1, after-createRuntime and the startContainer hook's state", out)
	}
	for i, want := range map[int]string{0: "creating", 3: "created"} {
		var st specs.State
		if err := json.Unmarshal([]byte(lines[i]), &st); err != nil || st.ID != id || st.Pid != 1 || st.Bundle != b || string(st.Status) != want {
			t.Errorf("hook state %q (%v): want id %s, pid 1, bundle %s, status %s", lines[i], err, id, b, want)
		}
	}

	// A failing startContainer hook fails start, with its output; a failing
	// createContainer hook fails create.
	id2 := id + "-fail"
	t.Cleanup(func() { c.run("delete", "--force", id2) })
	b, _ = specBundle(t, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo no-start; exit 2"}}}}
	}, "/bin/echo", "command ran")
	createOut := c.ok("create", "--bundle", b, id2)
	_, errOut, code := c.run("start", id2)
	if code != 1 || !strings.Contains(errOut, "startContainer hook /bin/sh: exit status 2: no-start") {
		t.Errorf("start with a failing startContainer hook: exit %d, %q", code, errOut)
	}
	if strings.Contains(createOut, "command ran") {
		t.Error("the command ran")
	}
	c.ok("delete", "--force", id2)
	b, _ = specBundle(t, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo no-create; exit 2"}}}}
	}, "/bin/true")
	if _, errOut, code := c.run("create", "--bundle", b, id2); code != 1 || !strings.Contains(errOut, "createContainer hook /bin/sh: exit status 2: no-create") {
		t.Errorf("create with a failing createContainer hook: exit %d, %q", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(c.root, id2)); err == nil {
		t.Error("a failed create left its state")
	}
	cgroupGone(t, "/ctrkit/"+id)
	cgroupGone(t, "/ctrkit/"+id2)
}
