/*
 * kv_serve.c - one kv connection, in either model (kv_serve.h).
 *
 * The fast path: one read; every complete command in it parsed (the
 * parser returns them one by one, as offsets into the bytes read) and
 * executed, each reply appended to one reply buffer; one write for all
 * of them.  A pipelining client (redis-benchmark -P 16) thus costs one
 * read and one write per batch, as with redis-server.  Nothing is
 * allocated per command: the reply buffer and, in the threads model, the
 * read buffer belong to the connection.
 *
 * In greenrt the bytes arrive in a buffer lent by the runtime (a provided
 * buffer, gr_recv_buf): an idle connection then holds no read buffer at
 * all, and when every command in the chunk is complete - the usual case -
 * they are parsed and answered in place.  Only the unfinished tail of a
 * chunk (a command split across reads, or one bigger than a chunk) is
 * copied into a buffer of the connection's own, which then receives the
 * following reads directly until the command is complete, and is freed
 * once it is empty again.
 *
 * Timeouts and the drain: between commands (nothing buffered) the
 * connection is idle - it waits at most the idle timeout, and a server
 * shutdown closes it there (server_conn_idle); once part of a command has
 * arrived, the rest must come within the read timeout, counted from then
 * (an absolute deadline, however the client trickles it), and a shutdown
 * lets it finish: every command received is answered before the close.
 *
 * Limits: a command may not exceed RESP_MAX_REQUEST bytes (the parser
 * says so with Redis's error, and the connection is closed after it);
 * the read buffer never grows beyond that.  Replies are flushed whenever
 * KV_REPLY_FLUSH bytes are pending, so a long pipeline of big GETs does
 * not accumulate; one reply is as big as its value (or its LRANGE).
 */
#include "kv_serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef struct conn {
    const kv_io *io;
    kv_server *srv;
    int fd;
    char *rbuf;        /* the connection's own bytes: a partial command */
    size_t rlen, rcap;
    resp_parser p;
    resp_reply out;
    kv_client cl;
} conn;

/* rbuf can hold `want` bytes (capped at one byte over the request limit,
 * where the parser refuses the command).  0, or -1 out of memory. */
static int reserve(conn *c, size_t want)
{
    if (want > (size_t)RESP_MAX_REQUEST + 1)
        want = (size_t)RESP_MAX_REQUEST + 1;
    if (c->rcap >= want)
        return 0;
    size_t ncap = c->rcap ? c->rcap * 2 : KV_READ_INITIAL;
    if (ncap < want)
        ncap = want;
    if (ncap > (size_t)RESP_MAX_REQUEST + 1)
        ncap = (size_t)RESP_MAX_REQUEST + 1;
    char *nb = realloc(c->rbuf, ncap);
    if (!nb)
        return -1;
    c->rbuf = nb;
    c->rcap = ncap;
    return 0;
}

static int flush(conn *c)
{
    if (c->out.oom)
        return -1; /* a reply is missing: closing beats sending a torn stream */
    if (c->out.len == 0)
        return 0;
    ssize_t w = c->io->write_all(c->fd, c->out.buf, c->out.len);
    resp_reply_reset(&c->out);
    return w < 0 ? -1 : 0;
}

/* Executes every complete command in buf[p.start .. len) and writes the
 * replies.  0: read more; -1: close (QUIT, protocol error, write error). */
static int process(conn *c, char *buf, size_t len)
{
    int64_t now = kv_now_ms();
    int r;
    while ((r = resp_parse(&c->p, buf, len)) == RESP_COMMAND) {
        kv_exec(c->srv, &c->cl, buf + c->p.start, c->p.args, c->p.nargs, &c->out, now);
        if (c->cl.quit)
            break;
        if (c->out.len >= KV_REPLY_FLUSH && flush(c) < 0)
            return -1;
    }
    if (r == RESP_ERROR)
        resp_reply_errorf(&c->out, "ERR %s", c->p.error);
    if (flush(c) < 0 || r == RESP_ERROR || c->cl.quit)
        return -1;
    return 0;
}

/* After process(): keep buf[p.start .. len), the unparsed tail, at the
 * front of rbuf.  0, or -1 out of memory. */
