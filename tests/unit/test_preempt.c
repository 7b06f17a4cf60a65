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
#include <pthread.h>
#include <unistd.h>

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

/* The same after the whole runtime was idle: the monitor then sleeps
 * without a timeout, and a worker woken by its own timer (not by another
 * worker) must wake it, or the spinner started next is never preempted
 * and the sleeper behind it never runs.  A watchdog thread releases the
 * spinner after 10 s so that a failure is a failure, not a hang. */
typedef struct idle_ctx {
    spin_ctx s;
    int watchdog_fired;  /* atomic */
    int main_done;       /* atomic */
} idle_ctx;

static void *watchdog(void *arg)
{
    idle_ctx *c = arg;
    for (int i = 0; i < 1000 && !__atomic_load_n(&c->main_done, __ATOMIC_RELAXED); i++)
        usleep(10000);
    if (!__atomic_load_n(&c->main_done, __ATOMIC_RELAXED)) {
        __atomic_store_n(&c->watchdog_fired, 1, __ATOMIC_RELAXED);
        __atomic_store_n(&c->s.stop, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void main_after_idle(void *arg)
{
    idle_ctx *c = arg;
    gr_sleep(20 * 1000 * 1000); /* every worker idle: the monitor sleeps */
    gr_wg_add(&c->s.wg, 1);
    gr_go(spinner, &c->s);
    gr_sleep(30 * 1000 * 1000); /* the timer is on our worker, behind it */
    __atomic_store_n(&c->main_done, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&c->s.stop, 1, __ATOMIC_RELAXED);
    gr_wg_wait(&c->s.wg);
}

static void test_preempt_spinner_after_idle(void **state)
{
    (void)state;
#if defined(__SANITIZE_THREAD__)
    skip(); /* TSan builds turn signal preemption off (env.c) */
#endif
    idle_ctx c = {0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, watchdog, &c), 0);
    assert_int_equal(gr_run(main_after_idle, &c), 0);
    __atomic_store_n(&c.main_done, 1, __ATOMIC_RELAXED);
    pthread_join(t, NULL);
    if (c.watchdog_fired)
        fail_msg("the sleeper never ran again: nothing preempted the spinner");
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
        cmocka_unit_test(test_preempt_spinner_after_idle),
        cmocka_unit_test(test_preempt_cooperative_at_runtime_calls),
        cmocka_unit_test(test_preempt_disable_nests),
    };
    return cmocka_run_group_tests_name("preempt", tests, NULL, NULL);
}
