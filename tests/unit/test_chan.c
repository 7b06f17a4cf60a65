/*
 * test_chan.c - channels: Go's semantics, checked through greenrt.h only.
 *
 * Blocking and buffering, rendezvous on unbuffered channels, FIFO order per
 * sender, close (wakes every receiver and blocked sender, remaining values
 * drain first), the try variants, len/cap, zero-size elements, the errors
 * of gr_chan_make; then the loads the issue asks for: a prime sieve of
 * chained goroutines (torn down by a close travelling up the chain),
 * 1,000 senders x 1,000 messages into one channel
 * with every value accounted for, and 100,000 goroutines parked on one
 * channel released by a close.
 *
 * Every test runs its body as a goroutine under t_run (see t_util.h):
 * checks inside goroutines are t_check, never cmocka asserts.
 */
#include "t_util.h"

/* -------------------------------------------------------------- basics */

static void make_errors_main(void *arg)
{
    errno = 0;
    gr_chan *c = gr_chan_make(65537, 1);
    int e = errno;
    t_check(c == NULL);
    t_check_eq(e, EINVAL);

    errno = 0;
    c = gr_chan_make(8, SIZE_MAX / 2);
    e = errno;
    t_check(c == NULL);
    t_check_eq(e, ENOMEM);

    /* The largest element size is allowed. */
    c = gr_chan_make(65536, 1);
    t_check(c != NULL);
    if (c)
        gr_chan_free(c);
}

static void test_chan_make_errors(void **state)
{
    t_run(make_errors_main, NULL);
}

static void len_cap_main(void *arg)
{
    gr_chan *c = gr_chan_make(sizeof(int), 4);
    gr_chan *u = gr_chan_make(sizeof(int), 0);
    t_check(c && u);
    if (!c || !u)
        return;
    t_check_eq(gr_chan_cap(c), 4);
    t_check_eq(gr_chan_len(c), 0);
    t_check_eq(gr_chan_cap(u), 0);
    t_check_eq(gr_chan_len(u), 0);
    for (int i = 0; i < 3; i++)
        t_check_eq(gr_chan_send(c, &i), 0);
    t_check_eq(gr_chan_len(c), 3);
    int v;
    t_check_eq(gr_chan_recv(c, &v), 0);
    t_check_eq(gr_chan_len(c), 2);
    t_check_eq(gr_chan_close(c), 0);
    t_check_eq(gr_chan_len(c), 2);   /* close does not discard values */
    t_check_eq(gr_chan_cap(c), 4);
    gr_chan_free(c);
    gr_chan_free(u);
}

static void test_chan_len_cap(void **state)
{
    t_run(len_cap_main, NULL);
}

static void buffered_fifo_main(void *arg)
{
    enum { N = 16 };
    gr_chan *c = gr_chan_make(sizeof(long), N);
    t_check(c != NULL);
    if (!c)
        return;
    long v;
    t_check_eq(gr_chan_try_recv(c, &v), -EAGAIN);
    for (long i = 0; i < N; i++)
        t_check_eq(gr_chan_try_send(c, &i), 0);   /* room: never blocks */
    v = 99;
    t_check_eq(gr_chan_try_send(c, &v), -EAGAIN);   /* full */
    t_check_eq(gr_chan_len(c), N);
    for (long i = 0; i < N; i++) {
        v = -1;
        t_check_eq(gr_chan_recv(c, &v), 0);
        t_check_eq(v, i);
    }
    t_check_eq(gr_chan_try_recv(c, &v), -EAGAIN);
    /* Interleaved try and blocking calls keep the order too (the buffer
     * wraps around several times). */
    long next_in = 0, next_out = 0;
    for (int round = 0; round < 100; round++) {
        for (int k = 0; k < 5; k++, next_in++)
            t_check_eq(gr_chan_send(c, &next_in), 0);
        for (int k = 0; k < 3; k++, next_out++) {
            t_check_eq(gr_chan_try_recv(c, &v), 0);
            t_check_eq(v, next_out);
        }
        while (gr_chan_len(c) > 8) {
            t_check_eq(gr_chan_recv(c, &v), 0);
            t_check_eq(v, next_out);
            next_out++;
        }
    }
    gr_chan_free(c);
}

static void test_chan_buffered_fifo(void **state)
{
    t_run(buffered_fifo_main, NULL);
}

