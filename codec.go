package container

import (
	"encoding/binary"
	"errors"
	"fmt"
)

//go:generate go run ./internal/cmd/gencodec

// The init's configuration crosses the socket in a compact binary form that
// the init decodes without reflection. encoding/json did the same job in about
// a millisecond per container on the benchmark machine, most of it building
// its reflection caches in a process that lives for one decode
// (bench/PROFILE.md).
//
// The format is defined once, by the types: internal/cmd/gencodec reads them
// and writes codec_gen.go, initConfig's encode and decode with every struct
// they reach written out in place. Exported fields go in declaration order;
// unexported ones are the init's own state and stay home. Integers are
// varints (unsigned ones decoded with a check against their width), a bool is
// a byte, strings, byte slices, slices and maps are a count then their
// contents (maps in sorted key order, and empty ones decode as nil), a
// pointer is a presence bool then its value. This file keeps those
// primitives. After changing a type the init receives, run go generate:
// TestCodecGenerated fails while codec_gen.go is stale, and
// TestCodecRoundTrip fills every field by reflection and fails when one does
// not survive the trip.

// marshal encodes the configuration for msgConfig.
func (c *initConfig) marshal() []byte {
	return c.encode(make([]byte, 0, 1024+len(c.Security.Seccomp)))
}

// unmarshal decodes what marshal encoded.
func (c *initConfig) unmarshal(b []byte) error { return c.decode(b) }

type encoder struct{ b []byte }

func (e *encoder) uint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) int(v int64)   { e.b = binary.AppendVarint(e.b, v) }

func (e *encoder) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

func (e *encoder) bytes(v []byte) {
	e.uint(uint64(len(v)))
	e.b = append(e.b, v...)
}

func (e *encoder) str(v string) {
	e.uint(uint64(len(v)))
	e.b = append(e.b, v...)
}

func (e *encoder) strs(v []string) {
	e.uint(uint64(len(v)))
	for _, s := range v {
		e.str(s)
	}
}

var errShort = errors.New("truncated configuration")

// decoder reads what encoder wrote. The first error sticks: later reads
// return zero values, and done reports it once at the end.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uint() uint64 {
	if len(d.b) > 0 && d.b[0] < 0x80 { // one byte: most lengths, flags and ids
		v := uint64(d.b[0])
		d.b = d.b[1:]
		return v
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) int() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

// done reports the first error, or bytes that no field read.
func (d *decoder) done() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d bytes left over", len(d.b))
	}
	return d.err
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errShort
	}
	d.b = nil
}

// narrow reads an unsigned integer narrower than 64 bits and fails on a
// value its type cannot hold. It is a function of its own for each width, so
// the check is against a constant.
func narrow[T ~uint8 | ~uint16 | ~uint32](d *decoder) T {
	v := d.uint()
	if v > uint64(^T(0)) {
		d.fail()
	}
	return T(v)
}

func (d *decoder) bool() bool {
	if len(d.b) == 0 || d.b[0] > 1 {
		d.fail()
		return false
	}
	v := d.b[0] == 1
	d.b = d.b[1:]
	return v
}

// count reads a length and checks it against what is left, so that a corrupt
// length cannot make the init allocate without bound.
func (d *decoder) count() int {
	n := d.uint()
	if n > uint64(len(d.b)) {
		d.fail()
		return 0
	}
	return int(n)
}

func (d *decoder) raw() []byte {
	n := d.count()
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string { return string(d.raw()) }

func (d *decoder) bytes() []byte {
	v := d.raw()
	if len(v) == 0 {
		return nil
	}
	return v
}

func (d *decoder) strs() []string {
	n := d.count()
	if n == 0 {
		return nil
	}
	v := make([]string, n)
	for i := range v {
		v[i] = d.str()
	}
	return v
}
