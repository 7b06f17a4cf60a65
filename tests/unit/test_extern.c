/*
 * test_extern.c - threads outside the runtime (runtime/extern.c): what a
 * plain pthread, or a function on the offload pool, may do while a
 * runtime runs.
 *
 *   - A thread holding a reference (gr_extern_ref) wakes a goroutine with
 *     gr_chan_try_send while every goroutine is parked: no deadlock
 *     report (it used to end the program first).
 *   - gr_go works from such threads and from a gr_blocking function (it
 *     returned -EPERM), and returns -EPERM when no runtime runs.
 *   - gr_extern_unref without a reference is -EINVAL.
 *   - A thread that keeps spawning and sending while the runtime stops
 *     neither crashes nor keeps it from stopping (the sanitizer builds
 *     check the memory accesses).
 *   - A thread held between taking a parked goroutine off a channel and
 *     readying it (extern_ready_hook) keeps the runtime from finishing
 *     its stop: gr_run does not return, and free that goroutine, under
 *     it (it did, and the thread then read the freed waiter: a crash in
 *     ~1% of the runs of the test above).
 * That dropping the last reference still lets a real deadlock be
 * reported is test_fatal.c's (the process ends).
 */
#include "t_util.h"
#include "t_internal.h" /* extern_ready_hook */

#include <pthread.h>
#include <stdbool.h>

/* ------------------------------------------- a thread wakes a goroutine */

struct waker {
    gr_chan *c;
    int sent;           /* try_send's result */
    int unref;          /* gr_extern_unref's */
    int tries;
};

/* Waits until the goroutine is parked in its receive (well after every
 * goroutine is asleep), then hands it a value and drops the reference. */
static void *waker_thread(void *arg)
{
    struct waker *w = arg;
    usleep(100 * 1000);
    do {
        w->sent = gr_chan_try_send(w->c, &(int){42});
        w->tries++;
        if (w->sent == -EAGAIN)
            usleep(1000);
    } while (w->sent == -EAGAIN && w->tries < 10000);
    w->unref = gr_extern_unref();
    return NULL;
}

struct wake_ctx {
    struct waker w;
    int got, recv_r, ref_r;
};

static void wake_main(void *arg)
{
    struct wake_ctx *c = arg;
    c->w.c = gr_chan_make(sizeof(int), 0);
    /* The reference first: from here on, all goroutines asleep is not a
     * deadlock. */
    c->ref_r = gr_extern_ref();
    pthread_t t;
    t_check(pthread_create(&t, NULL, waker_thread, &c->w) == 0);
    c->recv_r = gr_chan_recv(c->w.c, &c->got); /* the only goroutine: parked */
    pthread_join(t, NULL);
    gr_chan_free(c->w.c);
}

static void test_extern_thread_wakes_parked_goroutine(void **state)
{
    (void)state;
    struct wake_ctx c;
    memset(&c, 0, sizeof c);
    t_run(wake_main, &c);
    assert_int_equal(c.ref_r, 0);
    assert_int_equal(c.w.sent, 0);
    assert_int_equal(c.recv_r, 0);
    assert_int_equal(c.got, 42);
    assert_int_equal(c.w.unref, 0);
}

/* ------------------------------------------------ gr_go from outside */

struct outside_go {
    gr_chan *done;       /* buffered: the spawned goroutines report here */
    int64_t ids[3];
    atomic_long names_ok;
};

static void spawned(void *arg)
{
    struct outside_go *o = arg;
    if (!strcmp(gr_self_name(), "from-outside"))
        atomic_fetch_add(&o->names_ok, 1);
    int64_t me = gr_self();
    t_check(gr_chan_try_send(o->done, &me) == 0);
}

static void *spawner_thread(void *arg)
{
    struct outside_go *o = arg;
    gr_opts opts = {.name = "from-outside"};
    o->ids[0] = gr_go(spawned, o);
    o->ids[1] = gr_go_opts(spawned, o, &opts);
    gr_extern_unref();
    return NULL;
}