/* Unbuffered: a send completes only when a receiver takes the value. */
struct rendezvous {
    gr_chan *c;
    atomic_long before, after;
    gr_wg wg;
};

static void rendezvous_sender(void *arg)
{
    struct rendezvous *r = arg;
    int v = 42;
    atomic_store(&r->before, 1);
    t_check_eq(gr_chan_send(r->c, &v), 0);
    atomic_store(&r->after, 1);
    gr_wg_done(&r->wg);
}

static void rendezvous_main(void *arg)
{
    struct rendezvous r = {0};
    r.c = gr_chan_make(sizeof(int), 0);
    t_check(r.c != NULL);
    if (!r.c)
        return;
    int v = 1;
    t_check_eq(gr_chan_try_send(r.c, &v), -EAGAIN);  /* nobody receives */
    t_check_eq(gr_chan_try_recv(r.c, &v), -EAGAIN);  /* nobody sends */

    gr_wg_add(&r.wg, 1);
    t_go(rendezvous_sender, &r);
    t_wait_for(&r.before, 1);
    /* The sender cannot finish while nobody receives, however long we
     * let it run. */
    for (int i = 0; i < 200; i++)
        gr_yield();
    gr_sleep(5 * T_MS);
    t_check_eq(atomic_load(&r.after), 0);
    t_check_eq(gr_chan_len(r.c), 0);
    v = 0;
    t_check_eq(gr_chan_recv(r.c, &v), 0);
    t_check_eq(v, 42);
    gr_wg_wait(&r.wg);
    t_check_eq(atomic_load(&r.after), 1);

    /* A blocked sender makes try_recv succeed. */
    gr_wg_add(&r.wg, 1);
    t_go(rendezvous_sender, &r);
    int got = 0;
    int64_t end = gr_now() + 30 * T_SEC;
    while ((got = gr_chan_try_recv(r.c, &v)) == -EAGAIN && gr_now() < end)
        gr_sleep(100000);
    t_check_eq(got, 0);
    t_check_eq(v, 42);
    gr_wg_wait(&r.wg);
    gr_chan_free(r.c);
}

static void test_chan_unbuffered_rendezvous(void **state)
{
    t_run(rendezvous_main, NULL);
}

/* A receiver blocks until a value arrives from a later sender. */
struct delayed {
    gr_chan *c;
    atomic_long sent, done;
};

static void delayed_sender(void *arg)
{
    struct delayed *d = arg;
    gr_sleep(2 * T_MS);
    int v = 7;
    atomic_store(&d->sent, 1);
    t_check_eq(gr_chan_send(d->c, &v), 0);
    atomic_store(&d->done, 1);
}

static void blocking_recv_main(void *arg)
{
    struct delayed d = {0};
    d.c = gr_chan_make(sizeof(int), 4);
    t_go(delayed_sender, &d);
    int v = 0;
    t_check_eq(gr_chan_recv(d.c, &v), 0);
    t_check_eq(atomic_load(&d.sent), 1);
    t_check_eq(v, 7);
    t_wait_for(&d.done, 1);   /* the sender is out of gr_chan_send */
    gr_chan_free(d.c);
}

static void test_chan_blocking_recv(void **state)
{
    t_run(blocking_recv_main, NULL);
}

/* A value sent on a channel of big elements arrives intact, directly
 * handed to a waiting receiver and through the buffer. */
enum { BIG = 65536 };
struct big {
    gr_chan *c;
    unsigned char *src;
    atomic_long done;
};

static void big_sender(void *arg)
{
    struct big *b = arg;
    t_check_eq(gr_chan_send(b->c, b->src), 0);
    t_check_eq(gr_chan_send(b->c, b->src), 0);
    atomic_store(&b->done, 1);
}

static void big_elem_main(void *arg)
{
    struct big b = {0};
    b.c = gr_chan_make(BIG, 1);
    b.src = malloc(BIG);
    unsigned char *dst = malloc(BIG);
    t_check(b.c && b.src && dst);
    if (!b.c || !b.src || !dst)
        return;
    for (int i = 0; i < BIG; i++)
        b.src[i] = (unsigned char)(i * 131 + 7);
    t_go(big_sender, &b);
    for (int k = 0; k < 2; k++) {
        memset(dst, 0, BIG);
        t_check_eq(gr_chan_recv(b.c, dst), 0);
        t_check(memcmp(dst, b.src, BIG) == 0);
    }
    free(dst);
    t_wait_for(&b.done, 1);   /* the sender is done with b.src and b.c */
    free(b.src);
    gr_chan_free(b.c);
}

