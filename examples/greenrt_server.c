/*
 * greenrt_server.c - one goroutine per connection on greenrt.
 *
 * The main goroutine listens (gr_listen_tcp) and loops on gr_accept; each
 * connection gets a goroutine (gr_go) that does its I/O with gr_ calls, so
 * a waiting connection parks on an io_uring completion instead of holding
 * an OS thread.  The code reads like the thread model (threads_server.c)
 * on purpose: same structure, same limits, same shutdown.
 *
 * Shutdown: a signal handler may not touch the runtime, and a goroutine
 * cannot sigwait (it would block its worker).  So, before gr_run, SIGINT
 * and SIGTERM are blocked (the workers inherit the mask) and a plain
 * pthread waits for them in sigwait(2).  It sets `stopping` and shuts the
 * listening socket down: the pending gr_accept completes with an error and
 * the accept loop ends.  The main goroutine then drains (server_common.h):
 * idle connections are shut down for reading (their reads complete with 0,
 * their goroutines finish and close), connections in the middle of a
 * request finish it, and after the grace period the rest are shut down
 * both ways.  It waits until no connection is live and every other
 * goroutine has exited, stops the service's own goroutines (app->stop)
 * and returns from main_fn; gr_run returns, and the process exits 0 if no
 * goroutine was left behind (gr_stats live == 0).
 *
 * Groups (DESIGN.md, "groups": gr_group_go, gr_group_wait,
 * gr_group_cancel) are the runtime's tool for exactly this drain and will
 * replace the hand-made parts once they land: connection goroutines
 * become members of one group, the grace-period wait becomes
 * gr_group_wait(&conns, grace) - which, unlike the live count below,
 * returns only once the members have exited - and the cut-off becomes
 * gr_group_cancel(&conns) (their pending I/O completes with -ECANCELED).
 * The idle connections are still closed with shutdown(SHUT_RD): a
 * cancellation would also cut the connections whose requests are in
 * flight.  drain() is the one function to change.
 *
 * The live set and count are guarded by a gr_mutex, and "a connection
 * ended" is a gr_cond.  The signal thread is not a goroutine and cannot
 * signal a gr_cond, so the waits that must notice `stopping` (the
 * --max-conns wait) use gr_cond_wait_timeout and re-check it.
 *
 * EMFILE/ENFILE from gr_accept: back off 10 ms (gr_sleep) and retry; the
 * pending client stays queued (the pattern documented in greenrt.h).
 */
#define _GNU_SOURCE
#include "greenrt_server.h"

#include <errno.h>
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

#include "greenrt.h"

#define RECHECK_NS (100 * 1000 * 1000LL)
/* wait_others_exit: up to a second, in 1 ms naps */
#define EXIT_WAIT_NS (1000 * 1000LL)
#define EXIT_WAIT_ROUNDS 1000

static gr_mutex mu;    /* guards conns */
static gr_cond ended;  /* a connection ended */
static conn_set conns;
static atomic_int stopping;
static atomic_int listen_fd = -1;

