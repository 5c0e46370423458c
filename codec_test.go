package container

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
)

// fill sets every exported field reachable from v to a value that is not its
// zero value and differs from field to field, so that a field the codec
// forgets, or two fields it swaps, show in the round trip.
func fill(t testing.TB, v reflect.Value, seed *uint64) {
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

// TestCodecGenerated fails when codec_gen.go is not what go generate would
// write from today's types: a field was added, removed or retyped without
// running it.
func TestCodecGenerated(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to run the generator:", err)
	}
	out := filepath.Join(t.TempDir(), "codec_gen.go")
	cmd := exec.Command(gobin, "run", "./internal/cmd/gencodec", "-o", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gencodec: %v\n%s", err, b)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("codec_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("codec_gen.go is stale: run go generate")
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

// BenchmarkCodec measures the configuration's trip through the socket: the
// parent's encode and the init's decode, for a default container (whose
// seccomp program is most of the bytes) and for one with every field filled.
func BenchmarkCodec(b *testing.B) {
	c, err := New(b.TempDir(), []string{"/bin/sh", "-c", "true"}, WithEnv("A=1", "PATH=/bin"), WithMemory(64<<20))
	if err != nil {
		b.Fatal(err)
	}
	var filled initConfig
	var seed uint64
	fill(b, reflect.ValueOf(&filled).Elem(), &seed)
	for _, bc := range []struct {
		name string
		cfg  *initConfig
	}{{"default", c.cfg.initConfig()}, {"filled", &filled}} {
		wire := bc.cfg.marshal()
		b.Run(bc.name+"/marshal", func(b *testing.B) {
			b.SetBytes(int64(len(wire)))
			b.ReportAllocs()
			for b.Loop() {
				bc.cfg.marshal()
			}
		})
		b.Run(bc.name+"/unmarshal", func(b *testing.B) {
			b.SetBytes(int64(len(wire)))
			b.ReportAllocs()
			for b.Loop() {
				var out initConfig
				if err := out.unmarshal(wire); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
