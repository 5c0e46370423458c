package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ctrkit/container"
	"github.com/ctrkit/container/containertest"
	"github.com/ctrkit/container/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// dockerd is a private Docker daemon (Debian's docker.io, 20.10) that the
// test starts in a scratch directory and stops at its end: its own
// --data-root, --exec-root, --pidfile, socket and (empty) config file, no
// network change on the host (--bridge=none, no iptables, no forwarding, no
// masquerading, no userland proxy), the cgroupfs driver with its containers
// under a cgroup parent of the test's own, and our runtime added as
// "ctrkit". dockerd starts its own containerd (under --exec-root), which
// starts a shim per container. All of them run in a private mount namespace
// with a tmpfs of their own on /run and the scratch directory bound on
// /etc/docker: dockerd makes /run/docker/plugins and /etc/docker/key.json,
// the shims their sockets in /run/containerd/s and the runtime's state in
// /run/containerd/runc, wherever the daemon's directories are, and the
// overlay2 mounts of the containers' root file systems stay out of the
// host's mount table. The image is a busybox root file system imported with
// docker import: nothing is pulled.
type dockerd struct {
	t      *testing.T
	dir    string
	env    []string
	client string // Debian's docker client, of dockerd's version
	parent string // --cgroup-parent
	v2     bool   // a cgroup v2 host (else v1 or hybrid: the v1 controllers)
}

// dockerImage is the tag of the imported busybox image.
const dockerImage = "ctrkit-bb:latest"

// hostCapsRuntime is a name under which this test binary, run as a runtime,
// first removes from the bundle's capability sets those this process's
// bounding set lacks, then is ctrkit: docker run --privileged asks for
// every capability, and where the host's root lacks one (this machine's
// lacks CAP_SYS_RESOURCE) no runtime can give it (runc fails "unable to
// apply caps", ctrkit names process.capabilities.bounding), so the test
// checks the rest of --privileged, every host device, through this.
const hostCapsRuntime = "ctrkit-hostcaps"

func init() {
	if filepath.Base(os.Args[0]) != hostCapsRuntime {
		return
	}
	if err := dropMissingCaps(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, hostCapsRuntime+":", err)
		os.Exit(1)
	}
	os.Args[0] = filepath.Join(filepath.Dir(os.Args[0]), "ctrkit") // TestMain runs main
}

// capNumbers are the capabilities' numbers (linux/capability.h).
var capNumbers = map[string]int{"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3,
	"CAP_FSETID": 4, "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8, "CAP_LINUX_IMMUTABLE": 9,
	"CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11, "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_IPC_LOCK": 14,
	"CAP_IPC_OWNER": 15, "CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17, "CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19,
	"CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23, "CAP_SYS_RESOURCE": 24,
	"CAP_SYS_TIME": 25, "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27, "CAP_LEASE": 28, "CAP_AUDIT_WRITE": 29,
	"CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31, "CAP_MAC_OVERRIDE": 32, "CAP_MAC_ADMIN": 33, "CAP_SYSLOG": 34,
	"CAP_WAKE_ALARM": 35, "CAP_BLOCK_SUSPEND": 36, "CAP_AUDIT_READ": 37, "CAP_PERFMON": 38, "CAP_BPF": 39,
	"CAP_CHECKPOINT_RESTORE": 40}

// ownBounding returns this process's bounding set (/proc/self/status CapBnd).
func ownBounding() (uint64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	return 0, fmt.Errorf("no CapBnd in /proc/self/status")
}

// missingCaps returns the capabilities of names that bounding lacks.
func missingCaps(names []string, bounding uint64) []string {
	var out []string
	for _, n := range names {
		if v, ok := capNumbers[n]; ok && bounding&(1<<v) == 0 {
			out = append(out, n)
		}
	}
	return out
}

