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

// TestNoMountNamespace: a spec without a mount namespace (runtime-tools'
// linux_ns_itype) runs in the runtime's mount namespace, chrooted in its
// rootfs; its mounts, on the host while it lives, are gone after delete, for
// a container that ran and for one deleted with --force before start.
func TestNoMountNamespace(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	c := newCLI(t)
	rootfs, err := filepath.EvalSymlinks(containertest.Rootfs(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := oci.DefaultSpec()
	s.Root.Path, s.Root.Readonly, s.Hostname = rootfs, false, ""
	s.Linux.Namespaces = nil
	s.Process.Args = []string{"sh", "-c", "readlink /proc/self/ns/mnt > /tmp/out; ls /dev/null /proc/self/status >> /tmp/out"}
	writeSpec(t, dir, s)
	ownMnt, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		t.Fatal(err)
	}
	info := func() string {
		m, err := containertest.HostMounts()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	before := info()

	for _, started := range []bool{true, false} {
		id := fmt.Sprintf("nomnt-%v-%d", started, os.Getpid())
		t.Cleanup(func() { c.run("delete", "--force", id) })
		c.ok("create", "--bundle", dir, id)
		if during := info(); !strings.Contains(during, " "+rootfs+"/proc ") || !strings.Contains(during, " "+rootfs+"/dev ") {
			t.Fatalf("%s: no mount of the container below %s on the host:\n%s", id, rootfs, during)
		}
		if started {
			c.ok("start", id)
			for deadline := time.Now().Add(30 * time.Second); c.status(id) != "stopped"; time.Sleep(50 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("%s did not stop", id)
				}
			}
			out, err := os.ReadFile(filepath.Join(rootfs, "tmp", "out"))
			if err != nil || string(out) != ownMnt+"\n/dev/null\n/proc/self/status\n" {
				t.Errorf("%s wrote %q (%v), want its mount namespace %s, then /dev/null and /proc/self/status", id, out, err, ownMnt)
			}
			c.ok("delete", id)
		} else {
			c.ok("delete", "--force", id)
		}
		if after := info(); after != before {
			t.Fatalf("%s: the mount table changed:\nbefore:\n%s\nafter:\n%s", id, before, after)
		}
		cgroupGone(t, "/ctrkit/"+id)
	}
}
