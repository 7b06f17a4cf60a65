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

static void serve_echo(int fd, void *ctx)
{
    (void)ctx;
    char buf[ECHO_BUF];
    for (;;) {
        ssize_t n = threads_read(fd, buf, sizeof(buf));
        if (n <= 0 || threads_write_all(fd, buf, (size_t)n) < 0)
            break;
    }
    threads_close(fd);
}

int main(int argc, char **argv)
{
    server_opts o;
    server_parse_args(&o, argc, argv, "echo_threads", 0);
    server_app app = {.prog = "echo_threads", .serve = serve_echo, .ctx = NULL};
    return threads_server_run(&o, &app);
}
