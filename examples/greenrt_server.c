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
 * the accept loop ends.  The main goroutine then shuts down every live
 * connection (their gr_reads complete with 0 and their goroutines finish
 * and close), waits until none is live, and returns from main_fn; gr_run
 * returns and the process exits 0.
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
    int fd;
    void (*serve)(int fd, void *ctx);
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

static void conn_main(void *p)
{
    struct conn_arg a = *(struct conn_arg *)p;
    free(p);
    a.serve(a.fd, a.ctx); /* ends with greenrt_close(fd) */
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
    int fd;
    gr_wg *wg;
};

static void shut_main(void *p)
{
    struct shut_arg a = *(struct shut_arg *)p;
    free(p);
    gr_shutdown(a.fd, SHUT_RDWR);
    gr_wg_done(a.wg);
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
        gr_mutex_lock(&mu);
        conn_set_add(&conns, fd);
        gr_mutex_unlock(&mu);
        struct conn_arg *a = malloc(sizeof(*a));
        int64_t id = -ENOMEM;
        if (a) {
            a->fd = fd;
            a->serve = ra->app->serve;
            a->ctx = ra->app->ctx;
            id = gr_go_opts(conn_main, a, &(gr_opts){.stack_size = 0, .name = "conn"});
        }
        if (id < 0) {
            free(a);
            greenrt_close(fd);
            int64_t now = gr_now();
            if (now - last_warn > 1000000000LL) {
                fprintf(stderr, "%s: cannot start a goroutine for a connection: %s "
                        "(closing it)\n", ra->prog, strerror((int)-id));
                last_warn = now;
            }
            gr_sleep(10 * 1000 * 1000LL);
        }
    }

    /* drain: every live connection's read returns 0, its goroutine closes
     * it.  One goroutine per connection makes the shutdowns concurrent, so
     * that they reach the kernel in a few batches instead of one system
     * call each. */
    gr_mutex_lock(&mu);
    gr_wg shut = GR_WG_INIT;
    for (int fd = 0; fd < conns.cap; fd++) {
        if (!conns.live[fd])
            continue;
        gr_wg_add(&shut, 1);
        struct shut_arg *sa = malloc(sizeof *sa);
        if (sa)
            *sa = (struct shut_arg){fd, &shut};
        if (!sa || gr_go(shut_main, sa) < 0) {
            free(sa);
            shutdown(fd, SHUT_RDWR);
            gr_wg_done(&shut);
        }
    }
    gr_wg_wait(&shut);
    while (conns.count > 0)
        gr_cond_wait_timeout(&ended, &mu, RECHECK_NS);
    gr_mutex_unlock(&mu);
    gr_close(lfd);
    if (ra->app->stop)
        ra->app->stop(ra->app->ctx);
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
    return ra.status;
}
