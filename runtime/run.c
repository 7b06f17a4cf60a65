/*
 * run.c - gr_run: the runtime's lifecycle.
 *
 * gr_run makes the workers, sets worker 0 up on the calling thread and
 * starts a thread for each other one; every worker creates its own ring
 * (SINGLE_ISSUER) and reports, and only when all have done so does the
 * go signal let them run: a wake-up may be sent to any worker's ring from
 * then on.  The main goroutine runs on worker 0; when it returns, the
 * runtime stops (as a Go program ends with its main), every worker is
 * woken to see it, joined, and everything the run made is freed, so
 * gr_run may be called again.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bufring.h"
#include "engine.h"
#include "extern.h"
#include "fd.h"
#include "goroutine.h"
#include "greenrt.h"
#include "group.h"
#include "offload.h"
#include "preempt.h"
#include "probes.h"
#include "san.h"
#include "sched.h"
#include "stack.h"
#include "stats.h"

static uint32_t start_lock;
static pthread_cond_t start_cond = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t start_mu = PTHREAD_MUTEX_INITIALIZER;
static int start_ready, start_err;

static int worker_setup(worker *w)
{
    tls_worker = w;
    w->thread = pthread_self();
    w->tid = (int)syscall(SYS_gettid);
    w->cur = &w->g0;
    w->g0.is_g0 = 1;
    w->g0.id = 0;
    w->g0.status = G_RUNNING;
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        void *addr;
        size_t size;
        pthread_attr_getstack(&attr, &addr, &size);
        w->g0.stk.base = addr;
        w->g0.stk.size = size;
        pthread_attr_destroy(&attr);
    }
    san_g0_init(&w->g0);
    int err = stack_thread_init();
    if (!err)
        err = engine_init(w);
    PROBE2(worker_start, w->index, w->tid);
    return err;
}

/* The thread's own state; the ring stays until gr_run has joined every
 * worker (others may still be sending it wake-ups): see ring_teardown. */
static void worker_teardown(worker *w)
{
    (void)w;
    stack_thread_fini();
    tls_worker = NULL;
}

static void ring_teardown(worker *w)
{
    engine_fini(w);
    bufpool_free(w);
}

static void start_report(int err)
{
    pthread_mutex_lock(&start_mu);
    if (err && !start_err)
        start_err = err;
    start_ready++;
    pthread_cond_broadcast(&start_cond);
    pthread_mutex_unlock(&start_mu);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    int err = worker_setup(w);
    start_report(err);
    if (!err) {
        /* Wait for the go signal: all rings must exist before anyone
         * sends a wake-up to another worker's ring. */
        pthread_mutex_lock(&start_mu);
        while (!load_acquire(&sched.running) && !start_err)
            pthread_cond_wait(&start_cond, &start_mu);
        pthread_mutex_unlock(&start_mu);
        if (load_acquire(&sched.running))
            schedule_loop(w);
    }
    worker_teardown(w);
    return NULL;
}

struct main_args {
    void (*fn)(void *);
    void *arg;
};

static void main_goroutine(void *p)
{
    struct main_args *ma = p;
    ma->fn(ma->arg);
    /* As Go's main: returning ends the program's goroutines. */
    store_release(&sched.stopping, 1);
    /* By eventfd: a wake-up by MSG_RING that failed would come back to
     * a worker that is about to stop reaping its ring (uring.c). */
    for (int i = 0; i < sched.nprocs; i++)
        if (&sched.workers[i] != current_worker())
            engine_kick(&sched.workers[i]);
}

static void sched_reset(void)
{
    int nprocs = sched.nprocs;
    size_t stack = sched.default_stack;
    bool pa = sched.preempt_async, pe = sched.preempt_explicit, rnd = sched.randomize;
    uint8_t engine = sched.engine; /* gr_engine() names the last run's */
    worker_stats last = sched.last;
    memset(&sched, 0, sizeof sched);
    sched.engine = engine;
    sched.nprocs = nprocs;
    sched.default_stack = stack;
    sched.preempt_async = pa;
    sched.preempt_explicit = pe;
    sched.randomize = rnd;
    sched.last = last;
}

/* Allocates the workers and initialises what does not need their threads
 * (index, random seed, timer heap).  0 or -ENOMEM. */
static int workers_alloc(void)
{
    sched.workers = aligned_alloc(64, sizeof(worker) * (size_t)sched.nprocs);
    if (!sched.workers)
        return -ENOMEM;
    memset(sched.workers, 0, sizeof(worker) * (size_t)sched.nprocs);
    uint64_t seed = (uint64_t)now_ns() ^ (uint64_t)(uintptr_t)&seed;
    for (int i = 0; i < sched.nprocs; i++) {
        worker *w = &sched.workers[i];
        w->index = i;
        w->ring.wake_efd = -1; /* no eventfd yet: ring_teardown must not close fd 0 */
        w->rand = (seed + 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1)) | 1;
        timer_heap_init(&w->timers);
    }
    return 0;
}

/* A write on a socket whose peer is gone must give -EPIPE, not kill the
 * process (io.c); as Go does, ignore SIGPIPE unless the program chose a
 * disposition itself.  True if this changed it: *old is then to be
 * restored when the runtime stops. */
static bool sigpipe_ignore(struct sigaction *old)
{
    struct sigaction ign = {.sa_handler = SIG_IGN};
    if (sigaction(SIGPIPE, NULL, old) == 0 && old->sa_handler == SIG_DFL &&
        !(old->sa_flags & SA_SIGINFO))
        return sigaction(SIGPIPE, &ign, NULL) == 0;
    return false;
}

