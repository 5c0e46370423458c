//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// sequence runs one container through an OCI runtime the way conmon drives
// one for podman: create with --pid-file (stdio on inherited descriptors, as
// conmon's pipes), start, wait for the container's process to exit (the
// harness is its subreaper for the sequence, as conmon is, and reaps it with
// wait4), then delete. The wall time is the create's fork to the delete's
// reaping; the resource usage is the sum of the three runtime processes' and
// the container's (its init and /bin/true).
func sequence(e *env, r row) (ns float64, ru syscall.Rusage, err error) {
	id := e.id()
	root := filepath.Join(*workDir, r.seq.root)
	pidFile := filepath.Join(*workDir, "pids", id)
	if err := os.MkdirAll(filepath.Dir(pidFile), 0o755); err != nil {
		return 0, ru, err
	}
	defer os.Remove(pidFile)
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return 0, ru, fmt.Errorf("become a subreaper: %w", err)
	}
	defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
	add := func(u *syscall.Rusage) {
		ru.Utime.Sec += u.Utime.Sec
		ru.Utime.Usec += u.Utime.Usec
		ru.Stime.Sec += u.Stime.Sec
		ru.Stime.Usec += u.Stime.Usec
		ru.Minflt += u.Minflt
		ru.Majflt += u.Majflt
	}
	step := func(args ...string) error {
		cmd := exec.Command(r.seq.bin, append([]string{"--root", root}, args...)...)
		cmd.Stdout, cmd.Stderr = e.log, e.log
		if err := runHidden(cmd, r.hidden); err != nil {
			return fmt.Errorf("%q: %w", cmd.Args, err)
		}
		add(cmd.ProcessState.SysUsage().(*syscall.Rusage))
		return nil
	}
	t0 := time.Now()
	if err := step("create", "--bundle", e.bundle, "--pid-file", pidFile, id); err != nil {
		return 0, ru, err
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, ru, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, ru, fmt.Errorf("pid file %s: %q: %w", pidFile, b, err)
	}
	if err := step("start", id); err != nil {
		unix.Kill(pid, unix.SIGKILL)
		unix.Wait4(pid, nil, 0, nil)
		step("delete", "--force", id)
		return 0, ru, err
	}
	var ws syscall.WaitStatus
	var cru syscall.Rusage
	for {
		_, err = syscall.Wait4(pid, &ws, 0, &cru)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		step("delete", "--force", id)
		return 0, ru, fmt.Errorf("wait for container %s (pid %d): %w", id, pid, err)
	}
	add(&cru)
	if err := step("delete", id); err != nil {
		return 0, ru, err
	}
	ns = float64(time.Since(t0))
	if !ws.Exited() || ws.ExitStatus() != 0 {
		return 0, ru, fmt.Errorf("container %s: wait status %v", id, ws)
	}
	return ns, ru, nil
}

// podmanEnv is a podman configured in a private scratch directory, as
// cmd/ctrkit/podman_test.go sets it up: its own vfs store, run and tmp
// directories, events file, no network (netns none), cgroupfs, containers'
// cgroups under a parent of the harness's own, and a private mount namespace
// (held by a sleeping process) for everything it mounts, in which crun's
// hybrid-cgroup workaround (see hideCgroupV2) applies to both runtimes.
type podmanEnv struct {
	dir, parent string
	env         []string
	holder      *exec.Cmd
}

