package image

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// untar writes the tar stream r into dir, a new empty directory, as
// described in the package documentation (Unpacking a hostile layer).
func (o *options) untar(ctx context.Context, dir string, r io.Reader) error {
	root, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(root)
	u := &untarrer{root: root, asRoot: os.Geteuid() == 0, devices: o.devices, setuid: o.setuid,
		meta: map[string]dirMeta{".": {mode: 0o755}}}
	if o.shift != nil {
		u.uidShift, u.gidShift = int(o.shift[0]), int(o.shift[1])
		u.meta["."] = dirMeta{mode: 0o755, uid: u.uidShift, gid: u.gidShift}
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := u.entry(h, tr); err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
	}
	return u.finishDirs()
}

type untarrer struct {
	root                    int // the layer's directory, O_PATH
	asRoot, devices, setuid bool
	meta                    map[string]dirMeta // directories' final metadata, applied last
	order                   []string
	uidShift, gidShift      int // WithIDShift
}

type dirMeta struct {
	mode     uint32
	uid, gid int
	mtime    unix.Timespec
	set      bool // from an entry (not a parent made for one)
	xattrs   []xattr
}

type xattr struct{ name, value string }

// xattrPrefix marks a PAX record that holds an extended attribute
// (SCHILY.xattr.NAME=VALUE, as GNU tar, Docker and BuildKit write them).
const xattrPrefix = "SCHILY.xattr."

// xattrs are the extended attributes of the entry that its file gets, in
// name order (see the package documentation): user.* always, trusted.* as
// root, security.capability as root with WithSetuid, none of the overlay's
// own (user.overlay.*, trusted.overlay.*: a layer does not forge the
// overlay's redirects or whiteouts), nothing else (SELinux labels, ACLs,
// IMA signatures are the host's to set).
func (u *untarrer) xattrs(h *tar.Header) []xattr {
	var out []xattr
	for k, v := range h.PAXRecords {
		n, ok := strings.CutPrefix(k, xattrPrefix)
		if !ok || !u.keepXattr(n) {
			continue
		}
		out = append(out, xattr{n, v})
	}
	slices.SortFunc(out, func(a, b xattr) int { return strings.Compare(a.name, b.name) })
	return out
}

func (u *untarrer) keepXattr(n string) bool {
	switch {
	case strings.HasPrefix(n, "user.overlay.") || strings.HasPrefix(n, "trusted.overlay."):
		return false
	case strings.HasPrefix(n, "user."):
		return len(n) > len("user.")
	case strings.HasPrefix(n, "trusted."):
		return u.asRoot && len(n) > len("trusted.")
	case n == "security.capability":
		return u.asRoot && u.setuid
	}
	return false
}

// setXattrs gives the open file fd the attributes, after its owner and
// mode (a change of owner clears security.capability).
func setXattrs(fd int, xs []xattr) error {
	for _, x := range xs {
		if err := unix.Fsetxattr(fd, x.name, []byte(x.value), 0); err != nil {
			return fmt.Errorf("set xattr %s: %w", x.name, err)
		}
	}
	return nil
}

var errEscape = errors.New("the name leads out of the layer")

// cleanName is the entry's path relative to the layer's directory: absolute
// names are taken relative to it (as Docker takes them), names that lead
// above it with ".." are refused.
func cleanName(n string) (string, error) {
	c := path.Clean(strings.TrimLeft(n, "/"))
	if c == ".." || strings.HasPrefix(c, "../") {
		// Refused rather than clamped: no tar a build writes has them.
		return "", errEscape
	}
	return c, nil // "." for the layer's own directory
}

const resolveIn = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV

// parent opens the directory that holds name (resolved inside the layer:
// RESOLVE_IN_ROOT), making missing directories on the way, and returns it
// with name's last element.
func (u *untarrer) parent(name string, create bool) (int, string, error) {
	dir, base := path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		dir = "."
	}
	fd, err := unix.Openat2(u.root, dir, &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: resolveIn})
	if errors.Is(err, unix.ENOENT) && create {
		if err := u.mkdirAll(dir); err != nil {
			return -1, "", err
		}
		fd, err = unix.Openat2(u.root, dir, &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: resolveIn})
	}
	if err != nil {
		return -1, "", fmt.Errorf("open parent directory %s: %w", dir, err)
	}
	return fd, base, nil
}

