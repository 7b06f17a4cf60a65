/*
 * group_echo.c - the README's shutdown pattern as a whole program: an
 * echo server whose accept loop and connections are one group (gr_group).
 *
 * SIGINT and SIGTERM are blocked before gr_run (the workers inherit the
 * mask) and read from a signalfd by the main goroutine, which is in no
 * group.  On the signal it shuts the listener down (the accept loop's
 * gr_accept fails and the loop ends), gives the connections five seconds
 * (a group deadline), after which their pending reads return -ECANCELED
 * and they close, waits for every member to have returned, and exits 0 -
 * 1 if a goroutine was left behind (gr_stats live > 0).
 *
 * The README quotes this file: tests/integration/examples/group_echo.sh
 * checks that the code block marked "checked: examples/group_echo.c"
 * there is still, paragraph by paragraph, the code below, and runs the
 * program (a connection still served after SIGTERM, an idle one closed
 * at the deadline, exit 0).  Change both together.
 *
 *     group_echo [--host ADDR] [--port N]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "greenrt.h"
#include "server_common.h"

struct run {
    const server_opts *o;
    int sigfd;
    int status;
};

static void serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[4096];
    ssize_t n;
    while ((n = gr_read(fd, buf, sizeof buf)) > 0)   /* parks on io_uring */
        if (gr_write_all(fd, buf, (size_t)n) < 0)
            break;
    gr_close(fd);
}

static gr_group server;                        /* the accept loop and every connection */

static void accept_loop(void *lfd)
{
    for (;;) {
        int fd = gr_accept((int)(intptr_t)lfd, NULL, NULL);
        if (fd == -EMFILE || fd == -ENFILE) {  /* back off, as above */
            gr_sleep(10 * 1000 * 1000);
            continue;
        }
        if (fd < 0)
            break;                             /* shut down, or cancelled */
        if (gr_group_go(&server, serve, (void *)(intptr_t)fd) < 0)
            gr_close(fd);                      /* -ECANCELED: shutting down */
    }
}

static void main_goroutine(void *p)
{
    struct run *r = p;
    int sigfd = r->sigfd;
    struct signalfd_siginfo si;
    int lfd = gr_listen_tcp(r->o->host, r->o->port, SERVER_BACKLOG);
    if (lfd < 0) {
        fprintf(stderr, "group_echo: cannot listen on %s:%d: %s\n", r->o->host, r->o->port,
                strerror(-lfd));
        r->status = 1;
        return;
    }
    server_announce(lfd);

    /* in main, once listening on lfd: */
    gr_group_go(&server, accept_loop, (void *)(intptr_t)lfd);
    gr_read(sigfd, &si, sizeof si);            /* SIGTERM */
    gr_shutdown(lfd, SHUT_RDWR);               /* no new connections */
    gr_group_set_deadline(&server, gr_now() + 5 * 1000000000LL); /* 5 s of grace */
    gr_group_wait(&server, -1);                /* every one of them has returned */
    gr_group_destroy(&server);
    gr_close(lfd);

    fprintf(stderr, "group_echo: signal %u: every connection has returned\n", si.ssi_signo);
}

int main(int argc, char **argv)
{
    static const server_flags flags = {0};
    server_opts o;
    server_parse_args(&o, argc, argv, "group_echo", &flags);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    signal(SIGPIPE, SIG_IGN);
    int sigfd = signalfd(-1, &set, SFD_CLOEXEC);
    if (sigfd < 0 || pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) {
        perror("group_echo: signalfd");
        return 1;
    }
    struct run r = {.o = &o, .sigfd = sigfd};
    int e = gr_run(main_goroutine, &r);
    if (e < 0) {
        fprintf(stderr, "group_echo: cannot start the greenrt runtime: %s\n", strerror(-e));
        return 1;
    }
    gr_stats st;
    gr_stats_get(&st);
    if (st.live != 0) {
        fprintf(stderr, "group_echo: %llu goroutines left behind\n",
                (unsigned long long)st.live);
        return 1;
    }
    if (r.status == 0)
        fprintf(stderr, "group_echo: no goroutine left (%llu started)\n",
                (unsigned long long)st.spawned);
    return r.status;
}
