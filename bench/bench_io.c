/*
 * bench_io.c - I/O micro-benchmark of greenrt: a one-byte round trip
 * through two pipes between two goroutines, with gr_read/gr_write.
 *
 *   pipe_roundtrip  main writes a byte to pipe A; a goroutine reads it
 *                   and writes it to pipe B; main reads it back.
 *                   wall time / round trips                    ns/round trip
 *
 * Both goroutines park on io_uring completions, so this measures the I/O
 * path end to end: submission, the kernel's pipe wake-up, completion
 * reaping and the goroutine hand-off.  The pipes are ordinary (blocking)
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

static const struct bench_fig figs[] = {
    {"pipe_roundtrip", "1-byte round trip over two pipes between two goroutines (ns)",
     bench_pipe_roundtrip},
};

int main(int argc, char **argv)
{
    return bench_main(argc, argv, figs, (int)(sizeof(figs) / sizeof(figs[0])));
}
