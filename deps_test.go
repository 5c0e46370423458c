package container

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestNoCgo (issue 12): the root package and examples/run link no cgo, so a
// default (CGO_ENABLED=1) build of a program that imports it is static and
// its container inits pay no ld.so or libc: no runtime/cgo (libcap's psx,
// net's resolver), and none of the packages that only its subpackages may
// bring.
func TestNoCgo(t *testing.T) {
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("skipping: no go command to list the package's dependencies")
	}
	cmd := exec.Command(gotool, "list", "-deps", "-f", "{{.ImportPath}}", ".", "./examples/run")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1", "GOOS=linux")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch {
		case dep == "runtime/cgo", dep == "net", dep == "os/user",
			strings.Contains(dep, "libcap"), strings.Contains(dep, "go-seccomp-bpf"),
			strings.Contains(dep, "cilium/ebpf"), strings.Contains(dep, "go-containerregistry"),
			strings.Contains(dep, "vishvananda"):
			t.Errorf("the root package or examples/run links %s", dep)
		}
	}
}
