package container

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/cgroups/v3"
	"github.com/ctrkit/container/internal/devices"
	"golang.org/x/sys/unix"
)

// cgroupRoot is where the host's cgroup file systems are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// Teardown is bounded: killing a cgroup's processes and removing it gives up
// after teardownTimeout (a process stuck in the kernel may not die at once),
// polling every retryDelay.
const (
	teardownTimeout = 5 * time.Second
	retryDelay      = 5 * time.Millisecond
)

// cgroupState is the parent's handle on the container's cgroup: one directory
// per v1 hierarchy the limits need, or one v2 directory.
type cgroupState struct {
	name   string
	limits limitsConfig
	v2     bool
	dirs   map[string]string // v1: controller → directory; v2: "" → directory
	dirFD  *os.File          // v2 (hybrid: the unified one): the directory, for clone's CgroupFD; closed after the clone
	// placedV1: the init was born in its v1 cgroups (startInV1).
	placedV1 bool

	// rootless: the caller is not root, so its v2 cgroup must be delegated
	// to its uid (delegatee), who may then move its processes into a leaf.
	rootless  bool
	delegatee uint32

	mu      sync.Mutex // serialises kill, remove and Stats
	removed bool
	final   Stats // read just before removal
}

// procDir returns the directory that lists the container's processes: the
// freezer's on v1 (always present), the cgroup itself on v2.
func (s *cgroupState) procDir() string {
	if s.v2 {
		return s.dirs[""]
	}
	if d, ok := s.dirs["freezer"]; ok {
		return d
	}
	return s.dirs[unifiedKey] // the view's cgroup alone
}

// createCgroup creates the container's cgroup before the clone when a limit
// asks for one: a child of the caller's own cgroup in each hierarchy the limits
// need, named after the container and its owner, with the limits written. It
// first removes cgroups that dead owners left behind.
func (r *running) createCgroup(c *config, icfg *initConfig, rel *releaser) error {
	if !c.limits.wantsCgroup() {
		return nil
	}
	start, err := ownStartTime()
	if err != nil {
		return fmt.Errorf("container: create cgroup: %w", err)
	}
	s := &cgroupState{name: cgroupName(os.Getpid(), start, r.id), limits: c.limits, rootless: c.rootless, delegatee: c.hostUID}
	mode := cgroups.Mode()
	switch {
	case c.limits.path != "" && mode != cgroups.Unavailable:
		err = s.createAt(mode == cgroups.Unified, c.limits.path) // WithCgroupPath
	case mode == cgroups.Unified:
		s.v2 = true
		reapOrphansV2(cgroupRoot)
		err = s.createV2(cgroupRoot)
	case mode == cgroups.Legacy && !c.limits.needsCgroup():
		// The view alone: no cgroup2 hierarchy here for it, and v1 ones
		// per controller would cost a cgroup in each.
		return nil
	case mode == cgroups.Legacy, mode == cgroups.Hybrid:
		if mode == cgroups.Legacy {
			s.limits.autoView = false // no unified hierarchy to show
		}
		// Every hierarchy for a cgroup a limit asked for; only the unified
		// one for the view's alone (every container's: no 16 readdirs on
		// the path of each default Start).
		hierarchies := append(v1ControllerNames, unifiedKey)
		if !c.limits.needsCgroup() {
			hierarchies = []string{unifiedKey}
		}
		reapOrphansV1(hierarchies)
		err = s.createV1()
	default:
		err = errors.New("no cgroup file system mounted at " + cgroupRoot)
	}
	if s.dirs != nil {
		rel.add(func() { s.teardown() })
	}
	if err != nil && !c.limits.needsCgroup() {
		// The view's cgroup alone is best effort: without it the init hides
		// /sys/fs/cgroup (an empty CgroupView).
		s.teardown()
		return nil
	}
	if err != nil {
		// Without root, a cgroup that cannot be made means none was delegated.
		if c.rootless && mode != cgroups.Unified && c.limits.path == "" {
			return fmt.Errorf("container: resource limits: %w: %w (the limits of this host are in cgroup v1 hierarchies, which are not delegated to users: run as root, or on a cgroup v2 host in a cgroup delegated to uid %d, e.g. %s)",
				ErrNeedRoot, err, c.hostUID, delegateHint)
		}
		if c.rootless || errors.Is(err, fs.ErrPermission) || errors.Is(err, unix.EROFS) {
			return fmt.Errorf("container: resource limits: %w: %w", ErrNeedRoot, err)
		}
		return fmt.Errorf("container: create cgroup: %w", err)
	}
	r.cg = s
	if c.limits.autoView {
		icfg.CgroupView = s.viewKeys()
		if !s.v2 && c.nsPaths[NSMount] == "" {
			icfg.CgroupMounts = ownViewMounts(icfg.CgroupView)
		}
	}
	return nil
}

// ownViewMounts is viewMounts of the caller's mount table (ownLayout), kept
// per view: the init's mount namespace is a copy of it, so the init need not
// read and parse its /proc/self/mountinfo (2 % of a default container's CPU
// on a hybrid host). Nil when the layout cannot be read: the init reads its own.
func ownViewMounts(view []string) []cgroupViewMount {
	key := strings.Join(view, ",")
	if v, ok := viewMountsOf.Load(key); ok {
		return v.([]cgroupViewMount)
	}
	l, err := ownLayout()
	if err != nil {
		return nil
	}
	v := viewMounts(l.mountinfo, view)
	viewMountsOf.Store(key, v)
	return v
}

// viewMountsOf holds ownViewMounts's answers, by the view's keys joined with ",".
var viewMountsOf sync.Map

