/*
 * test_select.c - gr_select: uniform choice, timeout, poll, closed and
 * NULL channels, send cases, wake-up by another goroutine, and exactly-once
 * delivery when several selects race for the same values.
 *
 * The fairness test is statistical.  With 3 always-ready cases and
 * 30,000 selects each count is Binomial(30000, 1/3): mean 10,000,
 * standard deviation 81.6.  The accepted band is 10,000 +- 5% (+-500),
 * i.e. +-6.1 standard deviations: a correct uniform choice falls outside
 * it with probability below 1e-9 per count, so a failure means the choice
 * is biased (e.g. always the first ready case, or a fixed rotation would
 * pass the band but is caught by the run-length check below).
 */
#include "t_util.h"

/* --------------------------------------------------------------- fairness */

enum { FAIR_CASES = 3, FAIR_ROUNDS = 30000 };

struct fair {
    long count[FAIR_CASES];
    long longest_run; /* longest run of one index chosen back to back */
    long repeats;     /* rounds that chose the same index as the one before */
};

static void fair_check(const struct fair *f, const char *what)
{
    long mean = FAIR_ROUNDS / FAIR_CASES, tol = mean / 20;
    for (int i = 0; i < FAIR_CASES; i++)
        t_check_msg(f->count[i] >= mean - tol && f->count[i] <= mean + tol,
                    "%s: case %d chosen %ld times of %d (want %ld +- %ld)", what,
                    i, f->count[i], FAIR_ROUNDS, mean, tol);
    /* Independent choices repeat the previous index 1/3 of the time
     * (10,000 +- 82); a round-robin never does.  Same 6-sigma band. */
    t_check_msg(f->repeats >= mean - tol && f->repeats <= mean + tol,
                "%s: %ld repeats of the previous choice (want %ld +- %ld): "
                "not independent", what, f->repeats, mean, tol);
}

static void fair_recv_main(void *arg)
{
    struct fair *f = arg;
    gr_chan *c[FAIR_CASES];
    int vals[FAIR_CASES];
    gr_case cs[FAIR_CASES];
    for (int i = 0; i < FAIR_CASES; i++) {
        c[i] = gr_chan_make(sizeof(int), 1);
        t_check(c[i] != NULL);
        if (!c[i])
            return;
        int v = i;
        t_check_eq(gr_chan_send(c[i], &v), 0);
    }
    int prev = -1;
    for (int r = 0; r < FAIR_ROUNDS; r++) {
        for (int i = 0; i < FAIR_CASES; i++)
            cs[i] = (gr_case){.chan = c[i], .op = GR_RECV, .elem = &vals[i],
                              .res = 1};
        int k = gr_select(cs, FAIR_CASES, -1);
        if (k < 0 || k >= FAIR_CASES) {
            t_fail_at(__FILE__, __LINE__, "gr_select returned %d", k);
            return;
        }
        t_check_eq(cs[k].res, 0);
        t_check_eq(vals[k], k);
        f->count[k]++;
        if (k == prev)
            f->repeats++;
        prev = k;
        /* Refill: every case is ready again for the next round. */
        t_check_eq(gr_chan_try_send(c[k], &k), 0);
    }
    for (int i = 0; i < FAIR_CASES; i++)
        gr_chan_free(c[i]);
}

static void test_select_fairness_recv(void **state)
{
    struct fair f = {0};
    t_run(fair_recv_main, &f);
    t_reset();
    fair_check(&f, "recv");
    t_assert_no_failure(__FILE__, __LINE__);
}

/* Send cases on channels with room, mixed with a closed channel's
 * receive (always ready, res -EPIPE). */
static void fair_mixed_main(void *arg)
{
    struct fair *f = arg;
    gr_chan *a = gr_chan_make(sizeof(int), FAIR_ROUNDS);
    gr_chan *b = gr_chan_make(sizeof(int), FAIR_ROUNDS);
    gr_chan *closed = gr_chan_make(sizeof(int), 0);
    t_check(a && b && closed);
    if (!a || !b || !closed)
        return;
    gr_chan_close(closed);
    int prev = -1, x = 1, y = 2, z;
    for (int r = 0; r < FAIR_ROUNDS; r++) {
        gr_case cs[3] = {
            {.chan = a, .op = GR_SEND, .elem = &x, .res = 1},
            {.chan = closed, .op = GR_RECV, .elem = &z, .res = 1},
            {.chan = b, .op = GR_SEND, .elem = &y, .res = 1},
        };
        z = 77;
        int k = gr_select(cs, 3, 0);
        if (k < 0 || k >= 3) {
            t_fail_at(__FILE__, __LINE__, "gr_select returned %d", k);
            return;
        }
        t_check_eq(cs[k].res, k == 1 ? -EPIPE : 0);
        if (k == 1)
            t_check_eq(z, 0);
        f->count[k]++;
        if (k == prev)
            f->repeats++;
        prev = k;
    }
    t_check_eq(gr_chan_len(a), f->count[0]);
    t_check_eq(gr_chan_len(b), f->count[2]);
    gr_chan_free(a);
    gr_chan_free(b);
    gr_chan_free(closed);
}

