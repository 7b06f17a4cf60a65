/*
 * bench_sched.c - scheduler micro-benchmarks of greenrt: spawn+join,
 * memory per parked goroutine, unbuffered channel round trip, yield, a
 * contended mutex, and cancelling a group.
 *
 * Each figure is the goroutine main of a fresh process (bench_harness.c
 * forks one per run with GR_PROCS set), and each mirrors the Go program
 * in bench/go/sched.go line for line, so the two are comparable:
 *
 *   spawn_join      wg.Add(N); N x go { wg.Done() }; wg.Wait()       ns/goroutine
 *                   + spawn_join_peak_rss: ru_maxrss of that process  KiB
 *   parked_rss      N goroutines blocked receiving from one channel:
 *                   (RSS when all are parked - RSS before) / N         B/goroutine
 *                   then close(ch) releases them all (checked).
 *   chan_roundtrip  main sends on ping, a goroutine receives it and
 *                   sends it back on pong; both unbuffered             ns/round trip
 *   yield           two goroutines each calling yield in a loop;
 *                   wall time / (yields of both)                       ns/yield
 *   mutex_contended MUTEX_G goroutines: lock; counter++; unlock in a loop;
 *                   wall time / (lock+unlock pairs of all of them)     ns/pair
 *                   + mutex_handoff_frac: share of acquisitions that
 *                   went to a different goroutine than the last owner
 *   group_cancel    GROUP_N goroutines of one group parked receiving
 *                   from a channel nobody sends on; gr_group_cancel;
 *                   time until the last of them has returned
 *                   (Go: select on the channel and ctx.Done(), cancel()) ns
 *                   + group_cancel_call: the cancel call alone           ns
 *
 * The loops of chan_roundtrip, yield and mutex_contended stop after a
 * fixed count or after the time cap (-t, 0.5 s by default), whichever
 * comes first, so that a slow configuration costs seconds, not minutes;
 * the reported figure is the time divided by the operations actually
 * done.  Every figure checks its
 * own result (values received in order, counters add up) and fails the
 * run rather than report a number for work that did not happen.
 */
#define _GNU_SOURCE
#include "bench_harness.h"

#include <errno.h>
#include <greenrt.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define SPAWN_N 1000000L
#define PARK_N 1000000L
#define ROUNDTRIP_N 2000000L
#define YIELD_N 10000000L  /* per goroutine */
#define MUTEX_N 5000000L   /* per goroutine */
#define MUTEX_G 4
#define GROUP_N 10000L
#define CHECK_EVERY 1024   /* loop iterations between looks at the clock */

static int64_t deadline_after_cap(void)
{
    return gr_now() + (int64_t)(bench_time_cap() * 1e9);
}

/* ------------------------------------------------------------ spawn_join */

static void sj_child(void *arg)
{
    gr_wg_done(arg);
}

static void bench_spawn_join(void *unused)
{
    long n = bench_scaled(SPAWN_N);
    gr_wg wg = GR_WG_INIT;
    int64_t t0 = gr_now();
    gr_wg_add(&wg, (int)n);
    for (long i = 0; i < n; i++) {
        int64_t id = gr_go(sj_child, &wg);
        if (id < 0)
            bench_fail("spawn_join: gr_go #%ld failed: %s", i, strerror((int)-id));
    }
    gr_wg_wait(&wg);
    int64_t t1 = gr_now();
    bench_report("spawn_join", "ns", (double)(t1 - t0) / n, n);
    bench_report("spawn_join_peak_rss", "KiB", (double)bench_peak_rss_kib(), n);
    bench_note_stats("after join");
}

/* ------------------------------------------------------------ parked_rss */

/* n goroutines each bump *arrived just before they block: waits until all
 * have, then gives the workers a moment to finish the last few parks. */
static void wait_all_parked(atomic_long *arrived, long n, const char *fig)
{
    int64_t give_up = gr_now() + 60000000000LL;
    while (atomic_load_explicit(arrived, memory_order_relaxed) < n) {
        if (gr_now() > give_up)
            bench_fail("%s: only %ld of %ld goroutines ran within 60 s", fig,
                       atomic_load(arrived), n);
        gr_sleep(1000000);
    }
    gr_sleep(20000000);
}

static gr_chan *park_ch;
static gr_wg park_wg;
static atomic_long park_arrived, park_released;

static void parker(void *unused)
{
    atomic_fetch_add_explicit(&park_arrived, 1, memory_order_relaxed);
    int rc = gr_chan_recv(park_ch, NULL);
    if (rc == -EPIPE)
        atomic_fetch_add_explicit(&park_released, 1, memory_order_relaxed);
    gr_wg_done(&park_wg);
}

