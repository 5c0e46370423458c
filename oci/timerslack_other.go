//go:build !linux

package oci

import "os/exec"

// RaiseTimerSlack does nothing on this platform.
func RaiseTimerSlack() uint64 { return 0 }

// StartWithTimerSlack is cmd.Start on this platform.
func StartWithTimerSlack(cmd *exec.Cmd, slack uint64) error { return cmd.Start() }