static void test_select_fairness_mixed(void **state)
{
    struct fair f = {0};
    t_run(fair_mixed_main, &f);
    t_reset();
    fair_check(&f, "send/closed-recv/send");
    t_assert_no_failure(__FILE__, __LINE__);
}

/* ------------------------------------------------------- timeout and poll */

static void timeout_main(void *arg)
{
    gr_chan *c = gr_chan_make(sizeof(int), 0);
    gr_chan *d = gr_chan_make(sizeof(int), 4);
    int v = 5, w = 6;
    gr_case cs[2] = {
        {.chan = c, .op = GR_RECV, .elem = &v, .res = 1},
        {.chan = d, .op = GR_RECV, .elem = &w, .res = 1},
    };
    int64_t t0 = gr_now();
    int k = gr_select(cs, 2, 10 * T_MS);
    int64_t took = gr_now() - t0;
    t_check_eq(k, -ETIMEDOUT);
    t_check_msg(took >= 10 * T_MS, "timed out after %lld ns, before 10 ms",
                (long long)took);
    /* Nothing was received. */
    t_check_eq(v, 5);
    t_check_eq(w, 6);

    /* The expired select left no waiter behind: an unbuffered send still
     * finds no receiver, a buffered value stays in the buffer. */
    t_check_eq(gr_chan_try_send(c, &v), -EAGAIN);
    t_check_eq(gr_chan_send(d, &v), 0);
    t_check_eq(gr_chan_len(d), 1);
    gr_chan_free(c);
    gr_chan_free(d);
}

static void test_select_timeout(void **state)
{
    t_run(timeout_main, NULL);
}

static void poll_main(void *arg)
{
    gr_chan *c = gr_chan_make(sizeof(int), 1);
    gr_chan *u = gr_chan_make(sizeof(int), 0);
    int v = 0, w = 0;
    gr_case cs[2] = {
        {.chan = c, .op = GR_RECV, .elem = &v, .res = 1},
        {.chan = u, .op = GR_RECV, .elem = &w, .res = 1},
    };
    t_check_eq(gr_select(cs, 2, 0), -EAGAIN);
    int x = 9;
    t_check_eq(gr_chan_send(c, &x), 0);
    t_check_eq(gr_select(cs, 2, 0), 0);
    t_check_eq(cs[0].res, 0);
    t_check_eq(v, 9);
    t_check_eq(gr_select(cs, 2, 0), -EAGAIN);

    /* A send case that cannot proceed: unbuffered, nobody waiting. */
    gr_case s = {.chan = u, .op = GR_SEND, .elem = &x, .res = 1};
    t_check_eq(gr_select(&s, 1, 0), -EAGAIN);
    /* Full buffer. */
    t_check_eq(gr_chan_send(c, &x), 0);
    s.chan = c;
    t_check_eq(gr_select(&s, 1, 0), -EAGAIN);
    gr_chan_free(c);
    gr_chan_free(u);
}

static void test_select_poll(void **state)
{
    t_run(poll_main, NULL);
}

/* ------------------------------------------------------------ closed/NULL */

static void closed_main(void *arg)
{
    gr_chan *c = gr_chan_make(sizeof(long), 2);
    long one = 1, v = -1;
    t_check_eq(gr_chan_send(c, &one), 0);
    t_check_eq(gr_chan_close(c), 0);
    gr_case r = {.chan = c, .op = GR_RECV, .elem = &v, .res = 1};
    /* The remaining value first, then -EPIPE with a zeroed element. */
    t_check_eq(gr_select(&r, 1, -1), 0);
    t_check_eq(r.res, 0);
    t_check_eq(v, 1);
    v = -1;
    r.res = 1;
    t_check_eq(gr_select(&r, 1, -1), 0);
    t_check_eq(r.res, -EPIPE);
    t_check_eq(v, 0);
    /* A send case on a closed channel proceeds with -EPIPE. */
    gr_case s = {.chan = c, .op = GR_SEND, .elem = &one, .res = 1};
    t_check_eq(gr_select(&s, 1, 0), 0);
    t_check_eq(s.res, -EPIPE);
    /* NULL elem: the value is discarded, nothing is written. */
    r.elem = NULL;
    r.res = 1;
    t_check_eq(gr_select(&r, 1, 0), 0);
    t_check_eq(r.res, -EPIPE);
    gr_chan_free(c);
}

