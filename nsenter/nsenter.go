//go:build linux && cgo

// Package nsenter lets a program start processes inside a running container
// ([github.com/ctrkit/container/oci.WithJoin], what `ctrkit exec` uses).
// Importing it, for its side effect only, links a C constructor into the
// program:
//
//	import _ "github.com/ctrkit/container/nsenter"
//
// Why C: setns(2) into a mount or user namespace is refused to a
// multi-threaded process, and a Go program is multi-threaded before its first
// line of Go runs. The constructor runs before the Go runtime starts, when the
// process has one thread. It does nothing unless the environment variable
// _CTRKIT_JOIN_PID is set, which only package container sets, for the
// re-executed init of a container.Start with WithJoin. Then it:
//
//  1. writes its pid into each cgroup.procs file listed in
//     _CTRKIT_JOIN_CGROUPS (the container's cgroups, so the process is
//     counted, limited, frozen and killed with the container);
//  2. opens /proc/PID/ns/{user,cgroup,ipc,uts,net,pid,time,mnt} of the
//     container's init and setns(2)s into each one that differs from its own,
//     the user namespace first and the mount namespace last;
//  3. forks, because joining a PID namespace only applies to children: the
//     child returns from the constructor and becomes the container's process
//     (the Go runtime starts inside the namespaces, and package container's
//     init drops privileges and execs the command); the parent forwards every
//     signal it can catch to the child and exits with the child's status
//     (128 plus the signal number when a signal killed it).
//
// On any failure it prints the failed step to stderr and exits with status
// 127; the caller's Start then fails (the init's channel closes without the
// init having run). The library itself stays free of cgo: only programs that
// import this package link C code.
package nsenter

/*
#cgo CFLAGS: -Wall -O2
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t ctrkit_child;

static void ctrkit_forward(int sig) {
	if (ctrkit_child > 0)
		kill(ctrkit_child, sig);
}

static void ctrkit_fail(const char *step, const char *arg) {
	fprintf(stderr, "ctrkit nsenter: %s %s: %s\n", step, arg, strerror(errno));
	_exit(127);
}

__attribute__((constructor)) static void ctrkit_nsenter(void) {
	const char *pid = getenv("_CTRKIT_JOIN_PID");
	if (pid == NULL || *pid == '\0')
		return;
	char *cgroups = getenv("_CTRKIT_JOIN_CGROUPS");
	if (cgroups != NULL && *cgroups != '\0') {
		char *list = strdup(cgroups), *save = NULL;
		for (char *p = strtok_r(list, ":", &save); p != NULL; p = strtok_r(NULL, ":", &save)) {
			int fd = open(p, O_WRONLY | O_CLOEXEC);
			if (fd < 0 || write(fd, "0", 1) != 1)
				ctrkit_fail("join cgroup", p);
			close(fd);
		}
		free(list);
	}
	static const char *types[] = {"user", "cgroup", "ipc", "uts", "net", "pid", "time", "mnt"};
	enum { N = sizeof(types) / sizeof(types[0]) };
	int fds[N];
	for (int i = 0; i < N; i++) {
		char path[64], own[64];
		struct stat theirs, mine;
		snprintf(path, sizeof(path), "/proc/%s/ns/%s", pid, types[i]);
		snprintf(own, sizeof(own), "/proc/self/ns/%s", types[i]);
		fds[i] = -1;
		if (stat(path, &theirs) < 0) {
			if (errno == ENOENT)
				continue; // a namespace type this kernel does not have
			ctrkit_fail("stat", path);
		}
		if (stat(own, &mine) == 0 && mine.st_ino == theirs.st_ino && mine.st_dev == theirs.st_dev)
			continue; // shared with the container already
		fds[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0)
			ctrkit_fail("open", path);
	}
	for (int i = 0; i < N; i++) {
		if (fds[i] < 0)
			continue;
		if (setns(fds[i], 0) < 0)
			ctrkit_fail("setns", types[i]);
		close(fds[i]);
	}
	unsetenv("_CTRKIT_JOIN_PID");
	unsetenv("_CTRKIT_JOIN_CGROUPS");
	ctrkit_child = fork();
	if (ctrkit_child < 0)
		ctrkit_fail("fork", "");
	if (ctrkit_child == 0)
		return; // the container's process: on to the Go runtime and the init
	// Only the child may hold the init's channel (fd 3) and the rest: the
	// caller reads EOF on it when the child execs.
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	for (int sig = 1; sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP || sig == SIGCHLD)
			continue;
		signal(sig, ctrkit_forward);
	}
	int status;
	while (waitpid(ctrkit_child, &status, 0) < 0) {
		if (errno != EINTR)
			ctrkit_fail("wait", "");
	}
	if (WIFSIGNALED(status))
		_exit(128 + WTERMSIG(status));
	_exit(WEXITSTATUS(status));
}
*/
import "C"
