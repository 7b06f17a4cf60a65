/*
 * test_adapt.c - the CPU governor (runtime/adapt.c) and dormant workers.
 *
 *   - A parked (dormant) worker runs no goroutine once it has handed off
 *     what it held, while I/O that was in flight on its ring completes
 *     and every byte still arrives; unparked, it takes work again.
 *   - Under CPU contention (busy threads outside the runtime on every
 *     CPU) the governor parks workers; once the contention ends and CPUs
 *     go idle it unparks them.  With GR_ADAPTIVE=0 it never parks.
 *
 * The mechanism tests call the governor's levers (sched_park_worker,
 * sched_unpark_worker) directly, through t_internal.h.  Which
 * worker a goroutine runs on is read with gettid(): worker 0 is the
 * thread that called gr_run.  Everything here needs two workers and
 * reports a skip with GR_PROCS=1.
 */
#include "t_util.h"

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "t_internal.h"

static int nprocs_env(void)
{
    const char *p = getenv("GR_PROCS");
    if (p)
        return atoi(p);
    cpu_set_t set;
    return sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
}

static bool need_two_workers(void)
{
    if (nprocs_env() >= 2)
        return true;
    print_message("skipped: dormant workers need GR_PROCS >= 2 (have %d)\n", nprocs_env());
    return false;
}

static pid_t tid(void)
{
    return (pid_t)syscall(SYS_gettid);
}

/* ------------------------------------------------- parked worker, live I/O */

#define PAIRS 32
#define MSG 48

typedef struct park_ctx {
    int fds[PAIRS][2];
    pid_t worker0;           /* worker 0's thread: the one that called gr_run */
    atomic_int phase;        /* 0 before the park, 1 parked and settled, 2 unparked */
    atomic_int round_trips;
    atomic_int off_worker0;  /* phase 1: goroutines seen on another worker */
    atomic_int bad_bytes;
    gr_wg wg;
} park_ctx;

typedef struct pair_arg {
    park_ctx *c;
    int i;
} pair_arg;

static pair_arg pair_args[PAIRS];

static void note_worker(park_ctx *c)
{
    if (atomic_load(&c->phase) == 1 && tid() != c->worker0)
        atomic_fetch_add(&c->off_worker0, 1);
}

static void echo_side(void *arg)
{
    pair_arg *a = arg;
    park_ctx *c = a->c;
    char buf[MSG];
    for (;;) {
        ssize_t n = gr_read(c->fds[a->i][1], buf, sizeof buf);
        note_worker(c);
        if (n <= 0)
            break;
        if (gr_write(c->fds[a->i][1], buf, (size_t)n) != n)
            break;
    }
    gr_close(c->fds[a->i][1]);
    gr_wg_done(&c->wg);
}

/* Round trips until phase 2 has seen `after` of them. */
static void client_side(void *arg)
{
    pair_arg *a = arg;
    park_ctx *c = a->c;
    int fd = c->fds[a->i][0];
    int after = 0;
    for (uint32_t k = 0; after < 50; k++) {
        char out[MSG], in[MSG];
        for (int j = 0; j < MSG; j++)
            out[j] = (char)(a->i * 31 + k * 7 + j);
        if (gr_write(fd, out, sizeof out) != (ssize_t)sizeof out) {
            atomic_fetch_add(&c->bad_bytes, 1);
            break;
        }
        size_t got = 0;
        while (got < sizeof in) {
            ssize_t n = gr_read(fd, in + got, sizeof in - got);
            note_worker(c);
            if (n <= 0)
                break;
            got += (size_t)n;
        }
        if (got != sizeof in || memcmp(in, out, sizeof in) != 0) {
            atomic_fetch_add(&c->bad_bytes, 1);
            break;
        }
        atomic_fetch_add(&c->round_trips, 1);
        if (atomic_load(&c->phase) == 2)
            after++;
        if (k % 8 == 7)
            gr_sleep(100000); /* some waits long enough to park on the ring */
    }
    gr_close(fd);
    gr_wg_done(&c->wg);
}

typedef struct spread_ctx {
    pid_t worker0;
    atomic_int elsewhere;
    atomic_int stop;
    gr_wg wg;
} spread_ctx;

static void yielder(void *arg)
{
    spread_ctx *s = arg;
    while (!atomic_load(&s->stop)) {
        if (tid() != s->worker0)
            atomic_store(&s->elsewhere, 1);
        gr_yield();
    }
    gr_wg_done(&s->wg);
}

