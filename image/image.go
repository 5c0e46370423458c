// Package image runs containers from OCI and Docker images: it reads an image
// from an OCI image layout directory, a docker save or podman save tarball
// (the Docker archive and the OCI archive formats) or a registry, unpacks its
// layers once into a content-addressed cache, and gives back what
// [container.New] needs to run it: the layers as the lower directories of a
// copy-on-write overlay ([container.WithOverlay]; no copy per container) and
// the image's configuration (Env, Entrypoint and Cmd, WorkingDir, User) as
// the container's defaults, which the caller's own options override, as
// docker run's flags do.
//
//	img, err := image.Load(ctx, "registry.example/ns/app:1.2")
//	if err != nil {
//		return err
//	}
//	c, err := img.New(nil, container.WithHostname("app")) // Entrypoint + Cmd
//
// Reading images is the work of github.com/google/go-containerregistry (its
// layout, tarball and remote packages): no manifest is parsed here. This
// package is apart from the root package because that module's package
// initialisation would otherwise run in every container's init (the init is
// the caller's own binary): a program that imports only the root package
// links none of it.
//
// # The cache
//
// Each layer is unpacked into a directory named by its diff id (the digest of
// its uncompressed tar stream, checked while unpacking: a layer that does not
// match fails and is not kept) below the cache directory (WithCache; default
// os.UserCacheDir()/ctrkit/image), in a subdirectory per way of unpacking
// ("root", "root+devices", "uid-1000", ...): a layer unpacked by one user or
// with other permissions is never used by another. Every container, in
// every process, that runs an image with that layer reads that one
// directory. Many goroutines and processes that need the same layer at
// once unpack it once: the first takes an exclusive flock(2) on the layer's
// lock file and unpacks to a temporary name that it renames when the layer
// is complete, so a half-unpacked layer is never used (a process killed
// midway leaves a temporary directory, which the next one to unpack the
// layer removes). Before the rename the file system is synced (syncfs(2)),
// and the cache directory after it, so a layer that has its name after a
// crash has its content too. An Image holds a shared flock on each of its
// layers' lock files until its Close; Prune removes the layers that no open
// Image holds and none is unpacking.
//
// # Unpacking a hostile layer
//
// A layer's tar stream may come from anyone. Every entry is created relative
// to the layer's directory, its parent resolved with openat2(2) and
// RESOLVE_IN_ROOT (a symbolic link in the layer, absolute or full of "..",
// resolves inside the layer, never outside it), and its own name never
// followed: a regular file is created anew (O_EXCL|O_NOFOLLOW, after
// removing what had the name), so no later entry writes through an earlier
// symbolic or hard link. Names with ".." that lead above the layer fail the
// unpack; absolute names are taken relative to the layer, as Docker takes
// them; a hard link's target is resolved inside the layer too. Whiteouts
// (".wh.NAME") become overlayfs whiteouts (0:0 character devices) and opaque
// markers (".wh..wh..opq") the opaque xattr: user.overlay.opaque (for an
// overlay in a user namespace, mounted with userxattr) and, as root,
// trusted.overlay.opaque. Extended attributes (PAX SCHILY.xattr.* records)
// of files and directories are kept by namespace: user.* always, trusted.*
// as root, a file capability (security.capability) only for a root caller
// that asks with WithSetuid; the overlay's own (user.overlay.*,
// trusted.overlay.*) and all others (SELinux labels, ACLs) are dropped, as
// are those of symbolic links and nodes. Device nodes are made only for a root caller
// that asks with WithDevices (other layers skip them), setuid and setgid bits
// of files are kept only for a root caller that asks with WithSetuid (setgid
// directories keep theirs). As root, files get the owners the stream names;
// a caller that is not root owns every file itself, which the container's
// user namespace maps to its root (or to the image's user: see
// Image.Options), so the image's other owners are not kept. Root running
// containers in a user namespace of their own shifts the owners into it
// with WithIDShift.
package image

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/ctrkit/container"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// An Option configures Load and FromImage.
type Option interface {
	apply(*options) error
}

type optionFunc func(*options) error

func (f optionFunc) apply(o *options) error { return f(o) }

type options struct {
	cache    string
	platform v1.Platform
	progress func(Progress)
	devices  bool
	setuid   bool
	shift    *[2]uint32 // WithIDShift: uid, gid
	remote   []remote.Option
}

// WithCache sets the cache directory the layers are unpacked into (made if
// missing). Default: os.UserCacheDir()/ctrkit/image. A container in a user
// namespace as root (container.WithUIDMap) reads the layers as its mapped
// root: every directory above the cache must let that user search it (a
// root's home directory does not).
func WithCache(dir string) Option {
	return optionFunc(func(o *options) error {
		if !filepath.IsAbs(dir) {
			return fmt.Errorf("image: WithCache %q: must be an absolute path", dir)
		}
		o.cache = filepath.Clean(dir)
		return nil
	})
}

