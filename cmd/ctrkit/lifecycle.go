package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ctrkit/container"
	_ "github.com/ctrkit/container/nsenter" // exec: joins a container before the Go runtime starts
	"github.com/ctrkit/container/oci"
	"github.com/ctrkit/container/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"golang.org/x/sys/unix"
)

var specVersion = specs.Version

// state is what the runtime keeps on disk for a container, in ROOT/ID/state.json.
type state struct {
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	PidStart    string            `json:"pidStart"` // field 22 of /proc/PID/stat: tells a reused pid apart
	Bundle      string            `json:"bundle"`
	CgroupPath  string            `json:"cgroupPath"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Hooks       specs.Hooks       `json:"hooks"`
	PidsLimit   int64             `json:"pidsLimit,omitempty"` // set exactly once the command runs
	// A spec without a mount namespace: the init mounts below the rootfs on
	// the host, and delete unmounts all but KeepMounts, the mounts there
	// before create (container.ReleaseRootfsMounts).
	NoMountNS  bool   `json:"noMountNS,omitempty"`
	Rootfs     string `json:"rootfs,omitempty"`
	KeepMounts []int  `json:"keepMounts,omitempty"`
}

var validID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.+-]*$`)

func (g *globals) dir(id string) string { return filepath.Join(g.root, id) }

func (g *globals) load(id string) (*state, error) {
	if !validID.MatchString(id) {
		return nil, fmt.Errorf("invalid container id %q", id)
	}
	b, err := os.ReadFile(filepath.Join(g.dir(id), "state.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("container %q does not exist", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read state of %s: %w", id, err)
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("decode state of %s: %w", id, err)
	}
	return &s, nil
}

func (g *globals) save(s *state) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	tmp := filepath.Join(g.dir(s.ID), "state.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return os.Rename(tmp, filepath.Join(g.dir(s.ID), "state.json"))
}

func pidStart(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return "" // a zombie has finished
	}
	return f[19]
}

// status is the OCI status of a container: created while its init waits on
// the exec FIFO, running (or paused) while the init's process lives, stopped
// after.
func (g *globals) status(s *state) specs.ContainerState {
	if s.Pid == 0 || pidStart(s.Pid) != s.PidStart {
		return specs.StateStopped
	}
	if _, err := os.Stat(filepath.Join(g.dir(s.ID), "exec.fifo")); err == nil {
		return specs.StateCreated
	}
	if fr, err := oci.CgroupFrozen(s.CgroupPath); err == nil && fr {
		return specs.ContainerState("paused")
	}
	return specs.StateRunning
}

// ociState is what `state` prints. A stopped container keeps the pid its
// process had (the runtime spec requires pid only while created or running
// and allows it after): hooks got that pid on stdin, and a caller matching
// the two finds the same number; runc and crun print 0.
func (g *globals) ociState(s *state) *specs.State {
	return &specs.State{Version: specs.Version, ID: s.ID, Status: g.status(s), Pid: s.Pid, Bundle: s.Bundle, Annotations: s.Annotations}
}

