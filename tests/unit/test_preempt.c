/*
 * test_preempt.c - the monitor thread (runtime/preempt.c): preemption and
 * the hand-off of stuck workers.
 *
 *   - A goroutine that never calls into greenrt must not starve the
 *     others (GR_PROCS=1 included), asynchronously by signal, or at the
 *     next greenrt call with GR_PREEMPT=0.
 *   - Asynchronous preemption keeps every register of the interrupted
 *     code (vector ones included), and a goroutine with no room left on
 *     its stack for the preemption is left alone, never killed.
 *   - A worker blocked in a raw system call is never signalled (no
 *     EINTR) and every queue of it is handed to the other workers.
 *
 * The hand-off tests need a second worker to hand to: with GR_PROCS=1
 * they run their own runtime with two.  Some tests look at internals
 * (t_internal.h): a goroutine's stack bounds, a worker's queues.
 */
#include "t_util.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sys/syscall.h>

#include "t_internal.h"
#include "runq.h"

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

/* ------------------------------------------------------------------ helpers */

/* Runs fn with at least two workers: a hand-off needs somewhere to go.
 * The runner's GR_PROCS is put back afterwards. */
static void run_with_two_workers(void (*fn)(void *), void *arg)
{
    const char *p = getenv("GR_PROCS");
    char saved[16] = "";
    if (p)
        snprintf(saved, sizeof saved, "%s", p);
    if (!p || atoi(p) < 2)
        setenv("GR_PROCS", "2", 1);
    t_reset();
    int rc = gr_run(fn, arg);
    if (*saved)
        setenv("GR_PROCS", saved, 1);
    else
        unsetenv("GR_PROCS");
    assert_int_equal(rc, 0);
    t_assert_no_failure(__FILE__, __LINE__);
}

static bool async_preemption_on(void)
{
#if defined(__SANITIZE_THREAD__)
    return false; /* TSan builds turn signal preemption off (env.c) */
#else
    const char *p = getenv("GR_PREEMPT");
    return !(p && !strcmp(p, "0"));
#endif
}

/* ------------------------------------- a blocked worker's runnext slot */

/* A goroutine spawned just before its spawner blocks its worker in a raw
 * system call sits in that worker's runnext slot: no other worker is
 * woken for it (a hand-off), so only the monitor's hand-off of the
 * blocked worker can get it run.  Here it is what unblocks the spawner. */
struct blocked_spawner {
    int p[2];
    int got;          /* bytes the raw read got: 1 */
    int eintr;
};

static void runnext_writer(void *arg)
{
    struct blocked_spawner *c = arg;
    t_check_eq(write(c->p[1], "x", 1), 1);
}

static void runnext_main(void *arg)
{
    struct blocked_spawner *c = arg;
    gr_sleep(20 * T_MS); /* every other worker idle and asleep */
    t_go(runnext_writer, c);
    /* Raw: blocks this worker (bounded at 10 s: a failure is not a hang). */
    struct pollfd pfd = {.fd = c->p[0], .events = POLLIN};
    int64_t end = t_mono_ns() + 10 * T_SEC;
    int r;
    do {
        r = poll(&pfd, 1, (int)((end - t_mono_ns()) / T_MS));
        if (r < 0 && errno == EINTR)
            c->eintr++;
    } while (r < 0 && errno == EINTR && t_mono_ns() < end);
    if (r == 1) {
        char b;
        c->got = (int)read(c->p[0], &b, 1);
    }
}

static void test_preempt_handoff_blocked_runnext(void **state)
{
    (void)state;
    static struct blocked_spawner c;
    memset(&c, 0, sizeof c);
    assert_int_equal(pipe2(c.p, O_CLOEXEC), 0);
    run_with_two_workers(runnext_main, &c);
    close(c.p[0]);
    close(c.p[1]);
    if (c.got != 1)
        fail_msg("the goroutine in the blocked worker's runnext never ran (10 s)");
    assert_int_equal(c.eintr, 0);
}

/* ------------------------------------- every queue of a stuck worker */

/* The monitor's hand-off (sched_handoff_queue) moves every queue of a
 * stuck worker - hotq, runnext, run queue, ioq - to the global queue.
 * Driven directly on the calling goroutine's own worker, with the other
 * one parked (a dormant worker steals nothing): one goroutine in each
 * queue, all four moved, all four run afterwards. */
struct every_queue {
    atomic_long ran;
    uint32_t moved;
    bool local_left;       /* w still had work after the hand-off */
};

static void counted(void *arg)
{
    struct every_queue *c = arg;
    atomic_fetch_add(&c->ran, 1);
}

