/*
 * test_faults.c - the runtime's failure paths, driven by fault injection:
 * the C library and liburing calls the runtime makes are wrapped at link
 * time (-Wl,--wrap=SYMBOL, mk/unit.mk), and each test arms a wrapper to
 * fail some of them.  What must hold: the failure is reported (gr_run
 * returns -errno, a call returns -ENOMEM, or the process ends with a
 * message naming what failed) - never a hang, a silent success, or a
 * wait that turns infinite or empty.
 *
 *   calloc                       spawn_main's control block (gr_run)
 *   realloc                      the timer heap (sleep, select, cond timeouts)
 *   mmap                         a worker's signal stack; a goroutine's stack
 *   pthread_create               a worker thread; the monitor thread
 *   io_uring_queue_init_params   a worker's ring; the probe ring of
 *                                GR_ENGINE=auto (engine.c)
 * and counted: mmap, madvise and syscall(SYS_process_madvise), which a
 * steady spawn/exit loop must not make (its stacks come from the pools).
 *
 * Only external symbols are wrapped (in libgreenrt.a every internal one is
 * local).  The paths that end the process run in a child: this binary
 * re-executed with the mode as its argument.  A watchdog turns a hang
 * into a failure with a message, and every test checks that the failed
 * start closed no descriptor it did not open (fd 0 was closed once).  The
 * I/O engine's own failures (io_uring_submit, MSG_RING) are
 * test_faults_io.c's.
 */
#include "t_util.h"

#include <liburing.h>
#include <pthread.h>
#include <sys/syscall.h>

/* ------------------------------------------------------------ the plan */

/* Each wrapper lets `skip` matching calls through, then fails `fail` of
 * them (-1: every one), then lets everything through again.  Armed and
 * disarmed by the test; the counters are atomic because workers call the
 * wrapped functions too. */
typedef struct fault {
    atomic_int skip;
    atomic_int fail;
    atomic_int failed;   /* how many it failed */
    size_t only_len;     /* mmap, realloc: only calls of this size (0: any) */
} fault;

static fault f_calloc, f_realloc, f_mmap, f_pthread_create, f_uring_init;

/* Counting the system calls that map or give back stack memory, made by
 * any thread but the monitor (whose scavenger gives back idle stacks).
 * Each thread gr_run makes learns its number (in creation order: the
 * workers', then the monitor's) as it starts. */
static atomic_int counting;
static atomic_long stack_syscalls;
static atomic_int ncreated;
static atomic_int monitor_index = -1;
static __thread int thread_index = -1;

static void count_stack_syscall(void)
{
    if (atomic_load(&counting) && thread_index != atomic_load(&monitor_index))
        atomic_fetch_add(&stack_syscalls, 1);
}

struct numbered {
    void *(*fn)(void *);
    void *arg;
    int index;
};

static void *numbered_start(void *p)
{
    struct numbered n = *(struct numbered *)p;
    free(p);
    thread_index = n.index;
    return n.fn(n.arg);
}

static void arm(fault *f, int skip, int fail, size_t only_len)
{
    f->only_len = only_len;
    atomic_store(&f->failed, 0);
    atomic_store(&f->skip, skip);
    atomic_store(&f->fail, fail);
}

static void disarm(fault *f)
{
    atomic_store(&f->fail, 0);
}

static void disarm_all(void)
{
    disarm(&f_calloc);
    disarm(&f_realloc);
    disarm(&f_mmap);
    disarm(&f_pthread_create);
    disarm(&f_uring_init);
}

/* Whether this call fails. */
static bool strike(fault *f, size_t len)
{
    if (atomic_load(&f->fail) == 0 || (f->only_len && len != f->only_len))
        return false;
    if (atomic_load(&f->skip) > 0 && atomic_fetch_sub(&f->skip, 1) > 0)
        return false;
    int left = atomic_load(&f->fail);
    while (left != 0) {
        if (left < 0 || atomic_compare_exchange_weak(&f->fail, &left, left - 1)) {
            atomic_fetch_add(&f->failed, 1);
            return true;
        }
    }
    return false;
}

void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int __real_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg);
int __real_io_uring_queue_init_params(unsigned entries, struct io_uring *ring,
                                      struct io_uring_params *p);
