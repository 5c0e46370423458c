package container

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// startTrace is the parent's trace of one Start (WithLogger); nil when there
// is no logger or it does not log at debug level, and then every method is a
// nil check.
type startTrace struct {
	log   *slog.Logger
	ctx   context.Context
	c     *config
	r     *running
	begin time.Time
	last  time.Time
	clone int64     // CLOCK_MONOTONIC ns when the clone began, for the init's stepRuntime
	fail  traceStep // the step that failed
	where string    // "parent" or "init": where fail is
	got   time.Time // when the init's trace arrived (the start of its execve)
}

// newStartTrace returns the trace of a Start of c, or nil.
func newStartTrace(ctx context.Context, c *config, r *running) *startTrace {
	if c.logger == nil || !c.logger.Enabled(ctx, slog.LevelDebug) {
		return nil
	}
	now := time.Now()
	return &startTrace{log: c.logger, ctx: ctx, c: c, r: r, begin: now, last: now}
}

// on reports whether the init is to measure its steps.
func (t *startTrace) on() bool { return t != nil }

// step ends the parent's step s, which returned err: it logs its duration,
// since the end of the previous one, if the step applied to this container.
func (t *startTrace) step(s traceStep, err error) error {
	if t == nil {
		return err
	}
	now := time.Now()
	d := now.Sub(t.last)
	t.last = now
	if s == stepClone && err == nil {
		t.clone = monotonic() - int64(d) // the step's beginning: os/exec returns once the init has exec'd, maybe after its hook ran
	}
	if err != nil {
		t.fail, t.where = s, "parent"
	}
	if err != nil || t.applies(s) {
		t.logStep("parent", s, d, err != nil)
	}
	return err
}

// applies reports whether the parent's step s did anything for this
// container (the others are not logged).
func (t *startTrace) applies(s traceStep) bool {
	switch s {
	case stepRecMounts:
		return t.c.noMountNS()
	case stepOverlay:
		return t.r.overlayDir != ""
	case stepCgroup, stepJoinCgroup:
		return t.r.cg != nil
	case stepVeth, stepAttachVeth:
		return t.r.net != nil
	case stepJoinNS:
		return len(t.c.nsPaths) > 0 || t.r.joinThread != nil
	case stepUserNet:
		return t.r.userNet != nil
	}
	return true
}

func (t *startTrace) logStep(where string, s traceStep, d time.Duration, failed bool) {
	attrs := []slog.Attr{
		slog.String("id", t.r.id), slog.String("where", where),
		slog.String("step", s.String()), slog.Duration("dur", d),
	}
	if t.r.cmd != nil && t.r.cmd.Process != nil {
		attrs = append(attrs, slog.Int("pid", t.r.cmd.Process.Pid))
	}
	if failed {
		attrs = append(attrs, slog.Bool("failed", true))
	}
	t.log.LogAttrs(t.ctx, slog.LevelDebug, "container start step", attrs...)
}

// read reads the init's next message with read, logging the init's trace
// (msgTrace), which comes right before its last message.
func (t *startTrace) read(read func(*os.File) (msgType, []byte, error), ch *os.File) (msgType, []byte, error) {
	for {
		m, body, err := read(ch)
		if t == nil {
			return m, body, err
		}
		if err == nil && m == msgTrace {
			t.initSteps(body)
			continue
		}
		if errors.Is(err, io.EOF) && !t.got.IsZero() { // the init's execve closed its end
			t.logStep("init", stepExec, time.Since(t.got), false)
			t.got = time.Time{}
		}
		return m, body, err
	}
}

// initSteps logs the steps of the init's trace.
func (t *startTrace) initSteps(body []byte) {
	start, recs, ok := decodeTrace(body)
	if !ok {
		t.log.LogAttrs(t.ctx, slog.LevelDebug, "container start: malformed trace from init", slog.String("id", t.r.id))
		return
	}
	if start > 0 && t.clone > 0 && start > t.clone {
		t.logStep("init", stepRuntime, time.Duration(start-t.clone), false)
	}
	for _, rec := range recs {
		if rec.failed {
			t.fail, t.where = rec.step, "init"
		}
		t.logStep("init", rec.step, time.Duration(rec.dur), rec.failed)
	}
	t.got = time.Now()
}

