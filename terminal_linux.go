package container

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// WithTerminal: a pseudo-terminal made inside the container, its master
// handed back to the parent over the init's channel.

// setupTerminal makes the command's terminal (WithTerminal) in the
// container's devpts and sends its master to the parent.
func setupTerminal(cfg *initConfig, ch *os.File) error {
	if !cfg.OCI.Terminal {
		return nil
	}
	master, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &SetupError{Op: "open", Path: "/dev/ptmx", Err: err}
	}
	defer unix.Close(master)
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil {
		return &SetupError{Op: "unlock pty", Err: err}
	}
	n, err := unix.IoctlGetUint32(master, unix.TIOCGPTN)
	if err != nil {
		return &SetupError{Op: "get pty number", Err: err}
	}
	name := "/dev/pts/" + strconv.Itoa(int(n))
	slave, err := unix.Open(name, unix.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return &SetupError{Op: "open", Path: name, Err: err}
	}
	defer unix.Close(slave)
	if err := unix.Fchown(slave, int(cfg.UID), int(cfg.GID)); err != nil {
		return &SetupError{Op: "chown", Path: name, Err: err}
	}
	if _, err := unix.Setsid(); err != nil {
		return &SetupError{Op: "setsid", Err: err}
	}
	if err := unix.IoctlSetInt(slave, unix.TIOCSCTTY, 0); err != nil {
		return &SetupError{Op: "set controlling terminal", Path: name, Err: err}
	}
	for fd := 0; fd < 3; fd++ {
		if err := unix.Dup3(slave, fd, 0); err != nil {
			return &SetupError{Op: "dup3", Path: name, Err: err}
		}
	}
	hdr := []byte{byte(msgConsole), 0, 0, 0, 0}
	if err := unix.Sendmsg(int(ch.Fd()), hdr, unix.UnixRights(master), nil, 0); err != nil {
		return fmt.Errorf("send terminal: %w", err)
	}
	return nil
}

// readInitMsg reads the init's next message, first taking the terminal's
// master when one comes (WithTerminal): its header arrives with the
// descriptor as SCM_RIGHTS, so it is read with recvmsg.
func (r *running) readInitMsg(f *os.File) (msgType, []byte, error) {
	for {
		var hdr [5]byte
		oob := make([]byte, unix.CmsgSpace(4))
		n, oobn, _, _, err := unix.Recvmsg(int(f.Fd()), hdr[:], oob, 0)
		if err != nil {
			return 0, nil, err
		}
		if n == 0 {
			return 0, nil, io.EOF
		}
		if oobn > 0 {
			msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
			if err == nil && len(msgs) > 0 {
				if fds, err := unix.ParseUnixRights(&msgs[0]); err == nil {
					for i, fd := range fds {
						if i == 0 && msgType(hdr[0]) == msgConsole && r.console == nil {
							r.console = os.NewFile(uintptr(fd), "terminal")
							unix.CloseOnExec(fd)
						} else {
							unix.Close(fd)
						}
					}
				}
			}
		}
		if n < len(hdr) {
			if _, err := io.ReadFull(f, hdr[n:]); err != nil {
				return 0, nil, fmt.Errorf("short message header: %w", err)
			}
		}
		if msgType(hdr[0]) == msgConsole {
			if r.console == nil {
				return 0, nil, errors.New("terminal message without a descriptor")
			}
			continue
		}
		return readBody(f, hdr)
	}
}

// Terminal returns the master side of the container's terminal ([WithTerminal])
// once Start has returned, or nil. The caller owns it and must close it.
func (c *Container) Terminal() *os.File {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.run == nil {
		return nil
	}
	return c.run.console
}
