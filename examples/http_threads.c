/*
 * http_threads.c - HTTP/1.1 keep-alive server, one OS thread per
 * connection with blocking syscalls.  The connection loop (parsing,
 * routes, files, limits) is http_serve.c, shared with http_greenrt; this
 * file only supplies the blocking I/O calls.
 *
 *   http_threads [--host ADDR] [--port N] [--max-conns N] [--root DIR]
 */
#include "http_serve.h"
#include "threads_server.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/time.h>

static void set_read_timeout(int fd, int ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

static const http_io threads_io = {
    .read = threads_read,
    .write_all = threads_write_all,
    .set_read_timeout = set_read_timeout,
    .open_file = http_resolve_open,
    .close = threads_close,
};

static void serve_http(int fd, void *ctx)
{
    http_serve_conn(&threads_io, ctx, fd);
}

int main(int argc, char **argv)
{
    server_opts o;
    server_parse_args(&o, argc, argv, "http_threads", 1);
    server_app app = {.prog = "http_threads", .serve = serve_http, .ctx = (void *)o.root};
    return threads_server_run(&o, &app);
}