static void bench_parked_rss(void *unused)
{
    long n = bench_scaled(PARK_N);
    park_ch = gr_chan_make(0, 0);
    if (!park_ch)
        bench_fail("parked_rss: gr_chan_make: %s", strerror(errno));
    gr_wg_add(&park_wg, (int)n);
    long before = bench_rss_bytes();
    for (long i = 0; i < n; i++) {
        int64_t id = gr_go(parker, NULL);
        if (id < 0)
            bench_fail("parked_rss: gr_go #%ld failed: %s", i, strerror((int)-id));
    }
    wait_all_parked(&park_arrived, n, "parked_rss");
    long after = bench_rss_bytes();
    bench_note_stats("all parked");
    bench_report("parked_rss", "B", (double)(after - before) / n, n);

    gr_chan_close(park_ch);
    gr_wg_wait(&park_wg);
    if (atomic_load(&park_released) != n)
        bench_fail("parked_rss: close released %ld of %ld receivers with -EPIPE",
                   atomic_load(&park_released), n);
    gr_chan_free(park_ch);
}

/* -------------------------------------------------------- chan_roundtrip */

static gr_chan *ping, *pong;
static gr_wg rt_wg;

static void ponger(void *unused)
{
    int64_t v;
    while (gr_chan_recv(ping, &v) == 0)
        if (gr_chan_send(pong, &v) != 0)
            break;
    gr_wg_done(&rt_wg);
}

static void bench_chan_roundtrip(void *unused)
{
    long n = bench_scaled(ROUNDTRIP_N), done = 0;
    ping = gr_chan_make(sizeof(int64_t), 0);
    pong = gr_chan_make(sizeof(int64_t), 0);
    if (!ping || !pong)
        bench_fail("chan_roundtrip: gr_chan_make: %s", strerror(errno));
    gr_wg_add(&rt_wg, 1);
    gr_go(ponger, NULL);
    int64_t v, back;
    for (v = 0; v < 1000; v++) { /* warm up: both stacks touched, both running */
        gr_chan_send(ping, &v);
        gr_chan_recv(pong, &back);
    }
    int64_t t0 = gr_now(), deadline = deadline_after_cap();
    for (v = 0; v < n;) {
        if (gr_chan_send(ping, &v) != 0 || gr_chan_recv(pong, &back) != 0)
            bench_fail("chan_roundtrip: channel closed under us");
        if (back != v)
            bench_fail("chan_roundtrip: sent %lld, got back %lld", (long long)v,
                       (long long)back);
        if (++v % CHECK_EVERY == 0 && gr_now() > deadline)
            break;
    }
    done = v;
    int64_t t1 = gr_now();
    gr_chan_close(ping);
    gr_wg_wait(&rt_wg);
    bench_report("chan_roundtrip", "ns", (double)(t1 - t0) / done, done);
    bench_note_stats("after round trips");
    gr_chan_free(ping);
    gr_chan_free(pong);
}

/* ----------------------------------------------------------------- yield */

static atomic_int yield_stop;
static long yield_count[2];
static gr_wg yield_wg;

static void yielder(void *arg)
{
    long me = (long)arg, n = bench_scaled(YIELD_N), i;
    int64_t deadline = deadline_after_cap();
    for (i = 0; i < n;) {
        gr_yield();
        if (++i % CHECK_EVERY == 0) {
            if (atomic_load_explicit(&yield_stop, memory_order_relaxed))
                break;
            if (gr_now() > deadline)
                atomic_store_explicit(&yield_stop, 1, memory_order_relaxed);
        }
    }
    /* whichever finishes first stops the other, so the wall time covers
     * two goroutines yielding, not one alone at the end */
    atomic_store_explicit(&yield_stop, 1, memory_order_relaxed);
    yield_count[me] = i;
    gr_wg_done(&yield_wg);
}

static void bench_yield(void *unused)
{
    gr_wg_add(&yield_wg, 2);
    int64_t t0 = gr_now();
    gr_go(yielder, (void *)0L);
    gr_go(yielder, (void *)1L);
    gr_wg_wait(&yield_wg);
    int64_t t1 = gr_now();
    long total = yield_count[0] + yield_count[1];
    if (total == 0)
        bench_fail("yield: no yields counted");
    bench_report("yield", "ns", (double)(t1 - t0) / total, total);
    bench_note("yields: %ld + %ld", yield_count[0], yield_count[1]);
    bench_note_stats("after yields");
}

/* ------------------------------------------------------- mutex_contended */

static gr_mutex mu;
static long mu_counter, mu_handoffs, mu_last_owner = -1; /* guarded by mu */
static long mu_count[MUTEX_G];
static atomic_int mu_stop;
static gr_wg mu_wg;

