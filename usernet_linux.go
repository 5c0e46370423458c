package container

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The user network's steps of the start sequence (WithUserNetwork):
//
//	parent, before "go"   startUserNetwork: find pasta (or slirp4netns), start
//	                      it from a fork thread with a parent-death signal,
//	                      aimed at the init's namespaces; wait until it says it
//	                      is ready (pasta's pid file, slirp4netns's ready fd),
//	                      by then eth0 is configured; slirp4netns: publish the
//	                      ports through its API socket
//	parent, Wait          releaseUserNetwork: kill and reap the helper
//
// The helper stays the caller's child (in the foreground) so that Wait, a
// failed Start and the parent-death signal all reach it; slirp4netns also
// exits when the pipe of its --exit-fd closes, which a dead caller closes.

// userNetHelpers are the helpers Start looks for, in order; the tests
// change it to run the fallback.
var userNetHelpers = []userNetHelper{helperPasta, helperSlirp4netns}

// userNetReadyTimeout bounds the wait for the helper to configure the
// namespace.
const userNetReadyTimeout = 30 * time.Second

// userNetState is a running helper.
type userNetState struct {
	helper userNetHelper
	cmd    *exec.Cmd
	stderr headBuffer
	exited chan struct{} // closed once the helper is reaped
	exitW  *os.File      // slirp4netns: closing it tells it to exit
	dir    string        // slirp4netns: holds its API socket
	once   sync.Once
}

// findUserNetHelper returns the first helper of userNetHelpers installed.
func findUserNetHelper() (userNetHelper, string, error) {
	var names []string
	for _, h := range userNetHelpers {
		if p, err := exec.LookPath(string(h)); err == nil {
			return h, p, nil
		}
		names = append(names, string(h))
	}
	missing := "neither " + strings.Join(names, " nor ") + " is in $PATH"
	if len(names) == 1 {
		missing = names[0] + " is not in $PATH"
	}
	return "", "", fmt.Errorf("container: WithUserNetwork: %s: install Debian's passt package (pasta), or slirp4netns: %w", missing, exec.ErrNotFound)
}

// startUserNetwork runs between the clone and "go": it starts the helper in
// the init's namespaces and returns once the container's eth0 is configured
// and its ports are published. Its release is registered before it waits.
func (r *running) startUserNetwork(ctx context.Context, c *config, rel *releaser) (err error) {
	if !c.userNet.on {
		return nil
	}
	helper, path, err := findUserNetHelper()
	if err != nil {
		return err
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("container: WithUserNetwork: %w", err)
	}
	defer readyR.Close()
	child := []*os.File{readyW} // the helper's descriptors from 3 on, closed here once it has them
	defer func() {
		for _, f := range child {
			f.Close()
		}
	}()
	st := &userNetState{helper: helper, exited: make(chan struct{})}
	if helper == helperSlirp4netns {
		exitR, exitW, err := os.Pipe()
		if err != nil {
			return fmt.Errorf("container: WithUserNetwork: %w", err)
		}
		child = append(child, exitR)
		st.exitW = exitW
	}
	// The init's namespaces, as descriptors the helper inherits.
	t := userNetTarget{root: geteuid() == 0}
	nsDir := "/proc/" + strconv.Itoa(r.pid()) + "/ns/"
	for _, ns := range []string{"net", "user"} {
		if ns == "user" && c.namespaces&NSUser == 0 {
			break
		}
		f, err := os.Open(nsDir + ns)
		if err != nil {
			st.release()
			return fmt.Errorf("container: WithUserNetwork: open the container's %s namespace: %w", ns, err)
		}
		child = append(child, f)
		p := "/proc/self/fd/" + strconv.Itoa(2+len(child))
		if ns == "net" {
			t.netns = p
		} else {
			t.userns = p
		}
	}
	cmd := &exec.Cmd{
		Path:       path,
		Stderr:     &st.stderr,
		ExtraFiles: child,
		// Pdeathsig is per creating thread: the helper is started from a
		// fork thread, which lives as long as the process (ns_linux.go).
		SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	}
	apiSocket := ""
	switch helper {
	case helperPasta:
		cmd.Args = append([]string{string(helper)}, pastaArgs(&c.userNet, t, "/proc/self/fd/3")...)
	case helperSlirp4netns:
		if len(c.userNet.publish) > 0 {
			reapUserNetDirs()
			dir, err := os.MkdirTemp("", userNetDirPrefix+owner()+"-*")
			if err != nil {
				st.release()
				return fmt.Errorf("container: WithUserNetwork: directory for slirp4netns's API socket: %w", err)
			}
			st.dir = dir
			apiSocket = filepath.Join(dir, "api.sock")
		}
		cmd.Args = append([]string{string(helper)}, slirpArgs(t, 3, 4, apiSocket)...)
	}
	onForkThread(func() { err = cmd.Start() })
	if err != nil {
		st.release()
		return fmt.Errorf("container: WithUserNetwork: start %s: %w", path, err)
	}
	st.cmd = cmd
	go func() {
		cmd.Wait()
		close(st.exited)
	}()
	r.userNet = st
	rel.add(st.release)
	for _, f := range child {
		f.Close()
	}
	child = nil

	if err := st.waitReady(ctx, readyR); err != nil {
		return err
	}
	if apiSocket != "" {
		for _, p := range c.userNet.publish {
			if err := slirpAPI(apiSocket, slirpHostfwd(p)); err != nil {
				return fmt.Errorf("container: WithPublish %d:%d: slirp4netns: %w", p.Host, p.Container, err)
			}
		}
		// slirp4netns keeps its listening socket; nobody needs the path again.
		os.RemoveAll(st.dir)
	}
	return nil
}

