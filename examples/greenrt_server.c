/*
 * greenrt_server.c - one goroutine per connection on greenrt.
 *
 * The main goroutine listens (gr_listen_tcp) and starts the accept loop,
 * a goroutine looping on gr_accept; each connection gets a goroutine
 * (gr_group_go) that does its I/O with gr_ calls, so a waiting connection
 * parks on an io_uring completion instead of holding an OS thread.  The code reads like the thread model (threads_server.c)
 * on purpose: same structure, same limits, same shutdown.
 *
 * Shutdown, on a group (gr_group: the runtime's structured
 * cancellation).  The accept loop and every connection goroutine are
 * members of one group, `server`; the main goroutine is in none and runs
 * the drain.  A signal handler may not touch the runtime, so before
 * gr_run SIGINT and SIGTERM are blocked (the workers inherit the mask)
 * and a goroutine of its own group reads them from a signalfd.  On the
 * signal (or a fatal accept error) the main goroutine drains
 * (server_common.h):
 *   1. stop accepting: set `stopping`, wake a --max-conns wait, and shut
 *      the listener down - the accept loop's gr_accept fails and it ends;
 *   2. close the idle connections at once: shutdown(SHUT_RD) of those
 *      waiting for a request (their reads return 0, they close) - not a
 *      cancellation, which would cut the requests in flight too;
 *   3. gr_group_wait(&server, grace): the requests in flight finish and
 *      their connections close; it returns once every member has exited,
 *      not merely unregistered;
 *   4. if the grace period ends first: gr_group_cancel(&server) - every
 *      pending read or write of a member returns -ECANCELED, so each
 *      connection loop ends and closes (gr_close is never cancelled) -
 *      and gr_group_wait(&server, -1).
 * Then the service's own goroutines are stopped (app->stop), gr_run
 * returns, and the process exits 0 if no goroutine was left behind
 * (gr_stats live == 0).  The request path is untouched: a connection
 * takes `mu` only to register and unregister.
 *
 * The live set and count are guarded by a gr_mutex, and "a connection
 * ended" is a gr_cond: the --max-conns wait, which the drain also
 * signals.
 *
 * EMFILE/ENFILE from gr_accept: back off 10 ms (gr_sleep) and retry; the
 * pending client stays queued (the pattern documented in greenrt.h).
 */
#define _GNU_SOURCE
#include "greenrt_server.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "greenrt.h"

/* wait_others_exit: up to a second, in 1 ms naps */
#define EXIT_WAIT_NS (1000 * 1000LL)
#define EXIT_WAIT_ROUNDS 1000

static gr_mutex mu;    /* guards conns */
static gr_cond ended;  /* a connection ended, or the drain began */
static conn_set conns;
static atomic_int stopping;
static gr_group server;  /* the accept loop and every connection */
static gr_chan *stop_ch; /* a signal, or the accept loop failed: drain */

struct run_arg {
    const server_opts *o;
    const server_app *app;
    const char *prog;
    int sigfd;
    int lfd;
    atomic_int status;
};

struct conn_arg {
    server_conn conn; /* registered in conns while served */
    void (*serve)(server_conn *c, void *ctx);
    void *ctx;
};

int greenrt_close(int fd)
{
    gr_mutex_lock(&mu);
    conn_set_del(&conns, fd);
    gr_cond_broadcast(&ended);
    gr_mutex_unlock(&mu);
    return gr_close(fd);
}

ssize_t greenrt_read_deadline(int fd, void *buf, size_t n, int64_t deadline_ms)
{
    if (!deadline_ms)
        return gr_read(fd, buf, n);
    gr_set_deadline(deadline_ms * 1000000);
    ssize_t r = gr_read(fd, buf, n);
    gr_set_deadline(0);
    return r;
}

static void conn_main(void *p)
{
    struct conn_arg *a = p;
    a->serve(&a->conn, a->ctx); /* ends with greenrt_close(fd): unregistered */
    free(a);
}

/* Asks the main goroutine to drain (once is enough: stop_ch holds one). */
static void request_stop(void)
{
    char none;
    (void)gr_chan_try_send(stop_ch, &none);
}

/* Reads SIGINT/SIGTERM from the signalfd; ended by its group's
 * cancellation (-ECANCELED) once the drain no longer needs it. */