// prepare reads a bundle and builds its container, registering it under ROOT/ID.
// noPivot is --no-pivot (container.WithoutPivotRoot): not in the spec.
func (g *globals) prepare(id, bundle string, fifo bool, consoleSocket string, extra []*os.File, noPivot bool) (*container.Container, *state, *oci.Config, error) {
	if !validID.MatchString(id) {
		return nil, nil, nil, fmt.Errorf("invalid container id %q", id)
	}
	if bundle == "" {
		bundle = "."
	}
	bundle, err := filepath.Abs(bundle)
	if err != nil {
		return nil, nil, nil, err
	}
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read bundle: %w", err)
	}
	spec, err := decodeSpec(b)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("decode %s: %w", filepath.Join(bundle, "config.json"), err)
	}
	cfg, err := oci.FromSpec(spec, bundle, id)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := checkConsole(cfg.Terminal, consoleSocket); err != nil {
		return nil, nil, nil, err
	}
	if err := checkMountLabel(cfg); err != nil {
		return nil, nil, nil, err
	}
	if cfg.Terminal {
		cfg.Options = append(cfg.Options, container.WithTerminal())
	}
	if err := os.MkdirAll(g.root, 0o711); err != nil {
		return nil, nil, nil, fmt.Errorf("create root: %w", err)
	}
	if err := os.Mkdir(g.dir(id), 0o711); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, nil, nil, fmt.Errorf("container with id %q already exists", id)
		}
		return nil, nil, nil, fmt.Errorf("create state directory: %w", err)
	}
	s := &state{ID: id, Bundle: bundle, CgroupPath: cfg.CgroupPath, Created: time.Now().UTC(), Annotations: spec.Annotations, Hooks: cfg.Hooks}
	opts := append(cfg.Options, oci.WithBeforePivot(func(pid int) error { return g.createRuntimeHooks(s, pid) }))
	opts = append(opts, container.WithLogger(g.logger())) // --debug: nil without
	if noPivot {
		opts = append(opts, container.WithoutPivotRoot())
	}
	if fifo {
		path := filepath.Join(g.dir(id), "exec.fifo")
		old := unix.Umask(0)
		err := unix.Mkfifo(path, 0o622)
		unix.Umask(old)
		if err != nil {
			os.RemoveAll(g.dir(id))
			return nil, nil, nil, fmt.Errorf("create exec FIFO: %w", err)
		}
		opts = append(opts, oci.WithExecFIFO(path))
	}
	c, err := container.New(cfg.Rootfs, cfg.Args, opts...)
	if err != nil {
		os.RemoveAll(g.dir(id))
		return nil, nil, nil, err
	}
	c.Stdin, c.Stdout, c.Stderr, c.ExtraFiles = os.Stdin, os.Stdout, os.Stderr, extra
	if r := spec.Linux.Resources; r != nil && r.Pids != nil && r.Pids.Limit != nil && *r.Pids.Limit > 0 {
		s.PidsLimit = *r.Pids.Limit
	}
	if !hasMountNS(spec) {
		keep, err := oci.RootfsMounts(cfg.Rootfs)
		if err != nil {
			os.RemoveAll(g.dir(id))
			return nil, nil, nil, err
		}
		s.NoMountNS, s.Rootfs, s.KeepMounts = true, cfg.Rootfs, keep
	}
	return c, s, cfg, nil
}

// createRuntimeHooks runs the prestart and createRuntime hooks while the init
// waits between its mounts and pivot_root (container.WithBeforePivot), before
// the createContainer hooks, as the spec orders them.
func (g *globals) createRuntimeHooks(s *state, pid int) error {
	s.Pid = pid
	s.PidStart = pidStart(pid)
	for _, h := range append(append([]specs.Hook(nil), s.Hooks.Prestart...), s.Hooks.CreateRuntime...) {
		if err := g.runHook(h, s); err != nil {
			return fmt.Errorf("createRuntime hook %s: %w", h.Path, err)
		}
	}
	return nil
}

// started records a started init.
func (g *globals) started(c *container.Container, s *state, pidFile string) error {
	s.Pid = c.Pid()
	s.PidStart = pidStart(s.Pid)
	if err := g.save(s); err != nil {
		return err
	}
	if pidFile != "" {
		if err := os.WriteFile(pidFile, []byte(itoa(s.Pid)), 0o644); err != nil {
			return fmt.Errorf("write pid file: %w", err)
		}
	}
	return nil
}

func (g *globals) undo(s *state) {
	oci.RemoveCgroup(s.CgroupPath)
	g.releaseMounts(s)
	os.RemoveAll(g.dir(s.ID))
}