static void test_select_closed(void **state)
{
    t_run(closed_main, NULL);
}

struct closer {
    gr_chan *c;
    atomic_long done;
};

static void late_closer(void *arg)
{
    struct closer *cl = arg;
    gr_sleep(2 * T_MS);
    gr_chan_close(cl->c);
    atomic_store(&cl->done, 1);
}

static void closed_wakes_main(void *arg)
{
    /* A select blocked on a channel is woken by its close. */
    struct closer cl = {gr_chan_make(sizeof(int), 0), 0};
    gr_chan *other = gr_chan_make(sizeof(int), 0);
    int v = 3, w = 4;
    gr_case cs[2] = {
        {.chan = other, .op = GR_RECV, .elem = &w, .res = 1},
        {.chan = cl.c, .op = GR_RECV, .elem = &v, .res = 1},
    };
    t_go(late_closer, &cl);
    t_check_eq(gr_select(cs, 2, -1), 1);
    t_check_eq(cs[1].res, -EPIPE);
    t_check_eq(v, 0);
    t_check_eq(w, 4);
    t_wait_for(&cl.done, 1);
    gr_chan_free(cl.c);
    gr_chan_free(other);
}

static void test_select_woken_by_close(void **state)
{
    t_run(closed_wakes_main, NULL);
}

static void null_main(void *arg)
{
    gr_chan *c = gr_chan_make(sizeof(int), 1);
    int v = 0, x = 1;
    for (int i = 0; i < 1000; i++) {
        t_check_eq(gr_chan_send(c, &x), 0);
        gr_case cs[3] = {
            {.chan = NULL, .op = GR_RECV, .elem = &v, .res = 1},
            {.chan = c, .op = GR_RECV, .elem = &v, .res = 1},
            {.chan = NULL, .op = GR_SEND, .elem = &x, .res = 1},
        };
        int k = gr_select(cs, 3, -1);
        t_check_eq(k, 1);
        if (k != 1)
            break;
    }
    gr_case none[2] = {
        {.chan = NULL, .op = GR_RECV, .elem = &v, .res = 1},
        {.chan = NULL, .op = GR_SEND, .elem = &x, .res = 1},
    };
    t_check_eq(gr_select(none, 2, 0), -EAGAIN);
    t_check_eq(gr_select(none, 2, 2 * T_MS), -ETIMEDOUT);
    t_check_eq(gr_select(NULL, 0, 0), -EAGAIN);
    t_check_eq(gr_select(NULL, 0, 2 * T_MS), -ETIMEDOUT);
    gr_chan_free(c);
}

static void test_select_null_never_ready(void **state)
{
    t_run(null_main, NULL);
}

static void errors_main(void *arg)
{
    gr_chan *c = gr_chan_make(sizeof(int), 1);
    int v = 0;
    gr_case bad = {.chan = c, .op = 3, .elem = &v, .res = 1};
    t_check_eq(gr_select(&bad, 1, 0), -EINVAL);
    bad.op = 0;
    t_check_eq(gr_select(&bad, 1, 0), -EINVAL);
    gr_case ok = {.chan = c, .op = GR_RECV, .elem = &v, .res = 1};
    t_check_eq(gr_select(&ok, -1, 0), -EINVAL);
    gr_case *many = calloc(GR_SELECT_MAX + 1, sizeof *many);
    if (many) {
        for (int i = 0; i <= GR_SELECT_MAX; i++)
            many[i] = (gr_case){.chan = NULL, .op = GR_RECV};
        t_check_eq(gr_select(many, GR_SELECT_MAX + 1, 0), -EINVAL);
        /* GR_SELECT_MAX itself is allowed. */
        many[GR_SELECT_MAX - 1].chan = c;
        t_check_eq(gr_chan_send(c, &v), 0);
        t_check_eq(gr_select(many, GR_SELECT_MAX, 0), GR_SELECT_MAX - 1);
        free(many);
    }
    gr_chan_free(c);
}

