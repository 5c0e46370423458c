package container

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// The policies and their compiler are tested in package seccomp, which also
// checks that seccomp_default_*.go is what the default policy compiles to.

func TestSeccompDefaultProgram(t *testing.T) {
	d, err := New(t.TempDir(), []string{"true"})
	if pregeneratedDefaultProgram == "" {
		var oe *OptionError
		if !errors.As(err, &oe) || !errors.Is(err, errors.ErrUnsupported) ||
			!strings.Contains(err.Error(), "seccomp.WithPolicy(seccomp.Default()) or WithoutSeccomp") {
			t.Fatalf("New without a pregenerated default program: got %v, want an OptionError saying what to pass", err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if got := d.cfg.initConfig().Security.Seccomp; !bytes.Equal(got, []byte(pregeneratedDefaultProgram)) {
		t.Errorf("default container's seccomp program: %d bytes, want the pregenerated %d", len(got), len(pregeneratedDefaultProgram))
	}
	n, err := New(t.TempDir(), []string{"true"}, WithoutSeccomp())
	if err != nil {
		t.Fatal(err)
	}
	if len(n.cfg.initConfig().Security.Seccomp) != 0 {
		t.Error("WithoutSeccomp container has a seccomp program")
	}
}

func TestSeccompProgramOption(t *testing.T) {
	prog := []byte("\x06\x00\x00\x00\x00\x00\xff\x7f") // ret allow
	calls := 0
	opt := withProgram("test.WithPolicy", func() ([]byte, error) { calls++; return prog, nil })
	c, err := New(t.TempDir(), []string{"true"}, opt)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.cfg.initConfig().Security.Seccomp; !bytes.Equal(got, prog) || calls != 1 {
		t.Errorf("program %x after %d compiles, want %x after 1", got, calls, prog)
	}
	_, err = New(t.TempDir(), []string{"true"}, opt, WithoutSeccomp())
	var oe *OptionError
	if !errors.As(err, &oe) || oe.Option != "WithoutSeccomp" || !strings.Contains(err.Error(), "conflicts with test.WithPolicy") || calls != 1 {
		t.Errorf("with WithoutSeccomp: got %v after %d compiles, want a conflict and no compile", err, calls)
	}
	bad := withProgram("test.WithPolicy", func() ([]byte, error) { return nil, errors.New("rule 0: bad") })
	_, err = New(t.TempDir(), []string{"true"}, bad)
	if !errors.As(err, &oe) || oe.Option != "test.WithPolicy" || err.Error() != "container: test.WithPolicy: rule 0: bad" {
		t.Errorf("failing compile: got %v", err)
	}
}
