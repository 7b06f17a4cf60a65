/* touch_pages N [THREADS]: maps N pages and writes one byte in each (one
 * page fault per page), then starts THREADS threads that wait, all at once,
 * for half a second on a barrier-like pipe and exit (gtrace --counters and
 * memory tests: page faults against perf stat; threads that exist at the
 * same time). */
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static int fds[2];

static void *waiter(void *arg)
{
	char c;
	(void)arg;
	if (read(fds[0], &c, 1) != 1)
		exit(1);
	return NULL;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000, nt = argc > 2 ? atol(argv[2]) : 0;
	long page = sysconf(_SC_PAGESIZE);
	char *p = mmap(NULL, (size_t)(n * page), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || n < 1 || nt < 0 || pipe(fds))
		return 1;
	for (long i = 0; i < n; i++)
		p[i * page] = 1;
	pthread_t *t = calloc((size_t)nt + 1, sizeof(*t));
	for (long i = 0; i < nt; i++)
		if (pthread_create(&t[i], NULL, waiter, NULL))
			return 1;
	if (nt) {
		usleep(500000);
		char buf[4096] = { 0 };
		for (long left = nt; left > 0; left -= (long)sizeof(buf))
			if (write(fds[1], buf, left < (long)sizeof(buf) ? (size_t)left : sizeof(buf)) < 0)
				return 1;
		for (long i = 0; i < nt; i++)
			pthread_join(t[i], NULL);
	}
	free(t);
	munmap(p, (size_t)(n * page));
	return 0;
}