// userNetDirPrefix names the directories of slirp4netns's API sockets, each
// with its owner (net_linux.go), so that a later Start removes those of a
// caller killed while it published ports.
const userNetDirPrefix = "ctrkit-usernet-"

func reapUserNetDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), userNetDirPrefix+"*"))
	for _, d := range dirs {
		rest := strings.TrimPrefix(filepath.Base(d), userNetDirPrefix)
		if tok, _, ok := strings.Cut(rest, "-"); ok && ownerGone(tok) {
			os.RemoveAll(d)
		}
	}
}

// waitReady waits for the helper's readiness: a line on the pipe (pasta
// writes its pid there once the namespace is configured, slirp4netns "1").
// EOF first means the helper exited.
func (st *userNetState) waitReady(ctx context.Context, ready *os.File) error {
	got := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(ready).ReadString('\n')
		if err == io.EOF && line != "" {
			err = nil
		}
		got <- err
	}()
	timer := time.NewTimer(userNetReadyTimeout)
	defer timer.Stop()
	var err error
	select {
	case err = <-got:
	case <-ctx.Done():
		return fmt.Errorf("container: WithUserNetwork: waiting for %s: %w", st.helper, ctx.Err())
	case <-timer.C:
		return fmt.Errorf("container: WithUserNetwork: %s did not configure the network within %v%s", st.helper, userNetReadyTimeout, st.message())
	}
	if err == nil {
		return nil
	}
	// The helper exited (or closed the pipe): its status and message say why.
	status := "closed its readiness pipe"
	select {
	case <-st.exited:
		status = st.cmd.ProcessState.String()
	case <-time.After(5 * time.Second):
	}
	hint := ""
	if f, oerr := os.OpenFile("/dev/net/tun", os.O_RDWR, 0); oerr != nil {
		hint = fmt.Sprintf(" (%v: the helper needs it, mode 0666 as Debian's udev makes it)", oerr)
	} else {
		f.Close()
	}
	return fmt.Errorf("container: WithUserNetwork: %s: %s%s%s", st.helper, status, st.message(), hint)
}

// message is the helper's stderr, without the lines of its failing syslog.
func (st *userNetState) message() string {
	var keep []string
	for _, l := range strings.Split(st.stderr.String(), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "Failed to send") && strings.HasSuffix(l, "to syslog") {
			continue
		}
		keep = append(keep, l)
	}
	if len(keep) == 0 {
		return ""
	}
	return ": " + strings.Join(keep, "; ")
}

// headBuffer keeps the first 8 KiB written to it: the helper's messages
// from Start on, without growing for as long as the container runs.
type headBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (h *headBuffer) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if room := 8<<10 - len(h.b); room > 0 {
		h.b = append(h.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (h *headBuffer) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return string(h.b)
}

// slirpAPI sends one request to slirp4netns's API socket and checks its answer.
// A raw unix socket, not package net: net would make every program that
// imports the library a cgo program (its resolver).
func slirpAPI(socket, req string) error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	defer unix.Close(fd)
	tv := unix.NsecToTimeval((5 * time.Second).Nanoseconds())
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: socket}); err != nil {
		return &os.PathError{Op: "connect", Path: socket, Err: err}
	}
	for b := []byte(req); len(b) > 0; {
		n, err := unix.Write(fd, b)
		if err != nil {
			return os.NewSyscallError("write", err)
		}
		b = b[n:]
	}
	unix.Shutdown(fd, unix.SHUT_WR)
	var resp []byte
	buf := make([]byte, 4096)
	for {
		n, err := unix.Read(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return os.NewSyscallError("read", err)
		}
		if n == 0 {
			break
		}
		resp = append(resp, buf[:n]...)
	}
	if !strings.Contains(string(resp), `"return"`) {
		return fmt.Errorf("%s", strings.TrimSpace(string(resp)))
	}
	return nil
}

// release kills and reaps the helper and removes its files; it runs once,
// from Wait or a failed Start.
func (st *userNetState) release() {
	st.once.Do(func() {
		if st.cmd != nil && st.cmd.Process != nil {
			st.cmd.Process.Signal(unix.SIGKILL)
			<-st.exited
		}
		if st.exitW != nil {
			st.exitW.Close()
		}
		if st.dir != "" {
			os.RemoveAll(st.dir)
		}
	})
}

// releaseUserNetwork runs in Wait, once the container's processes are gone.
func (r *running) releaseUserNetwork() {
	if r.userNet != nil {
		r.userNet.release()
	}
}
