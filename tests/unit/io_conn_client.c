/*
 * io_conn_client.c - the client half of test_net_10k_connections.
 *
 *   io_conn_client PORT N
 *
 * Opens N TCP connections to 127.0.0.1:PORT from N goroutines (at most
 * DIAL_PARALLEL dialling at a time, so the server's accept backlog never
 * overflows into SYN retransmits), echoes one 8-byte message on each,
 * then holds every connection open until all N are established - so the
 * server really has N live sockets at once - echoes a second message on
 * each and closes them all.  Exits 0 when every connection did both round
 * trips with the right bytes, 1 otherwise (with the first error on
 * stderr).  It runs in its own process because the server side alone
 * needs N descriptors and the two sides together (2 N) would not fit the
 * machine's 20,000-descriptor hard limit for N = 10,000.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <greenrt.h>

#define DIAL_PARALLEL 256

static int port, nconn;
static gr_chan *dial_slots;  /* buffered: a token per dialler in flight */
static gr_chan *all_open;    /* closed once every connection is up */
static gr_wg opened, finished;
static atomic_long ok_conns, failures;
static atomic_int first_err_claimed;
static char first_err[256];

static void fail(const char *what, long id, long err)
{
    atomic_fetch_add(&failures, 1);
    if (atomic_exchange(&first_err_claimed, 1) == 0)
        snprintf(first_err, sizeof first_err, "connection %ld: %s: %ld (%s)", id,
                 what, err, err < 0 ? strerror((int)-err) : "-");
}

static int echo_once(int fd, uint64_t v, long id)
{
    uint64_t back = 0;
    ssize_t r = gr_write_all(fd, &v, sizeof v);
    if (r != (ssize_t)sizeof v) {
        fail("write", id, r);
        return -1;
    }
    r = gr_read_full(fd, &back, sizeof back);
    if (r != (ssize_t)sizeof back || back != v) {
        fail(r == (ssize_t)sizeof back ? "wrong echo" : "read", id, r);
        return -1;
    }
    return 0;
}

static void client(void *arg)
{
    long id = (long)(intptr_t)arg;
    char tok = 0;
    gr_chan_send(dial_slots, &tok);
    int fd = gr_dial_tcp("127.0.0.1", port);
    gr_chan_recv(dial_slots, &tok);
    int good = fd >= 0;
    if (!good)
        fail("dial", id, fd);
    else if (echo_once(fd, (uint64_t)id * 2654435761u, id) < 0)
        good = 0;
    gr_wg_done(&opened);
    gr_chan_recv(all_open, NULL); /* -EPIPE once closed: everyone is up */
    if (good && echo_once(fd, ~(uint64_t)id, id) == 0)
        atomic_fetch_add(&ok_conns, 1);
    if (fd >= 0) {
        int c = gr_close(fd);
        if (c != 0)
            fail("close", id, c);
    }
    gr_wg_done(&finished);
}

static void main_fn(void *arg)
{
    (void)arg;
    dial_slots = gr_chan_make(1, DIAL_PARALLEL);
    all_open = gr_chan_make(0, 0);
    if (!dial_slots || !all_open) {
        fail("gr_chan_make", -1, -ENOMEM);
        return;
    }
    gr_wg_add(&opened, nconn);
    gr_wg_add(&finished, nconn);
    for (long i = 0; i < nconn; i++) {
        int64_t id = gr_go(client, (void *)(intptr_t)i);
        if (id <= 0) {
            fail("gr_go", i, id);
            gr_wg_done(&opened);
            gr_wg_done(&finished);
        }
    }
    gr_wg_wait(&opened);
    gr_chan_close(all_open);
    gr_wg_wait(&finished);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: io_conn_client PORT N\n");
        return 2;
    }
    port = atoi(argv[1]);
    nconn = atoi(argv[2]);
    alarm(120); /* never outlive a stuck test */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    int rc = gr_run(main_fn, NULL);
    if (rc != 0) {
        fprintf(stderr, "io_conn_client: gr_run failed: %s\n", strerror(-rc));
        return 1;
    }
    long ok = atomic_load(&ok_conns);
    printf("io_conn_client: %ld/%d connections echoed twice\n", ok, nconn);
    if (atomic_load(&failures) || ok != nconn) {
        fprintf(stderr, "io_conn_client: %ld failures; first: %s\n",
                atomic_load(&failures), first_err);
        return 1;
    }
    return 0;
}
