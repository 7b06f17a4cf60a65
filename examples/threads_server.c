/*
 * threads_server.c - one OS thread per connection, blocking syscalls.
 *
 * This is the model greenrt is compared against, written the way a careful
 * C programmer would: the main thread blocks in accept(2); each connection
 * gets a detached pthread with a 64 KiB stack (the 8 MiB default would
 * reserve 80 GiB of address space at 10,000 connections) that blocks in
 * read/write.  The kernel schedules the threads, so every request costs at
 * least one OS context switch - what the comparison measures.
 *
 * Shutdown: SIGINT and SIGTERM are blocked in every thread (the mask is set
 * before any thread starts and inherited) and a dedicated thread waits for
 * them in sigwait(2).  It sets `stopping` and shuts the listening socket
 * down, which makes the pending accept(2) fail with EINVAL.  The main
 * thread then drains (server_common.h): idle connections are shut down for
 * reading (their reads return 0, each thread finishes its loop and closes
 * its fd); connections in the middle of a request finish it; after the
 * grace period the rest are shut down both ways.  It waits until the live
 * count is zero and returns 0.  No handler runs in signal context and no
 * thread is cancelled, so nothing is left half-done.
 *
 * --max-conns N: the accept loop waits on a condition variable while N
 * connections are live; new clients wait in the listen backlog.
 * pthread_create failing (thread or memory limits) closes that one
 * connection, reports it once per second at most, and backs off 10 ms.
 */
#define _GNU_SOURCE
#include "threads_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* threads_read_deadline: a set timeout this much longer than wanted is
 * kept (saves a system call per request; a deadline may be late by it). */
#define RCVTIMEO_SLACK_MS 50

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv; /* a connection ended (CLOCK_MONOTONIC) */
static conn_set conns;    /* guarded by mu */
static atomic_int stopping;
static int listen_fd = -1;

struct conn_arg {
    server_conn conn; /* registered in conns while served */
    void (*serve)(server_conn *c, void *ctx);
    void *ctx;
};

ssize_t threads_read(int fd, void *buf, size_t n)
{
    for (;;) {
        ssize_t r = read(fd, buf, n);
        if (r >= 0)
            return r;
        if (errno != EINTR)
            return -errno;
    }
}

/* The SO_RCVTIMEO this thread last set on its connection (ms; -1: never). */
static __thread int64_t rcvtimeo_ms = -1;

ssize_t threads_read_deadline(int fd, void *buf, size_t n, int64_t deadline_ms)
{
    int64_t want = 0;
    if (deadline_ms) {
        want = deadline_ms - server_now_ms();
        if (want <= 0)
            return -ETIMEDOUT;
    }
    /* idle waits repeat the same timeout: skip the call when it is within
     * a few ms of what is set (the deadline is a bound, not a tick) */
    if (rcvtimeo_ms < 0 || want > rcvtimeo_ms || want < rcvtimeo_ms - RCVTIMEO_SLACK_MS ||
        (want == 0) != (rcvtimeo_ms == 0)) {
        struct timeval tv = {.tv_sec = want / 1000, .tv_usec = (want % 1000) * 1000};
        if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
            return -errno;
        rcvtimeo_ms = want;
    }
    ssize_t r = threads_read(fd, buf, n);
    return r == -EAGAIN ? -ETIMEDOUT : r;
}

ssize_t threads_write_all(int fd, const void *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t w = send(fd, (const char *)buf + done, n - done, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ENOTSOCK) { /* not a socket (tests use pipes) */
                w = write(fd, (const char *)buf + done, n - done);
                if (w < 0 && errno == EINTR)
                    continue;
                if (w < 0)
                    return -errno;
            } else {
                return -errno;
            }
        }
        done += (size_t)w;
    }
    return (ssize_t)n;
}

static void *conn_main(void *p)
{
    struct conn_arg *a = p;
    a->serve(&a->conn, a->ctx); /* ends with threads_close(fd): unregistered */
    free(a);
    return NULL;
}

/* Unregister, then close: while fd is registered it is open, so a
 * concurrent shutdown_all never touches a number reused by another open. */
int threads_close(int fd)
{
    pthread_mutex_lock(&mu);
    conn_set_del(&conns, fd);
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    return close(fd) < 0 ? -errno : 0;
}

static void *signal_main(void *p)
{
    sigset_t *set = p;
    int sig;
    while (sigwait(set, &sig) != 0)
        ;
    atomic_store(&stopping, 1);
    shutdown(listen_fd, SHUT_RDWR);
    pthread_mutex_lock(&mu);
    pthread_cond_broadcast(&cv); /* wakes an accept loop held by --max-conns */
    pthread_mutex_unlock(&mu);
    return NULL;
}

