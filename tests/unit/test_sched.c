/*
 * test_sched.c - goroutines and the scheduler: gr_run's lifecycle and
 * errors (NULL main, bad GR_PROCS / GR_STACK_SIZE, nested run, running
 * again), gr_go and gr_go_opts (ids, names, stack sizes, errors),
 * gr_yield, gr_exit, gr_self, gr_stats, work stealing between workers,
 * 1,000,000 goroutines joined through a gr_wg, preemption of a
 * goroutine that never calls into the runtime, a pair ping-ponging
 * through a channel preempted like one goroutine, and fresh input running
 * ahead of the run queue.
 *
 * Environment tests change GR_PROCS / GR_STACK_SIZE around one gr_run
 * and restore them (the runner sets GR_PROCS for the whole binary); the
 * message gr_run prints is captured and checked, not shown.
 */
#include "t_util.h"

#include <sys/socket.h>

/* ------------------------------------------------------------- lifecycle */

static void noop_main(void *arg)
{
    (void)arg;
}

static void test_sched_run_null_main(void **state)
{
    assert_int_equal(gr_run(NULL, NULL), -EINVAL);
}

static void count_main(void *arg)
{
    atomic_fetch_add((atomic_long *)arg, 1);
}

static void test_sched_run_repeatedly(void **state)
{
    atomic_long n = 0;
    for (int i = 0; i < 50; i++)
        t_run(count_main, &n);
    assert_int_equal(atomic_load(&n), 50);
}

static void nested_main(void *arg)
{
    t_check_eq(gr_run(noop_main, NULL), -EBUSY);
}

static void test_sched_run_nested_ebusy(void **state)
{
    t_run(nested_main, NULL);
}

/* main returning abandons goroutines blocked forever, sleeping, or
 * runnable (as Go's main does); gr_run returns and the next run is
 * clean. */
static void forever_blocked(void *arg)
{
    gr_chan_recv((gr_chan *)arg, NULL);
    t_fail_at(__FILE__, __LINE__, "abandoned goroutine resumed");
}

static void long_sleeper(void *arg)
{
    gr_sleep(3600 * T_SEC);
    t_fail_at(__FILE__, __LINE__, "abandoned sleeper resumed");
}

static void spinner_yield(void *arg)
{
    for (;;)
        gr_yield();
}

static void abandon_main(void *arg)
{
    gr_chan *c = gr_chan_make(0, 0);
    *(gr_chan **)arg = c; /* freed once gr_run has returned */
    for (int i = 0; i < 100; i++) {
        t_go(forever_blocked, c);
        t_go(long_sleeper, NULL);
    }
    gr_sleep(2 * T_MS);
    /* Runnable ones too: spinners still looping when main returns.  main
     * yields (rather than sleeps) so the spinners certainly started. */
    t_go(spinner_yield, NULL);
    t_go(spinner_yield, NULL);
    for (int i = 0; i < 100; i++)
        gr_yield();
}

static void test_sched_main_return_abandons_others(void **state)
{
    gr_chan *c = NULL;
    t_run(abandon_main, &c);
    gr_chan_free(c);
    gr_stats st;
    gr_stats_get(&st);
    assert_true(st.spawned >= 203);
    t_run(noop_main, NULL);
}

/* A goroutine looping on gr_yield does not keep timers from firing on
 * its worker: main's 2 ms sleep ends (with one worker, and with two when
 * both are kept busy). */
struct yloop {
    atomic_long stop, timed_out;
};

static void yield_looper(void *arg)
{
    struct yloop *y = arg;
    int64_t end = gr_now() + 30 * T_SEC;
    unsigned n = 0;
    while (!atomic_load(&y->stop)) {
        gr_yield();
        if ((++n & 1023) == 0 && gr_now() > end) {
            atomic_store(&y->timed_out, 1);
            break;
        }
    }
}

static void yield_loop_main(void *arg)
{
    struct yloop *y = arg;
    int n = gr_nprocs();
    for (int i = 0; i < n; i++)
        t_go(yield_looper, y);
    gr_sleep(2 * T_MS);
    atomic_store(&y->stop, 1);
}

static void test_sched_yield_loop_does_not_starve_timers(void **state)
{
    static struct yloop y;
    memset(&y, 0, sizeof y);
    t_run(yield_loop_main, &y);
    if (atomic_load(&y.timed_out))
        fail_msg("main's 2 ms gr_sleep did not end in 30 s while %s looped "
                 "on gr_yield", "a goroutine per worker");
}

