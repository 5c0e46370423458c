//go:build !linux

package container

type networkState struct{ bridge, dir string }

// create fails on this platform with an error that wraps errors.ErrUnsupported.
func (n *Network) create() error { return errUnsupported }

// Close returns [ErrNetworkClosed] on this platform, where no Network is ever
// made.
func (n *Network) Close() error { return ErrNetworkClosed }
