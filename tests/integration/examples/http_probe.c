/*
 * http_probe.c - raw-socket checks of an example HTTP server (run by
 * http_test.sh against http_threads and http_greenrt).
 *
 *   http_probe PORT
 *
 *   http_probe load PORT CONNS SECONDS PIPELINE
 *
 * The first form expects the document root laid out by http_test.sh: hello.txt
 * ("hello file\n"), big.bin (at least 64 KiB), sub/inner.txt, inside (a
 * symlink to hello.txt), escape (a symlink to a directory outside the
 * root holding secret.txt), secretlink (a symlink to that secret.txt),
 * and ../secret.txt next to the root.  Each check prints "ok NAME" or
 * "FAIL NAME: why"; the exit status is the number of failures (capped).
 *
 * The load form (shutdown_test.sh) keeps CONNS keep-alive connections
 * busy with batches of PIPELINE GET /hello for SECONDS or until the
 * server closes them, checks every response (status 200, the exact
 * body), and prints "responses=N torn=N wrong=N closed=N": torn counts
 * connections the server closed in the middle of a response.  Exit 0 if
 * none was torn or wrong.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "probe_load.h"

static int port;
static int failures;

static void fail(const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("FAIL %s: ", name);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    failures++;
}

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        perror("http_probe: connect");
        exit(100);
    }
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static int send_all(int fd, const char *b, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* A buffered reader over one connection. */
typedef struct rd {
    int fd;
    char buf[1 << 17];
    size_t len, off;
} rd;

static int fill(rd *r)
{
    if (r->off == r->len)
        r->off = r->len = 0;
    if (r->len == sizeof(r->buf))
        return -1;
    ssize_t n = recv(r->fd, r->buf + r->len, sizeof(r->buf) - r->len, 0);
    if (n <= 0)
        return n == 0 ? 0 : -1;
    r->len += (size_t)n;
    return 1;
}

typedef struct resp {
    int status;
    long clen;
    int conn_close;
    char body[256]; /* first bytes of the body */
    long body_len;
} resp;

/* Reads one response (head_only: no body follows).  0, or -1 on timeout,
 * EOF or a malformed response. */
static int read_resp(rd *r, resp *out, int head_only)
{
    memset(out, 0, sizeof(*out));
    out->clen = -1;
    char *end;
    while (!(end = memmem(r->buf + r->off, r->len - r->off, "\r\n\r\n", 4)))
        if (fill(r) <= 0)
            return -1;
    size_t hl = (size_t)(end + 4 - (r->buf + r->off));
    char head[8192];
    if (hl >= sizeof(head))
        return -1;
    memcpy(head, r->buf + r->off, hl);
    head[hl] = 0;
    r->off += hl;
    if (sscanf(head, "HTTP/1.%*d %d", &out->status) != 1)
        return -1;
    for (char *l = strstr(head, "\r\n"); l && l[2]; l = strstr(l + 2, "\r\n")) {
        if (!strncasecmp(l + 2, "Content-Length:", 15))
            out->clen = strtol(l + 17, NULL, 10);
        if (!strncasecmp(l + 2, "Connection: close", 17))
            out->conn_close = 1;
    }
    if (out->clen < 0)
        return -1;
    if (head_only)
        return 0;
    long need = out->clen;
    while (need > 0) {
        if (r->off == r->len && fill(r) <= 0)
            return -1;
        size_t take = r->len - r->off < (size_t)need ? r->len - r->off : (size_t)need;
        if (out->body_len < (long)sizeof(out->body) - 1) {
            size_t room = sizeof(out->body) - 1 - (size_t)out->body_len;
            memcpy(out->body + out->body_len, r->buf + r->off, take < room ? take : room);
        }
        out->body_len += (long)take;
        r->off += take;
        need -= (long)take;
    }
    out->body[out->body_len < (long)sizeof(out->body) ? out->body_len : 255] = 0;
    return 0;
}

/* 1 if the server closes the connection (EOF or reset) within the timeout
 * with no further bytes. */
