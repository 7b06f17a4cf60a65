/*
 * t_fatal_helper.c - programs that die, for test_fatal.c.
 *
 *   t_fatal_helper MODE
 *
 * Each mode provokes one fatal path of the runtime (deadlock, stack
 * overflow, misuse of a primitive, a group destroyed with live members).  Before it does, it prints on stdout
 * the facts the test needs to check the runtime's message ("id NAME N"
 * lines for goroutines whose ids are known; the names contain no
 * wait-reason word, so a reason found in a report line is the runtime's),
 * flushed.  If the runtime lets the program get past the fatal point, it
 * prints "survived" and exits 3, so the test sees the difference between
 * a message and no detection at all.  Exit 64 for an unknown mode.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <greenrt.h>

#include "t_internal.h"

/* "id NAME N": goroutine N is called NAME. */
static void say_id(const char *name, long long id)
{
    printf("id %s %lld\n", name, id);
    fflush(stdout);
}

/* --------------------------------------------------------------- deadlock */

static gr_chan *never;    /* nobody ever sends here */
static gr_chan *full;     /* unbuffered, nobody ever receives */
static gr_mutex mu;
static gr_wg wg_never;

static void blocked_sender(void *arg)
{
    int v = 1;
    gr_chan_send(full, &v);
}

static void blocked_locker(void *arg)
{
    gr_mutex_lock(&mu);   /* main holds it and never unlocks */
}

static void blocked_wg(void *arg)
{
    gr_wg_wait(&wg_never);
}

static void blocked_select(void *arg)
{
    gr_select(NULL, 0, -1);
}

static void deadlock_main(void *arg)
{
    never = gr_chan_make(sizeof(int), 0);
    full = gr_chan_make(sizeof(int), 0);
    gr_wg_add(&wg_never, 1);
    gr_mutex_lock(&mu);
    gr_opts o = {0, "g-alpha"};
    say_id(o.name, gr_go_opts(blocked_sender, NULL, &o));
    o.name = "g-bravo";
    say_id(o.name, gr_go_opts(blocked_locker, NULL, &o));
    o.name = "g-charlie";
    say_id(o.name, gr_go_opts(blocked_wg, NULL, &o));
    o.name = "g-delta";
    say_id(o.name, gr_go_opts(blocked_select, NULL, &o));
    say_id("main", gr_self());
    gr_sleep(2000000);   /* a timer pending is not a deadlock yet */
    int v;
    gr_chan_recv(never, &v);
}

/* Simplest form: the main goroutine alone, blocked on a receive. */
static void deadlock_alone_main(void *arg)
{
    say_id("main", gr_self());
    gr_chan *c = gr_chan_make(sizeof(int), 0);
    int v;
    gr_chan_recv(c, &v);
}

/* With workers parked by the CPU governor (a dormant worker sleeps apart
 * from the idle ones): the main goroutine alone, blocked, after a sleep
 * whose timer may sit on the dormant worker. */

static void deadlock_parked_main(void *arg)
{
    while (sched_park_worker())
        ;
    gr_sleep(1000000);
    say_id("main", gr_self());
    gr_chan *c = gr_chan_make(sizeof(int), 0);
    int v;
    gr_chan_recv(c, &v);
}

/* ---------------------------------------------- group destroyed too soon */

/* Three members, each blocked on something different, and their group
 * destroyed under them by main (which is not a member). */
static gr_group live_group;
static gr_mutex held;

static void member_recv(void *arg)
{
    gr_chan_recv(never, NULL);
}

static void member_lock(void *arg)
{
    gr_mutex_lock(&held);
}

static void member_sleep(void *arg)
{
    gr_sleep(10LL * 1000000000);
}

static void group_destroy_live_main(void *arg)
{
    never = gr_chan_make(0, 0);
    gr_mutex_lock(&held);
    static const struct {
        const char *name;
        void (*fn)(void *);
    } members[] = {
        {"m-alpha", member_recv}, {"m-bravo", member_lock}, {"m-charlie", member_sleep}};
    gr_stats st;
    gr_stats_get(&st);
    uint64_t parks_before = st.parks;
    for (int i = 0; i < 3; i++) {
        gr_opts o = {0, members[i].name};
        say_id(members[i].name, gr_group_go_opts(&live_group, members[i].fn, NULL, &o));
    }
    say_id("main", gr_self());
    /* They park, once each (main only yields meanwhile, which is no
     * park): a fixed sleep was sometimes too short under load, and a
     * member still on its way showed as [running]. */
    int64_t end = gr_now() + 30LL * 1000000000;
    do {
        gr_yield();
        gr_stats_get(&st);
    } while (st.parks < parks_before + 3 && gr_now() < end);
    gr_group_destroy(&live_group);
}

