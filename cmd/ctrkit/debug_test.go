package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctrkit/container/containertest"
)

// TestDebugRunLogsTrace: ctrkit --debug run logs the verb and the trace of
// the container's start (container.WithLogger), the parent's steps and the
// init's, each with a duration, at level "debug" in the --log file as JSON
// with --log-format json; without --debug the log file gets no debug record.
func TestDebugRunLogsTrace(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	c := newCLI(t)
	b := bundle(t, "/bin/true")
	logFile := filepath.Join(t.TempDir(), "log.json")
	if _, errOut, code := c.run("--log", logFile, "--log-format", "json", "--debug", "run", "--bundle", b, "debug-json"); code != 0 {
		t.Fatalf("run: exit %d: %s", code, errOut)
	}
	data, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["level"] != "debug" {
			t.Errorf("record at level %v: %s", rec["level"], line)
		}
		switch rec["msg"] {
		case "ctrkit":
			got["command "+rec["command"].(string)] = true
		case "container start step":
			if _, ok := rec["dur"].(float64); !ok {
				t.Errorf("step without a duration: %s", line)
			}
			got[rec["where"].(string)+"/"+rec["step"].(string)] = true
		case "container started":
			got["started"] = true
		case "ctrkit done":
			got["done"] = rec["status"] == float64(0)
		}
	}
	for _, want := range []string{"command run", "parent/clone", "parent/wait for init", "init/runtime start",
		"init/mounts", "init/pivot_root", "init/capabilities", "init/exec", "started", "done"} {
		if !got[want] {
			t.Errorf("the log has no %s:\n%s", want, data)
		}
	}

	// Without --debug: no debug record.
	quiet := filepath.Join(t.TempDir(), "quiet.json")
	if _, errOut, code := c.run("--log", quiet, "--log-format", "json", "run", "--bundle", b, "debug-quiet"); code != 0 {
		t.Fatalf("run: exit %d: %s", code, errOut)
	}
	if data, _ := os.ReadFile(quiet); strings.Contains(string(data), "debug") {
		t.Errorf("without --debug, the log has:\n%s", data)
	}
}

// TestDebugToStderr: without --log, --debug writes the trace to stderr in
// the text format.
func TestDebugToStderr(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	c := newCLI(t)
	b := bundle(t, "/bin/true")
	_, errOut, code := c.run("--debug", "run", "--bundle", b, "debug-text")
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, errOut)
	}
	for _, want := range []string{"level=debug", "where=init step=mounts", "where=parent step=clone", `msg="container started"`} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr has no %q:\n%s", want, errOut)
		}
	}
}

// TestDebugCreate: ctrkit --debug create, whose init parks on the exec FIFO,
// logs the steps up to there (the init's trace comes before it parks), and
// a failing create (a command missing in the rootfs) logs the failed step.
func TestDebugCreate(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	c := newCLI(t)
	id := "debug-create"
	_, errOut, code := c.run("--debug", "create", "--bundle", bundle(t, "/bin/true"), id)
	if code != 0 {
		t.Fatalf("create: exit %d: %s", code, errOut)
	}
	c.ok("delete", "--force", id)
	for _, want := range []string{"where=init step=mounts", "where=init step=pivot_root", "where=init step=user", `msg="container started"`} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr has no %q:\n%s", want, errOut)
		}
	}
	_, errOut, code = c.run("--debug", "create", "--bundle", bundle(t, "/bin/no-such-command"), "debug-fail")
	if code == 0 {
		c.ok("delete", "--force", "debug-fail")
		t.Fatal("create of a missing command succeeded")
	}
	if !strings.Contains(errOut, `msg="container start failed"`) || !strings.Contains(errOut, "where=init step=exec") {
		t.Errorf("stderr has no failed exec step:\n%s", errOut)
	}
}

// TestDebugExec: ctrkit --debug exec, which joins the running container
// (oci.WithJoin), logs the joining init's steps up to its report.
func TestDebugExec(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	c := newCLI(t)
	id := "debug-exec"
	c.ok("create", "--bundle", bundle(t, "/bin/sleep", "100"), id)
	defer c.run("delete", "--force", id)
	c.ok("start", id)
	out, errOut, code := c.run("--debug", "exec", id, "/bin/echo", "joined")
	if code != 0 || out != "joined\n" {
		t.Fatalf("exec: exit %d, %q: %s", code, out, errOut)
	}
	for _, want := range []string{"where=init step=join", "where=parent step=clone", `msg="container started"`} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr has no %q:\n%s", want, errOut)
		}
	}
	c.ok("kill", id, "KILL")
}