// viewKeys lists what the init shows of the container's cgroups at
// /sys/fs/cgroup: "" for a v2 host's cgroup, otherwise each v1 controller it
// has a cgroup in, and unifiedKey.
func (s *cgroupState) viewKeys() []string {
	if s.v2 {
		return []string{""}
	}
	keys := make([]string, 0, len(s.dirs))
	for k := range s.dirs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// createV1 creates the cgroup in each v1 hierarchy the limits need, nested under
// the caller's own cgroup there, and writes the limits.
func (s *cgroupState) createV1() error {
	parents, err := ownV1Parents(s.limits.v1Controllers())
	if err != nil {
		return err
	}
	s.dirs = map[string]string{}
	made := map[string]bool{} // co-mounted controllers (cpu,cpuacct) share a directory
	for c, parent := range parents {
		dir := filepath.Join(parent, s.name)
		if !made[dir] {
			if err := os.Mkdir(dir, 0o755); err != nil {
				return err
			}
			made[dir] = true
		}
		s.dirs[c] = dir // registered for removal as soon as it exists
	}
	if err := s.writeLimits(); err != nil {
		return err
	}
	return s.openUnified()
}

// openUnified opens the container's cgroup in the unified hierarchy (cgroup2)
// of a hybrid host, if it has one, for CLONE_INTO_CGROUP: the init lands
// there as on a v2 host. Moving it there after the clone (a write to
// cgroup.procs) is a migration, which takes the kernel's
// cgroup_threadgroup_rwsem for writing: with the view's cgroup alone that
// was 12 % of a default container's time in a loop (PROFILE.md, part 6).
func (s *cgroupState) openUnified() error {
	dir, ok := s.dirs[unifiedKey]
	if !ok {
		return nil
	}
	f, err := os.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	s.dirFD = f
	return nil
}

// writeLimits writes the limits into the container's new cgroup directories,
// rendered for what the host has.
func (s *cgroupState) writeLimits() error {
	h, err := s.probeHost(true)
	if err != nil {
		return err
	}
	var files []cgroupFile
	if s.v2 {
		files, err = s.limits.v2Files(h)
	} else {
		files, err = s.limits.v1Files(h)
	}
	if err != nil {
		return err
	}
	return s.writeFiles(files)
}

// probeHost looks at the container's cgroup directories for what the
// rendering of the limits needs to know. For a new cgroup (create), it also
// gives the v1 cpuset's ancestors CPUs and memory nodes where they have none,
// and takes the parent's for the rendering.
func (s *cgroupState) probeHost(create bool) (cgroupHost, error) {
	var h cgroupHost
	if create {
		h.initReserve = initReserve(runtime.NumCPU())
	}
	has := func(dir, name string) bool {
		if dir == "" {
			return false
		}
		_, err := os.Stat(filepath.Join(dir, name))
		return err == nil
	}
	if len(s.limits.res.HugepageLimits) > 0 {
		h.hugepageSizes = hugepageSizes()
	}
	if s.v2 {
		dir := s.dirs[""]
		h.swap = has(dir, "memory.swap.max")
		switch {
		case has(dir, "io.bfq.weight"):
			h.blkioWeight = "io.bfq.weight"
		case has(dir, "io.weight"):
			h.blkioWeight = "io.weight"
		}
		if !create && s.limits.res.CPUPeriod > 0 && s.limits.cpu == 0 {
			b, err := os.ReadFile(filepath.Join(dir, "cpu.max"))
			if err != nil {
				return h, err
			}
			h.cpuMaxQuota, _, _ = strings.Cut(strings.TrimSpace(string(b)), " ")
		}
		return h, nil
	}
	h.swap = has(s.dirs["memory"], "memory.memsw.limit_in_bytes")
	h.realtime = has(s.dirs["cpu"], "cpu.rt_runtime_us")
	if b := s.dirs["blkio"]; b != "" {
		switch {
		case has(b, "blkio.weight"):
			h.blkioWeight = "blkio.weight"
		case has(b, "blkio.bfq.weight"):
			h.blkioWeight = "blkio.bfq.weight"
		}
		h.blkioLeaf = has(b, "blkio.leaf_weight")
	}
	if d := s.dirs["cpuset"]; create && d != "" {
		var err error
		if h.parentCPUs, h.parentMems, err = fillCpuset(filepath.Dir(d)); err != nil {
			return h, fmt.Errorf("cgroup v1 cpuset of %s: %w", filepath.Dir(d), err)
		}
	}
	return h, nil
}

// fillCpuset makes sure the v1 cpuset cgroup dir and its ancestors have CPUs
// and memory nodes, copying each that is empty from its parent, top down, as
// runc does: a cgroup made by mkdir starts with none, and no task can join it
// or any cgroup below it until it has. It returns dir's.
func fillCpuset(dir string) (cpus, mems string, err error) {
	var empty []string
	for d := dir; ; d = filepath.Dir(d) {
		c, m, err := readCpuset(d)
		if err != nil {
			return "", "", err
		}
		if c != "" && m != "" {
			cpus, mems = c, m
			break
		}
		if d == filepath.Dir(d) {
			return "", "", errors.New("no cgroup above it has CPUs and memory nodes")
		}
		empty = append(empty, d)
	}
	for i := len(empty) - 1; i >= 0; i-- {
		d := empty[i]
		c, m, err := readCpuset(d)
		if err != nil {
			return "", "", err
		}
		for _, f := range []struct{ name, own, parent string }{{"cpuset.cpus", c, cpus}, {"cpuset.mems", m, mems}} {
			if f.own == "" {
				if err := os.WriteFile(filepath.Join(d, f.name), []byte(f.parent), 0); err != nil {
					return "", "", fmt.Errorf("copy the parent's %s to %s: %w", f.name, d, err)
				}
			}
		}
		if c != "" {
			cpus = c
		}
		if m != "" {
			mems = m
		}
	}
	return cpus, mems, nil
}

func readCpuset(dir string) (cpus, mems string, err error) {
	c, err := os.ReadFile(filepath.Join(dir, "cpuset.cpus"))
	if err != nil {
		return "", "", err
	}
	m, err := os.ReadFile(filepath.Join(dir, "cpuset.mems"))
	if err != nil {
		return "", "", err
	}
	return strings.TrimSpace(string(c)), strings.TrimSpace(string(m)), nil
}

// hugepageSizes lists the huge page sizes of the host
// (/sys/kernel/mm/hugepages/hugepages-2048kB is "2MB").
func hugepageSizes() []string {
	names, _ := filepath.Glob("/sys/kernel/mm/hugepages/hugepages-*kB")
	var out []string
	for _, n := range names {
		kB, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(n), "hugepages-"), "kB"), 10, 64)
		if err == nil {
			out = append(out, hugepageSizeName(kB))
		}
	}
	return out
}

