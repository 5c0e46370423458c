package container

import (
	"errors"
	"reflect"
	"testing"
)

// fill sets every exported field reachable from v to a value that is not its
// zero value and differs from field to field, so that a field the codec
// forgets, or two fields it swaps, show in the round trip.
func fill(t *testing.T, v reflect.Value, seed *uint64) {
	*seed++
	n := *seed
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(t, v.Field(i), seed)
			}
		}
	case reflect.String:
		v.SetString("s" + string(rune('a'+n%26)) + string(rune('0'+n%10)))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(-int64(n))
	case reflect.Uint, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		v.SetUint(n<<20 | n)
	case reflect.Uint8:
		v.SetUint(n % 250)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(t, s.Index(i), seed)
		}
		v.Set(s)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(t, p.Elem(), seed)
		v.Set(p)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for range 2 {
			k := reflect.New(v.Type().Key()).Elem()
			fill(t, k, seed)
			e := reflect.New(v.Type().Elem()).Elem()
			fill(t, e, seed)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	default:
		t.Fatalf("fill: no rule for %s: teach fill and the codec about it", v.Type())
	}
}

func TestCodecRoundTrip(t *testing.T) {
	var in initConfig
	var seed uint64
	fill(t, reflect.ValueOf(&in).Elem(), &seed)
	var out initConfig
	if err := out.unmarshal(in.marshal()); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip changed the configuration:\n in: %+v\nout: %+v", in, out)
	}

	// The zero configuration survives too (nil stays nil, not empty).
	var zero, back initConfig
	if err := back.unmarshal(zero.marshal()); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(zero, back) {
		t.Fatalf("zero configuration: got %+v", back)
	}

	// A real container's configuration.
	c, err := New(t.TempDir(), []string{"/bin/true"}, WithMemory(64<<20), WithEnv("A=1"))
	if err != nil {
		t.Fatal(err)
	}
	real := c.cfg.initConfig()
	var realBack initConfig
	if err := realBack.unmarshal(real.marshal()); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*real, realBack) {
		t.Fatalf("default container: got %+v, want %+v", realBack, *real)
	}
}

func TestCodecRejectsDamage(t *testing.T) {
	var in initConfig
	var seed uint64
	fill(t, reflect.ValueOf(&in).Elem(), &seed)
	b := in.marshal()
	for _, cut := range []int{0, 1, len(b) / 2, len(b) - 1} {
		var out initConfig
		if err := out.unmarshal(b[:cut]); !errors.Is(err, errShort) {
			t.Errorf("truncated to %d of %d bytes: err = %v, want errShort", cut, len(b), err)
		}
	}
	var out initConfig
	if err := out.unmarshal(append(b, 0)); err == nil {
		t.Error("a trailing byte was accepted")
	}
	// A huge length must fail, not allocate.
	var out2 initConfig
	if err := out2.unmarshal([]byte{0xff, 0xff, 0xff, 0xff, 0x0f}); !errors.Is(err, errShort) {
		t.Errorf("huge length: err = %v", err)
	}
}
