/*
 * test_sync.c - gr_mutex, gr_rwmutex, gr_cond, gr_wg, gr_once under
 * contention from every worker (the runner runs this with GR_PROCS=1 and
 * GR_PROCS=2).
 *
 * Mutual exclusion is checked two ways: a non-atomic counter that must
 * not lose increments, and an "inside" counter that must read 1 for
 * every holder.  Critical sections yield now and then so that other
 * goroutines run - and contend - while the lock is held, even on one
 * worker.  Properties that need "X is blocked" are checked without
 * timing: we wait (with a generous liveness bound) until a try-operation
 * shows the blocked state, then assert the order of events.
 */
#include "t_util.h"
#include "t_internal.h" /* wg_release_hook */

/* ------------------------------------------------------------------ mutex */

enum { MX_GOROUTINES = 8, MX_INCS = 100000 };

struct mx {
    gr_mutex m;
    long counter;          /* protected by m, deliberately not atomic */
    atomic_int inside;
    gr_wg wg;
};

static void mx_worker(void *arg)
{
    struct mx *s = arg;
    for (int i = 0; i < MX_INCS; i++) {
        gr_mutex_lock(&s->m);
        int in = atomic_fetch_add(&s->inside, 1);
        if (in != 0)
            t_fail_at(__FILE__, __LINE__, "%d others inside the mutex", in);
        long c = s->counter;
        if ((i % 1000) == 0)
            gr_yield();   /* hold the lock across a switch */
        s->counter = c + 1;
        atomic_fetch_sub(&s->inside, 1);
        gr_mutex_unlock(&s->m);
    }
    gr_wg_done(&s->wg);
}

static void mutex_counter_main(void *arg)
{
    static struct mx s;
    memset(&s, 0, sizeof s);   /* zero value is an unlocked mutex */
    gr_wg_add(&s.wg, MX_GOROUTINES);
    for (int i = 0; i < MX_GOROUTINES; i++)
        t_go(mx_worker, &s);
    gr_wg_wait(&s.wg);
    t_check_eq(s.counter, (long)MX_GOROUTINES * MX_INCS);
    t_check_eq(gr_mutex_trylock(&s.m), 0);   /* left unlocked */
    gr_mutex_unlock(&s.m);
}

static void test_sync_mutex_counter(void **state)
{
    t_run(mutex_counter_main, NULL);
}

struct mx_other {
    gr_mutex *m;
    atomic_long phase;
    int trylock_res;
};

static void mx_unlocker(void *arg)
{
    struct mx_other *o = arg;
    o->trylock_res = gr_mutex_trylock(o->m);
    gr_mutex_unlock(o->m);   /* any goroutine may unlock, as in Go */
    atomic_store(&o->phase, 1);
}

static void mutex_trylock_main(void *arg)
{
    gr_mutex m = GR_MUTEX_INIT;
    t_check_eq(gr_mutex_trylock(&m), 0);
    t_check_eq(gr_mutex_trylock(&m), -EBUSY);
    gr_mutex_unlock(&m);
    gr_mutex_lock(&m);
    t_check_eq(gr_mutex_trylock(&m), -EBUSY);
    struct mx_other o = {.m = &m};
    t_go(mx_unlocker, &o);
    t_wait_for(&o.phase, 1);
    t_check_eq(o.trylock_res, -EBUSY);
    t_check_eq(gr_mutex_trylock(&m), 0);
    gr_mutex_unlock(&m);
}

static void test_sync_mutex_trylock_and_foreign_unlock(void **state)
{
    t_run(mutex_trylock_main, NULL);
}

/* A goroutine that keeps re-taking the lock does not starve a waiter
 * (starvation mode: the waiter gets the lock handed over).  Liveness:
 * the hog gives up after 20 s and that is a failure. */
struct starve {
    gr_mutex m;
    atomic_long waiter_got, hog_started;
    gr_wg wg;
};

static void starve_hog(void *arg)
{
    struct starve *s = arg;
    int64_t end = gr_now() + 20 * T_SEC;
    atomic_store(&s->hog_started, 1);
    unsigned long n = 0;
    while (!atomic_load(&s->waiter_got)) {
        gr_mutex_lock(&s->m);
        for (volatile int k = 0; k < 200; k++)
            ;
        gr_mutex_unlock(&s->m);
        if ((++n & 1023) == 0 && gr_now() > end) {
            t_fail_at(__FILE__, __LINE__,
                      "waiter did not get the mutex in 20 s (%lu hog rounds)", n);
            break;
        }
    }
    gr_wg_done(&s->wg);
}

