package container

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/containerd/cgroups/v3"
	"golang.org/x/sys/unix"
)

// The kernel side of the OCI lifecycle (lifecycle.go): parking on the exec
// FIFO, and joining a running container (WithJoin).

// checkExecFIFO checks, in the parent, that the exec FIFO exists and is a FIFO.
func checkExecFIFO(path string) error {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return fmt.Errorf("container: exec FIFO: %w", &os.PathError{Op: "stat", Path: path, Err: err})
	}
	if st.Mode&unix.S_IFMT != unix.S_IFIFO {
		return fmt.Errorf("container: exec FIFO %s: not a FIFO", path)
	}
	return nil
}

// holdExecFIFO opens the exec FIFO in the init while the host's file system is
// still reachable (before pivot_root): O_PATH, so that opening it neither
// blocks nor counts as a reader or writer. It also opens the host /proc's
// directory of the init's descriptors, through which parkUntilStart reopens
// the FIFO for writing: once the init has become another user, the
// container's root directory may be closed to it (a bundle's root is often
// mode 0700, and the user's capabilities come back only with the final
// privilege drop), while a process may always look up its own descriptors.
func holdExecFIFO(cfg *initConfig) error {
	if cfg.OCI.ExecFIFO == "" {
		return nil
	}
	fd, err := unix.Open(cfg.OCI.ExecFIFO, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return &SetupError{Op: "open exec FIFO", Path: cfg.OCI.ExecFIFO, Err: err}
	}
	cfg.OCI.fifoFD = fd
	dir, err := unix.Open("/proc/self/fd", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &SetupError{Op: "open exec FIFO", Path: "/proc/self/fd", Err: err}
	}
	cfg.OCI.fifoDir = dir
	return nil
}

// parkUntilStart is where a WithExecFIFO container waits between "created"
// and "started": it tells the parent it is parked, opens the FIFO for writing
// through holdExecFIFO's /proc/self/fd (blocking until a reader opens it),
// writes "0", and goes on to the final privilege drop and execve. The parent
// stops reading the channel after msgParked, so a failure from here on is
// reported on stderr too.
func parkUntilStart(cfg *initConfig, ch *os.File) error {
	if cfg.OCI.ExecFIFO == "" {
		return nil
	}
	itrace.send(ch) // trace_linux.go: WithLogger; the parent stops reading after msgParked
	if err := writeMsg(ch, msgParked, nil); err != nil {
		return fmt.Errorf("report parked: %w", err)
	}
	fd, err := unix.Openat(cfg.OCI.fifoDir, strconv.Itoa(cfg.OCI.fifoFD), unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &SetupError{Op: "open exec FIFO", Err: err}
	}
	unix.Close(cfg.OCI.fifoFD)
	unix.Close(cfg.OCI.fifoDir)
	if _, err := unix.Write(fd, []byte("0")); err != nil {
		unix.Close(fd)
		return &SetupError{Op: "write exec FIFO", Err: err}
	}
	// fd stays open until execve closes it: a reader that waits for EOF
	// knows the command was exec'd (or the init failed: see reportToFIFO).
	cfg.OCI.fifoWrite = fd
	return nil
}

// reportToFIFO writes the failure of a step after parkUntilStart to the exec
// FIFO, after the "0": the process that opened it (the OCI start) reads it
// before EOF, and knows the command will not run. Its creator, which read the
// channel, may be gone by then.
func reportToFIFO(cfg *initConfig, err error) {
	if err != nil && cfg.OCI.fifoWrite > 0 {
		unix.Write(cfg.OCI.fifoWrite, []byte(err.Error()))
	}
}

// joinNSTypes are the namespaces a WithJoin init must share with the container.
var joinNSTypes = []string{"user", "cgroup", "ipc", "uts", "net", "pid", "mnt"}

