/*
 * soak.c - `make test-soak`: a few minutes of everything at once, with
 * the process's resident memory and descriptors sampled and required
 * flat.  Not part of `make test` (it takes SOAK_SECONDS, 300 by default).
 *
 * The load, all the time:
 *   - spawners: goroutines that spawn short-lived goroutines, some with
 *     other stack sizes (16 KiB to 1 MiB) that touch part of their stack;
 *   - connections: a TCP echo server on loopback (port 0); clients dial,
 *     echo a few messages each under a deadline, and close; some clients
 *     dial and then go silent, so the server's read deadline fires and
 *     it closes them (-ETIMEDOUT);
 *   - timers: goroutines sleeping random short times, selecting on a
 *     channel with a timeout, and waiting on a condition variable with a
 *     timeout, signalled now and then.
 *
 * Every SAMPLE_S seconds it prints RSS, open descriptors and live
 * goroutines.  Flat means, numerically:
 *   - RSS: no sample after the warm-up (the first fifth of the run) is
 *     above the largest warm-up sample by more than 10% + 16 MB;
 *   - descriptors: none above the largest warm-up sample by more than 64
 *     (connections in flight come and go);
 *   - once the load stops and the runtime is idle for 3 s, exactly the
 *     descriptors open before the load (nothing leaked) and no goroutine
 *     but main alive.
 * Exit 0 when all hold, 1 otherwise (each failure printed).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <greenrt.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MS 1000000LL
#define SEC 1000000000LL
#define SAMPLE_S 5
#define MAX_SAMPLES 4096
#define RSS_SLACK_MB 16
#define FD_SLACK 64

static struct {
    int64_t end;              /* gr_now() when the load stops */
    atomic_int stop;          /* the load stops */
    atomic_int stop_accept;   /* ... and, once every client has ended, the acceptor */
    int lfd, port;
    atomic_long spawned, conns, echoes, timeouts, cut, sleeps, selects, conds, errors;
    gr_mutex m;
    gr_cond cv;
    gr_chan *tick;            /* selects wait on it; a ticker sends now and then */
    gr_wg wg;                 /* every load goroutine but the acceptor */
    gr_wg accepting;          /* the acceptor */
} s;

static uint64_t rnd(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* A failure that is not the load's own doing: counted and printed. */
static void error(const char *what, long r)
{
    if (atomic_fetch_add(&s.errors, 1) < 20)
        printf("error: %s: %ld (%s)\n", what, r, r < 0 ? strerror((int)-r) : "short");
}

static long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "re");
    long size, res;
    int n = f ? fscanf(f, "%ld %ld", &size, &res) : 0;
    if (f)
        fclose(f);
    return n == 2 ? res * sysconf(_SC_PAGESIZE) : -1;
}

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own */
}

/* ------------------------------------------------------------ spawners */

static void short_lived(void *arg)
{
    (void)arg;
    atomic_fetch_add(&s.spawned, 1);
}

static __attribute__((noinline)) void touch(size_t n)
{
    volatile char *a = __builtin_alloca(n);
    for (size_t i = 0; i < n; i += 4096)
        a[i] = 1;
}

static void sized(void *arg)
{
    touch((size_t)(uintptr_t)arg);
    atomic_fetch_add(&s.spawned, 1);
    gr_sleep(MS);
}

static void spawner(void *arg)
{
    uint64_t x = (uintptr_t)arg | 1;
    while (!atomic_load(&s.stop)) {
        for (int i = 0; i < 1000; i++)
            gr_go(short_lived, NULL);
        if (rnd(&x) % 4 == 0) {
            size_t size = 16384 * (1 + rnd(&x) % 64);
            gr_opts o = {.stack_size = size};
            for (int i = 0; i < 20; i++)
                gr_go_opts(sized, (void *)(uintptr_t)(size / 4), &o);
        }
        gr_sleep((int64_t)(rnd(&x) % 5) * MS);
    }
    gr_wg_done(&s.wg);
}

/* --------------------------------------------------------- connections */

static void serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[256];
    for (;;) {
        gr_set_deadline(gr_now() + 200 * MS); /* silent clients time out */
        ssize_t n = gr_read(fd, buf, sizeof buf);
        if (n == -ETIMEDOUT)
            atomic_fetch_add(&s.timeouts, 1);
        if (n <= 0 || gr_write_all(fd, buf, (size_t)n) != n)
            break;
    }
    gr_close(fd);
}

/* Until every client has ended (a connection a client made just before
 * the stop must still be served, or its echo waits for its deadline):
 * then main dials once more to wake it. */
static void acceptor(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = gr_accept(s.lfd, NULL, NULL);
        if (fd == -EMFILE || fd == -ENFILE) {
            gr_sleep(10 * MS);
            continue;
        }
        if (fd < 0) {
            error("gr_accept", fd);
            break;
        }
        if (atomic_load(&s.stop_accept)) {
            gr_close(fd);
            break;
        }
        gr_go(serve, (void *)(intptr_t)fd);
    }
    gr_wg_done(&s.accepting);
}

