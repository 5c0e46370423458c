package container

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
)

// The channel between the parent and the init is one socketpair, inherited by the
// init as fd 3 and close-on-exec there (moved above the ExtraFiles
// descriptors, which follow it, once the init has read msgConfig). Messages
// are framed as a type byte, a
// big-endian uint32 length and a payload:
//
//	parent → init: msgConfig (the initConfig, codec.go), then msgGo once the parent's
//	               steps are done
//	init → parent: msgError (an errorRecord as JSON) when a step fails; nothing
//	               on success, where exec closes the init's end and the parent reads EOF;
//	               with WithExecFIFO, msgParked once it waits for the FIFO to be
//	               opened, after which the parent stops reading; msgMounted and
//	               msgExecReady wait for the parent's msgGo (WithBeforePivot, WithPids).
//	               With WithLogger at debug level (initConfig.Trace), msgTrace, the
//	               init's steps and their durations, comes right before the last of
//	               these (EOF, msgError, msgParked, msgJoined).

type msgType byte

const (
	msgConfig  msgType = 'c'
	msgGo      msgType = 'g'
	msgError   msgType = 'e'
	msgParked  msgType = 'p' // init → parent: set up, waiting on the exec FIFO (WithExecFIFO)
	msgJoined  msgType = 'j' // init → parent: running in the joined container (WithJoin)
	msgConsole msgType = 't' // init → parent: the terminal's master, as SCM_RIGHTS (WithTerminal)
	// msgExecReady (init → parent, answered with msgGo): about to execve; sent
	// only when the parent has a step for that moment (limitsInit.PidsHandshake).
	msgExecReady msgType = 'x'
	// msgMounted (init → parent, answered with msgGo): the file systems are
	// mounted, pivot_root is next; sent only with WithBeforePivot.
	msgMounted msgType = 'm'
	// msgTrace (init → parent, WithLogger): the init's steps and their
	// durations (encodeTrace), right before its last message.
	msgTrace msgType = 'r'
)

const maxMsg = 16 << 20

// initConfig is everything the init needs, computed by the parent.
type initConfig struct {
	Rootfs     string
	Args       []string
	Env        []string
	Dir        string
	Hostname   string
	Domainname string
	UID, GID   uint32
	SetGroups  bool // false in a user namespace, where setgroups(2) is denied
	BecomeRoot bool // the init starts as an id other than the namespace's root: switch first
	Namespaces Namespace
	Mounts     []mountEntry
	CgroupView []string // the container's own cgroups to show at /sys/fs/cgroup (mountCgroups): "" for a v2 host's, else v1 controllers and unifiedKey
	// CgroupMounts are CgroupView's hierarchies on a v1 or hybrid host as
	// the parent's mount table has them (viewMounts), which the init's
	// mount namespace copied; none: the init reads /proc/self/mountinfo.
	CgroupMounts   []cgroupViewMount
	Devices        []device
	BindDevices    bool // bind the host's device nodes instead of mknod (user namespace)
	ReadonlyRootfs bool
	RootProp       uintptr // WithRootfsPropagation
	Chroot         bool    // WithoutNamespace(NSMount): mounts on the host, chroot instead of pivot_root
	NoPivot        bool    // WithoutPivotRoot: move the rootfs onto / and chroot instead of pivot_root
	Trace          bool    // WithLogger at debug level: measure the steps, send them before the last message (trace_linux.go)
	Security       securityInit
	Limits         limitsInit // rlimit.go
	OCI            ociInit    // lifecycle.go
	Net            netInit
	Landlock       landlockInit // landlock.go: WithLandlock, planned by Start for the kernel's ABI
	Overlay        *overlayInit // WithOverlay (overlay.go)
	TimerSlackNS   uint64       // the cloning thread's timer slack, for the init's own thread (initTimerSlack)
}

// errorRecord is a failed init step as it crosses the process boundary.
type errorRecord struct {
	Op    string
	Path  string
	Errno int    // a syscall.Errno, or 0
	Msg   string // the error text when Errno is 0
}

func (r *errorRecord) toError() error {
	var err error
	switch {
	case r.Errno != 0 && r.Msg != "":
		err = &detailedErrno{detail: r.Msg, errno: syscall.Errno(r.Errno)}
	case r.Errno != 0:
		err = syscall.Errno(r.Errno)
	default:
		err = errors.New(r.Msg)
	}
	return &SetupError{Op: r.Op, Path: r.Path, Err: err}
}

// initError turns the payload of an msgError into the error it records.
func initError(body []byte) error {
	var rec errorRecord
	if err := json.Unmarshal(body, &rec); err != nil {
		return fmt.Errorf("container: decode init error: %w", err)
	}
	return rec.toError()
}

func recordOf(err error) errorRecord {
	var r errorRecord
	var se *SetupError
	if errors.As(err, &se) {
		r.Op, r.Path = se.Op, se.Path
		err = se.Err
	} else {
		r.Op = "init"
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		r.Errno = int(errno)
		if msg := err.Error(); msg != errno.Error() {
			r.Msg = strings.TrimSuffix(msg, ": "+errno.Error())
		}
	} else {
		r.Msg = err.Error()
	}
	return r
}

func writeMsg(w io.Writer, t msgType, payload any) error {
	var body []byte
	if payload != nil {
		var err error
		if body, err = json.Marshal(payload); err != nil {
			return err
		}
	}
	return writeFrame(w, t, body)
}

// writeFrame writes one message whose payload is already encoded.
func writeFrame(w io.Writer, t msgType, body []byte) error {
	buf := make([]byte, 5+len(body))
	buf[0] = byte(t)
	binary.BigEndian.PutUint32(buf[1:5], uint32(len(body)))
	copy(buf[5:], body)
	_, err := w.Write(buf)
	return err
}

// readMsg reads one message. It returns io.EOF when the other end closed
// cleanly between messages.
func readMsg(r io.Reader) (msgType, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, fmt.Errorf("short message header: %w", err)
		}
		return 0, nil, err
	}
	return readBody(r, hdr)
}

// readBody reads the payload of the message whose header is hdr.
func readBody(r io.Reader, hdr [5]byte) (msgType, []byte, error) {
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > maxMsg {
		return 0, nil, fmt.Errorf("message of %d bytes is too large", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, fmt.Errorf("short message body: %w", err)
	}
	return msgType(hdr[0]), body, nil
}

// detailedErrno is an errno with a human explanation; it unwraps to the errno,
// and crosses from the init to the parent whole.
type detailedErrno struct {
	detail string
	errno  syscall.Errno
}

func (e *detailedErrno) Error() string { return e.detail + ": " + e.errno.Error() }
func (e *detailedErrno) Unwrap() error { return e.errno }
