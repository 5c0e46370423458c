package container

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// overlayDirPrefix names the directories of WithOverlayUpper's upper layers:
// "ctrkit-ovl-" owner "-" random, so that a later process can tell a dead
// owner's (reapOverlays) from a live one's.
const overlayDirPrefix = "ctrkit-ovl-"

// createOverlay, before the clone, plans the overlay; with WithOverlayUpper
// it makes the container's upper layer, work directory and mount point in a
// directory of its own and registers its removal. The init mounts the
// overlay instead of binding the rootfs onto itself.
func (r *running) createOverlay(c *config, icfg *initConfig, rel *releaser) error {
	if !c.overlay.on {
		return nil
	}
	lowers := c.overlay.lowers(c.rootfs)
	var top unix.Stat_t
	if err := unix.Stat(lowers[0], &top); err != nil {
		return fmt.Errorf("container: overlay: stat %s: %w", lowers[0], err)
	}
	userns := c.namespaces&NSUser != 0
	if c.overlay.upperDir == "" {
		icfg.Overlay = &overlayInit{Lowers: lowers, UserXattr: userns, Mode: top.Mode & 0o7777,
			UID: top.Uid, GID: top.Gid, SetOwner: !userns}
		return nil
	}
	reapOverlays(c.overlay.upperDir)
	dir, err := os.MkdirTemp(c.overlay.upperDir, overlayDirPrefix+owner()+"-*") // net_linux.go: owner
	if err != nil {
		return fmt.Errorf("container: overlay: %w", err)
	}
	r.overlayDir = dir
	rel.add(func() { removeOverlayDir(dir) })
	upper, work, merged := filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "root")
	for _, d := range []string{upper, work, merged} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return fmt.Errorf("container: overlay: %w", err)
		}
	}
	// The upper directory is the container's root directory: it takes the
	// topmost layer's mode, and its owner where the mounter may keep it.
	if err := os.Chmod(upper, fs.FileMode(top.Mode&0o7777)); err != nil {
		return fmt.Errorf("container: overlay: %w", err)
	}
	switch {
	case !userns:
		if err := os.Lchown(upper, int(top.Uid), int(top.Gid)); err != nil {
			return fmt.Errorf("container: overlay: %w", err)
		}
	case !c.rootless:
		// The init mounts as the user namespace's root (or the mapped id it
		// runs as): the overlay creates files in the upper and work
		// directories with its credentials, so they are its.
		uid, gid := mountOwner(c)
		for _, d := range []string{dir, upper, work, merged} {
			if err := os.Lchown(d, int(uid), int(gid)); err != nil {
				return fmt.Errorf("container: overlay: %w", err)
			}
		}
	}
	icfg.Rootfs = merged
	icfg.Overlay = &overlayInit{Lowers: lowers, Upper: upper, Work: work, UserXattr: userns}
	return nil
}

// mountOwner is the host uid and gid the init has when it mounts: the user
// namespace's root where it is mapped (the init becomes it), or else the
// container's user.
func mountOwner(c *config) (uint32, uint32) {
	cu, cg := c.uid, c.gid
	if idMapped(c.uidMap, 0) && idMapped(c.gidMap, 0) {
		cu, cg = 0, 0
	}
	return hostID(c.uidMap, cu), hostID(c.gidMap, cg)
}

func hostID(maps []IDMap, id uint32) uint32 {
	for _, m := range maps {
		if id >= m.ContainerID && uint64(id) < uint64(m.ContainerID)+uint64(m.Size) {
			return m.HostID + (id - m.ContainerID)
		}
	}
	return 0
}

// releaseOverlay removes the container's upper layer (Wait).
func (r *running) releaseOverlay() error {
	if r.overlayDir == "" {
		return nil
	}
	if err := removeOverlayDir(r.overlayDir); err != nil {
		return fmt.Errorf("container: remove overlay upper layer: %w", err)
	}
	return nil
}

// removeOverlayDir removes dir and everything in it. What the container
// made there is its own: directories without write or search permission
// (and the overlay's own work/work, mode 0) are opened up first, which a
// caller that is not root needs. Symbolic links are removed, never followed.
func removeOverlayDir(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() { // before WalkDir reads it
			unix.Fchmodat(unix.AT_FDCWD, p, 0o700, 0)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

// reapOverlays removes the overlay directories of owners that no longer run
// (a caller killed before Wait; its containers died with it). Live owners'
// are never touched. Best effort: what fails now is left for the next one.
func reapOverlays(parent string) {
	dirs, _ := filepath.Glob(filepath.Join(parent, overlayDirPrefix+"*"))
	for _, d := range dirs {
		rest := strings.TrimPrefix(filepath.Base(d), overlayDirPrefix)
		if tok, _, ok := strings.Cut(rest, "-"); ok && ownerGone(tok) { // net_linux.go
			removeOverlayDir(d)
		}
	}
}

// mountOverlay, in the init, mounts the overlay (see overlayInit) and leaves
// cfg.Rootfs naming it. Each directory is opened first and named by its
// descriptor, so that the option string holds no path the caller chose (no
// ',' or ':' to escape) and stays short with many layers.
func mountOverlay(cfg *initConfig) error {
	o := cfg.Overlay
	var fds []int
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	open := func(p string) (string, error) {
		fd, err := unix.Open(p, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return "", &SetupError{Op: "open overlay layer", Path: p, Err: err}
		}
		fds = append(fds, fd)
		return "/proc/self/fd/" + strconv.Itoa(fd), nil
	}
	var opts strings.Builder
	opts.WriteString("lowerdir=")
	for i, l := range o.Lowers {
		p, err := open(l)
		if err != nil {
			return err
		}
		if i > 0 {
			opts.WriteByte(':')
		}
		opts.WriteString(p)
	}
	volatile := o.Upper != ""
	if o.Upper == "" {
		// The lower layers are open: the tmpfs may cover the rootfs.
		if err := unix.Mount("tmpfs", cfg.Rootfs, "tmpfs", unix.MS_NOSUID, "mode=0700"); err != nil {
			return &SetupError{Op: "mount the overlay's tmpfs on", Path: cfg.Rootfs, Err: err}
		}
		base := cfg.Rootfs
		o.Upper, o.Work, cfg.Rootfs = base+"/upper", base+"/work", base+"/root"
		for _, d := range []string{o.Upper, o.Work, cfg.Rootfs} {
			if err := unix.Mkdir(d, 0o700); err != nil {
				return &SetupError{Op: "mkdir", Path: d, Err: err}
			}
		}
		if o.SetOwner {
			if err := unix.Chown(o.Upper, int(o.UID), int(o.GID)); err != nil {
				return &SetupError{Op: "chown", Path: o.Upper, Err: err}
			}
		}
		if err := unix.Chmod(o.Upper, o.Mode); err != nil {
			return &SetupError{Op: "chmod", Path: o.Upper, Err: err}
		}
	}
	upper, err := open(o.Upper)
	if err != nil {
		return err
	}
	work, err := open(o.Work)
	if err != nil {
		return err
	}
	// volatile: the upper layer on disk is thrown away, so the overlay need
	// not sync it, at every fsync and when the mount namespace goes (Linux
	// 5.10).
	opts.WriteString(",upperdir=" + upper + ",workdir=" + work)
	if volatile {
		opts.WriteString(",volatile")
	}
	if o.UserXattr {
		opts.WriteString(",userxattr")
	}
	if err := unix.Mount("overlay", cfg.Rootfs, "overlay", 0, opts.String()); err != nil {
		return &SetupError{Op: "mount overlay on", Path: cfg.Rootfs, Err: err}
	}
	return nil
}