// dropMissingCaps rewrites the config.json of the bundle that a create or
// run command line (runc's) names without the capabilities this process
// lacks.
func dropMissingCaps(args []string) error {
	bundle := ""
	for i, a := range args {
		if (a == "--bundle" || a == "-b") && i+1 < len(args) {
			bundle = args[i+1]
		} else if v, ok := strings.CutPrefix(a, "--bundle="); ok {
			bundle = v
		}
	}
	if bundle == "" {
		return nil
	}
	path := filepath.Join(bundle, "config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var spec specs.Spec
	if err := json.Unmarshal(b, &spec); err != nil {
		return err
	}
	own, err := ownBounding()
	if err != nil {
		return err
	}
	if c := spec.Process.Capabilities; c != nil {
		for _, set := range []*[]string{&c.Bounding, &c.Effective, &c.Permitted, &c.Inheritable, &c.Ambient} {
			drop := missingCaps(*set, own)
			*set = slices.DeleteFunc(*set, func(n string) bool { return slices.Contains(drop, n) })
		}
	}
	if b, err = json.Marshal(&spec); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// skipOrFail skips the test with the reason, or fails it in CI, where every
// package the tests need is installed.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// newNamespaces waits until unshare, process pid, is in namespaces of each
// kind ("mnt", "net") other than this process's, and returns them (readlinks
// of /proc/PID/ns/KIND).
func newNamespaces(t *testing.T, pid int, kinds ...string) []string {
	t.Helper()
	out := make([]string, len(kinds))
	for i := 0; ; i++ {
		n := 0
		for k, kind := range kinds {
			own, _ := os.Readlink("/proc/self/ns/" + kind)
			if l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, kind)); err == nil && l != own {
				out[k] = l
				n++
			}
		}
		if n == len(kinds) {
			return out
		}
		if i > 400 {
			t.Fatalf("unshare did not make its %v namespaces", kinds)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitUp polls up until it reports true, failing the test with the daemon's
// log (logPath) when the daemon exits first (done; its error is put back for
// the cleanup) or after 60 s.
func waitUp(t *testing.T, name string, done chan error, logPath string, up func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !up(); {
		select {
		case err := <-done:
			done <- err // for the cleanup
			b, _ := os.ReadFile(logPath)
			t.Fatalf("%s exited (%v):\n%s", name, err, b)
		default:
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("%s did not come up:\n%s", name, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func newDockerd(t *testing.T) *dockerd {
	containertest.SkipUnlessRoot(t)
	client := "/usr/bin/docker" // Debian's; another docker in PATH may be of another version
	if _, err := os.Stat(client); err != nil {
		skipOrFail(t, "%s is not installed (Debian package docker.io; .ci/run installs it): %v", client, err)
	}
	for _, tool := range []string{"dockerd", "containerd", "containerd-shim-runc-v2", "docker-init", "unshare", "tar"} {
		if _, err := exec.LookPath(tool); err != nil {
			skipOrFail(t, "%s is not installed (Debian packages docker.io, containerd and tini; .ci/run installs them): %v", tool, err)
		}
	}
	if fi, err := os.Stat("/etc/docker"); err != nil || !fi.IsDir() {
		skipOrFail(t, "no /etc/docker (Debian package docker.io makes it; the daemon's key.json goes there): %v", err)
	}
	_, statErr := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	dir := containertest.ShortTempDir(t) // the sockets go below it
	os.Chmod(dir, 0o755)
	d := &dockerd{t: t, dir: dir, client: client, parent: fmt.Sprintf("/ctrkit-docker-%d", os.Getpid()), v2: statErr == nil}
	rt := runtimePath(t)
	hostCaps := filepath.Join(filepath.Dir(rt), hostCapsRuntime)
	if err := os.Symlink(rt, hostCaps); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"etc", "client"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "daemon.json"), []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "d.sock")
	d.env = append(os.Environ(), "DOCKER_HOST=unix://"+sock, "DOCKER_CONFIG="+filepath.Join(dir, "client"))
	log, err := os.Create(filepath.Join(dir, "daemon.log"))
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--mount", "--propagation", "private", "sh", "-c",
		`mount -t tmpfs -o mode=0755 tmpfs /run && mount --bind "$1" /etc/docker && shift && exec "$@"`,
		"sh", filepath.Join(dir, "etc"), "dockerd",
		"--config-file", filepath.Join(dir, "daemon.json"),
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "docker.pid"),
		"-H", "unix://" + sock,
		"--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false", "--userland-proxy=false",
		"--exec-opt", "native.cgroupdriver=cgroupfs", "--cgroup-parent", d.parent,
		"--add-runtime", "ctrkit=" + rt, "--add-runtime", hostCapsRuntime + "=" + hostCaps,
		"--shutdown-timeout", "5"}
	daemon := exec.Command("unshare", args...)
	daemon.Stdout, daemon.Stderr = log, log
	// dockerd writes a stack dump of a containerd that does not answer in
	// time (SIGUSR1) to TMPDIR: keep it in the scratch directory.
	tmp := filepath.Join(dir, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	daemon.Env = append(os.Environ(), "TMPDIR="+tmp)
	daemon.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := daemon.Start(); err != nil {
		log.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- daemon.Wait() }()
	// ns is the daemon's mount namespace once unshare made it: what runs
	// there at the end is the daemon's (never this process's own).
	ns := ""
	t.Cleanup(func() {
		d.stop(daemon.Process.Pid, done, ns)
		log.Close()
	})
	ns = newNamespaces(t, daemon.Process.Pid, "mnt")[0]
	waitUp(t, "dockerd", done, log.Name(), func() bool {
		_, _, code := d.run(t, "version", "--format", "{{.Server.Version}}")
		return code == 0
	})
	// The image: the busybox root file system, imported.
	tarCmd := exec.Command("tar", "-C", containertest.Rootfs(t), "-c", ".")
	imp := exec.Command(d.client, "import", "-", dockerImage)
	imp.Env = d.env
	if imp.Stdin, err = tarCmd.StdoutPipe(); err != nil {
		t.Fatal(err)
	}
	if err := tarCmd.Start(); err != nil {
		t.Fatal(err)
	}
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("docker import: %v: %s", err, out)
	}
	if err := tarCmd.Wait(); err != nil {
		t.Fatal(err)
	}
	return d
}

// stop removes every container, stops the daemon (SIGTERM, then SIGKILL to
// its process group), kills and reports any process left in its mount
// namespace ns (its containerd and the shims), reports and removes the
// containers' cgroups and removes the cgroup parent, and checks that nothing
// the daemon mounted reached the host's mount table.
func (d *dockerd) stop(pid int, done chan error, ns string) {
	t := d.t
	if ids, _, code := d.run(t, "ps", "-aq"); code == 0 && strings.TrimSpace(ids) != "" {
		d.run(t, append([]string{"rm", "-f"}, strings.Fields(ids)...)...)
	}
	select {
	case <-done: // exited already (and reaped: pid is no longer ours to signal)
	default:
		syscall.Kill(pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Errorf("dockerd did not exit within 30s of SIGTERM: killing its process group")
			syscall.Kill(-pid, syscall.SIGKILL)
			<-done
		}
	}
	if ns != "" {
		// dockerd stops its containerd as it exits, and the shims exit with
		// their containers: give them a moment, then kill what is left.
		if !waitFor(10*time.Second, func() bool { return len(processesIn("mnt", ns)) == 0 }) {
			t.Errorf("processes left in dockerd's mount namespace 10s after it exited: %v", processesIn("mnt", ns))
			if !waitFor(10*time.Second, func() bool {
				for p := range processesIn("mnt", ns) {
					syscall.Kill(p, syscall.SIGKILL)
				}
				return len(processesIn("mnt", ns)) == 0
			}) {
				t.Errorf("processes in dockerd's mount namespace survive SIGKILL: %v", processesIn("mnt", ns))
			}
		}
	}
	for _, c := range d.leftCgroups() {
		t.Errorf("cgroup %s left behind", c)
		if err := oci.RemoveCgroup(c); err != nil {
			t.Errorf("remove %s: %v", c, err)
		}
	}
	if err := oci.RemoveCgroup(d.parent); err != nil {
		t.Errorf("remove the cgroup parent: %v", err)
	}
	if mi, err := os.ReadFile("/proc/self/mountinfo"); err == nil && strings.Contains(string(mi), d.dir) {
		t.Errorf("mounts of the daemon's left in the host's mount table:\n%s", mi)
	}
}

// processesIn returns the processes (pid → command) whose namespace of
// kind ("mnt", "net") is ns, a readlink of /proc/PID/ns/KIND.
func processesIn(kind, ns string) map[int]string {
	out := map[int]string{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if n, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, kind)); err == nil && n == ns {
			comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			out[pid] = strings.TrimSpace(string(comm))
		}
	}
	return out
}

// leftCgroups returns the cgroups below the daemon's cgroup parent.
func (d *dockerd) leftCgroups() []string {
	var out []string
	dirs := []string{filepath.Join("/sys/fs/cgroup", d.parent)}
	if !d.v2 {
		dirs, _ = filepath.Glob("/sys/fs/cgroup/*" + d.parent)
	}
	for _, dir := range dirs {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if c := d.parent + "/" + e.Name(); e.IsDir() && !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	return out
}

// run runs the docker client for test t: stdout, stderr, exit status.
func (d *dockerd) run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(d.client, args...)
	cmd.Env = d.env
	return runTool(t, cmd)
}

// ok runs the docker client for test t, failing it unless the client exits 0;
// it returns the client's stdout.
func (d *dockerd) ok(t *testing.T, args ...string) string {
	t.Helper()
	return succeeded(t, "docker", args)(d.run(t, args...))
}

// start runs a container in the background with ctrkit and returns its id;
// the test's cleanup removes it.
func (d *dockerd) start(t *testing.T, args ...string) string {
	t.Helper()
	id := strings.TrimSpace(d.ok(t, append([]string{"run", "-d", "--runtime", "ctrkit"}, args...)...))
	t.Cleanup(func() { d.run(t, "rm", "-f", id) })
	return id
}

// cgroupFile returns the path of a file of a container's cgroup: v1name in
// the controller's v1 hierarchy, or v2name on a cgroup v2 host.
func (d *dockerd) cgroupFile(id, controller, v1name, v2name string) string {
	if d.v2 {
		return filepath.Join("/sys/fs/cgroup", d.parent, id, v2name)
	}
	return filepath.Join("/sys/fs/cgroup", controller, d.parent, id, v1name)
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// capSet parses a capability set line ("CapEff:\t...") of /proc/PID/status
// output.
func capSet(t *testing.T, status, set string) uint64 {
	t.Helper()
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, set+":"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no %s in %q", set, status)
	return 0
}

// waitFor polls f for up to d.
func waitFor(d time.Duration, f func() bool) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if f() {
			return true
		}
	}
	return f()
}