int __real_madvise(void *addr, size_t len, int advice);
long __real_syscall(long n, ...);

void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg);
int __wrap_io_uring_queue_init_params(unsigned entries, struct io_uring *ring,
                                      struct io_uring_params *p);
int __wrap_madvise(void *addr, size_t len, int advice);
long __wrap_syscall(long n, ...);

void *__wrap_calloc(size_t n, size_t size)
{
    if (strike(&f_calloc, n * size)) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
    if (strike(&f_realloc, size)) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_realloc(p, size);
}

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    count_stack_syscall();
    if (strike(&f_mmap, len)) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    return __real_mmap(addr, len, prot, flags, fd, off);
}

int __wrap_madvise(void *addr, size_t len, int advice)
{
    count_stack_syscall();
    return __real_madvise(addr, len, advice);
}

/* syscall(2) is variadic: its six possible arguments are passed on. */
long __wrap_syscall(long n, ...)
{
    va_list ap;
    va_start(ap, n);
    long a1 = va_arg(ap, long), a2 = va_arg(ap, long), a3 = va_arg(ap, long);
    long a4 = va_arg(ap, long), a5 = va_arg(ap, long), a6 = va_arg(ap, long);
    va_end(ap);
    if (n == SYS_process_madvise)
        count_stack_syscall();
    return __real_syscall(n, a1, a2, a3, a4, a5, a6);
}

int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg)
{
    if (strike(&f_pthread_create, 0))
        return EAGAIN;
    struct numbered *n = malloc(sizeof *n);
    if (!n)
        return EAGAIN;
    *n = (struct numbered){fn, arg, atomic_fetch_add(&ncreated, 1)};
    int r = __real_pthread_create(t, a, numbered_start, n);
    if (r)
        free(n);
    return r;
}

int __wrap_io_uring_queue_init_params(unsigned entries, struct io_uring *ring,
                                      struct io_uring_params *p)
{
    if (strike(&f_uring_init, 0))
        return -ENOMEM;
    return __real_io_uring_queue_init_params(entries, ring, p);
}

/* ------------------------------------------------------------ helpers */

/* A hang is a failure: _exit with a message after WATCHDOG_S. */
#define WATCHDOG_S 60

static atomic_int watchdog_armed;
static const char *watchdog_what;

static void *watchdog(void *arg)
{
    (void)arg;
    for (int i = 0; i < WATCHDOG_S * 100; i++) {
        usleep(10000);
        if (!atomic_load(&watchdog_armed))
            return NULL;
    }
    fprintf(stderr, "test_faults: %s: still running after %d s (a hang)\n", watchdog_what,
            WATCHDOG_S);
    _exit(1);
}

/* gr_run(fn, arg) under the watchdog (its thread made before anything is
 * armed); returns what gr_run returned. */
static int run_watched(const char *what, void (*fn)(void *), void *arg)
{
    pthread_t t;
    watchdog_what = what;
    atomic_store(&watchdog_armed, 1);
    if (__real_pthread_create(&t, NULL, watchdog, NULL) != 0)
        fail_msg("no watchdog thread");
    t_reset();
    int rc = gr_run(fn, arg);
    atomic_store(&watchdog_armed, 0);
    pthread_join(t, NULL);
    disarm_all();
    return rc;
}

/* setenv GR_PROCS=n for one gr_run, restoring the runner's value. */
static char saved_procs[16];

static void procs_set(int n)
{
    const char *p = getenv("GR_PROCS");
    snprintf(saved_procs, sizeof saved_procs, "%s", p ? p : "");
    char v[16];
    snprintf(v, sizeof v, "%d", n);
    setenv("GR_PROCS", v, 1);
}

static void procs_restore(void)
{
    if (*saved_procs)
        setenv("GR_PROCS", saved_procs, 1);
    else
        unsetenv("GR_PROCS");
}

/* setenv GR_ENGINE=e for one gr_run, restoring the runner's value (the
 * configurations of tests/runtests.sh set it). */
static char saved_engine[16];

static void engine_set(const char *e)
{
    const char *p = getenv("GR_ENGINE");
    snprintf(saved_engine, sizeof saved_engine, "%s", p ? p : "");
    setenv("GR_ENGINE", e, 1);
}

