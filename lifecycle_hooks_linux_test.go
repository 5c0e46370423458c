package container_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctrkit/container/oci"

	"github.com/ctrkit/container"
	"github.com/ctrkit/container/containertest"
	"golang.org/x/sys/unix"
)

// extraFilesScript writes to fd 3, reads fd 4, and lists the descriptors
// open in ls: those it inherited, and the directory it reads, which takes the
// lowest free number (5 when exactly 0 to 4 are open).
const extraFilesScript = `echo to-pipe >&3; read line <&4; echo "read $line"; ls /proc/self/fd`

// TestExtraFiles: Container.ExtraFiles gives the command the caller's files as fds 3
// and 4, and no other descriptor, with and without WithInit.
func TestExtraFiles(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	for _, tc := range []struct {
		name string
		opts []container.Option
	}{
		{"exec", nil},
		{"WithInit", []container.Option{container.WithInit()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			in := filepath.Join(t.TempDir(), "in")
			if err := os.WriteFile(in, []byte("from-file\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(in)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			c, err := container.New(rootfs, []string{"/bin/sh", "-c", extraFilesScript}, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			c.ExtraFiles = []*os.File{w, f}
			var out bytes.Buffer
			c.Stdout, c.Stderr = &out, &out
			err = c.Start(context.Background())
			w.Close()
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Wait(); err != nil {
				t.Fatalf("%v: %s", err, out.String())
			}
			// Every copy of the pipe's write end is gone (the init's too): EOF.
			got, err := io.ReadAll(r)
			if err != nil || string(got) != "to-pipe\n" {
				t.Errorf("pipe (fd 3) carried %q, %v; want \"to-pipe\\n\"", got, err)
			}
			if want := "read from-file\n0\n1\n2\n3\n4\n5\n"; out.String() != want {
				t.Errorf("command printed %q, want %q", out.String(), want)
			}
		})
	}
}

// TestExtraFilesNil: a nil file fails Start, which leaves nothing behind.
func TestExtraFilesNil(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	c, err := container.New(containertest.Rootfs(t), []string{"/bin/true"})
	if err != nil {
		t.Fatal(err)
	}
	c.ExtraFiles = []*os.File{os.Stdin, nil}
	if err := c.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "ExtraFiles[1]: nil file") {
		t.Fatalf("Start with a nil extra file: %v", err)
	}
}

// TestCreateHook: a create hook runs after the mounts (it sees the container's
// /proc mounted under the rootfs path, which it resolves on the host) and
// before pivot_root (the rootfs is not yet the root), in the container's mount
// and PID namespaces, with the state it was given (pid 1: the init, as the
// container sees it), its args and its environment.
func TestCreateHook(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	script := `read state; echo "$state $1 $HOOKVAR"; grep -c " $ROOTFS/proc " /proc/self/mountinfo; ` +
		`test -d $ROOTFS/bin && echo root-not-pivoted; readlink /proc/self/ns/mnt; readlink /proc/self/ns/pid`
	hook := oci.Hook{
		Path:  "/bin/sh",
		Args:  []string{"sh", "-c", "{ " + script + "; } >" + rootfs + "/created", "sh", "arg1"},
		Env:   []string{"HOOKVAR=var", "ROOTFS=" + rootfs, "PATH=/usr/bin:/bin"},
		Stdin: func(pid int) []byte { return []byte(fmt.Sprintf("pid=%d\n", pid)) },
	}
	c, err := container.New(rootfs, []string{"/bin/sh", "-c", "cat /created; readlink /proc/self/ns/mnt; readlink /proc/self/ns/pid"},
		oci.WithCreateHook(hook))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.Wait(); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	lines := strings.Split(out.String(), "\n")
	if len(lines) != 8 || strings.Join(lines[:3], "\n") != "pid=1 arg1 var\n1\nroot-not-pivoted" {
		t.Fatalf("the hook and the command wrote %q, want the state, args and env, one /proc mount under the rootfs, the rootfs not pivoted yet", out.String())
	}
	hostMnt, _ := os.Readlink("/proc/self/ns/mnt")
	if lines[3] != lines[5] || lines[4] != lines[6] || lines[3] == hostMnt {
		t.Errorf("hook namespaces %s %s, command's %s %s, host's mount namespace %s: want the command's", lines[3], lines[4], lines[5], lines[6], hostMnt)
	}
}

// TestStartHook: a start hook runs inside the container's root, right before
// the command, with the command's user and capabilities; the command sees
// what it wrote.
func TestStartHook(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	if err := os.Chmod(filepath.Join(rootfs, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	hook := oci.Hook{
		// Resolved in the container: the rootfs's busybox, not the host's sh.
		Path:  "/bin/sh",
		Args:  []string{"sh", "-c", `read state; echo "$state $(id -u) $(grep CapEff /proc/self/status) $(pwd)" > /tmp/started`},
		Stdin: func(pid int) []byte { return []byte(fmt.Sprintf("pid=%d\n", pid)) },
	}
	c, err := container.New(rootfs, []string{"/bin/cat", "/tmp/started"}, oci.WithStartHook(hook),
		container.WithUser(1000, 1000), container.WithDir("/tmp"))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.Wait(); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if want := "pid=1 1000 CapEff:\t0000000000000000 /tmp\n"; out.String() != want {
		t.Errorf("the hook wrote %q, want %q", out.String(), want)
	}
}

// TestHookFailure: a hook that exits with a status other than 0, or outlives
// its timeout, fails Start with its output; nothing of the container is left.
func TestHookFailure(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	for _, tc := range []struct {
		name string
		opt  container.Option
		want string
	}{
		{"create", oci.WithCreateHook(oci.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "echo create-failed; exit 3"}}),
			"createContainer hook /bin/sh: exit status 3: create-failed"},
		{"start", oci.WithStartHook(oci.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "echo start-failed; exit 4"}}),
			"startContainer hook /bin/sh: exit status 4: start-failed"},
		{"timeout", oci.WithStartHook(oci.Hook{Path: "/bin/sleep", Args: []string{"sleep", "60"}, Timeout: 100 * time.Millisecond}),
			"startContainer hook /bin/sleep: timed out after 100ms"},
		{"missing", oci.WithStartHook(oci.Hook{Path: "/no/such/hook"}),
			"startContainer hook /no/such/hook"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := container.New(rootfs, []string{"/bin/echo", "command ran"}, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			c.Stdout, c.Stderr = &out, &out
			err = c.Start(context.Background())
			var se *container.SetupError
			if !errors.As(err, &se) || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("Start: %v, want a SetupError starting with %q", err, tc.want)
			}
			if tc.name == "missing" && !errors.Is(err, unix.ENOENT) {
				t.Errorf("Start: %v, want ENOENT", err)
			}
			if strings.Contains(out.String(), "command ran") {
				t.Errorf("the command ran: %q", out.String())
			}
		})
	}
}

