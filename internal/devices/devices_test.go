package devices

import (
	"strings"
	"testing"
)

func rule(allow bool, s string) Rule {
	var r Rule
	f := strings.Fields(s) // "c 1:3 rwm"
	r.Allow, r.Type = allow, f[0][0]
	num := func(s string) int64 {
		if s == "*" {
			return -1
		}
		var n int64
		for _, c := range s {
			n = n*10 + int64(c-'0')
		}
		return n
	}
	mm := strings.Split(f[1], ":")
	r.Major, r.Minor = num(mm[0]), num(mm[1])
	r.Access, _ = ParseAccess(f[2])
	return r
}

func allow(s string) Rule { return rule(true, s) }
func deny(s string) Rule  { return rule(false, s) }

// TestCompute applies lists of rules in order: the set's exceptions, as the
// v1 files are written, and what it grants, the last rule that names a device
// and an access deciding.
func TestCompute(t *testing.T) {
	type check struct {
		dev     string // "c 1:3 rw"
		allowed bool
	}
	for _, tc := range []struct {
		name   string
		rules  []Rule
		def    bool
		exc    string // the exceptions, "; "-joined
		checks []check
		err    int // index of the refused rule, or -1
	}{
		{"empty denies all", nil, false, "", []check{{"c 1:3 r", false}}, -1},
		{"moby's default", []Rule{deny("a *:* rwm"), allow("c 1:5 rwm"), allow("c 1:3 rwm"), allow("c 1:9 rwm"),
			allow("c 1:8 rwm"), allow("c 5:0 rwm"), allow("c 5:1 rwm"), deny("c 10:229 rwm")}, false,
			"c 1:5 rwm; c 1:3 rwm; c 1:9 rwm; c 1:8 rwm; c 5:0 rwm; c 5:1 rwm",
			[]check{{"c 1:3 rw", true}, {"c 10:229 r", false}, {"b 8:0 r", false}}, -1},
		{"deny after allow of the same device", []Rule{allow("c 10:229 rwm"), deny("c 10:229 w")}, false, "c 10:229 rm",
			[]check{{"c 10:229 r", true}, {"c 10:229 rw", false}, {"c 10:229 m", true}}, -1},
		{"deny all again", []Rule{allow("c 10:229 rwm"), deny("a *:* rwm"), allow("c 1:3 r")}, false, "c 1:3 r",
			[]check{{"c 10:229 r", false}, {"c 1:3 r", true}, {"c 1:3 rw", false}}, -1},
		{"a wildcard deny takes back the devices within it", []Rule{allow("c 1:3 rwm"), allow("c 1:5 r"), allow("b 1:3 r"),
			deny("c 1:* rw")}, false, "c 1:3 m; b 1:3 r",
			[]check{{"c 1:3 r", false}, {"c 1:3 m", true}, {"c 1:5 r", false}, {"b 1:3 r", true}}, -1},
		{"merged into the first", []Rule{allow("c 1:3 r"), allow("c 1:5 r"), allow("c 1:3 w")}, false, "c 1:3 rw; c 1:5 r",
			[]check{{"c 1:3 rw", true}}, -1},
		{"allow all, then deny", []Rule{allow("a *:* rwm"), deny("c 10:229 rwm"), deny("b *:* w")}, true, "c 10:229 rwm; b *:* w",
			[]check{{"c 10:229 r", false}, {"c 1:3 rw", true}, {"b 8:0 r", true}, {"b 8:0 rw", false}}, -1},
		{"allow all, deny, allow back", []Rule{allow("a *:* rwm"), deny("c 10:* rwm"), allow("c 10:* r")}, true, "c 10:* wm",
			[]check{{"c 10:229 r", true}, {"c 10:229 w", false}}, -1},
		{"type a is c and b", []Rule{allow("a 8:* r")}, false, "c 8:* r; b 8:* r",
			[]check{{"b 8:1 r", true}, {"c 8:1 r", true}, {"b 8:1 w", false}}, -1},
		{"a partial a is no reset", []Rule{allow("a *:* r")}, false, "c *:* r; b *:* r",
			[]check{{"b 8:1 r", true}, {"b 8:1 w", false}}, -1},
		{"wildcard after specific: the wildcard", []Rule{allow("c 10:229 rwm"), allow("c 10:* r")}, false, "c 10:229 rwm; c 10:* r",
			[]check{{"c 10:229 rw", true}, {"c 10:1 r", true}, {"c 10:1 w", false}}, -1},
		{"hole in a wildcard allow", []Rule{deny("a *:* rwm"), allow("c 10:* rw"), deny("c 10:229 w")}, false, "", nil, 2},
		{"hole in a wildcard deny", []Rule{allow("a *:* rwm"), deny("c *:* m"), allow("c 1:3 m")}, true, "", nil, 2},
		{"other accesses of a wildcard: fine", []Rule{allow("c 10:* r"), deny("c 10:229 w")}, false, "c 10:* r",
			[]check{{"c 10:229 r", true}, {"c 10:229 w", false}}, -1},
		{"overlapping wildcards", []Rule{allow("c *:3 r"), deny("c 1:* r")}, false, "", nil, 1},
		{"bad type", []Rule{{Allow: true, Type: 'p', Access: All}}, false, "", nil, 0},
		{"no access", []Rule{{Allow: true, Type: 'c', Major: 1, Minor: 3}}, false, "", nil, 0},
		{"number out of range", []Rule{{Allow: true, Type: 'c', Major: 1 << 32, Minor: 3, Access: All}}, false, "", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Compute(tc.rules)
			if tc.err >= 0 {
				re, ok := err.(*RuleError)
				if !ok || re.Index != tc.err {
					t.Fatalf("error %v; want a RuleError at %d", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var exc []string
			for _, e := range s.Exceptions {
				exc = append(exc, e.String())
			}
			if s.DefaultAllow != tc.def || strings.Join(exc, "; ") != tc.exc {
				t.Errorf("default allow %v, exceptions %q; want %v, %q", s.DefaultAllow, strings.Join(exc, "; "), tc.def, tc.exc)
			}
			for _, c := range tc.checks {
				r := rule(true, c.dev)
				if got := s.Allows(r.Type, r.Major, r.Minor, r.Access); got != c.allowed {
					t.Errorf("%s: allowed %v, want %v", c.dev, got, c.allowed)
				}
			}
		})
	}
}

func TestAccess(t *testing.T) {
	if a, ok := ParseAccess("mwr"); !ok || a != All || a.String() != "rwm" {
		t.Fatalf("%v %v", a, ok)
	}
	for _, s := range []string{"", "x", "rx"} {
		if _, ok := ParseAccess(s); ok {
			t.Errorf("%q parsed", s)
		}
	}
}
