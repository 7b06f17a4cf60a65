/* threads_n N K [sleep]: starts N short-lived threads, at most BATCH at a
 * time; each makes exactly K getppid() calls and, with "sleep", blocks
 * once in a short nanosleep.  Then prints the process's voluntary and
 * involuntary context switches from getrusage(RUSAGE_SELF) as
 * "NVCSW NIVCSW" (gtrace accuracy tests: threads that exit - their last
 * switch-out is not a voluntary switch - and more threads than a fixed
 * per-thread table holds). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static long k;
static int do_sleep;

static void *body(void *arg)
{
	(void)arg;
	for (long i = 0; i < k; i++)
		syscall(SYS_getppid);
	if (do_sleep) {
		struct timespec ts = { 0, 200000 };
		nanosleep(&ts, NULL);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100;
	pthread_attr_t attr;
	pthread_t t[BATCH];

	k = argc > 2 ? atol(argv[2]) : 0;
	do_sleep = argc > 3 && !strcmp(argv[3], "sleep");
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	for (long done = 0; done < n;) {
		int b = n - done < BATCH ? (int)(n - done) : BATCH;
		for (int i = 0; i < b; i++)
			if (pthread_create(&t[i], &attr, body, NULL)) {
				perror("pthread_create");
				return 1;
			}
		for (int i = 0; i < b; i++)
			pthread_join(t[i], NULL);
		done += b;
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("%ld %ld\n", ru.ru_nvcsw, ru.ru_nivcsw);
	return 0;
}