static void test_select_errors(void **state)
{
    t_run(errors_main, NULL);
}

/* ------------------------------------------------------------ send cases */

struct taker {
    gr_chan *c;
    long got;
    atomic_long done;
};

static void taker(void *arg)
{
    struct taker *t = arg;
    t_check_eq(gr_chan_recv(t->c, &t->got), 0);
    atomic_store(&t->done, 1);
}

static void send_case_main(void *arg)
{
    /* Into a buffer with room. */
    gr_chan *full = gr_chan_make(sizeof(long), 1);
    gr_chan *room = gr_chan_make(sizeof(long), 1);
    long a = 10, b = 20, out = 0;
    t_check_eq(gr_chan_send(full, &a), 0);
    gr_case cs[2] = {
        {.chan = full, .op = GR_SEND, .elem = &a, .res = 1},
        {.chan = room, .op = GR_SEND, .elem = &b, .res = 1},
    };
    t_check_eq(gr_select(cs, 2, -1), 1);
    t_check_eq(cs[1].res, 0);
    t_check_eq(gr_chan_recv(room, &out), 0);
    t_check_eq(out, 20);
    t_check_eq(gr_chan_len(full), 1);

    /* To a receiver that arrives later on an unbuffered channel. */
    struct taker t = {.c = gr_chan_make(sizeof(long), 0)};
    gr_chan *never = gr_chan_make(sizeof(long), 0);
    t_go(taker, &t);
    long c = 30, d = 40;
    gr_case cs2[2] = {
        {.chan = never, .op = GR_SEND, .elem = &d, .res = 1},
        {.chan = t.c, .op = GR_SEND, .elem = &c, .res = 1},
    };
    t_check_eq(gr_select(cs2, 2, -1), 1);
    t_wait_for(&t.done, 1);
    t_check_eq(t.got, 30);
    t_check_eq(gr_chan_try_recv(never, &out), -EAGAIN);
    gr_chan_free(full);
    gr_chan_free(room);
    gr_chan_free(t.c);
    gr_chan_free(never);
}

static void test_select_send_case(void **state)
{
    t_run(send_case_main, NULL);
}

/* ------------------------------------------------ woken by another sender */

struct wake {
    gr_chan *a, *b;
    atomic_long sent;
};

static void wake_sender(void *arg)
{
    struct wake *w = arg;
    gr_sleep(2 * T_MS);
    long v = 123;
    t_check_eq(gr_chan_send(w->b, &v), 0);
    atomic_fetch_add(&w->sent, 1);
}

static void woken_main(void *arg)
{
    for (int cap = 0; cap <= 1; cap++) {
        struct wake w = {gr_chan_make(sizeof(long), cap),
                         gr_chan_make(sizeof(long), cap), 0};
        long va = -1, vb = -1;
        gr_case cs[2] = {
            {.chan = w.a, .op = GR_RECV, .elem = &va, .res = 1},
            {.chan = w.b, .op = GR_RECV, .elem = &vb, .res = 1},
        };
        t_go(wake_sender, &w);
        t_check_eq(gr_select(cs, 2, -1), 1);
        t_check_eq(cs[1].res, 0);
        t_check_eq(vb, 123);
        t_check_eq(va, -1);
        /* With a (long) timeout too: the timer is cancelled. */
        t_go(wake_sender, &w);
        vb = -1;
        t_check_eq(gr_select(cs, 2, 60 * T_SEC), 1);
        t_check_eq(vb, 123);
        t_wait_for(&w.sent, 2);
        gr_chan_free(w.a);
        gr_chan_free(w.b);
    }
}

static void test_select_woken_by_sender(void **state)
{
    t_run(woken_main, NULL);
}

/* ----------------------------------------- exactly once under racing selects */

enum { RACE_SELECTORS = 8, RACE_SENDERS = 4, RACE_VALUES = 20000 };

struct race {
    gr_chan *c[2];
    atomic_int seen[RACE_SENDERS * RACE_VALUES];
    gr_wg senders, selectors;
    atomic_long received;
};

struct race_sender_arg {
    struct race *r;
    int id;
};

static void race_sender(void *arg)
{
    struct race_sender_arg *a = arg;
    for (int i = 0; i < RACE_VALUES; i++) {
        int v = a->id * RACE_VALUES + i;
        t_check_eq(gr_chan_send(a->r->c[(a->id + i) & 1], &v), 0);
    }
    gr_wg_done(&a->r->senders);
}