// TestExecFIFOReports: with WithExecFIFO, a reader of the FIFO reads exactly
// "0" once the command runs (WithInit too, where the init does not exec), and
// the failure after it otherwise (a start hook's).
func TestExecFIFOReports(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	for _, tc := range []struct {
		name string
		opts []container.Option
		fifo string // what the FIFO gives until EOF
		exit int    // the init's exit status
	}{
		{"exec", nil, "0", 0},
		{"WithInit", []container.Option{container.WithInit()}, "0", 0},
		{"failing start hook", []container.Option{oci.WithStartHook(oci.Hook{Path: "/bin/false"})},
			"0startContainer hook /bin/false: exit status 1: ", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fifo := filepath.Join(t.TempDir(), "exec.fifo")
			if err := unix.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := container.New(rootfs, []string{"/bin/true"}, append(tc.opts, oci.WithExecFIFO(fifo))...)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			c.Stdout, c.Stderr = &out, &out
			if err := c.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(fifo)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(f)
			f.Close()
			if err != nil || string(got) != tc.fifo {
				t.Errorf("exec FIFO gave %q, %v; want %q", got, err, tc.fifo)
			}
			err = c.Wait()
			var ee *container.ExitError
			switch {
			case tc.exit == 0 && err != nil:
				t.Errorf("Wait: %v (%s)", err, out.String())
			case tc.exit != 0 && (!errors.As(err, &ee) || ee.ExitCode() != tc.exit):
				t.Errorf("Wait: %v, want exit status %d", err, tc.exit)
			}
		})
	}
}

