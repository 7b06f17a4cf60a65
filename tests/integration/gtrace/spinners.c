/* spinners SECONDS: runs 2 x CPUs busy threads for SECONDS, so the
 * scheduler must preempt them (gtrace accuracy test: involuntary > 0). */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double secs;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *spin(void *arg)
{
	volatile unsigned long x = 0;
	double end = now() + secs;
	(void)arg;
	while (now() < end)
		for (int i = 0; i < 10000; i++)
			x++;
	return NULL;
}

int main(int argc, char **argv)
{
	secs = argc > 1 ? atof(argv[1]) : 1.0;
	long n = 2 * sysconf(_SC_NPROCESSORS_ONLN);
	pthread_t t[256];
	if (n > 256)
		n = 256;
	for (long i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, spin, NULL))
			return 1;
	for (long i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	return 0;
}
