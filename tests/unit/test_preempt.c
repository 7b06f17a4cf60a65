/*
 * test_preempt.c - preemption: a goroutine that never calls into greenrt
 * must not starve the others (GR_PROCS=1 included), asynchronously by
 * signal, or at the next greenrt call with GR_PREEMPT=0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "greenrt.h"

typedef struct spin_ctx {
    int stop;       /* atomic: relaxed loads keep the loop free of calls */
    uint64_t spins; /* atomic */
    int ran_after_sleep;   /* main woke from gr_sleep while the spinner spun */
    int other_ran;         /* a third goroutine got CPU time */
    uint64_t preemptions;
    gr_wg wg;
} spin_ctx;

/* Pure user code: no greenrt call inside the loop. */
static void spinner(void *arg)
{
    spin_ctx *c = arg;
    while (!__atomic_load_n(&c->stop, __ATOMIC_RELAXED))
        __atomic_store_n(&c->spins, c->spins + 1, __ATOMIC_RELAXED);
    gr_wg_done(&c->wg);
}

static void other(void *arg)
{
    spin_ctx *c = arg;
    c->other_ran = 1;
    gr_wg_done(&c->wg);
}

static void main_spin(void *arg)
{
    spin_ctx *c = arg;
    gr_wg_add(&c->wg, 2);
    gr_go(spinner, c);
    gr_yield(); /* let the spinner start: from here on it never yields */
    gr_go(other, c);
    gr_sleep(30 * 1000 * 1000);
    c->ran_after_sleep = 1;
    __atomic_store_n(&c->stop, 1, __ATOMIC_RELAXED);
    gr_wg_wait(&c->wg);
    gr_stats st;
    gr_stats_get(&st);
    c->preemptions = st.preemptions;
}

static int one_worker(void)
{
    const char *procs = getenv("GR_PROCS");
    return procs && atoi(procs) == 1;
}

static void test_preempt_async_spinner_does_not_starve(void **state)
{
    (void)state;
#if defined(__SANITIZE_THREAD__)
    if (one_worker())
        skip(); /* TSan builds turn signal preemption off (env.c) */
#endif
    spin_ctx c = {0};
    assert_int_equal(gr_run(main_spin, &c), 0);
    assert_true(c.ran_after_sleep);
    assert_true(c.other_ran);
    assert_true(c.spins > 0);
    if (one_worker())
        assert_true(c.preemptions > 0); /* one worker: only preemption explains it */
}

/* Cooperative preemption: with GR_PREEMPT=0 a loop that makes a greenrt
 * call (here a non-blocking channel poll) still yields at that call. */
typedef struct coop_ctx {
    int stop; /* atomic */
    gr_chan *ch;
    int main_woke;
    uint64_t preemptions;
    gr_wg wg;
} coop_ctx;

static void poller(void *arg)
{
    coop_ctx *c = arg;
    int v;
    while (!__atomic_load_n(&c->stop, __ATOMIC_RELAXED))
        (void)gr_chan_try_recv(c->ch, &v);
    gr_wg_done(&c->wg);
}

static void main_coop(void *arg)
{
    coop_ctx *c = arg;
    c->ch = gr_chan_make(sizeof(int), 1);
    gr_wg_add(&c->wg, 1);
    gr_go(poller, c);
    gr_yield();
    gr_sleep(30 * 1000 * 1000);
    c->main_woke = 1;
    __atomic_store_n(&c->stop, 1, __ATOMIC_RELAXED);
    gr_wg_wait(&c->wg);
    gr_stats st;
    gr_stats_get(&st);
    c->preemptions = st.preemptions;
    gr_chan_free(c->ch);
}

static void test_preempt_cooperative_at_runtime_calls(void **state)
{
    (void)state;
    const char *old = getenv("GR_PREEMPT");
    setenv("GR_PREEMPT", "0", 1);
    coop_ctx c = {0};
    int r = gr_run(main_coop, &c);
    if (old)
        setenv("GR_PREEMPT", old, 1);
    else
        unsetenv("GR_PREEMPT");
    assert_int_equal(r, 0);
    assert_true(c.main_woke);
    if (one_worker())
        assert_true(c.preemptions > 0);
}

/* gr_preempt_disable holds off asynchronous preemption; enable yields if
 * a preemption was requested meanwhile. */
static void main_disable(void *arg)
{
    int *nest_ok = arg;
    gr_preempt_disable();
    gr_preempt_disable();
    gr_preempt_enable();
    gr_preempt_enable();
    *nest_ok = 1;
}

static void test_preempt_disable_nests(void **state)
{
    (void)state;
    int ok = 0;
    assert_int_equal(gr_run(main_disable, &ok), 0);
    assert_true(ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_preempt_async_spinner_does_not_starve),
        cmocka_unit_test(test_preempt_cooperative_at_runtime_calls),
        cmocka_unit_test(test_preempt_disable_nests),
    };
    return cmocka_run_group_tests_name("preempt", tests, NULL, NULL);
}