static void every_queue_main(void *arg)
{
    struct every_queue *c = arg;
    while (sched_park_worker())
        ;
    gr_sleep(20 * T_MS); /* now on worker 0, the only active one */
    worker *w = current_worker();
    g *gs[4];
    int found = 0;
    gr_preempt_disable();
    for (int i = 0; i < 4; i++)
        t_go(counted, c);
    /* Take them back (runnext and run queue; the global queue too, where
     * GR_SCHED_RANDOM may put them) ... */
    while (found < 4) {
        g *gp = runq_get(w);
        if (!gp)
            gp = gq_get(w, 1);
        if (!gp)
            break;
        gs[found++] = gp;
    }
    t_check_eq(found, 4);
    if (found == 4) {
        /* ... and give each queue one. */
        t_check(hotq_put(w, gs[0]));
        store_relaxed(&w->runnext, gs[1]);
        runq_put_tail(w, gs[2]);
        ioq_put(w, gs[3]);
        c->moved = sched_handoff_queue(w);
        c->local_left = worker_has_work(w);
    }
    gr_preempt_enable();
    t_wait_for(&c->ran, found);
    while (sched_unpark_worker())
        ;
}

static void test_preempt_handoff_every_queue(void **state)
{
    (void)state;
    static struct every_queue c;
    memset(&c, 0, sizeof c);
    setenv("GR_ADAPTIVE", "0", 1); /* the parked worker stays parked */
    run_with_two_workers(every_queue_main, &c);
    unsetenv("GR_ADAPTIVE");
    assert_int_equal(c.moved, 4);
    assert_false(c.local_left);
    assert_int_equal(atomic_load(&c.ran), 4);
}

/* ------------------------------- a worker blocked in a raw system call */

/* A goroutine blocks its worker in raw nanosleep(2) and poll(2) calls of
 * 300 ms while other goroutines have timers falling due and I/O pending
 * behind it.  The monitor must hand them off, and never signal the
 * blocked worker: no EINTR (the calls are counted, not retried blindly),
 * and a poll on an idle fd simply times out. */
enum { BLOCK_MS = 300, BLOCK_SLEEPERS = 4 };

struct blocked_call {
    int idle[2];         /* nothing is ever written: poll times out */
    int io[2];           /* a goroutine's gr_read waits on it */
    atomic_long stop;
    atomic_long sleeps;  /* gr_sleeps completed by the sleepers */
    int nanosleep_eintr, poll_eintr, poll_result;
    gr_wg wg;
};

static void due_sleeper(void *arg)
{
    struct blocked_call *c = arg;
    while (!atomic_load(&c->stop)) {
        gr_sleep(T_MS);
        atomic_fetch_add(&c->sleeps, 1);
    }
    gr_wg_done(&c->wg);
}

static void pending_reader(void *arg)
{
    struct blocked_call *c = arg;
    char b;
    t_check_eq(gr_read(c->io[0], &b, 1), 1);
    gr_wg_done(&c->wg);
}

static void blocked_call_main(void *arg)
{
    struct blocked_call *c = arg;
    gr_wg_add(&c->wg, BLOCK_SLEEPERS + 1);
    for (int i = 0; i < BLOCK_SLEEPERS; i++)
        t_go(due_sleeper, c);
    t_go(pending_reader, c);
    gr_yield(); /* let them arm their timers and I/O on this worker */
    gr_yield();

    struct timespec req = {.tv_sec = 0, .tv_nsec = BLOCK_MS * T_MS}, rem;
    while (nanosleep(&req, &rem) < 0 && errno == EINTR) {
        c->nanosleep_eintr++;
        req = rem;
    }
    struct pollfd pfd = {.fd = c->idle[0], .events = POLLIN};
    for (int tries = 0; tries < 20; tries++) {
        c->poll_result = poll(&pfd, 1, BLOCK_MS);
        if (c->poll_result >= 0 || errno != EINTR)
            break;
        c->poll_eintr++;
    }
    atomic_store(&c->stop, 1);
    t_check_eq(write(c->io[1], "x", 1), 1);
    gr_wg_wait(&c->wg);
}

static void test_preempt_blocked_syscall_not_interrupted(void **state)
{
    (void)state;
    static struct blocked_call c;
    memset(&c, 0, sizeof c);
    assert_int_equal(pipe2(c.idle, O_CLOEXEC), 0);
    assert_int_equal(pipe2(c.io, O_CLOEXEC), 0);
    t_run(blocked_call_main, &c);
    for (int i = 0; i < 2; i++) {
        close(c.idle[i]);
        close(c.io[i]);
    }
    print_message("  EINTR: nanosleep %d, poll %d; sleeps done meanwhile %ld\n", c.nanosleep_eintr,
                  c.poll_eintr, atomic_load(&c.sleeps));
    assert_int_equal(c.nanosleep_eintr, 0);
    assert_int_equal(c.poll_eintr, 0);
    assert_int_equal(c.poll_result, 0);
}

