/*
 * threads_server.h - the thread-per-connection server skeleton: a blocking
 * accept loop that starts one detached pthread (THREADS_STACK_SIZE) per
 * connection, and the SIGINT/SIGTERM shutdown.  echo_threads and
 * http_threads supply only the per-connection function.
 */
#ifndef EXAMPLES_THREADS_SERVER_H
#define EXAMPLES_THREADS_SERVER_H

#include "server_common.h"

#include <sys/types.h>

#define THREADS_STACK_SIZE (64 * 1024)

/* app->serve(fd, ctx) runs on the connection's own thread and must close
 * fd with threads_close before returning; app->start and app->stop run on
 * the main thread.  Returns the process exit status: 0 after a clean
 * signal-driven shutdown, 1 if the server could not start. */
int threads_server_run(const server_opts *o, const server_app *app);

/* Blocking helpers for serve functions: -errno on failure, EINTR retried,
 * sends never raise SIGPIPE. */
ssize_t threads_read(int fd, void *buf, size_t n);
/* threads_read that gives up at deadline_ms (server_now_ms() time; 0:
 * none) with -ETIMEDOUT.  The timeout is the socket's SO_RCVTIMEO, set
 * only when it changes (a thread serves one connection), so a loop that
 * reads with the same idle timeout each time makes no extra system call. */
ssize_t threads_read_deadline(int fd, void *buf, size_t n, int64_t deadline_ms);
ssize_t threads_write_all(int fd, const void *buf, size_t n);
/* Closes fd, first removing it from the live set if it is a connection. */
int threads_close(int fd);

#endif