// finish logs the end of the Start: its total duration, or its error with
// the step that failed.
func (t *startTrace) finish(err *error) {
	if t == nil {
		return
	}
	attrs := []slog.Attr{slog.String("id", t.r.id), slog.Duration("dur", time.Since(t.begin))}
	if t.r.cmd != nil && t.r.cmd.Process != nil {
		attrs = append(attrs, slog.Int("pid", t.r.cmd.Process.Pid))
	}
	if *err == nil {
		t.log.LogAttrs(t.ctx, slog.LevelDebug, "container started", attrs...)
		return
	}
	var se *SetupError
	name, where := t.fail.String(), t.where
	switch {
	case t.fail != stepNone:
	case errors.As(*err, &se): // the init failed outside a measured step, or at execve: its op names it
		name, where = se.Op, "init"
	default:
		name, where = "start", "parent"
	}
	attrs = append(attrs, slog.String("where", where), slog.String("step", name))
	if se != nil || errors.As(*err, &se) {
		attrs = append(attrs, slog.String("op", se.Op))
	}
	attrs = append(attrs, slog.String("err", (*err).Error()))
	t.log.LogAttrs(t.ctx, slog.LevelDebug, "container start failed", attrs...)
}

// monotonic returns CLOCK_MONOTONIC in ns, the clock the parent and the init
// share (time.Now's monotonic reading is relative to each process's start).
func monotonic() int64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) != nil {
		return 0
	}
	return ts.Nano()
}

// initTrace is the init's record of its steps (initConfig.Trace), sent to the
// parent before its last message. Off, each step is one bool test.
var itrace initTracer

type initTracer struct {
	cfg   *initConfig
	on    bool
	sent  bool
	start int64 // CLOCK_MONOTONIC ns at the hook
	last  time.Time
	recs  []traceRecord // allocated by begin: off, the tracer is a few words of the init's memory
}

// hookTime is when the init's hook ran (time.Now: the vDSO, no system call).
var hookTime time.Time

// begin turns the trace on, from the hook's time: the steps since then were
// reading the configuration.
func (t *initTracer) begin(cfg *initConfig) {
	t.cfg = cfg
	t.on = true
	t.recs = make([]traceRecord, 0, numSteps)
	t.last = hookTime
	t.start = monotonic() - int64(time.Since(hookTime))
}

// step ends the init's step s, which returned err.
func (t *initTracer) step(s traceStep, err error) error {
	if t.on {
		t.record(s, err)
	}
	return err
}

func (t *initTracer) record(s traceStep, err error) {
	now := time.Now()
	if err != nil || initStepApplies(t.cfg, s) {
		t.recs = append(t.recs, traceRecord{step: s, failed: err != nil, dur: int64(now.Sub(t.last))})
	}
	t.last = now
}

// send sends the trace, once, to the parent, before the init's last
// message (execve, an error, msgParked, msgJoined).
func (t *initTracer) send(ch *os.File) {
	if !t.on || t.sent {
		return
	}
	t.sent = true
	writeFrame(ch, msgTrace, encodeTrace(t.start, t.recs)) // the parent reports a trace it missed as none
}

// readFile is readMsg for startTrace.read.
func readFile(f *os.File) (msgType, []byte, error) { return readMsg(f) }

// initStepApplies reports whether the init's step s did anything for this
// container (the others are not sent).
func initStepApplies(cfg *initConfig, s traceStep) bool {
	switch s {
	case stepJoin:
		return cfg.OCI.JoinPID != 0
	case stepCgroupNS:
		return cfg.Namespaces&NSCgroup != 0
	case stepSysctl:
		return len(cfg.OCI.Sysctls) > 0 || cfg.OCI.OOMScoreAdj != nil || cfg.OCI.ExecFIFO != ""
	case stepBeforePivot:
		return cfg.OCI.BeforePivot
	case stepCreateHooks:
		return len(cfg.OCI.CreateHooks) > 0
	case stepStartHooks:
		return len(cfg.OCI.StartHooks) > 0
	case stepNetInside:
		return cfg.Net.LoopbackUp
	case stepLandlockRuleset, stepLandlock:
		return cfg.Landlock.FS != 0 || cfg.Landlock.Net != 0 || cfg.Landlock.Scoped != 0
	case stepTerminal:
		return cfg.OCI.Terminal
	case stepExecFIFO:
		return cfg.OCI.ExecFIFO != ""
	case stepSeccomp:
		return len(cfg.Security.Seccomp) > 0
	case stepPidsHandshake:
		return cfg.Limits.PidsHandshake
	}
	return true
}