// mkdirAll makes the missing directories of dir, as tar does, mode 0755
// owned by root unless an entry says otherwise.
func (u *untarrer) mkdirAll(dir string) error {
	cur := u.root
	defer func() {
		if cur != u.root {
			unix.Close(cur)
		}
	}()
	done := ""
	for _, el := range strings.Split(dir, "/") {
		done = path.Join(done, el)
		err := unix.Mkdirat(cur, el, 0o700)
		if err == nil {
			u.record(done, dirMeta{mode: 0o755, uid: u.uidShift, gid: u.gidShift})
		} else if !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("mkdir %s: %w", done, err)
		}
		next, err := unix.Openat2(u.root, done, &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: resolveIn})
		if err != nil {
			return fmt.Errorf("open %s: %w", done, err)
		}
		if cur != u.root {
			unix.Close(cur)
		}
		cur = next
	}
	return nil
}

func (u *untarrer) record(name string, m dirMeta) {
	if _, ok := u.meta[name]; !ok {
		u.order = append(u.order, name)
	}
	u.meta[name] = m
}

func (u *untarrer) entry(h *tar.Header, r io.Reader) error {
	name, err := cleanName(h.Name)
	if err != nil {
		return err
	}
	if name == "." {
		if h.Typeflag == tar.TypeDir {
			u.record(".", u.dirMeta(h))
		}
		return nil
	}
	pfd, base, err := u.parent(name, true)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)

	// Whiteouts.
	if base == ".wh..wh..opq" {
		return u.opaque(pfd)
	}
	if strings.HasPrefix(base, ".wh..wh.") { // aufs's own (.wh..wh.plnk, .wh..wh.aufs)
		return nil
	}
	if hidden, ok := strings.CutPrefix(base, ".wh."); ok {
		if hidden == "" || hidden == "." || hidden == ".." || strings.Contains(hidden, "/") {
			return errors.New("malformed whiteout")
		}
		if err := removeAt(pfd, hidden, false); err != nil {
			return err
		}
		return unix.Mknodat(pfd, hidden, unix.S_IFCHR, 0)
	}

	switch h.Typeflag {
	case tar.TypeDir:
		var st unix.Stat_t
		if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			if err := removeAt(pfd, base, false); err != nil {
				return err
			}
		}
		if err := unix.Mkdirat(pfd, base, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
			return err
		}
		u.record(name, u.dirMeta(h))
		return nil
	case tar.TypeReg, tar.TypeRegA: //nolint:staticcheck // TypeRegA: old tars
		if err := removeAt(pfd, base, false); err != nil {
			return err
		}
		fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return err
		}
		f := os.NewFile(uintptr(fd), base)
		_, err = io.Copy(f, r)
		if err == nil {
			err = u.fileMeta(fd, h)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	case tar.TypeSymlink:
		if err := removeAt(pfd, base, false); err != nil {
			return err
		}
		if err := unix.Symlinkat(h.Linkname, pfd, base); err != nil {
			return err
		}
		return u.linkMeta(pfd, base, h)
	case tar.TypeLink:
		target, err := cleanName(h.Linkname)
		if err != nil {
			return fmt.Errorf("hard link to %s: %w", h.Linkname, err)
		}
		if target == name {
			return nil
		}
		tfd, tbase, err := u.parent(target, false)
		if err != nil {
			return fmt.Errorf("hard link to %s: %w", h.Linkname, err)
		}
		defer unix.Close(tfd)
		if err := removeAt(pfd, base, false); err != nil {
			return err
		}
		// Without AT_SYMLINK_FOLLOW: a link to a symbolic link is another
		// symbolic link, never its target.
		if err := unix.Linkat(tfd, tbase, pfd, base, 0); err != nil {
			return fmt.Errorf("hard link to %s: %w", h.Linkname, err)
		}
		return nil
	case tar.TypeChar, tar.TypeBlock:
		whiteout := h.Typeflag == tar.TypeChar && h.Devmajor == 0 && h.Devminor == 0
		if !whiteout && !(u.asRoot && u.devices) {
			return nil // skipped (WithDevices)
		}
		if err := removeAt(pfd, base, false); err != nil {
			return err
		}
		mode := uint32(unix.S_IFCHR)
		if h.Typeflag == tar.TypeBlock {
			mode = unix.S_IFBLK
		}
		if err := unix.Mknodat(pfd, base, mode|uint32(h.Mode)&0o777, int(unix.Mkdev(uint32(h.Devmajor), uint32(h.Devminor)))); err != nil {
			return err
		}
		return u.linkMeta(pfd, base, h)
	case tar.TypeFifo:
		if err := removeAt(pfd, base, false); err != nil {
			return err
		}
		if err := unix.Mknodat(pfd, base, unix.S_IFIFO|uint32(h.Mode)&0o777, 0); err != nil {
			return err
		}
		return u.linkMeta(pfd, base, h)
	}
	return nil // pax headers are read by archive/tar; other types are not files
}

func (u *untarrer) dirMeta(h *tar.Header) dirMeta {
	return dirMeta{mode: uint32(h.Mode) & 0o7777, uid: h.Uid + u.uidShift, gid: h.Gid + u.gidShift, mtime: unix.NsecToTimespec(h.ModTime.UnixNano()), set: true,
		xattrs: u.xattrs(h)}
}

