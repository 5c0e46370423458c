/*
 * getpidloop N: calls getpid(2) N times through syscall(2) (so libc cannot
 * cache it) and prints the mean nanoseconds per call. bench/run.sh copies it,
 * statically linked, into the benchmark rootfs, to compare a syscall's cost
 * inside a container (behind its seccomp filter) with the host's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++) syscall(SYS_getpid);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
	printf("%.2f\n", ns / (double)n);
	return 0;
}
