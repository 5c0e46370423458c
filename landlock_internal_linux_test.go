package container

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestLandlockConstants: the plan's copy of the ABI is the kernel's.
func TestLandlockConstants(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want uint64
	}{
		{"EXECUTE", llFSExecute, unix.LANDLOCK_ACCESS_FS_EXECUTE},
		{"WRITE_FILE", llFSWriteFile, unix.LANDLOCK_ACCESS_FS_WRITE_FILE},
		{"READ_FILE", llFSReadFile, unix.LANDLOCK_ACCESS_FS_READ_FILE},
		{"READ_DIR", llFSReadDir, unix.LANDLOCK_ACCESS_FS_READ_DIR},
		{"REMOVE_DIR", llFSRemoveDir, unix.LANDLOCK_ACCESS_FS_REMOVE_DIR},
		{"REMOVE_FILE", llFSRemoveFile, unix.LANDLOCK_ACCESS_FS_REMOVE_FILE},
		{"MAKE_CHAR", llFSMakeChar, unix.LANDLOCK_ACCESS_FS_MAKE_CHAR},
		{"MAKE_DIR", llFSMakeDir, unix.LANDLOCK_ACCESS_FS_MAKE_DIR},
		{"MAKE_REG", llFSMakeReg, unix.LANDLOCK_ACCESS_FS_MAKE_REG},
		{"MAKE_SOCK", llFSMakeSock, unix.LANDLOCK_ACCESS_FS_MAKE_SOCK},
		{"MAKE_FIFO", llFSMakeFifo, unix.LANDLOCK_ACCESS_FS_MAKE_FIFO},
		{"MAKE_BLOCK", llFSMakeBlock, unix.LANDLOCK_ACCESS_FS_MAKE_BLOCK},
		{"MAKE_SYM", llFSMakeSym, unix.LANDLOCK_ACCESS_FS_MAKE_SYM},
		{"REFER", llFSRefer, unix.LANDLOCK_ACCESS_FS_REFER},
		{"TRUNCATE", llFSTruncate, unix.LANDLOCK_ACCESS_FS_TRUNCATE},
		{"IOCTL_DEV", llFSIoctlDev, unix.LANDLOCK_ACCESS_FS_IOCTL_DEV},
		{"NET_BIND_TCP", llNetBindTCP, unix.LANDLOCK_ACCESS_NET_BIND_TCP},
		{"NET_CONNECT_TCP", llNetConnectTCP, unix.LANDLOCK_ACCESS_NET_CONNECT_TCP},
		{"SCOPE_ABSTRACT_UNIX_SOCKET", llScopeAbstractUnixSocket, unix.LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET},
		{"SCOPE_SIGNAL", llScopeSignal, unix.LANDLOCK_SCOPE_SIGNAL},
	} {
		if c.got != c.want {
			t.Errorf("LANDLOCK_%s: %#x, want %#x", c.name, c.got, c.want)
		}
	}
}