static void engine_restore(void)
{
    if (*saved_engine)
        setenv("GR_ENGINE", saved_engine, 1);
    else
        unsetenv("GR_ENGINE");
}

static int procs(void)
{
    int n = t_env_procs();
    return n > 0 ? n : 1;
}

static void never_runs(void *arg)
{
    atomic_store((atomic_int *)arg, 1);
}

/* ----------------------------------------------------- gr_run's start */

/* spawn_main cannot allocate the main goroutine: gr_run returns -ENOMEM
 * and every worker thread started stops (it hung in pthread_join: the
 * workers kept waiting for a go signal that never came). */
static void test_faults_spawn_main_enomem(void **state)
{
    (void)state;
    procs_set(procs() < 2 ? 2 : procs());
    atomic_int ran = 0;
    arm(&f_calloc, 0, 1, 0);
    int rc = run_watched("gr_run with spawn_main failing", never_runs, &ran);
    procs_restore();
    assert_int_equal(atomic_load(&f_calloc.failed), 1);
    assert_int_equal(rc, -ENOMEM);
    assert_int_equal(atomic_load(&ran), 0);
}

/* The monitor thread cannot be created: gr_run fails with -EAGAIN instead
 * of running without preemption, hand-off and governor. */
static void test_faults_monitor_thread(void **state)
{
    (void)state;
    atomic_int ran = 0;
    arm(&f_pthread_create, procs() - 1, 1, 0); /* the workers' threads come first */
    int rc = run_watched("gr_run with no monitor thread", never_runs, &ran);
    assert_int_equal(atomic_load(&f_pthread_create.failed), 1);
    assert_int_equal(rc, -EAGAIN);
    assert_int_equal(atomic_load(&ran), 0);
}

/* A worker thread cannot be created: -EAGAIN, the started ones joined. */
static void test_faults_worker_thread(void **state)
{
    (void)state;
    procs_set(procs() < 2 ? 2 : procs());
    atomic_int ran = 0;
    arm(&f_pthread_create, 0, 1, 0);
    int rc = run_watched("gr_run with no second worker thread", never_runs, &ran);
    procs_restore();
    assert_int_equal(rc, -EAGAIN);
    assert_int_equal(atomic_load(&ran), 0);
}

/* A worker's ring cannot be made (the first, on gr_run's thread, or the
 * last) on the io_uring engine, asked for (GR_ENGINE=uring: no probe ring
 * first, and no fallback): its -errno, the other workers stopped. */
static void uring_init_fails(int skip)
{
    procs_set(procs() < 2 ? 2 : procs());
    engine_set("uring");
    atomic_int ran = 0;
    arm(&f_uring_init, skip, 1, 0);
    struct t_capture cap;
    t_capture_stderr_begin(&cap);
    int rc = run_watched("gr_run with a ring failing", never_runs, &ran);
    t_capture_stderr_end(&cap);
    engine_restore();
    procs_restore();
    assert_int_equal(atomic_load(&f_uring_init.failed), 1);
    assert_int_equal(rc, -ENOMEM);
    assert_int_equal(atomic_load(&ran), 0);
    assert_non_null(strstr(cap.text, "io_uring")); /* says what failed */
}

static void test_faults_uring_init_first_worker(void **state)
{
    (void)state;
    uring_init_fails(0);
}

static void test_faults_uring_init_other_worker(void **state)
{
    (void)state;
    uring_init_fails(1);
}

/* GR_ENGINE=auto, and the probe ring cannot be made (io_uring_setup says
 * ENOMEM, as under a small RLIMIT_MEMLOCK before Linux 5.12): gr_run runs
 * on the epoll engine, and GR_DEBUG says why. */
static void engine_of_run(void *arg)
{
    const char **e = arg;
    *e = gr_engine();
}

