/*
 * offload.c - gr_blocking: run a blocking call on a helper thread while
 * the goroutine parks and its worker runs others.
 *
 * For what io_uring cannot do (getaddrinfo, a library that blocks), and
 * for what epoll cannot wait for (the epoll engine's file I/O: regular
 * files are always "ready", and their reads and writes block).  The
 * pool starts empty, grows by one thread whenever a job finds no idle
 * thread (up to OFFLOAD_MAX), and a thread idle for OFFLOAD_IDLE_NS
 * exits, so a quiet program holds no extra threads.  The job is queued
 * after the goroutine has parked (park's `after`), so it cannot finish
 * and ready a goroutine that is still running.
 *
 * A member of a group that is cancelled while fn runs waits for fn all
 * the same (it cannot be stopped, and arg often lives on the goroutine's
 * stack), then gets -ECANCELED; group.c has the reasons.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "greenrt.h"
#include "group.h"
#include "offload.h"
#include "sched.h"

#define OFFLOAD_MAX 64
#define OFFLOAD_IDLE_NS 5000000000ll

typedef struct job {
    void (*fn)(void *);
    void *arg;
    g *gp;
    struct job *next;
    int err;
} job;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;     /* jobs queued, or stopping */
    pthread_cond_t gone;   /* a thread exited */
    job *head, *tail;
    int njobs;             /* queued, not yet taken by a thread */
    int nthreads, nidle;
    uint64_t generation;   /* bumped by offload_stop: late jobs don't ready */
    bool stopping;
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .gone = PTHREAD_COND_INITIALIZER};

static void *offload_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&pool.mu);
    for (;;) {
        while (!pool.head && !pool.stopping) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += OFFLOAD_IDLE_NS / 1000000000;
            pool.nidle++;
            int rc = pthread_cond_timedwait(&pool.cv, &pool.mu, &ts);
            pool.nidle--;
            if (rc == ETIMEDOUT && !pool.head)
                goto exit;
        }
        if (!pool.head)
            goto exit;
        job *j = pool.head;
        pool.njobs--;
        pool.head = j->next;
        if (!pool.head)
            pool.tail = NULL;
        uint64_t gen = pool.generation;
        pthread_mutex_unlock(&pool.mu);
        j->fn(j->arg);
        pthread_mutex_lock(&pool.mu);
        if (gen == pool.generation) {
            /* Ready before the in-flight count drops, so the deadlock
             * check never sees neither. */
            ready_from(j->gp, GR_WAKE_BLOCKING, NULL);
            __atomic_fetch_sub(&sched.blocking_inflight, 1, __ATOMIC_ACQ_REL);
        }
    }
exit:
    pool.nthreads--;
    pthread_cond_broadcast(&pool.gone);
    pthread_mutex_unlock(&pool.mu);
    return NULL;
}

static void after_queue_job(worker *w, void *arg)
{
    (void)w;
    job *j = arg;
    pthread_mutex_lock(&pool.mu);
    j->next = NULL;
    if (pool.tail)
        pool.tail->next = j;
    else
        pool.head = j;
    pool.tail = j;
    pool.njobs++;
    /* Idle threads only leave the count once they run again, so compare
     * with the queued jobs: two jobs queued back to back with one idle
     * thread must start a second thread, not wait for the first job. */
    pthread_cond_signal(&pool.cv);
    if (pool.njobs > pool.nidle && pool.nthreads < OFFLOAD_MAX) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &attr, offload_main, NULL) == 0)
            pool.nthreads++;
        pthread_attr_destroy(&attr);
        /* If that failed, the job waits for a busy thread to finish; with
         * no thread at all it can never run: fail it. */
        if (pool.nthreads == 0) {
            pool.head = pool.tail = NULL;
            pool.njobs = 0;
            j->err = -EAGAIN;
            ready_from(j->gp, GR_WAKE_BLOCKING, NULL);
            __atomic_fetch_sub(&sched.blocking_inflight, 1, __ATOMIC_ACQ_REL);
        }
    }
    pthread_mutex_unlock(&pool.mu);
}

int offload_run(void (*fn)(void *), void *arg, uint16_t reason)
{
    job j = {.fn = fn, .arg = arg, .gp = current_g()};
    __atomic_fetch_add(&sched.blocking_inflight, 1, __ATOMIC_ACQ_REL);
    park(reason, after_queue_job, &j);
    return j.err;
}

int gr_blocking(void (*fn)(void *), void *arg)
{
    if (!fn)
        return -EINVAL;
    g *gp = require_g("gr_blocking");
    if (g_interrupted(gp))
        return -ECANCELED; /* fn not run */
    int err = offload_run(fn, arg, GR_WAIT_BLOCKING);
    /* fn cannot be stopped, and arg may live on this stack: a member's
     * cancellation is reported once fn has returned (group.c). */
    if (!err && g_interrupted(gp))
        return -ECANCELED;
    return err;
}

/* The runtime is stopping: idle threads exit; jobs still running are
 * abandoned (their goroutines are never resumed, as Go abandons them). */
void offload_stop(void)
{
    pthread_mutex_lock(&pool.mu);
    pool.generation++;
    pool.stopping = true;
    pool.head = pool.tail = NULL;
    pool.njobs = 0;
    pthread_cond_broadcast(&pool.cv);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 1;
    while (pool.nthreads > 0) {
        if (pthread_cond_timedwait(&pool.gone, &pool.mu, &ts) == ETIMEDOUT)
            break; /* a job is stuck in its blocking call: leave it */
    }
    pool.stopping = false;
    pthread_mutex_unlock(&pool.mu);
}