static void test_chan_big_elem(void **state)
{
    t_run(big_elem_main, NULL);
}

/* ---------------------------------------------------------------- close */

enum { CLOSE_RECEIVERS = 100 };

struct close_all {
    gr_chan *c;
    gr_wg wg;
    atomic_long waiting, epipe, nonzero;
};

static void close_receiver(void *arg)
{
    struct close_all *s = arg;
    long v;
    memset(&v, 0xAA, sizeof v);
    atomic_fetch_add(&s->waiting, 1);
    int r = gr_chan_recv(s->c, &v);
    if (r == -EPIPE)
        atomic_fetch_add(&s->epipe, 1);
    else
        t_fail_at(__FILE__, __LINE__, "recv on closed channel returned %d", r);
    if (v != 0)
        atomic_fetch_add(&s->nonzero, 1);
    gr_wg_done(&s->wg);
}

static void close_wakes_receivers_main(void *arg)
{
    /* Once on an unbuffered channel, once on an (empty) buffered one. */
    for (size_t cap = 0; cap <= 8; cap += 8) {
        struct close_all s = {0};
        s.c = gr_chan_make(sizeof(long), cap);
        gr_wg_add(&s.wg, CLOSE_RECEIVERS);
        for (int i = 0; i < CLOSE_RECEIVERS; i++)
            t_go(close_receiver, &s);
        t_wait_for(&s.waiting, CLOSE_RECEIVERS);
        gr_sleep(2 * T_MS); /* let them park (not needed for correctness) */
        t_check_eq(gr_chan_close(s.c), 0);
        gr_wg_wait(&s.wg);
        t_check_eq(atomic_load(&s.epipe), CLOSE_RECEIVERS);
        t_check_eq(atomic_load(&s.nonzero), 0);
        gr_chan_free(s.c);
    }
}

static void test_chan_close_wakes_all_receivers(void **state)
{
    t_run(close_wakes_receivers_main, NULL);
}

static void close_drain_main(void *arg)
{
    gr_chan *c = gr_chan_make(sizeof(int), 4);
    for (int i = 1; i <= 3; i++)
        t_check_eq(gr_chan_send(c, &i), 0);
    t_check_eq(gr_chan_close(c), 0);
    int v;
    for (int i = 1; i <= 3; i++) {
        v = 0;
        t_check_eq(i == 2 ? gr_chan_try_recv(c, &v) : gr_chan_recv(c, &v), 0);
        t_check_eq(v, i);
    }
    v = 12345;
    t_check_eq(gr_chan_recv(c, &v), -EPIPE);
    t_check_eq(v, 0);
    v = 12345;
    t_check_eq(gr_chan_try_recv(c, &v), -EPIPE);   /* not -EAGAIN */
    t_check_eq(v, 0);
    t_check_eq(gr_chan_recv(c, NULL), -EPIPE);
    t_check_eq(gr_chan_len(c), 0);
    gr_chan_free(c);
}

static void test_chan_close_drains_remaining_first(void **state)
{
    t_run(close_drain_main, NULL);
}

static void send_closed_main(void *arg)
{
    for (size_t cap = 0; cap <= 2; cap += 2) {
        gr_chan *c = gr_chan_make(sizeof(int), cap);
        int v = 5;
        t_check_eq(gr_chan_close(c), 0);
        t_check_eq(gr_chan_send(c, &v), -EPIPE);
        t_check_eq(gr_chan_try_send(c, &v), -EPIPE);
        t_check_eq(gr_chan_close(c), -EPIPE);          /* close twice */
        t_check_eq(gr_chan_len(c), 0);
        gr_chan_free(c);
    }
}

static void test_chan_send_on_closed(void **state)
{
    t_run(send_closed_main, NULL);
}

enum { BLOCKED_SENDERS = 50 };

struct close_senders {
    gr_chan *c;
    gr_wg wg;
    atomic_long waiting, epipe, ok;
};

static void blocked_sender(void *arg)
{
    struct close_senders *s = arg;
    long v = 1000;
    atomic_fetch_add(&s->waiting, 1);
    int r = gr_chan_send(s->c, &v);
    if (r == -EPIPE)
        atomic_fetch_add(&s->epipe, 1);
    else if (r == 0)
        atomic_fetch_add(&s->ok, 1);
    else
        t_fail_at(__FILE__, __LINE__, "send returned %d", r);
    gr_wg_done(&s->wg);
}