static void blocking_spawner(void *arg)
{
    struct outside_go *o = arg;
    o->ids[2] = gr_go(spawned, o); /* on an offload thread */
}

static void outside_go_main(void *arg)
{
    struct outside_go *o = arg;
    o->done = gr_chan_make(sizeof(int64_t), 8);
    gr_extern_ref();
    pthread_t t;
    t_check(pthread_create(&t, NULL, spawner_thread, o) == 0);
    t_check_eq(gr_blocking(blocking_spawner, o), 0);
    int64_t seen[3];
    for (int i = 0; i < 3; i++)
        t_check_eq(gr_chan_recv(o->done, &seen[i]), 0);
    pthread_join(t, NULL);
    for (int i = 0; i < 3; i++) {
        bool found = false;
        for (int k = 0; k < 3; k++)
            found |= seen[k] == o->ids[i];
        t_check_msg(found, "goroutine %lld (spawned from outside) never ran",
                    (long long)o->ids[i]);
    }
    gr_chan_free(o->done);
}

static void test_extern_go_from_thread_and_offload(void **state)
{
    (void)state;
    struct outside_go o;
    memset(&o, 0, sizeof o);
    t_run(outside_go_main, &o);
    for (int i = 0; i < 3; i++)
        assert_true(o.ids[i] > 0);
    assert_int_equal(atomic_load(&o.names_ok), 1);
}

static void nothing(void *arg)
{
    (void)arg;
}

static void test_extern_go_without_runtime(void **state)
{
    (void)state;
    assert_int_equal(gr_go(nothing, NULL), -EPERM);
    gr_opts bad = {.stack_size = 1};
    assert_int_equal(gr_go_opts(nothing, NULL, &bad), -EINVAL);
}

static void test_extern_unref_unbalanced(void **state)
{
    (void)state;
    assert_int_equal(gr_extern_unref(), -EINVAL);
    assert_int_equal(gr_extern_ref(), 0);
    assert_int_equal(gr_extern_unref(), 0);
    assert_int_equal(gr_extern_unref(), -EINVAL);
}

/* ------------------------------------ an outside thread across the stop */

/* Spawns and sends until told to stop, through three runtimes' stops and
 * between them (gr_go then says -EPERM).  As greenrt.h asks, the channel
 * it sends on has no goroutine parked on it once main_fn returns: each
 * run closes its own, which takes its receivers off it. */
enum { ACROSS_RUNS = 3, ACROSS_SPAWNS = T_BIG(1000) /* per run */ };

struct across {
    gr_chan *c[ACROSS_RUNS];
    atomic_int run;
    atomic_long stop;
    atomic_long spawned, refused, calls;
};

static void across_child(void *arg)
{
    (void)arg;
}

static void *across_thread(void *arg)
{
    struct across *a = arg;
    while (!atomic_load(&a->stop)) {
        int64_t id = gr_go(across_child, a);
        if (id > 0)
            atomic_fetch_add(&a->spawned, 1);
        else if (id == -EPERM)
            atomic_fetch_add(&a->refused, 1);
        (void)gr_chan_try_send(a->c[atomic_load(&a->run)], &(int){1});
        atomic_fetch_add(&a->calls, 1);
    }
    return NULL;
}

static void receiver(void *arg)
{
    gr_chan *c = arg;
    int v;
    while (gr_chan_recv(c, &v) == 0)
        ;
}

static void across_main(void *arg)
{
    struct across *a = arg;
    gr_chan *c = a->c[atomic_load(&a->run)];
    long base = atomic_load(&a->spawned);
    for (int i = 0; i < 4; i++)
        t_go(receiver, c);
    while (atomic_load(&a->spawned) < base + ACROSS_SPAWNS)
        gr_sleep(T_MS);
    gr_chan_close(c); /* no receiver stays parked on it */
    /* Returning stops the runtime under the thread's feet. */
}

