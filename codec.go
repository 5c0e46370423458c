package container

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// The init's configuration crosses the socket in a compact binary form written
// by hand: the init decodes it without reflection. encoding/json did the same
// job in about a millisecond per container on the benchmark machine, most of it
// building its reflection caches in a process that lives for one decode
// (bench/PROFILE.md). Fields go in declaration order; every integer is a
// varint. TestCodecRoundTrip fills every field of initConfig by reflection and
// fails when one does not survive the trip, so a field added to the
// configuration without a line here cannot go unnoticed.

// marshal encodes the configuration for msgConfig.
func (c *initConfig) marshal() []byte {
	var e encoder
	e.b = make([]byte, 0, 1024+len(c.Security.Seccomp))
	e.str(c.Rootfs)
	e.strs(c.Args)
	e.strs(c.Env)
	e.str(c.Dir)
	e.str(c.Hostname)
	e.str(c.Domainname)
	e.uint(uint64(c.UID))
	e.uint(uint64(c.GID))
	e.bool(c.SetGroups)
	e.bool(c.BecomeRoot)
	e.uint(uint64(c.Namespaces))
	e.uint(uint64(len(c.Mounts)))
	for _, m := range c.Mounts {
		e.uint(uint64(m.Kind))
		e.str(m.Source)
		e.str(m.Dest)
		e.str(m.FSType)
		e.uint(uint64(m.Flags))
		e.str(m.Data)
		e.bool(m.Readonly)
		e.bool(m.File)
		e.bool(m.Strict)
		e.uint(uint64(m.Attrs))
		e.uint(uint64(m.Prop))
	}
	e.uint(uint64(len(c.Devices)))
	for _, d := range c.Devices {
		e.str(d.Name)
		e.uint(uint64(d.Major))
		e.uint(uint64(d.Minor))
		e.uint(uint64(d.Type))
		e.uint(uint64(d.Mode))
		e.uint(uint64(d.UID))
		e.uint(uint64(d.GID))
	}
	e.bool(c.BindDevices)
	e.bool(c.ReadonlyRootfs)
	e.uint(uint64(c.RootProp))
	e.bool(c.Chroot)
	e.bool(c.NoPivot)

	s := &c.Security
	e.bytes(s.Seccomp)
	e.uint(s.Bounding)
	e.uint(s.Permitted)
	e.uint(s.Ambient)
	e.bool(s.NoNewPrivs)

	l := &c.Limits
	e.uint(uint64(len(l.Rlimits)))
	for _, r := range l.Rlimits {
		e.str(r.Name)
		e.uint(r.Soft)
		e.uint(r.Hard)
	}
	e.bool(l.Init)
	e.bool(l.PidsHandshake)

	o := &c.OCI
	e.uint(uint64(len(o.Groups)))
	for _, g := range o.Groups {
		e.uint(uint64(g))
	}
	e.int(int64(o.Umask))
	e.bool(o.OOMScoreAdj != nil)
	if o.OOMScoreAdj != nil {
		e.int(int64(*o.OOMScoreAdj))
	}
	e.uint(uint64(len(o.Sysctls)))
	for _, s := range o.Sysctls {
		e.str(s.Key)
		e.str(s.Value)
	}
	e.str(o.ExecFIFO)
	e.bool(o.Detached)
	e.int(int64(o.JoinPID))
	e.uint(uint64(len(o.JoinNS)))
	for _, k := range slices.Sorted(maps.Keys(o.JoinNS)) {
		e.str(k)
		e.uint(o.JoinNS[k])
	}
	e.bool(o.Terminal)
	e.int(int64(o.ExtraFiles))
	e.hooks(o.CreateHooks)
	e.hooks(o.StartHooks)
	e.bool(o.BeforePivot)

	e.bool(c.Net.LoopbackUp)
	return e.b
}

