/*
 * test_net.c - TCP connections through greenrt.h: 10,000 concurrent
 * connections, accept under EMFILE, -EPIPE without SIGPIPE, refused
 * connections, name resolution in gr_dial_tcp, and CLOEXEC descriptors.
 *
 * Every test runs between t_fd_setup and t_fd_teardown (t_util.h): a test
 * that leaks a descriptor fails in its teardown.  Checks made inside
 * goroutines are t_check (t_util.h), never cmocka asserts; t_run turns
 * them into a cmocka failure after gr_run returns.  Nothing asserts
 * timing: a liveness bug shows up as the runner's timeout, and the bounds
 * that involve time only ever use "a sleep of d ns lasts at least d",
 * which holds on any machine.
 */
#include "t_util.h"
#include "t_io.h"

#include <netinet/tcp.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/uio.h>

extern char **environ;

/* ============================================ 10,000 concurrent connections */

/*
 * 10,000 connections are 20,000 descriptors counting both ends, and the
 * machine's hard limit is 20,000 per process - with the listener, the
 * rings and stdio it does not fit in one process.  So the client half
 * runs in a child process (io_conn_client, built beside this binary; its
 * own descriptor table): this process is a greenrt server holding 10,000
 * accepted sockets at once, the child a greenrt client holding the other
 * 10,000.
 */
#define NCONN T_LIVE(10000)

struct conns {
    int lfd;
    gr_wg accepted_wg, served;
    atomic_long accepted, open, peak, echoed, eofs, errors, emfile;
};

struct conn_arg {
    struct conns *c;
    int fd;
};

static void conn_serve(void *arg)
{
    struct conn_arg *a = arg;
    struct conns *c = a->c;
    int fd = a->fd;
    free(a);
    long now = atomic_fetch_add(&c->open, 1) + 1;
    long peak = atomic_load(&c->peak);
    while (now > peak && !atomic_compare_exchange_weak(&c->peak, &peak, now)) {
    }
    for (;;) {
        uint64_t v;
        ssize_t r = gr_read_full(fd, &v, sizeof v);
        if (r == 0) {
            atomic_fetch_add(&c->eofs, 1);
            break;
        }
        if (r != (ssize_t)sizeof v || gr_write_all(fd, &v, sizeof v) != (ssize_t)sizeof v) {
            atomic_fetch_add(&c->errors, 1);
            break;
        }
        atomic_fetch_add(&c->echoed, 1);
    }
    atomic_fetch_sub(&c->open, 1);
    if (gr_close(fd) != 0)
        atomic_fetch_add(&c->errors, 1);
    gr_wg_done(&c->served);
}

static void conn_acceptor(void *arg)
{
    struct conns *c = arg;
    while (atomic_load(&c->accepted) < NCONN) {
        int fd = gr_accept(c->lfd, NULL, NULL);
        if (fd == -EMFILE || fd == -ENFILE) { /* the documented pattern */
            atomic_fetch_add(&c->emfile, 1);
            gr_sleep(10 * T_MS);
            continue;
        }
        if (fd < 0)
            break; /* the listener was shut down: the client gave up */
        struct conn_arg *a = malloc(sizeof *a);
        t_check(a != NULL);
        if (!a) {
            gr_close(fd);
            continue;
        }
        a->c = c;
        a->fd = fd;
        atomic_fetch_add(&c->accepted, 1);
        gr_wg_add(&c->served, 1);
        if (gr_go(conn_serve, a) <= 0) {
            t_fail_at(__FILE__, __LINE__, "gr_go failed");
            free(a);
            gr_close(fd);
            gr_wg_done(&c->served);
        }
    }
    gr_wg_done(&c->accepted_wg);
}

struct waitpid_arg {
    pid_t pid;
    int status;
    int rc;
};

