// Package devices works out what an ordered list of device cgroup rules
// grants, for the cgroup v1 devices controller and the cgroup v2 eBPF device
// program alike, and holds the hook through which package oci lends the
// library its eBPF loader.
//
// The hook is a function variable, as in grpc's internal/internal.go: the
// root package calls AttachProgram on a cgroup v2 host, and package oci sets
// it in its init. So a program that imports only the root package links no
// eBPF library and pays nothing for one at start-up; cmd/ctrkit does.
package devices

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Access is a set of accesses to a device: the bits of the kernel's
// BPF_DEVCG_ACC_* (include/uapi/linux/bpf.h), which the eBPF program is given.
type Access uint8

// The accesses.
const (
	Mknod Access = 1 // BPF_DEVCG_ACC_MKNOD: mknod(2)
	Read  Access = 2 // BPF_DEVCG_ACC_READ
	Write Access = 4 // BPF_DEVCG_ACC_WRITE
	All          = Mknod | Read | Write
)

// ParseAccess parses a combination of "r", "w" and "m"; ok is false for any
// other letter or an empty string.
func ParseAccess(s string) (a Access, ok bool) {
	for _, c := range s {
		switch c {
		case 'r':
			a |= Read
		case 'w':
			a |= Write
		case 'm':
			a |= Mknod
		default:
			return 0, false
		}
	}
	return a, a != 0
}

// String renders the access as devices.allow takes it, in the order "rwm".
func (a Access) String() string {
	var b strings.Builder
	for _, x := range []struct {
		bit Access
		c   byte
	}{{Read, 'r'}, {Write, 'w'}, {Mknod, 'm'}} {
		if a&x.bit != 0 {
			b.WriteByte(x.c)
		}
	}
	return b.String()
}

// Rule is one rule of an ordered list: it allows or denies Access to the
// devices of Type ('c' character, 'b' block, 'a' both) and numbers Major and
// Minor (-1 for any).
type Rule struct {
	Allow        bool
	Type         byte
	Major, Minor int64
	Access       Access
}

// Exception is a class of devices for which a Set's default does not hold:
// Type is 'c' or 'b', Major and Minor are numbers or -1 for any.
type Exception struct {
	Type         byte
	Major, Minor int64
	Access       Access
}

// String renders the exception as the devices cgroup files take it:
// "c 1:3 rwm".
func (e Exception) String() string {
	num := func(n int64) string {
		if n < 0 {
			return "*"
		}
		return strconv.FormatInt(n, 10)
	}
	return fmt.Sprintf("%c %s:%s %s", e.Type, num(e.Major), num(e.Minor), e.Access)
}

// covers reports whether every device e names is one of f's.
func (e Exception) covers(f Exception) bool {
	return e.Type == f.Type && (e.Major < 0 || e.Major == f.Major) && (e.Minor < 0 || e.Minor == f.Minor)
}

// overlaps reports whether some device is named by both e and f.
func (e Exception) overlaps(f Exception) bool {
	return e.Type == f.Type && (e.Major < 0 || f.Major < 0 || e.Major == f.Major) &&
		(e.Minor < 0 || f.Minor < 0 || e.Minor == f.Minor)
}

// Set is what an ordered list of rules grants, in the form the cgroup v1
// devices controller keeps: a default (allow or deny every access) and
// exceptions to it, each of the opposite sense, in the order they were first
// made.
//
// With a default of deny, an access is allowed when one exception names the
// device and all the accesses asked for (the kernel's match_exception); with a
// default of allow, it is denied when an exception names the device and any of
// the accesses asked for (match_exception_partial). The eBPF program on cgroup
// v2 decides the same way, so a list of rules means the same on both.
type Set struct {
	DefaultAllow bool
	Exceptions   []Exception
}

// Allows reports whether s grants access a to the device of type typ ('c' or
// 'b') and numbers major and minor.
func (s Set) Allows(typ byte, major, minor int64, a Access) bool {
	dev := Exception{Type: typ, Major: major, Minor: minor}
	for _, e := range s.Exceptions {
		if !e.covers(dev) {
			continue
		}
		if s.DefaultAllow && e.Access&a != 0 {
			return false
		}
		if !s.DefaultAllow && a&^e.Access == 0 {
			return true
		}
	}
	return s.DefaultAllow
}