static void starve_waiter(void *arg)
{
    struct starve *s = arg;
    t_wait_for(&s->hog_started, 1);
    for (int i = 0; i < 10; i++) {
        gr_mutex_lock(&s->m);
        gr_mutex_unlock(&s->m);
    }
    atomic_store(&s->waiter_got, 1);
    gr_wg_done(&s->wg);
}

static void mutex_starvation_main(void *arg)
{
    static struct starve s;
    memset(&s, 0, sizeof s);
    gr_wg_add(&s.wg, 2);
    t_go(starve_hog, &s);
    t_go(starve_waiter, &s);
    gr_wg_wait(&s.wg);
}

static void test_sync_mutex_no_starvation(void **state)
{
    t_run(mutex_starvation_main, NULL);
}

/* ---------------------------------------------------------------- rwmutex */

enum { RW_READERS = 6, RW_WRITERS = 2, RW_READS = 20000, RW_WRITES = 5000 };

struct rw {
    gr_rwmutex rw;
    long a, b, c;           /* invariant under the lock: a == b == c */
    atomic_int readers_in, writers_in, max_readers;
    atomic_long reads;
    gr_wg wg;
};

static void rw_reader(void *arg)
{
    struct rw *s = arg;
    for (int i = 0; i < RW_READS; i++) {
        gr_rwmutex_rlock(&s->rw);
        int r = atomic_fetch_add(&s->readers_in, 1) + 1;
        int m = atomic_load(&s->max_readers);
        while (r > m && !atomic_compare_exchange_weak(&s->max_readers, &m, r))
            ;
        if (atomic_load(&s->writers_in) != 0)
            t_fail_at(__FILE__, __LINE__, "reader inside with a writer");
        long a = s->a;
        if ((i & 15) == 0)
            gr_yield();
        long b = s->b;
        long c = s->c;
        if (a != b || b != c)
            t_fail_at(__FILE__, __LINE__, "torn read: %ld %ld %ld", a, b, c);
        atomic_fetch_sub(&s->readers_in, 1);
        gr_rwmutex_runlock(&s->rw);
        atomic_fetch_add(&s->reads, 1);
    }
    gr_wg_done(&s->wg);
}

static void rw_writer(void *arg)
{
    struct rw *s = arg;
    for (int i = 0; i < RW_WRITES; i++) {
        gr_rwmutex_lock(&s->rw);
        if (atomic_fetch_add(&s->writers_in, 1) != 0)
            t_fail_at(__FILE__, __LINE__, "two writers inside");
        if (atomic_load(&s->readers_in) != 0)
            t_fail_at(__FILE__, __LINE__, "writer inside with readers");
        s->a++;
        if ((i & 7) == 0)
            gr_yield();   /* readers must not see the half-done update */
        s->b++;
        s->c++;
        atomic_fetch_sub(&s->writers_in, 1);
        gr_rwmutex_unlock(&s->rw);
        if ((i & 3) == 0)
            gr_yield();
    }
    gr_wg_done(&s->wg);
}

static void rwmutex_consistency_main(void *arg)
{
    static struct rw s;
    memset(&s, 0, sizeof s);
    gr_wg_add(&s.wg, RW_READERS + RW_WRITERS);
    for (int i = 0; i < RW_READERS; i++)
        t_go(rw_reader, &s);
    for (int i = 0; i < RW_WRITERS; i++)
        t_go(rw_writer, &s);
    gr_wg_wait(&s.wg);
    t_check_eq(s.a, (long)RW_WRITERS * RW_WRITES);
    t_check_eq(s.b, s.a);
    t_check_eq(s.c, s.a);
    t_check_eq(atomic_load(&s.reads), (long)RW_READERS * RW_READS);
    /* Readers yield inside the read lock, so several hold it at once. */
    t_check_msg(atomic_load(&s.max_readers) >= 2,
                "readers never shared the lock (max %d)",
                atomic_load(&s.max_readers));
}

static void test_sync_rwmutex_consistency(void **state)
{
    t_run(rwmutex_consistency_main, NULL);
}

