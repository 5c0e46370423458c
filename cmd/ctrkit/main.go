// Command ctrkit is an OCI runtime built on github.com/ctrkit/container: the
// command-line contract of runc that podman (through conmon) and containerd's
// runc shim use.
//
//	ctrkit [--root DIR] [--log FILE] [--log-format text|json] [--debug]
//	       [--cgroup-manager cgroupfs|disabled] [--systemd-cgroup] VERB ...
//
// Verbs: create, start, state, kill, delete, run, spec, features, ps, pause,
// resume, update (--resources), exec. A process with process.terminal gets a
// pseudo-terminal made inside the container, whose master is sent to
// --console-socket (SCM_RIGHTS), as runc does. create, run and exec take
// --preserve-fds N: the runtime's descriptors 3 to 2+N become the process's
// (Container.ExtraFiles). create and run take --no-pivot, as runc's: the
// root is entered by moving the rootfs mount onto / and chroot, not
// pivot_root, for a root file system in an initramfs, where pivot_root fails
// (container.WithoutPivotRoot, weaker: the host's root file system stays in
// the container's mount namespace, under its root); it is refused with a spec
// without a mount namespace, a user namespace, or rootfsPropagation shared.
// Not yet: checkpoint and restore: they fail with an error naming them.
//
// exec uses oci.WithJoin: this binary imports package
// github.com/ctrkit/container/nsenter, whose C constructor joins the
// container's namespaces (mount and user included, which a multi-threaded Go
// process cannot) before the Go runtime starts; so building ctrkit needs cgo,
// while the library does not.
//
// The lifecycle: create starts the container's init, which sets the container
// up and parks right before its final privilege drop and execve, waiting on a
// FIFO (DIR/ID/exec.fifo, as runc does); create writes the state to DIR/ID/
// state.json and exits, leaving the init to whoever reaps orphans (conmon and
// the containerd shim are subreapers). start opens the FIFO; state, kill,
// pause, resume and ps read the state and act on the init's pid and cgroup;
// delete kills what is left in the cgroup, removes it and the state.
//
// Errors go to stderr and, with --log, to the log file; with --log-format
// json as {"level":"error","msg":...,"time":...} lines, which both engines
// show. The exit status is 1 on error, as runc's. --debug also logs, at level
// "debug", the verb and every step of a container's start with its duration
// (container.WithLogger), to the log file or else stderr.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ctrkit/container/oci"
)

const version = "0.1.0"

type globals struct {
	root      string
	log       string
	logFormat string
	debug     bool
	debugLog  *slog.Logger // --debug: logger returns it
	// callerSlack: the timer slack ctrkit was started with, for its hooks
	// (oci.RaiseTimerSlack).
	callerSlack uint64
}

func main() {
	// A short-lived process: 1 ms of timer slack keeps the runtime's monitor
	// thread from waking every 20 µs (containers' commands and hooks keep
	// the slack ctrkit was started with).
	slack := oci.RaiseTimerSlack()
	g := &globals{root: "/run/ctrkit", logFormat: "text", callerSlack: slack}
	args := os.Args[1:]
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		name, val, hasVal := strings.Cut(strings.TrimLeft(args[0], "-"), "=")
		args = args[1:]
		take := func() string {
			if hasVal {
				return val
			}
			if len(args) == 0 {
				fail(g, fmt.Errorf("flag --%s needs a value", name))
			}
			v := args[0]
			args = args[1:]
			return v
		}
		switch name {
		case "root":
			g.root = take()
		case "log":
			g.log = take()
		case "log-format":
			g.logFormat = take()
		case "debug":
			g.debug = true
		case "cgroup-manager":
			if v := take(); v != "cgroupfs" && v != "disabled" {
				fail(g, fmt.Errorf("--cgroup-manager %s: only cgroupfs is supported (no systemd)", v))
			}
		case "systemd-cgroup":
			fail(g, errors.New("--systemd-cgroup: systemd cgroups are not supported; use cgroupfs"))
		case "rootless":
			take()
		case "version", "v":
			fmt.Printf("ctrkit version %s\nspec: %s\n", version, specVersion)
			return
		case "help", "h":
			printUsage(os.Stdout, "")
			return
		default:
			fail(g, fmt.Errorf("unknown global flag --%s", name))
		}
	}
	if len(args) == 0 {
		printUsage(os.Stderr, "")
		fail(g, errors.New("no command given"))
	}
	if args[0] == "help" {
		if len(args) == 1 || !printUsage(os.Stdout, args[1]) {
			printUsage(os.Stdout, "")
		}
		return
	}
	cmds := map[string]func(*globals, []string) (int, error){
		"create": cmdCreate, "start": cmdStart, "state": cmdState, "kill": cmdKill, "delete": cmdDelete,
		"run": cmdRun, "spec": cmdSpec, "features": cmdFeatures, "ps": cmdPs, "pause": cmdPause, "resume": cmdResume,
		"exec": cmdExec, "update": cmdUpdate, "checkpoint": notYet("checkpoint"), "restore": notYet("restore"),
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fail(g, fmt.Errorf("unknown command %q", args[0]))
	}
	began := time.Now()
	if l := g.logger(); l != nil {
		l.Debug("ctrkit", "command", args[0], "args", args[1:])
	}
	if wantsHelp(args[1:]) {
		printUsage(os.Stdout, args[0])
		return
	}
	code, err := cmd(g, args[1:])
	if l := g.logger(); l != nil {
		l.Debug("ctrkit done", "command", args[0], "dur", time.Since(began), "status", code, "err", err)
	}
	if errors.Is(err, errHelp) {
		printUsage(os.Stdout, args[0])
		return
	}
	if err != nil {
		fail(g, err)
	}
	os.Exit(code)
}