static void close_wakes_senders_main(void *arg)
{
    /* Unbuffered: nobody ever receives, so every send fails. */
    struct close_senders s = {0};
    s.c = gr_chan_make(sizeof(long), 0);
    gr_wg_add(&s.wg, BLOCKED_SENDERS);
    for (int i = 0; i < BLOCKED_SENDERS; i++)
        t_go(blocked_sender, &s);
    t_wait_for(&s.waiting, BLOCKED_SENDERS);
    gr_sleep(2 * T_MS);
    t_check_eq(gr_chan_close(s.c), 0);
    gr_wg_wait(&s.wg);
    t_check_eq(atomic_load(&s.epipe), BLOCKED_SENDERS);
    t_check_eq(atomic_load(&s.ok), 0);
    gr_chan_free(s.c);

    /* Buffered and full: the buffered value survives the close, the
     * blocked senders fail. */
    struct close_senders b = {0};
    b.c = gr_chan_make(sizeof(long), 1);
    long first = 1;
    t_check_eq(gr_chan_send(b.c, &first), 0);
    gr_wg_add(&b.wg, BLOCKED_SENDERS);
    for (int i = 0; i < BLOCKED_SENDERS; i++)
        t_go(blocked_sender, &b);
    t_wait_for(&b.waiting, BLOCKED_SENDERS);
    gr_sleep(2 * T_MS);
    t_check_eq(gr_chan_close(b.c), 0);
    gr_wg_wait(&b.wg);
    t_check_eq(atomic_load(&b.epipe), BLOCKED_SENDERS);
    long v = 0;
    t_check_eq(gr_chan_recv(b.c, &v), 0);
    t_check_eq(v, 1);
    t_check_eq(gr_chan_recv(b.c, &v), -EPIPE);
    gr_chan_free(b.c);
}

static void test_chan_close_wakes_blocked_senders(void **state)
{
    t_run(close_wakes_senders_main, NULL);
}

/* ---------------------------------------------------- zero-size elements */

struct sig {
    gr_chan *c, *done;
    atomic_long finished;
};

static void zero_pinger(void *arg)
{
    struct sig *s = arg;
    char dummy = 0;
    for (int i = 0; i < 1000; i++)
        t_check_eq(gr_chan_send(s->c, &dummy), 0);
    t_check_eq(gr_chan_close(s->done), 0);
    atomic_store(&s->finished, 1);
}

static void zero_elem_main(void *arg)
{
    char dummy = 0;
    gr_chan *b = gr_chan_make(0, 3);
    t_check(b != NULL);
    if (!b)
        return;
    t_check_eq(gr_chan_cap(b), 3);
    for (int i = 0; i < 3; i++)
        t_check_eq(gr_chan_try_send(b, &dummy), 0);
    t_check_eq(gr_chan_len(b), 3);
    t_check_eq(gr_chan_try_send(b, &dummy), -EAGAIN);
    for (int i = 0; i < 3; i++)
        t_check_eq(gr_chan_recv(b, NULL), 0);
    t_check_eq(gr_chan_try_recv(b, &dummy), -EAGAIN);
    gr_chan_free(b);

    /* Unbuffered signal channel: 1,000 rendezvous. */
    struct sig s = {0};
    s.c = gr_chan_make(0, 0);
    s.done = gr_chan_make(0, 0);
    t_check(s.c && s.done);
    if (!s.c || !s.done)
        return;
    t_go(zero_pinger, &s);
    int n = 0;
    for (int i = 0; i < 1000; i++)
        if (gr_chan_recv(s.c, &dummy) == 0)
            n++;
    t_check_eq(n, 1000);
    t_check_eq(gr_chan_recv(s.done, NULL), -EPIPE);
    t_wait_for(&s.finished, 1);
    gr_chan_free(s.c);
    gr_chan_free(s.done);
}

static void test_chan_elem_size_zero(void **state)
{
    t_run(zero_elem_main, NULL);
}

/* ------------------------------------------------------------ prime sieve */

enum { SIEVE_PRIMES = 1000 };

/* The chain is torn down afterwards by closing its last channel: a
 * goroutine whose send or receive fails closes both of its channels, so
 * the close travels up the chain (a send on a closed channel fails, a
 * receive from one drains then fails) until the generator stops.  Every
 * goroutine of the chain then ends and the channels can be freed. */