// startError names the spec's field in a Start error that one field caused
// and that only the host decides: a capability of the bounding set that the
// runtime itself lacks (this host's root may lack CAP_SYS_RESOURCE, which
// docker run --privileged asks for with every other one), or a resource
// limit the kernel refused (a hard limit above the runtime's own, without
// CAP_SYS_RESOURCE: docker run --ulimit nofile=N:M).
func startError(err error) error {
	var setup *container.SetupError
	switch {
	case errors.Is(err, container.ErrCapabilityUnavailable):
		return &oci.FieldError{Field: "process.capabilities.bounding", Err: fmt.Errorf("%w: a runtime can give no capability it lacks", err)}
	case errors.As(err, &setup) && setup.Op == "setrlimit":
		return &oci.FieldError{Field: "process.rlimits", Err: err}
	}
	return oci.ResourceFieldError(err)
}

func hasMountNS(spec *specs.Spec) bool {
	for _, n := range spec.Linux.Namespaces {
		if n.Type == specs.MountNamespace {
			return true
		}
	}
	return false
}

// releaseMounts unmounts what the init of a container without a mount
// namespace mounted on the host, once its processes are gone: the container
// outlived create, whose Wait would have done it.
func (g *globals) releaseMounts(s *state) error {
	if !s.NoMountNS {
		return nil
	}
	return oci.ReleaseRootfsMounts(s.Rootfs, s.KeepMounts)
}

func cmdCreate(g *globals, args []string) (int, error) {
	fs, pos, err := parseFlags(args, []string{"bundle", "b", "pid-file", "console-socket", "preserve-fds"}, []string{"no-pivot", "no-new-keyring"})
	if err != nil {
		return 1, err
	}
	id, err := oneID(pos, "create")
	if err != nil {
		return 1, err
	}
	if _, _, err := g.launch(fs, id, true); err != nil {
		return 1, err
	}
	return 0, nil
}

// launch is what create and run share: the bundle's container is started
// (parked on its exec FIFO with fifo), its terminal sent to --console-socket
// and its state and --pid-file written. On failure it undoes what it made.
func (g *globals) launch(fs *flagSet, id string, fifo bool) (*container.Container, *state, error) {
	extra, err := preservedFiles(fs.values["preserve-fds"])
	if err != nil {
		return nil, nil, err
	}
	bundle := fs.values["bundle"]
	if bundle == "" {
		bundle = fs.values["b"]
	}
	c, s, cfg, err := g.prepare(id, bundle, fifo, fs.values["console-socket"], extra, fs.bools["no-pivot"])
	if err != nil {
		return nil, nil, err
	}
	if err := c.Start(context.Background()); err != nil {
		g.undo(s)
		return nil, nil, startError(err)
	}
	if err := sendConsole(c, fs.values["console-socket"], cfg.ConsoleSize); err != nil {
		g.undo(s)
		return nil, nil, err
	}
	if err := g.started(c, s, fs.values["pid-file"]); err != nil {
		g.undo(s)
		return nil, nil, err
	}
	return c, s, nil
}

