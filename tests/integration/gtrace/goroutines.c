/* goroutines K M [park]: a greenrt program that spawns exactly K goroutines
 * with gr_go (K-1 that just exit, one ponger) and makes M round trips with
 * the ponger over two unbuffered channels (gtrace accuracy test: K+1
 * spawns, the main goroutine included, and >= 2M switches into
 * goroutines).  With "park", main then parks every worker but one with the
 * CPU governor's lever (runtime-internal: tests/unit/t_internal.h), which
 * gtrace reports from the `workers` probe. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <greenrt.h>

#include "t_internal.h"

static long k, m;
static bool park_workers;
static gr_chan *ping, *pong;
static gr_wg wg;

static void nothing(void *arg)
{
	(void)arg;
	gr_wg_done(&wg);
}

static void ponger(void *arg)
{
	long v;
	(void)arg;
	for (long i = 0; i < m; i++) {
		if (gr_chan_recv(ping, &v) || gr_chan_send(pong, &v))
			exit(1);
	}
}

static void main_g(void *arg)
{
	long v = 0;
	(void)arg;
	ping = gr_chan_make(sizeof(long), 0);
	pong = gr_chan_make(sizeof(long), 0);
	if (!ping || !pong)
		exit(1);
	gr_wg_add(&wg, (int)(k - 1));
	for (long i = 0; i < k - 1; i++)
		if (gr_go(nothing, NULL) <= 0)
			exit(1);
	gr_wg_wait(&wg);
	if (gr_go(ponger, NULL) <= 0)
		exit(1);
	for (long i = 0; i < m; i++) {
		if (gr_chan_send(ping, &i) || gr_chan_recv(pong, &v) || v != i)
			exit(1);
	}
	while (park_workers && sched_park_worker())
		;
}

int main(int argc, char **argv)
{
	k = argc > 1 ? atol(argv[1]) : 10;
	m = argc > 2 ? atol(argv[2]) : 1000;
	park_workers = argc > 3 && !strcmp(argv[3], "park");
	if (k < 1)
		return 2;
	int err = gr_run(main_g, NULL);
	if (err) {
		fprintf(stderr, "goroutines: gr_run: %d\n", err);
		return 1;
	}
	return 0;
}