/* A worker thread's own stack runs only the scheduler (g0: the scheduling
 * loop, io_uring_enter, timers); goroutines run on their own stacks and
 * signal handlers on the alternate one (stack.c).  The default would be
 * RLIMIT_STACK (8 MiB), mapped and cached per thread by glibc; this
 * leaves the scheduler's shallow frames a wide margin, also under the
 * sanitizers' larger frames.  (Worker 0 runs on gr_run's caller's.) */
#define WORKER_THREAD_STACK (256 * 1024)

/* Sets worker 0 up on this thread, starts a thread for each other worker
 * and waits until every started one has reported its setup.  *started:
 * the workers whose threads run (worker 0 counts), for runtime_stop.  0,
 * or the first error. */
static int workers_start(int *started)
{
    start_ready = 0;
    start_err = 0;
    int err = worker_setup(&sched.workers[0]);
    start_report(err);
    *started = 1;
    for (int i = 1; i < sched.nprocs && !err; i++) {
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, WORKER_THREAD_STACK);
        int e = pthread_create(&sched.workers[i].thread, &attr, worker_main, &sched.workers[i]);
        pthread_attr_destroy(&attr);
        if (e) {
            err = -e;
            break;
        }
        (*started)++;
    }
    pthread_mutex_lock(&start_mu);
    while (start_ready < *started)
        pthread_cond_wait(&start_cond, &start_mu);
    if (!err)
        err = start_err;
    if (err && !start_err)
        start_err = err;
    pthread_mutex_unlock(&start_mu);
    return err;
}

/* Runs main_fn as the main goroutine, worker 0 on this thread, until the
 * runtime stops.  0, or -ENOMEM if the goroutine could not be made, or
 * the monitor's error: without it nothing would preempt, hand off a stuck
 * worker or govern, so the runtime does not start half-working. */
static int run_main(void (*main_fn)(void *), void *arg)
{
    struct main_args ma = {main_fn, arg};
    worker *w0 = &sched.workers[0];
    int err = spawn_main(w0, main_goroutine, &ma);
    if (err)
        return err;
    err = preempt_monitor_start(); /* before any goroutine runs (preempt.c) */
    if (err)
        return err;
    /* Open to outside threads first: from the go signal on, any worker may
     * run a goroutine that hands work to one (gr_blocking). */
    extern_open();
    pthread_mutex_lock(&start_mu);
    store_release(&sched.running, 1);
    pthread_cond_broadcast(&start_cond);
    pthread_mutex_unlock(&start_mu);
    schedule_loop(w0);
    preempt_monitor_stop();
    return 0;
}

/* The go signal will not come: wakes the workers waiting for it, with
 * start_err set so that they stop waiting (a failure after every worker
 * started, such as spawn_main's, leaves it 0 otherwise). */
static void start_abandon(int err)
{
    pthread_mutex_lock(&start_mu);
    if (!start_err)
        start_err = err;
    pthread_cond_broadcast(&start_cond);
    pthread_mutex_unlock(&start_mu);
}

/* Wakes every sleeping worker so that it sees `stopping`, joins the
 * started threads, and frees what the workers held: the counters of the
 * run are kept in sched.last. */
static void runtime_stop(int started)
{
    store_release(&sched.stopping, 1);
    extern_close(); /* outside threads touch nothing more (extern.c) */
    for (int i = 1; i < started; i++)
        engine_kick(&sched.workers[i]); /* as main_goroutine does */
    for (int i = 1; i < started; i++)
        pthread_join(sched.workers[i].thread, NULL);
    offload_stop();
    extern_quiesce(); /* no outside thread still in the queues or rings */
    stats_collect(&sched.last);
    stats_probe_fire(&sched.last, true);
    store_release(&sched.running, 0);
    for (int i = 0; i < sched.nprocs; i++) {
        stack_pool_flush(&sched.workers[i]);
        free(sched.workers[i].ioq);
        timer_heap_destroy(&sched.workers[i].timers);
        ring_teardown(&sched.workers[i]);
    }
    worker_teardown(&sched.workers[0]);
    groups_runtime_stopped(); /* before their members' control blocks go */
    g_free_all();
    fd_table_free();
}

int gr_run(void (*main_fn)(void *), void *arg)
{
    if (!main_fn)
        return -EINVAL;
    uint32_t zero = 0;
    if (!cas_acq_rel(&start_lock, &zero, 1))
        return -EBUSY;
    struct sigaction old_pipe;
    bool pipe_ignored;
    int started;
    int err = -EBUSY;
    if (current_worker())
        goto out_unlock; /* called from a goroutine */
    sched_reset();
    err = env_parse();
    if (err)
        goto out_unlock;
    sched.next_goid = 1;
    sched.nactive = (uint32_t)sched.nprocs;
    sched_fpu_capture();
    err = stacks_init();
    if (err)
        goto out_unlock;
    err = engine_choose();
    if (err)
        goto out_stacks;
    err = workers_alloc();
    if (err)
        goto out_stacks;
    pipe_ignored = sigpipe_ignore(&old_pipe);

    err = workers_start(&started);
    if (!err)
        err = run_main(main_fn, arg);
    if (err)
        start_abandon(err);
    runtime_stop(started);

    if (pipe_ignored)
        sigaction(SIGPIPE, &old_pipe, NULL);
    free(sched.workers);
    sched.workers = NULL;
out_stacks:
    stacks_teardown();
out_unlock:
    store_release(&start_lock, 0);
    return err;
}

int gr_nprocs(void)
{
    return load_acquire(&sched.running) ? sched.nprocs : 0;
}

int gr_nprocs_active(void)
{
    return load_acquire(&sched.running) ? (int)load_relaxed(&sched.nactive) : 0;
}