static void env_check(const char *var, const char *val, int want_rc)
{
    const char *old = getenv(var);
    char *saved = old ? strdup(old) : NULL;
    struct t_capture cap;
    setenv(var, val, 1);
    t_capture_stderr_begin(&cap);
    int rc = gr_run(noop_main, NULL);
    t_capture_stderr_end(&cap);
    if (saved) {
        setenv(var, saved, 1);
        free(saved);
    } else {
        unsetenv(var);
    }
    if (rc != want_rc)
        fail_msg("%s=%s: gr_run returned %d, want %d; stderr: %s", var, val, rc,
                 want_rc, cap.text);
    if (want_rc == -EINVAL && !strstr(cap.text, var))
        fail_msg("%s=%s: gr_run's message does not name %s: \"%s\"", var, val,
                 var, cap.text);
    if (want_rc == 0 && cap.text[0])
        fail_msg("%s=%s: gr_run printed \"%s\"", var, val, cap.text);
}

static void test_sched_env_procs_invalid(void **state)
{
    env_check("GR_PROCS", "abc", -EINVAL);
    env_check("GR_PROCS", "0", -EINVAL);
    env_check("GR_PROCS", "-1", -EINVAL);
    env_check("GR_PROCS", "2x", -EINVAL);
    env_check("GR_PROCS", "", -EINVAL);
    env_check("GR_PROCS", "1025", -EINVAL);
    env_check("GR_PROCS", "3", 0);
}

static void test_sched_env_stack_size_invalid(void **state)
{
    env_check("GR_STACK_SIZE", "12", -EINVAL);
    env_check("GR_STACK_SIZE", "abc", -EINVAL);
    env_check("GR_STACK_SIZE", "15k", -EINVAL);
    env_check("GR_STACK_SIZE", "2g", -EINVAL);
    env_check("GR_STACK_SIZE", "128k", 0);
    env_check("GR_STACK_SIZE", "1m", 0);
    env_check("GR_STACK_SIZE", "65536", 0);
}

static void test_sched_env_other_invalid(void **state)
{
    env_check("GR_PREEMPT", "2", -EINVAL);
    env_check("GR_PREEMPT", "0", 0);
    env_check("GR_SCHED_RANDOM", "yes", -EINVAL);
    env_check("GR_SCHED_RANDOM", "1", 0);
}

/* GR_STACK_SIZE sets the default stack: a goroutine can use most of a
 * 1 MiB one. */
static void big_frame(void *arg)
{
    size_t n = 768 * 1024;
    volatile char *buf = __builtin_alloca(n);
    for (size_t i = 0; i < n; i += 4096)
        buf[i] = (char)i;
    *(atomic_long *)arg = 1;
}

static void env_stack_main(void *arg)
{
    atomic_long done = 0;
    t_go(big_frame, &done);
    t_wait_for(&done, 1);
}

static void test_sched_env_stack_size_used(void **state)
{
    const char *old = getenv("GR_STACK_SIZE");
    char *saved = old ? strdup(old) : NULL;
    setenv("GR_STACK_SIZE", "1m", 1);
    t_reset();
    int rc = gr_run(env_stack_main, NULL);
    if (saved) {
        setenv("GR_STACK_SIZE", saved, 1);
        free(saved);
    } else {
        unsetenv("GR_STACK_SIZE");
    }
    assert_int_equal(rc, 0);
    t_assert_no_failure(__FILE__, __LINE__);
}

/* gr_nprocs reports GR_PROCS inside a run. */
static void nprocs_main(void *arg)
{
    *(int *)arg = gr_nprocs();
}

static void test_sched_nprocs(void **state)
{
    int n = -1;
    t_run(nprocs_main, &n);
    int want = t_env_procs();
    if (want > 0)
        assert_int_equal(n, want);
    else
        assert_true(n >= 1);
}

/* ------------------------------------------------------------ goroutines */

static void test_sched_outside_runtime(void **state)
{
    assert_int_equal(gr_self(), 0);
    assert_non_null(gr_self_name());
    assert_string_equal(gr_self_name(), "");
    assert_int_equal(gr_go(noop_main, NULL), -EPERM);
    gr_opts o = {0, "x"};
    assert_int_equal(gr_go_opts(noop_main, NULL, &o), -EPERM);
    t_run(noop_main, NULL);
    /* And again after a run ended. */
    assert_int_equal(gr_self(), 0);
    assert_int_equal(gr_go(noop_main, NULL), -EPERM);
}

enum { IDS = 2000 };

struct ids {
    int64_t returned[IDS];
    int64_t seen[IDS];
    gr_wg wg;
};

struct id_arg {
    struct ids *s;
    int i;
};

