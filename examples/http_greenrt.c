/*
 * http_greenrt.c - HTTP/1.1 keep-alive server, one goroutine per
 * connection on greenrt.  The connection loop (parsing, routes, files,
 * limits) is http_serve.c, shared with http_threads; this file only
 * supplies the gr_ I/O calls.  Resolving a path (realpath: lstat and
 * readlink calls io_uring cannot make) and opening the file run on the
 * offload pool through gr_blocking, so they never block a worker.
 *
 *   http_greenrt [--host ADDR] [--port N] [--max-conns N] [--root DIR]
 */
#include "greenrt_server.h"
#include "http_serve.h"

#include <errno.h>

#include "greenrt.h"

static void set_read_timeout(int fd, int ms)
{
    (void)fd;
    gr_set_deadline(ms > 0 ? gr_now() + (int64_t)ms * 1000000 : 0);
}

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
    .write_all = gr_write_all,
    .set_read_timeout = set_read_timeout,
    .open_file = open_file,
    .close = greenrt_close,
};

static void serve_http(int fd, void *ctx)
{
    http_serve_conn(&greenrt_io, ctx, fd);
}

int main(int argc, char **argv)
{
    server_opts o;
    server_parse_args(&o, argc, argv, "http_greenrt", 1);
    server_app app = {.prog = "http_greenrt", .serve = serve_http, .ctx = (void *)o.root};
    return greenrt_server_run(&o, &app);
}
