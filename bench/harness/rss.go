//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// measurePeakRSS runs each whole-process row a few times under bench/maxrss
// (fork, not vfork, so the tool's high-water mark is its own) and measures the
// peak RSS of a Go init just before its execve: an init cloned with vfork
// inherits its parent's high-water mark at the execve of /proc/self/exe, so
// getrusage cannot tell the init's own peak. Instead the run goes under strace,
// which holds every execve at its entry for a moment; meanwhile the init's
// /proc/PID/status VmHWM, read before the old memory is replaced, is its peak.
func measurePeakRSS(e *env, p plan, res *results) error {
	res.RSS = map[string][]float64{}
	out := filepath.Join(*workDir, "maxrss.out")
	for range p.RSSRuns {
		for _, r := range res.Rows {
			if !r.single() {
				continue
			}
			argv := append([]string{e.bin("maxrss"), out}, r.argv(e)...)
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Stderr = e.log
			if err := runHidden(cmd, r.hidden); err != nil {
				return fmt.Errorf("%s: %q: %w", r.Key, argv, err)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				return err
			}
			kib, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
			if err != nil {
				return err
			}
			res.RSS[r.Key] = append(res.RSS[r.Key], kib)
		}
	}
	res.InitRSS = map[string][]float64{}
	if _, err := exec.LookPath("strace"); err != nil {
		return nil // reported as n/a
	}
	for range p.RSSRuns {
		for _, c := range []struct{ key, arg0, bin string }{
			{"ours", "ctrkit-container-init", "ctrrun"},
			{"go", "gofloor-init", "gofloor"},
		} {
			kib, err := initPeak(e, c.arg0, e.bin(c.bin), e.rootfs, "/bin/true")
			if err != nil {
				return fmt.Errorf("init peak RSS of %s: %w", c.bin, err)
			}
			res.InitRSS[c.key] = append(res.InitRSS[c.key], kib)
		}
	}
	return nil
}

func initPeak(e *env, arg0 string, argv ...string) (float64, error) {
	args := append([]string{"-f", "-qq", "-o", "/dev/null", "-e", "trace=execve", "-e", "inject=execve:delay_enter=150000"}, argv...)
	cmd := exec.Command("strace", args...)
	cmd.Stderr = e.log
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var peak float64
	want := []byte(arg0 + "\x00")
	for {
		select {
		case err := <-done:
			if err != nil {
				return 0, fmt.Errorf("%q: %w", cmd.Args, err)
			}
			if peak == 0 {
				return 0, fmt.Errorf("never saw a process %q", arg0)
			}
			return peak, nil
		default:
		}
		ents, _ := os.ReadDir("/proc")
		for _, d := range ents {
			pid, err := strconv.Atoi(d.Name())
			if err != nil {
				continue
			}
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err != nil || !bytes.HasPrefix(b, want) {
				continue
			}
			if !descends(pid, cmd.Process.Pid) {
				continue
			}
			if hwm := statusKiB(pid, "VmHWM:"); hwm > peak {
				peak = hwm
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// descends reports whether pid is a descendant of ancestor (within 4 levels).
func descends(pid, ancestor int) bool {
	for range 4 {
		pid = int(statusKiB(pid, "PPid:"))
		if pid == ancestor {
			return true
		}
		if pid <= 1 {
			return false
		}
	}
	return false
}

func statusKiB(pid int, field string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field); ok {
			x, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return x
		}
	}
	return 0
}