static int keep_tail(conn *c, const char *buf, size_t len)
{
    size_t tail = len - c->p.start;
    if (tail > 0) {
        if (buf != c->rbuf) {
            if (reserve(c, tail > c->p.need ? tail : c->p.need) < 0)
                return -1;
            memcpy(c->rbuf, buf + c->p.start, tail);
        } else {
            memmove(c->rbuf, c->rbuf + c->p.start, tail);
        }
    }
    c->rlen = tail;
    resp_parser_rebase(&c->p);
    return 0;
}

void kv_serve_conn(const kv_io *io, kv_server *srv, server_conn *sc)
{
    int fd = sc->fd;
    /* Replies are one write per batch; Nagle would hold the next batch's
     * reply back until the last one is acknowledged. */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    conn c = {.io = io, .srv = srv, .fd = fd};
    resp_parser_init(&c.p);
    resp_reply_init(&c.out);
    kv_client_init(srv, &c.cl);
    atomic_fetch_add(&srv->clients, 1);
    int chunks = io->recv_chunk != NULL;
    int64_t deadline = 0; /* of the command in progress; 0: none, or not begun */

    for (;;) {
        char *buf;
        size_t len;
        void *handle = NULL;
        int64_t dl;
        if (c.rlen == 0) { /* between commands: idle */
            if (server_conn_idle(sc))
                break;
            dl = srv->idle_timeout_ms ? server_now_ms() + srv->idle_timeout_ms : 0;
            deadline = 0;
        } else {           /* part of a command is here */
            if (!deadline && srv->read_timeout_ms)
                deadline = server_now_ms() + srv->read_timeout_ms;
            dl = deadline;
        }
        if (chunks && c.rlen == 0) {
            char *data;
            ssize_t n = io->recv_chunk(fd, &handle, &data, dl);
            server_conn_busy(sc);
            if (n == -ENOSYS || n == -EOPNOTSUPP || n == -EINVAL) {
                chunks = 0;
                continue;
            }
            if (n <= 0)
                break;
            buf = data;
            len = (size_t)n;
        } else {
            size_t want = c.p.need > c.rlen ? c.p.need : c.rlen + 1;
            if (c.rlen == c.rcap && want < c.rcap * 2)
                want = c.rcap * 2; /* full, size unknown: double */
            if (reserve(&c, want) < 0)
                break;
            ssize_t n = io->read(fd, c.rbuf + c.rlen, c.rcap - c.rlen, dl);
            server_conn_busy(sc);
            if (n <= 0)
                break;
            c.rlen += (size_t)n;
            buf = c.rbuf;
            len = c.rlen;
        }
        int r = process(&c, buf, len);
        if (r == 0)
            r = keep_tail(&c, buf, len);
        if (handle)
            io->release_chunk(handle);
        if (r < 0)
            break;
        if (c.rlen == 0 && c.rcap > (chunks ? 0 : KV_READ_INITIAL)) {
            free(c.rbuf); /* idle again: give back what a big command took */
            c.rbuf = NULL;
            c.rcap = 0;
        }
    }
    atomic_fetch_sub(&srv->clients, 1);
    kv_client_free(&c.cl);
    resp_parser_free(&c.p);
    resp_reply_free(&c.out);
    free(c.rbuf);
    io->close(fd);
}

int kv_server_init(kv_server *srv, kv_store *st, const kv_lock_ops *ops, const char *model)
{
    memset(srv, 0, sizeof(*srv));
    srv->store = st;
    srv->model = model;
    srv->started_ms = kv_now_ms();
    return kv_store_init(st, ops);
}

void kv_server_destroy(kv_server *srv)
{
    kv_store_destroy(srv->store);
}

void kv_server_listening(kv_server *srv, int listen_fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(listen_fd, (struct sockaddr *)&ss, &sl) < 0)
        return;
    if (ss.ss_family == AF_INET)
        srv->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    else if (ss.ss_family == AF_INET6)
        srv->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

void kv_server_sweep(kv_server *srv, uint64_t *rng, void (*yield)(void))
{
    int64_t end = kv_now_ms() + KV_SWEEP_BUDGET_MS;
    int finished = 0;
    for (int64_t now = kv_now_ms(); !finished && now < end; now = kv_now_ms()) {
        int64_t slice = now + KV_SWEEP_SLICE_MS;
        kv_store_expire_cycle(srv->store, slice < end ? slice : end, rng, &finished);
        if (yield)
            yield();
    }
}
