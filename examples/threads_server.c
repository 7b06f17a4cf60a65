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
 * thread then shuts down every live connection (their reads return 0, so
 * each thread finishes its loop and closes its fd), waits until the live
 * count is zero, and returns 0.  No handler runs in signal context and no
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

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER; /* a connection ended */
static conn_set conns;                                /* guarded by mu */
static atomic_int stopping;
static int listen_fd = -1;

struct conn_arg {
    int fd;
    void (*serve)(int fd, void *ctx);
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
    struct conn_arg a = *(struct conn_arg *)p;
    free(p);
    a.serve(a.fd, a.ctx); /* ends with threads_close(fd) */
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

int threads_server_run(const server_opts *o, const server_app *app)
{
    const char *prog = app->prog;
    static sigset_t set; /* read by the signal thread */
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
        pthread_mutex_lock(&mu);
        conn_set_add(&conns, fd);
        pthread_mutex_unlock(&mu);
        int e = ENOMEM;
        if (a) {
            a->fd = fd;
            a->serve = app->serve;
            a->ctx = app->ctx;
            e = pthread_create(&t, &attr, conn_main, a);
        }
        if (!a || e != 0) {
            free(a);
            threads_close(fd);
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

    /* drain: every live connection's read returns 0, its thread closes it */
    pthread_mutex_lock(&mu);
    conn_set_shutdown_all(&conns);
    while (conns.count > 0)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    close(listen_fd);
    conn_set_free(&conns);
    if (app->stop)
        app->stop(app->ctx);
    return atomic_load(&stopping) ? 0 : 1;
}
