package container

import (
	"testing"
	"time"
)

func TestParsePressure(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     Pressure
		ok       bool
	}{
		{
			name: "cgroup file",
			in:   "some avg10=1.50 avg60=0.25 avg300=0.05 total=123456\nfull avg10=0.75 avg60=0.00 avg300=0.00 total=7890\n",
			want: Pressure{
				Some: PressureLine{Avg10: 1.5, Avg60: 0.25, Avg300: 0.05, Total: 123456 * time.Microsecond},
				Full: PressureLine{Avg10: 0.75, Total: 7890 * time.Microsecond},
			},
			ok: true,
		},
		{
			name: "some only (the host's cpu.pressure before 5.13)",
			in:   "some avg10=0.00 avg60=0.00 avg300=0.00 total=42\n",
			want: Pressure{Some: PressureLine{Total: 42 * time.Microsecond}},
			ok:   true,
		},
		{
			name: "unknown keys and lines are ignored",
			in:   "some avg10=2.00 new=7 total=1\nother avg10=9.00\n",
			want: Pressure{Some: PressureLine{Avg10: 2, Total: time.Microsecond}},
			ok:   true,
		},
		{name: "empty", in: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parsePressure(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Errorf("parsePressure = %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
