/*
 * floor: the kernel's floor for starting a container, for bench/run.sh.
 *
 * clone(2) into new mount, UTS, IPC, PID, network and cgroup namespaces; in the
 * child: mounts private, bind the rootfs, pivot_root(".", "."), detach the old
 * root, mount /proc, execve. The parent waits. Nothing else: no /sys or /dev, no
 * seccomp, no capabilities, no error reporting beyond the exit status.
 *
 *   floor ROOTFS CMD [ARG...]          one container; exit status of CMD
 *   floor -n N ROOTFS CMD [ARG...]     N containers in a loop; prints each one's
 *                                      wall time in nanoseconds, one a line
 *
 * Build: gcc -O2 -static -o floor floor.c   (run as root)
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char *rootfs;
static char **cmd;
static char stack[64 * 1024] __attribute__((aligned(16)));

static int child(void *arg) {
	(void)arg;
	if (mount("", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) _exit(120);
	if (mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL) < 0) _exit(121);
	if (chdir(rootfs) < 0) _exit(122);
	if (syscall(SYS_pivot_root, ".", ".") < 0) _exit(123);
	if (umount2(".", MNT_DETACH) < 0) _exit(124);
	if (chdir("/") < 0) _exit(125);
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) _exit(126);
	char *envp[] = {"PATH=/bin:/usr/bin:/sbin:/usr/sbin", NULL};
	execve(cmd[0], cmd, envp);
	_exit(127);
}

static int one(void) {
	int flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP | SIGCHLD;
	pid_t pid = clone(child, stack + sizeof stack, flags, NULL);
	if (pid < 0) {
		perror("clone");
		return 1;
	}
	int st;
	if (waitpid(pid, &st, 0) < 0) {
		perror("waitpid");
		return 1;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static long long now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
	long n = 0;
	int i = 1;
	if (argc > 2 && strcmp(argv[1], "-n") == 0) {
		n = atol(argv[2]);
		i = 3;
	}
	if (argc - i < 2) {
		fprintf(stderr, "usage: floor [-n N] ROOTFS CMD [ARG...]\n");
		return 2;
	}
	rootfs = argv[i];
	cmd = argv + i + 1;
	if (n == 0) return one();
	for (long k = 0; k < n; k++) {
		long long t0 = now();
		int rc = one();
		long long dt = now() - t0;
		if (rc != 0) {
			fprintf(stderr, "floor: container %ld exited with %d\n", k, rc);
			return 1;
		}
		printf("%lld\n", dt);
	}
	return 0;
}
