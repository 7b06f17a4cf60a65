/*
 * http_greenrt.c - HTTP/1.1 keep-alive server, one goroutine per
 * connection on greenrt.  The connection loop (parsing, routes, files,
 * limits) is http_serve.c, shared with http_threads; this file only
 * supplies the gr_ I/O calls.  Resolving a path (realpath: lstat and
 * readlink calls io_uring cannot make) and opening the file run on the
 * offload pool through gr_blocking, so they never block a worker.
 *
 *   http_greenrt [--host ADDR] [--port N] [--max-conns N] [--grace S]
 *                [--read-timeout MS] [--idle-timeout MS] [--root DIR]
 */
#include "greenrt_server.h"
#include "http_serve.h"

#include <errno.h>

#include "greenrt.h"

struct open_call {
    const char *root, *path;
    int64_t size;
    int result;
};

static void open_offloaded(void *p)
{
    struct open_call *c = p;
    c->result = http_resolve_open(c->root, c->path, &c->size);
}

static int open_file(const char *root, const char *path, int64_t *size)
{
    struct open_call c = {.root = root, .path = path, .size = 0, .result = -404};
    int r = gr_blocking(open_offloaded, &c);
    if (r < 0)
        return -404;
    *size = c.size;
    return c.result;
}

static const http_io greenrt_io = {
    .read = gr_read,
    .read_deadline = greenrt_read_deadline,
    .write_all = gr_write_all,
    .open_file = open_file,
    .close = greenrt_close,
};

static void serve_http(server_conn *c, void *ctx)
{
    http_serve_conn(&greenrt_io, ctx, c);
}

int main(int argc, char **argv)
{
    server_opts o;
    server_flags fl = {.want_root = 1, .want_timeouts = 1,
                       .read_timeout_ms = HTTP_READ_TIMEOUT_MS,
                       .idle_timeout_ms = HTTP_IDLE_TIMEOUT_MS};
    server_parse_args(&o, argc, argv, "http_greenrt", &fl);
    http_conf conf = {.root = o.root, .read_timeout_ms = o.read_timeout_ms,
                      .idle_timeout_ms = o.idle_timeout_ms};
    server_app app = {.prog = "http_greenrt", .serve = serve_http, .ctx = &conf};
    return greenrt_server_run(&o, &app);
}
