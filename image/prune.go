package image

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Prune removes from the cache (WithCache; the other options do not
// matter) every layer that no Image holds, in this process or another, and
// returns the directories it removed. A layer is held from the Load or
// FromImage that returned its Image until that Image's Close (a shared
// flock(2) on the layer's lock file); a layer being unpacked is held
// exclusively. Prune takes each layer's lock exclusively without waiting,
// and skips the layer when another holds it: so it never removes a layer a
// container runs on while its Image is open, nor one that is being
// unpacked. A removed layer is renamed to a temporary name first, so a
// Prune killed midway leaves no half-removed layer under the layer's name.
// Prune removes the caller's own layers only: root's for root (every
// combination of WithDevices, WithSetuid and WithIDShift), its own for
// another user.
func Prune(opts ...Option) ([]string, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(o.cache)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("image: prune: %w", err)
	}
	mine := func(f string) bool { return f == "root" || strings.HasPrefix(f, "root+") }
	if uid := os.Geteuid(); uid != 0 {
		own := "uid-" + strconv.Itoa(uid)
		mine = func(f string) bool { return f == own }
	}
	var removed []string
	var errs []error
	for _, e := range ents {
		if !e.IsDir() || !mine(e.Name()) {
			continue
		}
		r, err := pruneDir(filepath.Join(o.cache, e.Name()))
		removed = append(removed, r...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return removed, errors.Join(errs...)
}

// pruneDir prunes one flavour's directory: its layers (sha256-HEX) and lock
// files (.sha256-HEX.lock) that no one holds.
func pruneDir(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("image: prune: %w", err)
	}
	keys := map[string]bool{}
	var order []string
	for _, e := range ents {
		n := e.Name()
		if k, ok := strings.CutSuffix(strings.TrimPrefix(n, "."), ".lock"); ok && strings.HasPrefix(n, ".sha256-") {
			n = k
		}
		if strings.HasPrefix(n, "sha256-") && !keys[n] {
			keys[n] = true
			order = append(order, n)
		}
	}
	var removed []string
	var errs []error
	for _, key := range order {
		gone, err := pruneLayer(dir, key)
		if gone {
			removed = append(removed, filepath.Join(dir, key))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("image: prune %s: %w", filepath.Join(dir, key), err))
		}
	}
	return removed, errors.Join(errs...)
}

// pruneLayer removes the layer key and its lock file unless someone holds
// the lock, and reports whether it removed a layer.
func pruneLayer(dir, key string) (bool, error) {
	lockPath := filepath.Join(dir, "."+key+".lock")
	lock, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return false, err
	}
	defer lock.Close() // releases the lock
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return false, nil // in use, or being unpacked
		}
		return false, err
	}
	var have, want unix.Stat_t
	if err := unix.Fstat(int(lock.Fd()), &have); err != nil {
		return false, err
	}
	err = unix.Stat(lockPath, &want)
	if errors.Is(err, unix.ENOENT) || err == nil && (have.Ino != want.Ino || have.Dev != want.Dev) {
		return false, nil // another Prune removed it meanwhile
	}
	if err != nil {
		return false, err
	}
	dst := filepath.Join(dir, key)
	gone := false
	if _, err := os.Lstat(dst); err == nil {
		// The temporary name is one the next unpacker of the layer removes
		// if this one dies before it has.
		tmp := filepath.Join(dir, ".tmp-"+key+"-pruned-"+strconv.Itoa(os.Getpid()))
		if err := os.Rename(dst, tmp); err != nil {
			return false, err
		}
		gone = true
		if err := removeTree(tmp); err != nil {
			return true, err
		}
	}
	// Left by an unpacker that died: no live one holds the lock.
	stale, _ := filepath.Glob(filepath.Join(dir, ".tmp-"+key+"-*"))
	for _, s := range stale {
		if err := removeTree(s); err != nil {
			return gone, err
		}
	}
	// Last, with the lock still held: whoever opened the file meanwhile finds
	// it gone once it has locked it (relock), and opens a new one.
	if err := os.Remove(lockPath); err != nil {
		return gone, err
	}
	return gone, nil
}