static void test_faults_uring_probe_falls_back_to_epoll(void **state)
{
    (void)state;
    engine_set("auto");
    setenv("GR_DEBUG", "1", 1);
    const char *ran_on = NULL;
    arm(&f_uring_init, 0, 1, 0);
    struct t_capture cap;
    t_capture_stderr_begin(&cap);
    int rc = run_watched("gr_run with the probe ring failing", engine_of_run, &ran_on);
    t_capture_stderr_end(&cap);
    unsetenv("GR_DEBUG");
    engine_restore();
    assert_int_equal(atomic_load(&f_uring_init.failed), 1);
    assert_int_equal(rc, 0);
    assert_non_null(ran_on);
    assert_string_equal(ran_on, "epoll");
    if (!strstr(cap.text, "greenrt: I/O engine epoll (GR_ENGINE=auto: io_uring_setup failed"))
        fail_msg("GR_DEBUG did not say why epoll: %s", cap.text);
}

/* A worker's alternate signal stack (64 KiB, mmap) cannot be mapped:
 * -ENOMEM. */
#define ALTSTACK_LEN (64 * 1024)

static void test_faults_signal_stack(void **state)
{
    (void)state;
    atomic_int ran = 0;
    arm(&f_mmap, 0, 1, ALTSTACK_LEN);
    int rc = run_watched("gr_run with no signal stack", never_runs, &ran);
    assert_int_equal(atomic_load(&f_mmap.failed), 1);
    assert_int_equal(rc, -ENOMEM);
    assert_int_equal(atomic_load(&ran), 0);
}

/* ------------------------------------------------------ the timer heap */

/* With the timer heap unable to grow, a timed wait cannot arm its timer.
 * It used to find out after parking: gr_sleep returned at once, a select
 * or cond wait lost its timeout and waited forever.  Each now returns
 * -ENOMEM without waiting (the cond wait with its mutex held), and works
 * again once memory is back.  The heap of a fresh runtime has no room,
 * so its first timer needs the realloc that fails. */
struct timer_faults {
    int sleep_r, select_r, nocase_r, cond_r, cond_locked_after;
    int sleep_ok, select_ok, cond_ok;
    int64_t sleep_took;
};

static void timer_faults_main(void *arg)
{
    struct timer_faults *t = arg;
    gr_chan *c = gr_chan_make(sizeof(int), 0);
    gr_mutex m = GR_MUTEX_INIT;
    gr_cond cv = GR_COND_INIT;
    int v = 0;
    gr_case cs[1] = {{.chan = c, .op = GR_RECV, .elem = &v}};

    arm(&f_realloc, 0, -1, 0);
    int64_t t0 = gr_now();
    t->sleep_r = gr_sleep(20 * T_MS);
    t->sleep_took = gr_now() - t0;
    t->select_r = gr_select(cs, 1, 20 * T_MS);
    t->nocase_r = gr_select(NULL, 0, 20 * T_MS);
    gr_mutex_lock(&m);
    t->cond_r = gr_cond_wait_timeout(&cv, &m, 20 * T_MS);
    t->cond_locked_after = gr_mutex_trylock(&m) == -EBUSY;
    gr_mutex_unlock(&m);
    disarm(&f_realloc);

    t->sleep_ok = gr_sleep(T_MS);
    t->select_ok = gr_select(cs, 1, T_MS);
    gr_mutex_lock(&m);
    t->cond_ok = gr_cond_wait_timeout(&cv, &m, T_MS);
    gr_mutex_unlock(&m);
    gr_chan_free(c);
}

static void test_faults_timer_heap_full(void **state)
{
    (void)state;
    struct timer_faults t;
    memset(&t, 0, sizeof t);
    assert_int_equal(run_watched("timed waits with a full timer heap", timer_faults_main, &t), 0);
    assert_true(atomic_load(&f_realloc.failed) > 0);
    assert_int_equal(t.sleep_r, -ENOMEM);
    assert_int_equal(t.select_r, -ENOMEM);
    assert_int_equal(t.nocase_r, -ENOMEM);
    assert_int_equal(t.cond_r, -ENOMEM);
    assert_true(t.cond_locked_after);
    assert_int_equal(t.sleep_ok, 0);
    assert_int_equal(t.select_ok, -ETIMEDOUT);
    assert_int_equal(t.cond_ok, -ETIMEDOUT);
}

/* ------------------------------------------ a steady spawn/exit loop */

/* Once warm, spawning and exiting goroutines takes their stacks from the
 * pools and gives them back there: no mmap, madvise or process_madvise
 * on any worker (the pools are bounded and scavenged, but what a steady
 * loop reuses within SCAVENGE_DELAY_NS must stay). */