func notYet(name string) func(*globals, []string) (int, error) {
	return func(*globals, []string) (int, error) {
		return 1, fmt.Errorf("%s: not supported by this runtime yet", name)
	}
}

// fail logs err as runc does and exits with status 1.
func fail(g *globals, err error) {
	msg := err.Error()
	g.logLine("error", msg)
	if g.log == "" || g.logFormat != "json" {
		fmt.Fprintln(os.Stderr, "ctrkit: "+msg)
	} else {
		fmt.Fprintln(os.Stderr, msg)
	}
	os.Exit(1)
}

// warn logs a failure that the verb goes on after (a poststart or poststop
// hook's, which the runtime spec says must only be logged as a warning): in
// the log file at level "warning", as runc's, and on stderr.
func warn(g *globals, err error) {
	g.logLine("warning", err.Error())
	fmt.Fprintln(os.Stderr, "ctrkit: warning: "+err.Error())
}

// logLine appends msg at level to the --log file, if any.
func (g *globals) logLine(level, msg string) {
	if g.log == "" {
		return
	}
	if f, err := os.OpenFile(g.log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
		writeLog(f, g.logFormat, level, msg)
		f.Close()
	}
}

// logger returns, with --debug, the logger of the debug records (ctrkit's
// and container.WithLogger's trace of a start): to the --log file, or else
// stderr, in --log-format, with runc's lower-case level names; nil without
// --debug.
func (g *globals) logger() *slog.Logger {
	if !g.debug {
		return nil
	}
	if g.debugLog != nil {
		return g.debugLog
	}
	var w io.Writer = os.Stderr
	if g.log != "" {
		// Open for the process's life: it exits after its verb.
		f, err := os.OpenFile(g.log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644) // os.OpenFile sets O_CLOEXEC
		if err != nil {
			fmt.Fprintf(os.Stderr, "ctrkit: --debug: %v\n", err)
			return nil
		}
		w = f
	}
	opts := &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.LevelKey {
			if l, ok := a.Value.Any().(slog.Level); ok {
				return slog.String(slog.LevelKey, strings.ToLower(l.String()))
			}
		}
		return a
	}}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if g.logFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	g.debugLog = slog.New(h)
	return g.debugLog
}

func writeLog(w io.Writer, format, level, msg string) {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	if format == "json" {
		b, _ := json.Marshal(map[string]string{"level": level, "msg": msg, "time": now})
		w.Write(append(b, '\n'))
		return
	}
	fmt.Fprintf(w, "time=%q level=%s msg=%q\n", now, level, msg)
}

// flagSet is a minimal parser for a verb's flags: --name value, --name=value,
// and boolean --name, before the first positional argument; the positional
// arguments are returned in order.
type flagSet struct {
	values map[string]string
	bools  map[string]bool
}

func parseFlags(args []string, withValue, boolean []string) (*flagSet, []string, error) {
	fs := &flagSet{values: map[string]string{}, bools: map[string]bool{}}
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			// Flags come before the id; what follows it is the verb's
			// arguments (exec's command and its flags), as with runc.
			pos = append(pos, args[i:]...)
			break
		}
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if isHelp(a) {
			return nil, nil, errHelp
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch {
		case contains(withValue, name):
			if !hasVal {
				if i+1 >= len(args) {
					return nil, nil, fmt.Errorf("flag --%s needs a value", name)
				}
				i++
				val = args[i]
			}
			fs.values[name] = val
		case contains(boolean, name):
			fs.bools[name] = !hasVal || val == "true"
		default:
			return nil, nil, fmt.Errorf("unknown flag %s", a)
		}
	}
	return fs, pos, nil
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

func oneID(pos []string, verb string) (string, error) {
	if len(pos) < 1 {
		return "", fmt.Errorf("%s: missing container id", verb)
	}
	return pos[0], nil
}

func itoa(n int) string { return strconv.Itoa(n) }