// WithPlatform chooses the image for platform p from an index (a
// multi-platform image). Default: this machine's (linux and runtime.GOARCH,
// with the variant of GOARM for arm, v8 accepted on arm64).
func WithPlatform(p v1.Platform) Option {
	return optionFunc(func(o *options) error {
		if p.OS == "" || p.Architecture == "" {
			return fmt.Errorf("image: WithPlatform %v: needs an OS and an architecture", p)
		}
		o.platform = p
		return nil
	})
}

// WithProgress calls f as the layers are unpacked: after each
// megabyte of a layer's uncompressed stream, and when a layer is done or
// found in the cache. f is called from the goroutines that unpack, one at a
// time. Nothing is printed or logged otherwise.
func WithProgress(f func(Progress)) Option {
	return optionFunc(func(o *options) error {
		o.progress = f
		return nil
	})
}

// WithDevices makes the device nodes the layers hold (root only: Load fails
// for another caller). Without it they are skipped. A container opens no node
// of its root file system anyway (the device fence), but one given
// CAP_SYS_ADMIN, or another program reading the cache, could.
func WithDevices() Option {
	return optionFunc(func(o *options) error {
		if os.Geteuid() != 0 {
			return errors.New("image: WithDevices: device nodes need root")
		}
		o.devices = true
		return nil
	})
}

// WithSetuid keeps the setuid and setgid bits and the file capabilities
// (security.capability xattrs) of the layers' files (root only: Load fails
// for another caller). Without it the bits are cleared and the capabilities
// dropped, so no file of the cache runs with more privileges than its
// caller's on the host.
func WithSetuid() Option {
	return optionFunc(func(o *options) error {
		if os.Geteuid() != 0 {
			return errors.New("image: WithSetuid: setuid files need root")
		}
		o.setuid = true
		return nil
	})
}

// WithIDShift adds uid and gid to every owner the layers name (root only:
// Load fails for another caller), for containers whose user namespace maps
// the image's ids there: container.WithUIDMap(container.IDMap{ContainerID: 0,
// HostID: uid, Size: 65536}) and the same for gid. Without it such a
// container sees the image's files owned by ids it does not map (nobody),
// and cannot write through the overlay where they are. The shifted layers
// are a cache of their own.
func WithIDShift(uid, gid uint32) Option {
	return optionFunc(func(o *options) error {
		if os.Geteuid() != 0 {
			return errors.New("image: WithIDShift: owning files for other ids needs root")
		}
		o.shift = &[2]uint32{uid, gid}
		return nil
	})
}

// WithRemoteOptions passes options to go-containerregistry's remote package
// when the image comes from a registry (authentication, a transport, a
// user agent). The default authenticates with authn.DefaultKeychain (docker
// and podman's credential files).
func WithRemoteOptions(opts ...remote.Option) Option {
	return optionFunc(func(o *options) error {
		o.remote = append(o.remote, opts...)
		return nil
	})
}

// Progress is what WithProgress reports.
type Progress struct {
	Layers     int   // the image's layers
	LayersDone int   // unpacked or found in the cache
	Cached     int   // of LayersDone, found in the cache
	Bytes      int64 // uncompressed bytes unpacked so far
}

// Image is an image ready to run: its layers unpacked and its configuration.
type Image struct {
	// Digest is the digest of the image's manifest.
	Digest v1.Hash
	// Layers are the unpacked layers' directories, bottom first. Many
	// images and containers share them: they must not be written.
	Layers []string
	// Config is the image's run configuration.
	Config v1.Config

	uid, gid uint32 // Config.User resolved in the image
	userSet  bool

	mu     sync.Mutex
	locks  []*os.File // the layers' lock files, each with a shared flock
	closed bool
}

// Close releases the image's layers: Prune may remove them once no other
// Image (in any process) holds them. Close it after the Wait of the last
// container that runs it; New fails after Close. A process that exits
// releases its images, and with them their layers.
func (img *Image) Close() error {
	img.mu.Lock()
	defer img.mu.Unlock()
	var errs []error
	for _, f := range img.locks {
		if f != nil {
			errs = append(errs, f.Close())
		}
	}
	img.locks, img.closed = nil, true
	return errors.Join(errs...)
}

// Load reads the image src and unpacks its layers into the cache. src is an
// OCI image layout directory, a tarball written by docker save or podman
// save (a Docker archive with manifest.json, or an OCI archive: a layout in
// a tar), or a registry reference (registry.example/ns/name:tag,
// name@sha256:..., docker.io's names as docker takes them). A path that does
// not exist is an error, not a reference: name a relative layout or tarball
// with ./ first. From an index, the image for the platform is taken
// (WithPlatform). The Image holds its layers (one open file each) until
// Close. Load it once and start any number of containers from it: a start
// then costs the overlay's mount alone (see bench/README.md).
func Load(ctx context.Context, src string, opts ...Option) (*Image, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	img, cleanup, err := o.open(ctx, src)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	return o.load(ctx, img)
}