static void rwmutex_try_main(void *arg)
{
    gr_rwmutex rw = GR_RWMUTEX_INIT;
    t_check_eq(gr_rwmutex_tryrlock(&rw), 0);
    t_check_eq(gr_rwmutex_tryrlock(&rw), 0);   /* readers share */
    t_check_eq(gr_rwmutex_trylock(&rw), -EBUSY);
    gr_rwmutex_runlock(&rw);
    t_check_eq(gr_rwmutex_trylock(&rw), -EBUSY);
    gr_rwmutex_runlock(&rw);
    t_check_eq(gr_rwmutex_trylock(&rw), 0);
    t_check_eq(gr_rwmutex_tryrlock(&rw), -EBUSY);
    t_check_eq(gr_rwmutex_trylock(&rw), -EBUSY);
    gr_rwmutex_unlock(&rw);
    gr_rwmutex_rlock(&rw);
    gr_rwmutex_runlock(&rw);
    gr_rwmutex_lock(&rw);
    gr_rwmutex_unlock(&rw);
    t_check_eq(gr_rwmutex_trylock(&rw), 0);
    gr_rwmutex_unlock(&rw);
}

static void test_sync_rwmutex_try(void **state)
{
    t_run(rwmutex_try_main, NULL);
}

/* A waiting writer blocks new readers: reader R1 holds the lock, writer W
 * queues, then reader R2 arrives; R2 must get in only after W. */
struct rw_order {
    gr_rwmutex rw;
    atomic_long seq;          /* event counter */
    atomic_long w_at, r2_at;  /* seq when W / R2 acquired */
    atomic_long r2_trying;
    gr_wg wg;
};

static void rwo_writer(void *arg)
{
    struct rw_order *s = arg;
    gr_rwmutex_lock(&s->rw);
    atomic_store(&s->w_at, atomic_fetch_add(&s->seq, 1) + 1);
    gr_yield();
    gr_rwmutex_unlock(&s->rw);
    gr_wg_done(&s->wg);
}

static void rwo_reader2(void *arg)
{
    struct rw_order *s = arg;
    atomic_store(&s->r2_trying, 1);
    gr_rwmutex_rlock(&s->rw);
    atomic_store(&s->r2_at, atomic_fetch_add(&s->seq, 1) + 1);
    gr_rwmutex_runlock(&s->rw);
    gr_wg_done(&s->wg);
}

static void rwmutex_writer_blocks_readers_main(void *arg)
{
    static struct rw_order s;
    memset(&s, 0, sizeof s);
    gr_rwmutex_rlock(&s.rw);          /* we are R1 */
    gr_wg_add(&s.wg, 2);
    t_go(rwo_writer, &s);
    /* Wait until W is queued: from then on, a new reader cannot get in. */
    int64_t end = gr_now() + 30 * T_SEC;
    int blocked = 0;
    while (gr_now() < end) {
        if (gr_rwmutex_tryrlock(&s.rw) != 0) {
            blocked = 1;
            break;
        }
        gr_rwmutex_runlock(&s.rw);
        gr_sleep(200000);
    }
    t_check_msg(blocked, "a waiting writer never blocked new readers (30 s)");
    t_go(rwo_reader2, &s);
    t_wait_for(&s.r2_trying, 1);
    gr_sleep(5 * T_MS);
    t_check_eq(atomic_load(&s.w_at), 0);   /* W still waits for R1 */
    t_check_eq(atomic_load(&s.r2_at), 0);  /* R2 waits behind W */
    gr_rwmutex_runlock(&s.rw);
    gr_wg_wait(&s.wg);
    t_check_msg(atomic_load(&s.w_at) < atomic_load(&s.r2_at),
                "writer acquired at event %ld, later reader at %ld",
                atomic_load(&s.w_at), atomic_load(&s.r2_at));
}

static void test_sync_rwmutex_writer_blocks_new_readers(void **state)
{
    t_run(rwmutex_writer_blocks_readers_main, NULL);
}

/* Readers that keep the lock continuously shared do not starve a writer. */
struct rw_starve {
    gr_rwmutex rw;
    atomic_long writer_done;
    gr_wg wg;
};

static void rws_reader(void *arg)
{
    struct rw_starve *s = arg;
    int64_t end = gr_now() + 20 * T_SEC;
    unsigned n = 0;
    while (!atomic_load(&s->writer_done)) {
        gr_rwmutex_rlock(&s->rw);
        gr_yield();
        gr_rwmutex_runlock(&s->rw);
        if ((++n & 255) == 0 && gr_now() > end) {
            t_fail_at(__FILE__, __LINE__, "writer starved by readers (20 s)");
            break;
        }
    }
    gr_wg_done(&s->wg);
}

