package container

import (
	"fmt"
	"os"
	"path/filepath"
)

// WithOverlay gives the container a copy-on-write root file system: an
// overlayfs whose lower layers are the rootfs given to New and, stacked on it
// in the order given (the last one topmost, the order of an image
// manifest's layers), the directories layers, and whose upper layer is a
// directory private to the container. What the container writes, deletes or
// renames lands in the upper layer alone; the rootfs and the layers are only
// read, so any number of containers can run on them at once without seeing
// each other's writes, and a rootfs is byte for byte what it was before.
// (Without it the container writes into the rootfs itself, as a bind mount
// does; the library then writes no more than the missing mount points.)
//
// The upper layer is a tmpfs that the init mounts in the container's mount
// namespace, with the overlay, so the host's mount table shows neither, and
// nothing is written to disk: the kernel frees it when the container's last
// process exits, whatever happened to the caller (a failed Start, a
// cancelled context, a caller killed before Wait). Its pages are charged to
// the container's memory cgroup (WithMemory bounds them); without a limit
// it may grow to half the machine's memory, tmpfs's default. For large
// writes, WithOverlayUpper puts the upper layer on disk instead. The
// container's root directory gets the mode (and, as root without a user
// namespace, the owner) of the topmost layer's.
//
// Mounts below the rootfs on the host are not part of the overlay (a bind
// of the rootfs carries them, an overlay does not): use WithBind for them.
// Each layer must be an absolute path to a directory on a file system
// overlayfs accepts as a lower layer (not another overlay's upper
// directory in use). Whiteouts in a layer (0:0 character devices) and
// opaque directories (the trusted.overlay.opaque xattr as root without a
// user namespace; user.overlay.opaque in a user namespace, which the
// overlay is mounted with userxattr for) hide what the layers below hold,
// as package github.com/ctrkit/container/image writes them.
//
// WithOverlay may be given more than once: each adds its layers above the
// ones before. It needs a mount namespace of the container's own (New fails
// with WithoutNamespace(NSMount) or WithNamespacePath(NSMount)); in a user
// namespace (rootless) Linux 5.11 or newer (and 6.6 for the user xattrs
// of a tmpfs upper layer, without which overlayfs cannot make opaque
// directories: removing a directory and making one of the same name then
// fails), or Start fails with the mount's error. It costs two mounts per
// container (about 0.3 ms, see bench/README.md). It is not the default:
// a container's writes to its root would then be lost by default where
// callers expect them in the rootfs, rootless callers would need 5.11, and
// every container would pay for it. WithReadonlyRootfs makes the overlay
// read-only; the device fence (nodev) applies to it as to any root.
func WithOverlay(layers ...string) Option {
	return optionFunc(func(c *config) error {
		for _, l := range layers {
			if err := checkLayer(l); err != nil {
				return optErr("WithOverlay", l, "%w", err)
			}
			c.overlay.layers = append(c.overlay.layers, filepath.Clean(l))
		}
		c.overlay.on = true
		return nil
	})
}

// WithOverlayUpper puts WithOverlay's upper layer on disk, in a new
// directory below dir (an absolute path; made by Start, mode 0700, named
// after the calling process) instead of a tmpfs, for containers that write
// more than memory should hold. Wait removes it, as does a failed Start,
// and the next Start with WithOverlayUpper below the same dir removes the
// directories of owners that no longer run (a caller killed before Wait).
// dir's file system must be one overlayfs accepts as an upper layer (ext4,
// xfs, btrfs; with user xattrs in a user namespace). The overlay is mounted
// volatile (no sync of the upper layer, Linux 5.10): it is thrown away.
// It implies WithOverlay().
func WithOverlayUpper(dir string) Option {
	return optionFunc(func(c *config) error {
		if err := checkLayer(dir); err != nil {
			return optErr("WithOverlayUpper", dir, "%w", err)
		}
		c.overlay.on = true
		c.overlay.upperDir = filepath.Clean(dir)
		return nil
	})
}

func checkLayer(l string) error {
	if !filepath.IsAbs(l) {
		return fmt.Errorf("must be an absolute path")
	}
	fi, err := os.Stat(l)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("not a directory")
	}
	return nil
}

// overlayConfig is WithOverlay's part of config.
type overlayConfig struct {
	on       bool
	layers   []string // above the rootfs, bottom first
	upperDir string   // WithOverlayUpper; "": a tmpfs
}

// finish refuses what an overlay root cannot go with.
func (o *overlayConfig) finish(c *config) error {
	if !o.on {
		return nil
	}
	switch {
	case c.noMountNS():
		return optErr("WithOverlay", nil, "conflicts with WithoutNamespace(NSMount): the overlay would be mounted on the host")
	case c.nsPaths[NSMount] != "":
		return optErr("WithOverlay", nil, "conflicts with WithNamespacePath(NSMount): the overlay would be mounted in a namespace other processes use")
	}
	return nil
}

// lowers returns the overlay's lower directories topmost first, the order of
// overlayfs's lowerdir option.
func (o *overlayConfig) lowers(rootfs string) []string {
	out := make([]string, 0, len(o.layers)+1)
	for i := len(o.layers) - 1; i >= 0; i-- {
		out = append(out, o.layers[i])
	}
	return append(out, rootfs)
}

// overlayInit is what the init needs to mount the overlay in place of
// binding the rootfs onto itself. With Upper set (WithOverlayUpper) it mounts
// it on initConfig.Rootfs, the parent's empty directory; otherwise it mounts
// a tmpfs on initConfig.Rootfs (after opening the lower layers), makes the
// upper layer in it with Mode, UID and GID, and mounts the overlay on a
// directory of that tmpfs, the root from then on.
type overlayInit struct {
	Lowers    []string // topmost first
	Upper     string
	Work      string
	UserXattr bool // in a user namespace: user.overlay.* xattrs (Linux 5.11)
	Mode      uint32
	UID, GID  uint32
	SetOwner  bool // root without a user namespace: chown the upper layer
}
