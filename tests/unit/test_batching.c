/*
 * test_batching.c - io_uring batching (uring.c): ring_enters per I/O
 * operation under 1,000 concurrent ping-pongs, printed and bounded.
 *
 * Every test runs between t_fd_setup and t_fd_teardown (t_util.h): a test
 * that leaks a descriptor fails in its teardown.  Checks made inside
 * goroutines are t_check (t_util.h), never cmocka asserts; t_run turns
 * them into a cmocka failure after gr_run returns.  Nothing asserts
 * timing: a liveness bug shows up as the runner's timeout, and the bounds
 * that involve time only ever use "a sleep of d ns lasts at least d",
 * which holds on any machine.
 */
#include "t_util.h"
#include "t_io.h"

/* ============================================================ batching */

/*
 * NPAIRS goroutine pairs ping-pong 8 bytes over socketpairs, ROUNDS times
 * each: 4 I/O operations per round trip, all in flight at once.  A worker
 * that entered the kernel once per operation would show ring_enters /
 * io_submitted near 1 (or above); batching (one io_uring_enter per
 * scheduling round) brings it well below.  The figure is printed.
 */
#define NPAIRS 1000
#define ROUNDS 50

struct pp_ctx {
    int (*sv)[2];
    atomic_long bad;
    gr_wg done;
    gr_stats before, after;
};

struct pp_arg {
    struct pp_ctx *c;
    int fd;
    int pinger;
};

static void pp_run(void *arg)
{
    struct pp_arg *a = arg;
    for (uint64_t i = 0; i < ROUNDS; i++) {
        uint64_t v = i, back = ~0ull;
        if (a->pinger) {
            if (gr_write(a->fd, &v, sizeof v) != (ssize_t)sizeof v ||
                gr_read_full(a->fd, &back, sizeof back) != (ssize_t)sizeof back ||
                back != i + 1) {
                atomic_fetch_add(&a->c->bad, 1);
                break;
            }
        } else {
            if (gr_read_full(a->fd, &back, sizeof back) != (ssize_t)sizeof back ||
                back != i) {
                atomic_fetch_add(&a->c->bad, 1);
                break;
            }
            back++;
            if (gr_write(a->fd, &back, sizeof back) != (ssize_t)sizeof back) {
                atomic_fetch_add(&a->c->bad, 1);
                break;
            }
        }
    }
    gr_wg_done(&a->c->done);
}

static void pp_main(void *arg)
{
    struct pp_ctx *c = arg;
    struct pp_arg *args = calloc(2 * NPAIRS, sizeof *args);
    t_check(args != NULL);
    c->sv = args ? t_socketpairs(NPAIRS) : NULL;
    if (!c->sv)
        goto out;
    gr_wg_add(&c->done, 2 * NPAIRS);
    gr_stats_get(&c->before);
    for (int i = 0; i < NPAIRS; i++) {
        args[2 * i] = (struct pp_arg){c, c->sv[i][0], 1};
        args[2 * i + 1] = (struct pp_arg){c, c->sv[i][1], 0};
        t_go(pp_run, &args[2 * i]);
        t_go(pp_run, &args[2 * i + 1]);
    }
    gr_wg_wait(&c->done);
    gr_stats_get(&c->after);
    t_close_socketpairs(c->sv, NPAIRS);
out:
    free(args);
}

static void test_batching_ring_enters_per_op(void **state)
{
    struct pp_ctx *c = calloc(1, sizeof *c);
    assert_non_null(c);
    t_run(pp_main, c);
    assert_int_equal(atomic_load(&c->bad), 0);
    uint64_t ops = c->after.io_submitted - c->before.io_submitted;
    uint64_t enters = c->after.ring_enters - c->before.ring_enters;
    uint64_t done = c->after.io_completed - c->before.io_completed;
    double ratio = ops ? (double)enters / (double)ops : 1.0;
    printf("  batching (GR_PROCS=%d, %d pairs x %d round trips): %llu I/O ops, "
           "%llu completed, %llu ring_enters -> %.3f ring_enters per op\n",
           t_env_procs(), NPAIRS, ROUNDS, (unsigned long long)ops,
           (unsigned long long)done, (unsigned long long)enters, ratio);
    /* At least the 4 operations per round trip were counted. */
    assert_true(ops >= 4ull * NPAIRS * ROUNDS);
    assert_true(ratio < 0.5);
    free(c);
}

/* ================================================================ main */

int main(void)
{
    t_init();
    /* stdout is a pipe under the runner: keep our lines in order with
     * cmocka's. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        t_unit_test_fds(test_batching_ring_enters_per_op),
    };
    return cmocka_run_group_tests_name("batching", tests, NULL, NULL);
}
