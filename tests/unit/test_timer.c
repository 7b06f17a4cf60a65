/*
 * test_timer.c - gr_sleep and the timeouts of gr_cond_wait_timeout and
 * gr_select: wake-up order, never early, many sleepers, cancelled timers
 * that must not fire into a later wait, and sleepers keeping a program
 * alive (a sleeping goroutine is not a deadlock).
 *
 * No test asserts a duration upward (the machine is shared and noisy).
 * "Not before the deadline" is a contract and is asserted; the order
 * test gives sleepers 10 ms gaps, starts them together, and checks the
 * order when they were woken within half a gap of their deadlines.
 */
#include "t_util.h"

/* ------------------------------------------------------------- ordering */

struct order {
    gr_chan *start;        /* closed to release the sleepers together */
    atomic_long next;
    int64_t woke[3];       /* index of wake-up -> sleep in ms */
    atomic_long late_max;  /* ns the latest sleeper woke past its deadline */
    int64_t began[3];      /* gr_now() when each began to sleep */
    atomic_long ready;
    gr_wg wg;
};

struct sleeper_arg {
    struct order *o;
    int64_t ms;
    int k;
};

#define ORDER_GAP_MS 10

static void order_sleeper(void *arg)
{
    struct sleeper_arg *a = arg;
    atomic_fetch_add(&a->o->ready, 1);
    gr_chan_recv(a->o->start, NULL);
    a->o->began[a->k] = gr_now();
    int64_t deadline = a->o->began[a->k] + a->ms * T_MS;
    t_check_eq(gr_sleep(a->ms * T_MS), 0);
    long i = atomic_fetch_add(&a->o->next, 1);
    int64_t late = gr_now() - deadline;
    if (i < 3)
        a->o->woke[i] = a->ms;
    long seen = atomic_load(&a->o->late_max);
    while (late > seen && !atomic_compare_exchange_weak(&a->o->late_max, &seen, late))
        ;
    gr_wg_done(&a->o->wg);
}

/* The order is a promise only while the sleepers start together and are
 * woken within the gap between their deadlines: on a machine whose other
 * load keeps a worker off its CPU for longer (a CPU hog), a later timer
 * elsewhere may fire first, and the test says so instead of asserting a
 * duration. */
static void order_main(void *arg)
{
    struct order o = {0};
    struct sleeper_arg a[3] = {
        {&o, 3 * ORDER_GAP_MS, 0}, {&o, 2 * ORDER_GAP_MS, 1}, {&o, ORDER_GAP_MS, 2}};
    o.start = gr_chan_make(0, 0);
    gr_wg_add(&o.wg, 3);
    for (int i = 0; i < 3; i++)
        t_go(order_sleeper, &a[i]);
    t_wait_for(&o.ready, 3);
    gr_chan_close(o.start);
    gr_wg_wait(&o.wg);
    int64_t lo = o.began[0], hi = o.began[0];
    for (int k = 1; k < 3; k++) {
        lo = o.began[k] < lo ? o.began[k] : lo;
        hi = o.began[k] > hi ? o.began[k] : hi;
    }
    int64_t late_max = atomic_load(&o.late_max);
    if (late_max + (hi - lo) >= ORDER_GAP_MS * T_MS / 2) {
        print_message("  sleepers started %lld us apart, one woke %lld us late (the machine "
                      "is busy): order not checked\n",
                      (long long)((hi - lo) / 1000), (long long)(late_max / 1000));
    } else {
        t_check_msg(o.woke[0] == ORDER_GAP_MS && o.woke[1] == 2 * ORDER_GAP_MS &&
                        o.woke[2] == 3 * ORDER_GAP_MS,
                    "woke in order %lld, %lld, %lld ms (want 10, 20, 30)",
                    (long long)o.woke[0], (long long)o.woke[1], (long long)o.woke[2]);
    }
    gr_chan_free(o.start);
}

static void test_timer_sleep_order(void **state)
{
    t_run(order_main, NULL);
}

/* ------------------------------------------------------- never too early */

enum { EARLY_N = 300 };

struct early {
    gr_wg wg;
    atomic_long early, ok;
};