struct run_arg {
    const server_opts *o;
    const server_app *app;
    const char *prog;
    int status;
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

static void *signal_main(void *p)
{
    const sigset_t *set = p;
    int sig;
    while (sigwait(set, &sig) != 0)
        ;
    atomic_store(&stopping, 1);
    int lfd = atomic_load(&listen_fd);
    if (lfd >= 0)
        shutdown(lfd, SHUT_RDWR);
    return NULL;
}

struct shut_arg {
    int fd, how;
    gr_wg *wg;
};

static void shut_main(void *p)
{
    struct shut_arg a = *(struct shut_arg *)p;
    free(p);
    gr_shutdown(a.fd, a.how);
    gr_wg_done(a.wg);
}

/* shutdown(how) on the live connections, the idle ones only if idle_only.
 * One goroutine per connection makes the shutdowns concurrent, so that
 * they reach the kernel in a few io_uring batches instead of one system
 * call each.  Called with mu held; returns how many were shut. */
static int shutdown_conns(int how, int idle_only)
{
    gr_wg shut = GR_WG_INIT;
    int n = 0;
    for (int fd = 0; fd < conns.cap; fd++) {
        if (!conns.live[fd] || (idle_only && !atomic_load(&conns.live[fd]->idle)))
            continue;
        n++;
        gr_wg_add(&shut, 1);
        struct shut_arg *sa = malloc(sizeof *sa);
        if (sa)
            *sa = (struct shut_arg){fd, how, &shut};
        if (!sa || gr_go(shut_main, sa) < 0) {
            free(sa);
            shutdown(fd, how);
            gr_wg_done(&shut);
        }
    }
    gr_wg_wait(&shut);
    return n;
}

/* The drain (server_common.h; see the top of this file for its form with
 * groups).  Called with mu held. */
static void drain(const char *prog, int64_t grace_ms)
{
    server_drain_begin();
    int idle = shutdown_conns(SHUT_RD, 1), busy = conns.count - idle;
    int64_t end = gr_now() + grace_ms * 1000000;
    for (int64_t left; conns.count > 0 && (left = end - gr_now()) > 0;)
        gr_cond_wait_timeout(&ended, &mu, left);
    int cut = conns.count;
    if (cut > 0)
        shutdown_conns(SHUT_RDWR, 0);
    while (conns.count > 0)
        gr_cond_wait_timeout(&ended, &mu, RECHECK_NS);
    fprintf(stderr, "%s: shut down: %d idle connections closed, %d finished their requests, "
            "%d cut off after the %lld ms grace period\n", prog, idle, busy - cut, cut,
            (long long)grace_ms);
}

/* A connection goroutine unregisters (greenrt_close) just before it
 * returns: wait, boundedly, until every goroutine but the caller has
 * exited, so that none is abandoned by gr_run. */
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

static void main_goroutine(void *p)
{
    struct run_arg *ra = p;
    const server_opts *o = ra->o;
    int lfd = gr_listen_tcp(o->host, o->port, SERVER_BACKLOG);
    if (lfd < 0) {
        fprintf(stderr, "%s: cannot listen on %s:%d: %s\n", ra->prog, o->host, o->port,
                strerror(-lfd));
        ra->status = 1;
        return;
    }
    atomic_store(&listen_fd, lfd);
    if (atomic_load(&stopping)) /* a signal came before listen_fd was set */
        shutdown(lfd, SHUT_RDWR);
    if (ra->app->start && ra->app->start(ra->app->ctx, lfd) != 0) {
        ra->status = 1;
        gr_close(lfd);
        return;
    }
    server_announce(lfd);

    int64_t last_warn = 0;
    while (!atomic_load(&stopping)) {
        if (o->max_conns > 0) {
            gr_mutex_lock(&mu);
            while (conns.count >= o->max_conns && !atomic_load(&stopping))
                gr_cond_wait_timeout(&ended, &mu, RECHECK_NS);
            gr_mutex_unlock(&mu);
            if (atomic_load(&stopping))
                break;
        }
        int fd = gr_accept(lfd, NULL, NULL);
        if (fd < 0) {
            if (atomic_load(&stopping))
                break;
            if (fd == -ECONNABORTED)
                continue;
            if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
                gr_sleep(10 * 1000 * 1000LL);
                continue;
            }
            fprintf(stderr, "%s: accept: %s\n", ra->prog, strerror(-fd));
            ra->status = 1;
            break;
        }
        struct conn_arg *a = malloc(sizeof(*a));
        int64_t id = -ENOMEM;
        if (a) {
            a->conn.fd = fd;
            atomic_init(&a->conn.idle, 0);
            a->serve = ra->app->serve;
            a->ctx = ra->app->ctx;
            gr_mutex_lock(&mu);
            conn_set_add(&conns, &a->conn);
            gr_mutex_unlock(&mu);
            id = gr_go_opts(conn_main, a, &(gr_opts){.stack_size = 0, .name = "conn"});
        }
        if (id < 0) {
            greenrt_close(fd);
            free(a);
            int64_t now = gr_now();
            if (now - last_warn > 1000000000LL) {
                fprintf(stderr, "%s: cannot start a goroutine for a connection: %s "
                        "(closing it)\n", ra->prog, strerror((int)-id));
                last_warn = now;
            }
            gr_sleep(10 * 1000 * 1000LL);
        }
    }

    gr_mutex_lock(&mu);
    drain(ra->prog, o->grace_ms);
    gr_mutex_unlock(&mu);
    gr_close(lfd);
    if (ra->app->stop)
        ra->app->stop(ra->app->ctx);
    wait_others_exit();
}

int greenrt_server_run(const server_opts *o, const server_app *app)
{
    const char *prog = app->prog;
    static sigset_t set; /* read by the signal thread */
    if (server_prepare(prog, &set, &conns))
        return 1;
    pthread_t sig_thread;
    if (pthread_create(&sig_thread, NULL, signal_main, &set) != 0) {
        fprintf(stderr, "%s: cannot start the signal thread\n", prog);
        return 1;
    }
    pthread_detach(sig_thread);

    struct run_arg ra = {.o = o, .app = app, .prog = prog, .status = 0};
    int r = gr_run(main_goroutine, &ra);
    if (r < 0) {
        fprintf(stderr, "%s: cannot start the greenrt runtime: %s\n", prog, strerror(-r));
        return 1;
    }
    conn_set_free(&conns);
    if (ra.status == 0 && !atomic_load(&stopping))
        ra.status = 1;
    gr_stats st;
    gr_stats_get(&st);
    if (st.live != 0) {
        fprintf(stderr, "%s: %llu goroutines were still alive at exit (left behind)\n", prog,
                (unsigned long long)st.live);
        if (ra.status == 0)
            ra.status = 1;
    } else if (ra.status == 0) {
        fprintf(stderr, "%s: stopped: no goroutine left (%llu started)\n", prog,
                (unsigned long long)st.spawned);
    }
    return ra.status;
}