func cmdStart(g *globals, args []string) (int, error) {
	id, err := oneID(args, "start")
	if err != nil {
		return 1, err
	}
	s, err := g.load(id)
	if err != nil {
		return 1, err
	}
	if st := g.status(s); st != specs.StateCreated {
		return 1, fmt.Errorf("cannot start a container that is %s", st)
	}
	fifo := filepath.Join(g.dir(id), "exec.fifo")
	f, err := os.OpenFile(fifo, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return 1, fmt.Errorf("open exec FIFO: %w", err)
	}
	defer f.Close()
	// The init writes "0", then its end closes at execve (or when it dies);
	// a step that fails after the "0" (a startContainer hook, the exec)
	// writes its error before.
	//
	// The wait is poll(2) on the FIFO: it returns as soon as the init writes
	// or closes its end (a 1 ms sleep between reads cost start up to a
	// millisecond after the execve, and a wake-up each; bench/PROFILE.md,
	// part 7), and every 10 ms to look at the init.
	buf := make([]byte, 4096)
	var got []byte
	hup := false
	for deadline := time.Now().Add(10 * time.Second); ; {
		n, err := unix.Read(int(f.Fd()), buf)
		if n > 0 {
			got = append(got, buf[:n]...)
			continue
		}
		if len(got) > 0 && n == 0 && err == nil {
			if len(got) > 1 {
				return 1, fmt.Errorf("container %s did not start: %s", id, got[1:])
			}
			break // EOF: the command was exec'd
		}
		// Before the "0", a dead init means it never parked; after it, EOF
		// follows the execve even when the command has exited already, or
		// the init's death, however long the startContainer hooks take. A
		// writer that came and went without a word (hup) was an init that
		// died after it opened the FIFO.
		if (err != nil && err != unix.EAGAIN) || (len(got) == 0 && (hup || time.Now().After(deadline) || pidStart(s.Pid) != s.PidStart)) {
			return 1, fmt.Errorf("container %s did not start: init gone (%v)", id, err)
		}
		fds := []unix.PollFd{{Fd: int32(f.Fd()), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, 10); err != nil && err != unix.EINTR {
			return 1, fmt.Errorf("poll exec FIFO: %w", err)
		}
		hup = fds[0].Revents&unix.POLLHUP != 0 && fds[0].Revents&unix.POLLIN == 0
	}
	os.Remove(fifo)
	if s.PidsLimit > 0 {
		// The init's threads are gone: pids.max drops to the spec's limit.
		if err := oci.UpdateCgroup(s.CgroupPath, container.WithPids(s.PidsLimit)); err != nil {
			return 1, err
		}
	}
	g.runHooksWarn("poststart", s.Hooks.Poststart, s)
	return 0, nil
}

func cmdState(g *globals, args []string) (int, error) {
	id, err := oneID(args, "state")
	if err != nil {
		return 1, err
	}
	s, err := g.load(id)
	if err != nil {
		return 1, err
	}
	b, err := json.MarshalIndent(g.ociState(s), "", "  ")
	if err != nil {
		return 1, err
	}
	fmt.Println(string(b))
	return 0, nil
}

func parseSignal(s string) (syscall.Signal, error) {
	if s == "" {
		return unix.SIGTERM, nil
	}
	if n, err := fmt.Sscanf(s, "%d", new(int)); err == nil && n == 1 {
		var v int
		fmt.Sscanf(s, "%d", &v)
		if v <= 0 || v > 64 {
			return 0, fmt.Errorf("invalid signal %q", s)
		}
		return syscall.Signal(v), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("invalid signal %q", s)
}

func cmdKill(g *globals, args []string) (int, error) {
	fs, pos, err := parseFlags(args, nil, []string{"all", "a"})
	if err != nil {
		return 1, err
	}
	id, err := oneID(pos, "kill")
	if err != nil {
		return 1, err
	}
	sigArg := ""
	if len(pos) > 1 {
		sigArg = pos[1]
	}
	sig, err := parseSignal(sigArg)
	if err != nil {
		return 1, err
	}
	s, err := g.load(id)
	if err != nil {
		return 1, err
	}
	if fs.bools["all"] || fs.bools["a"] {
		pids, err := oci.CgroupPids(s.CgroupPath)
		if err != nil {
			return 1, err
		}
		if sig == unix.SIGKILL || sig == unix.SIGTERM {
			oci.FreezeCgroup(s.CgroupPath, false) // a frozen process cannot die
		}
		for _, p := range pids {
			unix.Kill(p, sig)
		}
		return 0, nil
	}
	if g.status(s) == specs.StateStopped {
		return 1, errors.New("container not running")
	}
	if err := unix.Kill(s.Pid, sig); err != nil {
		return 1, fmt.Errorf("kill %d: %w", s.Pid, err)
	}
	return 0, nil
}

func cmdDelete(g *globals, args []string) (int, error) {
	fs, pos, err := parseFlags(args, nil, []string{"force", "f"})
	if err != nil {
		return 1, err
	}
	id, err := oneID(pos, "delete")
	if err != nil {
		return 1, err
	}
	force := fs.bools["force"] || fs.bools["f"]
	s, err := g.load(id)
	if err != nil {
		if force {
			os.RemoveAll(g.dir(id)) // a half-made container leaves a directory without state
			return 0, nil
		}
		return 1, err
	}
	if st := g.status(s); st != specs.StateStopped && !force {
		return 1, fmt.Errorf("cannot delete container %s that is %s: stop it first or use --force", id, st)
	}
	if err := oci.RemoveCgroup(s.CgroupPath); err != nil {
		return 1, err
	}
	if err := g.releaseMounts(s); err != nil { // a spec without a mount namespace
		return 1, err
	}
	if err := os.RemoveAll(g.dir(id)); err != nil {
		return 1, fmt.Errorf("remove state: %w", err)
	}
	g.runHooksWarn("poststop", s.Hooks.Poststop, s)
	return 0, nil
}

func cmdRun(g *globals, args []string) (int, error) {
	fs, pos, err := parseFlags(args, []string{"bundle", "b", "pid-file", "console-socket", "preserve-fds"}, []string{"detach", "d", "no-pivot", "no-new-keyring"})
	if err != nil {
		return 1, err
	}
	id, err := oneID(pos, "run")
	if err != nil {
		return 1, err
	}
	if fs.bools["detach"] || fs.bools["d"] {
		return 1, errors.New("run --detach: use create and start")
	}
	c, s, err := g.launch(fs, id, false)
	if err != nil {
		return 1, err
	}
	defer g.undo(s)
	g.runHooksWarn("poststart", s.Hooks.Poststart, s)
	err = c.Wait()
	g.runHooksWarn("poststop", s.Hooks.Poststop, s)
	var ee *container.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 1, err
	}
	return 0, nil
}

func cmdSpec(g *globals, args []string) (int, error) {
	fs, _, err := parseFlags(args, []string{"bundle", "b"}, []string{"rootless"})
	if err != nil {
		return 1, err
	}
	dir := fs.values["bundle"] + fs.values["b"]
	if dir == "" {
		dir = "."
	}
	path := filepath.Join(dir, "config.json")
	if _, err := os.Stat(path); err == nil {
		return 1, fmt.Errorf("%s already exists", path)
	}
	b, err := json.MarshalIndent(oci.DefaultSpec(), "", "\t")
	if err != nil {
		return 1, err
	}
	return 0, os.WriteFile(path, append(b, '\n'), 0o644)
}

func cmdFeatures(g *globals, args []string) (int, error) {
	t := true
	var ns []string
	for _, n := range []specs.LinuxNamespaceType{specs.PIDNamespace, specs.NetworkNamespace, specs.MountNamespace, specs.IPCNamespace,
		specs.UTSNamespace, specs.UserNamespace, specs.CgroupNamespace} {
		ns = append(ns, string(n))
	}
	f := features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
		MountOptions:  []string{"ro", "rw", "nosuid", "nodev", "noexec", "relatime", "noatime", "strictatime", "nodiratime", "sync", "dirsync", "bind", "rbind", "private", "rprivate"},
		Linux: &features.Linux{
			Namespaces:   ns,
			Capabilities: nil,
			Cgroup:       &features.Cgroup{V1: &t, V2: &t},
			Seccomp: &features.Seccomp{Enabled: &t, Actions: []string{"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_LOG"},
				Operators: []string{"SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"},
				Archs:     []string{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"}},
		},
		Annotations: map[string]string{"org.ctrkit.version": version},
	}
	b, err := json.MarshalIndent(f, "", "    ")
	if err != nil {
		return 1, err
	}
	fmt.Println(string(b))
	return 0, nil
}

func cmdPs(g *globals, args []string) (int, error) {
	fs, pos, err := parseFlags(args, []string{"format", "f"}, nil)
	if err != nil {
		return 1, err
	}
	id, err := oneID(pos, "ps")
	if err != nil {
		return 1, err
	}
	s, err := g.load(id)
	if err != nil {
		return 1, err
	}
	pids, err := oci.CgroupPids(s.CgroupPath)
	if err != nil {
		return 1, err
	}
	if pids == nil {
		pids = []int{}
	}
	if f := fs.values["format"] + fs.values["f"]; f == "json" {
		b, _ := json.Marshal(pids)
		fmt.Println(string(b))
		return 0, nil
	}
	out, err := exec.Command("ps", append([]string{"-f", "-p"}, joinPids(pids))...).CombinedOutput()
	os.Stdout.Write(out)
	return 0, err
}

func joinPids(pids []int) string {
	s := make([]string, len(pids))
	for i, p := range pids {
		s[i] = itoa(p)
	}
	return strings.Join(s, ",")
}

func cmdPause(g *globals, args []string) (int, error)  { return freeze(g, args, true) }
func cmdResume(g *globals, args []string) (int, error) { return freeze(g, args, false) }

func freeze(g *globals, args []string, frozen bool) (int, error) {
	id, err := oneID(args, "pause")
	if err != nil {
		return 1, err
	}
	s, err := g.load(id)
	if err != nil {
		return 1, err
	}
	if st := g.status(s); st == specs.StateStopped || st == specs.StateCreated {
		return 1, fmt.Errorf("container %s is %s", id, st)
	}
	return 0, oci.FreezeCgroup(s.CgroupPath, frozen)
}

// checkMountLabel refuses the spec's linux.mountLabel on a host where SELinux
// is enabled: this runtime does not apply labels. Without SELinux nothing is
// labelled, and the label has no effect.
func checkMountLabel(cfg *oci.Config) error {
	if cfg.MountLabel == "" {
		return nil
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	if selinuxMounted(string(mi)) {
		return fmt.Errorf("oci: linux.mountLabel: SELinux is enabled on this host and this runtime does not apply labels: %w", oci.ErrUnsupported)
	}
	return nil
}

// selinuxMounted reports whether a mountinfo lists selinuxfs, which the
// kernel has (and userspace mounts) only where SELinux is enabled.
func selinuxMounted(mountinfo string) bool {
	for _, line := range strings.Split(mountinfo, "\n") {
		if _, after, ok := strings.Cut(line, " - "); ok && strings.HasPrefix(after, "selinuxfs ") {
			return true
		}
	}
	return false
}

// runHooksWarn runs poststart or poststop hooks: one that fails is logged as
// a warning and the others, and the verb, go on, as the runtime spec says.
func (g *globals) runHooksWarn(kind string, hooks []specs.Hook, s *state) {
	for _, h := range hooks {
		if err := g.runHook(h, s); err != nil {
			warn(g, fmt.Errorf("%s hook %s: %w", kind, h.Path, err))
		}
	}
}

// runHook runs a hook with the container's state on its stdin, as the spec says.
func (g *globals) runHook(h specs.Hook, s *state) error {
	st, _ := json.Marshal(g.ociState(s))
	ctx := context.Background()
	if h.Timeout != nil {
		var cancel func()
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, h.Path)
	cmd.Args = h.Args
	if len(cmd.Args) == 0 {
		cmd.Args = []string{h.Path}
	}
	cmd.Env = h.Env
	cmd.Stdin = bytes.NewReader(st)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := oci.StartWithTimerSlack(cmd, g.callerSlack) // the slack ctrkit was started with, not its raised one
	if err == nil {
		err = cmd.Wait()
	}
	if err != nil {
		return fmt.Errorf("%w: %s", err, out.Bytes())
	}
	return nil
}

func cmdUpdate(g *globals, args []string) (int, error) {
	fs, pos, err := parseFlags(args, []string{"resources", "r"}, nil)
	if err != nil {
		return 1, err
	}
	id, err := oneID(pos, "update")
	if err != nil {
		return 1, err
	}
	file := fs.values["resources"] + fs.values["r"]
	if file == "" {
		return 1, errors.New("update: only --resources FILE is supported")
	}
	var b []byte
	if file == "-" {
		b, err = io.ReadAll(os.Stdin)
	} else {
		b, err = os.ReadFile(file)
	}
	if err != nil {
		return 1, fmt.Errorf("read resources: %w", err)
	}
	var r specs.LinuxResources
	if err := json.Unmarshal(b, &r); err != nil {
		return 1, fmt.Errorf("decode resources: %w", err)
	}
	s, err := g.load(id)
	if err != nil {
		return 1, err
	}
	opts, err := oci.ResourceOptions(&r)
	if err != nil {
		return 1, err
	}
	if err := oci.UpdateCgroup(s.CgroupPath, opts...); err != nil {
		return 1, oci.ResourceFieldError(err)
	}
	if r.Pids != nil && r.Pids.Limit != nil && *r.Pids.Limit > 0 {
		s.PidsLimit = *r.Pids.Limit
		return 0, g.save(s)
	}
	return 0, nil
}

// cmdExec runs a process in a running container (container.WithJoin; the
// nsenter constructor linked into this binary joins the container's
// namespaces and cgroups). The process is described by --process FILE (an
// OCI process, as the engines pass it) or by the arguments after the id. The
// container's seccomp profile applies to it, as runc does. With --detach, exec
// writes --pid-file and returns; the pid is that of the process's host-side
// parent, which forwards signals to it and exits with its status.
func cmdExec(g *globals, args []string) (int, error) {
	fs, pos, err := parseFlags(args, []string{"process", "p", "pid-file", "console-socket", "cwd", "user", "u", "env", "e", "preserve-fds"},
		[]string{"detach", "d", "tty", "t", "no-new-privs"})
	if err != nil {
		return 1, err
	}
	id, err := oneID(pos, "exec")
	if err != nil {
		return 1, err
	}
	s, err := g.load(id)
	if err != nil {
		return 1, err
	}
	if st := g.status(s); st != specs.StateRunning {
		return 1, fmt.Errorf("cannot exec in a container that is %s", st)
	}
	b, err := os.ReadFile(filepath.Join(s.Bundle, "config.json"))
	if err != nil {
		return 1, fmt.Errorf("read bundle: %w", err)
	}
	spec, err := decodeSpec(b)
	if err != nil {
		return 1, fmt.Errorf("decode bundle: %w", err)
	}
	var p specs.Process
	if file := fs.values["process"] + fs.values["p"]; file != "" {
		pb, err := os.ReadFile(file)
		if err != nil {
			return 1, fmt.Errorf("read process: %w", err)
		}
		if err := json.Unmarshal(pb, &p); err != nil {
			return 1, fmt.Errorf("decode process: %w", err)
		}
	} else {
		if spec.Process != nil {
			p = *spec.Process
		}
		p.Args = pos[1:]
		p.Terminal = fs.bools["tty"] || fs.bools["t"]
		if v := fs.values["cwd"]; v != "" {
			p.Cwd = v
		}
		if env := fs.values["env"] + fs.values["e"]; env != "" {
			p.Env = append(p.Env, env)
		}
	}
	if p.Cwd == "" {
		p.Cwd = "/"
	}
	if err := checkConsole(p.Terminal, fs.values["console-socket"]); err != nil {
		return 1, err
	}
	opts, err := oci.ProcessOptions(&p)
	if err != nil {
		return 1, err
	}
	if p.Terminal {
		opts = append(opts, container.WithTerminal())
	}
	extra, err := preservedFiles(fs.values["preserve-fds"])
	if err != nil {
		return 1, err
	}
	opts = append(opts, oci.WithJoin(s.Pid), container.WithLogger(g.logger())) // --debug: nil without
	if spec.Linux != nil && spec.Linux.Seccomp != nil {
		pol, err := oci.CompileSeccomp(spec.Linux.Seccomp, runtime.GOARCH)
		if err != nil {
			return 1, err
		}
		opts = append(opts, seccomp.WithPolicy(pol))
	} else {
		opts = append(opts, container.WithoutSeccomp())
	}
	rootfs := spec.Root.Path
	if !filepath.IsAbs(rootfs) {
		rootfs = filepath.Join(s.Bundle, rootfs)
	}
	c, err := container.New(rootfs, p.Args, opts...)
	if err != nil {
		return 1, err
	}
	c.Stdin, c.Stdout, c.Stderr, c.ExtraFiles = os.Stdin, os.Stdout, os.Stderr, extra
	if err := c.Start(context.Background()); err != nil {
		return 1, startError(err)
	}
	if err := sendConsole(c, fs.values["console-socket"], p.ConsoleSize); err != nil {
		return 1, err
	}
	if pf := fs.values["pid-file"]; pf != "" {
		if err := os.WriteFile(pf, []byte(itoa(c.Pid())), 0o644); err != nil {
			return 1, fmt.Errorf("write pid file: %w", err)
		}
	}
	if fs.bools["detach"] || fs.bools["d"] {
		return 0, nil
	}
	err = c.Wait()
	var ee *container.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	return 0, err
}

// preservedFiles is --preserve-fds N: this process's descriptors 3 to 2+N,
// which the container's process gets as its 3 to 2+N, as runc passes them.
func preservedFiles(v string) ([]*os.File, error) {
	if v == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("--preserve-fds %q: want a number of descriptors", v)
	}
	var files []*os.File
	for fd := 3; fd < 3+n; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
			return nil, fmt.Errorf("--preserve-fds %d: descriptor %d: %w", n, fd, err)
		}
		files = append(files, os.NewFile(uintptr(fd), "preserved-fd-"+strconv.Itoa(fd)))
	}
	return files, nil
}