struct early_arg {
    struct early *e;
    int64_t ns;
};

static void early_sleeper(void *arg)
{
    struct early_arg *a = arg;
    int64_t t0 = gr_now();
    gr_sleep(a->ns);
    int64_t took = gr_now() - t0;
    if (took < a->ns)
        atomic_fetch_add(&a->e->early, 1);
    else
        atomic_fetch_add(&a->e->ok, 1);
    gr_wg_done(&a->e->wg);
}

static void early_main(void *arg)
{
    static struct early e;
    static struct early_arg a[EARLY_N];
    memset(&e, 0, sizeof e);
    gr_wg_add(&e.wg, EARLY_N);
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < EARLY_N; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        a[i] = (struct early_arg){&e, (int64_t)(x % (20 * T_MS)) + 1};
        t_go(early_sleeper, &a[i]);
    }
    gr_wg_wait(&e.wg);
    t_check_eq(atomic_load(&e.early), 0);
    t_check_eq(atomic_load(&e.ok), EARLY_N);
}

static void test_timer_sleep_never_early(void **state)
{
    t_run(early_main, NULL);
}

static void zero_main(void *arg)
{
    t_check_eq(gr_sleep(0), 0);
    t_check_eq(gr_sleep(-5), 0);
    t_check_eq(gr_sleep(INT64_MIN), 0);
    t_check_eq(gr_sleep(1), 0);
    int64_t a = gr_now(), b = gr_now();
    t_check(a > 0);
    t_check(b >= a);
}

static void test_timer_sleep_zero_and_negative(void **state)
{
    t_run(zero_main, NULL);
}

/* ------------------------------------------------------- many sleepers */

enum { MANY_SLEEPERS = T_LIVE(100000) };

struct many {
    gr_wg wg;
    atomic_long woke;
};

static void many_sleeper(void *arg)
{
    struct many *m = arg;
    /* 1..50 ms, spread by id so timers interleave in the heap. */
    gr_sleep((gr_self() % 50 + 1) * T_MS);
    atomic_fetch_add(&m->woke, 1);
    gr_wg_done(&m->wg);
}

static void many_main(void *arg)
{
    static struct many m;
    memset(&m, 0, sizeof m);
    gr_wg_add(&m.wg, MANY_SLEEPERS);
    for (int i = 0; i < MANY_SLEEPERS; i++)
        t_go(many_sleeper, &m);
    gr_wg_wait(&m.wg);
    t_check_eq(atomic_load(&m.woke), MANY_SLEEPERS);
}

static void test_timer_many_sleepers(void **state)
{
    t_run(many_main, NULL);
}

/* ---------------------------------------------------- sleeping is alive */

static void lone_sleep_main(void *arg)
{
    /* Only sleeping goroutines: not a deadlock. */
    t_check_eq(gr_sleep(20 * T_MS), 0);
}

static void test_timer_sleep_alone_is_not_deadlock(void **state)
{
    t_run(lone_sleep_main, NULL);
}

struct late {
    gr_chan *c;
    atomic_long sent;   /* late_sender calls that returned */
};

static void late_sender(void *arg)
{
    struct late *l = arg;
    gr_sleep(20 * T_MS);
    int v = 5;
    t_check_eq(gr_chan_send(l->c, &v), 0);
    atomic_fetch_add(&l->sent, 1);
}

static void blocked_with_sleeper_main(void *arg)
{
    /* main blocked on a channel whose only sender is asleep: not a
     * deadlock, the timer will wake the sender. */
    struct late l = {gr_chan_make(sizeof(int), 0), 0};
    t_go(late_sender, &l);
    int v = 0;
    t_check_eq(gr_chan_recv(l.c, &v), 0);
    t_check_eq(v, 5);
    t_wait_for(&l.sent, 1);
    gr_chan_free(l.c);
}

static void test_timer_blocked_on_sleeper_is_not_deadlock(void **state)
{
    t_run(blocked_with_sleeper_main, NULL);
}

/* -------------------------------------------------------- cond timeouts */

struct ctmo {
    gr_mutex m;
    gr_cond c;
    int flag;
};