static void race_selector(void *arg)
{
    struct race *r = arg;
    gr_chan *live[2] = {r->c[0], r->c[1]};
    /* A channel that reported -EPIPE (closed and drained) is dropped by
     * setting its case to NULL; the other may still hold values. */
    while (live[0] || live[1]) {
        int v0 = -1, v1 = -1;
        gr_case cs[2] = {
            {.chan = live[0], .op = GR_RECV, .elem = &v0, .res = 1},
            {.chan = live[1], .op = GR_RECV, .elem = &v1, .res = 1},
        };
        int k = gr_select(cs, 2, -1);
        if (k < 0 || k > 1 || !live[k]) {
            t_fail_at(__FILE__, __LINE__, "gr_select returned %d", k);
            break;
        }
        if (cs[k].res == -EPIPE) {
            live[k] = NULL;
            continue;
        }
        t_check_eq(cs[k].res, 0);
        int v = k == 0 ? v0 : v1;
        t_check_eq(k == 0 ? v1 : v0, -1);  /* only one case proceeded */
        if (v < 0 || v >= RACE_SENDERS * RACE_VALUES) {
            t_fail_at(__FILE__, __LINE__, "bad value %d", v);
            break;
        }
        atomic_fetch_add(&r->seen[v], 1);
        atomic_fetch_add(&r->received, 1);
    }
    gr_wg_done(&r->selectors);
}

static void race_main(void *arg)
{
    long cap = (long)(intptr_t)arg;
    struct race *r = calloc(1, sizeof *r);
    struct race_sender_arg sa[RACE_SENDERS];
    t_check(r != NULL);
    if (!r)
        return;
    r->c[0] = gr_chan_make(sizeof(int), (size_t)cap);
    r->c[1] = gr_chan_make(sizeof(int), (size_t)cap);
    gr_wg_add(&r->selectors, RACE_SELECTORS);
    gr_wg_add(&r->senders, RACE_SENDERS);
    for (int i = 0; i < RACE_SELECTORS; i++)
        t_go(race_selector, r);
    for (int i = 0; i < RACE_SENDERS; i++) {
        sa[i] = (struct race_sender_arg){r, i};
        t_go(race_sender, &sa[i]);
    }
    gr_wg_wait(&r->senders);
    gr_chan_close(r->c[0]);
    gr_chan_close(r->c[1]);
    gr_wg_wait(&r->selectors);
    t_check_eq(atomic_load(&r->received), RACE_SENDERS * RACE_VALUES);
    long missing = 0, dup = 0;
    for (int i = 0; i < RACE_SENDERS * RACE_VALUES; i++) {
        int s = atomic_load(&r->seen[i]);
        missing += s == 0;
        dup += s > 1;
    }
    t_check_eq(missing, 0);
    t_check_eq(dup, 0);
    gr_chan_free(r->c[0]);
    gr_chan_free(r->c[1]);
    free(r);
}

static void test_select_exactly_once_unbuffered(void **state)
{
    t_run(race_main, (void *)(intptr_t)0);
}

static void test_select_exactly_once_buffered(void **state)
{
    t_run(race_main, (void *)(intptr_t)16);
}

/* Selects with send cases racing for one receiver: every value that a
 * select reports as sent arrives exactly once, and no other. */
enum { SEND_RACERS = 8, SEND_EACH = 5000 };

struct send_race {
    gr_chan *c, *other;
    gr_wg wg;
    atomic_long reported;
};

struct send_racer_arg {
    struct send_race *s;
    int id;
};

static void send_racer(void *arg)
{
    struct send_racer_arg *a = arg;
    for (int i = 0; i < SEND_EACH; i++) {
        int v = a->id * SEND_EACH + i, junk = -1;
        gr_case cs[2] = {
            {.chan = a->s->c, .op = GR_SEND, .elem = &v, .res = 1},
            {.chan = a->s->other, .op = GR_SEND, .elem = &junk, .res = 1},
        };
        int k = gr_select(cs, 2, -1);
        t_check_eq(k, 0);  /* nobody ever receives from other */
        t_check_eq(cs[0].res, 0);
        atomic_fetch_add(&a->s->reported, 1);
    }
    gr_wg_done(&a->s->wg);
}

