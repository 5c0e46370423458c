package container

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/containerd/cgroups/v3"
	"golang.org/x/sys/unix"
)

// minKernel is the oldest kernel the library runs on: openat2 (5.6),
// close_range (5.9), mount_setattr (5.12).
var minKernel = [2]int{5, 12}

// checkHost is Check's look at the host for the configuration c.
func checkHost(c *config) []error {
	var errs []error
	add := func(feature, reason, fix string) {
		errs = append(errs, &CheckError{Feature: feature, Reason: reason, Fix: fix})
	}
	if v, ok := kernelVersion(); ok && (v[0] < minKernel[0] || v[0] == minKernel[0] && v[1] < minKernel[1]) {
		add("kernel", fmt.Sprintf("Linux %d.%d is older than %d.%d (openat2, close_range, mount_setattr)", v[0], v[1], minKernel[0], minKernel[1]), "run a newer kernel")
	}
	if c.namespaces&NSUser != 0 {
		if n, err := readInt("/proc/sys/user/max_user_namespaces"); err == nil && n == 0 {
			add("user namespaces", "user.max_user_namespaces is 0", "sysctl -w user.max_user_namespaces=15000")
		}
		if c.rootless {
			for _, m := range [][]IDMap{c.uidMap, c.gidMap} {
				if len(m) != 1 || m[0].Size != 1 || (m[0].HostID != c.hostUID && m[0].HostID != c.hostGID) {
					add("user namespaces", "an id map beyond the caller's own uid and gid needs root: the library writes the maps itself (no newuidmap)", "map only your own ids (the default), or run as root")
					break
				}
			}
			if n, err := readInt("/proc/sys/kernel/unprivileged_userns_clone"); err == nil && n == 0 {
				add("user namespaces", "kernel.unprivileged_userns_clone is 0: unprivileged users may not make them", "sysctl -w kernel.unprivileged_userns_clone=1, or run as root")
			}
			if n, err := readInt("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"); err == nil && n == 1 {
				add("user namespaces", "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1)",
					"an AppArmor profile that allows userns for this program, sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or run as root")
			}
		}
	}
	if c.limits.needsCgroup() {
		if reason, fix := checkCgroups(c); reason != "" {
			add("cgroup limits", reason, fix)
		}
	}
	icfg := c.initConfig()
	if err := checkHostCaps(&icfg.Security); err != nil {
		add("capabilities", err.Error(), "drop them with WithCapDrop, or run with a fuller bounding set")
	}
	if c.net.hasVeth() && !hasCap(unix.CAP_NET_ADMIN) {
		add("veth networking", "WithVeth and WithNetwork need CAP_NET_ADMIN in the host's network namespace", "run as root, or give the container WithUserNetwork")
	}
	if c.userNet.on {
		if _, _, err := findUserNetHelper(); err != nil {
			add("user networking", err.Error(), "install Debian's passt package (pasta) or slirp4netns")
		}
		if f, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0); err != nil {
			add("user networking", fmt.Sprintf("the helper cannot open /dev/net/tun: %v", err), "chmod 0666 /dev/net/tun (udev's default)")
		} else {
			f.Close()
		}
	}
	if c.landlock.on {
		abi, err := landlockABI()
		if err == nil {
			_, _, err = c.landlock.plan(abi)
		}
		if err != nil {
			add("Landlock", err.Error(), "a kernel with the ABI the rules need, or WithLandlockBestEffort")
		}
	}
	return errs
}

// checkCgroups says why the limits of c cannot be applied here, if they
// cannot: no cgroup file system, a rootless caller without a delegated
// cgroup v2 subtree, a controller the host lacks.
func checkCgroups(c *config) (reason, fix string) {
	mode := cgroups.Mode()
	switch {
	case mode == cgroups.Unavailable:
		return "no cgroup file system mounted at " + cgroupRoot, "mount cgroup2 on /sys/fs/cgroup"
	case mode != cgroups.Unified && c.rootless:
		return "the limits of this host are in cgroup v1 hierarchies, which are not delegated to users", "run as root, or on a cgroup v2 host in a delegated cgroup: " + delegateHint
	case mode == cgroups.Unified:
		own, err := ownV2Path()
		if err != nil {
			return err.Error(), ""
		}
		dir := filepath.Join(cgroupRoot, own)
		if c.rootless {
			if err := checkDelegated(dir, own, c.hostUID); err != nil {
				return err.Error(), delegateHint
			}
		}
		have, _ := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
		for _, w := range c.limits.v2Controllers() {
			if !hasWord(string(have), w) {
				return fmt.Sprintf("the %s controller is not available in the caller's cgroup %s", w, own), "enable it in the parent's cgroup.subtree_control"
			}
		}
	default:
		if _, err := ownV1Parents(c.limits.v1Controllers()); err != nil {
			return err.Error(), "mount the hierarchy, or drop the limit"
		}
	}
	return "", ""
}

// hasCap reports whether capability v is in this thread's effective set.
func hasCap(v int) bool {
	_, data, err := capget()
	if err != nil {
		return false
	}
	return data[v/32].Effective&(1<<(v%32)) != 0
}

// kernelVersion returns the running kernel's major and minor version.
func kernelVersion() ([2]int, bool) {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return [2]int{}, false
	}
	rel := unix.ByteSliceToString(u.Release[:])
	parts := strings.SplitN(rel, ".", 3)
	if len(parts) < 2 {
		return [2]int{}, false
	}
	maj, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	return [2]int{maj, minor}, err1 == nil && err2 == nil
}

func readInt(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}
