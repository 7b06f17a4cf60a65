/*
 * http_serve.c - one HTTP/1.1 keep-alive connection, in either model.
 *
 * The connection owns one buffer of HTTP_MAX_HEAD bytes.  Bytes are read
 * into it and fed to the parser until a request head is complete; the
 * response is written; the request's body (Content-Length bytes, allowed
 * on any method) is skipped, first from what is already buffered, then by
 * reading and discarding; whatever follows - pipelined requests - is moved
 * to the front of the buffer and parsed next without another read.
 *
 * Routes: GET/HEAD HTTP_HELLO_PATH gives a fixed body; other paths are
 * files under the document root (decoded by http_path_decode, which
 * refuses "." and ".." segments, then checked again after realpath() so a
 * symlink cannot lead outside); other methods get 405.  An invalid request
 * gets its status (400, 413, 414, 431, 501, 505) and the connection is
 * closed with a "lingering close": shut down our side, then read and drop
 * what the client still sends for up to a second, so that the kernel does
 * not answer the unread bytes with a RST that destroys the response before
 * the client reads it.
 *
 * Timeouts: waiting for a request's first byte, the connection gives up
 * after the idle timeout; once a request has begun, its head and body
 * must arrive within the read timeout - whatever the client trickles -
 * so a slow or silent client costs a goroutine or thread for a bounded
 * time.  The deadline is absolute (io->read_deadline), not per read.
 * Between two requests the connection is idle for the drain
 * (server_conn_idle): a shutdown closes it there, and a request already
 * received (pipelined ones included) is answered first.
 *
 * Each response head goes out in the same write as its body (or the
 * body's first chunk): a separate small write would meet Nagle's algorithm
 * and the client's delayed ACK.  Files are copied through a FILE_CHUNK
 * buffer allocated per response (not sendfile: the greenrt model has no
 * sendfile, and the point is that both models do the same work).
 */
#include "http_serve.h"
#include "http_parse.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_CHUNK (16 * 1024)
#define LINGER_MS 1000
#define LINGER_MAX (256 * 1024)

static const char *content_type(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (!dot || strchr(dot, '/'))
        return "application/octet-stream";
    if (!strcmp(dot, ".html") || !strcmp(dot, ".htm"))
        return "text/html; charset=utf-8";
    if (!strcmp(dot, ".txt"))
        return "text/plain; charset=utf-8";
    if (!strcmp(dot, ".json"))
        return "application/json";
    return "application/octet-stream";
}

/* Formats a response head into h (at least 512 bytes); returns its length. */
static size_t format_head(char *h, size_t hsz, int status, int64_t len, const char *ctype,
                          int keep_alive, const char *extra)
{
    int n = snprintf(h, hsz,
                     "HTTP/1.1 %d %s\r\n"
                     "Server: greenrt-example\r\n"
                     "Content-Type: %s\r\n"
                     "Content-Length: %lld\r\n"
                     "%s"
                     "Connection: %s\r\n\r\n",
                     status, http_reason(status), ctype, (long long)len,
                     extra ? extra : "", keep_alive ? "keep-alive" : "close");
    return n < 0 ? 0 : ((size_t)n >= hsz ? hsz - 1 : (size_t)n);
}

/* A response with a small in-memory body, in one write: separate head and
 * body writes would meet Nagle's algorithm and the client's delayed ACK
 * (a 40 ms stall per request). */
static int write_small(const http_io *io, int fd, int status, const char *ctype,
                       const char *body, size_t blen, int head_only, int keep_alive)
{
    char out[1024];
    size_t n = format_head(out, 512, status, (int64_t)blen, ctype, keep_alive,
                           status == 405 ? "Allow: GET, HEAD\r\n" : NULL);
    int separate = !head_only && blen > sizeof(out) - n;
    if (!head_only && !separate) {
        memcpy(out + n, body, blen);
        n += blen;
    }
    ssize_t w = io->write_all(fd, out, n);
    if (w >= 0 && separate)
        w = io->write_all(fd, body, blen);
    return w < 0 ? (int)w : 0;
}

/* A status with a one-line text body (errors, 404...). */
static int write_status(const http_io *io, int fd, int status, int head_only,
                        int keep_alive)
{
    char body[96];
    int n = snprintf(body, sizeof(body), "%d %s\n", status, http_reason(status));
    return write_small(io, fd, status, "text/plain; charset=utf-8", body, (size_t)n,
                       head_only, keep_alive);
}

int http_resolve_open(const char *root, const char *path, int64_t *size)
{
    char full[PATH_MAX], real[PATH_MAX];
    if (snprintf(full, sizeof(full), "%s%s", root, path) >= (int)sizeof(full))
        return -404;
    if (!realpath(full, real))
        return (errno == EACCES) ? -403 : -404;
    size_t rl = strlen(root);
    if (strncmp(real, root, rl) != 0 || (real[rl] != '/' && real[rl] != '\0'))
        return -403; /* a symlink leading outside the root */
    int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return (errno == EACCES) ? -403 : -404;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -404;
    }
    /* O_NONBLOCK only kept open() from hanging on a FIFO planted in the
     * root; regular-file reads ignore it, but clear it to be exact. */
    fcntl(fd, F_SETFL, 0);
    *size = st.st_size;
    return fd;
}

/* Sends the head and the file's bytes, the head in the first chunk's
 * write; -1 if the connection must be closed. */
