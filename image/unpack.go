package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// flavour names the way this caller unpacks, the cache's subdirectory: a
// layer unpacked as root with devices is not the same tree as one unpacked
// by uid 1000.
func (o *options) flavour() string {
	if uid := os.Geteuid(); uid != 0 {
		return "uid-" + strconv.Itoa(uid)
	}
	f := "root"
	if o.devices {
		f += "+devices"
	}
	if o.setuid {
		f += "+setuid"
	}
	if o.shift != nil {
		f += "+shift-" + strconv.FormatUint(uint64(o.shift[0]), 10) + "-" + strconv.FormatUint(uint64(o.shift[1]), 10)
	}
	return f
}

// unpackAll unpacks the layers (bottom first) that the cache does not hold
// yet, several at once, and returns their directories. Layers with the
// same diff id are one directory, which only the topmost occurrence needs
// (the same content again on top shows what it showed below).
//
// diffIDs, from the image's configuration, name the layers where given: a
// layer of some sources (an OCI layout) knows its diff id only by
// decompressing itself, which would cost a cached layer as much as
// unpacking it.
func (o *options) unpackAll(ctx context.Context, layers []v1.Layer, diffIDs []v1.Hash) ([]string, error) {
	dir := filepath.Join(o.cache, o.flavour())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("image: cache: %w", err)
	}
	// The container's init reads the layers, maybe as another user (a
	// mapped root): the cache must be searchable.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, fmt.Errorf("image: cache: %w", err)
	}
	if len(layers) == 0 {
		empty := filepath.Join(dir, "empty")
		if err := os.Mkdir(empty, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("image: cache: %w", err)
		}
		return []string{empty}, nil
	}
	p := &progress{f: o.progress, Progress: Progress{Layers: len(layers)}}
	dirs := make([]string, len(layers))
	errs := make([]error, len(layers))
	sem := make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))
	var wg sync.WaitGroup
	for i, l := range layers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			var diff v1.Hash
			if len(diffIDs) == len(layers) {
				diff = diffIDs[i]
			}
			dirs[i], errs[i] = o.layer(ctx, dir, l, diff, p)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for i := len(dirs) - 1; i >= 0; i-- {
		if !seen[dirs[i]] {
			seen[dirs[i]] = true
			out = append(out, dirs[i])
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// layer returns the directory of layer l in the cache directory dir,
// unpacking it first unless it is there: under an exclusive flock of its
// lock file, into a temporary directory renamed when complete.
func (o *options) layer(ctx context.Context, dir string, l v1.Layer, diff v1.Hash, p *progress) (string, error) {
	if diff == (v1.Hash{}) {
		var err error
		if diff, err = l.DiffID(); err != nil {
			return "", fmt.Errorf("image: layer diff id: %w", err)
		}
	}
	if diff.Algorithm != "sha256" || len(diff.Hex) != 64 || strings.Trim(diff.Hex, "0123456789abcdef") != "" {
		return "", fmt.Errorf("image: layer diff id %q: want sha256 and 64 hex digits", diff)
	}
	key := "sha256-" + diff.Hex
	dst := filepath.Join(dir, key)
	if _, err := os.Lstat(dst); err == nil {
		p.done(true)
		return dst, nil
	}
	lock, err := os.OpenFile(filepath.Join(dir, "."+key+".lock"), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return "", fmt.Errorf("image: cache: %w", err)
	}
	defer lock.Close() // releases the lock
	if err := flock(ctx, lock); err != nil {
		return "", fmt.Errorf("image: lock layer %s: %w", diff, err)
	}
	if _, err := os.Lstat(dst); err == nil { // another one unpacked it meanwhile
		p.done(true)
		return dst, nil
	}
	// Temporary directories of this layer are left by an unpacker that died:
	// with the lock held, no live one uses them.
	stale, _ := filepath.Glob(filepath.Join(dir, ".tmp-"+key+"-*"))
	for _, s := range stale {
		removeTree(s)
	}
	tmp, err := os.MkdirTemp(dir, ".tmp-"+key+"-")
	if err != nil {
		return "", fmt.Errorf("image: cache: %w", err)
	}
	if err := o.unpackLayer(ctx, tmp, l, diff, p); err != nil {
		removeTree(tmp)
		return "", err
	}
	if err := syncfs(tmp); err != nil {
		removeTree(tmp)
		return "", fmt.Errorf("image: cache: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		removeTree(tmp)
		return "", fmt.Errorf("image: cache: %w", err)
	}
	if err := fsyncDir(dir); err != nil {
		return "", fmt.Errorf("image: cache: %w", err)
	}
	p.done(false)
	return dst, nil
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

// fsyncDir writes dir's entries (a rename into it) to disk.
func fsyncDir(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Fsync(fd); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

// flock takes an exclusive lock on f, giving up when ctx is done.
func flock(ctx context.Context, f *os.File) error {
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err == nil || !errors.Is(err, unix.EWOULDBLOCK) {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- unix.Flock(int(f.Fd()), unix.LOCK_EX) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		// The blocked flock ends when the caller closes f.
		return ctx.Err()
	}
}

// unpackLayer writes l's tar stream into dir, checking that the stream is
// the one its diff id names.
func (o *options) unpackLayer(ctx context.Context, dir string, l v1.Layer, diff v1.Hash, p *progress) error {
	rc, err := l.Uncompressed()
	if err != nil {
		return fmt.Errorf("image: layer %s: %w", diff, err)
	}
	defer rc.Close()
	h := sha256.New()
	r := &countingReader{r: io.TeeReader(rc, h), p: p}
	if err := o.untar(ctx, dir, r); err != nil { // tar_linux.go
		return fmt.Errorf("image: layer %s: %w", diff, err)
	}
	if _, err := io.Copy(io.Discard, r); err != nil { // the stream's end, past the tar trailer
		return fmt.Errorf("image: layer %s: %w", diff, err)
	}
	r.flush()
	if got := hex.EncodeToString(h.Sum(nil)); got != diff.Hex {
		return fmt.Errorf("image: layer %s: its content has digest sha256:%s, not its diff id", diff, got)
	}
	return nil
}

// progress serialises WithProgress's calls.
type progress struct {
	mu sync.Mutex
	f  func(Progress)
	Progress
}

func (p *progress) done(cached bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.LayersDone++
	if cached {
		p.Cached++
	}
	if p.f != nil {
		p.f(p.Progress)
	}
}

func (p *progress) add(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.Bytes += n
	if p.f != nil {
		p.f(p.Progress)
	}
}

// countingReader reports what is read to progress every megabyte.
type countingReader struct {
	r       io.Reader
	p       *progress
	pending int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.pending += int64(n)
	if c.pending >= 1<<20 {
		c.flush()
	}
	return n, err
}

func (c *countingReader) flush() {
	if c.pending > 0 {
		c.p.add(c.pending)
		c.pending = 0
	}
}

// removeTree removes dir, making its directories writable and searchable
// first where it must (a layer's directory of mode 0555 holds files that a
// caller that is not root could not otherwise remove).
func removeTree(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			unix.Fchmodat(unix.AT_FDCWD, p, 0o700, 0)
		}
		return nil
	})
	return os.RemoveAll(dir)
}
