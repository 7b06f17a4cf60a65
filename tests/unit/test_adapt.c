/*
 * test_adapt.c - the CPU governor (runtime/adapt.c) and dormant workers.
 *
 *   - A parked (dormant) worker runs no goroutine once it has handed off
 *     what it held, while I/O that was in flight on its ring completes
 *     and every byte still arrives; unparked, it takes work again.
 *   - Under CPU contention (busy threads outside the runtime on every
 *     CPU) the governor parks workers; once the contention ends and CPUs
 *     go idle it unparks them (a skip when the rest of the machine keeps
 *     them busy: the governor is then right not to).  With GR_ADAPTIVE=0
 *     it never parks.
 *
 * The mechanism tests call the governor's levers (sched_park_worker,
 * sched_unpark_worker) directly, through t_internal.h, with the governor
 * itself off so that its decisions do not race with theirs.  Which
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

/* The lever tests park and unpark workers themselves: the governor's own
 * decisions (a grow while the machine has idle CPUs) would race with
 * them, so they run without it (fixtures, so a failure restores it). */
static int governor_off(void **state)
{
    (void)state;
    return setenv("GR_ADAPTIVE", "0", 1);
}

static int governor_default(void **state)
{
    (void)state;
    return unsetenv("GR_ADAPTIVE");
}
#define lever_test(f) cmocka_unit_test_setup_teardown(f, governor_off, governor_default)

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

    /* Phase 2 before the unpark: the unparked worker may run goroutines
     * (on the epoll engine, those of the fds still registered there)
     * before this one gets to the next line (the OS may deschedule it
     * right here). */
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
    /* The monitor never signals a worker blocked in the kernel (no
     * EINTR); the retry is what a program does around raw calls anyway. */
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
    bool adaptive;
    bool wait_for_grow;  /* after the contention, wait for the unpark */
    int min_active;      /* lowest gr_nprocs_active() seen under contention */
    int parked_after_ms;
    int final_active;    /* after the contention ended */
    int grew_after_ms;
    double idle_cpus;    /* CPUs of our mask idle meanwhile, on average */
} gov_ctx;

static void busy(void *arg)
{
    spread_ctx *s = arg;
    while (!atomic_load(&s->stop))
        gr_yield();
    gr_wg_done(&s->wg);
}

static int cpus_in_mask(void)
{
    cpu_set_t set;
    return sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 2;
}

/* Idle + iowait time of the CPUs in our affinity mask, in ns (-1: no
 * /proc/stat): what the governor looks at before it unparks. */
static int64_t mask_idle_ns(void)
{
    cpu_set_t set;
    FILE *f = fopen("/proc/stat", "re");
    if (!f || sched_getaffinity(0, sizeof set, &set) != 0) {
        if (f)
            fclose(f);
        return -1;
    }
    double tick_ns = 1e9 / (double)sysconf(_SC_CLK_TCK);
    char line[512];
    int64_t sum = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned cpu;
        unsigned long long user, nice, sys, idle, iowait;
        if (sscanf(line, "cpu%u %llu %llu %llu %llu %llu", &cpu, &user, &nice, &sys, &idle,
                   &iowait) == 6 &&
            cpu < CPU_SETSIZE && CPU_ISSET(cpu, &set))
            sum += (int64_t)((double)(idle + iowait) * tick_ns);
    }
    fclose(f);
    return sum;
}

/* On an idle machine the governor unparks within HOLD_MIN_NS (1 s) and
 * two windows (0.2 s) of the contention's end. */
#define GROW_WAIT_MS 10000

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

    /* The contention is over: once CPUs go idle the governor unparks, up
     * to one worker per CPU of our affinity mask.  Whether they did go
     * idle depends on the rest of the machine: measured alongside. */
    int want = n < cpus_in_mask() ? n : cpus_in_mask();
    g->final_active = gr_nprocs_active();
    int64_t idle0 = mask_idle_ns(), t0 = gr_now();
    for (int ms = 0; g->wait_for_grow && ms < GROW_WAIT_MS && g->final_active < want; ms += 10) {
        gr_sleep(10000000);
        g->final_active = gr_nprocs_active();
        g->grew_after_ms = ms;
    }
    int64_t idle1 = mask_idle_ns(), t1 = gr_now();
    g->idle_cpus = idle0 >= 0 && idle1 >= 0 && t1 > t0 ? (double)(idle1 - idle0) / (double)(t1 - t0)
                                                       : -1;
    atomic_store(&s.stop, 1);
    gr_wg_wait(&s.wg);
}

static bool two_cpus(void)
{
    if (cpus_in_mask() >= 2)
        return true;
    print_message("skipped: the governor test needs 2 CPUs in the affinity mask\n");
    return false;
}

/* The governor's scenario with the governor on; after the contention,
 * waiting for it to unpark or not. */
static gov_ctx *run_governor(bool wait_for_grow)
{
    static gov_ctx g;
    memset(&g, 0, sizeof g);
    g.adaptive = true;
    g.wait_for_grow = wait_for_grow;
    t_run(gov_main, &g);
    return &g;
}

static void test_adapt_governor_parks_under_contention(void **state)
{
    (void)state;
    if (!need_two_workers() || !two_cpus())
        skip();
    gov_ctx g = *run_governor(false);
    print_message("  parked to %d worker(s) after %d ms of contention\n", g.min_active,
                  g.parked_after_ms);
    assert_true(g.min_active < nprocs_env());
}

/* The governor unparks only while CPUs of our mask are idle (IDLE_CPUS,
 * 0.6 of a CPU, in two windows running): on a machine other work keeps
 * busy it rightly does not, and the test reports a skip, unless the CPUs
 * were idle enough on average (0.9 of a CPU over the whole wait, which
 * leaves no room for the governor's windows to miss it) that it must
 * have. */
#define GROW_MUST_IDLE_CPUS 0.9

static void test_adapt_governor_unparks_when_cpus_go_idle(void **state)
{
    (void)state;
    if (!need_two_workers() || !two_cpus())
        skip();
    gov_ctx g = *run_governor(true);
    int want = nprocs_env() < cpus_in_mask() ? nprocs_env() : cpus_in_mask();
    print_message("  parked to %d worker(s); %d active %d ms after the contention ended "
                  "(%.2f CPUs idle meanwhile)\n",
                  g.min_active, g.final_active, g.grew_after_ms, g.idle_cpus);
    assert_true(g.min_active < nprocs_env());
    if (g.final_active == want)
        return;
    if (g.idle_cpus >= 0 && g.idle_cpus < GROW_MUST_IDLE_CPUS) {
        print_message("skipped: the machine stayed busy (%.2f CPUs of our mask idle on "
                      "average, %.1f needed to be sure the governor must unpark)\n",
                      g.idle_cpus, GROW_MUST_IDLE_CPUS);
        skip();
    }
    fail_msg("%d of %d workers active %d ms after the contention ended, with %.2f CPUs idle",
             g.final_active, want, GROW_WAIT_MS, g.idle_cpus);
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
        lever_test(test_adapt_parked_worker_hands_off_live_io),
        lever_test(test_adapt_parked_worker_sheds_a_spinning_goroutine),
        lever_test(test_adapt_stuck_worker_unparks_one),
        cmocka_unit_test(test_adapt_off_keeps_every_worker),
        cmocka_unit_test(test_adapt_governor_parks_under_contention),
        cmocka_unit_test(test_adapt_governor_unparks_when_cpus_go_idle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
