/*
 * greenrt_server.h - the goroutine-per-connection server skeleton: an
 * accept loop in the main goroutine that starts one goroutine per
 * connection, and the SIGINT/SIGTERM shutdown.  echo_greenrt and
 * http_greenrt supply only the per-connection function.
 */
#ifndef EXAMPLES_GREENRT_SERVER_H
#define EXAMPLES_GREENRT_SERVER_H

#include "server_common.h"

/* app->serve(fd, ctx) runs in the connection's goroutine and must close fd
 * with greenrt_close before returning; app->start and app->stop run in the
 * main goroutine.  Returns the process exit status: 0 after a clean
 * signal-driven shutdown, 1 if the server could not start. */
int greenrt_server_run(const server_opts *o, const server_app *app);

/* Closes fd (gr_close), first removing it from the live set if it is a
 * connection.  Call from a goroutine. */
int greenrt_close(int fd);

#endif