static void id_goroutine(void *arg)
{
    struct id_arg *a = arg;
    a->s->seen[a->i] = gr_self();
    gr_yield();
    t_check_eq(gr_self(), a->s->seen[a->i]);   /* stable across a switch */
    gr_wg_done(&a->s->wg);
}

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

static void ids_main(void *arg)
{
    static struct ids s;
    static struct id_arg args[IDS];
    memset(&s, 0, sizeof s);
    int64_t me = gr_self();
    t_check(me > 0);
    gr_wg_add(&s.wg, IDS);
    for (int i = 0; i < IDS; i++) {
        args[i] = (struct id_arg){&s, i};
        s.returned[i] = t_go(id_goroutine, &args[i]);
    }
    gr_wg_wait(&s.wg);
    t_check_eq(gr_self(), me);
    long mismatch = 0, nonpos = 0, dups = 0;
    for (int i = 0; i < IDS; i++) {
        mismatch += s.returned[i] != s.seen[i];
        nonpos += s.seen[i] <= 0 || s.seen[i] == me;
    }
    qsort(s.seen, IDS, sizeof s.seen[0], cmp_i64);
    for (int i = 1; i < IDS; i++)
        dups += s.seen[i] == s.seen[i - 1];
    t_check_eq(mismatch, 0);
    t_check_eq(nonpos, 0);
    t_check_eq(dups, 0);
}

static void test_sched_self_ids_unique(void **state)
{
    t_run(ids_main, NULL);
}

struct named {
    char name[64];
    atomic_long done;
};

static void record_name(void *arg)
{
    struct named *n = arg;
    const char *s = gr_self_name();
    snprintf(n->name, sizeof n->name, "%s", s ? s : "(null)");
    atomic_store(&n->done, 1);
}

static void opts_main(void *arg)
{
    gr_opts o = {.stack_size = 1000, .name = "tiny"};
    t_check_eq(gr_go_opts(record_name, NULL, &o), -EINVAL);
    o.stack_size = GR_MIN_STACK_SIZE - 1;
    t_check_eq(gr_go_opts(record_name, NULL, &o), -EINVAL);
    o.stack_size = (size_t)GR_MAX_STACK_SIZE + 1;
    t_check_eq(gr_go_opts(record_name, NULL, &o), -EINVAL);
    t_check_eq(gr_go(NULL, NULL), -EINVAL);
    o.stack_size = 0;
    t_check_eq(gr_go_opts(NULL, NULL, &o), -EINVAL);

    /* The name is visible to the goroutine, and copied. */
    struct named n1 = {0};
    char name[] = "worker-7";
    o = (gr_opts){.stack_size = 0, .name = name};
    t_check(gr_go_opts(record_name, &n1, &o) > 0);
    name[0] = 'X';
    t_wait_for(&n1.done, 1);
    t_check_msg(strcmp(n1.name, "worker-7") == 0, "name seen: \"%s\"", n1.name);

    /* Long names are cut to 31 bytes. */
    struct named n2 = {0};
    o.name = "0123456789abcdef0123456789abcdefXYZ";
    t_check(gr_go_opts(record_name, &n2, &o) > 0);
    t_wait_for(&n2.done, 1);
    t_check_msg(strcmp(n2.name, "0123456789abcdef0123456789abcde") == 0,
                "long name seen: \"%s\"", n2.name);

    /* NULL name: some name ("fn's address"), not NULL. */
    struct named n3 = {0};
    o.name = NULL;
    t_check(gr_go_opts(record_name, &n3, &o) > 0);
    t_wait_for(&n3.done, 1);
    t_check(strcmp(n3.name, "(null)") != 0);

    /* Bounds are accepted: smallest and a big stack, used. */
    atomic_long done = 0;
    o = (gr_opts){.stack_size = GR_MIN_STACK_SIZE, .name = "min"};
    struct named n4 = {0};
    t_check(gr_go_opts(record_name, &n4, &o) > 0);
    t_wait_for(&n4.done, 1);
    t_check_msg(strcmp(n4.name, "min") == 0, "name seen: \"%s\"", n4.name);
    o = (gr_opts){.stack_size = 4u << 20, .name = "big"};
    t_check(gr_go_opts(big_frame, &done, &o) > 0);
    t_wait_for(&done, 1);
    /* A size that is not a page multiple is rounded up, not refused. */
    struct named n5 = {0};
    o = (gr_opts){.stack_size = GR_MIN_STACK_SIZE + 100, .name = "odd"};
    t_check(gr_go_opts(record_name, &n5, &o) > 0);
    t_wait_for(&n5.done, 1);
}