static void rws_writer(void *arg)
{
    struct rw_starve *s = arg;
    gr_sleep(2 * T_MS);
    for (int i = 0; i < 10; i++) {
        gr_rwmutex_lock(&s->rw);
        gr_rwmutex_unlock(&s->rw);
    }
    atomic_store(&s->writer_done, 1);
    gr_wg_done(&s->wg);
}

static void rwmutex_writer_not_starved_main(void *arg)
{
    static struct rw_starve s;
    memset(&s, 0, sizeof s);
    gr_wg_add(&s.wg, 5);
    for (int i = 0; i < 4; i++)
        t_go(rws_reader, &s);
    t_go(rws_writer, &s);
    gr_wg_wait(&s.wg);
}

static void test_sync_rwmutex_writer_not_starved(void **state)
{
    t_run(rwmutex_writer_not_starved_main, NULL);
}

/* ------------------------------------------------------------------- cond */

enum { PC_PRODUCERS = 3, PC_CONSUMERS = 3, PC_ITEMS = 30000, PC_QCAP = 8 };

struct pc {
    gr_mutex m;
    gr_cond not_empty, not_full;
    long q[PC_QCAP];
    int head, len;
    int producers_left;
    long sum, count;       /* consumed, under m */
    gr_wg wg;
    int use_broadcast;
};

static void pc_producer(void *arg)
{
    struct pc *s = arg;
    for (long i = 1; i <= PC_ITEMS; i++) {
        gr_mutex_lock(&s->m);
        while (s->len == PC_QCAP)
            gr_cond_wait(&s->not_full, &s->m);
        s->q[(s->head + s->len) % PC_QCAP] = i;
        s->len++;
        if (s->use_broadcast)
            gr_cond_broadcast(&s->not_empty);
        else
            gr_cond_signal(&s->not_empty);
        gr_mutex_unlock(&s->m);
    }
    gr_mutex_lock(&s->m);
    if (--s->producers_left == 0)
        gr_cond_broadcast(&s->not_empty);   /* consumers may stop */
    gr_mutex_unlock(&s->m);
    gr_wg_done(&s->wg);
}

static void pc_consumer(void *arg)
{
    struct pc *s = arg;
    for (;;) {
        gr_mutex_lock(&s->m);
        while (s->len == 0 && s->producers_left > 0)
            gr_cond_wait(&s->not_empty, &s->m);
        if (s->len == 0) {
            gr_mutex_unlock(&s->m);
            break;
        }
        long v = s->q[s->head];
        s->head = (s->head + 1) % PC_QCAP;
        s->len--;
        s->sum += v;
        s->count++;
        if (s->use_broadcast)
            gr_cond_broadcast(&s->not_full);
        else
            gr_cond_signal(&s->not_full);
        gr_mutex_unlock(&s->m);
    }
    gr_wg_done(&s->wg);
}

static void pc_main(void *arg)
{
    static struct pc s;
    memset(&s, 0, sizeof s);
    s.use_broadcast = (int)(intptr_t)arg;
    s.producers_left = PC_PRODUCERS;
    gr_wg_add(&s.wg, PC_PRODUCERS + PC_CONSUMERS);
    for (int i = 0; i < PC_CONSUMERS; i++)
        t_go(pc_consumer, &s);
    for (int i = 0; i < PC_PRODUCERS; i++)
        t_go(pc_producer, &s);
    gr_wg_wait(&s.wg);
    t_check_eq(s.count, (long)PC_PRODUCERS * PC_ITEMS);
    t_check_eq(s.sum, (long)PC_PRODUCERS * PC_ITEMS * (PC_ITEMS + 1) / 2);
    t_check_eq(s.len, 0);
}

static void test_sync_cond_producer_consumer_signal(void **state)
{
    t_run(pc_main, (void *)(intptr_t)0);
}

static void test_sync_cond_producer_consumer_broadcast(void **state)
{
    t_run(pc_main, (void *)(intptr_t)1);
}

/* Broadcast wakes every waiter (if it woke fewer, the rest would stay
 * parked and the runtime would report a deadlock). */
