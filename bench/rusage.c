// rusage: print this process's resource usage as one line, "utime_us
// stime_us minflt majflt maxrss_kib". Run as a container's command (exec'd by
// the init in its place), it reports what the container's init used before
// its execve: usage survives execve, and ru_maxrss is the peak over both.
// Built static by bench/ab.sh; used by bench/ab -rusage.
#include <stdio.h>
#include <sys/resource.h>

int main(void) {
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 1;
	printf("%ld %ld %ld %ld %ld\n",
	       ru.ru_utime.tv_sec * 1000000L + ru.ru_utime.tv_usec,
	       ru.ru_stime.tv_sec * 1000000L + ru.ru_stime.tv_usec,
	       ru.ru_minflt, ru.ru_majflt, ru.ru_maxrss);
	return 0;
}