static void test_sched_go_opts(void **state)
{
    t_run(opts_main, NULL);
}

static void main_name_main(void *arg)
{
    const char *s = gr_self_name();
    t_check(s != NULL);
}

static void test_sched_main_has_name(void **state)
{
    t_run(main_name_main, NULL);
}

/* gr_yield lets the others run, even on one worker. */
struct ping {
    atomic_long turn;
    long rounds;
};

static void yield_partner(void *arg)
{
    struct ping *p = arg;
    /* *p lives in yield_main's frame, which may be gone once our last
     * store lets it finish: read rounds once, before the first store. */
    const long rounds = p->rounds;
    for (long i = 0; i < rounds; i++) {
        while (atomic_load(&p->turn) != 2 * i + 1)
            gr_yield();
        atomic_store(&p->turn, 2 * i + 2);
    }
}

static void yield_main(void *arg)
{
    struct ping p = {.turn = 0, .rounds = 10000};
    t_go(yield_partner, &p);
    for (long i = 0; i < p.rounds; i++) {
        atomic_store(&p.turn, 2 * i + 1);
        while (atomic_load(&p.turn) != 2 * i + 2)
            gr_yield();
    }
    t_check_eq(atomic_load(&p.turn), 2 * p.rounds);
}

static void test_sched_yield(void **state)
{
    t_run(yield_main, NULL);
}

/* Goroutines call gr_wg_done just before they end, so the waiter can wake
 * while the last few are still on their way out: poll (liveness bound
 * 30 s) until `exited` reaches want, and return the final counters. */
static void wait_exited(uint64_t want, gr_stats *st)
{
    int64_t end = gr_now() + 30 * T_SEC;
    for (;;) {
        gr_stats_get(st);
        if (st->exited >= want || gr_now() > end)
            break;
        gr_sleep(T_MS);
    }
    t_check_msg(st->exited >= want, "stats: %llu exited, want >= %llu",
                (unsigned long long)st->exited, (unsigned long long)want);
}

/* gr_exit ends only the calling goroutine, from any call depth. */
struct exiter {
    atomic_long before, after, other_done;
    gr_chan *done;
    int depth;
};

static void __attribute__((noinline)) exit_deep(struct exiter *e, int d)
{
    if (d > 0) {
        exit_deep(e, d - 1);
        atomic_fetch_add(&e->after, 1);   /* never reached */
        return;
    }
    atomic_fetch_add(&e->before, 1);
    char dummy = 0;
    gr_chan_send(e->done, &dummy);
    volatile int really = 1;   /* hides the noreturn path from -Winfinite-recursion */
    if (really)
        gr_exit();
}

static void exiter(void *arg)
{
    struct exiter *e = arg;
    exit_deep(e, e->depth);
    atomic_fetch_add(&e->after, 1);   /* never reached */
}

static void bystander(void *arg)
{
    struct exiter *e = arg;
    for (int i = 0; i < 100; i++)
        gr_yield();
    atomic_store(&e->other_done, 1);
}

static void exit_main(void *arg)
{
    struct exiter e = {0};
    e.done = gr_chan_make(1, 100);
    e.depth = 50;
    t_go(bystander, &e);
    for (int i = 0; i < 100; i++)
        t_go(exiter, &e);
    for (int i = 0; i < 100; i++)
        t_check_eq(gr_chan_recv(e.done, NULL), 0);
    t_wait_for(&e.other_done, 1);
    gr_sleep(2 * T_MS);
    t_check_eq(atomic_load(&e.before), 100);
    t_check_eq(atomic_load(&e.after), 0);
    /* Exited goroutines are counted as such. */
    gr_stats st;
    wait_exited(101, &st);
    gr_chan_free(e.done);
}

static void test_sched_exit_ends_only_caller(void **state)
{
    t_run(exit_main, NULL);
}

/* ----------------------------------------------------------------- stats */


static void stats_worker(void *arg)
{
    gr_yield();
    gr_wg_done((gr_wg *)arg);
}

static void stats_main(void *arg)
{
    long n = (long)(intptr_t)arg;
    gr_wg wg = GR_WG_INIT;
    gr_stats a, b;
    gr_stats_get(&a);
    t_check(a.spawned >= 1);   /* main itself */
    t_check(a.live >= 1);
    gr_wg_add(&wg, (int)n);
    for (long i = 0; i < n; i++)
        t_go(stats_worker, &wg);
    gr_wg_wait(&wg);
    gr_sleep(T_MS);                        /* parks main at least once */
    wait_exited((uint64_t)n, &b);
    t_check(b.spawned >= a.spawned + (uint64_t)n);
    t_check(b.switches > a.switches);
    t_check(b.parks > a.parks);
    t_check(b.live <= b.spawned);
}

