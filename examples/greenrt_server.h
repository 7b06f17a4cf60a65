/*
 * greenrt_server.h - the goroutine-per-connection server skeleton: an
 * accept loop that starts one goroutine per connection, all of them one
 * group, and the SIGINT/SIGTERM shutdown on that group.  echo_greenrt,
 * http_greenrt and kv_greenrt supply only the per-connection function.
 */
#ifndef EXAMPLES_GREENRT_SERVER_H
#define EXAMPLES_GREENRT_SERVER_H

#include <sys/types.h>

#include "server_common.h"

/* app->serve(fd, ctx) runs in the connection's goroutine and must close fd
 * with greenrt_close before returning (after the grace period its I/O
 * returns -ECANCELED: it must then end); app->start and app->stop run in
 * the main goroutine.  Returns the process exit status: 0 after a clean
 * signal-driven shutdown, 1 if the server could not start. */
int greenrt_server_run(const server_opts *o, const server_app *app);

/* Closes fd (gr_close), first removing it from the live set if it is a
 * connection.  Call from a goroutine. */
int greenrt_close(int fd);

/* gr_read that gives up with -ETIMEDOUT once deadline_ms (server_now_ms()
 * time; 0: none) has passed.  The deadline is the goroutine's
 * (gr_set_deadline), scoped to this read so that the writes after it are
 * not bound by it; with none the read costs nothing extra. */
ssize_t greenrt_read_deadline(int fd, void *buf, size_t n, int64_t deadline_ms);

#endif
