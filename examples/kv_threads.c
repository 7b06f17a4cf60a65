/*
 * kv_threads.c - the kv service (a Redis-protocol server), one OS thread
 * per connection with blocking syscalls.  The connection loop, the
 * commands and the store are shared with kv_greenrt (kv_serve.c,
 * kv_cmd*.c, kv_store.c); this file supplies the blocking I/O calls, the
 * store's locks (pthread mutexes) and the expiry sweeper, a thread woken
 * every KV_SWEEP_PERIOD_MS.
 *
 *   kv_threads [--host ADDR] [--port N] [--max-conns N] [--grace S]
 *              [--read-timeout MS] [--idle-timeout MS]
 */
#include "kv_serve.h"
#include "threads_server.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

_Static_assert(sizeof(pthread_mutex_t) <= KV_LOCK_SIZE, "a pthread mutex must fit in a kv shard");

static void lock_init(void *l)
{
    pthread_mutex_init(l, NULL);
}

static void lock_lock(void *l)
{
    pthread_mutex_lock(l);
}

static void lock_unlock(void *l)
{
    pthread_mutex_unlock(l);
}

static void lock_destroy(void *l)
{
    pthread_mutex_destroy(l);
}

static const kv_lock_ops pthread_locks = {lock_init, lock_lock, lock_unlock, lock_destroy};

static kv_store store;
static kv_server srv;
static pthread_t sweep_thread;
static pthread_mutex_t sweep_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sweep_cv; /* CLOCK_MONOTONIC; signalled by stop_kv */
static int sweep_stopping;      /* guarded by sweep_mu */

static const kv_io threads_io = {
    .read = threads_read_deadline,
    .recv_chunk = NULL,
    .release_chunk = NULL,
    .write_all = threads_write_all,
    .close = threads_close,
};

static void serve_kv(server_conn *c, void *ctx)
{
    kv_serve_conn(&threads_io, ctx, c);
}

static void *sweeper(void *arg)
{
    (void)arg;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t rng = (uint64_t)ts.tv_nsec | 1;
    pthread_mutex_lock(&sweep_mu);
    while (!sweep_stopping) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += (long)KV_SWEEP_PERIOD_MS * 1000000;
        ts.tv_sec += ts.tv_nsec / 1000000000;
        ts.tv_nsec %= 1000000000;
        while (!sweep_stopping && pthread_cond_timedwait(&sweep_cv, &sweep_mu, &ts) != ETIMEDOUT)
            ;
        if (sweep_stopping)
            break;
        pthread_mutex_unlock(&sweep_mu);
        kv_server_sweep(&srv, &rng, NULL);
        pthread_mutex_lock(&sweep_mu);
    }
    pthread_mutex_unlock(&sweep_mu);
    return NULL;
}

static int start_kv(void *ctx, int listen_fd)
{
    (void)ctx;
    kv_server_listening(&srv, listen_fd);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&sweep_cv, &ca);
    pthread_condattr_destroy(&ca);
    int e = pthread_create(&sweep_thread, NULL, sweeper, NULL);
    if (e != 0) {
        fprintf(stderr, "kv_threads: cannot start the expiry sweeper: %s\n", strerror(e));
        return 1;
    }
    return 0;
}

static void stop_kv(void *ctx)
{
    (void)ctx;
    pthread_mutex_lock(&sweep_mu);
    sweep_stopping = 1;
    pthread_cond_signal(&sweep_cv);
    pthread_mutex_unlock(&sweep_mu);
    pthread_join(sweep_thread, NULL);
}

int main(int argc, char **argv)
{
    server_opts o;
    server_flags fl = {.want_timeouts = 1, .read_timeout_ms = KV_READ_TIMEOUT_MS,
                       .idle_timeout_ms = KV_IDLE_TIMEOUT_MS};
    server_parse_args(&o, argc, argv, "kv_threads", &fl);
    if (kv_server_init(&srv, &store, &pthread_locks, "threads") < 0) {
        fprintf(stderr, "kv_threads: out of memory\n");
        return 1;
    }
    srv.read_timeout_ms = o.read_timeout_ms;
    srv.idle_timeout_ms = o.idle_timeout_ms;
    server_app app = {.prog = "kv_threads", .serve = serve_kv, .start = start_kv,
                      .stop = stop_kv, .ctx = &srv};
    int rc = threads_server_run(&o, &app);
    kv_server_destroy(&srv);
    return rc;
}