enum { STEADY_WARM = 200000, STEADY_COUNTED = 1000000 };

struct steady {
    atomic_long done;
};

static void steady_nothing(void *arg)
{
    atomic_fetch_add(&((struct steady *)arg)->done, 1);
}

static void steady_main(void *arg)
{
    struct steady *c = arg;
    for (long i = 0; i < T_BIG(STEADY_WARM); i++)
        t_check(gr_go(steady_nothing, c) > 0);
    t_wait_for(&c->done, T_BIG(STEADY_WARM));
    atomic_store(&counting, 1);
    for (long i = 0; i < T_BIG(STEADY_COUNTED); i++)
        t_check(gr_go(steady_nothing, c) > 0);
    t_wait_for(&c->done, T_BIG(STEADY_WARM) + T_BIG(STEADY_COUNTED));
    atomic_store(&counting, 0);
}

static void test_faults_steady_spawn_makes_no_stack_syscall(void **state)
{
    (void)state;
    struct steady c;
    memset(&c, 0, sizeof c);
    atomic_store(&ncreated, 0);
    atomic_store(&monitor_index, procs() - 1); /* after the workers' threads */
    atomic_store(&stack_syscalls, 0);
    assert_int_equal(run_watched("a steady spawn/exit loop", steady_main, &c), 0);
    print_message("  %ld mmap/madvise calls while %d goroutines were spawned and exited\n",
                  atomic_load(&stack_syscalls), T_BIG(STEADY_COUNTED));
    assert_int_equal(atomic_load(&stack_syscalls), 0);
}

/* ------------------------------------- paths that end the process */

/* A goroutine's stack cannot be mapped when it first runs: the process
 * ends with a message naming the goroutine and the size (a fatal error,
 * as Go's "out of memory"), not a crash or a hang. */
static void stack_fault_main(void *arg)
{
    (void)arg;
    gr_opts o = {.stack_size = 256 * 1024, .name = "no-stack"};
    arm(&f_mmap, 0, -1, 0); /* every mmap: chunk or single */
    int64_t id = gr_go_opts(never_runs, &(atomic_int){0}, &o);
    printf("id %lld\n", (long long)id);
    fflush(stdout);
    gr_sleep(10 * T_SEC);
}

static int child_mode(const char *mode)
{
    if (!strcmp(mode, "stack-mmap")) {
        int rc = gr_run(stack_fault_main, NULL);
        printf("survived: gr_run returned %d\n", rc);
        return 3;
    }
    fprintf(stderr, "test_faults: unknown mode %s\n", mode);
    return 64;
}

static void test_faults_goroutine_stack_mmap(void **state)
{
    (void)state;
    char *argv[] = {"/proc/self/exe", "stack-mmap", NULL};
    struct t_child c;
    int r = t_spawn(argv, NULL, 60, &c);
    if (r != 0)
        fail_msg("could not re-run this binary: %s", strerror(-r));
    if (c.timed_out || !WIFEXITED(c.status) || WEXITSTATUS(c.status) != 2 ||
        !strstr(c.err, "out of memory") || !strstr(c.err, "262144-byte stack")) {
        t_child_dump(&c);
        fail_msg("want exit status 2 and \"out of memory ... 262144-byte stack\" on stderr");
    }
}

int main(int argc, char **argv)
{
    if (argc == 2)
        return child_mode(argv[1]);
    t_init();
    const struct CMUnitTest tests[] = {
        t_unit_test_fds(test_faults_spawn_main_enomem),
        t_unit_test_fds(test_faults_monitor_thread),
        t_unit_test_fds(test_faults_worker_thread),
        t_unit_test_fds(test_faults_uring_init_first_worker),
        t_unit_test_fds(test_faults_uring_init_other_worker),
        t_unit_test_fds(test_faults_uring_probe_falls_back_to_epoll),
        t_unit_test_fds(test_faults_signal_stack),
        t_unit_test_fds(test_faults_timer_heap_full),
        t_unit_test_fds(test_faults_steady_spawn_makes_no_stack_syscall),
        t_unit_test_fds(test_faults_goroutine_stack_mmap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