static void park_main(void *arg)
{
    park_ctx *c = arg;
    gr_wg_add(&c->wg, 2 * PAIRS);
    for (int i = 0; i < PAIRS; i++) {
        pair_args[i] = (pair_arg){c, i};
        gr_go(echo_side, &pair_args[i]);
        gr_go(client_side, &pair_args[i]);
    }
    while (atomic_load(&c->round_trips) < 20 * PAIRS)
        gr_sleep(1000000);

    /* Main may be on worker 1 itself: parking it must still work. */
    t_check(sched_park_worker());
    t_check(gr_nprocs_active() == gr_nprocs() - 1);
    t_check(!sched_park_worker() || gr_nprocs() > 2);
    if (gr_nprocs() > 2)
        while (sched_park_worker())
            ;
    t_check(gr_nprocs_active() == 1);
    gr_sleep(50000000); /* what ran on the parked worker gets handed off */
    int before = atomic_load(&c->round_trips);
    atomic_store(&c->phase, 1);
    while (atomic_load(&c->round_trips) < before + 20 * PAIRS)
        gr_sleep(1000000);

    /* Phase 1 ends before the unpark: the unparked workers may run
     * goroutines at once (on the epoll engine, those of the fds still
     * registered there). */
    atomic_store(&c->phase, 2);
    while (sched_unpark_worker())
        ;
    t_check(gr_nprocs_active() == gr_nprocs());
    gr_wg_wait(&c->wg);

    /* Unparked, the workers take goroutines again: stealing spreads a
     * batch of yielding goroutines beyond worker 0 (bounded wait). */
    spread_ctx s = {.worker0 = getpid()};
    gr_wg_add(&s.wg, 8);
    for (int i = 0; i < 8; i++)
        gr_go(yielder, &s);
    for (int ms = 0; ms < 5000 && !atomic_load(&s.elsewhere); ms++)
        gr_sleep(1000000);
    atomic_store(&s.stop, 1);
    gr_wg_wait(&s.wg);
    t_check(atomic_load(&s.elsewhere));
}

static void test_adapt_parked_worker_hands_off_live_io(void **state)
{
    (void)state;
    if (!need_two_workers())
        skip();
    static park_ctx c;
    memset(&c, 0, sizeof c);
    c.worker0 = getpid();
    for (int i = 0; i < PAIRS; i++)
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, c.fds[i]), 0);
    t_run(park_main, &c);
    assert_int_equal(atomic_load(&c.bad_bytes), 0);
    assert_int_equal(atomic_load(&c.off_worker0), 0);
    assert_true(atomic_load(&c.round_trips) >= 90 * PAIRS);
}

/* ------------------------------------- a goroutine that never calls greenrt */

/* The thread pointer (%fs:0 on x86_64) tells the OS thread apart; read
 * with asm volatile so that the loop cannot keep a stale value. */
static uintptr_t thread_pointer(void)
{
    uintptr_t tp;
    __asm__ volatile("movq %%fs:0, %0" : "=r"(tp));
    return tp;
}

static uintptr_t worker0_tp;

typedef struct spin_ctx {
    atomic_int stop;
    atomic_int on_worker0[2];  /* each spinner seen on worker 0 */
    atomic_int elsewhere;      /* a spinner seen on another worker */
    gr_wg wg;
} spin_ctx;

typedef struct spin_arg {
    spin_ctx *c;
    int i;
} spin_arg;

/* No greenrt call in the loop: only the monitor's preemption moves it. */
static void pure_spinner(void *arg)
{
    spin_arg *a = arg;
    while (!atomic_load_explicit(&a->c->stop, memory_order_relaxed)) {
        if (thread_pointer() == worker0_tp)
            atomic_store_explicit(&a->c->on_worker0[a->i], 1, memory_order_relaxed);
        else
            atomic_store_explicit(&a->c->elsewhere, 1, memory_order_relaxed);
    }
    gr_wg_done(&a->c->wg);
}