static void send_race_main(void *arg)
{
    struct send_race s = {0};
    struct send_racer_arg a[SEND_RACERS];
    s.c = gr_chan_make(sizeof(int), 0);
    s.other = gr_chan_make(sizeof(int), 0);
    unsigned char *seen = calloc(SEND_RACERS * SEND_EACH, 1);
    t_check(seen != NULL);
    if (!seen)
        return;
    gr_wg_add(&s.wg, SEND_RACERS);
    for (int i = 0; i < SEND_RACERS; i++) {
        a[i] = (struct send_racer_arg){&s, i};
        t_go(send_racer, &a[i]);
    }
    long dup = 0, bad = 0;
    for (int n = 0; n < SEND_RACERS * SEND_EACH; n++) {
        int v = -1;
        t_check_eq(gr_chan_recv(s.c, &v), 0);
        if (v < 0 || v >= SEND_RACERS * SEND_EACH)
            bad++;
        else if (seen[v]++)
            dup++;
    }
    gr_wg_wait(&s.wg);
    t_check_eq(bad, 0);
    t_check_eq(dup, 0);
    t_check_eq(atomic_load(&s.reported), SEND_RACERS * SEND_EACH);
    int v;
    t_check_eq(gr_chan_try_recv(s.c, &v), -EAGAIN);
    gr_chan_free(s.c);
    gr_chan_free(s.other);
    free(seen);
}

static void test_select_send_exactly_once(void **state)
{
    t_run(send_race_main, NULL);
}

/* A select blocked on several cases of one channel must not favour the
 * first: it queues its cases in random order, so a receiver that arrives
 * after it parked gets either value (Go's TestPseudoRandomSend, with its
 * bound: each value more than n/10 times of n; a fair choice misses that
 * with probability ~1e-17).  The receiver sleeps before each receive so
 * that the select has parked by then: the poll order, random already,
 * is not what is tested. */
enum { PRS_ROUNDS = 100 };

struct prs {
    gr_chan *c;
    int got[PRS_ROUNDS];
    gr_wg wg;
};

static void prs_receiver(void *arg)
{
    struct prs *p = arg;
    for (int i = 0; i < PRS_ROUNDS; i++) {
        gr_sleep(100000); /* 100 us: let the select park first */
        t_check_eq(gr_chan_recv(p->c, &p->got[i]), 0);
    }
    gr_wg_done(&p->wg);
}

static void prs_main(void *arg)
{
    struct prs *p = arg;
    p->c = gr_chan_make(sizeof(int), 0);
    gr_wg_add(&p->wg, 1);
    t_go(prs_receiver, p);
    for (int i = 0; i < PRS_ROUNDS; i++) {
        int one = 1, zero = 0;
        gr_case cs[2] = {{.chan = p->c, .op = GR_SEND, .elem = &one},
                         {.chan = p->c, .op = GR_SEND, .elem = &zero}};
        int k = gr_select(cs, 2, -1);
        t_check(k == 0 || k == 1);
    }
    gr_wg_wait(&p->wg);
    int n[2] = {0, 0};
    for (int i = 0; i < PRS_ROUNDS; i++)
        n[p->got[i] & 1]++;
    t_check_msg(n[0] > PRS_ROUNDS / 10 && n[1] > PRS_ROUNDS / 10,
                "want both values: 0 arrived %d times, 1 arrived %d times of %d", n[0], n[1],
                PRS_ROUNDS);
    gr_chan_free(p->c);
}

static void test_select_pseudo_random_send(void **state)
{
    static struct prs p;
    memset(&p, 0, sizeof p);
    t_run(prs_main, &p);
}

int main(void)
{
    t_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_select_fairness_recv),
        cmocka_unit_test(test_select_fairness_mixed),
        cmocka_unit_test(test_select_timeout),
        cmocka_unit_test(test_select_poll),
        cmocka_unit_test(test_select_closed),
        cmocka_unit_test(test_select_woken_by_close),
        cmocka_unit_test(test_select_null_never_ready),
        cmocka_unit_test(test_select_errors),
        cmocka_unit_test(test_select_send_case),
        cmocka_unit_test(test_select_woken_by_sender),
        cmocka_unit_test(test_select_exactly_once_unbuffered),
        cmocka_unit_test(test_select_exactly_once_buffered),
        cmocka_unit_test(test_select_send_exactly_once),
        cmocka_unit_test(test_select_pseudo_random_send),
    };
    return cmocka_run_group_tests_name("select", tests, NULL, NULL);
}