static void client(void *arg)
{
    uint64_t x = (uintptr_t)arg | 1;
    while (!atomic_load(&s.stop)) {
        int fd = gr_dial_tcp("127.0.0.1", s.port);
        if (fd < 0) {
            if (fd != -EMFILE && fd != -ENFILE)
                error("gr_dial_tcp", fd);
            gr_sleep(10 * MS);
            continue;
        }
        atomic_fetch_add(&s.conns, 1);
        if (rnd(&x) % 8 == 0) {
            gr_sleep(300 * MS); /* silent: the server's deadline closes it */
        } else {
            int msgs = 1 + (int)(rnd(&x) % 8);
            for (int i = 0; i < msgs; i++) {
                char out[64], in[64];
                memset(out, 'a' + i, sizeof out);
                gr_set_deadline(gr_now() + 2 * SEC);
                ssize_t w = gr_write_all(fd, out, sizeof out);
                ssize_t r = w == (ssize_t)sizeof out ? gr_read_full(fd, in, sizeof in) : w;
                if (r == (ssize_t)sizeof in && memcmp(in, out, sizeof in) != 0) {
                    error("echo: the bytes differ", 0);
                    break;
                }
                if (r != (ssize_t)sizeof in) {
                    /* The server's read deadline may have cut a client the
                     * machine's load kept waiting: the load's own doing. */
                    if (r >= 0 || r == -EPIPE || r == -ECONNRESET)
                        atomic_fetch_add(&s.cut, 1);
                    else
                        error("echo", (long)r);
                    break;
                }
                atomic_fetch_add(&s.echoes, 1);
            }
            gr_set_deadline(0);
        }
        gr_close(fd);
    }
    gr_wg_done(&s.wg);
}

/* -------------------------------------------------------------- timers */

static void sleeper(void *arg)
{
    uint64_t x = (uintptr_t)arg | 1;
    while (!atomic_load(&s.stop)) {
        gr_sleep((int64_t)(rnd(&x) % 3000) * 1000);
        atomic_fetch_add(&s.sleeps, 1);
    }
    gr_wg_done(&s.wg);
}

static void selector(void *arg)
{
    uint64_t x = (uintptr_t)arg | 1;
    while (!atomic_load(&s.stop)) {
        int v;
        gr_case c[1] = {{.chan = s.tick, .op = GR_RECV, .elem = &v}};
        int r = gr_select(c, 1, (int64_t)(1 + rnd(&x) % 5) * MS);
        if (r != 0 && r != -ETIMEDOUT)
            error("gr_select", r);
        atomic_fetch_add(&s.selects, 1);
    }
    gr_wg_done(&s.wg);
}

static void cond_waiter(void *arg)
{
    uint64_t x = (uintptr_t)arg | 1;
    while (!atomic_load(&s.stop)) {
        gr_mutex_lock(&s.m);
        int r = gr_cond_wait_timeout(&s.cv, &s.m, (int64_t)(1 + rnd(&x) % 5) * MS);
        gr_mutex_unlock(&s.m);
        if (r != 0 && r != -ETIMEDOUT)
            error("gr_cond_wait_timeout", r);
        atomic_fetch_add(&s.conds, 1);
    }
    gr_wg_done(&s.wg);
}

static void ticker(void *arg)
{
    (void)arg;
    while (!atomic_load(&s.stop)) {
        int v = 1;
        gr_chan_try_send(s.tick, &v);
        gr_cond_signal(&s.cv);
        gr_sleep(2 * MS);
    }
    gr_wg_done(&s.wg);
}

/* ---------------------------------------------------------------- main */

struct sample {
    int t;
    long rss;
    int fds;
    uint64_t live;
};

static int soak_seconds = 300;
static int failures;
static struct sample samples[MAX_SAMPLES];
static int nsamples;

static void fail(const char *what)
{
    printf("FAIL: %s\n", what);
    failures++;
}

static void sample(int t)
{
    gr_stats st;
    gr_stats_get(&st);
    struct sample x = {t, rss_bytes(), open_fds(), st.live};
    if (nsamples < MAX_SAMPLES)
        samples[nsamples++] = x;
    printf("%4d s  RSS %6.1f MB  fds %5d  goroutines %7llu  conns %ld echoes %ld deadline "
           "closes %ld (cut %ld) spawned %ld sleeps %ld selects %ld cond waits %ld errors %ld\n",
           t, x.rss / 1048576.0, x.fds, (unsigned long long)x.live, atomic_load(&s.conns),
           atomic_load(&s.echoes), atomic_load(&s.timeouts), atomic_load(&s.cut),
           atomic_load(&s.spawned),
           atomic_load(&s.sleeps), atomic_load(&s.selects), atomic_load(&s.conds),
           atomic_load(&s.errors));
    fflush(stdout);
}

