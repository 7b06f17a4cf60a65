/*
 * bench_io.c - I/O micro-benchmarks of greenrt: a one-byte round trip
 * through two pipes between two goroutines, with gr_read/gr_write, and an
 * echo over loopback TCP inside one process.
 *
 *   pipe_roundtrip  main writes a byte to pipe A; a goroutine reads it
 *                   and writes it to pipe B; main reads it back.
 *                   wall time / round trips                    ns/round trip
 *
 *   tcp_echo_c1000  ECHO_C (1,000) client goroutines each keep one
 *                   ECHO_MSG-byte request in flight to as many server
 *                   goroutines over loopback TCP in the same process
 *                   (closed loop).                              requests/s
 *   tcp_echo_enters_per_req  io_uring_enter calls per request in that run
 *                   (batching: one enter serves many requests)  enters/req
 *
 * In the pipe round trip both goroutines park on io_uring completions, so
 * it measures the I/O path end to end: submission, the kernel's pipe
 * wake-up, completion reaping and the goroutine hand-off.  The pipes are ordinary (blocking)
 * pipes, as a program would have them; the loop stops after a fixed count
 * or the time cap (-t), whichever comes first.  The Go twin is
 * pipe_roundtrip in bench/go (os.Pipe, through Go's netpoller).
 */
#define _GNU_SOURCE
#include "bench_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <greenrt.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>

#define PIPE_N 500000L
#define CHECK_EVERY 256

static int a[2], b[2]; /* a: main -> echoer, b: echoer -> main */
static gr_wg echo_wg;

static void echoer(void *unused)
{
    char c;
    ssize_t r;
    while ((r = gr_read(a[0], &c, 1)) == 1)
        if ((r = gr_write(b[1], &c, 1)) != 1)
            break;
    if (r < 0)
        bench_fail("pipe_roundtrip: echoer: %s", strerror((int)-r));
    gr_wg_done(&echo_wg);
}

static void round_trip(long i)
{
    char c = (char)i, back = 0;
    ssize_t r = gr_write(a[1], &c, 1);
    if (r != 1)
        bench_fail("pipe_roundtrip: gr_write returned %zd (%s)", r,
                   r < 0 ? strerror((int)-r) : "short");
    r = gr_read(b[0], &back, 1);
    if (r != 1)
        bench_fail("pipe_roundtrip: gr_read returned %zd (%s)", r,
                   r < 0 ? strerror((int)-r) : "end of file");
    if (back != c)
        bench_fail("pipe_roundtrip: wrote %d, read back %d", c, back);
}

static void bench_pipe_roundtrip(void *unused)
{
    long n = bench_scaled(PIPE_N), i;
    if (pipe2(a, O_CLOEXEC) < 0 || pipe2(b, O_CLOEXEC) < 0)
        bench_fail("pipe_roundtrip: pipe2: %s", strerror(errno));
    gr_wg_add(&echo_wg, 1);
    gr_go(echoer, NULL);
    for (i = 0; i < 1000; i++) /* warm up */
        round_trip(i);
    int64_t t0 = gr_now();
    int64_t deadline = t0 + (int64_t)(bench_time_cap() * 1e9);
    for (i = 0; i < n;) {
        round_trip(i);
        if (++i % CHECK_EVERY == 0 && gr_now() > deadline)
            break;
    }
    int64_t t1 = gr_now();
    gr_close(a[1]); /* the echoer reads end of file and leaves */
    gr_wg_wait(&echo_wg);
    bench_report("pipe_roundtrip", "ns", (double)(t1 - t0) / i, i);
    bench_note_stats("after pipe round trips");
    gr_close(a[0]);
    gr_close(b[0]);
    gr_close(b[1]);
}

/* ---- in-process TCP echo: C connections, 64-byte messages ---- */

#define ECHO_C 1000
#define ECHO_MSG 64

static volatile int echo_stop;
static long echo_done[ECHO_C];
static gr_wg echo_clients;
static int echo_port;

static void echo_serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[ECHO_MSG];
    for (;;) {
        ssize_t n = gr_read(fd, buf, sizeof buf);
        if (n <= 0 || gr_write_all(fd, buf, (size_t)n) != n)
            break;
    }
    gr_close(fd);
}

static void echo_accept(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    for (int i = 0; i < ECHO_C; i++) {
        int fd = gr_accept(lfd, NULL, NULL);
        if (fd < 0)
            bench_fail("tcp_echo: gr_accept: %s", strerror(-fd));
        gr_go(echo_serve, (void *)(intptr_t)fd);
    }
}

static void echo_client(void *arg)
{
    long idx = (long)(intptr_t)arg;
    int fd = gr_dial_tcp("127.0.0.1", echo_port);
    if (fd < 0)
        bench_fail("tcp_echo: gr_dial_tcp: %s", strerror(-fd));
    char msg[ECHO_MSG], back[ECHO_MSG];
    memset(msg, 'a' + (int)(idx % 26), sizeof msg);
    while (!echo_stop) {
        if (gr_write_all(fd, msg, sizeof msg) != ECHO_MSG ||
            gr_read_full(fd, back, sizeof back) != ECHO_MSG || memcmp(msg, back, sizeof msg))
            bench_fail("tcp_echo: connection %ld: bad echo", idx);
        echo_done[idx]++;
    }
    gr_close(fd);
    gr_wg_done(&echo_clients);
}

static void bench_tcp_echo(void *unused)
{
    int lfd = gr_listen_tcp("127.0.0.1", 0, 4096);
    if (lfd < 0)
        bench_fail("tcp_echo: gr_listen_tcp: %s", strerror(-lfd));
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    getsockname(lfd, (struct sockaddr *)&sa, &len);
    echo_port = ntohs(sa.sin_port);
    gr_go(echo_accept, (void *)(intptr_t)lfd);
    gr_wg_add(&echo_clients, ECHO_C);
    for (long i = 0; i < ECHO_C; i++)
        gr_go(echo_client, (void *)(intptr_t)i);
    double secs = bench_time_cap() < 1.0 ? 1.0 : bench_time_cap();
    gr_sleep(200 * 1000 * 1000); /* warm-up: all connected and running */
    long before = 0, after = 0;
    for (int i = 0; i < ECHO_C; i++)
        before += echo_done[i];
    gr_stats s0, s1;
    gr_stats_get(&s0);
    int64_t t0 = gr_now();
    gr_sleep((int64_t)(secs * 1e9));
    int64_t t1 = gr_now();
    gr_stats_get(&s1);
    for (int i = 0; i < ECHO_C; i++)
        after += echo_done[i];
    echo_stop = 1;
    gr_wg_wait(&echo_clients);
    gr_close(lfd);
    long reqs = after - before;
    bench_report("tcp_echo_c1000", "req/s", reqs / ((t1 - t0) / 1e9), reqs);
    bench_report("tcp_echo_enters_per_req", "enters/req",
                 (double)(s1.ring_enters - s0.ring_enters) / (double)(reqs ? reqs : 1), reqs);
}

static const struct bench_fig figs[] = {
    {"tcp_echo_c1000", "in-process TCP echo, 1,000 connections, 64-byte messages", bench_tcp_echo},
    {"pipe_roundtrip", "1-byte round trip over two pipes between two goroutines (ns)",
     bench_pipe_roundtrip},
};

int main(int argc, char **argv)
{
    return bench_main(argc, argv, figs, (int)(sizeof(figs) / sizeof(figs[0])));
}
