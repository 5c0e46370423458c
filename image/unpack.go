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
func (o *options) unpackAll(ctx context.Context, layers []v1.Layer, diffIDs []v1.Hash) ([]string, []*os.File, error) {
	dir := filepath.Join(o.cache, o.flavour())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("image: cache: %w", err)
	}
	// The container's init reads the layers, maybe as another user (a
	// mapped root): the cache must be searchable.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("image: cache: %w", err)
	}
	if len(layers) == 0 {
		empty := filepath.Join(dir, "empty")
		if err := os.Mkdir(empty, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, nil, fmt.Errorf("image: cache: %w", err)
		}
		return []string{empty}, nil, nil
	}
	p := &progress{f: o.progress, Progress: Progress{Layers: len(layers)}}
	dirs := make([]string, len(layers))
	locks := make([]*os.File, len(layers))
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
			dirs[i], locks[i], errs[i] = o.layer(ctx, dir, l, diff, p)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		closeAll(locks)
		return nil, nil, err
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
	return out, locks, nil
}

func closeAll(fs []*os.File) {
	for _, f := range fs {
		if f != nil {
			f.Close()
		}
	}
}

// layer returns the directory of layer l in the cache directory dir,
// unpacking it first unless it is there, and the layer's lock file, which
// holds a shared flock(2) for as long as the caller uses the layer (Prune
// removes no layer whose lock another holds). The unpacking is done under
// an exclusive lock, into a temporary directory renamed when complete.
func (o *options) layer(ctx context.Context, dir string, l v1.Layer, diff v1.Hash, p *progress) (string, *os.File, error) {
	if diff == (v1.Hash{}) {
		var err error
		if diff, err = l.DiffID(); err != nil {
			return "", nil, fmt.Errorf("image: layer diff id: %w", err)
		}
	}
	if diff.Algorithm != "sha256" || len(diff.Hex) != 64 || strings.Trim(diff.Hex, "0123456789abcdef") != "" {
		return "", nil, fmt.Errorf("image: layer diff id %q: want sha256 and 64 hex digits", diff)
	}
	key := "sha256-" + diff.Hex
	dst := filepath.Join(dir, key)
	lockPath := filepath.Join(dir, "."+key+".lock")
	unpacked := false
	for {
		lock, err := openLock(ctx, lockPath, unix.LOCK_SH)
		if errors.Is(err, errLockGone) {
			continue
		}
		if err != nil {
			return "", nil, fmt.Errorf("image: lock layer %s: %w", diff, err)
		}
		if _, err := os.Lstat(dst); err == nil {
			p.done(!unpacked)
			return dst, lock, nil
		}
		// Exclusive to unpack. flock converts a lock by releasing it
		// first: what held in between is checked again after.
		err = relock(ctx, lock, lockPath, unix.LOCK_EX)
		if err == nil {
			if _, serr := os.Lstat(dst); serr != nil { // no other one unpacked it meanwhile
				if uerr := o.unpackTo(ctx, dir, key, dst, l, diff, p); uerr != nil {
					lock.Close()
					return "", nil, uerr
				}
				unpacked = true
			}
			err = relock(ctx, lock, lockPath, unix.LOCK_SH)
		}
		if err == nil {
			if _, serr := os.Lstat(dst); serr == nil {
				p.done(!unpacked)
				return dst, lock, nil
			}
			// Pruned between the two locks: again.
		}
		lock.Close() // releases the lock
		if err != nil && !errors.Is(err, errLockGone) {
			return "", nil, fmt.Errorf("image: lock layer %s: %w", diff, err)
		}
	}
}

// unpackTo unpacks l into dst, with the layer's exclusive lock held.
func (o *options) unpackTo(ctx context.Context, dir, key, dst string, l v1.Layer, diff v1.Hash, p *progress) error {
	// Temporary directories of this layer are left by an unpacker that died
	// or a Prune: with the lock held, no live one uses them.
	stale, _ := filepath.Glob(filepath.Join(dir, ".tmp-"+key+"-*"))
	for _, s := range stale {
		removeTree(s)
	}
	tmp, err := os.MkdirTemp(dir, ".tmp-"+key+"-")
	if err != nil {
		return fmt.Errorf("image: cache: %w", err)
	}
	if err := o.unpackLayer(ctx, tmp, l, diff, p); err != nil {
		removeTree(tmp)
		return err
	}
	if err := syncfs(tmp); err != nil {
		removeTree(tmp)
		return fmt.Errorf("image: cache: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		removeTree(tmp)
		return fmt.Errorf("image: cache: %w", err)
	}
	if err := fsyncDir(dir); err != nil {
		return fmt.Errorf("image: cache: %w", err)
	}
	return nil
}

// errLockGone: the lock file was removed (by Prune) between its opening
// and its locking; the lock is on a file no one else will lock.
var errLockGone = errors.New("lock file removed")

// openLock opens (making it if missing) the lock file at path and locks it
// (how: unix.LOCK_SH or LOCK_EX), giving up when ctx is done.
func openLock(ctx context.Context, path string, how int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := relock(ctx, f, path, how); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// relock takes (or converts to) the lock how on f and checks that f is
// still the file at path: Prune removes a lock file with its layer, under
// the exclusive lock, so one locked after that is no one's lock
// (errLockGone).
func relock(ctx context.Context, f *os.File, path string, how int) error {
	if err := flock(ctx, f, how); err != nil {
		return err
	}
	var have, want unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &have); err != nil {
		return err
	}
	err := unix.Stat(path, &want)
	if errors.Is(err, unix.ENOENT) || err == nil && (have.Ino != want.Ino || have.Dev != want.Dev) {
		return errLockGone
	}
	return err
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

// flock takes the lock how on f, giving up when ctx is done.
func flock(ctx context.Context, f *os.File, how int) error {
	if err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB); err == nil || !errors.Is(err, unix.EWOULDBLOCK) {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- unix.Flock(int(f.Fd()), how) }()
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
