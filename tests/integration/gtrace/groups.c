/* groups.c - nested goroutine groups whose figures are known, for
 * gtrace's groups view (test_gtrace_groups.sh).
 *
 * usage: groups NR NC1 NG NC2 NW   (distinct counts: the test tells the
 * groups apart by them; NR, NC1 >= 2)
 *   W   top level: NW members waiting for a channel's close, never
 *       cancelled; released, waited for and destroyed first
 *   R   top level: NR members, r_spawner and NR-1 sleepers
 *   C1  child of R (r_spawner spawns into it first): NC1 members,
 *       c1_spawner and NC1-1 sleepers
 *   G   child of C1 (c1_spawner's): NG sleepers
 *   C2  child of R: NC2 sleepers, then a deadline DEADLINE_MS ahead, which
 *       cancels it (cause deadline, origin C2, NC2 members then)
 *   E   top level: cancelled before its first use, so gr_group_go into it
 *       fails: no member, cancelled (origin E) and drained at its creation
 * Once C2 has drained and every other member has had SETTLE_MS to park,
 * main cancels R: R, C1 and G are cancelled (cause cancel, origin R) with
 * all their members parked in gr_sleep, which returns -ECANCELED; main
 * waits for each group and destroys it.  Every member starts before any
 * member of its group exits, so each group's peak is its count.  Exit 0
 * if every call did what the API says, 1 otherwise (saying which). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <greenrt.h>

#define SLEEP_NS (60LL * 1000000000)    /* members sleep until cancelled */
#define DEADLINE_MS 20
#define SETTLE_MS 50

static int nr, nc1, ng, nc2, nw;
static gr_group R, C1, G, C2, W, E;
static gr_chan *c1_ready, *r_ready, *start;
static int failed;

#define CHECK(cond, ...)                                        \
	do {                                                    \
		if (!(cond)) {                                  \
			fprintf(stderr, "groups: " __VA_ARGS__); \
			fputc('\n', stderr);                    \
			__atomic_store_n(&failed, 1, __ATOMIC_RELAXED); \
		}                                               \
	} while (0)

static void sleeper(void *arg)
{
	(void)arg;
	int r = gr_sleep(SLEEP_NS);
	CHECK(r == -ECANCELED, "a member's gr_sleep returned %d, not -ECANCELED", r);
}

static void go(gr_group *g, void (*fn)(void *), const char *name)
{
	int64_t id = gr_group_go(g, fn, NULL);
	CHECK(id > 0, "gr_group_go into %s: %lld", name, (long long)id);
}

static void c1_spawner(void *arg)
{
	(void)arg;
	for (int i = 0; i < ng; i++)
		go(&G, sleeper, "G");
	int one = 1;
	gr_chan_send(c1_ready, &one);
	sleeper(NULL);
}

static void r_spawner(void *arg)
{
	int one;
	(void)arg;
	go(&C1, c1_spawner, "C1");
	for (int i = 1; i < nc1; i++)
		go(&C1, sleeper, "C1");
	gr_chan_recv(c1_ready, &one);
	for (int i = 0; i < nc2; i++)
		go(&C2, sleeper, "C2");
	gr_group_set_deadline(&C2, gr_now() + DEADLINE_MS * 1000000LL);
	gr_chan_send(r_ready, &one);
	sleeper(NULL);
}

static void waiter(void *arg)
{
	int v;
	(void)arg;
	int r = gr_chan_recv(start, &v);
	CHECK(r == -EPIPE, "W's member: gr_chan_recv returned %d, not -EPIPE", r);
}

static void wait_for(gr_group *g, const char *name, int err)
{
	int r = gr_group_wait(g, -1);
	CHECK(r == 0, "gr_group_wait(%s): %d", name, r);
	CHECK(gr_group_err(g) == err, "gr_group_err(%s): %d, want %d", name, gr_group_err(g), err);
}

static void main_g(void *arg)
{
	int one;
	(void)arg;
	c1_ready = gr_chan_make(sizeof(int), 0);
	r_ready = gr_chan_make(sizeof(int), 0);
	start = gr_chan_make(sizeof(int), 0);

	for (int i = 0; i < nw; i++)
		go(&W, waiter, "W");
	gr_chan_close(start);
	wait_for(&W, "W", 0);
	gr_group_destroy(&W);

	gr_group_cancel(&E);
	int64_t id = gr_group_go(&E, sleeper, NULL);
	CHECK(id == -ECANCELED, "gr_group_go into a cancelled group: %lld", (long long)id);
	gr_group_destroy(&E);

	go(&R, r_spawner, "R");
	for (int i = 1; i < nr; i++)
		go(&R, sleeper, "R");
	gr_chan_recv(r_ready, &one);
	wait_for(&C2, "C2", -ETIMEDOUT);
	gr_sleep(SETTLE_MS * 1000000LL);
	gr_group_cancel(&R);
	wait_for(&R, "R", -ECANCELED);
	wait_for(&C1, "C1", -ECANCELED);
	wait_for(&G, "G", -ECANCELED);
	gr_group_destroy(&G);
	gr_group_destroy(&C1);
	gr_group_destroy(&C2);
	gr_group_destroy(&R);
	gr_chan_free(c1_ready);
	gr_chan_free(r_ready);
	gr_chan_free(start);
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: groups NR NC1 NG NC2 NW\n");
		return 2;
	}
	nr = atoi(argv[1]), nc1 = atoi(argv[2]), ng = atoi(argv[3]), nc2 = atoi(argv[4]), nw = atoi(argv[5]);
	if (nr < 2 || nc1 < 2 || ng < 1 || nc2 < 1 || nw < 1) {
		fprintf(stderr, "groups: NR and NC1 must be >= 2, the others >= 1\n");
		return 2;
	}
	int r = gr_run(main_g, NULL);
	if (r < 0) {
		fprintf(stderr, "groups: gr_run: %d\n", r);
		return 1;
	}
	return __atomic_load_n(&failed, __ATOMIC_RELAXED);
}
