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

/* The fixed body served at HTTP_HELLO_PATH. */
#define HTTP_HELLO_PATH "/hello"
#define HTTP_HELLO_BODY "Hello, world!\n"

/* The I/O a connection needs; every function returns -errno on failure. */
typedef struct http_io {
    ssize_t (*read)(int fd, void *buf, size_t n);            /* count, 0 at EOF */
    ssize_t (*write_all)(int fd, const void *buf, size_t n); /* n */
    /* Give up on reads that wait longer than ms milliseconds (ms 0:
     * never); used only for the lingering close after an error. */
    void (*set_read_timeout)(int fd, int ms);
    /* Open root/path for reading: an fd and *size, or -403 / -404. */
    int (*open_file)(const char *root, const char *path, int64_t *size);
    int (*close)(int fd);
} http_io;

/* Serves requests on fd until the client closes, asks to close, or sends
 * something invalid; then closes fd.  root is the realpath() of the
 * document directory, or NULL to serve only HTTP_HELLO_PATH. */
void http_serve_conn(const http_io *io, const char *root, int fd);

/* The blocking file resolver both models use (http_greenrt runs it on the
 * offload pool): realpath(root + path) must lie inside root (so ".." and
 * symlinks cannot escape it) and be a regular file.  Returns an O_RDONLY
 * fd and its size, or -403 (outside root, not readable) / -404. */
int http_resolve_open(const char *root, const char *path, int64_t *size);

#endif