// ownV1Parents returns the caller's own cgroup directory in the v1 hierarchy
// of each controller. The answer for a set of controllers is kept: it follows
// from ownLayout, which does not change (every Start with a limit asked, and
// parsed /proc/self/mountinfo again). The map returned is shared: read it only.
func ownV1Parents(controllers []string) (map[string]string, error) {
	key := strings.Join(controllers, ",")
	if p, ok := v1ParentsOf.Load(key); ok {
		return p.(map[string]string), nil
	}
	l, err := ownLayout()
	if err != nil {
		return nil, err
	}
	p, err := v1Parents(l.cgroup, l.mountinfo, controllers)
	if err != nil {
		return nil, err
	}
	v1ParentsOf.Store(key, p)
	return p, nil
}

// v1ParentsOf holds ownV1Parents's answers, by the controllers joined with ",".
var v1ParentsOf sync.Map

// layout is this process's /proc/self/cgroup and /proc/self/mountinfo.
type layout struct{ cgroup, mountinfo string }

// ownLayout reads them once per process: where the caller's cgroups are and
// where the hierarchies are mounted does not change under a running program,
// and reading and parsing them on every Start made start-up grow with the
// number of containers (a program moved to another cgroup while it runs keeps
// creating its containers' cgroups under the first one).
var ownLayout = sync.OnceValues(func() (layout, error) {
	pc, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return layout{}, err
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return layout{}, err
	}
	return layout{string(pc), string(mi)}, nil
})

// ownV2Path returns the caller's own cgroup in the v2 hierarchy.
func ownV2Path() (string, error) {
	l, err := ownLayout()
	if err != nil {
		return "", err
	}
	_, own := cgroupPaths(l.cgroup)
	if own == "" {
		return "", errors.New("no cgroup v2 path in /proc/self/cgroup")
	}
	return own, nil
}

// createV2 creates the cgroup under the caller's own cgroup in the v2
// hierarchy mounted at root, enables the controllers the limits need in the
// parent's cgroup.subtree_control, writes the limits and opens the directory
// for clone's CgroupFD.
//
// A caller that is not root needs its cgroup delegated to its uid. A
// delegated cgroup that holds the caller's own processes cannot give its
// children controllers (the no-internal-processes rule), which is how
// `systemd-run --user --scope -p Delegate=yes` starts a program: then the
// caller's processes move into the leaf callerLeaf below it, once, as crun
// and podman move theirs into an "init" leaf, and the controllers are
// enabled.
func (s *cgroupState) createV2(root string) error {
	own, err := ownV2Path()
	if err != nil {
		return err
	}
	parent := filepath.Join(root, own)
	if s.rootless {
		// A process started from the leaf (a helper of the program that
		// was moved there) makes its containers beside the leaf too.
		if up := filepath.Dir(parent); filepath.Base(parent) == callerLeaf && checkDelegated(up, filepath.Dir(own), s.delegatee) == nil {
			parent, own = up, filepath.Dir(own)
		}
		if err := checkDelegated(parent, own, s.delegatee); err != nil {
			return err
		}
	}
	want := s.limits.v2Controllers()
	err = enableControllers(parent, want)
	if s.rootless && errors.Is(err, unix.EBUSY) {
		if err = moveToLeaf(parent); err == nil {
			err = enableControllers(parent, want)
		}
	}
	if err != nil {
		return err
	}
	s.dirs = map[string]string{}
	return s.makeV2(filepath.Join(parent, s.name))
}

// delegateHint is how a user gets a delegated cgroup.
const delegateHint = "`systemd-run --user --scope -p Delegate=yes <program>`"

// callerLeaf is the child of a delegated cgroup that the caller's processes
// move into when the cgroup must enable controllers for its children. Its
// name does not parse as a container's (parseCgroupName), so no Start takes
// it for an orphan; it stays, with the caller in it, and goes with the
// delegated cgroup.
const callerLeaf = "ctrkit-caller"