// joinPlan prepares a WithJoin start: the namespaces the init must end up in
// (checked by the init), and the environment that tells the nsenter
// constructor which container to join and which cgroups to enter.
func joinPlan(c *config, cmd *exec.Cmd, icfg *initConfig) error {
	pid := c.oci.joinPID
	if pid == 0 {
		return nil
	}
	icfg.OCI.JoinNS = map[string]uint64{}
	for _, t := range joinNSTypes {
		var st unix.Stat_t
		if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/%s", pid, t), &st); err != nil {
			return fmt.Errorf("container: join container %d: %s namespace: %w", pid, t, err)
		}
		icfg.OCI.JoinNS[t] = st.Ino
	}
	// A container without a mount namespace (WithoutNamespace(NSMount)) is
	// entered with chroot: joining its namespaces would leave the command at
	// the host's root.
	var own unix.Stat_t
	if err := unix.Stat("/proc/self/ns/mnt", &own); err == nil && own.Ino == icfg.OCI.JoinNS["mnt"] {
		return fmt.Errorf("container: join container %d: it has no mount namespace of its own (its root is a chroot): %w", pid, errors.ErrUnsupported)
	}
	pc, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return fmt.Errorf("container: join container %d: %w", pid, err)
	}
	v1, v2 := cgroupPaths(string(pc))
	var files []string
	seen := map[string]bool{}
	if cgroups.Mode() == cgroups.Unified {
		files = append(files, filepath.Join(cgroupRoot, v2, "cgroup.procs"))
	} else {
		mounts, err := v1Mounts()
		if err != nil {
			return fmt.Errorf("container: join container %d: %w", pid, err)
		}
		for ctrl, path := range v1 {
			m, ok := mounts[ctrl]
			if !ok {
				continue
			}
			f := filepath.Join(m, path, "cgroup.procs")
			if !seen[f] {
				seen[f] = true
				files = append(files, f)
			}
		}
	}
	for _, f := range files {
		if strings.Contains(f, ":") {
			return fmt.Errorf("container: join container %d: cgroup path %s contains ':'", pid, f)
		}
	}
	cmd.Env = append(cmd.Env, "_CTRKIT_JOIN_PID="+strconv.Itoa(pid), "_CTRKIT_JOIN_CGROUPS="+strings.Join(files, ":"))
	return nil
}

// waitExec reads the rest of a WithJoin start: EOF once the command was
// exec'd, or the failed step.
func waitExec(ch *os.File) error {
	t, body, err := readMsg(ch)
	switch {
	case errors.Is(err, io.EOF):
		return nil
	case err != nil:
		return fmt.Errorf("container: read from init: %w", err)
	case t == msgError:
		return initError(body)
	}
	return fmt.Errorf("container: unexpected message %q from init", t)
}

// checkJoined checks, first thing in a process joining a running container
// (WithJoin), that the nsenter constructor put it in the container's
// namespaces before the Go runtime started.
func checkJoined(cfg *initConfig) error {
	for t, ino := range cfg.OCI.JoinNS {
		var st unix.Stat_t
		if err := unix.Stat("/proc/self/ns/"+t, &st); err != nil || st.Ino != ino {
			return &SetupError{Op: "join container", Path: t + " namespace", Err: &detailedErrno{
				detail: "not in the container's namespace: the program must import github.com/ctrkit/container/nsenter",
				errno:  unix.EINVAL}}
		}
	}
	return nil
}

// reportJoined tells the parent that a joining process runs in the container
// (after the terminal, which the parent takes first); what fails from here on
// follows as an error, and EOF means the command was exec'd.
func reportJoined(cfg *initConfig, ch *os.File) error {
	if cfg.OCI.JoinPID == 0 {
		return nil
	}
	itrace.send(ch) // trace_linux.go: WithLogger; the parent stops reading after msgJoined
	if err := writeMsg(ch, msgJoined, nil); err != nil {
		return fmt.Errorf("report joined: %w", err)
	}
	return nil
}
