//go:build linux

// Command gofloor is the floor for a Go program that starts a container by
// re-executing itself, for bench/run.sh: clone /proc/self/exe into new mount,
// UTS, IPC, PID, network and cgroup namespaces; in the child (a second Go
// runtime start): mounts private, bind the rootfs, pivot_root, detach the old
// root, mount /proc, execve. No configuration channel, no /sys or /dev, no
// seccomp, no capabilities: the least a Go container library can do.
//
//	gofloor ROOTFS CMD [ARG...]         one container, as a whole process
//	gofloor -n N ROOTFS CMD [ARG...]    N containers in a loop; prints each
//	                                    one's wall time in nanoseconds, one a line
//
// Run it as root.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

const childArg0 = "gofloor-init"

func main() {
	if os.Args[0] == childArg0 {
		child(os.Args[1], os.Args[2:])
	}
	args, n := os.Args[1:], 0
	if len(args) > 1 && args[0] == "-n" {
		var err error
		if n, err = strconv.Atoi(args[1]); err != nil {
			fail(err)
		}
		args = args[2:]
	}
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: gofloor [-n N] ROOTFS CMD [ARG...]")
		os.Exit(2)
	}
	if n == 0 {
		if err := one(args, true); err != nil {
			fail(err)
		}
		return
	}
	for range n {
		t0 := time.Now()
		if err := one(args, false); err != nil {
			fail(err)
		}
		fmt.Println(int64(time.Since(t0)))
	}
}

func one(args []string, attach bool) error {
	cmd := &exec.Cmd{
		Path: "/proc/self/exe",
		Args: append([]string{childArg0}, args...),
		Env:  []string{},
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC |
				syscall.CLONE_NEWPID | syscall.CLONE_NEWNET | syscall.CLONE_NEWCGROUP,
		},
	}
	if attach {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	}
	return cmd.Run()
}

func child(rootfs string, cmd []string) {
	must(syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""))
	must(syscall.Mount(rootfs, rootfs, "", syscall.MS_BIND|syscall.MS_REC, ""))
	must(syscall.Chdir(rootfs))
	must(syscall.PivotRoot(".", "."))
	must(syscall.Unmount(".", syscall.MNT_DETACH))
	must(syscall.Chdir("/"))
	must(syscall.Mount("proc", "/proc", "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""))
	must(syscall.Exec(cmd[0], cmd, []string{"PATH=/bin:/usr/bin:/sbin:/usr/sbin"}))
}

func must(err error) {
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gofloor:", err)
	os.Exit(1)
}