// unmarshal decodes what marshal encoded.
func (c *initConfig) unmarshal(b []byte) error {
	d := decoder{b: b}
	c.Rootfs = d.str()
	c.Args = d.strs()
	c.Env = d.strs()
	c.Dir = d.str()
	c.Hostname = d.str()
	c.Domainname = d.str()
	c.UID = d.uint32()
	c.GID = d.uint32()
	c.SetGroups = d.bool()
	c.BecomeRoot = d.bool()
	c.Namespaces = Namespace(d.uint8())
	if n := d.count(); n > 0 {
		c.Mounts = make([]mountEntry, n)
		for i := range c.Mounts {
			m := &c.Mounts[i]
			m.Kind = mountKind(d.uint8())
			m.Source = d.str()
			m.Dest = d.str()
			m.FSType = d.str()
			m.Flags = uintptr(d.uint())
			m.Data = d.str()
			m.Readonly = d.bool()
			m.File = d.bool()
			m.Strict = d.bool()
			m.Attrs = uintptr(d.uint())
			m.Prop = uintptr(d.uint())
		}
	}
	if n := d.count(); n > 0 {
		c.Devices = make([]device, n)
		for i := range c.Devices {
			v := &c.Devices[i]
			v.Name = d.str()
			v.Major = d.uint32()
			v.Minor = d.uint32()
			v.Type = d.uint8()
			v.Mode = d.uint32()
			v.UID = d.uint32()
			v.GID = d.uint32()
		}
	}
	c.BindDevices = d.bool()
	c.ReadonlyRootfs = d.bool()
	c.RootProp = uintptr(d.uint())
	c.Chroot = d.bool()
	c.NoPivot = d.bool()

	s := &c.Security
	s.Seccomp = d.bytes()
	s.Bounding = d.uint()
	s.Permitted = d.uint()
	s.Ambient = d.uint()
	s.NoNewPrivs = d.bool()

	l := &c.Limits
	if n := d.count(); n > 0 {
		l.Rlimits = make([]rlimitEntry, n)
		for i := range l.Rlimits {
			r := &l.Rlimits[i]
			r.Name = d.str()
			r.Soft = d.uint()
			r.Hard = d.uint()
		}
	}
	l.Init = d.bool()
	l.PidsHandshake = d.bool()

	o := &c.OCI
	if n := d.count(); n > 0 {
		o.Groups = make([]uint32, n)
		for i := range o.Groups {
			o.Groups[i] = d.uint32()
		}
	}
	o.Umask = int(d.int())
	if d.bool() {
		v := int(d.int())
		o.OOMScoreAdj = &v
	}
	if n := d.count(); n > 0 {
		o.Sysctls = make([]sysctlEntry, n)
		for i := range o.Sysctls {
			o.Sysctls[i].Key = d.str()
			o.Sysctls[i].Value = d.str()
		}
	}
	o.ExecFIFO = d.str()
	o.Detached = d.bool()
	o.JoinPID = int(d.int())
	if n := d.count(); n > 0 {
		o.JoinNS = make(map[string]uint64, n)
		for range n {
			k := d.str()
			o.JoinNS[k] = d.uint()
		}
	}
	o.Terminal = d.bool()
	o.ExtraFiles = int(d.int())
	o.CreateHooks = d.hooks()
	o.StartHooks = d.hooks()
	o.BeforePivot = d.bool()

	c.Net.LoopbackUp = d.bool()
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d bytes left over", len(d.b))
	}
	return d.err
}

type encoder struct{ b []byte }

func (e *encoder) hooks(hs []hookEntry) {
	e.uint(uint64(len(hs)))
	for _, h := range hs {
		e.str(h.Path)
		e.strs(h.Args)
		e.strs(h.Env)
		e.int(int64(h.Timeout))
		e.bytes(h.Stdin)
	}
}

func (d *decoder) hooks() []hookEntry {
	n := d.count()
	if n == 0 {
		return nil
	}
	hs := make([]hookEntry, n)
	for i := range hs {
		h := &hs[i]
		h.Path = d.str()
		h.Args = d.strs()
		h.Env = d.strs()
		h.Timeout = time.Duration(d.int())
		h.Stdin = d.bytes()
	}
	return hs
}

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
// return zero values, and unmarshal reports it once at the end.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uint() uint64 {
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

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errShort
	}
	d.b = nil
}

func (d *decoder) uint32() uint32 {
	v := d.uint()
	if v > 1<<32-1 {
		d.fail()
	}
	return uint32(v)
}

func (d *decoder) uint8() uint8 {
	v := d.uint()
	if v > 1<<8-1 {
		d.fail()
	}
	return uint8(v)
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
