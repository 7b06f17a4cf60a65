/* pingpong N: two threads bounce a byte through two pipes N times, then
 * print the process's voluntary/involuntary context switches from
 * getrusage(RUSAGE_SELF) as "nvcsw NIVCSW" (gtrace accuracy test). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

static int ab[2], ba[2];
static long n;

static void *pong(void *arg)
{
	char c;
	(void)arg;
	for (long i = 0; i < n; i++)
		if (read(ab[0], &c, 1) != 1 || write(ba[1], &c, 1) != 1)
			exit(1);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;
	char c = 'x';
	n = argc > 1 ? atol(argv[1]) : 1000;
	if (pipe(ab) || pipe(ba) || pthread_create(&t, NULL, pong, NULL))
		return 1;
	for (long i = 0; i < n; i++)
		if (write(ab[1], &c, 1) != 1 || read(ba[0], &c, 1) != 1)
			return 1;
	pthread_join(t, NULL);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("%ld %ld\n", ru.ru_nvcsw, ru.ru_nivcsw);
	return 0;
}