static void waitpid_blocking(void *arg)
{
    struct waitpid_arg *w = arg;
    pid_t r;
    while ((r = waitpid(w->pid, &w->status, 0)) < 0 && errno == EINTR) {
    }
    w->rc = r == w->pid ? 0 : -errno;
}

static void conns_main(void *arg)
{
    struct conns *c = arg;
    c->lfd = gr_listen_tcp("127.0.0.1", 0, 4096);
    t_check_msg(c->lfd >= 0, "gr_listen_tcp: %d", c->lfd);
    if (c->lfd < 0)
        return;
    char dir[PATH_MAX], exe[PATH_MAX + 32], port[16], n[16];
    t_self_dir(dir, sizeof dir);
    snprintf(exe, sizeof exe, "%s/io_conn_client", dir);
    snprintf(port, sizeof port, "%d", t_port_of(c->lfd));
    snprintf(n, sizeof n, "%d", NCONN);
    char *argv[] = {exe, port, n, NULL};
    struct waitpid_arg w = {0};
    int e = posix_spawn(&w.pid, exe, NULL, NULL, argv, environ);
    t_check_msg(e == 0, "posix_spawn %s: %s", exe, strerror(e));
    if (e != 0) {
        gr_close(c->lfd);
        return;
    }
    gr_wg_add(&c->accepted_wg, 1);
    t_go(conn_acceptor, c);
    /* The child's exit status says whether every one of its 10,000
     * connections did both round trips; wait for it off the worker. */
    t_check_eq(gr_blocking(waitpid_blocking, &w), 0);
    t_check_eq(w.rc, 0);
    t_check_msg(WIFEXITED(w.status) && WEXITSTATUS(w.status) == 0,
                "io_conn_client failed (wait status %#x)", w.status);
    /* If the child failed early, the acceptor still waits: wake it. */
    shutdown(c->lfd, SHUT_RDWR);
    gr_wg_wait(&c->accepted_wg);
    gr_wg_wait(&c->served);
    t_check_eq(gr_close(c->lfd), 0);
}

static void test_net_10k_connections(void **state)
{
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    if (rl.rlim_cur < NCONN + 64) {
        print_message("skipped: RLIMIT_NOFILE hard limit %llu < %d\n",
                      (unsigned long long)rl.rlim_max, NCONN + 64);
        skip();
    }
    struct conns *c = calloc(1, sizeof *c);
    assert_non_null(c);
    t_run(conns_main, c);
    printf("  %ld accepted, peak %ld open at once, %ld echoes, %ld clean EOFs\n",
           atomic_load(&c->accepted), atomic_load(&c->peak),
           atomic_load(&c->echoed), atomic_load(&c->eofs));
    assert_int_equal(atomic_load(&c->accepted), NCONN);
    assert_int_equal(atomic_load(&c->peak), NCONN);   /* all live at once */
    assert_int_equal(atomic_load(&c->echoed), 2 * NCONN);
    assert_int_equal(atomic_load(&c->eofs), NCONN);   /* all closed cleanly */
    assert_int_equal(atomic_load(&c->errors), 0);
    assert_int_equal(atomic_load(&c->open), 0);
    free(c);
}

/* ============================================================== EMFILE */

/*
 * The process runs out of descriptors (RLIMIT_NOFILE lowered to just
 * above what is open, the gap filled with dups) while a connection waits
 * in the listener's queue.  gr_accept must return -EMFILE (not hang, not
 * lose the connection); the server loop backs off with gr_sleep as the
 * header documents; once descriptors are freed, the same connection is
 * accepted and its bytes read.  Done in this process, within gr_run,
 * with the limit restored before the test ends.
 */
#define BACKOFF (10 * T_MS)

struct emfile_ctx {
    int lfd;
    atomic_long emfile, attempts;
    int64_t first_fail, accepted_at;
    int fd;
    gr_wg done;
};