// checkDelegated fails unless the v2 cgroup at dir (own, as
// /proc/self/cgroup names it) is delegated to uid the way systemd delegates
// one (Delegate=yes): uid owns the directory, cgroup.procs and
// cgroup.subtree_control, or may write them. The error names what is missing
// and how to get a delegated cgroup.
func checkDelegated(dir, own string, uid uint32) error {
	var missing []string
	for _, name := range []string{".", "cgroup.procs", "cgroup.subtree_control"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		st, _ := fi.Sys().(*syscall.Stat_t)
		if !(st != nil && st.Uid == uid && fi.Mode().Perm()&0o200 != 0) && fi.Mode().Perm()&0o002 == 0 {
			if name == "." {
				name = "the directory"
			}
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("the caller's cgroup %s (%s) is not delegated to uid %d: it does not own %s; run the program in a cgroup delegated to it, e.g. %s",
		own, dir, uid, strings.Join(missing, ", "), delegateHint)
}

// moveToLeaf moves every process of the v2 cgroup dir into its child
// callerLeaf, creating it, so that dir may enable controllers for its
// children. A process forked meanwhile is moved in a further round.
func moveToLeaf(dir string) error {
	leaf := filepath.Join(dir, callerLeaf)
	if err := os.Mkdir(leaf, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("move the caller's processes out of its cgroup %s, which must give its children controllers: %w", dir, err)
	}
	for range 10 {
		b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if err != nil {
			return err
		}
		pids := strings.Fields(string(b))
		if len(pids) == 0 {
			return nil
		}
		for _, p := range pids {
			err := os.WriteFile(filepath.Join(leaf, "cgroup.procs"), []byte(p), 0)
			if err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("move process %s of the caller's cgroup %s into %s: %w", p, dir, leaf, err)
			}
		}
	}
	return fmt.Errorf("move the processes of the caller's cgroup %s into %s: new ones keep appearing", dir, leaf)
}

// makeV2 creates the container's v2 cgroup at dir, whose parent has the
// controllers enabled, writes the limits and opens the directory for clone's
// CgroupFD.
func (s *cgroupState) makeV2(dir string) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	s.dirs[""] = dir // registered for removal as soon as it exists
	if err := s.writeLimits(); err != nil {
		return err
	}
	f, err := os.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	s.dirFD = f
	return nil
}