static void test_extern_thread_across_the_stop(void **state)
{
    (void)state;
    static struct across a;
    memset(&a, 0, sizeof a);
    for (int i = 0; i < ACROSS_RUNS; i++)
        a.c[i] = gr_chan_make(sizeof(int), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, across_thread, &a), 0);
    for (int run = 0; run < ACROSS_RUNS; run++) {
        atomic_store(&a.run, run);
        t_run(across_main, &a);
    }
    long after = atomic_load(&a.calls);
    while (atomic_load(&a.calls) < after + 100) /* still calling, no runtime */
        usleep(1000);
    atomic_store(&a.stop, 1);
    pthread_join(t, NULL);
    for (int i = 0; i < ACROSS_RUNS; i++)
        gr_chan_free(a.c[i]);
    print_message("  %ld goroutines spawned from outside, %ld refused between runs\n",
                  atomic_load(&a.spawned), atomic_load(&a.refused));
    assert_true(atomic_load(&a.spawned) >= ACROSS_RUNS * ACROSS_SPAWNS);
    assert_true(atomic_load(&a.refused) > 0);
}

/* ------------------------------ a waker held while the runtime stops */

/* How long the held waker gives gr_run to return under it.  Not relied
 * on to pass: with the waker pinning the runtime gr_run cannot return
 * however long it is given; it only bounds how long the test waits. */
#define HELD_WINDOW_NS (300 * T_MS)

struct held {
    gr_chan *c;
    pthread_t thread;
    atomic_int in_window;     /* the waker is held in its ready */
    atomic_int run_returned;  /* gr_run has returned */
    atomic_int returned_under_it; /* ... while the waker was held */
    int sent;
};

static struct held held;

static void held_hook(void)
{
    if (!pthread_equal(pthread_self(), held.thread) || atomic_load(&held.in_window))
        return;
    atomic_store(&held.in_window, 1);
    int64_t end = t_mono_ns() + HELD_WINDOW_NS;
    while (!atomic_load(&held.run_returned) && t_mono_ns() < end)
        usleep(1000);
    atomic_store(&held.returned_under_it, atomic_load(&held.run_returned));
}

static void *held_thread(void *arg)
{
    (void)arg;
    int r;
    while ((r = gr_chan_try_send(held.c, &(int){7})) == -EAGAIN) /* receiver not parked yet */
        usleep(100);
    held.sent = r;
    return NULL;
}

static void held_receiver(void *arg)
{
    int v;
    (void)gr_chan_recv(arg, &v); /* taken off the channel, never readied */
}

static void held_main(void *arg)
{
    (void)arg;
    t_go(held_receiver, held.c);
    while (!atomic_load(&held.in_window))
        gr_sleep(T_MS);
    /* Returning stops the runtime while the waker holds the receiver. */
}

static void test_extern_waker_held_across_the_stop(void **state)
{
    (void)state;
    memset(&held, 0, sizeof held);
    held.c = gr_chan_make(sizeof(int), 0);
    assert_non_null(held.c);
    extern_ready_hook = held_hook;
    assert_int_equal(pthread_create(&held.thread, NULL, held_thread, NULL), 0);
    t_run(held_main, NULL);
    atomic_store(&held.run_returned, 1);
    pthread_join(held.thread, NULL);
    extern_ready_hook = NULL;
    gr_chan_free(held.c);
    assert_int_equal(held.sent, 0);
    assert_int_equal(atomic_load(&held.in_window), 1);
    if (atomic_load(&held.returned_under_it))
        fail_msg("gr_run returned (and freed the receiver) while a thread was readying it");
}

int main(void)
{
    t_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_extern_thread_wakes_parked_goroutine),
        cmocka_unit_test(test_extern_go_from_thread_and_offload),
        cmocka_unit_test(test_extern_go_without_runtime),
        cmocka_unit_test(test_extern_unref_unbalanced),
        cmocka_unit_test(test_extern_thread_across_the_stop),
        cmocka_unit_test(test_extern_waker_held_across_the_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