static void cond_timeout_main(void *arg)
{
    static struct ctmo s;
    memset(&s, 0, sizeof s);
    gr_mutex_lock(&s.m);
    for (int64_t ms = 1; ms <= 16; ms *= 4) {
        int64_t t0 = gr_now();
        int r = gr_cond_wait_timeout(&s.c, &s.m, ms * T_MS);
        int64_t took = gr_now() - t0;
        t_check_eq(r, -ETIMEDOUT);
        t_check_msg(took >= ms * T_MS, "%lld ms timeout after %lld ns",
                    (long long)ms, (long long)took);
    }
    gr_mutex_unlock(&s.m);
}

static void test_timer_cond_timeout(void **state)
{
    t_run(cond_timeout_main, NULL);
}

/* A cond wait satisfied before its timeout: the cancelled timer must not
 * wake the goroutine later, in some other wait.  The signaller takes the
 * mutex main holds, so it signals only once main waits; a round whose
 * timeout still came first (a busy machine kept the signaller off a CPU
 * for 10 ms) is not a satisfied wait and is not counted. */
enum { CANCEL_ROUNDS = 5, CANCEL_TRIES = 50 };

static void cond_signaller(void *arg)
{
    struct ctmo *s = arg;
    gr_mutex_lock(&s->m); /* free once main waits */
    s->flag = 1;
    gr_cond_signal(&s->c);
    gr_mutex_unlock(&s->m);
}

static void cond_cancel_main(void *arg)
{
    static struct ctmo s;
    memset(&s, 0, sizeof s);
    struct late l = {gr_chan_make(sizeof(int), 0), 0};
    int satisfied = 0, tries = 0;
    while (satisfied < CANCEL_ROUNDS && tries++ < CANCEL_TRIES) {
        gr_mutex_lock(&s.m);
        s.flag = 0;
        t_go(cond_signaller, &s);
        int r = 0;
        while (!s.flag && r == 0)
            r = gr_cond_wait_timeout(&s.c, &s.m, 10 * T_MS);
        while (!s.flag) { /* timed out first: let the signaller finish */
            gr_mutex_unlock(&s.m);
            gr_sleep(T_MS);
            gr_mutex_lock(&s.m);
        }
        gr_mutex_unlock(&s.m);
        t_check(r == 0 || r == -ETIMEDOUT);
        if (r != 0)
            continue;
        satisfied++;
        /* Now wait 20 ms on a channel; the old 10 ms timer would fire
         * in the middle of it if it were not cancelled. */
        t_go(late_sender, &l);
        int v = 0;
        t_check_eq(gr_chan_recv(l.c, &v), 0);
        t_check_eq(v, 5);
    }
    t_check_eq(satisfied, CANCEL_ROUNDS);
    t_wait_for(&l.sent, satisfied);
    gr_chan_free(l.c);
}

static void test_timer_cond_cancelled_timer_is_harmless(void **state)
{
    t_run(cond_cancel_main, NULL);
}

/* ------------------------------------------------------ select timeouts */

static void select_timeout_main(void *arg)
{
    gr_chan *c = gr_chan_make(sizeof(int), 0);
    int v = 0;
    for (int64_t ms = 1; ms <= 16; ms *= 4) {
        gr_case cs[1] = {{.chan = c, .op = GR_RECV, .elem = &v, .res = 1}};
        int64_t t0 = gr_now();
        int r = gr_select(cs, 1, ms * T_MS);
        int64_t took = gr_now() - t0;
        t_check_eq(r, -ETIMEDOUT);
        t_check_msg(took >= ms * T_MS, "%lld ms timeout after %lld ns",
                    (long long)ms, (long long)took);
    }
    /* No cases at all, with a timeout: just a sleep. */
    t_check_eq(gr_select(NULL, 0, 2 * T_MS), -ETIMEDOUT);
    gr_chan_free(c);
}

static void test_timer_select_timeout(void **state)
{
    t_run(select_timeout_main, NULL);
}

