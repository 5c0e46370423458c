package container

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ctrkit/container/internal/devices"
	"golang.org/x/sys/unix"
)

// The kernel side of options_oci.go: init steps (kernel parameters, parking
// on the exec FIFO, umask, bind attributes), the cgroup at a fixed path, and
// the functions that act on a container's cgroup from a process other than
// its creator (RemoveCgroup, FreezeCgroup, CgroupPids).

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

// setKernelParams writes the container's sysctls and its OOM score. It runs in
// the container's namespaces before the mounts, through the host's /proc: the
// files under /proc/sys/net, /proc/sys/kernel/{shm,msg,sem}, fs/mqueue and the
// UTS names act on the namespaces of the process that writes them.
func setKernelParams(cfg *initConfig) error {
	for _, s := range cfg.OCI.Sysctls {
		p := "/proc/sys/" + strings.ReplaceAll(s.Key, ".", "/")
		if err := os.WriteFile(p, []byte(s.Value), 0); err != nil {
			return &SetupError{Op: "sysctl", Path: s.Key, Err: underlying(err)}
		}
	}
	if cfg.OCI.OOMScoreAdj != nil {
		v := strconv.Itoa(*cfg.OCI.OOMScoreAdj)
		if err := os.WriteFile("/proc/self/oom_score_adj", []byte(v), 0); err != nil {
			return &SetupError{Op: "write oom_score_adj", Path: v, Err: underlying(err)}
		}
	}
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

// setUmask sets the umask the command inherits (WithUmask).
func setUmask(cfg *initConfig) error {
	if cfg.OCI.Umask >= 0 {
		unix.Umask(cfg.OCI.Umask)
	}
	return nil
}

// setAttrs sets nosuid, nodev and noexec on a bound tree (WithMount "bind").
func (m *mounter) setAttrs(dest string, strict bool, flags uintptr) error {
	t, err := m.lookup(dest, strict)
	if err != nil {
		return err
	}
	defer t.Close()
	var attr, clr uint64
	for _, f := range []struct {
		flag uintptr
		attr uint64
	}{{msNosuid, unix.MOUNT_ATTR_NOSUID}, {msNodev, unix.MOUNT_ATTR_NODEV}, {msNoexec, unix.MOUNT_ATTR_NOEXEC},
		{0x400, unix.MOUNT_ATTR_NOATIME}, {0x200000, unix.MOUNT_ATTR_RELATIME}, {msStrictatime, unix.MOUNT_ATTR_STRICTATIME},
		{0x800, unix.MOUNT_ATTR_NODIRATIME}} {
		if flags&f.flag != 0 {
			attr |= f.attr
		}
	}
	if flags&(0x400|0x200000|msStrictatime) != 0 {
		clr = unix.MOUNT_ATTR__ATIME // the atime mode is replaced as a whole
	}
	return unix.MountSetattr(int(t.Fd()), "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &unix.MountAttr{Attr_set: attr, Attr_clr: clr})
}

// createAt creates the cgroup at the absolute path of WithCgroupPath: in the
// v2 hierarchy, or in each v1 hierarchy the limits need plus the freezer.
// Missing parents are created and kept.
func (s *cgroupState) createAt(v2 bool, path string) error {
	s.dirs = map[string]string{}
	if v2 {
		if s.limits.deviceSet != nil && devices.AttachProgram == nil {
			return errors.New("device rules on cgroup v2 need an eBPF device program, which only a program that imports github.com/ctrkit/container/oci can load")
		}
		s.v2 = true
		dir := filepath.Join(cgroupRoot, path)
		if err := enableControllers(filepath.Dir(dir), s.limits.v2Controllers()); err != nil {
			// The parent may not exist yet: create it, then enable.
			if mkErr := os.MkdirAll(filepath.Dir(dir), 0o755); mkErr != nil {
				return mkErr
			}
			if err := enableControllers(filepath.Dir(dir), s.limits.v2Controllers()); err != nil {
				return err
			}
		}
		if err := s.makeV2(dir); err != nil {
			return err
		}
		if s.limits.deviceSet != nil {
			// Before the clone: the init lands in a cgroup that is
			// confined already. The program goes with the cgroup.
			return devices.AttachProgram(int(s.dirFD.Fd()), *s.limits.deviceSet)
		}
		return nil
	}
	mounts, err := v1Mounts()
	if err != nil {
		return err
	}
	controllers := s.limits.v1Controllers()
	if s.limits.devices != nil {
		controllers = append(controllers, "devices")
	}
	for _, c := range controllers {
		m, ok := mounts[c]
		if !ok {
			return fmt.Errorf("cgroup v1 %s controller: not mounted", c)
		}
		dir := filepath.Join(m, path)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		s.dirs[c] = dir
	}
	h, err := s.probeHost(true)
	if err != nil {
		return err
	}
	files, err := s.limits.v1Files(h)
	if err != nil {
		return err
	}
	if s.limits.devices != nil {
		files = append(files, deviceFiles(*s.limits.deviceSet)...)
	}
	return s.writeFiles(files)
}

// v1Controllers are the v1 hierarchies RemoveCgroup looks in.
var v1ControllerNames = []string{"memory", "cpu", "cpuacct", "pids", "freezer", "devices", "blkio",
	"cpuset", "net_cls", "net_prio", "perf_event", "hugetlb", "rdma", "misc"}

// v1Mounts returns the mount point of the root of each mounted v1 hierarchy.
func v1Mounts() (map[string]string, error) {
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, c := range append(v1ControllerNames, unifiedKey) {
		// v1Parents with every controller's own cgroup at "/" finds the
		// mount of each hierarchy's root.
		if p, err := v1Parents("0::/\n1:"+c+":/\n", string(mi), []string{c}); err == nil {
			out[c] = p[c]
		}
	}
	return out, nil
}

// cgroupAt returns a handle on an existing cgroup at path (WithCgroupPath),
// with the directories it exists in.
func cgroupAt(path string) (*cgroupState, error) {
	p := filepath.Clean(path)
	if !filepath.IsAbs(path) || p == "/" {
		return nil, fmt.Errorf("container: cgroup path %q: must be absolute and not the root", path)
	}
	s := &cgroupState{dirs: map[string]string{}}
	if isUnified() {
		s.v2 = true
		if _, err := os.Stat(filepath.Join(cgroupRoot, p)); err == nil {
			s.dirs[""] = filepath.Join(cgroupRoot, p)
		}
		return s, nil
	}
	mounts, err := v1Mounts()
	if err != nil {
		return nil, fmt.Errorf("container: cgroup %s: %w", path, err)
	}
	for c, m := range mounts {
		if _, err := os.Stat(filepath.Join(m, p)); err == nil {
			s.dirs[c] = filepath.Join(m, p)
		}
	}
	return s, nil
}

func isUnified() bool {
	var st unix.Statfs_t
	return unix.Statfs(cgroupRoot, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// removeCgroupAt is oci.RemoveCgroup; see there.
func removeCgroupAt(path string) error {
	s, err := cgroupAt(path)
	if err != nil {
		return err
	}
	if len(s.dirs) == 0 {
		return nil
	}
	deadline := time.Now().Add(teardownTimeout)
	for {
		if dir := s.procDir(); dir != "" {
			s.killUntil(deadline)
		} else {
			killAll(s.dirs)
		}
		err := removeDirs(s.dirs)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("container: remove cgroup %s: %w", path, err)
		}
		time.Sleep(retryDelay)
	}
}

func killAll(dirs map[string]string) {
	for _, d := range dirs {
		pids, _ := readProcs(d)
		for _, p := range pids {
			unix.Kill(p, unix.SIGKILL)
		}
	}
}

// freezeCgroupAt is oci.FreezeCgroup; see there.
func freezeCgroupAt(path string, frozen bool) error {
	s, err := cgroupAt(path)
	if err != nil {
		return err
	}
	dir := s.procDir()
	if dir == "" {
		return fmt.Errorf("container: freeze cgroup %s: no freezer cgroup at this path", path)
	}
	setFrozen(dir, s.v2, frozen)
	state, err := cgroupFrozen(dir, s.v2)
	if err != nil {
		return fmt.Errorf("container: freeze cgroup %s: %w", path, err)
	}
	if state != frozen {
		return fmt.Errorf("container: freeze cgroup %s: state did not change", path)
	}
	return nil
}

// cgroupFrozenAt is oci.CgroupFrozen; see there.
func cgroupFrozenAt(path string) (bool, error) {
	s, err := cgroupAt(path)
	if err != nil {
		return false, err
	}
	dir := s.procDir()
	if dir == "" {
		return false, fmt.Errorf("container: cgroup %s: no freezer cgroup at this path", path)
	}
	return cgroupFrozen(dir, s.v2)
}

func cgroupFrozen(dir string, v2 bool) (bool, error) {
	if v2 {
		b, err := os.ReadFile(filepath.Join(dir, "cgroup.events"))
		return strings.Contains(string(b), "frozen 1"), err
	}
	b, err := os.ReadFile(filepath.Join(dir, "freezer.state"))
	return strings.TrimSpace(string(b)) == "FROZEN", err
}

// cgroupPidsAt is oci.CgroupPids; see there.
func cgroupPidsAt(path string) ([]int, error) {
	s, err := cgroupAt(path)
	if err != nil {
		return nil, err
	}
	dir := s.procDir()
	if dir == "" {
		return nil, fmt.Errorf("container: cgroup %s: %w", path, os.ErrNotExist)
	}
	pids, err := readProcs(dir)
	if err != nil {
		return nil, fmt.Errorf("container: cgroup %s: %w", path, err)
	}
	return pids, nil
}

// updateCgroupAt is oci.UpdateCgroup; see there.
func updateCgroupAt(path string, opts ...Option) error {
	l, err := limitsOnly("UpdateCgroup", opts)
	if err != nil {
		return err
	}
	s, err := cgroupAt(path)
	if err != nil {
		return err
	}
	if len(s.dirs) == 0 {
		return fmt.Errorf("container: update cgroup %s: %w", path, os.ErrNotExist)
	}
	s.limits = l
	h, err := s.probeHost(false)
	if err != nil {
		return fmt.Errorf("container: update cgroup %s: %w", path, err)
	}
	if s.v2 {
		files, err := l.v2Files(h)
		if err == nil {
			err = s.writeFiles(files)
		}
		if err != nil {
			return fmt.Errorf("container: update cgroup %s: %w", path, err)
		}
		return nil
	}
	files, err := l.v1Files(h)
	if err != nil {
		return fmt.Errorf("container: update cgroup %s: %w", path, err)
	}
	if err := s.writeFiles(files); err != nil {
		// Raising a v1 memory limit: memory+swap must grow first.
		slices.Reverse(files)
		if err2 := s.writeFiles(files); err2 != nil {
			return fmt.Errorf("container: update cgroup %s: %w", path, err)
		}
	}
	return nil
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
	if isUnified() {
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

// joinContainer is the init's sequence for WithJoin: the nsenter constructor
// has put the process in the container's namespaces and cgroups, and the
// container is set up already, so only the steps of the process remain.
func joinContainer(cfg *initConfig, ch *os.File) error {
	for t, ino := range cfg.OCI.JoinNS {
		var st unix.Stat_t
		if err := unix.Stat("/proc/self/ns/"+t, &st); err != nil || st.Ino != ino {
			return &SetupError{Op: "join container", Path: t + " namespace", Err: &detailedErrno{
				detail: "not in the container's namespace: the program must import github.com/ctrkit/container/nsenter",
				errno:  unix.EINVAL}}
		}
	}
	if err := setupTerminal(cfg, ch); err != nil { // before msgJoined: the parent takes it first
		return err
	}
	if err := writeMsg(ch, msgJoined, nil); err != nil {
		return fmt.Errorf("report joined: %w", err)
	}
	if err := enterDir(cfg.Dir); err != nil {
		return err
	}
	if err := setRlimits(cfg); err != nil {
		return err
	}
	if err := setUser(cfg); err != nil {
		return err
	}
	if err := lockDown(cfg); err != nil {
		return err
	}
	if err := setUmask(cfg); err != nil {
		return err
	}
	if err := closeExtraFDs(cfg); err != nil {
		return err
	}
	return execCommand(cfg.Args, cfg.Env)
}

// setupTerminal makes the command's terminal (WithTerminal) in the
// container's devpts and sends its master to the parent.
func setupTerminal(cfg *initConfig, ch *os.File) error {
	if !cfg.OCI.Terminal {
		return nil
	}
	master, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &SetupError{Op: "open", Path: "/dev/ptmx", Err: err}
	}
	defer unix.Close(master)
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil {
		return &SetupError{Op: "unlock pty", Err: err}
	}
	n, err := unix.IoctlGetUint32(master, unix.TIOCGPTN)
	if err != nil {
		return &SetupError{Op: "get pty number", Err: err}
	}
	name := "/dev/pts/" + strconv.Itoa(int(n))
	slave, err := unix.Open(name, unix.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return &SetupError{Op: "open", Path: name, Err: err}
	}
	defer unix.Close(slave)
	if err := unix.Fchown(slave, int(cfg.UID), int(cfg.GID)); err != nil {
		return &SetupError{Op: "chown", Path: name, Err: err}
	}
	if _, err := unix.Setsid(); err != nil {
		return &SetupError{Op: "setsid", Err: err}
	}
	if err := unix.IoctlSetInt(slave, unix.TIOCSCTTY, 0); err != nil {
		return &SetupError{Op: "set controlling terminal", Path: name, Err: err}
	}
	for fd := 0; fd < 3; fd++ {
		if err := unix.Dup3(slave, fd, 0); err != nil {
			return &SetupError{Op: "dup3", Path: name, Err: err}
		}
	}
	hdr := []byte{byte(msgConsole), 0, 0, 0, 0}
	if err := unix.Sendmsg(int(ch.Fd()), hdr, unix.UnixRights(master), nil, 0); err != nil {
		return fmt.Errorf("send terminal: %w", err)
	}
	return nil
}

// readInitMsg reads the init's next message, first taking the terminal's
// master when one comes (WithTerminal): its header arrives with the
// descriptor as SCM_RIGHTS, so it is read with recvmsg.
func (r *running) readInitMsg(f *os.File) (msgType, []byte, error) {
	for {
		var hdr [5]byte
		oob := make([]byte, unix.CmsgSpace(4))
		n, oobn, _, _, err := unix.Recvmsg(int(f.Fd()), hdr[:], oob, 0)
		if err != nil {
			return 0, nil, err
		}
		if n == 0 {
			return 0, nil, io.EOF
		}
		if oobn > 0 {
			msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
			if err == nil && len(msgs) > 0 {
				if fds, err := unix.ParseUnixRights(&msgs[0]); err == nil {
					for i, fd := range fds {
						if i == 0 && msgType(hdr[0]) == msgConsole && r.console == nil {
							r.console = os.NewFile(uintptr(fd), "terminal")
							unix.CloseOnExec(fd)
						} else {
							unix.Close(fd)
						}
					}
				}
			}
		}
		if n < len(hdr) {
			if _, err := io.ReadFull(f, hdr[n:]); err != nil {
				return 0, nil, fmt.Errorf("short message header: %w", err)
			}
		}
		if msgType(hdr[0]) == msgConsole {
			if r.console == nil {
				return 0, nil, errors.New("terminal message without a descriptor")
			}
			continue
		}
		return readBody(f, hdr)
	}
}

// Terminal returns the master side of the container's terminal (WithTerminal)
// once Start has returned, or nil. The caller owns it and must close it.
func (c *Container) Terminal() *os.File {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.run == nil {
		return nil
	}
	return c.run.console
}

// cloexecEach marks every descriptor from from on close-on-exec, one by one,
// for a seccomp policy that denies close_range. It lists them in
// /proc/self/fd (the container's /proc by now) with getdents64.
func cloexecEach(from int) error {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, n := range names {
		fd, err := strconv.Atoi(n)
		if err != nil || fd < from || fd == int(d.Fd()) {
			continue
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil && err != unix.EBADF {
			return err
		}
	}
	return nil
}

// mknodDevice creates a device node in the container's /dev (dfd), with its
// mode and owner (WithDevices; the standard devices are 0666 root's).
func mknodDevice(dfd int, d device) error {
	typ := uint32(unix.S_IFCHR)
	switch d.Type {
	case 'b':
		typ = unix.S_IFBLK
	case 'p':
		typ = unix.S_IFIFO
	}
	mode := d.Mode
	if mode == 0 {
		mode = 0o666
	}
	if err := unix.Mknodat(dfd, d.Name, typ|mode, int(unix.Mkdev(d.Major, d.Minor))); err != nil {
		return err
	}
	if d.UID != 0 || d.GID != 0 {
		return unix.Fchownat(dfd, d.Name, int(d.UID), int(d.GID), unix.AT_SYMLINK_NOFOLLOW)
	}
	return nil
}

// setPropagation sets a mount's propagation (WithMount "shared", "slave"...),
// inside the container's mount namespace.
func (m *mounter) setPropagation(e mountEntry) error {
	if e.Prop == 0 {
		return nil
	}
	t, err := m.lookup(e.Dest, e.Strict)
	if err != nil {
		return &SetupError{Op: "set propagation of", Path: e.Dest, Err: err}
	}
	defer t.Close()
	if err := unix.Mount("", fdPath(t), "", e.Prop, ""); err != nil {
		return &SetupError{Op: "set propagation of", Path: e.Dest, Err: err}
	}
	return nil
}