// checkConsole applies runc's rules: a terminal needs a console socket to
// send its master to, and a console socket needs a terminal.
func checkConsole(terminal bool, socket string) error {
	switch {
	case terminal && socket == "":
		return errors.New("process.terminal needs --console-socket (this runtime does not relay a terminal itself)")
	case !terminal && socket != "":
		return errors.New("--console-socket given for a process without a terminal (process.terminal is false)")
	}
	return nil
}

// sendConsole sends the container's terminal master to the console socket
// (SCM_RIGHTS, with the name "/dev/ptmx" as the message, as runc does), after
// setting its size, and closes this process's copy.
func sendConsole(c *container.Container, socket string, size *specs.Box) error {
	term := c.Terminal()
	if socket == "" || term == nil {
		return nil
	}
	defer term.Close()
	if size != nil {
		ws := &unix.Winsize{Row: uint16(size.Height), Col: uint16(size.Width)}
		if err := unix.IoctlSetWinsize(int(term.Fd()), unix.TIOCSWINSZ, ws); err != nil {
			return fmt.Errorf("set terminal size: %w", err)
		}
	}
	conn, err := net.Dial("unix", socket)
	if err != nil {
		return fmt.Errorf("console socket: %w", err)
	}
	defer conn.Close()
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return fmt.Errorf("console socket %s: not a unix socket", socket)
	}
	if _, _, err := uc.WriteMsgUnix([]byte("/dev/ptmx"), unix.UnixRights(int(term.Fd())), nil); err != nil {
		return fmt.Errorf("send terminal to console socket: %w", err)
	}
	return nil
}