/* ------------------------------- asynchronous preemption keeps registers */

/* Two goroutines spin in pure arithmetic, their accumulators in vector
 * registers (256-bit ones where the CPU has AVX2), with no greenrt call,
 * until a thread outside the runtime stops them (REGS_SPIN_MS): on one
 * worker only asynchronous preemption lets them take turns, and every
 * preemption switches to the other, which uses the same registers.  Each
 * result must be exactly what the same number of rounds gives
 * undisturbed. */
typedef double v4d __attribute__((vector_size(32)));

enum { REGS_SPIN_MS = 300 };

struct regs_ctx {
    atomic_int stop;
    atomic_int started;
    double result[2];
    long rounds[2];
    uint64_t preemptions;
    gr_wg wg;
};

struct regs_arg {
    struct regs_ctx *c;
    int i;
};

#define REGS_CHUNK 4096

/* Rounds until *stop (NULL: exactly max_rounds); *done: how many. */
__attribute__((noinline, target("avx2"))) static double
regs_work_avx(long max_rounds, double seed, atomic_int *stop, long *done)
{
    /* b settles at 2 * c, a grows by about that each step: every lane
     * keeps all of its history (no decay that a corruption could hide
     * in). */
    v4d a = {seed, seed + 1, seed + 2, seed + 3}, b = {0.5, 0.25, 0.125, 0.0625};
    v4d c = {0.75, 0.375, 1.25, 0.625};
    long r = 0;
    for (; r < max_rounds && !(stop && atomic_load_explicit(stop, memory_order_relaxed)); r++)
        for (int k = 0; k < REGS_CHUNK; k++) {
            a = a + b;
            b = b * 0.5 + c;
        }
    *done = r;
    return a[0] + a[1] + a[2] + a[3] + b[0] + b[1] + b[2] + b[3];
}

__attribute__((noinline)) static double regs_work_sse(long max_rounds, double seed,
                                                      atomic_int *stop, long *done)
{
    double a0 = seed, a1 = seed + 1, b0 = 0.5, b1 = 0.25;
    long r = 0;
    for (; r < max_rounds && !(stop && atomic_load_explicit(stop, memory_order_relaxed)); r++)
        for (int k = 0; k < REGS_CHUNK; k++) {
            a0 = a0 + b0;
            a1 = a1 + b1;
            b0 = b0 * 0.5 + 0.75;
            b1 = b1 * 0.5 + 0.375;
        }
    *done = r;
    return a0 + a1 + b0 + b1;
}

static double regs_work(long max_rounds, double seed, atomic_int *stop, long *done)
{
    return __builtin_cpu_supports("avx2") ? regs_work_avx(max_rounds, seed, stop, done)
                                          : regs_work_sse(max_rounds, seed, stop, done);
}

static void regs_spinner(void *arg)
{
    struct regs_arg *a = arg;
    struct regs_ctx *c = a->c;
    atomic_fetch_add(&c->started, 1);
    c->result[a->i] = regs_work(LONG_MAX, 1.0 + a->i, &c->stop, &c->rounds[a->i]);
    gr_wg_done(&c->wg);
}

static void regs_main(void *arg)
{
    struct regs_ctx *c = arg;
    static struct regs_arg args[2];
    gr_wg_add(&c->wg, 2);
    for (int i = 0; i < 2; i++) {
        args[i] = (struct regs_arg){c, i};
        t_go(regs_spinner, &args[i]);
    }
    gr_wg_wait(&c->wg);
    gr_stats st;
    gr_stats_get(&st);
    c->preemptions = st.preemptions;
}

/* Stops the spinners REGS_SPIN_MS after both started (10 s at most). */
static void *regs_timer(void *arg)
{
    struct regs_ctx *c = arg;
    for (int i = 0; i < 10000 && atomic_load(&c->started) < 2; i++)
        usleep(1000);
    usleep(REGS_SPIN_MS * 1000);
    atomic_store(&c->stop, 1);
    return NULL;
}

static void test_preempt_async_keeps_registers(void **state)
{
    (void)state;
    if (!async_preemption_on()) {
        print_message("skipped: asynchronous preemption is off\n");
        skip();
    }
    static struct regs_ctx c;
    memset(&c, 0, sizeof c);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, regs_timer, &c), 0);
    t_run(regs_main, &c);
    pthread_join(t, NULL);
    for (int i = 0; i < 2; i++) {
        long done;
        double want = regs_work(c.rounds[i], 1.0 + i, NULL, &done); /* undisturbed */
        if (memcmp(&want, &c.result[i], sizeof want) != 0)
            fail_msg("spinner %d computed %.17g in %ld rounds, undisturbed %.17g", i,
                     c.result[i], c.rounds[i], want);
    }
    print_message("  %llu preemptions; %ld and %ld rounds\n", (unsigned long long)c.preemptions,
                  c.rounds[0], c.rounds[1]);
    if (one_worker())
        assert_true(c.preemptions > 0); /* else the test showed nothing */
}