static void emfile_acceptor(void *arg)
{
    struct emfile_ctx *e = arg;
    for (;;) {
        if (atomic_fetch_add(&e->attempts, 1) == 0)
            e->first_fail = gr_now();
        int fd = gr_accept(e->lfd, NULL, NULL);
        if (fd == -EMFILE || fd == -ENFILE) {
            atomic_fetch_add(&e->emfile, 1);
            gr_sleep(BACKOFF);
            continue;
        }
        e->accepted_at = gr_now();
        e->fd = fd;
        break;
    }
    gr_wg_done(&e->done);
}

static void emfile_main(void *arg)
{
    struct emfile_ctx e = {.fd = -1};
    e.lfd = gr_listen_tcp("127.0.0.1", 0, 8);
    t_check(e.lfd >= 0);
    int cfd = gr_dial_tcp("127.0.0.1", t_port_of(e.lfd));
    t_check(cfd >= 0);
    if (e.lfd < 0 || cfd < 0)
        return;
    t_check_eq(gr_write(cfd, "!", 1), 1); /* waits in the queued connection */

    /* Lower the soft limit to a few above the highest open fd, and fill. */
    int maxfd = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        if (de->d_name[0] != '.' && atoi(de->d_name) > maxfd)
            maxfd = atoi(de->d_name);
    if (d)
        closedir(d);
    struct rlimit old, low;
    t_check_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = (rlim_t)maxfd + 1 + 8;
    t_check_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    int *dummies = calloc((size_t)low.rlim_cur, sizeof *dummies);
    int ndummy = 0;
    for (;;) {
        int fd = dup(cfd);
        if (fd < 0) {
            t_check_eq(errno, EMFILE);
            break;
        }
        dummies[ndummy++] = fd;
    }
    t_check(ndummy >= 8);

    gr_wg_add(&e.done, 1);
    t_go(emfile_acceptor, &e);
    /* Let the server hit the wall a few times. */
    long want = 3;
    int64_t end = gr_now() + 30 * T_SEC;
    while (atomic_load(&e.emfile) < want && gr_now() < end)
        gr_sleep(T_MS);
    t_check(atomic_load(&e.emfile) >= want);
    t_check_eq(e.fd, -1); /* nothing accepted while out of fds */
    /* Free them: the loop's next try succeeds. */
    for (int i = 0; i < ndummy; i++)
        close(dummies[i]);
    free(dummies);
    gr_wg_wait(&e.done);
    t_check_eq(setrlimit(RLIMIT_NOFILE, &old), 0);

    t_check_msg(e.fd >= 0, "gr_accept after recovery: %d", e.fd);
    if (e.fd >= 0) {
        t_check(t_is_cloexec(e.fd));
        char c = 0;
        t_check_eq(gr_read(e.fd, &c, 1), 1);
        t_check_eq(c, '!'); /* the very connection that waited */
        gr_close(e.fd);
    }
    /* The loop did not spin: every failed try slept BACKOFF, so there
     * were at most (time spent failing) / BACKOFF failures. */
    long fails = atomic_load(&e.emfile);
    int64_t span = e.accepted_at - e.first_fail;
    t_check_msg(fails <= span / BACKOFF + 1,
                "%ld EMFILE retries in %lld ns: the loop spun", fails,
                (long long)span);
    t_check_eq(atomic_load(&e.attempts), fails + 1);
    gr_close(cfd);
    gr_close(e.lfd);
}

static void test_net_accept_emfile(void **state)
{
    t_run(emfile_main, NULL);
}

/* ========================================================= EPIPE, refused */