static void select_cancel_main(void *arg)
{
    struct late l = {gr_chan_make(sizeof(int), 0), 0};
    struct late l2 = {gr_chan_make(sizeof(int), 0), 0};
    for (int round = 0; round < 5; round++) {
        int v = 0;
        gr_case cs[1] = {{.chan = l.c, .op = GR_RECV, .elem = &v, .res = 1}};
        t_go(late_sender, &l);                       /* sends at 20 ms */
        t_check_eq(gr_select(cs, 1, 10 * T_SEC), 0);  /* long timeout */
        t_check_eq(v, 5);
        /* A short select timeout then a longer blocking receive. */
        cs[0].chan = l2.c;
        t_check_eq(gr_select(cs, 1, T_MS), -ETIMEDOUT);
        v = 0;
        t_go(late_sender, &l2);
        t_check_eq(gr_chan_recv(l2.c, &v), 0);
        t_check_eq(v, 5);
    }
    t_wait_for(&l.sent, 5);
    t_wait_for(&l2.sent, 5);
    gr_chan_free(l.c);
    gr_chan_free(l2.c);
}

static void test_timer_select_cancelled_timer_is_harmless(void **state)
{
    t_run(select_cancel_main, NULL);
}

/* Many timed selects at once, half satisfied and half timing out. */
enum { TS_N = 2000 };

struct tsel {
    gr_chan *c;
    gr_wg wg;
    atomic_long got, timed_out;
};

static void timed_selector(void *arg)
{
    struct tsel *s = arg;
    int v;
    gr_case cs[1] = {{.chan = s->c, .op = GR_RECV, .elem = &v, .res = 1}};
    int r = gr_select(cs, 1, (gr_self() % 20 + 5) * T_MS);
    if (r == 0)
        atomic_fetch_add(&s->got, 1);
    else if (r == -ETIMEDOUT)
        atomic_fetch_add(&s->timed_out, 1);
    else
        t_fail_at(__FILE__, __LINE__, "gr_select returned %d", r);
    gr_wg_done(&s->wg);
}

static void many_timed_main(void *arg)
{
    static struct tsel s;
    memset(&s, 0, sizeof s);
    s.c = gr_chan_make(sizeof(int), TS_N);
    gr_wg_add(&s.wg, TS_N);
    for (int i = 0; i < TS_N; i++)
        t_go(timed_selector, &s);
    /* Buffered sends never block; each value goes to at most one
     * selector; selectors still waiting at the end time out. */
    for (int i = 0; i < TS_N / 2; i++) {
        t_check_eq(gr_chan_send(s.c, &i), 0);
        if ((i & 15) == 0)
            gr_yield();
    }
    gr_wg_wait(&s.wg);
    long got = atomic_load(&s.got), to = atomic_load(&s.timed_out);
    t_check_eq(got + to, TS_N);
    t_check_eq(got + (long)gr_chan_len(s.c), TS_N / 2);
    gr_chan_free(s.c);
}

static void test_timer_many_timed_selects(void **state)
{
    t_run(many_timed_main, NULL);
}

/* ------------------------------------------------------- huge timeouts */

/* A timeout too large for now + timeout (INT64_MAX, "forever", or just
 * below it) saturates, as Go's timers do: it must not wrap into the past
 * and expire at once.  Each wait below is satisfied by main after 50 ms
 * (or never, for the sleeps), and must still be waiting until then. */
struct huge {
    int64_t timeout;
    gr_chan *c;
    gr_mutex m;
    gr_cond cv;
    int signalled;          /* under m */
    int pipe[2];
    atomic_long returned;   /* waits that returned, before main's go */
    atomic_long go;         /* main released the waits */
    int select_r, nocase_r, cond_r, poll_r;
    gr_wg wg;
};

static void huge_note(struct huge *h)
{
    if (!atomic_load(&h->go))
        atomic_fetch_add(&h->returned, 1);
}

static void huge_sleeper(void *arg)
{
    struct huge *h = arg;
    gr_sleep(h->timeout);
    atomic_fetch_add(&h->returned, 1); /* never, main does not wait for it */
}

static void huge_nocase(void *arg)
{
    struct huge *h = arg;
    h->nocase_r = gr_select(NULL, 0, h->timeout);
    atomic_fetch_add(&h->returned, 1); /* never either */
}