// setupPodman returns nil and the reason when podman or conmon is missing.
func setupPodman(e *env) (*podmanEnv, string, error) {
	for _, tool := range []string{"podman", "conmon", "tar", "unshare", "nsenter"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, tool + " is not installed", nil
		}
	}
	if _, err := os.Stat(e.bin("ctrkit")); err != nil {
		return nil, "no ctrkit binary", nil
	}
	dir := filepath.Join(*workDir, "podman")
	os.RemoveAll(dir)
	p := &podmanEnv{dir: dir, parent: fmt.Sprintf("/ctrkit-bench-%d", os.Getpid())}
	conf := fmt.Sprintf(`[containers]
netns = "none"
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
log_driver = "k8s-file"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "%[1]s/events.log"
tmp_dir = "%[1]s/tmp"
[engine.runtimes]
ctrkit = [%[2]q]
[network]
network_config_dir = "%[1]s/net"
`, dir, e.bin("ctrkit"))
	storage := fmt.Sprintf("[storage]\ndriver = \"vfs\"\ngraphroot = \"%[1]s/graph\"\nrunroot = \"%[1]s/run\"\n", dir)
	for _, d := range []string{"", "tmp", "net", "xdg", "cfg", "data"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, "", err
		}
	}
	os.Chmod(dir, 0o755)
	for name, content := range map[string]string{"containers.conf": conf, "storage.conf": storage, "registries.conf": "unqualified-search-registries = []\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return nil, "", err
		}
	}
	p.env = append(os.Environ(),
		"CONTAINERS_CONF="+filepath.Join(dir, "containers.conf"),
		"CONTAINERS_STORAGE_CONF="+filepath.Join(dir, "storage.conf"),
		"CONTAINERS_REGISTRIES_CONF="+filepath.Join(dir, "registries.conf"),
		"XDG_RUNTIME_DIR="+filepath.Join(dir, "xdg"), "XDG_CONFIG_HOME="+filepath.Join(dir, "cfg"),
		"XDG_DATA_HOME="+filepath.Join(dir, "data"))
	p.holder = exec.Command("unshare", "--mount", "--propagation", "private", "sleep", "infinity")
	if err := p.holder.Start(); err != nil {
		return nil, "", err
	}
	own, _ := os.Readlink("/proc/self/ns/mnt")
	for i := 0; ; i++ {
		if ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", p.holder.Process.Pid)); err == nil && ns != own {
			break
		}
		if i > 400 {
			p.close()
			return nil, "", errors.New("unshare did not make a mount namespace")
		}
		time.Sleep(5 * time.Millisecond)
	}
	const controllers = "/sys/fs/cgroup/unified/cgroup.controllers"
	if _, err := os.Stat(controllers); err == nil {
		empty := filepath.Join(*workDir, "empty")
		if err := os.WriteFile(empty, nil, 0o644); err != nil {
			p.close()
			return nil, "", err
		}
		if out, err := p.nsenter("mount", "--bind", empty, controllers).CombinedOutput(); err != nil {
			p.close()
			return nil, "", fmt.Errorf("hide %s in podman's mount namespace: %v: %s", controllers, err, out)
		}
	}
	tarCmd := exec.Command("tar", "-C", e.rootfs, "-c", ".")
	imp := p.nsenter("podman", "import", "-", "localhost/bb")
	var err error
	if imp.Stdin, err = tarCmd.StdoutPipe(); err != nil {
		p.close()
		return nil, "", err
	}
	if err := tarCmd.Start(); err != nil {
		p.close()
		return nil, "", err
	}
	out, err := imp.CombinedOutput()
	tarCmd.Wait()
	if err != nil {
		p.close()
		return nil, "", fmt.Errorf("podman import: %v: %s", err, out)
	}
	return p, "", nil
}

func (p *podmanEnv) nsenter(args ...string) *exec.Cmd {
	cmd := exec.Command("nsenter", append([]string{"--target", strconv.Itoa(p.holder.Process.Pid), "--mount", "--"}, args...)...)
	cmd.Env = p.env
	return cmd
}

// argv is podman run --rm of /bin/true with the runtime given.
func (p *podmanEnv) argv(runtime string) []string {
	return append([]string{"nsenter", "--target", strconv.Itoa(p.holder.Process.Pid), "--mount", "--"},
		"podman", "--runtime", runtime, "run", "--rm", "--cgroup-parent", p.parent, "localhost/bb", "/bin/true")
}

// close removes every container, stops the holder, and removes the cgroups
// podman made (conmon's last: it may still be exiting) and the directory.
func (p *podmanEnv) close() {
	if p.holder.Process != nil {
		p.nsenter("podman", "rm", "--all", "--force", "--time", "0").Run()
		p.holder.Process.Kill()
		p.holder.Wait()
	}
	for _, pattern := range []string{"/sys/fs/cgroup/*" + p.parent + "/*/*", "/sys/fs/cgroup/*" + p.parent + "/*", "/sys/fs/cgroup/*" + p.parent, "/sys/fs/cgroup" + p.parent} {
		dirs, _ := filepath.Glob(pattern)
		for _, d := range dirs {
			if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
				continue
			}
			err := os.Remove(d)
			for deadline := time.Now().Add(15 * time.Second); errors.Is(err, unix.EBUSY) && time.Now().Before(deadline); {
				time.Sleep(50 * time.Millisecond)
				err = os.Remove(d)
			}
		}
	}
	os.RemoveAll(p.dir)
}

// measurePodman alternates podman run --rm of /bin/true with ctrkit and with
// crun (PodmanRuns of each); podman's rows are slow, so they get fewer samples
// than the others. Wall time is podman's fork to reap; CPU is podman's own and
// its reaped children's (not conmon's, which daemonizes, nor the container's).
func measurePodman(e *env, p plan, res *results) error {
	var prs []row
	for _, r := range res.Rows {
		if r.podman != "" {
			prs = append(prs, r)
		}
	}
	if len(prs) == 0 {
		return nil
	}
	pe, why, err := setupPodman(e)
	if err != nil {
		return err
	}
	if pe == nil {
		res.PodmanNA = why
		return nil
	}
	defer pe.close()
	e.podman = pe
	for i := range p.PodmanRuns {
		for k := range prs {
			r := prs[(k+i)%len(prs)]
			ns, ps, err := whole(e, r)
			if err != nil {
				// Again, to say why: podman's messages are its own.
				argv := r.argv(e)
				cmd := exec.Command(argv[0], argv[1:]...)
				cmd.Env = pe.env
				out, _ := cmd.CombinedOutput()
				return fmt.Errorf("%s: %w: %s", r.Key, err, strings.TrimSpace(string(out)))
			}
			res.Wall[r.Key] = append(res.Wall[r.Key], ns)
			res.usage(r.Key, ps.SysUsage().(*syscall.Rusage), 1)
		}
	}
	return nil
}
