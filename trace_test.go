package container

import (
	"reflect"
	"strings"
	"testing"
)

// TestTraceCodec: the init's trace decodes to what it encoded, and a
// malformed one is refused.
func TestTraceCodec(t *testing.T) {
	recs := []traceRecord{{step: stepMounts, dur: 1234567}, {step: stepPivotRoot, dur: 1 << 40}, {step: stepSeccomp, failed: true, dur: 0}}
	start, got, ok := decodeTrace(encodeTrace(987654321, recs))
	if !ok || start != 987654321 || !reflect.DeepEqual(got, recs) {
		t.Fatalf("decoded %v %v %v, want %v", start, got, ok, recs)
	}
	if _, got, ok := decodeTrace(encodeTrace(5, nil)); !ok || len(got) != 0 {
		t.Fatalf("an empty trace decoded as %v %v", got, ok)
	}
	for _, bad := range [][]byte{nil, make([]byte, 7), make([]byte, 8+traceRecLen-1)} {
		if _, _, ok := decodeTrace(bad); ok {
			t.Errorf("decoded a malformed trace of %d bytes", len(bad))
		}
	}
}

// TestTraceStepNames: every step has its own name.
func TestTraceStepNames(t *testing.T) {
	seen := map[string]traceStep{}
	for s := traceStep(0); s < numSteps; s++ {
		n := s.String()
		if n == "" {
			t.Errorf("step %d has no name", s)
		}
		if o, dup := seen[n]; dup {
			t.Errorf("steps %d and %d are both %q", o, s, n)
		}
		seen[n] = s
	}
	if got := numSteps.String(); !strings.HasPrefix(got, "step ") {
		t.Errorf("an unknown step is %q", got)
	}
}

// TestWithLoggerNil: WithLogger(nil) is no logger.
func TestWithLoggerNil(t *testing.T) {
	c, err := New(t.TempDir(), []string{"/bin/true"}, WithLogger(nil))
	if err != nil {
		t.Fatalf("WithLogger(nil): %v", err)
	}
	if c.cfg.logger != nil {
		t.Fatalf("WithLogger(nil) set logger %v", c.cfg.logger)
	}
}