static int send_file(const http_io *io, int fd, int file, int64_t size, const char *ctype,
                     int head_only, int keep_alive)
{
    char *chunk = malloc(FILE_CHUNK);
    if (!chunk)
        return -1;
    size_t have = format_head(chunk, 512, 200, size, ctype, keep_alive, NULL);
    int64_t left = head_only ? 0 : size;
    int rc = 0;
    for (;;) {
        size_t room = FILE_CHUNK - have;
        if (left > 0 && room > 0) {
            ssize_t n = io->read(file, chunk + have, left < (int64_t)room ? (size_t)left : room);
            if (n <= 0) {
                rc = -1; /* the file shrank or failed: framing is lost */
                break;
            }
            have += (size_t)n;
            left -= n;
        }
        if (left == 0 || have == FILE_CHUNK) {
            if (io->write_all(fd, chunk, have) < 0) {
                rc = -1;
                break;
            }
            have = 0;
            if (left == 0)
                break;
        }
    }
    free(chunk);
    return rc;
}

/* Answers one complete request; -1 if the connection must be closed. */
static int respond(const http_io *io, const char *root, int fd, const char *buf,
                   const http_request *req)
{
    int head_only = req->method == HTTP_HEAD;
    int ka = req->keep_alive;
    if (req->method == HTTP_OTHER)
        return write_status(io, fd, 405, 0, ka) < 0 ? -1 : 0;

    char path[1024];
    int pl = http_path_decode(buf + req->target_off, req->target_len, path, sizeof(path));
    if (pl < 0)
        return write_status(io, fd, -pl, head_only, ka) < 0 ? -1 : 0;

    if (!strcmp(path, HTTP_HELLO_PATH)) {
        return write_small(io, fd, 200, "text/plain; charset=utf-8", HTTP_HELLO_BODY,
                           sizeof(HTTP_HELLO_BODY) - 1, head_only, ka) < 0 ? -1 : 0;
    }
    if (!root)
        return write_status(io, fd, 404, head_only, ka) < 0 ? -1 : 0;

    int64_t size = 0;
    int file = io->open_file(root, path, &size);
    if (file < 0) {
        int st = (file == -403) ? 403 : 404;
        return write_status(io, fd, st, head_only, ka) < 0 ? -1 : 0;
    }
    int rc = send_file(io, fd, file, size, content_type(path), head_only, ka);
    io->close(file);
    return rc;
}

static void lingering_close(const http_io *io, int fd, char *buf)
{
    shutdown(fd, SHUT_WR);
    int64_t deadline = server_now_ms() + LINGER_MS;
    size_t total = 0;
    while (total < LINGER_MAX) {
        ssize_t n = io->read_deadline(fd, buf, HTTP_MAX_HEAD, deadline);
        if (n <= 0)
            break;
        total += (size_t)n;
    }
}

void http_serve_conn(const http_io *io, const http_conf *conf, server_conn *c)
{
    int fd = c->fd;
    const char *root = conf->root;
    /* A file's last partial chunk must not wait for the ACK of the one
     * before (Nagle); small responses are one write anyway. */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    char *buf = malloc(HTTP_MAX_HEAD);
    if (!buf) {
        io->close(fd);
        return;
    }
    size_t len = 0;
    int64_t deadline = 0; /* of the request in progress; 0: none, or not begun */
    http_parser p;
    http_parser_init(&p);
    for (;;) {
        int r = http_parser_feed(&p, buf, len);
        if (r == 0) {
            int64_t dl;
            if (len == 0) { /* between requests: idle */
                if (server_conn_idle(c))
                    break;
                dl = conf->idle_timeout_ms ? server_now_ms() + conf->idle_timeout_ms : 0;
            } else {        /* a request has begun */
                if (!deadline && conf->read_timeout_ms)
                    deadline = server_now_ms() + conf->read_timeout_ms;
                dl = deadline;
            }
            ssize_t n = io->read_deadline(fd, buf + len, HTTP_MAX_HEAD - len, dl);
            server_conn_busy(c);
            if (n <= 0)
                break; /* EOF, reset, timeout, or shutdown by the server */
            len += (size_t)n;
            continue;
        }
        if (r < 0) {
            if (write_status(io, fd, -r, 0, 0) == 0)
                lingering_close(io, fd, buf);
            break;
        }
        http_request req = p.req;
        if (respond(io, root, fd, buf, &req) < 0)
            break;
        /* skip the head and the body, keep what follows */
        size_t used = req.head_len;
        size_t inbuf = len - used;
        if ((int64_t)inbuf >= req.content_length) {
            used += (size_t)req.content_length;
            len -= used;
            memmove(buf, buf + used, len);
        } else {
            int64_t body = req.content_length - (int64_t)inbuf;
            len = 0;
            if (!deadline && conf->read_timeout_ms)
                deadline = server_now_ms() + conf->read_timeout_ms;
            while (body > 0) {
                ssize_t n = io->read_deadline(fd, buf, body < HTTP_MAX_HEAD ? (size_t)body
                                                                            : HTTP_MAX_HEAD,
                                              deadline);
                if (n <= 0)
                    goto out;
                body -= n;
            }
        }
        if (!req.keep_alive)
            break;
        deadline = 0;
        http_parser_init(&p);
    }
out:
    free(buf);
    io->close(fd);
}