static void test_sched_stats(void **state)
{
    gr_stats st;
    t_run(stats_main, (void *)(intptr_t)1000);
    gr_stats_get(&st);   /* the last run's counters after it returned */
    assert_true(st.spawned >= 1001);
    assert_true(st.exited >= 1000);
    /* A new run starts from zero. */
    t_run(stats_main, (void *)(intptr_t)10);
    gr_stats_get(&st);
    assert_true(st.spawned >= 11);
    assert_true(st.spawned < 1001);
}

/* With 2 workers, one goroutine spawning many CPU-busy goroutines leaves
 * work for the other worker to steal. */
enum { BUSY = 2000 };

struct steal {
    gr_wg wg;
    atomic_long ran;
    int nprocs;
    gr_stats st;
};

static void busy(void *arg)
{
    struct steal *s = arg;
    volatile unsigned long x = 0;
    for (int i = 0; i < 200000; i++)
        x += (unsigned long)i * 2654435761u;
    atomic_fetch_add(&s->ran, 1);
    gr_wg_done(&s->wg);
}

static void steal_main(void *arg)
{
    struct steal *s = arg;
    s->nprocs = gr_nprocs();
    if (s->nprocs < 2)
        return;
    gr_wg_add(&s->wg, BUSY);
    for (int i = 0; i < BUSY; i++)
        t_go(busy, s);
    gr_wg_wait(&s->wg);
    gr_stats_get(&s->st);
    t_check_eq(atomic_load(&s->ran), BUSY);
}

/* Sets var to val (NULL: unsets it); returns the old value to restore
 * with env_restore. */
static char *env_set(const char *var, const char *val)
{
    const char *old = getenv(var);
    char *saved = old ? strdup(old) : NULL;
    if (val)
        setenv(var, val, 1);
    else
        unsetenv(var);
    return saved;
}

static void env_restore(const char *var, char *saved)
{
    if (saved)
        setenv(var, saved, 1);
    else
        unsetenv(var);
    free(saved);
}

static void test_sched_stealing(void **state)
{
    static struct steal s;
    memset(&s, 0, sizeof s);
    /* Steals only: with the run queues' order randomised a quarter of the
     * spawns go to the global queue, where the other worker may find all
     * it needs; and the CPU governor may park the other worker while the
     * machine is busy.  (Both failed this test under ThreadSanitizer on a
     * loaded machine.) */
    char *random = env_set("GR_SCHED_RANDOM", "0"), *adaptive = env_set("GR_ADAPTIVE", "0");
    t_reset();
    int rc = gr_run(steal_main, &s);
    env_restore("GR_SCHED_RANDOM", random); /* before anything can fail */
    env_restore("GR_ADAPTIVE", adaptive);
    assert_int_equal(rc, 0);
    t_assert_no_failure(__FILE__, __LINE__);
    if (s.nprocs < 2) {
        print_message("skipped: stealing needs GR_PROCS >= 2 (have %d)\n",
                      s.nprocs);
        skip();
    }
    if (s.st.steals == 0)
        fail_msg("no steals with %d workers and %d busy goroutines spawned "
                 "by one", s.nprocs, BUSY);
}

/* ------------------------------------------------- 1,000,000 goroutines */

enum { MILLION = T_BIG(1000000) };

struct million {
    gr_wg wg;
    atomic_long count;
    gr_stats st;
};

static void million_one(void *arg)
{
    struct million *m = arg;
    atomic_fetch_add_explicit(&m->count, 1, memory_order_relaxed);
    gr_wg_done(&m->wg);
}

static void million_main(void *arg)
{
    struct million *m = arg;
    gr_wg_add(&m->wg, MILLION);
    for (long i = 0; i < MILLION; i++) {
        int64_t id = gr_go(million_one, m);
        if (id <= 0) {
            t_fail_at(__FILE__, __LINE__, "gr_go #%ld failed: %lld", i,
                      (long long)id);
            /* keep the wg consistent so main does not hang */
            gr_wg_add(&m->wg, -(int)(MILLION - i));
            break;
        }
    }
    gr_wg_wait(&m->wg);
    wait_exited(MILLION, &m->st);
}

static void test_sched_million_goroutines(void **state)
{
    static struct million m;
    memset(&m, 0, sizeof m);
    t_run(million_main, &m);
    assert_int_equal(atomic_load(&m.count), MILLION);
    assert_true(m.st.spawned >= MILLION);
    assert_true(m.st.exited >= MILLION);
}