// FromImage unpacks img, from any source go-containerregistry reads (or
// builds: package mutate), into the cache. Close the Image as Load's.
func FromImage(ctx context.Context, img v1.Image, opts ...Option) (*Image, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	return o.load(ctx, img)
}

func newOptions(opts []Option) (*options, error) {
	o := &options{platform: hostPlatform()}
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("image: nil option")
		}
		if err := opt.apply(o); err != nil {
			return nil, err
		}
	}
	if o.cache == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("image: cache directory: %w (use WithCache)", err)
		}
		o.cache = filepath.Join(dir, "ctrkit", "image")
	}
	return o, nil
}

// hostPlatform is this machine's platform, as the Go toolchain names it.
func hostPlatform() v1.Platform {
	p := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if runtime.GOARCH == "arm" {
		p.Variant = "v7"
		if v := os.Getenv("GOARM"); v == "5" || v == "6" {
			p.Variant = "v" + v
		}
	}
	return p
}

// matches reports whether an index entry's platform runs here: the same OS
// and architecture, and the variant when both name one (arm64's v8 is the
// only one there is).
func matches(want v1.Platform, have *v1.Platform) bool {
	if have == nil {
		return false
	}
	if have.OS != want.OS || have.Architecture != want.Architecture {
		return false
	}
	return want.Variant == "" || have.Variant == "" || have.Variant == want.Variant
}

// open finds the image src names; cleanup removes what reading it needed
// (an OCI archive's blobs).
func (o *options) open(ctx context.Context, src string) (v1.Image, func(), error) {
	nothing := func() {}
	fi, err := os.Stat(src)
	switch {
	case err == nil && fi.IsDir():
		idx, err := layout.ImageIndexFromPath(src)
		if err != nil {
			return nil, nil, fmt.Errorf("image: %s: %w", src, err)
		}
		img, err := o.pick(idx)
		if err != nil {
			return nil, nil, fmt.Errorf("image: %s: %w", src, err)
		}
		return img, nothing, nil
	case err == nil:
		return o.openTar(src)
	case looksLikePath(src) || !errors.Is(err, os.ErrNotExist):
		return nil, nil, fmt.Errorf("image: %w", err)
	}
	ref, err := name.ParseReference(src)
	if err != nil {
		return nil, nil, fmt.Errorf("image: %q is no file and no reference: %w", src, err)
	}
	ropts := append([]remote.Option{remote.WithContext(ctx), remote.WithPlatform(o.platform),
		remote.WithAuthFromKeychain(authn.DefaultKeychain)}, o.remote...)
	img, err := remote.Image(ref, ropts...)
	if err != nil {
		return nil, nil, fmt.Errorf("image: %s: %w", src, err)
	}
	return img, nothing, nil
}

func looksLikePath(s string) bool {
	return strings.HasPrefix(s, "/") || strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") || s == "." || s == ".."
}

// pick takes the image for the platform from an index, descending into
// nested indexes; an index that holds a single image without a platform
// gives that one.
func (o *options) pick(idx v1.ImageIndex) (v1.Image, error) {
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var found []v1.Descriptor
	for _, d := range m.Manifests {
		if d.MediaType.IsIndex() {
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return nil, err
			}
			if img, err := o.pick(child); err == nil {
				return img, nil
			}
			continue
		}
		if d.MediaType.IsImage() && (matches(o.platform, d.Platform) || d.Platform == nil && len(m.Manifests) == 1) {
			found = append(found, d)
		}
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("no image for %s/%s%s in the index", o.platform.OS, o.platform.Architecture, variant(o.platform))
	}
	return idx.Image(found[0].Digest)
}

func variant(p v1.Platform) string {
	if p.Variant == "" {
		return ""
	}
	return "/" + p.Variant
}

// openTar reads a docker or podman save tarball: a Docker archive
// (manifest.json, which tarball reads in place) or an OCI archive (an OCI
// layout in a tar, whose blobs are copied to a temporary layout first).
func (o *options) openTar(path string) (v1.Image, func(), error) {
	kind, err := tarKind(path)
	if err != nil {
		return nil, nil, fmt.Errorf("image: %s: %w", path, err)
	}
	if kind == "docker" {
		img, err := tarball.ImageFromPath(path, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("image: %s: %w", path, err)
		}
		return img, func() {}, nil
	}
	if err := os.MkdirAll(o.cache, 0o755); err != nil {
		return nil, nil, fmt.Errorf("image: %w", err)
	}
	dir, err := os.MkdirTemp(o.cache, ".oci-archive-")
	if err != nil {
		return nil, nil, fmt.Errorf("image: %w", err)
	}
	cleanup := func() { os.RemoveAll(dir) }
	if err := extractLayout(path, dir); err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("image: %s: %w", path, err)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err == nil {
		var img v1.Image
		if img, err = o.pick(idx); err == nil {
			return img, cleanup, nil
		}
	}
	cleanup()
	return nil, nil, fmt.Errorf("image: %s: %w", path, err)
}

