//go:build linux && cgo

package nsenter_test

import (
	"context"
	"github.com/ctrkit/container/oci"
	"os"
	"strings"
	"testing"

	"github.com/ctrkit/container"
	"github.com/ctrkit/container/containertest"
	_ "github.com/ctrkit/container/nsenter"
)

// TestJoin runs a second process in a running container: it sees the
// container's hostname, PID namespace and root, and runs as the given user.
func TestJoin(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	first, err := container.New(rootfs, []string{"sh", "-c", "echo inside > /tmp/marker; exec sleep 100"},
		container.WithHostname("joined"), container.WithMemory(64<<20))
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer first.Wait()
	defer first.Signal(os.Kill)

	var out strings.Builder
	for i := 0; ; i++ {
		second, err := container.New(rootfs, []string{"sh", "-c", "hostname; cat /tmp/marker; echo $$; id -u; grep -c ':memory:/$' /proc/self/cgroup"},
			oci.WithJoin(first.Pid()), container.WithUser(1000, 1000))
		if err != nil {
			t.Fatal(err)
		}
		out.Reset()
		second.Stdout, second.Stderr = &out, &out
		if err := second.Run(context.Background()); err != nil {
			t.Fatalf("%v: %s", err, out.String())
		}
		if strings.Contains(out.String(), "inside") || i > 50 {
			break
		}
	}
	lines := strings.Fields(out.String())
	if len(lines) != 5 || lines[0] != "joined" || lines[1] != "inside" || lines[2] == "1" || lines[3] != "1000" || lines[4] != "1" {
		t.Fatalf("joined process printed %q; want hostname joined, the container's file, a pid other than 1, uid 1000, the container's memory cgroup", out.String())
	}
}

// TestJoinExitStatus: the joined command's exit status reaches Wait.
func TestJoinExitStatus(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	first, err := container.New(rootfs, []string{"sleep", "100"})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer first.Wait()
	defer first.Signal(os.Kill)
	second, err := container.New(rootfs, []string{"sh", "-c", "exit 5"}, oci.WithJoin(first.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	err = second.Run(context.Background())
	ee, ok := err.(*container.ExitError)
	if !ok || ee.ExitCode() != 5 {
		t.Fatalf("Run: %v, want exit status 5", err)
	}
	if _, err := container.New(rootfs, []string{"true"}, oci.WithJoin(first.Pid()), container.WithHostname("x")); err == nil {
		t.Fatal("WithJoin with WithHostname: New succeeded")
	}
}
