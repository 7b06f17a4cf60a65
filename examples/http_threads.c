/*
 * http_threads.c - HTTP/1.1 keep-alive server, one OS thread per
 * connection with blocking syscalls.  The connection loop (parsing,
 * routes, files, limits) is http_serve.c, shared with http_greenrt; this
 * file only supplies the blocking I/O calls.
 *
 *   http_threads [--host ADDR] [--port N] [--max-conns N] [--grace S]
 *                [--read-timeout MS] [--idle-timeout MS] [--root DIR]
 */
#include "http_serve.h"
#include "threads_server.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/time.h>

static const http_io threads_io = {
    .read = threads_read,
    .read_deadline = threads_read_deadline,
    .write_all = threads_write_all,
    .open_file = http_resolve_open,
    .close = threads_close,
};

static void serve_http(server_conn *c, void *ctx)
{
    http_serve_conn(&threads_io, ctx, c);
}

int main(int argc, char **argv)
{
    server_opts o;
    server_flags fl = {.want_root = 1, .want_timeouts = 1,
                       .read_timeout_ms = HTTP_READ_TIMEOUT_MS,
                       .idle_timeout_ms = HTTP_IDLE_TIMEOUT_MS};
    server_parse_args(&o, argc, argv, "http_threads", &fl);
    http_conf conf = {.root = o.root, .read_timeout_ms = o.read_timeout_ms,
                      .idle_timeout_ms = o.idle_timeout_ms};
    server_app app = {.prog = "http_threads", .serve = serve_http, .ctx = &conf};
    return threads_server_run(&o, &app);
}
