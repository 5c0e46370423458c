package seccomp

import "strings"

// dockerAllowed is Docker's default allowlist (moby profiles/seccomp/default.json)
// for a container without CAP_SYS_ADMIN on a kernel of 4.8 or later, as the
// profile is from Docker 25.0 on: io_uring_setup, io_uring_enter and
// io_uring_register are not in it (moby#46762, containerd#9320: the
// operations a ring runs are invisible to seccomp, and io_uring was behind
// most of the kernel exploits sent to Google's kCTF); rules with argument
// conditions are in Default. Names of one architecture
// only (arch_prctl, set_tls) are skipped on the others; ppc64le's and s390's
// extras are left out (no syscall table here).
var dockerAllowed = strings.Fields(`
accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32
clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64
clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2
dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait
epoll_wait_old eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64
fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat fchmodat2 fchown fchown32 fchownat fcntl
fcntl64 fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64
fstatfs fstatfs64 fsync ftruncate ftruncate64 futex futex_time64 futex_waitv futimesat getcpu
getcwd getdents getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups
getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid
getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid getsockname
getsockopt get_thread_area gettid gettimeofday getuid getuid32 getxattr inotify_add_watch
inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents
io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit ipc kill
landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link
linkat listen listxattr llistxattr _llseek
lremovexattr lseek lsetxattr lstat lstat64 madvise membarrier memfd_create memfd_secret mincore
mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify
mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap
msgctl msgget msgrcv msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep
newfstatat _newselect open openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2
pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2
prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read readahead
readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages
removexattr rename renameat renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending
rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait
rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam
sched_get_priority_max sched_get_priority_min sched_getscheduler sched_rr_get_interval
sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam sched_setscheduler
sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64 send sendfile
sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32
setgroups setgroups32 setitimer setpgid setpriority setregid setregid32 setresgid setresgid32
setresuid setresuid32 setreuid setreuid32 setrlimit set_robust_list setsid setsockopt
set_thread_area set_tid_address setuid setuid32 setxattr shmat shmctl shmdt shmget shutdown
sigaltstack signalfd signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64
statfs statfs64 statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time
timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime
timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime
timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat utime
utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev
process_vm_readv process_vm_writev ptrace
arch_prctl modify_ldt
arm_fadvise64_64 arm_sync_file_range breakpoint cacheflush set_tls
`)

// Flags and values the default policy's argument rules use (Linux values).
const (
	// CLONE_NEWNS|CLONE_NEWCGROUP|CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWUSER|CLONE_NEWPID|CLONE_NEWNET
	cloneNamespaceFlags = 0x7e020000
	afALG               = 38
	afVSOCK             = 40
)

// Default returns a new copy of the policy every container gets unless
// [WithPolicy] or [container.WithoutSeccomp] says otherwise: Docker's default
// profile for a container without CAP_SYS_ADMIN, as of Docker 25.0 (no
// io_uring) and moby#52494 (no AF_ALG sockets). Known system calls outside
// the allowlist, io_uring_setup, io_uring_enter and io_uring_register among
// them, fail with EPERM; clone3 and system calls the table does not know fail
// with ENOSYS; clone may not create namespaces; socket may not open AF_VSOCK
// or AF_ALG sockets; personality may only select the personalities Docker
// allows. Only clone, socket and personality have argument checks: every
// other allowed system call stays on the kernel's cached fast path.
//
// A container without a seccomp option runs this policy as the root package
// carries it, compiled ahead of time for its architecture; start from it to
// make a policy of your own.
func Default() *Policy {
	p := &Policy{
		DefaultAction: Errno(linuxEPERM),
		UnknownAction: Errno(linuxENOSYS),
		// The rules with argument checks go first: the kernel runs the filter
		// for them on every call, so they should not have to walk the allowlist.
		Rules: []Rule{
			{Names: []string{"clone"}, Action: Allow, Args: []Arg{{Index: 0, Op: BitsClear, Value: cloneNamespaceFlags}}},
			{Names: []string{"socket"}, Action: Allow, Args: []Arg{
				{Index: 0, Op: NotEqual, Value: afVSOCK}, {Index: 0, Op: NotEqual, Value: afALG}}},
		},
	}
	for _, pers := range []uint64{0x0, 0x8, 0x20000, 0x20008, 0xffffffff} {
		p.Rules = append(p.Rules, Rule{Names: []string{"personality"}, Action: Allow,
			Args: []Arg{{Index: 0, Op: Equal, Value: pers}}})
	}
	p.Rules = append(p.Rules,
		Rule{Names: []string{"clone3"}, Action: Errno(linuxENOSYS)},
		Rule{Names: append([]string(nil), dockerAllowed...), Action: Allow},
	)
	return p
}