// tarKind tells a Docker archive ("docker": manifest.json, which docker
// save writes also next to an OCI layout since Docker 25) from an OCI archive
// ("oci": oci-layout and index.json alone).
func tarKind(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	oci := false
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("not a tar archive: %w", err)
		}
		switch strings.TrimPrefix(h.Name, "./") {
		case "manifest.json":
			return "docker", nil
		case "oci-layout":
			oci = true
		}
	}
	if oci {
		return "oci", nil
	}
	return "", errors.New("neither a Docker archive (manifest.json) nor an OCI archive (oci-layout)")
}

// extractLayout copies an OCI archive's oci-layout, index.json and blobs
// (regular files at blobs/ALGORITHM/HEX, nothing else) into dir.
func extractLayout(path, dir string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		n := strings.TrimPrefix(h.Name, "./")
		parts := strings.Split(n, "/")
		ok := n == "oci-layout" || n == "index.json" ||
			len(parts) == 3 && parts[0] == "blobs" && safeBlobName(parts[1]) && safeBlobName(parts[2])
		if !ok || h.Typeflag != tar.TypeReg {
			continue
		}
		dst := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, tr)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
}

func safeBlobName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '+' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return s != "." && s != ".."
}

// load unpacks img's layers and reads its configuration.
func (o *options) load(ctx context.Context, img v1.Image) (*Image, error) {
	digest, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("image: digest: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image: config: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("image: layers: %w", err)
	}
	dirs, locks, err := o.unpackAll(ctx, layers, cf.RootFS.DiffIDs) // unpack.go
	if err != nil {
		return nil, err
	}
	out := &Image{Digest: digest, Layers: dirs, Config: cf.Config, locks: locks}
	var env []string
	for _, kv := range out.Config.Env {
		if k, _, ok := strings.Cut(kv, "="); ok && k != "" && !strings.ContainsRune(kv, 0) {
			env = append(env, kv)
		}
	}
	out.Config.Env = env
	if u := out.Config.User; u != "" {
		uid, gid, err := resolveUser(dirs, u)
		if err != nil {
			out.Close()
			return nil, fmt.Errorf("image: user %q: %w", u, err)
		}
		out.uid, out.gid, out.userSet = uid, gid, true
	}
	return out, nil
}

// Rootfs is the rootfs argument of container.New for the image: its bottom
// layer (the others are Options' overlay layers).
func (img *Image) Rootfs() string { return img.Layers[0] }

// Options are the container options that run the image: a copy-on-write
// overlay of its layers (container.WithOverlay) and its configuration's Env,
// WorkingDir and User. Options given after them override them, as docker
// run's flags override the image's: a later WithEnv replaces the variables
// it names and keeps the others, a later WithDir or WithUser replaces the
// image's. For a caller that is not root, the image's user becomes the id
// the caller is mapped to, so the layers' files (the caller's) are that
// user's in the container.
func (img *Image) Options() []container.Option {
	opts := []container.Option{container.WithOverlay(img.Layers[1:]...)}
	if len(img.Config.Env) > 0 {
		opts = append(opts, container.WithEnv(img.Config.Env...))
	}
	if img.Config.WorkingDir != "" {
		opts = append(opts, container.WithDir(img.Config.WorkingDir))
	}
	if img.userSet {
		opts = append(opts, container.WithUser(img.uid, img.gid))
	}
	return opts
}

// Args is the command line the image runs with cmd: its Entrypoint followed
// by cmd, or by its Cmd when cmd is empty, as docker run's arguments replace
// the image's Cmd and keep its Entrypoint. To run without the Entrypoint,
// pass container.New the command itself.
func (img *Image) Args(cmd []string) []string {
	if len(cmd) == 0 {
		cmd = img.Config.Cmd
	}
	return append(append([]string(nil), img.Config.Entrypoint...), cmd...)
}

// New returns a container that runs the image: container.New with the
// image's Rootfs, Args(cmd), and Options followed by opts.
func (img *Image) New(cmd []string, opts ...container.Option) (*container.Container, error) {
	img.mu.Lock()
	closed := img.closed
	img.mu.Unlock()
	if closed {
		return nil, errors.New("image: New after Close: the layers may be pruned")
	}
	return container.New(img.Rootfs(), img.Args(cmd), append(img.Options(), opts...)...)
}