static void locker(void *arg)
{
    long me = (long)arg, n = bench_scaled(MUTEX_N), i;
    int64_t deadline = deadline_after_cap();
    for (i = 0; i < n;) {
        gr_mutex_lock(&mu);
        mu_counter++;
        if (mu_last_owner != me) {
            mu_handoffs++;
            mu_last_owner = me;
        }
        gr_mutex_unlock(&mu);
        if (++i % CHECK_EVERY == 0) {
            if (atomic_load_explicit(&mu_stop, memory_order_relaxed))
                break;
            if (gr_now() > deadline)
                atomic_store_explicit(&mu_stop, 1, memory_order_relaxed);
        }
    }
    atomic_store_explicit(&mu_stop, 1, memory_order_relaxed);
    mu_count[me] = i;
    gr_wg_done(&mu_wg);
}

static void bench_mutex_contended(void *unused)
{
    gr_wg_add(&mu_wg, MUTEX_G);
    int64_t t0 = gr_now();
    for (long g = 0; g < MUTEX_G; g++)
        gr_go(locker, (void *)g);
    gr_wg_wait(&mu_wg);
    int64_t t1 = gr_now();
    long total = 0;
    for (int g = 0; g < MUTEX_G; g++)
        total += mu_count[g];
    gr_mutex_lock(&mu);
    long counter = mu_counter, handoffs = mu_handoffs;
    gr_mutex_unlock(&mu);
    if (counter != total)
        bench_fail("mutex_contended: counter is %ld after %ld locked increments (lost "
                   "updates: the mutex let two in)", counter, total);
    bench_report("mutex_contended", "ns", (double)(t1 - t0) / total, total);
    bench_report("mutex_handoff_frac", "ratio", (double)handoffs / total, total);
    bench_note("pairs per goroutine: %ld %ld %ld %ld", mu_count[0], mu_count[1],
               mu_count[2], mu_count[3]);
    bench_note_stats("after mutex");
}

/* ------------------------------------------------------------------ main */

/* ---------------------------------------------------------- group_cancel */

static gr_chan *gc_never;
static atomic_long gc_arrived;
static _Atomic int64_t gc_last; /* gr_now() when the last member returned */

static void gc_member(void *unused)
{
    atomic_fetch_add(&gc_arrived, 1);
    int r = gr_chan_recv(gc_never, NULL);
    if (r != -ECANCELED)
        bench_fail("group_cancel: a member's gr_chan_recv returned %d, not -ECANCELED", r);
    int64_t now = gr_now(), last = atomic_load(&gc_last);
    while (now > last && !atomic_compare_exchange_weak(&gc_last, &last, now)) {
    }
}

static void bench_group_cancel(void *unused)
{
    long n = bench_scaled(GROUP_N);
    gr_group g = GR_GROUP_INIT;
    gc_never = gr_chan_make(0, 0);
    if (!gc_never)
        bench_fail("group_cancel: gr_chan_make: %s", strerror(errno));
    for (long i = 0; i < n; i++) {
        int64_t id = gr_group_go(&g, gc_member, NULL);
        if (id < 0)
            bench_fail("group_cancel: gr_group_go #%ld failed: %s", i, strerror((int)-id));
    }
    wait_all_parked(&gc_arrived, n, "group_cancel");
    int64_t t0 = gr_now();
    gr_group_cancel(&g);
    int64_t t1 = gr_now();
    int r = gr_group_wait(&g, 60000000000LL);
    if (r != 0)
        bench_fail("group_cancel: members still alive 60 s after the cancel (%d)", r);
    bench_report("group_cancel", "ns", (double)(atomic_load(&gc_last) - t0), n);
    bench_report("group_cancel_call", "ns", (double)(t1 - t0), n);
    gr_group_destroy(&g);
    gr_chan_free(gc_never);
}

static const struct bench_fig figs[] = {
    {"spawn_join", "spawn+join 1,000,000 goroutines through a gr_wg (ns each, peak RSS)",
     bench_spawn_join},
    {"parked_rss", "RSS per goroutine with 1,000,000 parked on one channel (bytes)",
     bench_parked_rss},
    {"chan_roundtrip", "unbuffered channel round trip between two goroutines (ns)",
     bench_chan_roundtrip},
    {"yield", "gr_yield between two goroutines (ns per yield)", bench_yield},
    {"mutex_contended", "4 goroutines contending a gr_mutex (ns per lock/unlock, hand-off share)",
     bench_mutex_contended},
    {"group_cancel", "cancel a group of 10,000 goroutines parked on a channel (ns until all "
                     "returned)",
     bench_group_cancel},
};

int main(int argc, char **argv)
{
    return bench_main(argc, argv, figs, (int)(sizeof(figs) / sizeof(figs[0])));
}
