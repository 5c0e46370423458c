package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctrkit/container/containertest"
	"github.com/ctrkit/container/oci"
)

// TestNoPivot: create --no-pivot, start, exec, kill, delete. The container
// runs in its rootfs, with its own /proc, and so does what exec runs in it;
// the host's mount table is as before. The flag
// reaches the library: with rootfsPropagation rshared, which
// container.WithoutPivotRoot refuses, create and run --no-pivot fail naming
// it.
func TestNoPivot(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	c := newCLI(t)
	id := fmt.Sprintf("nopivot-%d", os.Getpid())
	rootfs := containertest.Rootfs(t)
	b := t.TempDir()
	s := oci.DefaultSpec()
	s.Root.Path, s.Root.Readonly = rootfs, false
	s.Process.Args = []string{"/bin/sh", "-c", "{ ls /; echo pid $$; } > /tmp/out; trap 'exit 0' TERM; while :; do sleep 0.1; done"}
	writeSpec(t, b, s)
	t.Cleanup(func() { c.run("delete", "--force", id) })
	before, err := containertest.HostMounts()
	if err != nil {
		t.Fatal(err)
	}
	c.ok("create", "--no-pivot", "--bundle", b, id)
	if s := c.status(id); s != "created" {
		t.Fatalf("after create: %s", s)
	}
	c.ok("start", id)
	// exec joins the container's mount namespace: setns(2) puts it on the
	// topmost mount at the namespace's root, the moved rootfs.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if out, _, code := c.run("exec", id, "cat", "/tmp/out"); code == 0 && strings.HasSuffix(out, "pid 1\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("exec cat /tmp/out in %s: nothing written", id)
		}
	}
	if out := c.ok("exec", id, "ls", "/"); !strings.Contains(out, "bin\n") || !strings.Contains(out, "proc\n") || strings.Contains(out, "work\n") {
		t.Errorf("exec ls /: %q, want the rootfs", out)
	}
	c.ok("kill", id, "TERM")
	for deadline := time.Now().Add(30 * time.Second); c.status(id) != "stopped"; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not stop", id)
		}
	}
	c.ok("delete", id)
	out, err := os.ReadFile(filepath.Join(rootfs, "tmp", "out"))
	if err != nil || !strings.Contains(string(out), "bin\n") || !strings.Contains(string(out), "proc\n") || !strings.HasSuffix(string(out), "pid 1\n") {
		t.Fatalf("the container wrote %q (%v), want its rootfs's ls and pid 1", out, err)
	}
	if after, _ := containertest.HostMounts(); after != before {
		t.Fatalf("the mount table changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	cgroupGone(t, "/ctrkit/"+id)

	s.Linux.RootfsPropagation = "rshared"
	writeSpec(t, b, s)
	t.Cleanup(func() { c.run("delete", "--force", id+"-shared") }) // should create succeed
	for _, verb := range []string{"create", "run"} {
		_, errOut, code := c.run(verb, "--no-pivot", "--bundle", b, id+"-shared")
		if code == 0 || !strings.Contains(errOut, "WithoutPivotRoot") {
			t.Errorf("%s --no-pivot with rootfsPropagation rshared: exit %d, %q; want it refused naming WithoutPivotRoot", verb, code, errOut)
		}
	}
}
