/*
 * http_serve.h - the HTTP/1.1 keep-alive connection loop shared by
 * http_threads (blocking syscalls, one pthread per connection) and
 * http_greenrt (gr_ I/O, one goroutine per connection).  The loop is the
 * same code in both models; only the I/O calls behind http_io differ, so a
 * comparison of the two servers compares the concurrency models and
 * nothing else.
 */
#ifndef EXAMPLES_HTTP_SERVE_H
#define EXAMPLES_HTTP_SERVE_H

#include <stdint.h>
#include <sys/types.h>

#include "server_common.h"

/* The fixed body served at HTTP_HELLO_PATH. */
#define HTTP_HELLO_PATH "/hello"
#define HTTP_HELLO_BODY "Hello, world!\n"

/* The I/O a connection needs; every function returns -errno on failure. */
typedef struct http_io {
    ssize_t (*read)(int fd, void *buf, size_t n);            /* files: count, 0 at EOF */
    /* The connection's reads: as read, or -ETIMEDOUT once deadline_ms
     * (server_now_ms() time; 0: none) has passed. */
    ssize_t (*read_deadline)(int fd, void *buf, size_t n, int64_t deadline_ms);
    ssize_t (*write_all)(int fd, const void *buf, size_t n); /* n */
    /* Open root/path for reading: an fd and *size, or -403 / -404. */
    int (*open_file)(const char *root, const char *path, int64_t *size);
    int (*close)(int fd);
} http_io;

/* What a connection needs to know of the server's configuration. */
typedef struct http_conf {
    const char *root;        /* realpath() of the document directory, or NULL
                                to serve only HTTP_HELLO_PATH */
    int64_t read_timeout_ms; /* a request, once begun, must arrive within it (0: no limit) */
    int64_t idle_timeout_ms; /* between requests (0: wait forever) */
} http_conf;

/* The timeouts' defaults (nginx: client_header_timeout 60 s,
 * keepalive_timeout 75 s). */
#define HTTP_READ_TIMEOUT_MS 10000
#define HTTP_IDLE_TIMEOUT_MS 60000

/* Serves requests on c->fd until the client closes, asks to close, sends
 * something invalid, is too slow (conf's timeouts), or the server drains
 * (server_common.h) between two requests; then closes the fd. */
void http_serve_conn(const http_io *io, const http_conf *conf, server_conn *c);

/* The blocking file resolver both models use (http_greenrt runs it on the
 * offload pool): realpath(root + path) must lie inside root (so ".." and
 * symlinks cannot escape it) and be a regular file.  Returns an O_RDONLY
 * fd and its size, or -403 (outside root, not readable) / -404. */
int http_resolve_open(const char *root, const char *path, int64_t *size);

#endif