// enableControllers makes controllers available to the children of the v2
// cgroup parent. A cgroup other than the root that has processes of its own
// cannot enable controllers for its children (the "no internal processes"
// rule): then the caller must run in a cgroup delegated for this, with the
// controllers enabled, or move itself into a leaf first.
func enableControllers(parent string, want []string) error {
	have, err := os.ReadFile(filepath.Join(parent, "cgroup.controllers"))
	if err != nil {
		return err
	}
	enabled, err := os.ReadFile(filepath.Join(parent, "cgroup.subtree_control"))
	if err != nil {
		return err
	}
	var missing []string
	for _, c := range want {
		if !hasWord(string(have), c) {
			return fmt.Errorf("cgroup v2 %s controller is not available in %s (not delegated to this cgroup: with systemd, the Delegate= of the unit that holds it names the controllers it gets, e.g. Delegate=cpu cpuset io memory pids)", c, parent)
		}
		if !hasWord(string(enabled), c) {
			missing = append(missing, "+"+c)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	err = os.WriteFile(filepath.Join(parent, "cgroup.subtree_control"), []byte(strings.Join(missing, " ")), 0)
	if errors.Is(err, unix.EBUSY) {
		return fmt.Errorf("enable %s in %s: the caller's cgroup has processes of its own, so it cannot give its children controllers (cgroup v2's no-internal-processes rule): run the caller in a leaf of a cgroup with the controllers enabled: %w",
			strings.Join(missing, " "), parent, err)
	}
	return err
}

func hasWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}

// writeFiles writes files into the cgroup's directories. It writes none when
// a file's controller has no directory (UpdateCgroup of a v1 cgroup created
// without that hierarchy).
func (s *cgroupState) writeFiles(files []cgroupFile) error {
	dirOf := func(f cgroupFile) string {
		if s.v2 {
			return s.dirs[""]
		}
		return s.dirs[f.Controller]
	}
	for _, f := range files {
		if dirOf(f) == "" {
			return fmt.Errorf("write %s: no %s cgroup (on cgroup v1 a container's cgroup is in the hierarchies its limits needed when it was created)", f.Name, f.Controller)
		}
	}
	for _, f := range files {
		dir := dirOf(f)
		if err := os.WriteFile(filepath.Join(dir, f.Name), []byte(f.Value), 0); err != nil {
			return fmt.Errorf("write %q to %s: %w", f.Value, filepath.Join(dir, f.Name), err)
		}
	}
	return nil
}

// cgroupAttr makes the clone land straight in the container's v2 cgroup
// (clone3 CLONE_INTO_CGROUP), so the init never runs outside it; on a hybrid
// host in its cgroup of the unified hierarchy. In v1 hierarchies the parent
// moves the init in joinCgroup, before the init is told to go.
func (r *running) cgroupAttr(attr *syscall.SysProcAttr) {
	if r.cg != nil && r.cg.dirFD != nil {
		attr.UseCgroupFD = true
		attr.CgroupFD = int(r.cg.dirFD.Fd())
	}
}

// startInV1 runs start, the clone, on the calling thread (a locked one: the
// fork thread) after moving that thread alone into the container's cgroup
// of each v1 hierarchy, so that the init is born in them, and moves the
// thread back after. A thread that moves itself (0 written to tasks) does
// not take the kernel's cgroup_threadgroup_rwsem; a write of the init's pid
// to cgroup.procs after the clone takes it for writing, and its first writer
// waits for an RCU grace period: 4-15 ms on this kernel, in about one
// container in four (PROFILE.md, part 9). Where the thread's own cgroups
// cannot be found or the move fails before the clone, it clones as before
// and joinCgroup moves the init.
func (s *cgroupState) startInV1(start func() error) error {
	if s == nil || s.v2 {
		return start()
	}
	var keys []string
	for k := range s.dirs {
		if k != unifiedKey { // cgroup2 (no tasks file): CLONE_INTO_CGROUP, or joinCgroup
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return start()
	}
	pc, err := os.ReadFile("/proc/thread-self/cgroup")
	if err != nil {
		return start()
	}
	l, err := ownLayout()
	if err != nil {
		return start()
	}
	own, err := v1Parents(string(pc), l.mountinfo, keys)
	if err != nil {
		return start()
	}
	// The files to move back to are opened first: once the thread is in,
	// it must be able to leave (it is a fork thread, forever in the pool).
	var back, into []*os.File
	defer func() {
		for _, f := range append(back, into...) {
			f.Close()
		}
	}()
	if back, err = openTasks(keys, own); err != nil {
		return start()
	}
	if into, err = openTasks(keys, s.dirs); err != nil {
		return start()
	}
	moveBack := func() error {
		var errs []error
		for _, f := range back {
			if _, err := f.Write([]byte("0")); err != nil {
				errs = append(errs, fmt.Errorf("container: move the clone thread back to %s: %w", f.Name(), err))
			}
		}
		return errors.Join(errs...)
	}
	for _, f := range into {
		if _, err := f.Write([]byte("0")); err != nil {
			if err := moveBack(); err != nil {
				return err
			}
			return start() // joinCgroup tries cgroup.procs and says why
		}
	}
	err = start()
	if berr := moveBack(); berr != nil {
		return errors.Join(err, berr)
	}
	s.placedV1 = err == nil
	return err
}

// openTasks opens the tasks file of each distinct directory dirs holds for
// keys (co-mounted controllers share one), for writing.
func openTasks(keys []string, dirs map[string]string) ([]*os.File, error) {
	var files []*os.File
	seen := map[string]bool{}
	for _, k := range keys {
		if d := dirs[k]; !seen[d] {
			seen[d] = true
			f, err := os.OpenFile(filepath.Join(d, "tasks"), os.O_WRONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				for _, f := range files {
					f.Close()
				}
				return nil, err
			}
			files = append(files, f)
		}
	}
	return files, nil
}

// joinCgroup places the cloned init in its cgroup (v1) before it is told to
// go, unless startInV1 had it born there; on v2 it is already there and the
// directory handle is closed.
func (r *running) joinCgroup() error {
	s := r.cg
	if s == nil {
		return nil
	}
	cloned := s.dirFD != nil // cloned into the v2 or unified cgroup (cgroupAttr)
	if cloned {
		s.dirFD.Close()
		s.dirFD = nil
	}
	if s.v2 {
		return nil
	}
	pid := []byte(strconv.Itoa(r.pid()))
	for key, dir := range s.dirs {
		if key == unifiedKey && cloned || key != unifiedKey && s.placedV1 {
			continue
		}
		if err := addProc(filepath.Join(dir, "cgroup.procs"), pid); err != nil {
			return fmt.Errorf("container: add init to cgroup %s: %w", dir, err)
		}
	}
	return nil
}

// addProc writes a pid to a cgroup.procs file. A task that is still being
// created (TASK_NEW) makes the kernel answer EINVAL: retry a few times, as runc
// and containerd do.
func addProc(file string, pid []byte) error {
	var err error
	for range 5 {
		if err = os.WriteFile(file, pid, 0); !errors.Is(err, unix.EINVAL) {
			return err
		}
		time.Sleep(30 * time.Millisecond)
	}
	return err
}

// lowerPids runs when the init is about to execve (its awaitExec): its Go
// runtime's threads are about to go, so pids.max drops to exactly what
// WithPids asked for before the command can fork once. With WithInit the init
// stays, and so does its reserve.
func (r *running) lowerPids() error {
	s := r.cg
	if s == nil || s.limits.pids == 0 || s.limits.init {
		return nil
	}
	dir := s.dirs["pids"]
	if s.v2 {
		dir = s.dirs[""]
	}
	if err := os.WriteFile(filepath.Join(dir, "pids.max"), []byte(s.limits.pidsMax(0)), 0); err != nil {
		return fmt.Errorf("container: lower pids.max: %w", err)
	}
	return nil
}

// killCgroup kills every process in the container's cgroup. It is safe to
// call concurrently and after the cgroup was removed.
func (r *running) killCgroup() {
	if r.cg != nil {
		r.cg.mu.Lock()
		defer r.cg.mu.Unlock()
		if !r.cg.removed {
			r.cg.kill()
		}
	}
}

// removeCgroup reads the OOM events and the final statistics, then kills what
// is left and removes the cgroup, retrying a bounded number of times.
func (r *running) removeCgroup() (oomKilled bool, err error) {
	s := r.cg
	if s == nil {
		return false, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.removed {
		return false, nil
	}
	s.final = s.readStats()
	oomKilled = s.final.OOMKills > 0
	if err := s.remove(); err != nil {
		return oomKilled, fmt.Errorf("container: remove cgroup: %w", err)
	}
	return oomKilled, nil
}

// teardown is the release of a failed Start.
func (s *cgroupState) teardown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dirFD != nil {
		s.dirFD.Close()
		s.dirFD = nil
	}
	if !s.removed {
		s.remove()
	}
}

// remove kills and removes until every directory is gone, within
// teardownTimeout. The caller holds s.mu.
func (s *cgroupState) remove() error {
	deadline := time.Now().Add(teardownTimeout)
	// One directory (v2, or a hybrid host's view alone) is removed as soon
	// as it is empty, and rmdir fails with EBUSY while a process is in it:
	// try it first, which spares an empty cgroup (every Wait's, after
	// killCgroup) the second look at its processes. Several v1 directories
	// are not: rmdir would take some of them, and with the freezer's the
	// way to kill what the others still hold.
	if len(s.dirs) == 1 && removeDirs(s.dirs) == nil {
		s.removed = true
		return nil
	}
	for {
		s.killUntil(deadline)
		err := removeDirs(s.dirs)
		if err == nil {
			s.removed = true
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(retryDelay)
	}
}

func removeDirs(dirs map[string]string) error {
	var errs []error
	for _, d := range dirs {
		if err := unix.Rmdir(d); err != nil && err != unix.ENOENT {
			errs = append(errs, &fs.PathError{Op: "rmdir", Path: d, Err: err})
		}
	}
	return errors.Join(errs...)
}

// kill kills every process in the cgroup, within teardownTimeout.
func (s *cgroupState) kill() { s.killUntil(time.Now().Add(teardownTimeout)) }

// killUntil kills every process in the cgroup with cgroup.kill, or where there
// is none by freezing the cgroup (so that nothing forks while it is being
// killed), sending SIGKILL to each process and thawing it; and waits until the
// cgroup is empty or the deadline has passed.
func (s *cgroupState) killUntil(deadline time.Time) {
	dir := s.procDir()
	useKill := false
	if s.v2 || dir == s.dirs[unifiedKey] {
		_, err := os.Stat(filepath.Join(dir, "cgroup.kill"))
		useKill = err == nil
	}
	for {
		if n, err := countProcs(dir); err != nil || n == 0 || time.Now().After(deadline) {
			return
		}
		if useKill {
			os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0)
		} else {
			freezeKillOnce(dir, s.v2)
		}
		time.Sleep(retryDelay)
	}
}

// freezeKill kills every process in the cgroup at dir (the v1 freezer's or a
// v2 cgroup's directory) by freeze-kill-thaw, within teardownTimeout.
func freezeKill(dir string, v2 bool) {
	deadline := time.Now().Add(teardownTimeout)
	for {
		if n, err := countProcs(dir); err != nil || n == 0 || time.Now().After(deadline) {
			return
		}
		freezeKillOnce(dir, v2)
		time.Sleep(retryDelay)
	}
}

func freezeKillOnce(dir string, v2 bool) {
	setFrozen(dir, v2, true)
	pids, _ := readProcs(dir)
	for _, p := range pids {
		unix.Kill(p, unix.SIGKILL)
	}
	setFrozen(dir, v2, false)
}

// setFrozen freezes or thaws a cgroup and waits, bounded, for the state to settle.
func setFrozen(dir string, v2, frozen bool) {
	file, value, done := "freezer.state", "THAWED", "THAWED"
	if frozen {
		value, done = "FROZEN", "FROZEN"
	}
	if v2 {
		file, value, done = "cgroup.freeze", "0", "frozen 0"
		if frozen {
			value, done = "1", "frozen 1"
		}
	}
	if os.WriteFile(filepath.Join(dir, file), []byte(value), 0) != nil {
		return
	}
	check := filepath.Join(dir, file)
	if v2 {
		check = filepath.Join(dir, "cgroup.events")
	}
	for range 100 {
		b, err := os.ReadFile(check)
		if err != nil || strings.Contains(string(b), done) {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// readProcs lists the processes in the cgroup at dir and its descendants.
func readProcs(dir string) ([]int, error) {
	var pids []int
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		if err != nil {
			return err
		}
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				pids = append(pids, n)
			}
		}
		return nil
	})
	return pids, err
}

func countProcs(dir string) (int, error) {
	p, err := readProcs(dir)
	return len(p), err
}

// ownStartTime is this process's start time (field 22 of /proc/self/stat), to
// mark its cgroups as owned by it and not by a later process with its pid.
var ownStartTime = sync.OnceValues(func() (uint64, error) { return startTime(os.Getpid()) })

func startTime(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// ownerAlive reports whether the process that created a cgroup still runs:
// same pid, same start time. A pid that now belongs to another process means the
// owner died.
func ownerAlive(pid int, start uint64) bool {
	st, err := startTime(pid)
	return err == nil && st == start
}

// reapOrphansV1 removes, from the caller's own cgroup in each of hierarchies (of
// those this package uses), the container cgroups whose owner died (a parent killed before
// its Wait ran), killing what still runs in them. Cgroups of live owners are
// never touched. It is best effort: an orphan that cannot be removed now is
// left for the next Start.
//
// Each hierarchy is listed on the first Start that reaps in it; after that
// only the freezer's and the unified one are, where every container cgroup
// of this package has its directory (a limit's always has a freezer, the
// view's alone is in the unified hierarchy), and an orphan found there is
// removed from every hierarchy it is in. Listing all sixteen on every Start
// cost the limits 1.35x with 200 containers running (PROFILE.md, part 6).
// What the shorter listing misses is an orphan whose freezer directory went
// but not the others (a Wait that gave up on an EBUSY after the freezer's
// rmdir): the next process's first Start finds it.
func reapOrphansV1(hierarchies []string) {
	parents := reapParents()
	reapMu.Lock()
	var list []string
	for _, c := range hierarchies {
		if _, ok := parents[c]; ok && (!reapListed[c] || c == "freezer" || c == unifiedKey) {
			list = append(list, c)
			reapListed[c] = true
		}
	}
	reapMu.Unlock()
	orphans := map[string]map[string]string{} // name → controller → dir
	for _, c := range list {
		for _, name := range orphanNames(parents[c]) {
			if orphans[name] == nil {
				orphans[name] = map[string]string{}
			}
		}
	}
	for name, dirs := range orphans {
		for _, c := range hierarchies {
			if p, ok := parents[c]; ok {
				if _, err := os.Stat(filepath.Join(p, name)); err == nil {
					dirs[c] = filepath.Join(p, name)
				}
			}
		}
	}
	for _, dirs := range orphans {
		if d, ok := dirs["freezer"]; ok {
			freezeKill(d, false)
		} else {
			for _, d := range dirs {
				pids, _ := readProcs(d)
				for _, p := range pids {
					unix.Kill(p, unix.SIGKILL)
				}
			}
		}
		for range 20 {
			if removeDirs(dirs) == nil {
				break
			}
			time.Sleep(retryDelay)
		}
	}
}

// reapParents is the caller's own cgroup in each hierarchy a Start reaps
// orphans in (v1ControllerNames and unifiedKey) that the host has, from
// ownLayout, once per process.
var reapParents = sync.OnceValue(func() map[string]string {
	out := map[string]string{}
	l, err := ownLayout()
	if err != nil {
		return out
	}
	for _, c := range append(slices.Clone(v1ControllerNames), unifiedKey) {
		if p, err := v1Parents(l.cgroup, l.mountinfo, []string{c}); err == nil {
			out[c] = p[c]
		}
	}
	return out
})

// reapListed records the hierarchies this process has listed for orphans
// once (reapOrphansV1).
var (
	reapMu     sync.Mutex
	reapListed = map[string]bool{}
)

// reapOrphansV2 is reapOrphansV1 for the caller's own cgroup in the v2
// hierarchy mounted at root.
func reapOrphansV2(root string) {
	own, err := ownV2Path()
	if err != nil {
		return
	}
	parent := filepath.Join(root, own)
	for _, name := range orphanNames(parent) {
		dir := filepath.Join(parent, name)
		if _, err := os.Stat(filepath.Join(dir, "cgroup.kill")); err == nil {
			os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0)
		} else {
			freezeKill(dir, true)
		}
		for range 20 {
			if removeDirs(map[string]string{"": dir}) == nil {
				break
			}
			time.Sleep(retryDelay)
		}
	}
}

// orphanNames lists the children of parent that are container cgroups of a
// dead owner.
func orphanNames(parent string) []string {
	f, err := os.Open(parent)
	if err != nil {
		return nil
	}
	defer f.Close()
	names, _ := f.Readdirnames(-1)
	self, selfStart := os.Getpid(), uint64(0)
	if st, err := ownStartTime(); err == nil {
		selfStart = st
	}
	var out []string
	for _, n := range names {
		pid, start, ok := parseCgroupName(n)
		// This process's own containers are alive by definition: no need to
		// ask /proc about each of them on every Start.
		if ok && !(pid == self && start == selfStart) && !ownerAlive(pid, start) {
			out = append(out, n)
		}
	}
	return out
}

// readKV reads "key value" lines (memory.oom_control, memory.events, cpu.stat).
func readKV(path string) map[string]uint64 {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	m := map[string]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil {
			m[k] = n
		}
	}
	return m
}

