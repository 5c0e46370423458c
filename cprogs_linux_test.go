package container_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The cgroup v2 stage of CI (.ci/v2vm.sh) runs this package's tests in a
// virtual machine that has no C compiler. The script builds the static C
// programs of the tests on the host beforehand (TestBuildCPrograms, with
// CTRKIT_TEST_BUILD_CPROGS naming the output directory) and the guest points
// CTRKIT_TEST_CPROGS at them: there buildC copies the prebuilt program
// instead of compiling it. A prebuilt program is named after its source and
// flags, so a changed program that cPrograms does not follow fails the stage
// instead of running an old build.

// cPrograms lists every buildC call of the tests, as its arguments.
var cPrograms = []struct {
	name, src string
	flags     []string
}{
	{"probe", probeC, []string{"-pthread"}},
	{"abi32", abiC, []string{"-nostdlib", "-DINT80=0"}},
	{"abi386", abiC, []string{"-nostdlib", "-DINT80=1"}},
	{"whoami-suid", whoamiC, nil},
	{"iouring", ioUringC, nil},
}

// cProgramFile is the file name of a prebuilt program.
func cProgramFile(name, src string, flags []string) string {
	h := sha256.Sum256([]byte(name + "\x00" + src + "\x00" + strings.Join(flags, "\x00")))
	return name + "-" + hex.EncodeToString(h[:6])
}

// prebuiltC copies the prebuilt program into rootfs/bin/name when
// CTRKIT_TEST_CPROGS is set, failing the test when there is none for this
// source and these flags; ok is false when the variable is not set.
func prebuiltC(t *testing.T, rootfs, name, src string, flags []string) (path string, ok bool) {
	t.Helper()
	dir := os.Getenv("CTRKIT_TEST_CPROGS")
	if dir == "" {
		return "", false
	}
	data, err := os.ReadFile(filepath.Join(dir, cProgramFile(name, src, flags)))
	if err != nil {
		t.Fatalf("prebuilt C program %q: %v (add the buildC call to cPrograms)", name, err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "bin", name), data, 0o755); err != nil {
		t.Fatal(err)
	}
	return "/bin/" + name, true
}

// TestBuildCPrograms builds cPrograms into $CTRKIT_TEST_BUILD_CPROGS for a
// run where CTRKIT_TEST_CPROGS points at them.
func TestBuildCPrograms(t *testing.T) {
	out := os.Getenv("CTRKIT_TEST_BUILD_CPROGS")
	if out == "" {
		t.Skip("skipping: builds the C test programs for a machine without a compiler when CTRKIT_TEST_BUILD_CPROGS names a directory (.ci/v2vm.sh)")
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Fatal(err)
	}
	stage := t.TempDir()
	if err := os.Mkdir(filepath.Join(stage, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range cPrograms {
		bin := buildC(t, stage, p.name, p.src, p.flags...)
		if err := os.Rename(filepath.Join(stage, bin), filepath.Join(out, cProgramFile(p.name, p.src, p.flags))); err != nil {
			t.Fatal(err)
		}
	}
}