// TestBeforePivot: WithBeforePivot's function runs while the init waits with
// the container's file systems mounted and its root not yet pivoted, before
// the create hooks; its error fails Start.
func TestBeforePivot(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	var sawPid int
	var mounted, unpivoted bool
	before := func(pid int) error {
		sawPid = pid
		// The init's view: the host's root, with the rootfs's /proc mounted.
		var st unix.Statfs_t
		mounted = unix.Statfs(fmt.Sprintf("/proc/%d/root%s/proc", pid, rootfs), &st) == nil && st.Type == unix.PROC_SUPER_MAGIC
		_, err := os.Stat(fmt.Sprintf("/proc/%d/root%s/bin/sh", pid, rootfs))
		unpivoted = err == nil
		return os.WriteFile(filepath.Join(rootfs, "before"), nil, 0o644)
	}
	hook := oci.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "test -f " + rootfs + "/before && echo ordered > " + rootfs + "/created"}}
	c, err := container.New(rootfs, []string{"/bin/cat", "/created"}, oci.WithBeforePivot(before), oci.WithCreateHook(hook))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if sawPid != c.Pid() || !mounted || !unpivoted {
		t.Errorf("before pivot: pid %d (init %d), rootfs's /proc mounted %v, root not pivoted %v", sawPid, c.Pid(), mounted, unpivoted)
	}
	if err := c.Wait(); err != nil || out.String() != "ordered\n" {
		t.Errorf("Wait: %v, output %q: want the create hook to run after the function", err, out.String())
	}

	errBefore := errors.New("refused")
	c, err = container.New(rootfs, []string{"/bin/true"}, oci.WithBeforePivot(func(int) error { return errBefore }))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); !errors.Is(err, errBefore) {
		t.Fatalf("Start: %v, want the function's error", err)
	}
}

// TestHookDaemon: a hook that exits 0 but leaves a process holding its output
// open does not hold up the start, nor fail it.
func TestHookDaemon(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	hook := oci.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "sleep 30 & echo started"}}
	c, err := container.New(rootfs, []string{"/bin/echo", "command ran"}, oci.WithStartHook(hook))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.Wait(); err != nil || out.String() != "command ran\n" {
		t.Fatalf("Wait: %v, output %q", err, out.String())
	}
}

// TestExtraFilesReleased: once the command runs, it holds the only copies of
// its extra files (with WithInit too, where the init lives on): a pipe whose
// write end the command closes reads EOF while the command still runs.
func TestExtraFilesReleased(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	for _, tc := range []struct {
		name string
		opts []container.Option
	}{
		{"exec", nil},
		{"WithInit", []container.Option{container.WithInit()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			stdinR, stdinW, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer stdinW.Close()
			// The pipe is the last extra file (fd 4).
			c, err := container.New(rootfs, []string{"/bin/sh", "-c", "echo x >&4; exec 3>&- 4>&-; read line; exit 0"}, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			c.ExtraFiles = []*os.File{os.Stdin, w}
			c.Stdin = stdinR
			err = c.Start(context.Background())
			w.Close()
			stdinR.Close()
			if err != nil {
				t.Fatal(err)
			}
			r.SetReadDeadline(time.Now().Add(time.Minute)) // a copy left would block forever
			got, err := io.ReadAll(r)                      // returns at EOF: no copy of w is left
			stdinW.Close()
			if werr := c.Wait(); werr != nil {
				t.Fatal(werr)
			}
			if err != nil || string(got) != "x\n" {
				t.Errorf("pipe carried %q, %v", got, err)
			}
		})
	}
}