enum { BC_WAITERS = 200 };

struct bc {
    gr_mutex m;
    gr_cond c;
    int go;
    atomic_long waiting, woke;
    gr_wg wg;
};

static void bc_waiter(void *arg)
{
    struct bc *s = arg;
    gr_mutex_lock(&s->m);
    atomic_fetch_add(&s->waiting, 1);
    while (!s->go)
        gr_cond_wait(&s->c, &s->m);
    gr_mutex_unlock(&s->m);
    atomic_fetch_add(&s->woke, 1);
    gr_wg_done(&s->wg);
}

static void cond_broadcast_main(void *arg)
{
    static struct bc s;
    memset(&s, 0, sizeof s);
    gr_wg_add(&s.wg, BC_WAITERS);
    for (int i = 0; i < BC_WAITERS; i++)
        t_go(bc_waiter, &s);
    t_wait_for(&s.waiting, BC_WAITERS);   /* each is in (or at) cond_wait */
    gr_mutex_lock(&s.m);
    s.go = 1;
    gr_cond_broadcast(&s.c);
    gr_mutex_unlock(&s.m);
    gr_wg_wait(&s.wg);
    t_check_eq(atomic_load(&s.woke), BC_WAITERS);
}

static void test_sync_cond_broadcast_wakes_all(void **state)
{
    t_run(cond_broadcast_main, NULL);
}

/* Signal wakes a waiter; a signal with no waiter is not remembered. */
struct sig1 {
    gr_mutex m;
    gr_cond c;
    int ready;
    atomic_long waiting, done;
};

static void sig_waiter(void *arg)
{
    struct sig1 *s = arg;
    gr_mutex_lock(&s->m);
    atomic_store(&s->waiting, 1);
    while (!s->ready)
        gr_cond_wait(&s->c, &s->m);
    gr_mutex_unlock(&s->m);
    atomic_store(&s->done, 1);
}

static void cond_signal_main(void *arg)
{
    static struct sig1 s;
    memset(&s, 0, sizeof s);
    gr_cond_signal(&s.c);       /* nobody waits: a no-op */
    gr_cond_broadcast(&s.c);
    t_go(sig_waiter, &s);
    t_wait_for(&s.waiting, 1);
    gr_mutex_lock(&s.m);
    s.ready = 1;
    gr_cond_signal(&s.c);
    gr_mutex_unlock(&s.m);
    t_wait_for(&s.done, 1);

    /* The stale signal above must not satisfy a new wait with a timeout. */
    gr_mutex_lock(&s.m);
    t_check_eq(gr_cond_wait_timeout(&s.c, &s.m, 2 * T_MS), -ETIMEDOUT);
    gr_mutex_unlock(&s.m);
}

static void test_sync_cond_signal(void **state)
{
    t_run(cond_signal_main, NULL);
}

struct ctmo {
    gr_mutex m;
    gr_cond c;
    int flag;
    atomic_long phase;
    int trylock_res;
};

static void ctmo_prober(void *arg)
{
    struct ctmo *s = arg;
    s->trylock_res = gr_mutex_trylock(&s->m);
    if (s->trylock_res == 0)
        gr_mutex_unlock(&s->m);
    atomic_store(&s->phase, 1);
}

static void ctmo_signaller(void *arg)
{
    struct ctmo *s = arg;
    gr_sleep(2 * T_MS);
    gr_mutex_lock(&s->m);
    s->flag = 1;
    gr_cond_signal(&s->c);
    gr_mutex_unlock(&s->m);
}

static void cond_timeout_main(void *arg)
{
    static struct ctmo s;
    memset(&s, 0, sizeof s);
    gr_mutex_lock(&s.m);
    int64_t t0 = gr_now();
    int r = gr_cond_wait_timeout(&s.c, &s.m, 10 * T_MS);
    int64_t took = gr_now() - t0;
    t_check_eq(r, -ETIMEDOUT);
    t_check_msg(took >= 10 * T_MS, "timed out after %lld ns, before 10 ms",
                (long long)took);
    /* The mutex is held again on return. */
    t_go(ctmo_prober, &s);
    t_wait_for(&s.phase, 1);
    t_check_eq(s.trylock_res, -EBUSY);

    /* Signalled well before a long timeout: 0. */
    t_go(ctmo_signaller, &s);
    int res = 0;
    while (!s.flag && res == 0)
        res = gr_cond_wait_timeout(&s.c, &s.m, 60 * T_SEC);
    t_check_eq(res, 0);
    t_check_eq(s.flag, 1);
    gr_mutex_unlock(&s.m);
}