// perm is the mode a file gets: setuid and setgid only with WithSetuid.
func (u *untarrer) perm(h *tar.Header) uint32 {
	m := uint32(h.Mode) & 0o7777
	if !(u.asRoot && u.setuid) {
		m &^= unix.S_ISUID | unix.S_ISGID
	}
	return m
}

// fileMeta sets an open regular file's owner (root), mode, extended
// attributes and times.
func (u *untarrer) fileMeta(fd int, h *tar.Header) error {
	if u.asRoot {
		if err := unix.Fchown(fd, h.Uid+u.uidShift, h.Gid+u.gidShift); err != nil {
			return err
		}
	}
	if err := unix.Fchmod(fd, u.perm(h)); err != nil {
		return err
	}
	if err := setXattrs(fd, u.xattrs(h)); err != nil {
		return err
	}
	return unix.UtimesNanoAt(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), times(h), 0)
}

// linkMeta sets the owner and times of a symbolic link or node, not
// following it.
func (u *untarrer) linkMeta(pfd int, base string, h *tar.Header) error {
	if u.asRoot {
		if err := unix.Fchownat(pfd, base, h.Uid+u.uidShift, h.Gid+u.gidShift, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
	}
	return unix.UtimesNanoAt(pfd, base, times(h), unix.AT_SYMLINK_NOFOLLOW)
}

func times(h *tar.Header) []unix.Timespec {
	m := unix.NsecToTimespec(h.ModTime.UnixNano())
	a := m
	if !h.AccessTime.IsZero() {
		a = unix.NsecToTimespec(h.AccessTime.UnixNano())
	}
	return []unix.Timespec{a, m}
}

// opaque marks the directory pfd opaque for overlayfs: user.overlay.opaque
// (an overlay mounted with userxattr, in a user namespace) and, as root,
// trusted.overlay.opaque.
func (u *untarrer) opaque(pfd int) error {
	fd, err := unix.Openat(pfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if u.asRoot {
		if err := unix.Fsetxattr(fd, "trusted.overlay.opaque", []byte("y"), 0); err != nil {
			return fmt.Errorf("opaque directory: %w", err)
		}
	}
	if err := unix.Fsetxattr(fd, "user.overlay.opaque", []byte("y"), 0); err != nil {
		return fmt.Errorf("opaque directory: %w", err)
	}
	return nil
}

// removeAt removes what is named base in pfd, if anything: a directory with
// everything in it, unless keepDir and it is one.
func removeAt(pfd int, base string, keepDir bool) error {
	var st unix.Stat_t
	err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return unix.Unlinkat(pfd, base, 0)
	}
	if keepDir {
		return nil
	}
	// The directory by its descriptor's path: nothing in it is followed.
	if err := removeTree("/proc/self/fd/" + strconv.Itoa(pfd) + "/" + base); err != nil {
		return err
	}
	return nil
}

// finishDirs gives the directories their modes, owners and times, deepest
// first (making entries in a directory changes its time), each opened
// inside the layer without following any symbolic link.
func (u *untarrer) finishDirs() error {
	names := append([]string{"."}, u.order...)
	slices.SortStableFunc(names, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	for _, n := range names {
		m := u.meta[n]
		fd, err := unix.Openat2(u.root, n, &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC,
			Resolve: resolveIn | unix.RESOLVE_NO_SYMLINKS})
		if err != nil {
			continue // replaced by a later entry
		}
		err = u.applyDir(fd, m)
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
	}
	return nil
}

func (u *untarrer) applyDir(fd int, m dirMeta) error {
	if u.asRoot {
		if err := unix.Fchown(fd, m.uid, m.gid); err != nil {
			return err
		}
	}
	mode := m.mode
	if !(u.asRoot && u.setuid) {
		mode &^= unix.S_ISUID // setgid directories only pass their group on
	}
	if err := unix.Fchmod(fd, mode); err != nil {
		return err
	}
	if err := setXattrs(fd, m.xattrs); err != nil {
		return err
	}
	if !m.set {
		return nil
	}
	return unix.UtimesNanoAt(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), []unix.Timespec{m.mtime, m.mtime}, 0)
}

// syncfs writes the file system that holds dir to disk: the layer's files
// and directories are there before the rename publishes them, so a crash
// never leaves a layer whose name is in the cache and whose files are
// empty. One syncfs(2) rather than an fsync(2) of each of a layer's
// thousands of files and directories (see bench/README.md).
func syncfs(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Syncfs(fd); err != nil {
		return fmt.Errorf("syncfs %s: %w", dir, err)
	}
	return nil
}