static int closed(rd *r)
{
    if (r->off < r->len)
        return 0;
    char c;
    ssize_t n = recv(r->fd, &c, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

static rd *open_rd(void)
{
    rd *r = calloc(1, sizeof(rd));
    r->fd = dial();
    return r;
}

static void close_rd(rd *r)
{
    close(r->fd);
    free(r);
}

/* One request on a fresh connection: expect status; want_close: the
 * server must close afterwards. */
static void expect(const char *name, const char *req, size_t len, int status, int want_close)
{
    rd *r = open_rd();
    resp p;
    if (send_all(r->fd, req, len) < 0 || read_resp(r, &p, 0) < 0)
        fail(name, "no valid response");
    else if (p.status != status)
        fail(name, "status %d, want %d", p.status, status);
    else if (want_close && !closed(r))
        fail(name, "connection not closed after %d", status);
    else
        printf("ok %s\n", name);
    close_rd(r);
}

#define EXPECT(name, lit, st, cl) expect(name, lit, sizeof(lit) - 1, st, cl)

static void check_basic(void)
{
    rd *r = open_rd();
    resp p;
    const char *q = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
    send_all(r->fd, q, strlen(q));
    if (read_resp(r, &p, 0) < 0 || p.status != 200 || strcmp(p.body, "Hello, world!\n"))
        fail("get_hello", "status %d body '%s'", p.status, p.body);
    else
        printf("ok get_hello\n");
    /* HEAD sends no body: the next response on the connection must parse */
    q = "HEAD /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    send_all(r->fd, q, strlen(q));
    if (read_resp(r, &p, 1) < 0 || p.status != 200 || p.clen != 11)
        fail("head", "status %d clen %ld", p.status, p.clen);
    else
        printf("ok head\n");
    q = "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    send_all(r->fd, q, strlen(q));
    if (read_resp(r, &p, 0) < 0 || p.status != 200 || strcmp(p.body, "hello file\n"))
        fail("get_file_after_head", "status %d body '%s'", p.status, p.body);
    else
        printf("ok get_file_after_head\n");
    q = "GET /missing HTTP/1.1\r\nHost: x\r\n\r\nGET /sub/inner.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    send_all(r->fd, q, strlen(q));
    resp p2;
    if (read_resp(r, &p, 0) < 0 || p.status != 404 || read_resp(r, &p2, 0) < 0 ||
        p2.status != 200)
        fail("404_keeps_connection", "statuses %d %d", p.status, p2.status);
    else
        printf("ok 404_keeps_connection\n");
    close_rd(r);
}

static void check_malformed(void)
{
    EXPECT("garbage", "GARBAGE\r\n\r\n", 400, 1);
    EXPECT("no_version", "GET /\r\n\r\n", 400, 1);
    EXPECT("bad_header", "GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400, 1);
    EXPECT("bare_lf", "GET / HTTP/1.1\nHost: x\n\n", 400, 1);
    EXPECT("no_host", "GET /hello HTTP/1.1\r\n\r\n", 400, 1);
    EXPECT("binary", "\x00\x01\x02\xff\xfe\r\n\r\n", 400, 1);
    EXPECT("bad_content_length", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: z\r\n\r\n", 400, 1);
    EXPECT("obs_fold", "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400, 1);
    EXPECT("http2", "GET / HTTP/2.0\r\n\r\n", 505, 1);
    EXPECT("chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
           501, 1);
    EXPECT("body_too_large", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n", 413, 1);
}

static void check_limits(void)
{
    char *b = malloc(1 << 16);
    size_t n = (size_t)sprintf(b, "GET /hello HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 100; i++)
        n += (size_t)sprintf(b + n, "X-Header-%d: value\r\n", i);
    n += (size_t)sprintf(b + n, "\r\n");
    expect("too_many_headers_431", b, n, 431, 1);

    n = (size_t)sprintf(b, "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(b + n, 'a', 20000);
    n += 20000;
    n += (size_t)sprintf(b + n, "\r\n\r\n");
    expect("huge_header_431", b, n, 431, 1);

    n = (size_t)sprintf(b, "GET /");
    memset(b + n, 'a', 5000);
    n += 5000;
    n += (size_t)sprintf(b + n, " HTTP/1.1\r\nHost: x\r\n\r\n");
    expect("long_uri_414", b, n, 414, 1);
    free(b);
}

static void check_traversal(void)
{
    static const char *paths[] = {
        "/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E%2Fsecret.txt", "/sub/../../secret.txt",
        "/..%2fsecret.txt", "/..%5csecret.txt", "/escape/secret.txt", "/secretlink",
        "/sub/%2e%2e/%2e%2e/secret.txt", "/./hello.txt", "//../secret.txt",
    };
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        char req[512], name[128];
        int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", paths[i]);
        snprintf(name, sizeof(name), "traversal %s", paths[i]);
        rd *r = open_rd();
        resp p;
        if (send_all(r->fd, req, (size_t)n) < 0 || read_resp(r, &p, 0) < 0)
            fail(name, "no valid response");
        else if (p.status != 403 && p.status != 404)
            fail(name, "status %d (body '%.40s'), want 403 or 404", p.status, p.body);
        else if (strstr(p.body, "SECRET"))
            fail(name, "leaked the secret");
        else
            printf("ok %s -> %d\n", name, p.status);
        close_rd(r);
    }
    EXPECT("symlink_inside_root", "GET /inside HTTP/1.1\r\nHost: x\r\n\r\n", 200, 0);
}

static void check_pipelining(void)
{
    const char *q = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
                    "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                    "GET /missing HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyz"
                    "HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    static const int want[] = {200, 405, 404, 200, 200, 200};
    rd *r = open_rd();
    send_all(r->fd, q, strlen(q));
    int ok = 1;
    for (int i = 0; i < 6 && ok; i++) {
        resp p;
        if (read_resp(r, &p, i == 4) < 0 || p.status != want[i]) {
            fail("pipelined", "response %d: status %d, want %d", i, p.status, want[i]);
            ok = 0;
        } else if (i == 5 && !p.conn_close) {
            fail("pipelined", "last response lacks Connection: close");
            ok = 0;
        }
    }
    if (ok && !closed(r)) {
        fail("pipelined", "connection not closed after Connection: close");
        ok = 0;
    }
    if (ok)
        printf("ok pipelined\n");
    close_rd(r);

    /* one byte per write */
    r = open_rd();
    q = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
    for (const char *c = q; *c; c++) {
        send_all(r->fd, c, 1);
        usleep(1000);
    }
    resp p;
    if (read_resp(r, &p, 0) < 0 || p.status != 200)
        fail("byte_at_a_time", "status %d", p.status);
    else
        printf("ok byte_at_a_time\n");
    close_rd(r);
}

static void check_connection_close(void)
{
    EXPECT("http10_closes", "GET /hello HTTP/1.0\r\n\r\n", 200, 1);
    EXPECT("connection_close", "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 200, 1);
    rd *r = open_rd();
    const char *q = "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    resp p, p2;
    send_all(r->fd, q, strlen(q));
    int a = read_resp(r, &p, 0);
    send_all(r->fd, q, strlen(q));
    if (a < 0 || read_resp(r, &p2, 0) < 0 || p.status != 200 || p2.status != 200)
        fail("http10_keep_alive", "second request not answered");
    else
        printf("ok http10_keep_alive\n");
    close_rd(r);
}

static void rst_close(int fd)
{
    struct linger l = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    close(fd);
}

static void check_resets(void)
{
    for (int i = 0; i < 60; i++) {
        int fd = dial();
        const char *q;
        switch (i % 3) {
        case 0: q = "GET /hel"; break;                                   /* mid-request */
        case 1: q = "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"; break;   /* mid-response */
        default: q = ""; break;                                          /* idle */
        }
        send_all(fd, q, strlen(q));
        if (i % 3 == 1)
            usleep(2000);
        rst_close(fd);
    }
    usleep(200 * 1000);
    EXPECT("serving_after_resets", "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", 200, 0);
    rd *r = open_rd();
    resp p;
    const char *q = "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n";
    send_all(r->fd, q, strlen(q));
    if (read_resp(r, &p, 0) < 0 || p.status != 200 || p.body_len != p.clen || p.clen < 65536)
        fail("big_file", "status %d, %ld of %ld bytes", p.status, p.body_len, p.clen);
    else
        printf("ok big_file (%ld bytes)\n", p.body_len);
    close_rd(r);
}

/* --- load mode: GET /hello, pipelined --------------------------------------- */

/* One response at the front of c->buf: its length, 0 if incomplete, -1 if
 * it is not the /hello response. */
static long hello_parse(probe_conn *c, int index)
{
    (void)index;
    c->buf[c->len] = '\0';
    char *end = strstr(c->buf, "\r\n\r\n");
    if (!end)
        return c->len >= sizeof(c->buf) - 1 ? -1 : 0;
    if (strncmp(c->buf, "HTTP/1.1 200 ", 13) != 0)
        return -1;
    char *cl = strcasestr(c->buf, "\r\nContent-Length:");
    if (!cl || cl > end)
        return -1;
    long blen = strtol(cl + 17, NULL, 10);
    size_t total = (size_t)(end + 4 - c->buf) + (size_t)blen;
    if (c->len < total)
        return 0;
    if (blen != 14 || memcmp(end + 4, "Hello, world!\n", 14) != 0)
        return -1;
    return (long)total;
}

static int hello_send_batch(probe_conn *c, int pipeline)
{
    static const char req[] = "GET /hello HTTP/1.1\r\nHost: probe\r\n\r\n";
    char out[64 * (sizeof(req) - 1)];
    size_t n = 0;
    for (int i = 0; i < pipeline; i++) {
        memcpy(out + n, req, sizeof(req) - 1);
        n += sizeof(req) - 1;
    }
    c->pending = pipeline;
    return send(c->fd, out, n, MSG_NOSIGNAL) == (ssize_t)n ? 0 : -1;
}

static const probe_proto hello_proto = {"responses", hello_send_batch, hello_parse};

int main(int argc, char **argv)
{
    if (argc == 6 && !strcmp(argv[1], "load") && (port = atoi(argv[2])) > 0) {
        int pipeline = atoi(argv[5]);
        return probe_load(port, atoi(argv[3]), atoi(argv[4]),
                          pipeline >= 1 && pipeline <= 64 ? pipeline : 1, &hello_proto);
    }
    if (argc != 2 || (port = atoi(argv[1])) <= 0) {
        fprintf(stderr, "usage: http_probe PORT\n"
                        "       http_probe load PORT CONNS SECONDS PIPELINE\n");
        return 100;
    }
    check_basic();
    check_malformed();
    check_limits();
    check_traversal();
    check_pipelining();
    check_connection_close();
    check_resets();
    printf("%d failure%s\n", failures, failures == 1 ? "" : "s");
    return failures > 99 ? 99 : failures;
}