static void signal_main(void *p)
{
    struct run_arg *ra = p;
    struct signalfd_siginfo si;
    ssize_t r = gr_read(ra->sigfd, &si, sizeof si);
    if (r == -ECANCELED)
        return;
    if (r != (ssize_t)sizeof si) {
        fprintf(stderr, "%s: cannot read signals: %s (stopping)\n", ra->prog,
                r < 0 ? strerror((int)-r) : "short read");
        atomic_store(&ra->status, 1);
    }
    request_stop();
}

static void shut_rd_main(void *p)
{
    gr_shutdown((int)(intptr_t)p, SHUT_RD);
}

/* shutdown(SHUT_RD) of the live idle connections: their reads return 0
 * and their loops end.  One goroutine per
 * connection makes the shutdowns concurrent, so that they reach the
 * kernel in a few io_uring batches instead of one system call each; they
 * are a group of their own, waited for until each has exited.  Called
 * with mu held; returns how many were shut. */
static int shutdown_idle_conns(void)
{
    gr_group shut = GR_GROUP_INIT;
    int n = 0;
    for (int fd = 0; fd < conns.cap; fd++) {
        if (!conns.live[fd] || !atomic_load(&conns.live[fd]->idle))
            continue;
        n++;
        if (gr_group_go(&shut, shut_rd_main, (void *)(intptr_t)fd) < 0)
            shutdown(fd, SHUT_RD);
    }
    gr_group_wait(&shut, -1);
    gr_group_destroy(&shut);
    return n;
}

/* The drain (server_common.h, and the top of this file). */
static void drain(const char *prog, int lfd, int64_t grace_ms)
{
    gr_mutex_lock(&mu);
    atomic_store(&stopping, 1);
    gr_cond_broadcast(&ended); /* a --max-conns wait sees it */
    gr_mutex_unlock(&mu);
    gr_shutdown(lfd, SHUT_RDWR); /* the accept loop's gr_accept fails */
    server_drain_begin();
    gr_mutex_lock(&mu);
    int idle = shutdown_idle_conns(), busy = conns.count - idle;
    gr_mutex_unlock(&mu);
    int cut = 0;
    if (gr_group_wait(&server, grace_ms * 1000000) == -ETIMEDOUT) {
        gr_mutex_lock(&mu);
        cut = conns.count;
        gr_mutex_unlock(&mu);
        gr_group_cancel(&server); /* their reads and writes: -ECANCELED */
        gr_group_wait(&server, -1);
    }
    gr_group_destroy(&server);
    fprintf(stderr, "%s: shut down: %d idle connections closed, %d finished their requests, "
            "%d cut off after the %lld ms grace period\n", prog, idle, busy - cut, cut,
            (long long)grace_ms);
}

/* The service's own goroutines (kv's sweeper) may signal that they are
 * done just before they return: wait, boundedly, until every goroutine
 * but the caller has exited, so that none is abandoned by gr_run.  (The
 * connections need no such wait: gr_group_wait returned once they had
 * exited.) */
static void wait_others_exit(void)
{
    for (int i = 0; i < EXIT_WAIT_ROUNDS; i++) {
        gr_stats st;
        gr_stats_get(&st);
        if (st.live <= 1)
            return;
        gr_sleep(EXIT_WAIT_NS);
    }
}

/* Starts a connection's goroutine, a member of `server`; 0 or -errno
 * (then fd is closed). */
static int64_t start_conn(struct run_arg *ra, int fd)
{
    struct conn_arg *a = malloc(sizeof(*a));
    if (!a) {
        gr_close(fd);
        return -ENOMEM;
    }
    a->conn.fd = fd;
    atomic_init(&a->conn.idle, 0);
    a->serve = ra->app->serve;
    a->ctx = ra->app->ctx;
    gr_mutex_lock(&mu);
    conn_set_add(&conns, &a->conn);
    gr_mutex_unlock(&mu);
    int64_t id = gr_group_go_opts(&server, conn_main, a, &(gr_opts){.stack_size = 0, .name = "conn"});
    if (id < 0) {
        greenrt_close(fd);
        free(a);
    }
    return id;
}