static void huge_select(void *arg)
{
    struct huge *h = arg;
    int v = 0;
    gr_case cs[1] = {{.chan = h->c, .op = GR_RECV, .elem = &v}};
    h->select_r = gr_select(cs, 1, h->timeout);
    huge_note(h);
    gr_wg_done(&h->wg);
}

static void huge_cond(void *arg)
{
    struct huge *h = arg;
    gr_mutex_lock(&h->m);
    int r = 0;
    while (!h->signalled && r == 0)
        r = gr_cond_wait_timeout(&h->cv, &h->m, h->timeout);
    h->cond_r = r;
    gr_mutex_unlock(&h->m);
    huge_note(h);
    gr_wg_done(&h->wg);
}

static void huge_poll(void *arg)
{
    struct huge *h = arg;
    h->poll_r = gr_poll(h->pipe[0], POLLIN, h->timeout);
    huge_note(h);
    gr_wg_done(&h->wg);
}

static void huge_main(void *arg)
{
    static const int64_t timeouts[] = {INT64_MAX, INT64_MAX - 1000, INT64_MAX / 2 + INT64_MAX / 4};
    static struct huge hs[3];
    for (int i = 0; i < 3; i++) {
        struct huge *h = &hs[i];
        memset(h, 0, sizeof *h);
        h->timeout = timeouts[i];
        h->c = gr_chan_make(sizeof(int), 0);
        t_check(pipe2(h->pipe, O_CLOEXEC) == 0);
        gr_wg_add(&h->wg, 3);
        t_go(huge_sleeper, h);
        t_go(huge_nocase, h);
        t_go(huge_select, h);
        t_go(huge_cond, h);
        t_go(huge_poll, h);
    }
    gr_sleep(50 * T_MS);
    for (int i = 0; i < 3; i++) {
        struct huge *h = &hs[i];
        t_check_msg(atomic_load(&h->returned) == 0,
                    "timeout %lld: %ld wait(s) returned at once (select %d, cond %d, poll %d)",
                    (long long)h->timeout, atomic_load(&h->returned), h->select_r, h->cond_r,
                    h->poll_r);
        atomic_store(&h->go, 1);
        int v = 7; /* to the parked select: -EAGAIN if it has returned */
        t_check_eq(gr_chan_try_send(h->c, &v), 0);
        gr_mutex_lock(&h->m);
        h->signalled = 1;
        gr_cond_signal(&h->cv);
        gr_mutex_unlock(&h->m);
        t_check_eq(write(h->pipe[1], "x", 1), 1);
        gr_wg_wait(&h->wg);
        t_check_eq(h->select_r, 0);
        t_check_eq(h->cond_r, 0);
        t_check_eq(h->poll_r, POLLIN);
        close(h->pipe[0]);
        close(h->pipe[1]);
    }
    /* The sleepers and the case-less selects are abandoned with the run;
     * their channels too (nothing waits on them). */
    for (int i = 0; i < 3; i++)
        gr_chan_free(hs[i].c);
}

static void test_timer_huge_timeouts_saturate(void **state)
{
    t_run(huge_main, NULL);
}

int main(void)
{
    t_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timer_sleep_order),
        cmocka_unit_test(test_timer_sleep_never_early),
        cmocka_unit_test(test_timer_sleep_zero_and_negative),
        cmocka_unit_test(test_timer_many_sleepers),
        cmocka_unit_test(test_timer_sleep_alone_is_not_deadlock),
        cmocka_unit_test(test_timer_blocked_on_sleeper_is_not_deadlock),
        cmocka_unit_test(test_timer_cond_timeout),
        cmocka_unit_test(test_timer_cond_cancelled_timer_is_harmless),
        cmocka_unit_test(test_timer_select_timeout),
        cmocka_unit_test(test_timer_select_cancelled_timer_is_harmless),
        cmocka_unit_test(test_timer_many_timed_selects),
        cmocka_unit_test(test_timer_huge_timeouts_saturate),
    };
    return cmocka_run_group_tests_name("timer", tests, NULL, NULL);
}
