package container

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Our pure name table agrees with the kernel's headers (Debian's
// linux-libc-dev, which gcc's libc6-dev brings) and knows every capability
// the running kernel does.
func TestCapNamesMatchKernel(t *testing.T) {
	last, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(last)))
	if err != nil || n >= len(capNames) {
		t.Errorf("the kernel knows %d capabilities, the table %d", n+1, len(capNames))
	}
	// Past the kernel's last capability PR_CAPBSET_READ fails: what
	// setCapabilities stops at. (Root's bounding set may lack some below it:
	// CAP_SYS_RESOURCE on our machines.)
	if !inBoundingSet(0) && os.Geteuid() == 0 {
		t.Error("CAP_CHOWN is not in root's bounding set")
	}
	for v := n + 1; v < 64; v++ {
		if inBoundingSet(v) {
			t.Errorf("capability %d is in the bounding set, the kernel's last is %d", v, n)
		}
	}
	h, err := os.ReadFile("/usr/include/linux/capability.h")
	if err != nil {
		t.Skipf("skipping the name check: %v (Debian's linux-libc-dev has it)", err)
	}
	seen := 0
	for _, m := range regexp.MustCompile(`(?m)^#define (CAP_[A-Z_]+)\s+(\d+)\s*$`).FindAllStringSubmatch(string(h), -1) {
		if m[1] == "CAP_LAST_CAP" {
			continue
		}
		v, _ := strconv.Atoi(m[2])
		if v >= len(capNames) || capNames[v] != m[1] {
			t.Errorf("%s is %d in the kernel's header", m[1], v)
		}
		seen++
	}
	if seen != len(capNames) {
		t.Errorf("the header defines %d capabilities, the table has %d", seen, len(capNames))
	}
}