// hostDevices returns the device nodes below /dev that docker run
// --privileged gives a container (name → "c 10:229"): every character and
// block device, subdirectories included, but those runc's device list
// leaves out (the pts, shm, fd and mqueue directories, console) and
// /dev/ptmx, which a container has from its own devpts.
func hostDevices(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir("/dev", func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil // a node that went away
		}
		switch e.Name() {
		case "pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev":
			if e.IsDir() {
				return filepath.SkipDir
			}
		case "console", "ptmx":
			return nil
		}
		if e.Type()&fs.ModeDevice == 0 {
			return nil
		}
		var st syscall.Stat_t
		if syscall.Lstat(path, &st) != nil {
			return nil
		}
		kind := "b"
		if e.Type()&fs.ModeCharDevice != 0 {
			kind = "c"
		}
		out[path] = fmt.Sprintf("%s %d:%d", kind, unix.Major(uint64(st.Rdev)), unix.Minor(uint64(st.Rdev)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDocker drives ctrkit with Docker: each subtest fails when the client's
// operation fails or its effect is missing.
func TestDocker(t *testing.T) {
	d := newDockerd(t)
	run := []string{"run", "--rm", "--runtime", "ctrkit"}
	img := dockerImage

	t.Run("run --rm with docker's default spec", func(t *testing.T) {
		// Docker's default spec (seccomp profile, device rules, masked
		// paths, sysctls, capabilities, no rlimits) is accepted as sent:
		// no field of it is refused.
		if out := d.ok(t, append(run, img, "echo", "hi")...); out != "hi\n" {
			t.Fatalf("output %q", out)
		}
	})
	t.Run("device rules in order", func(t *testing.T) {
		// Docker's list: deny all, allow the standard nodes, then deny
		// fuse (10:229): the deny after the allows is honoured (runc
		// allows mknod of any node after the list; ctrkit applies it as
		// sent, so fuse cannot even be made).
		out, errOut, code := d.run(t, append(run, img, "sh", "-c",
			"mknod /tmp/null c 1 3 && echo null-made; mknod /tmp/fuse c 10 229 && echo fuse-made; cat /dev/fuse")...)
		if code == 0 || out != "null-made\n" || !strings.Contains(errOut, "mknod: /tmp/fuse: Operation not permitted") {
			t.Fatalf("exit %d, stdout %q, stderr %q: want /dev/null's numbers allowed, fuse's denied", code, out, errOut)
		}
		if d.v2 {
			return // the rules are an eBPF program: the mknod above is the check
		}
		id := d.start(t, img, "sleep", "1000")
		list := readTrim(t, d.cgroupFile(id, "devices", "devices.list", ""))
		if !strings.Contains(list, "c 1:3 rwm") || strings.Contains(list, "10:229") || strings.Contains(list, "a *:*") {
			t.Fatalf("devices.list:\n%s", list)
		}
	})
	t.Run("exit codes", func(t *testing.T) {
		// (A signal's 128+N: stop -t below.)
		for cmd, want := range map[string]int{"exit 7": 7, "exit 0": 0, "exec /nope": 127} {
			if _, errOut, code := d.run(t, append(run, img, "sh", "-c", cmd)...); code != want {
				t.Errorf("sh -c %q: exit %d, want %d: %s", cmd, code, want, errOut)
			}
		}
	})
	t.Run("memory and pids limits, update -m, stats", func(t *testing.T) {
		id := d.start(t, "-m", "64m", "--pids-limit", "20", img, "sleep", "1000")
		mem := d.cgroupFile(id, "memory", "memory.limit_in_bytes", "memory.max")
		pids := d.cgroupFile(id, "pids", "pids.max", "pids.max")
		if got := readTrim(t, mem); got != "67108864" {
			t.Errorf("%s = %s, want 67108864", mem, got)
		}
		if got := readTrim(t, pids); got != "20" {
			t.Errorf("%s = %s, want 20", pids, got)
		}
		out := d.ok(t, "stats", "--no-stream", "--format", "{{.MemUsage}}|{{.PIDs}}", id)
		if usage, n, _ := strings.Cut(strings.TrimSpace(out), "|"); !strings.HasSuffix(usage, "/ 64MiB") || n != "1" {
			t.Errorf("stats: %q, want the 64MiB limit and 1 process", out)
		}
		d.ok(t, "update", "-m", "128m", id)
		if got := readTrim(t, mem); got != "134217728" {
			t.Errorf("after docker update -m 128m: %s = %s", mem, got)
		}
		// A container run without -m: its cgroup is in the memory
		// hierarchy all the same (docker wants --memory-swap then).
		id = d.start(t, img, "sleep", "1000")
		d.ok(t, "update", "-m", "96m", "--memory-swap", "192m", id)
		if got := readTrim(t, d.cgroupFile(id, "memory", "memory.limit_in_bytes", "memory.max")); got != "100663296" {
			t.Errorf("after docker update -m 96m of a container without a limit: %s", got)
		}
		out = d.ok(t, "stats", "--no-stream", "--format", "{{.MemUsage}}|{{.PIDs}}", id)
		if usage, n, _ := strings.Cut(strings.TrimSpace(out), "|"); !strings.HasSuffix(usage, "/ 96MiB") || n != "1" {
			t.Errorf("stats: %q, want the 96MiB limit and 1 process", out)
		}
	})
	t.Run("--ulimit", func(t *testing.T) {
		if out := d.ok(t, append(run, "--ulimit", "nofile=512:768", img, "sh", "-c", "ulimit -Sn; ulimit -Hn")...); out != "512\n768\n" {
			t.Fatalf("ulimit -Sn, -Hn: %q", out)
		}
		// A hard limit above the daemon's own needs CAP_SYS_RESOURCE.
		var lim syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatal(err)
		}
		own, err := ownBounding()
		if err != nil {
			t.Fatal(err)
		}
		if own&(1<<capNumbers["CAP_SYS_RESOURCE"]) != 0 || lim.Max >= 1<<20 {
			return
		}
		n := fmt.Sprint(lim.Max + 1)
		_, errOut, code := d.run(t, append(run, "--ulimit", "nofile="+n+":"+n, img, "true")...)
		if code == 0 || !strings.Contains(errOut, "process.rlimits") || !strings.Contains(errOut, "RLIMIT_NOFILE") || !strings.Contains(errOut, "CAP_SYS_RESOURCE") {
			t.Fatalf("--ulimit nofile=%s above the hard limit without CAP_SYS_RESOURCE: exit %d, %q; want the field, the limit and the reason named", n, code, errOut)
		}
	})
	t.Run("--read-only", func(t *testing.T) {
		_, errOut, code := d.run(t, append(run, "--read-only", img, "touch", "/x")...)
		if code == 0 || !strings.Contains(errOut, "Read-only file system") {
			t.Fatalf("touch /x: exit %d, %q", code, errOut)
		}
	})
	t.Run("-v host:ctr", func(t *testing.T) {
		host := t.TempDir()
		if err := os.WriteFile(filepath.Join(host, "in"), []byte("from-host\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if out := d.ok(t, append(run, "-v", host+":/data", img, "sh", "-c", "cat /data/in; echo from-ctr > /data/out")...); out != "from-host\n" {
			t.Fatalf("output %q", out)
		}
		if got := readTrim(t, filepath.Join(host, "out")); got != "from-ctr" {
			t.Fatalf("the container's write: %q", got)
		}
		if _, errOut, code := d.run(t, append(run, "-v", host+":/data:ro", img, "touch", "/data/x")...); code == 0 || !strings.Contains(errOut, "Read-only file system") {
			t.Fatalf("write to a :ro volume: exit %d, %q", code, errOut)
		}
	})
	t.Run("--cap-add, --cap-drop", func(t *testing.T) {
		status := d.ok(t, append(run, "--cap-add", "NET_ADMIN", "--cap-drop", "CHOWN", img, "sh", "-c", "grep Cap /proc/self/status")...)
		eff := capSet(t, status, "CapEff")
		if eff&(1<<capNumbers["CAP_NET_ADMIN"]) == 0 || eff&(1<<capNumbers["CAP_CHOWN"]) != 0 || eff&(1<<capNumbers["CAP_KILL"]) == 0 {
			t.Errorf("CapEff %x: want NET_ADMIN and KILL, no CHOWN", eff)
		}
		if _, errOut, code := d.run(t, append(run, "--cap-drop", "CHOWN", img, "chown", "1", "/tmp")...); code == 0 || !strings.Contains(errOut, "Operation not permitted") {
			t.Errorf("chown without CAP_CHOWN: exit %d, %q", code, errOut)
		}
		if _, errOut, code := d.run(t, append(run, "--cap-add", "NET_ADMIN", img, "ip", "link", "set", "lo", "down")...); code != 0 {
			t.Errorf("ip link set lo down with CAP_NET_ADMIN: exit %d, %q", code, errOut)
		}
	})
	t.Run("--user, -e, -w", func(t *testing.T) {
		out := d.ok(t, append(run, "--user", "1000:1000", "-e", "FOO=bar", "-w", "/tmp", img, "sh", "-c",
			"id -u; id -g; echo $FOO; pwd; grep -E 'Cap(Eff|Bnd)' /proc/self/status")...)
		lines := strings.SplitN(out, "\n", 5)
		if len(lines) < 5 || strings.Join(lines[:4], " ") != "1000 1000 bar /tmp" {
			t.Fatalf("output %q", out)
		}
		// Docker lists a non-root user's capabilities in bounding alone.
		if eff, bnd := capSet(t, lines[4], "CapEff"), capSet(t, lines[4], "CapBnd"); eff != 0 || bnd&(1<<capNumbers["CAP_KILL"]) == 0 {
			t.Errorf("CapEff %x, CapBnd %x: want none effective, Docker's set bounding", eff, bnd)
		}
	})
	t.Run("--device /dev/fuse", func(t *testing.T) {
		out := d.ok(t, append(run, "--device", "/dev/fuse", img, "sh", "-c", "stat -c '%F %t:%T' /dev/fuse; exec 3<>/dev/fuse && echo opened")...)
		if out != "character special file a:e5\nopened\n" {
			t.Fatalf("output %q", out)
		}
	})
	t.Run("--privileged", func(t *testing.T) {
		own, err := ownBounding()
		if err != nil {
			t.Fatal(err)
		}
		all := make([]string, 0, len(capNumbers))
		for n, v := range capNumbers {
			if v <= 37 { // Docker 20.10 knows CAP_CHOWN to CAP_AUDIT_READ
				all = append(all, n)
			}
		}
		missing := missingCaps(all, own)
		_, errOut, code := d.run(t, append(run, "--privileged", img, "true")...)
		if len(missing) == 0 && code != 0 {
			t.Fatalf("docker run --privileged: exit %d: %s", code, errOut)
		}
		if len(missing) > 0 {
			// This host's root lacks some: no runtime can give them.
			if code == 0 || !strings.Contains(errOut, "process.capabilities.bounding") || !strings.Contains(errOut, missing[0]) {
				t.Fatalf("docker run --privileged without %v: exit %d, %q; want the field and the capability named", missing, code, errOut)
			}
			t.Logf("--privileged refused as it must here: %s", strings.TrimSpace(errOut))
		}
		// The rest of --privileged, with the capabilities this host has.
		before := hostDevices(t)
		out := d.ok(t, "run", "--rm", "--runtime", hostCapsRuntime, "--privileged", img, "sh", "-c",
			"find /dev \\( -type c -o -type b \\) | xargs stat -c '%n %F %t:%T'; grep CapEff /proc/self/status")
		after := hostDevices(t)
		got := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(line)
			if len(f) < 3 || f[0] == "CapEff:" {
				continue
			}
			maj, _ := strconv.ParseUint(strings.Split(f[len(f)-1], ":")[0], 16, 32)
			minor, _ := strconv.ParseUint(strings.Split(f[len(f)-1], ":")[1], 16, 32)
			kind := "c"
			if f[1] == "block" {
				kind = "b"
			}
			got[f[0]] = fmt.Sprintf("%s %d:%d", kind, maj, minor)
		}
		n := 0
		for path, want := range before {
			if after[path] != want {
				continue // came or went meanwhile
			}
			n++
			if got[path] != want {
				t.Errorf("%s (%s on the host): %q in the container", path, want, got[path])
			}
		}
		if n == 0 {
			t.Fatal("the host has no device nodes")
		}
		t.Logf("the container has each of the host's %d device nodes", n)
		if eff := capSet(t, out, "CapEff"); eff&(1<<capNumbers["CAP_SYS_ADMIN"]) == 0 {
			t.Errorf("CapEff %x: no CAP_SYS_ADMIN", eff)
		}
		// Nodes the container opens: a block device, one in a
		// subdirectory of /dev.
		var open []string
		for _, p := range []string{"/dev/loop0", "/dev/net/tun"} {
			if _, ok := before[p]; ok {
				open = append(open, fmt.Sprintf("exec 3<%s && echo %s", p, p))
			}
		}
		if len(open) > 0 {
			out := d.ok(t, "run", "--rm", "--runtime", hostCapsRuntime, "--privileged", img, "sh", "-c", strings.Join(open, "; "))
			if strings.Count(out, "\n") != len(open) {
				t.Errorf("opened only %q of %v", out, open)
			}
		}
	})
	t.Run("-d, exec, exec -t, logs, kill -s USR1, stop", func(t *testing.T) {
		id := d.start(t, img, "sh", "-c", `trap 'echo got-usr1' USR1; trap 'echo got-term; exit 3' TERM; echo started; while :; do sleep 0.1; done`)
		if st := strings.TrimSpace(d.ok(t, "inspect", "--format", "{{.State.Status}}", id)); st != "running" {
			t.Fatalf("status %q after run -d", st)
		}
		out, errOut, code := d.run(t, "exec", id, "sh", "-c", "echo $$; exit 4")
		if code != 4 || strings.TrimSpace(out) == "1" || strings.TrimSpace(out) == "" {
			t.Fatalf("exec: exit %d, %q, %q; want exit 4 and a pid other than 1", code, out, errOut)
		}
		if out := strings.ReplaceAll(d.ok(t, "exec", "-t", id, "sh", "-c", "tty"), "\r", ""); !strings.HasPrefix(out, "/dev/pts/") {
			t.Fatalf("exec -t: tty printed %q", out)
		}
		d.ok(t, "kill", "-s", "USR1", id)
		if !waitFor(10*time.Second, func() bool { return strings.Contains(d.ok(t, "logs", id), "got-usr1") }) {
			t.Fatalf("no got-usr1 in the logs:\n%s", d.ok(t, "logs", id))
		}
		if logs := d.ok(t, "logs", id); !strings.HasPrefix(logs, "started\n") {
			t.Fatalf("logs: %q", logs)
		}
		if st := strings.TrimSpace(d.ok(t, "inspect", "--format", "{{.State.Status}}", id)); st != "running" {
			t.Fatalf("status %q after kill -s USR1", st)
		}
		d.ok(t, "stop", "-t", "10", id)
		if code := strings.TrimSpace(d.ok(t, "inspect", "--format", "{{.State.ExitCode}}", id)); code != "3" {
			t.Fatalf("exit code %s after stop, want 3 (the TERM trap)", code)
		}
		if logs := d.ok(t, "logs", id); !strings.HasSuffix(logs, "got-term\n") {
			t.Fatalf("logs after stop: %q", logs)
		}
	})
	t.Run("stop -t kills what ignores SIGTERM", func(t *testing.T) {
		// A PID 1 shell without a trap ignores SIGTERM.
		id := d.start(t, img, "sh", "-c", "while :; do sleep 0.1; done")
		start := time.Now()
		d.ok(t, "stop", "-t", "2", id)
		if took := time.Since(start); took < 2*time.Second {
			t.Errorf("stop -t 2 returned after %v: SIGKILL before the timeout", took)
		}
		if code := strings.TrimSpace(d.ok(t, "inspect", "--format", "{{.State.ExitCode}}", id)); code != "137" {
			t.Fatalf("exit code %s, want 137 (SIGKILL)", code)
		}
	})
	t.Run("pause, unpause", func(t *testing.T) {
		id := d.start(t, img, "sleep", "1000")
		d.ok(t, "pause", id)
		if st := strings.TrimSpace(d.ok(t, "inspect", "--format", "{{.State.Status}}", id)); st != "paused" {
			t.Fatalf("status %q after pause", st)
		}
		freezer, frozen := d.cgroupFile(id, "freezer", "freezer.state", "cgroup.freeze"), "FROZEN"
		if d.v2 {
			frozen = "1"
		}
		if got := readTrim(t, freezer); got != frozen {
			t.Fatalf("%s = %s after pause", freezer, got)
		}
		d.ok(t, "unpause", id)
		if st := strings.TrimSpace(d.ok(t, "inspect", "--format", "{{.State.Status}}", id)); st != "running" {
			t.Fatalf("status %q after unpause", st)
		}
		if got := readTrim(t, freezer); got == frozen {
			t.Fatalf("%s = %s after unpause", freezer, got)
		}
		if out := d.ok(t, "exec", id, "echo", "thawed"); out != "thawed\n" {
			t.Fatalf("exec after unpause: %q", out)
		}
	})
	t.Run("rm -f", func(t *testing.T) {
		id := strings.TrimSpace(d.ok(t, "run", "-d", "--runtime", "ctrkit", img, "sleep", "1000"))
		cg := filepath.Dir(d.cgroupFile(id, "freezer", "x", "x"))
		if _, err := os.Stat(cg); err != nil {
			t.Fatal(err)
		}
		d.ok(t, "rm", "-f", id)
		if out := d.ok(t, "ps", "-aq", "--no-trunc"); strings.Contains(out, id) {
			t.Fatalf("still listed after rm -f: %s", out)
		}
		if !waitFor(10*time.Second, func() bool { _, err := os.Stat(cg); return os.IsNotExist(err) }) {
			t.Fatalf("cgroup %s left after rm -f", cg)
		}
	})
	t.Run("--init", func(t *testing.T) {
		out := d.ok(t, append(run, "--init", img, "sh", "-c", "cat /proc/1/comm; echo $$")...)
		if f := strings.Fields(out); len(f) != 2 || f[0] != "docker-init" || f[1] == "1" {
			t.Fatalf("output %q: want docker-init as PID 1 and the command below it", out)
		}
		if _, errOut, code := d.run(t, append(run, "--init", img, "sh", "-c", "exit 5")...); code != 5 {
			t.Fatalf("exit %d through docker-init, want 5: %s", code, errOut)
		}
	})
}

// startError names the field behind the Start errors that the host decides.
func TestStartErrorNamesField(t *testing.T) {
	for _, tc := range []struct {
		err   error
		field string
	}{
		{fmt.Errorf("container: capabilities CAP_SYS_RESOURCE: %w", container.ErrCapabilityUnavailable), "process.capabilities.bounding"},
		{&container.SetupError{Op: "setrlimit", Path: "RLIMIT_NOFILE", Err: unix.EPERM}, "process.rlimits"},
	} {
		var fe *oci.FieldError
		if err := startError(tc.err); !errors.As(err, &fe) || fe.Field != tc.field || !strings.Contains(err.Error(), tc.err.Error()) {
			t.Errorf("startError(%v) = %v, want a FieldError for %s that keeps the cause", tc.err, err, tc.field)
		}
	}
	if err := (&container.SetupError{Op: "mount", Err: unix.EPERM}); startError(err) != error(err) {
		t.Errorf("startError changed an error no field caused: %v", startError(err))
	}
}