/* Peer gone: -EPIPE (or -ECONNRESET for TCP), and the process lives. */
static void epipe_main(void *arg)
{
    int send_only = arg != NULL;
    int sv[2];
    t_check_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    t_check_eq(gr_close(sv[1]), 0);
    t_check_eq(gr_send(sv[0], "x", 1, 0), -EPIPE);
    if (!send_only) {
        t_check_eq(gr_write(sv[0], "x", 1), -EPIPE);
        struct iovec v = {.iov_base = "x", .iov_len = 1};
        t_check_eq(gr_writev(sv[0], &v, 1), -EPIPE);
        t_check_eq(gr_write_all(sv[0], "xyz", 3), -EPIPE);
    }
    t_check_eq(gr_close(sv[0]), 0);

    /* TCP: the first send after the peer closed may still succeed (it
     * draws the reset); a later one fails. */
    int lfd = gr_listen_tcp("127.0.0.1", 0, 4);
    int cfd = gr_dial_tcp("127.0.0.1", t_port_of(lfd));
    int afd = gr_accept(lfd, NULL, NULL);
    t_check(lfd >= 0 && cfd >= 0 && afd >= 0);
    if (lfd >= 0 && cfd >= 0 && afd >= 0) {
        t_check_eq(gr_close(afd), 0);
        ssize_t r = 0;
        for (int i = 0; i < 1000 && r >= 0; i++) {
            r = send_only ? gr_send(cfd, "data", 4, 0) : gr_write(cfd, "data", 4);
            if (r >= 0)
                gr_sleep(T_MS);
        }
        t_check_msg(r == -EPIPE || r == -ECONNRESET, "send to a closed peer: %zd", r);
    }
    if (cfd >= 0)
        gr_close(cfd);
    if (lfd >= 0)
        gr_close(lfd);
}

static atomic_int sigpipes;

static void count_sigpipe(int sig)
{
    (void)sig;
    atomic_fetch_add(&sigpipes, 1);
}

static void test_net_epipe_no_sigpipe(void **state)
{
    /* Default disposition (gr_run does not own the process's signals):
     * a SIGPIPE would kill the test binary. */
    struct sigaction old;
    assert_int_equal(sigaction(SIGPIPE, NULL, &old), 0);
    assert_true(old.sa_handler == SIG_DFL);
    t_run(epipe_main, NULL);

    /* With a handler installed, gr_send must not raise it at all
     * (MSG_NOSIGNAL), not merely rely on it being ignored. */
    struct sigaction sa = {.sa_handler = count_sigpipe};
    sigemptyset(&sa.sa_mask);
    atomic_store(&sigpipes, 0);
    assert_int_equal(sigaction(SIGPIPE, &sa, NULL), 0);
    t_run(epipe_main, (void *)1);
    int n = atomic_load(&sigpipes);
    assert_int_equal(sigaction(SIGPIPE, &old, NULL), 0);
    assert_int_equal(n, 0);
}

static void refused_main(void *arg)
{
    /* A port that is bound but not listening refuses connections, and
     * nobody else can take it while we hold it. */
    int hold = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    t_check_eq(bind(hold, (struct sockaddr *)&sin, sizeof sin), 0);
    int port = t_port_of(hold);
    t_check(port > 0);
    sin.sin_port = htons((uint16_t)port);

    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    t_check_eq(gr_connect(fd, (struct sockaddr *)&sin, sizeof sin), -ECONNREFUSED);
    gr_close(fd);
    t_check_eq(gr_dial_tcp("127.0.0.1", port), -ECONNREFUSED);
    t_check_eq(gr_dial_tcp("127.0.0.1", 0), -EINVAL);
    t_check_eq(gr_listen_tcp("127.0.0.1", 65536, 1), -EINVAL);
    /* The port is taken: listening on it fails. */
    t_check_eq(gr_listen_tcp("127.0.0.1", port, 1), -EADDRINUSE);
    gr_close(hold);
}

static void test_net_connect_refused(void **state)
{
    t_run(refused_main, NULL);
}

/* ==================================================== names, CLOEXEC */

struct dial_ctx {
    int lfd, afd;
    gr_wg done;
};

static void dial_acceptor(void *arg)
{
    struct dial_ctx *d = arg;
    d->afd = gr_accept(d->lfd, NULL, NULL);
    gr_wg_done(&d->done);
}