// RuleError says why the rule at Index cannot be honoured.
type RuleError struct {
	Index  int
	Reason string
}

func (e *RuleError) Error() string { return fmt.Sprintf("device rule %d: %s", e.Index, e.Reason) }

// Compute applies rules in order to a Set that denies every device, as runc
// does: a rule for every access to every device ("a *:* rwm") replaces the
// set by its default; any other rule gives the devices it names the accesses
// it names, whatever earlier rules said (the last rule that names a device and
// an access decides). A rule of type 'a' stands for the same rule of type 'c'
// and of type 'b'.
//
// Some lists have no such Set: an exception can only name devices by number or
// by wildcard, so taking an access away from part of the devices an earlier
// wildcard gave it to (allow "c 10:* rw", then deny "c 10:229 rw") cannot be
// expressed, on cgroup v1 (where the kernel would silently keep the wildcard)
// nor, here, on v2. Compute returns a *RuleError for it rather than grant more
// than was asked.
//
// One narrowing is left, the kernel's: with a default of deny, an access that
// needs two exceptions at once (read from one, write from another) is denied.
func Compute(rules []Rule) (Set, error) {
	var s Set
	for i, r := range rules {
		if r.Type != 'a' && r.Type != 'b' && r.Type != 'c' {
			return Set{}, &RuleError{Index: i, Reason: fmt.Sprintf("type %q: want a, b or c", r.Type)}
		}
		if r.Access == 0 || r.Access&^All != 0 || r.Major < -1 || r.Minor < -1 || r.Major > math.MaxUint32 || r.Minor > math.MaxUint32 {
			return Set{}, &RuleError{Index: i, Reason: "want 32-bit numbers or -1 and an access of r, w and m"}
		}
		if r.Type == 'a' && r.Major < 0 && r.Minor < 0 && r.Access == All {
			s = Set{DefaultAllow: r.Allow}
			continue
		}
		types := []byte{r.Type}
		if r.Type == 'a' {
			types = []byte{'c', 'b'}
		}
		for _, t := range types {
			x := Exception{Type: t, Major: r.Major, Minor: r.Minor, Access: r.Access}
			var err error
			if r.Allow == s.DefaultAllow {
				err = s.remove(x)
			} else {
				s.add(x)
			}
			if err != nil {
				return Set{}, &RuleError{Index: i, Reason: err.Error()}
			}
		}
	}
	return s, nil
}

// add makes x an exception, merged into one for the same devices.
func (s *Set) add(x Exception) {
	for i, e := range s.Exceptions {
		if e.Type == x.Type && e.Major == x.Major && e.Minor == x.Minor {
			s.Exceptions[i].Access |= x.Access
			return
		}
	}
	s.Exceptions = append(s.Exceptions, x)
}

// remove gives x's devices and accesses the default again: every exception
// within x loses the accesses, and one that names more devices than x as
// well as some of the accesses cannot be split.
func (s *Set) remove(x Exception) error {
	for _, e := range s.Exceptions {
		if !x.covers(e) && x.overlaps(e) && e.Access&x.Access != 0 {
			return fmt.Errorf("%s %s would take part of the earlier wildcard %s back, which device cgroup exceptions cannot express",
				verb(s.DefaultAllow), x, e)
		}
	}
	out := s.Exceptions[:0]
	for _, e := range s.Exceptions {
		if x.covers(e) {
			e.Access &^= x.Access
		}
		if e.Access != 0 {
			out = append(out, e)
		}
	}
	s.Exceptions = out
	return nil
}

func verb(allow bool) string {
	if allow {
		return "allow"
	}
	return "deny"
}

// AttachProgram, when set (package oci sets it), loads an eBPF program of type
// BPF_PROG_TYPE_CGROUP_DEVICE that grants what set grants, attaches it to the
// cgroup v2 directory open as dirFD with BPF_F_ALLOW_MULTI (programs of the
// cgroup's ancestors still apply), and closes the program's descriptor: the
// attachment lives as long as the cgroup.
var AttachProgram func(dirFD int, set Set) error