static int listen_tcp(const char *prog, const char *host, int port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res;
    char ps[16];
    snprintf(ps, sizeof(ps), "%d", port);
    int e = getaddrinfo(host && *host ? host : NULL, ps, &hints, &res);
    if (e) {
        fprintf(stderr, "%s: cannot resolve '%s': %s\n", prog, host, gai_strerror(e));
        return -1;
    }
    int fd = -1, err = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, SERVER_BACKLOG) == 0)
            break;
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        fprintf(stderr, "%s: cannot listen on %s:%d: %s\n", prog, host, port, strerror(err));
    return fd;
}

/* The drain (server_common.h).  Called with mu held. */
static void drain(const char *prog, int64_t grace_ms)
{
    server_drain_begin();
    int idle = conn_set_shutdown_idle(&conns), busy = conns.count - idle;
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += grace_ms / 1000;
    end.tv_nsec += (grace_ms % 1000) * 1000000;
    if (end.tv_nsec >= 1000000000) {
        end.tv_sec++;
        end.tv_nsec -= 1000000000;
    }
    while (conns.count > 0 && pthread_cond_timedwait(&cv, &mu, &end) != ETIMEDOUT)
        ;
    int cut = conns.count;
    if (cut > 0)
        conn_set_shutdown_all(&conns);
    while (conns.count > 0)
        pthread_cond_wait(&cv, &mu);
    fprintf(stderr, "%s: shut down: %d idle connections closed, %d finished their requests, "
            "%d cut off after the %lld ms grace period\n", prog, idle, busy - cut, cut,
            (long long)grace_ms);
}

int threads_server_run(const server_opts *o, const server_app *app)
{
    const char *prog = app->prog;
    static sigset_t set; /* read by the signal thread */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&cv, &ca);
    pthread_condattr_destroy(&ca);
    if (server_prepare(prog, &set, &conns))
        return 1;
    listen_fd = listen_tcp(prog, o->host, o->port);
    if (listen_fd < 0)
        return 1;
    pthread_t sig_thread;
    if (pthread_create(&sig_thread, NULL, signal_main, &set) != 0) {
        fprintf(stderr, "%s: cannot start the signal thread\n", prog);
        return 1;
    }
    pthread_detach(sig_thread);
    if (app->start && app->start(app->ctx, listen_fd) != 0) {
        close(listen_fd);
        return 1;
    }
    server_announce(listen_fd);

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, THREADS_STACK_SIZE);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    time_t last_warn = 0;
    const struct timespec backoff = {0, 10 * 1000 * 1000};

    while (!atomic_load(&stopping)) {
        if (o->max_conns > 0) {
            pthread_mutex_lock(&mu);
            while (conns.count >= o->max_conns && !atomic_load(&stopping))
                pthread_cond_wait(&cv, &mu);
            pthread_mutex_unlock(&mu);
        }
        int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            int e = errno;
            if (atomic_load(&stopping))
                break;
            if (e == EINTR || e == ECONNABORTED)
                continue;
            if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
                nanosleep(&backoff, NULL); /* the pending client stays queued */
                continue;
            }
            fprintf(stderr, "%s: accept: %s\n", prog, strerror(e));
            break;
        }
        struct conn_arg *a = malloc(sizeof(*a));
        pthread_t t;
        int e = ENOMEM;
        if (a) {
            a->conn.fd = fd;
            atomic_init(&a->conn.idle, 0);
            a->serve = app->serve;
            a->ctx = app->ctx;
            pthread_mutex_lock(&mu);
            conn_set_add(&conns, &a->conn);
            pthread_mutex_unlock(&mu);
            e = pthread_create(&t, &attr, conn_main, a);
        }
        if (!a || e != 0) {
            threads_close(fd);
            free(a);
            time_t now = time(NULL);
            if (now != last_warn) {
                fprintf(stderr, "%s: cannot start a thread for a connection: %s "
                        "(closing it; see ulimit -u, pid_max, memory)\n", prog, strerror(e));
                last_warn = now;
            }
            nanosleep(&backoff, NULL);
        }
    }
    pthread_attr_destroy(&attr);

    pthread_mutex_lock(&mu);
    drain(prog, o->grace_ms);
    pthread_mutex_unlock(&mu);
    close(listen_fd);
    conn_set_free(&conns);
    if (app->stop)
        app->stop(app->ctx);
    return atomic_load(&stopping) ? 0 : 1;
}