/* ----------------------------------------------------- GR_SCHED_RANDOM=1 */

/* A pipeline of 100 goroutines and a mutex-protected counter under the
 * randomised run-queue order: results must not depend on an order the
 * runtime does not promise. */
enum { PIPE_STAGES = 100, PIPE_VALUES = 5000 };

struct stage {
    gr_chan *in, *out;
    gr_mutex *m;
    long *hops;
    gr_wg *wg;
};

static void pipe_stage(void *arg)
{
    struct stage *st = arg;
    long v;
    while (gr_chan_recv(st->in, &v) == 0) {
        gr_mutex_lock(st->m);
        (*st->hops)++;
        gr_mutex_unlock(st->m);
        if (gr_chan_send(st->out, &v) != 0)
            break;
    }
    gr_chan_close(st->out);
    gr_wg_done(st->wg);
}

static void pipe_feed(void *arg)
{
    struct stage *st = arg;   /* only out and wg are used */
    for (long i = 0; i < PIPE_VALUES; i++)
        t_check_eq(gr_chan_send(st->out, &i), 0);
    gr_chan_close(st->out);
    gr_wg_done(st->wg);
}

static void random_main(void *arg)
{
    static struct stage stages[PIPE_STAGES];
    gr_mutex m = GR_MUTEX_INIT;
    gr_wg wg = GR_WG_INIT;
    long hops = 0;
    gr_chan *first = gr_chan_make(sizeof(long), 4), *in = first;
    gr_wg_add(&wg, PIPE_STAGES + 1);
    for (int i = 0; i < PIPE_STAGES; i++) {
        stages[i] = (struct stage){in, gr_chan_make(sizeof(long), i % 3), &m,
                                   &hops, &wg};
        t_go(pipe_stage, &stages[i]);
        in = stages[i].out;
    }
    struct stage feed = {NULL, first, NULL, NULL, &wg};
    t_go(pipe_feed, &feed);
    long next = 0, v;
    while (gr_chan_recv(in, &v) == 0) {
        t_check_eq(v, next);
        next++;
    }
    t_check_eq(next, PIPE_VALUES);
    gr_wg_wait(&wg);
    gr_mutex_lock(&m);
    t_check_eq(hops, (long)PIPE_STAGES * PIPE_VALUES);
    gr_mutex_unlock(&m);
    gr_chan_free(first);
    for (int i = 0; i < PIPE_STAGES; i++)
        gr_chan_free(stages[i].out);
}

static void test_sched_random_order_pipeline(void **state)
{
    const char *old = getenv("GR_SCHED_RANDOM");
    char *saved = old ? strdup(old) : NULL;
    setenv("GR_SCHED_RANDOM", "1", 1);
    t_reset();
    int rc = gr_run(random_main, NULL);
    if (saved) {
        setenv("GR_SCHED_RANDOM", saved, 1);
        free(saved);
    } else {
        unsetenv("GR_SCHED_RANDOM");
    }
    assert_int_equal(rc, 0);
    t_assert_no_failure(__FILE__, __LINE__);
    /* And the same with the default order. */
    t_run(random_main, NULL);
}

/* ------------------------------------------------------------ preemption */

/* A goroutine spinning without calling the runtime does not keep the
 * others from running, even with one worker (asynchronous preemption,
 * GR_PREEMPT=1, the default). */
struct spin {
    atomic_long stop, spins_started, timed_out;
};

static void pure_spinner(void *arg)
{
    struct spin *s = arg;
    atomic_fetch_add(&s->spins_started, 1);
    int64_t end = t_mono_ns() + 30 * T_SEC;
    unsigned n = 0;
    while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
        if ((++n & 0xfffff) == 0 && t_mono_ns() > end) {
            atomic_store(&s->timed_out, 1);
            break;
        }
    }
}

static void preempt_main(void *arg)
{
    struct spin *s = arg;
    int n = gr_nprocs();
    /* One spinner per worker: the main goroutine can only run again if a
     * spinner is preempted. */
    for (int i = 0; i < n; i++)
        t_go(pure_spinner, s);
    gr_sleep(T_MS);
    t_wait_for(&s->spins_started, n);
    atomic_store(&s->stop, 1);
}