/* ---------------------------------------------------------- stack overflow */

static volatile long depth_limit = LONG_MAX;  /* never reached */

static int __attribute__((noinline)) recurse(volatile char *prev, long depth)
{
    volatile char frame[512];
    if (depth >= depth_limit)
        return 0;
    frame[0] = (char)depth;
    frame[511] = prev ? prev[0] : 0;
    return recurse(frame, depth + 1) + frame[100];
}

/* Closed once main has said deep's id: the overflow's report ends the
 * process at once, and on another worker deep could otherwise run and
 * overflow before main's say_id (the test then finds no id). */
static gr_chan *deep_gate;

static void deep(void *arg)
{
    gr_chan_recv(deep_gate, NULL);
    recurse(NULL, 0);
}

/* Starts deep on a size-byte stack, says its id, then lets it run. */
static void deep_start(size_t size)
{
    deep_gate = gr_chan_make(0, 0);
    gr_opts o = {size, "deep"};
    say_id("deep", gr_go_opts(deep, NULL, &o));
    gr_chan_close(deep_gate);
}

static void overflow_main(void *arg)
{
    deep_start((size_t)(uintptr_t)arg);
    gr_sleep(10LL * 1000000000);   /* the overflow ends the process first */
}

/* Past the map budget for guard pages, stacks come from bulk mappings with
 * no guard below them: park 40,000 goroutines (more than the guarded
 * budget a 65,530 map limit allows: two maps per guarded stack), then
 * overflow a stack that is certainly a bulk one. */
static gr_chan *never;

static void parked(void *arg)
{
    gr_chan_recv(never, NULL);
}

/* n goroutines parked for good, started: their stacks are allocated. */
static void park_goroutines(int n)
{
    if (!never)
        never = gr_chan_make(0, 0);
    for (int i = 0; i < n; i++)
        gr_go(parked, NULL);
    gr_sleep(n / 1000 * 1000000LL + 10 * 1000000LL);
}

static void overflow_bulk_main(void *arg)
{
    park_goroutines(40000);
    deep_start(65536);
    gr_sleep(10LL * 1000000000);
}

/* A frame larger than the whole stack: one 72 KiB local array on a
 * 64 KiB stack, in code built without -fstack-clash-protection (as a
 * program's may be), so that the frame's first store lands far below the
 * stack's base, skipping a guard page.  Parked goroutines own the stacks
 * around it (made before and after its own: chunks hand stacks out
 * upwards, separate mappings come downwards).  It must fault in the
 * guard gap and be reported as an overflow, not overwrite a neighbour
 * silently. */
#define BIG_FRAME (72 * 1024)

static gr_chan *big_gate;

__attribute__((noinline, optimize("no-stack-clash-protection"))) static int
big_frame(volatile char *out)
{
    volatile char a[BIG_FRAME];
    a[0] = 1;
    a[BIG_FRAME - 1] = 2;
    *out = (char)(a[0] + a[BIG_FRAME - 1]);
    return a[BIG_FRAME / 2];
}

static void big(void *arg)
{
    volatile char c;
    gr_chan_recv(big_gate, NULL); /* its stack is allocated by now */
    big_frame(&c);
}

static void big_frame_main(void *arg)
{
    big_gate = gr_chan_make(0, 0);
    park_goroutines(8);
    gr_opts o = {65536, "big"};
    int64_t id = gr_go_opts(big, NULL, &o);
    say_id("big", id);
    gr_sleep(10LL * 1000000);
    park_goroutines(8);
    gr_chan_close(big_gate);
    gr_sleep(1000LL * 1000000); /* the overflow ends the process first */
}

/* ------------------------------------------ the last outside reference */

/* An outside thread holds a reference while main is parked for good, then
 * drops it without waking anybody: the deadlock must be reported then,
 * not turn into a hang. */
static void *unref_later(void *arg)
{
    usleep(100 * 1000);
    gr_extern_unref();
    return NULL;
}

static void extern_unref_main(void *arg)
{
    gr_chan *c = gr_chan_make(sizeof(int), 0);
    gr_extern_ref();
    pthread_t t;
    if (pthread_create(&t, NULL, unref_later, NULL) != 0) {
        printf("pthread_create failed\n");
        exit(4);
    }
    say_id("main", gr_self());
    int v;
    gr_chan_recv(c, &v); /* nobody sends */
}

/* ------------------------------------------------------------------ misuse */