static void soak_main(void *arg)
{
    (void)arg;
    int fds_before = open_fds();
    s.tick = gr_chan_make(sizeof(int), 0);
    s.lfd = gr_listen_tcp("127.0.0.1", 0, 1024);
    if (s.lfd < 0) {
        printf("FAIL: gr_listen_tcp: %s\n", strerror(-s.lfd));
        failures++;
        return;
    }
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    getsockname(s.lfd, (struct sockaddr *)&sin, &len);
    s.port = ntohs(sin.sin_port);

    gr_wg_add(&s.accepting, 1);
    gr_go(acceptor, NULL);
    int nload = 0;
    for (uintptr_t i = 1; i <= 4; i++, nload++)
        gr_go(spawner, (void *)i);
    for (uintptr_t i = 1; i <= 64; i++, nload++)
        gr_go(client, (void *)(i * 7919));
    for (uintptr_t i = 1; i <= 200; i++, nload++)
        gr_go(sleeper, (void *)(i * 104729));
    for (uintptr_t i = 1; i <= 50; i++, nload++)
        gr_go(selector, (void *)(i * 1299709));
    for (uintptr_t i = 1; i <= 50; i++, nload++)
        gr_go(cond_waiter, (void *)(i * 15485863));
    gr_go(ticker, NULL);
    nload++;
    gr_wg_add(&s.wg, nload);

    s.end = gr_now() + (int64_t)soak_seconds * SEC;
    for (int t = SAMPLE_S; t <= soak_seconds; t += SAMPLE_S) {
        gr_sleep(SAMPLE_S * SEC);
        sample(t);
    }
    atomic_store(&s.stop, 1);
    gr_wg_wait(&s.wg);
    atomic_store(&s.stop_accept, 1);
    int wake = gr_dial_tcp("127.0.0.1", s.port); /* the acceptor sees the stop */
    gr_wg_wait(&s.accepting);
    if (wake >= 0)
        gr_close(wake);
    gr_close(s.lfd);
    gr_sleep(3 * SEC); /* the servers' deadlines close what is left */

    /* Flat? */
    int warm = nsamples / 5 > 0 ? nsamples / 5 : 1;
    long rss_ref = 0;
    int fd_ref = 0;
    for (int i = 0; i < warm && i < nsamples; i++) {
        if (samples[i].rss > rss_ref)
            rss_ref = samples[i].rss;
        if (samples[i].fds > fd_ref)
            fd_ref = samples[i].fds;
    }
    char msg[256];
    for (int i = warm; i < nsamples; i++) {
        if (samples[i].rss > rss_ref + rss_ref / 10 + RSS_SLACK_MB * 1048576L) {
            snprintf(msg, sizeof msg, "RSS %.1f MB at %d s, above the warm-up's %.1f MB + 10%% + %d MB",
                     samples[i].rss / 1048576.0, samples[i].t, rss_ref / 1048576.0, RSS_SLACK_MB);
            fail(msg);
        }
        if (samples[i].fds > fd_ref + FD_SLACK) {
            snprintf(msg, sizeof msg, "%d descriptors at %d s, above the warm-up's %d + %d",
                     samples[i].fds, samples[i].t, fd_ref, FD_SLACK);
            fail(msg);
        }
    }
    int fds_after = open_fds();
    gr_stats st;
    gr_stats_get(&st);
    printf("after the load: %d descriptors (%d before it), %llu goroutines alive, RSS %.1f MB "
           "(warm-up peak %.1f MB)\n",
           fds_after, fds_before, (unsigned long long)st.live, rss_bytes() / 1048576.0,
           rss_ref / 1048576.0);
    if (fds_after != fds_before) {
        snprintf(msg, sizeof msg, "%d descriptors open after the load, %d before", fds_after,
                 fds_before);
        fail(msg);
    }
    if (st.live != 1) {
        snprintf(msg, sizeof msg, "%llu goroutines alive after the load (main only wanted)",
                 (unsigned long long)st.live);
        fail(msg);
    }
    if (atomic_load(&s.errors)) {
        snprintf(msg, sizeof msg, "%ld operations failed", atomic_load(&s.errors));
        fail(msg);
    }
    gr_chan_free(s.tick);
}

int main(void)
{
    const char *e = getenv("SOAK_SECONDS");
    if (e && atoi(e) >= 2 * SAMPLE_S)
        soak_seconds = atoi(e);
    printf("soak: %d s of goroutine, connection, timer and deadline churn; a sample every %d s\n",
           soak_seconds, SAMPLE_S);
    int rc = gr_run(soak_main, NULL);
    if (rc != 0) {
        printf("FAIL: gr_run returned %d (%s)\n", rc, strerror(-rc));
        return 1;
    }
    printf(failures ? "soak: FAILED (%d)\n" : "soak: flat\n", failures);
    return failures ? 1 : 0;
}