// createAt creates the cgroup at the absolute path of WithCgroupPath: in the
// v2 hierarchy, or in each v1 hierarchy the limits need plus the freezer, and
// in those of atV1Controllers (v2: with them enabled) that the host has.
// Missing parents are created and kept.
func (s *cgroupState) createAt(v2 bool, path string) error {
	s.dirs = map[string]string{}
	if v2 {
		if s.limits.deviceSet != nil && devices.AttachProgram == nil {
			return errors.New("device rules on cgroup v2 need an eBPF device program, which only a program that imports github.com/ctrkit/container/oci can load")
		}
		s.v2 = true
		dir := filepath.Join(cgroupRoot, path)
		if err := enableControllers(filepath.Dir(dir), s.limits.v2Controllers()); err != nil {
			// The parent may not exist yet: create it, then enable.
			if mkErr := os.MkdirAll(filepath.Dir(dir), 0o755); mkErr != nil {
				return mkErr
			}
			if err := enableControllers(filepath.Dir(dir), s.limits.v2Controllers()); err != nil {
				return err
			}
		}
		// No limit asked for these: where one cannot be enabled (the
		// parent has processes of its own), an update that needs it fails
		// naming it, as on a v1 host without the hierarchy.
		if have, err := os.ReadFile(filepath.Join(filepath.Dir(dir), "cgroup.controllers")); err == nil {
			enableControllers(filepath.Dir(dir), s.limits.v2ExtraAt(string(have)))
		}
		if err := s.makeV2(dir); err != nil {
			return err
		}
		if s.limits.deviceSet != nil {
			// Before the clone: the init lands in a cgroup that is
			// confined already. The program goes with the cgroup.
			return devices.AttachProgram(int(s.dirFD.Fd()), *s.limits.deviceSet)
		}
		return nil
	}
	mounts, err := v1Mounts()
	if err != nil {
		return err
	}
	for _, c := range s.limits.v1ControllersAt(mounts) {
		m, ok := mounts[c]
		if !ok {
			return fmt.Errorf("cgroup v1 %s controller: not mounted", c)
		}
		dir := filepath.Join(m, path)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		s.dirs[c] = dir
	}
	h, err := s.probeHost(true)
	if err != nil {
		return err
	}
	files, err := s.limits.v1Files(h)
	if err != nil {
		return err
	}
	if s.limits.devices != nil {
		files = append(files, deviceFiles(*s.limits.deviceSet)...)
	}
	if err := s.writeFiles(files); err != nil {
		return err
	}
	return s.openUnified()
}