static void spin_main(void *arg)
{
    spin_ctx *c = arg;
    static spin_arg args[2];
    gr_wg_add(&c->wg, 2);
    for (int i = 0; i < 2; i++) {
        args[i] = (spin_arg){c, i};
        gr_go(pure_spinner, &args[i]);
    }
    for (int ms = 0; ms < 5000 && !atomic_load(&c->elsewhere); ms++)
        gr_sleep(1000000);
    t_check(atomic_load(&c->elsewhere)); /* else the test shows nothing */
    while (sched_park_worker())
        ;
    atomic_store(&c->on_worker0[0], 0);
    atomic_store(&c->on_worker0[1], 0);
    for (int ms = 0; ms < 5000; ms++) {
        if (atomic_load(&c->on_worker0[0]) && atomic_load(&c->on_worker0[1]))
            break;
        gr_sleep(1000000);
    }
    atomic_store(&c->stop, 1);
    gr_wg_wait(&c->wg);
}

static void test_adapt_parked_worker_sheds_a_spinning_goroutine(void **state)
{
    (void)state;
    if (!need_two_workers())
        skip();
    const char *pre = getenv("GR_PREEMPT");
    bool async = !(pre && !strcmp(pre, "0"));
#if defined(__SANITIZE_THREAD__)
    async = false; /* TSan builds turn signal preemption off (env.c) */
#endif
    if (!async) {
        print_message("skipped: a pure spinner moves only by asynchronous preemption\n");
        skip();
    }
    worker0_tp = thread_pointer();
    static spin_ctx c;
    memset(&c, 0, sizeof c);
    t_run(spin_main, &c);
    assert_true(atomic_load(&c.on_worker0[0]));
    assert_true(atomic_load(&c.on_worker0[1]));
}

/* ----------------------------------------- a worker stuck in a system call */

typedef struct stuck_ctx {
    int p[2];
    int poll_result;   /* the blocker's raw poll(2): 1 once the writer ran */
    gr_wg wg;
} stuck_ctx;

/* Blocks its worker in a raw system call (up to 5 s). */
static void raw_blocker(void *arg)
{
    stuck_ctx *c = arg;
    struct pollfd pfd = {.fd = c->p[0], .events = POLLIN};
    /* The monitor's preemption signal interrupts it (EINTR), as Go's
     * does: retry, the way a program must around raw system calls. */
    int64_t end = t_mono_ns() + 5000000000LL;
    do
        c->poll_result = poll(&pfd, 1, (int)((end - t_mono_ns()) / 1000000));
    while (c->poll_result < 0 && errno == EINTR && t_mono_ns() < end);
    gr_wg_done(&c->wg);
}

static void raw_writer(void *arg)
{
    stuck_ctx *c = arg;
    t_check_eq(write(c->p[1], "x", 1), 1);
    gr_wg_done(&c->wg);
}

static void stuck_main(void *arg)
{
    stuck_ctx *c = arg;
    while (sched_park_worker())
        ;
    gr_sleep(20000000); /* main itself now on worker 0, the only active one */
    gr_wg_add(&c->wg, 2);
    gr_go(raw_writer, c);  /* queued behind... */
    gr_go(raw_blocker, c); /* ...this one, which runs first (runnext) */
    gr_wg_wait(&c->wg);
}

/* The monitor hands a stuck worker's queue over; with every other worker
 * parked by the governor it must unpark one to take it. */
static void test_adapt_stuck_worker_unparks_one(void **state)
{
    (void)state;
    if (!need_two_workers())
        skip();
    static stuck_ctx c;
    memset(&c, 0, sizeof c);
    assert_int_equal(pipe2(c.p, O_CLOEXEC), 0);
    t_run(stuck_main, &c);
    close(c.p[0]);
    close(c.p[1]);
    if (c.poll_result != 1)
        fail_msg("the blocked poll(2) returned %d (errno-free 1 wanted: the writer ran)", c.poll_result);
}

/* ------------------------------------------------------------ the governor */

typedef struct hog_ctx {
    atomic_int stop;
    pthread_t threads[64];
    int n;
} hog_ctx;

static void *hog(void *arg)
{
    hog_ctx *h = arg;
    while (!atomic_load_explicit(&h->stop, memory_order_relaxed))
        ;
    return NULL;
}

static void hogs_start(hog_ctx *h)
{
    cpu_set_t set;
    int cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 2;
    h->n = cpus < 64 ? cpus : 64;
    atomic_store(&h->stop, 0);
    for (int i = 0; i < h->n; i++)
        pthread_create(&h->threads[i], NULL, hog, h);
}