static void test_sync_cond_wait_timeout(void **state)
{
    t_run(cond_timeout_main, NULL);
}

/* --------------------------------------------------------------------- wg */

enum { WG_N = 1000, WG_WAITERS = 10 };

struct wgs {
    gr_wg wg, waiters_done;
    atomic_long done, waiters_ok;
};

static void wg_worker(void *arg)
{
    struct wgs *s = arg;
    gr_yield();
    atomic_fetch_add(&s->done, 1);
    gr_wg_done(&s->wg);
}

static void wg_waiter(void *arg)
{
    struct wgs *s = arg;
    t_check_eq(gr_wg_wait(&s->wg), 0);
    if (atomic_load(&s->done) == WG_N)
        atomic_fetch_add(&s->waiters_ok, 1);
    else
        t_fail_at(__FILE__, __LINE__, "wg_wait returned with %ld of %d done",
                  atomic_load(&s->done), WG_N);
    gr_wg_done(&s->waiters_done);
}

static void wg_main(void *arg)
{
    static struct wgs s;
    memset(&s, 0, sizeof s);
    t_check_eq(gr_wg_wait(&s.wg), 0);       /* zero: returns at once */
    for (int round = 0; round < 3; round++) {  /* reusable */
        atomic_store(&s.done, 0);
        atomic_store(&s.waiters_ok, 0);
        gr_wg_add(&s.wg, WG_N / 2);
        gr_wg_add(&s.wg, WG_N / 2);   /* adds accumulate */
        gr_wg_add(&s.waiters_done, WG_WAITERS);
        for (int i = 0; i < WG_WAITERS; i++)
            t_go(wg_waiter, &s);
        for (int i = 0; i < WG_N; i++)
            t_go(wg_worker, &s);
        t_check_eq(gr_wg_wait(&s.wg), 0);
        t_check_eq(atomic_load(&s.done), WG_N);
        gr_wg_wait(&s.waiters_done);
        t_check_eq(atomic_load(&s.waiters_ok), WG_WAITERS);
    }
    /* gr_wg_add with a negative delta is a done. */
    gr_wg_add(&s.wg, 3);
    gr_wg_add(&s.wg, -2);
    gr_wg_done(&s.wg);
    t_check_eq(gr_wg_wait(&s.wg), 0);
}

static void test_sync_wg(void **state)
{
    t_run(wg_main, NULL);
}

/* A wait group may be freed, or its stack frame reused, as soon as
 * gr_wg_wait has returned (Go's GC makes that free of charge; here it is
 * the contract): the gr_wg_done that released it must not touch it
 * afterwards.  The same holds for a gr_once once gr_once_do has returned.
 * Each round a goroutine - on the other worker, at GR_PROCS=2 - releases
 * the object (a done, or the gr_once_do that runs fn) while main waits
 * for it (on the fast path, or parked), and main then frees it (ASan: a
 * use after free if the releaser still touches it) or reuses its frame
 * (TSan: a race; in any build the releaser would find its lock word
 * overwritten). */
#define REUSE_ROUNDS T_BIG(20000)
#define REUSE_SPIN 100000 /* pauses main waits for the releaser to start */

typedef union sync_obj {
    gr_wg wg;
    gr_once once;
} sync_obj;

struct reuse {
    sync_obj *obj;
    atomic_int started;
};

static atomic_int once_in_fn;

/* Main waits until the releaser is at it; on one worker it runs only
 * once main yields. */
static void reuse_wait_started(atomic_int *started)
{
    for (int i = 0; !atomic_load(started); i++)
        if (i > REUSE_SPIN)
            gr_yield();
}

static void wg_releaser(void *arg)
{
    struct reuse *r = arg;
    gr_wg *wg = &r->obj->wg;
    atomic_store(&r->started, 1); /* r is not touched after this */
    gr_wg_done(wg);
}

static void wg_reuse_round(sync_obj *o)
{
    struct reuse r = {.obj = o};
    gr_wg_add(&o->wg, 1);
    t_go(wg_releaser, &r);
    reuse_wait_started(&r.started);
    t_check_eq(gr_wg_wait(&o->wg), 0);
}