// v1ControllerNames are the v1 controllers the library knows: oci.RemoveCgroup
// looks in each, and a Start reaps dead owners' cgroups in each.
var v1ControllerNames = []string{"memory", "cpu", "cpuacct", "pids", "freezer", "devices", "blkio",
	"cpuset", "net_cls", "net_prio", "perf_event", "hugetlb", "rdma", "misc"}

// v1Mounts returns the mount point of the root of each mounted v1 hierarchy.
// The mount table is read once per process, as in ownLayout.
func v1Mounts() (map[string]string, error) {
	l, err := ownLayout()
	if err != nil {
		return nil, err
	}
	return v1MountsOf(l.mountinfo), nil
}

// v1MountsOf is v1Mounts of a mount table, answered once per table.
func v1MountsOf(mountinfo string) map[string]string {
	if m, ok := v1MountsCache.Load(mountinfo); ok {
		return m.(map[string]string)
	}
	own := "0::/\n"
	for i, c := range v1ControllerNames {
		own += strconv.Itoa(i+1) + ":" + c + ":/\n"
	}
	out := map[string]string{}
	for _, c := range append(v1ControllerNames, unifiedKey) {
		// v1Parents with every controller's own cgroup at "/" finds the
		// mount of each hierarchy's root.
		if p, err := v1Parents(own, mountinfo, []string{c}); err == nil {
			out[c] = p[c]
		}
	}
	v1MountsCache.Store(mountinfo, out)
	return out
}

