/*
 * kv_greenrt.c - the kv service (a Redis-protocol server), one goroutine
 * per connection on greenrt.  The connection loop, the commands and the
 * store are shared with kv_threads (kv_serve.c, kv_cmd*.c, kv_store.c);
 * this file supplies the gr_ I/O calls, the store's locks (gr_mutex: a
 * goroutine that waits for a shard parks, its worker runs others) and
 * the expiry sweeper, a goroutine woken every KV_SWEEP_PERIOD_MS by a
 * greenrt timer (gr_select on its stop channel with a timeout).
 *
 *   kv_greenrt [--host ADDR] [--port N] [--max-conns N] [--grace S]
 *              [--read-timeout MS] [--idle-timeout MS]
 */
#include "greenrt_server.h"
#include "kv_serve.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "greenrt.h"

_Static_assert(sizeof(gr_mutex) <= KV_LOCK_SIZE, "a gr_mutex must fit in a kv shard");

static void lock_init(void *l)
{
    *(gr_mutex *)l = (gr_mutex)GR_MUTEX_INIT;
}

static void lock_lock(void *l)
{
    gr_mutex_lock(l);
}

static void lock_unlock(void *l)
{
    gr_mutex_unlock(l);
}

static void lock_destroy(void *l)
{
    (void)l;
}

static const kv_lock_ops greenrt_locks = {lock_init, lock_lock, lock_unlock, lock_destroy};

static kv_store store;
static kv_server srv;
static gr_chan *sweep_stop; /* closed by stop_kv: the sweeper returns */
static gr_wg sweep_done;

/* gr_recv_buf with a deadline scoped to it, as greenrt_read_deadline. */
static ssize_t recv_chunk(int fd, void **handle, char **data, int64_t deadline_ms)
{
    gr_buf *b = NULL;
    if (deadline_ms)
        gr_set_deadline(deadline_ms * 1000000);
    ssize_t n = gr_recv_buf(fd, &b);
    if (deadline_ms)
        gr_set_deadline(0);
    if (n > 0) {
        *handle = b;
        *data = b->data;
    }
    return n;
}

static void release_chunk(void *handle)
{
    gr_buf_release(handle);
}

static const kv_io greenrt_io = {
    .read = greenrt_read_deadline,
    .recv_chunk = recv_chunk,
    .release_chunk = release_chunk,
    .write_all = gr_write_all,
    .close = greenrt_close,
};

static void serve_kv(server_conn *c, void *ctx)
{
    kv_serve_conn(&greenrt_io, ctx, c);
}

static void sweeper(void *arg)
{
    (void)arg;
    uint64_t rng = (uint64_t)gr_now() | 1;
    char none;
    for (;;) {
        gr_case stop = {.chan = sweep_stop, .op = GR_RECV, .elem = &none};
        if (gr_select(&stop, 1, (int64_t)KV_SWEEP_PERIOD_MS * 1000000) == 0)
            break; /* closed */
        kv_server_sweep(&srv, &rng, gr_yield);
    }
    gr_wg_done(&sweep_done);
}

static int start_kv(void *ctx, int listen_fd)
{
    (void)ctx;
    kv_server_listening(&srv, listen_fd);
    sweep_stop = gr_chan_make(1, 0);
    if (!sweep_stop) {
        fprintf(stderr, "kv_greenrt: out of memory\n");
        return 1;
    }
    gr_wg_add(&sweep_done, 1);
    int64_t id = gr_go_opts(sweeper, NULL, &(gr_opts){.stack_size = 0, .name = "kv-sweeper"});
    if (id < 0) {
        fprintf(stderr, "kv_greenrt: cannot start the expiry sweeper: %s\n", strerror((int)-id));
        gr_wg_done(&sweep_done);
        return 1;
    }
    return 0;
}

static void stop_kv(void *ctx)
{
    (void)ctx;
    gr_chan_close(sweep_stop);
    gr_wg_wait(&sweep_done);
    gr_chan_free(sweep_stop);
    sweep_stop = NULL;
}

int main(int argc, char **argv)
{
    server_opts o;
    server_flags fl = {.want_timeouts = 1, .read_timeout_ms = KV_READ_TIMEOUT_MS,
                       .idle_timeout_ms = KV_IDLE_TIMEOUT_MS};
    server_parse_args(&o, argc, argv, "kv_greenrt", &fl);
    if (kv_server_init(&srv, &store, &greenrt_locks, "greenrt") < 0) {
        fprintf(stderr, "kv_greenrt: out of memory\n");
        return 1;
    }
    srv.read_timeout_ms = o.read_timeout_ms;
    srv.idle_timeout_ms = o.idle_timeout_ms;
    server_app app = {.prog = "kv_greenrt", .serve = serve_kv, .start = start_kv,
                      .stop = stop_kv, .ctx = &srv};
    int rc = greenrt_server_run(&o, &app);
    kv_server_destroy(&srv);
    return rc;
}
