/*
 * echo_greenrt.c - TCP echo server, one goroutine per connection on
 * greenrt.  The twin of echo_threads.c: same flags, same behaviour.  The
 * accept loop, limits and shutdown are in greenrt_server.c.
 *
 * A connection waits in gr_recv_buf, which holds no buffer while it waits:
 * the runtime picks one from its provided-buffer ring only when bytes
 * arrive, so 10,000 idle connections pin no read buffers.  If the kernel
 * or runtime has no provided buffers (-ENOSYS/-EOPNOTSUPP/-EINVAL), the
 * connection falls back to gr_read into a buffer on its own stack.
 *
 *   echo_greenrt [--host ADDR] [--port N] [--max-conns N]
 */
#include "greenrt_server.h"

#include <errno.h>
#include <stddef.h>

#include "greenrt.h"

#define ECHO_BUF 4096

/* The fallback, out of line so its stack buffer costs nothing when unused. */
__attribute__((noinline)) static void echo_copy(server_conn *c)
{
    char buf[ECHO_BUF];
    while (!server_conn_idle(c)) {
        ssize_t n = gr_read(c->fd, buf, sizeof(buf));
        server_conn_busy(c);
        if (n <= 0 || gr_write_all(c->fd, buf, (size_t)n) < 0)
            break;
    }
}

/* Between two messages a connection is idle: a drain closes it there. */
static void serve_echo(server_conn *c, void *ctx)
{
    (void)ctx;
    int fd = c->fd;
    while (!server_conn_idle(c)) {
        gr_buf *b = NULL;
        ssize_t n = gr_recv_buf(fd, &b);
        server_conn_busy(c);
        if (n == -ENOSYS || n == -EOPNOTSUPP || n == -EINVAL) {
            echo_copy(c);
            break;
        }
        if (n <= 0)
            break;
        ssize_t w = gr_write_all(fd, b->data, (size_t)n);
        gr_buf_release(b);
        if (w < 0)
            break;
    }
    greenrt_close(fd);
}

int main(int argc, char **argv)
{
    server_opts o;
    server_parse_args(&o, argc, argv, "echo_greenrt", &(server_flags){0});
    server_app app = {.prog = "echo_greenrt", .serve = serve_echo, .ctx = NULL};
    return greenrt_server_run(&o, &app);
}