static void once_mark(void)
{
    atomic_store(&once_in_fn, 1);
}

static void once_must_not_run(void)
{
    t_fail_at(__FILE__, __LINE__, "gr_once_do ran fn a second time");
}

static void once_releaser(void *arg)
{
    gr_once_do(&((sync_obj *)arg)->once, once_mark);
}

static void once_reuse_round(sync_obj *o)
{
    atomic_store(&once_in_fn, 0);
    t_go(once_releaser, o);
    reuse_wait_started(&once_in_fn); /* it won the right to run fn */
    gr_once_do(&o->once, once_must_not_run);
}

__attribute__((noinline)) static void reuse_on_stack(void (*round)(sync_obj *))
{
    sync_obj o;
    memset(&o, 0, sizeof o);
    round(&o);
}

/* Reuses the frame reuse_on_stack had. */
__attribute__((noinline)) static void scribble_stack(void)
{
    volatile unsigned char junk[512];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = 0xa5;
}

struct reuse_test {
    void (*round)(sync_obj *);
};

static void reuse_main(void *arg)
{
    struct reuse_test *t = arg;
    for (long round = 0; round < REUSE_ROUNDS && !t_failed(); round++) {
        if (round & 1) {
            sync_obj *o = calloc(1, sizeof *o);
            t_check(o != NULL);
            if (!o)
                return;
            t->round(o);
            free(o);
        } else {
            reuse_on_stack(t->round);
            scribble_stack();
        }
    }
}

static void test_sync_wg_free_after_wait(void **state)
{
    t_run(reuse_main, &(struct reuse_test){wg_reuse_round});
}

static void test_sync_once_free_after_do(void **state)
{
    t_run(reuse_main, &(struct reuse_test){once_reuse_round});
}

/* A release under way - the done that reached zero is between its atomic
 * add and its lock, held there by wg_release_hook - while a goroutine
 * arrives in gr_wg_wait and a member's wait is cancelled: both stay
 * parked until the releaser has let go (neither may return while it still
 * touches the wait group, which is freed right after), then return 0 and
 * -ECANCELED.  Deterministic at any GR_PROCS. */
#define UW_ROUNDS 20
#define UW_SETTLE_NS (2 * T_MS) /* time given to reach a park; not relied on */

static gr_chan *uw_in_window, *uw_proceed;

static void uw_hook(void)
{
    gr_chan_send(uw_in_window, NULL);
    gr_chan_recv(uw_proceed, NULL);
}

struct uw {
    gr_wg *wg;
    int member_res, late_res;
    atomic_long late_announced;
};

static void uw_member(void *arg)
{
    struct uw *u = arg;
    u->member_res = gr_wg_wait(u->wg);
}

static void uw_late(void *arg)
{
    struct uw *u = arg;
    atomic_store(&u->late_announced, 1);
    u->late_res = gr_wg_wait(u->wg);
}

static void uw_releaser(void *arg)
{
    gr_wg_done(((struct uw *)arg)->wg);
}

static uint32_t wg_waiters_counted(gr_wg *wg)
{
    return (uint32_t)__atomic_load_n(&wg->_state, __ATOMIC_ACQUIRE);
}

static void uw_main(void *arg)
{
    uw_in_window = gr_chan_make(0, 0);
    uw_proceed = gr_chan_make(0, 0);
    wg_release_hook = uw_hook;
    for (int round = 0; round < UW_ROUNDS && !t_failed(); round++) {
        struct uw u = {.wg = calloc(1, sizeof(gr_wg)), .member_res = 1, .late_res = 1};
        t_check(u.wg != NULL);
        if (!u.wg)
            break;
        gr_group g = GR_GROUP_INIT, others = GR_GROUP_INIT;
        gr_wg_add(u.wg, 1);
        t_check(gr_group_go(&g, uw_member, &u) > 0);
        int64_t until = gr_now() + 30 * T_SEC;
        while (wg_waiters_counted(u.wg) == 0 && gr_now() < until)
            gr_yield();
        t_check_eq(wg_waiters_counted(u.wg), 1);
        t_check(gr_group_go(&others, uw_releaser, &u) > 0);
        gr_chan_recv(uw_in_window, NULL); /* the release is under way */
        bool late = round & 1, cancel_first = round & 2;
        if (cancel_first)
            gr_group_cancel(&g);
        if (late) {
            t_check(gr_group_go(&others, uw_late, &u) > 0);
            t_wait_for(&u.late_announced, 1);
        }
        if (!cancel_first)
            gr_group_cancel(&g);
        gr_sleep(UW_SETTLE_NS);
        t_check_msg(gr_group_wait(&g, 0) == -ETIMEDOUT,
                    "round %d: the cancelled wait returned while its release was under way",
                    round);
        t_check_msg(u.late_res == 1,
                    "round %d: a wait returned (%d) while the release was under way", round,
                    u.late_res);
        gr_chan_send(uw_proceed, NULL);
        t_check_eq(gr_group_wait(&g, 30 * T_SEC), 0);
        t_check_eq(gr_group_wait(&others, 30 * T_SEC), 0);
        t_check_eq(u.member_res, -ECANCELED);
        if (late)
            t_check_eq(u.late_res, 0);
        free(u.wg); /* ASan: nothing touches it any more */
        gr_group_destroy(&g);
        gr_group_destroy(&others);
    }
    wg_release_hook = NULL;
    gr_chan_free(uw_in_window);
    gr_chan_free(uw_proceed);
}