static void unlocker(void *arg)
{
    gr_mutex m = GR_MUTEX_INIT;
    gr_mutex_unlock(&m);
}

static void wg_negative(void *arg)
{
    gr_wg wg = GR_WG_INIT;
    gr_wg_done(&wg);
}

static void rw_unlocker(void *arg)
{
    gr_rwmutex rw = GR_RWMUTEX_INIT;
    gr_rwmutex_unlock(&rw);
}

static void named_main(void *arg)
{
    void (*fn)(void *) = arg;
    const char *name = fn == unlocker ? "unlocker"
                     : fn == wg_negative ? "wg-negative"
                     : "rw-unlocker";
    gr_opts o = {0, name};
    int64_t id = gr_go_opts(fn, NULL, &o);
    say_id(name, id);
    gr_sleep(10LL * 1000000000);
}

static void *foreign_thread(void *arg)
{
    int v;
    gr_chan_recv((gr_chan *)arg, &v);
    return NULL;
}

static void foreign_main(void *arg)
{
    /* A plain pthread (not a worker) calls a blocking gr_ function while
     * the runtime runs. */
    gr_chan *c = gr_chan_make(sizeof(int), 0);
    pthread_t t;
    if (pthread_create(&t, NULL, foreign_thread, c) != 0) {
        printf("pthread_create failed\n");
        exit(4);
    }
    pthread_join(t, NULL);
}

static int run(void (*fn)(void *), void *arg)
{
    int rc = gr_run(fn, arg);
    printf("survived: gr_run returned %d\n", rc);
    return 3;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: t_fatal_helper MODE\n");
        return 64;
    }
    const char *m = argv[1];
    if (!strcmp(m, "deadlock"))
        return run(deadlock_main, NULL);
    if (!strcmp(m, "deadlock-alone"))
        return run(deadlock_alone_main, NULL);
    if (!strcmp(m, "deadlock-parked"))
        return run(deadlock_parked_main, NULL);
    if (!strcmp(m, "overflow"))
        return run(overflow_main, (void *)(uintptr_t)65536);
    if (!strcmp(m, "overflow-bulk")) {
        /* Without guard regions, past the map budget stacks are BULK. */
        stack_no_guard_regions = true;
        return run(overflow_bulk_main, NULL);
    }
    if (!strcmp(m, "extern-last-unref"))
        return run(extern_unref_main, NULL);
    if (!strcmp(m, "overflow-big-frame"))
        return run(big_frame_main, NULL);
    if (!strcmp(m, "overflow-big-frame-guarded")) {
        stack_no_guard_regions = true; /* GUARDED stacks: a PROT_NONE gap */
        return run(big_frame_main, NULL);
    }
    if (!strcmp(m, "overflow-1m"))
        return run(overflow_main, (void *)(uintptr_t)(1024 * 1024));
    /* Sizes that are not a page multiple: gr_opts.stack_size, and
     * GR_STACK_SIZE for the default (size 0). */
    if (!strcmp(m, "overflow-odd-size"))
        return run(overflow_main, (void *)(uintptr_t)(GR_MIN_STACK_SIZE + 1));
    if (!strcmp(m, "overflow-odd-default")) {
        char v[32];
        snprintf(v, sizeof v, "%u", GR_MIN_STACK_SIZE + 1);
        setenv("GR_STACK_SIZE", v, 1);
        return run(overflow_main, NULL);
    }
    if (!strcmp(m, "mutex-unlock"))
        return run(named_main, (void *)unlocker);
    if (!strcmp(m, "wg-negative"))
        return run(named_main, (void *)wg_negative);
    if (!strcmp(m, "rwmutex-unlock"))
        return run(named_main, (void *)rw_unlocker);
    if (!strcmp(m, "recv-outside")) {
        gr_chan *c = gr_chan_make(sizeof(int), 0);
        if (!c) {
            printf("gr_chan_make outside gr_run failed: %s\n", strerror(errno));
            return 4;
        }
        int v;
        int r = gr_chan_recv(c, &v);
        printf("survived: gr_chan_recv returned %d\n", r);
        return 3;
    }
    if (!strcmp(m, "sleep-outside")) {
        int r = gr_sleep(1000000);
        printf("survived: gr_sleep returned %d\n", r);
        return 3;
    }
    if (!strcmp(m, "group-destroy-live"))
        return run(group_destroy_live_main, NULL);
    if (!strcmp(m, "recv-foreign-thread"))
        return run(foreign_main, NULL);
    fprintf(stderr, "t_fatal_helper: unknown mode %s\n", m);
    return 64;
}