var v1MountsCache sync.Map

// cgroupAt returns a handle on an existing cgroup at path (WithCgroupPath),
// with the directories it exists in.
func cgroupAt(path string) (*cgroupState, error) {
	p := filepath.Clean(path)
	if !filepath.IsAbs(path) || p == "/" {
		return nil, fmt.Errorf("container: cgroup path %q: must be absolute and not the root", path)
	}
	s := &cgroupState{dirs: map[string]string{}}
	if cgroups.Mode() == cgroups.Unified {
		s.v2 = true
		if _, err := os.Stat(filepath.Join(cgroupRoot, p)); err == nil {
			s.dirs[""] = filepath.Join(cgroupRoot, p)
		}
		return s, nil
	}
	mounts, err := v1Mounts()
	if err != nil {
		return nil, fmt.Errorf("container: cgroup %s: %w", path, err)
	}
	for c, m := range mounts {
		if _, err := os.Stat(filepath.Join(m, p)); err == nil {
			s.dirs[c] = filepath.Join(m, p)
		}
	}
	return s, nil
}

// removeCgroupAt is oci.RemoveCgroup; see there.
func removeCgroupAt(path string) error {
	s, err := cgroupAt(path)
	if err != nil {
		return err
	}
	if len(s.dirs) == 0 {
		return nil
	}
	deadline := time.Now().Add(teardownTimeout)
	for {
		if dir := s.procDir(); dir != "" {
			s.killUntil(deadline)
		} else {
			killAll(s.dirs)
		}
		err := removeDirs(s.dirs)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("container: remove cgroup %s: %w", path, err)
		}
		time.Sleep(retryDelay)
	}
}

func killAll(dirs map[string]string) {
	for _, d := range dirs {
		pids, _ := readProcs(d)
		for _, p := range pids {
			unix.Kill(p, unix.SIGKILL)
		}
	}
}

// freezeCgroupAt is oci.FreezeCgroup; see there.
func freezeCgroupAt(path string, frozen bool) error {
	s, err := cgroupAt(path)
	if err != nil {
		return err
	}
	dir := s.procDir()
	if dir == "" {
		return fmt.Errorf("container: freeze cgroup %s: no freezer cgroup at this path", path)
	}
	setFrozen(dir, s.v2, frozen)
	state, err := cgroupFrozen(dir, s.v2)
	if err != nil {
		return fmt.Errorf("container: freeze cgroup %s: %w", path, err)
	}
	if state != frozen {
		return fmt.Errorf("container: freeze cgroup %s: state did not change", path)
	}
	return nil
}

// cgroupFrozenAt is oci.CgroupFrozen; see there.
func cgroupFrozenAt(path string) (bool, error) {
	s, err := cgroupAt(path)
	if err != nil {
		return false, err
	}
	dir := s.procDir()
	if dir == "" {
		return false, fmt.Errorf("container: cgroup %s: no freezer cgroup at this path", path)
	}
	return cgroupFrozen(dir, s.v2)
}

func cgroupFrozen(dir string, v2 bool) (bool, error) {
	if v2 {
		b, err := os.ReadFile(filepath.Join(dir, "cgroup.events"))
		return strings.Contains(string(b), "frozen 1"), err
	}
	b, err := os.ReadFile(filepath.Join(dir, "freezer.state"))
	return strings.TrimSpace(string(b)) == "FROZEN", err
}

// cgroupPidsAt is oci.CgroupPids; see there.
func cgroupPidsAt(path string) ([]int, error) {
	s, err := cgroupAt(path)
	if err != nil {
		return nil, err
	}
	dir := s.procDir()
	if dir == "" {
		return nil, fmt.Errorf("container: cgroup %s: %w", path, os.ErrNotExist)
	}
	pids, err := readProcs(dir)
	if err != nil {
		return nil, fmt.Errorf("container: cgroup %s: %w", path, err)
	}
	return pids, nil
}

// updateCgroupAt is oci.UpdateCgroup; see there.
func updateCgroupAt(path string, opts ...Option) error {
	l, err := limitsOnly("UpdateCgroup", opts)
	if err != nil {
		return err
	}
	s, err := cgroupAt(path)
	if err != nil {
		return err
	}
	if len(s.dirs) == 0 {
		return fmt.Errorf("container: update cgroup %s: %w", path, os.ErrNotExist)
	}
	s.limits = l
	h, err := s.probeHost(false)
	if err != nil {
		return fmt.Errorf("container: update cgroup %s: %w", path, err)
	}
	if s.v2 {
		files, err := l.v2Files(h)
		if err == nil {
			err = s.writeFiles(files)
		}
		if err != nil {
			return fmt.Errorf("container: update cgroup %s: %w", path, err)
		}
		return nil
	}
	files, err := l.v1Files(h)
	if err != nil {
		return fmt.Errorf("container: update cgroup %s: %w", path, err)
	}
	if err := s.writeFiles(files); err != nil {
		// Raising a v1 memory limit: memory+swap must grow first.
		slices.Reverse(files)
		if err2 := s.writeFiles(files); err2 != nil {
			return fmt.Errorf("container: update cgroup %s: %w", path, err)
		}
	}
	return nil
}
