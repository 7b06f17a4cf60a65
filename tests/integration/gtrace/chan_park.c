/* chan_park N MS: a greenrt program whose goroutine parked_waiter parks on
 * an unbuffered channel receive N times, each time for at least MS ms: the
 * main goroutine starts its MS-ms sleep only after the waiter has parked
 * (run with GR_PROCS=1: main yields to the waiter, which runs until it
 * parks, before main sleeps), then sends.  gtrace --offcpu accuracy test:
 * at least N x MS of park time under the waiter's park-site stack, reason
 * "chan recv", woken N times by a channel, from gr_chan_send. */
#include <stdio.h>
#include <stdlib.h>
#include <greenrt.h>

static long n, ms;
static gr_chan *c;
static gr_wg wg;

static __attribute__((noinline)) void parked_waiter(void *arg)
{
	long v;
	(void)arg;
	for (long i = 0; i < n; i++)
		if (gr_chan_recv(c, &v) || v != i)
			exit(1);
	gr_wg_done(&wg);
}

static void main_g(void *arg)
{
	(void)arg;
	c = gr_chan_make(sizeof(long), 0);
	if (!c)
		exit(1);
	gr_wg_add(&wg, 1);
	if (gr_go(parked_waiter, NULL) <= 0)
		exit(1);
	gr_yield();             /* the waiter runs and parks */
	for (long i = 0; i < n; i++) {
		gr_sleep(ms * 1000000);
		if (gr_chan_send(c, &i))
			exit(1);
		gr_yield();     /* ... and parks again before the next sleep */
	}
	gr_wg_wait(&wg);
	gr_chan_free(c);
}

int main(int argc, char **argv)
{
	n = argc > 1 ? atol(argv[1]) : 10;
	ms = argc > 2 ? atol(argv[2]) : 100;
	if (n < 1 || ms < 1)
		return 2;
	int err = gr_run(main_g, NULL);
	if (err) {
		fprintf(stderr, "chan_park: gr_run: %d\n", err);
		return 1;
	}
	return 0;
}