struct filter {
    gr_chan *in, *out;   /* in is NULL for the generator */
    int prime;
    gr_wg *wg;
};

static void sieve_generate(void *arg)
{
    struct filter *f = arg;
    for (int i = 2;; i++)
        if (gr_chan_send(f->out, &i) != 0)
            break;
    gr_chan_close(f->out);
    gr_wg_done(f->wg);
}

static void sieve_filter(void *arg)
{
    struct filter *f = arg;
    int v;
    while (gr_chan_recv(f->in, &v) == 0)
        if (v % f->prime != 0 && gr_chan_send(f->out, &v) != 0)
            break;
    gr_chan_close(f->in);    /* -EPIPE when already closed: fine */
    gr_chan_close(f->out);
    gr_wg_done(f->wg);
}

static void sieve_main(void *arg)
{
    int *primes = arg;
    gr_wg wg = GR_WG_INIT;
    struct filter gen = {NULL, gr_chan_make(sizeof(int), 0), 0, &wg};
    struct filter *fs = calloc(SIEVE_PRIMES, sizeof *fs);
    t_check(gen.out && fs);
    if (!gen.out || !fs)
        return;
    gr_wg_add(&wg, 1);
    t_go(sieve_generate, &gen);
    gr_chan *ch = gen.out;
    for (int i = 0; i < SIEVE_PRIMES; i++) {
        int p = 0;
        t_check_eq(gr_chan_recv(ch, &p), 0);
        primes[i] = p;
        fs[i] = (struct filter){ch, gr_chan_make(sizeof(int), 0), p, &wg};
        t_check(fs[i].out != NULL);
        if (!fs[i].out)
            return;
        gr_wg_add(&wg, 1);
        t_go(sieve_filter, &fs[i]);
        ch = fs[i].out;
    }
    t_check_eq(gr_chan_close(ch), 0);
    gr_wg_wait(&wg);
    gr_chan_free(gen.out);
    for (int i = 0; i < SIEVE_PRIMES; i++)
        gr_chan_free(fs[i].out);
    free(fs);
}

static void test_chan_prime_sieve(void **state)
{
    int *primes = calloc(SIEVE_PRIMES, sizeof *primes);
    assert_non_null(primes);
    t_run(sieve_main, primes);
    /* Reference: trial division. */
    int n = 0;
    for (int c = 2; n < SIEVE_PRIMES; c++) {
        int is = 1;
        for (int d = 2; d * d <= c; d++)
            if (c % d == 0) {
                is = 0;
                break;
            }
        if (is) {
            assert_int_equal(primes[n], c);
            n++;
        }
    }
    assert_int_equal(primes[SIEVE_PRIMES - 1], 7919);
    free(primes);
}

/* ------------------------------------------- 1,000 senders x 1,000 values */

/* Under ThreadSanitizer 1,000 x 20 (T_BIG): the full million took 50 to
 * 90 s per test there on a busy machine, and test_chan as a whole ran
 * into the runner's 300 s timeout. */
enum { MS_SENDERS = 1000, MS_MSGS = T_BIG(1000) };

struct many_senders {
    gr_chan *c;
    gr_wg wg;
};

struct ms_arg {
    struct many_senders *m;
    uint64_t sender;
};

static void ms_send_all(void *arg)
{
    struct ms_arg *a = arg;
    for (uint64_t i = 0; i < MS_MSGS; i++) {
        uint64_t v = a->sender << 32 | i;
        int r = gr_chan_send(a->m->c, &v);
        if (r != 0) {
            t_fail_at(__FILE__, __LINE__, "sender %llu: send %llu -> %d",
                      (unsigned long long)a->sender, (unsigned long long)i, r);
            break;
        }
        if ((i & 63) == 0)
            gr_yield();  /* mix the senders more */
    }
    gr_wg_done(&a->m->wg);
}

