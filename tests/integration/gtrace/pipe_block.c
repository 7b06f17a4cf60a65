/* pipe_block MS: a thread named pipe_reader blocks in read(2) on an empty
 * pipe; once the kernel says it sleeps (state S in /proc), the main thread
 * sleeps MS ms and only then writes a byte.  gtrace --offcpu accuracy test:
 * at least MS ms off-CPU for pipe_reader under the kernel's pipe_read
 * stack, and woken by the main thread from pipe_write. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int fds[2];
static volatile pid_t reader_tid;

static void *reader(void *arg)
{
	char c;
	(void)arg;
	reader_tid = (pid_t)syscall(SYS_gettid);
	if (read(fds[0], &c, 1) != 1)
		exit(1);
	return NULL;
}

/* The state letter of thread tid ('S': asleep), or 0. */
static char state_of(pid_t tid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

int main(int argc, char **argv)
{
	long ms = argc > 1 ? atol(argv[1]) : 1000;
	pthread_t t;
	if (ms < 1 || pipe(fds) || pthread_create(&t, NULL, reader, NULL))
		return 1;
	pthread_setname_np(t, "pipe_reader");
	/* until it sleeps in read (bounded: 10 s) */
	for (int i = 0; i < 10000 && (!reader_tid || state_of(reader_tid) != 'S'); i++)
		usleep(1000);
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts))
		;
	if (write(fds[1], "x", 1) != 1)
		return 1;
	pthread_join(t, NULL);
	return 0;
}