static void test_sched_preempt_busy_loop(void **state)
{
    const char *p = getenv("GR_PREEMPT");
    if (p && strcmp(p, "0") == 0) {
        print_message("skipped: GR_PREEMPT=0\n");
        skip();
    }
#if defined(__SANITIZE_THREAD__)
    /* TSan defers signal delivery to the next intercepted call, which a
     * pure spin loop never makes: asynchronous preemption cannot work. */
    print_message("skipped: asynchronous preemption under ThreadSanitizer\n");
    skip();
#endif
    static struct spin s;
    memset(&s, 0, sizeof s);
    t_run(preempt_main, &s);
    assert_int_equal(atomic_load(&s.timed_out), 0);
}

/* ------------------------------------------------------ time slices */

/*
 * Two goroutines ping-ponging through unbuffered channels hand off to
 * each other through runnext, so with one worker nothing else on its run
 * queue would ever run - a third goroutine that only yields starved for
 * up to a second.  The goroutine taken from runnext runs on the slice of
 * the one that readied it (Go's inheritTime), so the monitor sees the pair
 * as one goroutine running for a whole period and preempts it.  Asserted
 * as liveness, in counts: while the pair exchanges PP_EXCHANGES messages
 * (about 0.5 s here at best; every 10-20 ms the pair loses its slice) the
 * yielder gets PP_TURNS turns at least - a turn: an exchange after which
 * the pair sees the yielder's counter moved.  Before the fix it got none
 * on a quiet machine (a few when the OS took the worker's CPU for a
 * whole period).
 */
enum { PP_TURNS = 6 };
#define PP_EXCHANGES T_BIG(2000000L)

struct pingpong {
    gr_chan *ping, *pong;
    atomic_long yields;
    atomic_int stop;
    long turns;
    gr_wg wg;
};

static void pp_yielder(void *arg)
{
    struct pingpong *p = arg;
    while (!atomic_load(&p->stop)) {
        atomic_fetch_add(&p->yields, 1);
        gr_yield();
    }
    gr_wg_done(&p->wg);
}

static void pp_echo(void *arg)
{
    struct pingpong *p = arg;
    long v;
    while (gr_chan_recv(p->ping, &v) == 0 && v >= 0)
        t_check_eq(gr_chan_send(p->pong, &v), 0);
    gr_wg_done(&p->wg);
}

static void pp_main(void *arg)
{
    struct pingpong *p = arg;
    p->ping = gr_chan_make(sizeof(long), 0);
    p->pong = gr_chan_make(sizeof(long), 0);
    gr_wg_add(&p->wg, 2);
    t_go(pp_yielder, p);
    t_go(pp_echo, p);
    gr_yield(); /* both started */
    long seen = atomic_load(&p->yields);
    for (long i = 0; i < PP_EXCHANGES; i++) {
        long v = i;
        t_check_eq(gr_chan_send(p->ping, &v), 0);
        t_check_eq(gr_chan_recv(p->pong, &v), 0);
        long y = atomic_load(&p->yields);
        if (y != seen) {
            p->turns++;
            seen = y;
        }
    }
    atomic_store(&p->stop, 1);
    long end = -1;
    t_check_eq(gr_chan_send(p->ping, &end), 0);
    gr_wg_wait(&p->wg);
    gr_chan_free(p->ping);
    gr_chan_free(p->pong);
}

static void test_sched_pingpong_does_not_starve_queue(void **state)
{
    static struct pingpong p;
    memset(&p, 0, sizeof p);
    t_run(pp_main, &p);
    print_message("yielder: %ld turns, %ld yields in %ld exchanges\n", p.turns,
                  atomic_load(&p.yields), PP_EXCHANGES);
    if (p.turns < PP_TURNS)
        fail_msg("the yielder got %ld turns while the pair exchanged %ld messages "
                 "(want >= %d): the pair kept the run queue waiting",
                 p.turns, PP_EXCHANGES, PP_TURNS);
}

/* ----------------------------------------------------------- fresh input */

/*
 * A goroutine whose read has just completed runs next, ahead of the run
 * queue, while its data is in the worker's cache - but at most 4 of them
 * in a row while queued goroutines wait (runq.c, "Fresh input").  With
 * one worker the order of runs is the worker's, so it can be logged:
 * FRESH_READERS goroutines park in gr_read, their data arrives while
 * FRESH_YIELDERS goroutines take turns yielding.  Without the rule the
 * readers join the queue's tail and run back to back, FRESH_READERS in a
 * row, after a whole pass of the yielders.
 */
enum { FRESH_READERS = 40, FRESH_YIELDERS = 40, FRESH_TURNS = 20, FRESH_BURST = 4 };

struct fresh {
    int sv[FRESH_READERS][2];
    char log[FRESH_READERS + FRESH_YIELDERS * FRESH_TURNS];
    int nlog;
    gr_wg wg;
};