/* ------------------------------------ no room left for the preemption */

/* A goroutine that spins with at most NEAR_END_LEFT bytes of its stack
 * left, while another waits behind it on its worker: the monitor's
 * signal must not kill it (the signal frame used to land on the
 * goroutine's stack, 3.4 KB with AVX-512 state, and overflowed it): it
 * is preempted or left alone until it returns by itself. */
enum { NEAR_END_LEFT = 2048, NEAR_END_SPIN_MS = 200 };

struct near_end {
    size_t left;         /* stack left where it spun */
    atomic_long spinning;
    atomic_long stop;    /* set by a thread outside the runtime */
    atomic_long waiter_ran;
    int done;
};

static void near_end_waiter(void *arg)
{
    struct near_end *c = arg;
    atomic_store(&c->waiter_ran, 1);
}

/* No call in the loop: the least stack a spinner can use. */
__attribute__((noinline)) static void near_end_spin(struct near_end *c, const char *base)
{
    c->left = (size_t)((const char *)__builtin_frame_address(0) - base);
    atomic_store_explicit(&c->spinning, 1, memory_order_relaxed);
    while (!atomic_load_explicit(&c->stop, memory_order_relaxed))
        ;
}

/* Uses all but `leave` bytes of what is left below this frame, then
 * spins there (near_end_spin's frame takes some of the rest), or not. */
__attribute__((noinline)) static void near_end_descend(struct near_end *c, const char *base,
                                                       size_t leave, bool spin)
{
    size_t here = (size_t)((const char *)__builtin_frame_address(0) - base);
    volatile char *pad = __builtin_alloca(here - leave);
    pad[0] = 1;
    if (spin)
        near_end_spin(c, base);
    pad[0] = 0;
}

static void near_end_spinner(void *arg)
{
    struct near_end *c = arg;
    const char *base = current_g()->stk.base;
    /* Once with room to spare: a sanitizer's runtime functions, bound
     * lazily on their first call, cost the dynamic loader's resolver
     * (XSAVE state included) on the stack. */
    near_end_descend(c, base, GR_DEFAULT_STACK_SIZE / 2, false);
    /* Queued behind us on this worker (runnext): it waits for our end. */
    t_go(near_end_waiter, c);
    near_end_descend(c, base, NEAR_END_LEFT - 256, true);
    c->done = 1;
}

static void near_end_main(void *arg)
{
    struct near_end *c = arg;
    gr_opts o = {.stack_size = GR_DEFAULT_STACK_SIZE, .name = "near_end"};
    t_check(gr_go_opts(near_end_spinner, c, &o) > 0);
    while (!c->done || !atomic_load(&c->waiter_ran))
        gr_sleep(T_MS);
}

/* Stops the spinner NEAR_END_SPIN_MS after it started (10 s at most). */
static void *near_end_timer(void *arg)
{
    struct near_end *c = arg;
    for (int i = 0; i < 10000 && !atomic_load(&c->spinning); i++)
        usleep(1000);
    usleep(NEAR_END_SPIN_MS * 1000);
    atomic_store(&c->stop, 1);
    return NULL;
}

static void test_preempt_no_room_left_is_not_fatal(void **state)
{
    (void)state;
    static struct near_end c;
    memset(&c, 0, sizeof c);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, near_end_timer, &c), 0);
    t_run(near_end_main, &c);
    pthread_join(t, NULL);
    print_message("  spun with %zu bytes of stack left\n", c.left);
    assert_true(c.done);
    assert_true(c.left <= NEAR_END_LEFT); /* else the test showed nothing */
}

int main(void)
{
    t_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_preempt_async_spinner_does_not_starve),
        cmocka_unit_test(test_preempt_spinner_after_idle),
        cmocka_unit_test(test_preempt_cooperative_at_runtime_calls),
        cmocka_unit_test(test_preempt_disable_nests),
        cmocka_unit_test(test_preempt_async_keeps_registers),
        cmocka_unit_test(test_preempt_no_room_left_is_not_fatal),
        cmocka_unit_test(test_preempt_blocked_syscall_not_interrupted),
        cmocka_unit_test(test_preempt_handoff_blocked_runnext),
        cmocka_unit_test(test_preempt_handoff_every_queue),
    };
    return cmocka_run_group_tests_name("preempt", tests, NULL, NULL);
}