static void accept_main(void *p)
{
    struct run_arg *ra = p;
    const server_opts *o = ra->o;
    int64_t last_warn = 0;
    while (!atomic_load(&stopping)) {
        if (o->max_conns > 0) {
            gr_mutex_lock(&mu);
            while (conns.count >= o->max_conns && !atomic_load(&stopping))
                gr_cond_wait(&ended, &mu); /* the drain broadcasts too */
            gr_mutex_unlock(&mu);
            if (atomic_load(&stopping))
                break;
        }
        int fd = gr_accept(ra->lfd, NULL, NULL);
        if (fd < 0) {
            if (atomic_load(&stopping) || fd == -ECANCELED)
                break;
            if (fd == -ECONNABORTED)
                continue;
            if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
                gr_sleep(10 * 1000 * 1000LL);
                continue;
            }
            fprintf(stderr, "%s: accept: %s\n", ra->prog, strerror(-fd));
            atomic_store(&ra->status, 1);
            request_stop();
            break;
        }
        int64_t id = start_conn(ra, fd);
        if (id < 0) {
            if (id == -ECANCELED)
                break;
            int64_t now = gr_now();
            if (now - last_warn > 1000000000LL) {
                fprintf(stderr, "%s: cannot start a goroutine for a connection: %s "
                        "(closing it)\n", ra->prog, strerror((int)-id));
                last_warn = now;
            }
            gr_sleep(10 * 1000 * 1000LL);
        }
    }
}

static void main_goroutine(void *p)
{
    struct run_arg *ra = p;
    const server_opts *o = ra->o;
    int lfd = gr_listen_tcp(o->host, o->port, SERVER_BACKLOG);
    if (lfd < 0) {
        fprintf(stderr, "%s: cannot listen on %s:%d: %s\n", ra->prog, o->host, o->port,
                strerror(-lfd));
        atomic_store(&ra->status, 1);
        return;
    }
    ra->lfd = lfd;
    stop_ch = gr_chan_make(0, 1);
    if (!stop_ch) {
        fprintf(stderr, "%s: out of memory\n", ra->prog);
        atomic_store(&ra->status, 1);
        gr_close(lfd);
        return;
    }
    if (ra->app->start && ra->app->start(ra->app->ctx, lfd) != 0) {
        atomic_store(&ra->status, 1);
        gr_close(lfd);
        gr_chan_free(stop_ch);
        return;
    }
    gr_group signals = GR_GROUP_INIT;
    int64_t e = gr_group_go_opts(&signals, signal_main, ra, &(gr_opts){.name = "signals"});
    if (e >= 0)
        e = gr_group_go_opts(&server, accept_main, ra, &(gr_opts){.name = "accept"});
    if (e < 0) {
        fprintf(stderr, "%s: cannot start a goroutine: %s\n", ra->prog, strerror((int)-e));
        atomic_store(&ra->status, 1);
    } else {
        server_announce(lfd);
        char none;
        gr_chan_recv(stop_ch, &none); /* SIGINT, SIGTERM, or accept failed */
    }
    drain(ra->prog, lfd, o->grace_ms);
    gr_group_cancel(&signals); /* its gr_read of the signalfd: -ECANCELED */
    gr_group_wait(&signals, -1);
    gr_group_destroy(&signals);
    gr_close(lfd);
    gr_chan_free(stop_ch);
    stop_ch = NULL;
    if (ra->app->stop)
        ra->app->stop(ra->app->ctx);
    wait_others_exit();
}

int greenrt_server_run(const server_opts *o, const server_app *app)
{
    const char *prog = app->prog;
    sigset_t set;
    if (server_prepare(prog, &set, &conns))
        return 1;
    /* SIGINT and SIGTERM are blocked now (every thread gr_run starts
     * inherits it): they wait for signal_main in the signalfd. */
    int sigfd = signalfd(-1, &set, SFD_CLOEXEC);
    if (sigfd < 0) {
        fprintf(stderr, "%s: signalfd: %s\n", prog, strerror(errno));
        return 1;
    }

    struct run_arg ra = {.o = o, .app = app, .prog = prog, .sigfd = sigfd, .lfd = -1};
    atomic_init(&ra.status, 0);
    int r = gr_run(main_goroutine, &ra);
    close(sigfd);
    if (r < 0) {
        fprintf(stderr, "%s: cannot start the greenrt runtime: %s\n", prog, strerror(-r));
        return 1;
    }
    conn_set_free(&conns);
    int status = atomic_load(&ra.status);
    if (status == 0 && !atomic_load(&stopping))
        status = 1;
    gr_stats st;
    gr_stats_get(&st);
    if (st.live != 0) {
        fprintf(stderr, "%s: %llu goroutines were still alive at exit (left behind)\n", prog,
                (unsigned long long)st.live);
        if (status == 0)
            status = 1;
    } else if (status == 0) {
        fprintf(stderr, "%s: stopped: no goroutine left (%llu started)\n", prog,
                (unsigned long long)st.spawned);
    }
    return status;
}