struct fresh_arg {
    struct fresh *f;
    int i;
};

static void fresh_reader(void *arg)
{
    struct fresh_arg *a = arg;
    char c = 0;
    t_check_eq(gr_read(a->f->sv[a->i][0], &c, 1), 1);
    t_check_eq(c, 'x');
    a->f->log[a->f->nlog++] = 'R';
    gr_wg_done(&a->f->wg);
}

static void fresh_yielder(void *arg)
{
    struct fresh *f = arg;
    for (int t = 0; t < FRESH_TURNS; t++) {
        f->log[f->nlog++] = 'Y';
        gr_yield();
    }
    gr_wg_done(&f->wg);
}

static void fresh_input_main(void *arg)
{
    static struct fresh f;
    static struct fresh_arg args[FRESH_READERS];
    memset(&f, 0, sizeof f);
    for (int i = 0; i < FRESH_READERS; i++)
        t_check_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f.sv[i]), 0);
    gr_wg_add(&f.wg, FRESH_READERS + FRESH_YIELDERS);
    for (int i = 0; i < FRESH_READERS; i++) {
        args[i] = (struct fresh_arg){&f, i};
        t_go(fresh_reader, &args[i]);
    }
    gr_sleep(5 * T_MS); /* every reader is parked in gr_read */
    for (int i = 0; i < FRESH_YIELDERS; i++)
        t_go(fresh_yielder, &f);
    for (int i = 0; i < FRESH_READERS; i++)
        t_check_eq(write(f.sv[i][1], "x", 1), 1); /* raw: the data just arrives */
    gr_wg_wait(&f.wg);

    int readers = 0, yields = 0, run = 0, longest = 0, bursts = 0;
    for (int k = 0; k < f.nlog; k++) {
        if (f.log[k] == 'R') {
            readers++;
            if (run++ == 0)
                bursts++;
            if (run > longest)
                longest = run;
        } else {
            yields++;
            run = 0;
        }
    }
    t_check_eq(readers, FRESH_READERS);
    t_check_eq(yields, FRESH_YIELDERS * FRESH_TURNS);
    /* The readers finished while the yielders still had turns to take,
     * so a burst longer than FRESH_BURST means the queue was held up. */
    t_check_eq(f.log[f.nlog - 1], 'Y');
    t_check_msg(longest <= FRESH_BURST, "%d readers ran back to back (at most %d may)", longest,
                FRESH_BURST);
    t_check_msg(bursts >= FRESH_READERS / FRESH_BURST, "readers ran in %d bursts", bursts);
    for (int i = 0; i < FRESH_READERS; i++) {
        close(f.sv[i][0]);
        close(f.sv[i][1]);
    }
}

static void test_sched_fresh_input_runs_next(void **state)
{
    if (t_env_procs() != 1) {
        /* With two workers the other one steals queued goroutines, and
         * the order of runs is no longer one worker's. */
        print_message("skipped: the order of runs is observable with GR_PROCS=1 only\n");
        skip();
    }
    t_run(fresh_input_main, NULL);
}

int main(void)
{
    t_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sched_run_null_main),
        cmocka_unit_test(test_sched_run_repeatedly),
        cmocka_unit_test(test_sched_run_nested_ebusy),
        cmocka_unit_test(test_sched_main_return_abandons_others),
        cmocka_unit_test(test_sched_yield_loop_does_not_starve_timers),
        cmocka_unit_test(test_sched_env_procs_invalid),
        cmocka_unit_test(test_sched_env_stack_size_invalid),
        cmocka_unit_test(test_sched_env_other_invalid),
        cmocka_unit_test(test_sched_env_stack_size_used),
        cmocka_unit_test(test_sched_nprocs),
        cmocka_unit_test(test_sched_outside_runtime),
        cmocka_unit_test(test_sched_self_ids_unique),
        cmocka_unit_test(test_sched_go_opts),
        cmocka_unit_test(test_sched_main_has_name),
        cmocka_unit_test(test_sched_yield),
        cmocka_unit_test(test_sched_exit_ends_only_caller),
        cmocka_unit_test(test_sched_stats),
        cmocka_unit_test(test_sched_stealing),
        cmocka_unit_test(test_sched_million_goroutines),
        cmocka_unit_test(test_sched_random_order_pipeline),
        cmocka_unit_test(test_sched_preempt_busy_loop),
        cmocka_unit_test(test_sched_pingpong_does_not_starve_queue),
        t_unit_test_fds(test_sched_fresh_input_runs_next),
    };
    return cmocka_run_group_tests_name("sched", tests, NULL, NULL);
}