static void hogs_stop(hog_ctx *h)
{
    atomic_store(&h->stop, 1);
    for (int i = 0; i < h->n; i++)
        pthread_join(h->threads[i], NULL);
    h->n = 0;
}

typedef struct gov_ctx {
    hog_ctx hogs;
    int min_active;     /* lowest gr_nprocs_active() seen under contention */
    int parked_after_ms;
    int final_active;   /* after the contention ended */
    int grew_after_ms;
    bool adaptive;
} gov_ctx;

static void busy(void *arg)
{
    spread_ctx *s = arg;
    while (!atomic_load(&s->stop))
        gr_yield();
    gr_wg_done(&s->wg);
}

static void gov_main(void *arg)
{
    gov_ctx *g = arg;
    spread_ctx s = {0};
    int n = gr_nprocs();
    gr_wg_add(&s.wg, n);
    for (int i = 0; i < n; i++)
        gr_go(busy, &s);

    /* Every CPU busy outside the runtime: the workers wait for CPUs.
     * Without the governor, watch for a while that nothing changes. */
    hogs_start(&g->hogs);
    g->min_active = n;
    int limit = g->adaptive ? 10000 : 1500;
    for (int ms = 0; ms < limit; ms += 10) {
        int a = gr_nprocs_active();
        if (a < g->min_active) {
            g->min_active = a;
            g->parked_after_ms = ms;
        }
        if (g->adaptive && a < n)
            break;
        gr_sleep(10000000);
    }
    hogs_stop(&g->hogs);

    /* The contention is over and CPUs idle: the governor unparks, up to
     * one worker per CPU of our affinity mask. */
    cpu_set_t set;
    int cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 2;
    int want = n < cpus ? n : cpus;
    g->final_active = gr_nprocs_active();
    for (int ms = 0; g->adaptive && ms < 20000 && g->final_active < want; ms += 10) {
        gr_sleep(10000000);
        g->final_active = gr_nprocs_active();
        g->grew_after_ms = ms;
    }
    atomic_store(&s.stop, 1);
    gr_wg_wait(&s.wg);
}

static bool two_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) >= 2)
        return true;
    print_message("skipped: the governor test needs 2 CPUs in the affinity mask\n");
    return false;
}

static void test_adapt_governor_parks_under_contention_and_unparks(void **state)
{
    (void)state;
    if (!need_two_workers() || !two_cpus())
        skip();
    static gov_ctx g;
    memset(&g, 0, sizeof g);
    g.adaptive = true;
    t_run(gov_main, &g);
    print_message("  parked to %d worker(s) after %d ms of contention; %d active %d ms after it "
                  "ended\n",
                  g.min_active, g.parked_after_ms, g.final_active, g.grew_after_ms);
    assert_true(g.min_active < nprocs_env());
    /* Back to as many as there are CPUs for them (more would wait). */
    cpu_set_t set;
    int cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 2;
    int want = nprocs_env() < cpus ? nprocs_env() : cpus;
    assert_int_equal(g.final_active, want);
}

static void test_adapt_off_keeps_every_worker(void **state)
{
    (void)state;
    if (!need_two_workers() || !two_cpus())
        skip();
    static gov_ctx g;
    memset(&g, 0, sizeof g);
    setenv("GR_ADAPTIVE", "0", 1);
    t_run(gov_main, &g);
    unsetenv("GR_ADAPTIVE");
    assert_int_equal(g.min_active, nprocs_env());
}

static void test_adapt_env_rejects_bad_value(void **state)
{
    (void)state;
    struct t_capture cap;
    setenv("GR_ADAPTIVE", "yes", 1);
    t_capture_stderr_begin(&cap);
    int rc = gr_run((void (*)(void *))abort, NULL);
    t_capture_stderr_end(&cap);
    unsetenv("GR_ADAPTIVE");
    assert_int_equal(rc, -EINVAL);
    assert_non_null(strstr(cap.text, "GR_ADAPTIVE=\"yes\""));
}

int main(void)
{
    t_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adapt_env_rejects_bad_value),
        cmocka_unit_test(test_adapt_parked_worker_hands_off_live_io),
        cmocka_unit_test(test_adapt_parked_worker_sheds_a_spinning_goroutine),
        cmocka_unit_test(test_adapt_stuck_worker_unparks_one),
        cmocka_unit_test(test_adapt_off_keeps_every_worker),
        cmocka_unit_test(test_adapt_governor_parks_under_contention_and_unparks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
