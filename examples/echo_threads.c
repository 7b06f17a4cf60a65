/*
 * echo_threads.c - TCP echo server, one OS thread per connection with
 * blocking read/write: the baseline greenrt is compared against.  The
 * accept loop, limits and shutdown are in threads_server.c.
 *
 *   echo_threads [--host ADDR] [--port N] [--max-conns N]
 */
#include "threads_server.h"

#include <stddef.h>

#define ECHO_BUF 16384 /* on the 64 KiB thread stack */

/* Between two messages a connection is idle: a drain closes it there. */
static void serve_echo(server_conn *c, void *ctx)
{
    (void)ctx;
    char buf[ECHO_BUF];
    while (!server_conn_idle(c)) {
        ssize_t n = threads_read(c->fd, buf, sizeof(buf));
        server_conn_busy(c);
        if (n <= 0 || threads_write_all(c->fd, buf, (size_t)n) < 0)
            break;
    }
    threads_close(c->fd);
}

int main(int argc, char **argv)
{
    server_opts o;
    server_parse_args(&o, argc, argv, "echo_threads", &(server_flags){0});
    server_app app = {.prog = "echo_threads", .serve = serve_echo, .ctx = NULL};
    return threads_server_run(&o, &app);
}