// specDoc is a config.json with the platforms ctrkit refuses left undecoded:
// decoding into specs.Spec builds encoding/json's tables for every type it
// can reach, Windows', the VM's, Solaris' and z/OS's included, once per
// process (0.15-0.2 ms of a 0.55 ms first decode; every create and run pays
// it).
type specDoc struct {
	specs.Spec
	Solaris json.RawMessage `json:"solaris,omitempty"`
	Windows json.RawMessage `json:"windows,omitempty"`
	VM      json.RawMessage `json:"vm,omitempty"`
	ZOS     json.RawMessage `json:"zos,omitempty"`
}

// decodeSpec decodes a config.json. A platform section that is there (and
// not null) comes back as an empty one, which oci.FromSpec refuses by name.
func decodeSpec(b []byte) (*specs.Spec, error) {
	var d specDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, err
	}
	there := func(r json.RawMessage) bool { return len(r) > 0 && string(r) != "null" }
	spec := &d.Spec
	if there(d.Solaris) {
		spec.Solaris = &specs.Solaris{}
	}
	if there(d.Windows) {
		spec.Windows = &specs.Windows{}
	}
	if there(d.VM) {
		spec.VM = &specs.VM{}
	}
	if there(d.ZOS) {
		spec.ZOS = &specs.ZOS{}
	}
	return spec, nil
}