static void dial_name_main(void *arg)
{
    struct dial_ctx d = {.afd = -1};
    /* Both calls resolve "localhost" on the offload pool. */
    d.lfd = gr_listen_tcp("localhost", 0, 4);
    t_check_msg(d.lfd >= 0, "gr_listen_tcp(localhost): %d", d.lfd);
    if (d.lfd < 0)
        return;
    gr_wg_add(&d.done, 1);
    t_go(dial_acceptor, &d);
    int fd = gr_dial_tcp("localhost", t_port_of(d.lfd));
    t_check_msg(fd >= 0, "gr_dial_tcp(localhost): %d", fd);
    gr_wg_wait(&d.done);
    t_check_msg(d.afd >= 0, "gr_accept: %d", d.afd);
    if (fd >= 0 && d.afd >= 0) {
        char c = 0;
        t_check_eq(gr_send(fd, "L", 1, 0), 1);
        t_check_eq(gr_recv(d.afd, &c, 1, 0), 1);
        t_check_eq(c, 'L');
        /* Dialled connections have Nagle off (gr_dial_tcp). */
        int v = 0;
        socklen_t l = sizeof v;
        t_check_eq(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &l), 0);
        t_check(v != 0);
    }
    if (fd >= 0)
        gr_close(fd);
    if (d.afd >= 0)
        gr_close(d.afd);
    gr_close(d.lfd);
}

static void test_net_dial_name(void **state)
{
    t_run(dial_name_main, NULL);
}

static void cloexec_main(void *arg)
{
    struct dial_ctx d = {.afd = -1};
    d.lfd = gr_listen_tcp("127.0.0.1", 0, 4);
    t_check(d.lfd >= 0);
    if (d.lfd < 0)
        return;
    t_check(t_is_cloexec(d.lfd));
    int v = 0;
    socklen_t l = sizeof v;
    t_check_eq(getsockopt(d.lfd, SOL_SOCKET, SO_REUSEADDR, &v, &l), 0);
    t_check(v != 0);
    gr_wg_add(&d.done, 1);
    t_go(dial_acceptor, &d);
    int fd = gr_dial_tcp("127.0.0.1", t_port_of(d.lfd));
    t_check(fd >= 0);
    gr_wg_wait(&d.done);
    t_check(d.afd >= 0);
    if (fd >= 0)
        t_check(t_is_cloexec(fd));
    if (d.afd >= 0)
        t_check_msg(t_is_cloexec(d.afd), "gr_accept returned fd %d without FD_CLOEXEC",
                    d.afd);
    /* Both ends without Nagle (as Go): a reply written in two parts must
     * not wait for the peer's delayed ACK. */
    int nd[2] = {fd, d.afd};
    for (int i = 0; i < 2; i++) {
        if (nd[i] < 0)
            continue;
        v = 0;
        l = sizeof v;
        t_check_eq(getsockopt(nd[i], IPPROTO_TCP, TCP_NODELAY, &v, &l), 0);
        t_check_msg(v != 0, "%s socket without TCP_NODELAY", i ? "accepted" : "dialled");
    }
    if (fd >= 0)
        gr_close(fd);
    if (d.afd >= 0)
        gr_close(d.afd);
    gr_close(d.lfd);
}

static void test_net_accept_cloexec(void **state)
{
    t_run(cloexec_main, NULL);
}

/* ================================================================ main */

int main(void)
{
    t_init();
    /* stdout is a pipe under the runner: keep our lines in order with
     * cmocka's. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        t_unit_test_fds(test_net_10k_connections),
        t_unit_test_fds(test_net_accept_emfile),
        t_unit_test_fds(test_net_epipe_no_sigpipe),
        t_unit_test_fds(test_net_connect_refused),
        t_unit_test_fds(test_net_dial_name),
        t_unit_test_fds(test_net_accept_cloexec),
    };
    return cmocka_run_group_tests_name("net", tests, NULL, NULL);
}
