package container_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/ctrkit/container"
	"github.com/ctrkit/container/containertest"
)

// traceLog is a JSON slog handler's output, safe for the one Start that
// writes it.
type traceLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *traceLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// records decodes the log's records.
func (l *traceLog) records(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		recs = append(recs, m)
	}
	return recs
}

func newTraceLogger(level slog.Level) (*slog.Logger, *traceLog) {
	l := &traceLog{}
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: level})), l
}

// steps returns the logged steps by "where/step", and checks that each has a
// duration, the container's id and its pid.
func steps(t *testing.T, recs []map[string]any) map[string]map[string]any {
	t.Helper()
	got := map[string]map[string]any{}
	var id any
	for _, r := range recs {
		if r["level"] != "DEBUG" {
			t.Errorf("record at level %v: %v", r["level"], r)
		}
		if id == nil {
			id = r["id"]
		}
		if r["id"] != id || id == nil || id == "" {
			t.Errorf("record with id %v, want the container's %v: %v", r["id"], id, r)
		}
		if _, ok := r["dur"].(float64); !ok {
			t.Errorf("record without a duration: %v", r)
		}
		if r["msg"] != "container start step" {
			continue
		}
		key := r["where"].(string) + "/" + r["step"].(string)
		if got[key] != nil {
			t.Errorf("step %s logged twice", key)
		}
		got[key] = r
	}
	return got
}

func wantSteps(t *testing.T, got map[string]map[string]any, want ...string) {
	t.Helper()
	for _, w := range want {
		if got[w] == nil {
			t.Errorf("no record of step %s", w)
		}
	}
	if t.Failed() {
		var names []string
		for k := range got {
			names = append(names, k)
		}
		t.Logf("steps logged: %v", names)
	}
}

// TestTraceSteps: WithLogger at debug level logs every step of a default
// container's start, the parent's and the init's, each with a duration, then
// the start's end.
func TestTraceSteps(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	log, out := newTraceLogger(slog.LevelDebug)
	c, _ := containertest.Start(t, rootfs, []string{"/bin/true"}, container.WithLogger(log))
	if err := c.Wait(); err != nil {
		t.Fatal(err)
	}
	recs := out.records(t)
	got := steps(t, recs)
	wantSteps(t, got,
		"parent/plan", "parent/clone", "parent/send config", "parent/wait for init",
		"init/runtime start", "init/config", "init/wait for parent", "init/mounts", "init/pivot_root",
		"init/hostname", "init/user", "init/seccomp", "init/capabilities", "init/close fds", "init/exec")
	for _, notUsed := range []string{"parent/veth", "parent/overlay", "init/exec fifo"} {
		if got[notUsed] != nil {
			t.Errorf("step %s logged for a container without it", notUsed)
		}
	}
	if pid, _ := got["init/mounts"]["pid"].(float64); pid <= 0 {
		t.Errorf("init step without the pid: %v", got["init/mounts"])
	}
	if last := recs[len(recs)-1]; last["msg"] != "container started" {
		t.Errorf("last record %v, want container started", last)
	}
}

// TestTraceCgroupAndVeth: the cgroup and veth steps are logged when those
// options are used.
func TestTraceCgroupAndVeth(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	s := freeSubnet(t)
	log, out := newTraceLogger(slog.LevelDebug)
	c, _ := containertest.Start(t, rootfs, []string{"/bin/true"}, container.WithLogger(log),
		container.WithMemory(64<<20), container.WithVeth(nth(s, 1, 30), nth(s, 2, 30)))
	if err := c.Wait(); err != nil {
		t.Fatal(err)
	}
	wantSteps(t, steps(t, out.records(t)), "parent/veth", "parent/attach veth",
		"init/cgroup namespace", "init/network inside", "init/exec")
}

// TestTraceFailure: a failed start logs the step that failed, where, and the
// error: a command missing from the rootfs (execve) and a mount the kernel
// refuses.
func TestTraceFailure(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	for _, tc := range []struct {
		name, step string
		cmd        []string
		opts       []container.Option
	}{
		{"missing command", "exec", []string{"/bin/no-such-command"}, nil},
		// A directory bound onto a file: ENOTDIR.
		{"mount", "mounts", []string{"/bin/true"}, []container.Option{container.WithBind(t.TempDir(), "/bin/busybox", false)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log, out := newTraceLogger(slog.LevelDebug)
			c, err := container.New(rootfs, tc.cmd, append(tc.opts, container.WithLogger(log))...)
			if err != nil {
				t.Fatal(err)
			}
			serr := c.Start(context.Background())
			if serr == nil {
				c.Wait()
				t.Fatal("Start succeeded")
			}
			recs := out.records(t)
			steps(t, recs) // every record has an id and a duration
			last := recs[len(recs)-1]
			if last["msg"] != "container start failed" || last["step"] != tc.step || last["where"] != "init" || last["err"] != serr.Error() {
				t.Errorf("last record %v, want the failure of init step %s with %q", last, tc.step, serr)
			}
			if tc.step == "mounts" {
				got := steps(t, recs)
				if got["init/mounts"]["failed"] != true {
					t.Errorf("the mounts step is not marked failed: %v", got["init/mounts"])
				}
			}
		})
	}
}

// TestTraceOff: without a logger nothing is traced and the start works; with
// a logger at Info level nothing is written.
func TestTraceOff(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	if out := containertest.Sh(t, rootfs, "echo ok", container.WithLogger(nil)); out != "ok\n" {
		t.Fatalf("got %q", out)
	}
	log, buf := newTraceLogger(slog.LevelInfo)
	if out := containertest.Sh(t, rootfs, "echo ok", container.WithLogger(log)); out != "ok\n" {
		t.Fatalf("got %q", out)
	}
	if recs := buf.records(t); len(recs) != 0 {
		t.Fatalf("a logger at Info level got %v", recs)
	}
	// A failed start at Info level logs nothing either.
	c, err := container.New(rootfs, []string{"/bin/no-such-command"}, container.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err == nil {
		c.Wait()
		t.Fatal("Start succeeded")
	}
	if recs := buf.records(t); len(recs) != 0 {
		t.Fatalf("a logger at Info level got %v", recs)
	}
}

// TestTraceInitAndNoSeccomp: with WithInit the trace comes before the
// reaper starts the command (its fork and exec is the exec step); without a
// seccomp filter there is no seccomp step.
func TestTraceInitAndNoSeccomp(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	rootfs := containertest.Rootfs(t)
	log, out := newTraceLogger(slog.LevelDebug)
	c, _ := containertest.Start(t, rootfs, []string{"/bin/true"}, container.WithLogger(log),
		container.WithInit(), container.WithoutSeccomp())
	if err := c.Wait(); err != nil {
		t.Fatal(err)
	}
	got := steps(t, out.records(t))
	wantSteps(t, got, "init/mounts", "init/capabilities", "init/exec", "parent/wait for init")
	if got["init/seccomp"] != nil {
		t.Errorf("a seccomp step without a filter: %v", got["init/seccomp"])
	}
}

// TestTraceLandlock: WithLandlock's two steps are traced.
func TestTraceLandlock(t *testing.T) {
	skipUnlessLandlock(t)
	rootfs := containertest.Rootfs(t)
	log, out := newTraceLogger(slog.LevelDebug)
	c, _ := containertest.Start(t, rootfs, []string{"/bin/true"}, container.WithLogger(log),
		container.WithLandlock(container.LandlockRead("/")))
	if err := c.Wait(); err != nil {
		t.Fatal(err)
	}
	wantSteps(t, steps(t, out.records(t)), "init/landlock ruleset", "init/landlock", "init/exec")
}