static void test_sync_wg_release_under_way(void **state)
{
    t_run(uw_main, NULL);
}

/* ------------------------------------------------------------------- once */

enum { ONCE_CALLERS = 100 };

static gr_once once_obj;
static atomic_long once_runs, once_finished, once_callers_ok, once_entered;
static gr_wg once_wg;

static void once_fn(void)
{
    atomic_fetch_add(&once_runs, 1);
    /* Park inside fn so the other callers arrive while it runs. */
    for (int i = 0; i < 5; i++) {
        gr_sleep(T_MS);
        gr_yield();
    }
    atomic_store(&once_finished, 1);
}

static void once_caller(void *arg)
{
    atomic_fetch_add(&once_entered, 1);
    gr_once_do(&once_obj, once_fn);
    if (atomic_load(&once_finished) == 1)
        atomic_fetch_add(&once_callers_ok, 1);
    else
        t_fail_at(__FILE__, __LINE__, "gr_once_do returned before fn ended");
    gr_wg_done(&once_wg);
}

static void once_main(void *arg)
{
    memset(&once_obj, 0, sizeof once_obj);
    memset(&once_wg, 0, sizeof once_wg);
    atomic_store(&once_runs, 0);
    atomic_store(&once_finished, 0);
    atomic_store(&once_callers_ok, 0);
    atomic_store(&once_entered, 0);
    gr_wg_add(&once_wg, ONCE_CALLERS);
    for (int i = 0; i < ONCE_CALLERS; i++)
        t_go(once_caller, NULL);
    gr_wg_wait(&once_wg);
    t_check_eq(atomic_load(&once_runs), 1);
    t_check_eq(atomic_load(&once_callers_ok), ONCE_CALLERS);
    /* Later calls do nothing. */
    gr_once_do(&once_obj, once_fn);
    t_check_eq(atomic_load(&once_runs), 1);
}

static void test_sync_once(void **state)
{
    t_run(once_main, NULL);
}

int main(void)
{
    t_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sync_mutex_counter),
        cmocka_unit_test(test_sync_mutex_trylock_and_foreign_unlock),
        cmocka_unit_test(test_sync_mutex_no_starvation),
        cmocka_unit_test(test_sync_rwmutex_consistency),
        cmocka_unit_test(test_sync_rwmutex_try),
        cmocka_unit_test(test_sync_rwmutex_writer_blocks_new_readers),
        cmocka_unit_test(test_sync_rwmutex_writer_not_starved),
        cmocka_unit_test(test_sync_cond_producer_consumer_signal),
        cmocka_unit_test(test_sync_cond_producer_consumer_broadcast),
        cmocka_unit_test(test_sync_cond_broadcast_wakes_all),
        cmocka_unit_test(test_sync_cond_signal),
        cmocka_unit_test(test_sync_cond_wait_timeout),
        cmocka_unit_test(test_sync_wg),
        cmocka_unit_test(test_sync_wg_free_after_wait),
        cmocka_unit_test(test_sync_wg_release_under_way),
        cmocka_unit_test(test_sync_once),
        cmocka_unit_test(test_sync_once_free_after_do),
    };
    return cmocka_run_group_tests_name("sync", tests, NULL, NULL);
}
