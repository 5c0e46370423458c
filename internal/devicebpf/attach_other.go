//go:build !linux

package devicebpf

import (
	"errors"
	"fmt"

	"github.com/ctrkit/container/internal/devices"
)

// Attach fails: eBPF device programs are Linux's.
func Attach(dirFD int, set devices.Set) error {
	return fmt.Errorf("attach eBPF device program: %w", errors.ErrUnsupported)
}