static void many_senders_main(void *arg)
{
    size_t cap = *(size_t *)arg;
    static struct many_senders m;
    static struct ms_arg args[MS_SENDERS];
    static uint32_t next[MS_SENDERS];
    m.c = gr_chan_make(sizeof(uint64_t), cap);
    t_check(m.c != NULL);
    if (!m.c)
        return;
    memset(next, 0, sizeof next);
    memset(&m.wg, 0, sizeof m.wg);
    gr_wg_add(&m.wg, MS_SENDERS);
    for (int s = 0; s < MS_SENDERS; s++) {
        args[s].m = &m;
        args[s].sender = (uint64_t)s;
        t_go(ms_send_all, &args[s]);
    }
    uint64_t sum = 0, count = 0, out_of_order = 0, bad = 0;
    for (long i = 0; i < (long)MS_SENDERS * MS_MSGS; i++) {
        uint64_t v;
        if (gr_chan_recv(m.c, &v) != 0) {
            bad++;
            break;
        }
        uint64_t s = v >> 32, seq = v & 0xffffffffu;
        if (s >= MS_SENDERS || seq >= MS_MSGS) {
            bad++;
            continue;
        }
        if (seq != next[s])
            out_of_order++;
        next[s] = (uint32_t)seq + 1;
        sum += seq;
        count++;
    }
    t_check_eq(bad, 0);
    t_check_eq(out_of_order, 0);
    t_check_eq(count, (uint64_t)MS_SENDERS * MS_MSGS);
    t_check_eq(sum, (uint64_t)MS_SENDERS * (MS_MSGS * (MS_MSGS - 1) / 2));
    for (int s = 0; s < MS_SENDERS; s++)
        t_check_eq(next[s], MS_MSGS);
    uint64_t extra;
    t_check_eq(gr_chan_try_recv(m.c, &extra), -EAGAIN);  /* nothing more */
    gr_wg_wait(&m.wg);
    gr_chan_free(m.c);
}

static void test_chan_many_senders_accounted(void **state)
{
    size_t cap = 256;
    t_run(many_senders_main, &cap);
}

static void test_chan_many_senders_unbuffered(void **state)
{
    size_t cap = 0;
    t_run(many_senders_main, &cap);
}

/* ---------------------------------- 100,000 parked, released by one close */

enum { PARKED = T_LIVE(100000) };

struct parked {
    gr_chan *c;
    gr_wg wg;
    atomic_long started, epipe, nonzero;
};

static void parked_receiver(void *arg)
{
    struct parked *p = arg;
    int v = -1;
    atomic_fetch_add(&p->started, 1);
    if (gr_chan_recv(p->c, &v) == -EPIPE)
        atomic_fetch_add(&p->epipe, 1);
    if (v != 0)
        atomic_fetch_add(&p->nonzero, 1);
    gr_wg_done(&p->wg);
}

static void parked_main(void *arg)
{
    static struct parked p;
    memset(&p, 0, sizeof p);
    p.c = gr_chan_make(sizeof(int), 0);
    t_check(p.c != NULL);
    if (!p.c)
        return;
    gr_wg_add(&p.wg, PARKED);
    for (int i = 0; i < PARKED; i++)
        if (t_go(parked_receiver, &p) <= 0)
            return;
    t_wait_for(&p.started, PARKED);
    gr_sleep(5 * T_MS);
    gr_stats st;
    gr_stats_get(&st);
    t_check(st.live >= PARKED);
    t_check_eq(gr_chan_close(p.c), 0);
    gr_wg_wait(&p.wg);
    t_check_eq(atomic_load(&p.epipe), PARKED);
    t_check_eq(atomic_load(&p.nonzero), 0);
    gr_chan_free(p.c);
}

static void test_chan_100k_parked_released_by_close(void **state)
{
    t_run(parked_main, NULL);
}

int main(void)
{
    t_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chan_make_errors),
        cmocka_unit_test(test_chan_len_cap),
        cmocka_unit_test(test_chan_buffered_fifo),
        cmocka_unit_test(test_chan_unbuffered_rendezvous),
        cmocka_unit_test(test_chan_blocking_recv),
        cmocka_unit_test(test_chan_big_elem),
        cmocka_unit_test(test_chan_close_wakes_all_receivers),
        cmocka_unit_test(test_chan_close_drains_remaining_first),
        cmocka_unit_test(test_chan_send_on_closed),
        cmocka_unit_test(test_chan_close_wakes_blocked_senders),
        cmocka_unit_test(test_chan_elem_size_zero),
        cmocka_unit_test(test_chan_prime_sieve),
        cmocka_unit_test(test_chan_many_senders_accounted),
        cmocka_unit_test(test_chan_many_senders_unbuffered),
        cmocka_unit_test(test_chan_100k_parked_released_by_close),
    };
    return cmocka_run_group_tests_name("chan", tests, NULL, NULL);
}
