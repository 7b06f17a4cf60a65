/*
 * worker.c - one load-generator thread: an epoll loop over its share of
 * the connections.
 *
 * Deliberately not greenrt: the load generator measures greenrt, so it
 * must not share its bugs or its costs.  Each worker owns an epoll
 * instance and its connections outright (no locks on the hot path); the
 * main thread only reads the worker's counters and histogram.
 *
 * Connection life:
 *   CONNECTING  non-blocking connect in flight; at most `batch` per worker
 *               at once, so 10,000 SYNs do not overrun the server's listen
 *               backlog (a dropped SYN costs a 1 s retransmit and skews the
 *               run); a connect not done in CONNECT_TIMEOUT_NS fails.
 *   IDLE        connected, no request outstanding (before the start, or in
 *               the open loop until the next request is due: then it sits
 *               in the timer heap).
 *   BUSY        a request is being sent and/or its reply received.
 *   DEAD        failed; closed and not reconnected (counted).
 *
 * Closed loop: a reply completes, the next request goes out at once, and
 * latency is reply time - send time.
 * Open loop (--rate R): connection i sends its k-th request at the
 * intended time t0 + phase_i + k * interval, interval = C / R, phases
 * spread evenly over one interval.  When a reply comes back late the next
 * request, already due, goes out immediately, and its latency is still
 * counted from its *intended* time, so a server stall shows up in every
 * request it delayed instead of only in the one that was waiting (the
 * coordinated-omission correction wrk2 makes).
 *
 * Verification: echo replies are compared byte for byte with the request
 * (payload = a slice of a fixed pattern starting at an offset that depends
 * on the connection and the sequence number, so a reply that belongs to
 * another request does not match).  HTTP replies must be "HTTP/1.x 200",
 * carry a Content-Length and exactly that many body bytes; nothing may
 * arrive while no request is outstanding.
 */
#define _GNU_SOURCE
#include "loadgen.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define CONNECT_TIMEOUT_NS (10LL * 1000 * 1000 * 1000)
#define HTTP_HEAD_MAX 4096
#define SCRATCH 65536
#define MAX_EVENTS 512
#define PATTERN_MOD 251

enum { C_FREE, C_CONNECTING, C_IDLE, C_BUSY, C_DEAD };

typedef struct conn {
    int fd;
    uint8_t state;
    uint8_t want_out;     /* EPOLLOUT registered */
    uint8_t in_head;      /* HTTP: reading the response head */
    uint8_t close_after;  /* HTTP: the response said Connection: close */
    uint8_t initial;      /* the first connect (counted in connects_done) */
    int id;               /* global connection number */
    uint64_t seq;         /* requests sent on this connection */
    int64_t t_start;      /* send time (closed) or intended time (open) */
    int64_t next_due;     /* open loop: intended time of the next request */
    int64_t deadline;     /* connect timeout */
    uint32_t sent, rcvd;  /* bytes of the current request / echo reply */
    int32_t status;       /* HTTP status of the current response */
    int64_t body_left;    /* HTTP body bytes still expected */
    uint16_t hlen;        /* HTTP head bytes in hbuf */
    char *hbuf;           /* HTTP head buffer (HTTP_HEAD_MAX), lazily */
} conn;

typedef struct tmr { int64_t due; int idx; } tmr;

typedef struct wstate {
    int ep;
    conn *conns;
    int next_connect;     /* next connection to start connecting */
    int pending;          /* connects in flight */
    int batch;            /* max connects in flight */
    tmr *heap;            /* open-loop timers, min-heap on due */
    int nheap;
    int64_t interval;     /* open loop: ns between a connection's requests */
    int kicked;           /* the start has been seen */
    char *scratch;
} wstate;

int64_t lg_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

#define STORE(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)
#define BUMP(field) STORE(field, (field) + 1)

static void note_error(lg_worker *w, const char *fmt, ...)
{
    if (w->c.first_error[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->c.first_error, sizeof(w->c.first_error), fmt, ap);
    va_end(ap);
}

static void heap_push(wstate *s, int64_t due, int idx)
{
    int i = s->nheap++;
    while (i > 0) {
        int p = (i - 1) / 2;
        if (s->heap[p].due <= due)
            break;
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = (tmr){due, idx};
}

static tmr heap_pop(wstate *s)
{
    tmr top = s->heap[0];
    tmr last = s->heap[--s->nheap];
    int i = 0, n = s->nheap;
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        int64_t md = last.due;
        if (l < n && s->heap[l].due < md) {
            m = l;
            md = s->heap[l].due;
        }
        if (r < n && s->heap[r].due < md)
            m = r;
        if (m == i)
            break;
        s->heap[i] = s->heap[m];
        i = m;
    }
    if (n > 0)
        s->heap[i] = last;
    return top;
}

static void set_out(wstate *s, conn *c, int idx, int on)
{
    if (c->want_out == on)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.u32 = (uint32_t)idx};
    epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = (uint8_t)on;
}

static int measuring(int64_t t)
{
    return t >= __atomic_load_n(&lg_measure_start, __ATOMIC_RELAXED);
}

static int stopping(void)
{
    return __atomic_load_n(&lg_stop, __ATOMIC_RELAXED);
}

static void conn_close(wstate *s, conn *c)
{
    if (c->fd >= 0) {
        epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
}

/* An established connection failed: count it (unless the run is over) and
 * retire it. */
static void conn_fail(lg_worker *w, wstate *s, conn *c, int verify, const char *fmt, ...)
{
    if (!stopping()) {
        if (verify)
            BUMP(w->c.verify_errors);
        else
            BUMP(w->c.io_errors);
        if (!w->c.first_error[0]) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(w->c.first_error, sizeof(w->c.first_error), fmt, ap);
            va_end(ap);
        }
    }
    conn_close(s, c);
    if (c->state == C_IDLE || c->state == C_BUSY)
        STORE(w->c.connected, w->c.connected - 1);
    c->state = C_DEAD;
}

static void connect_failed(lg_worker *w, wstate *s, conn *c, int err)
{
    conn_close(s, c);
    c->state = C_DEAD;
    s->pending--;
    if (c->initial)
        BUMP(w->c.connects_done);
    BUMP(w->c.connect_failures);
    if (!w->c.first_connect_errno)
        STORE(w->c.first_connect_errno, err);
}

static void start_connect(lg_worker *w, wstate *s, int idx)
{
    conn *c = &s->conns[idx];
    const lg_config *cfg = w->cfg;
    c->state = C_CONNECTING;
    c->want_out = 1;
    c->deadline = lg_now() + CONNECT_TIMEOUT_NS;
    s->pending++;
    c->fd = socket(cfg->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        connect_failed(w, s, c, errno);
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (const struct sockaddr *)&cfg->addr, cfg->addrlen) < 0 &&
        errno != EINPROGRESS) {
        connect_failed(w, s, c, errno);
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)idx};
    if (epoll_ctl(s->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        connect_failed(w, s, c, errno);
}

static void fill_connects(lg_worker *w, wstate *s)
{
    while (s->pending < s->batch && s->next_connect < w->nconns && !stopping()) {
        s->conns[s->next_connect].initial = 1;
        start_connect(w, s, s->next_connect++);
    }
}

static const char *req_bytes(const lg_config *cfg, const conn *c, size_t *len)
{
    if (cfg->proto == LG_HTTP) {
        *len = cfg->request_len;
        return cfg->request;
    }
    *len = (size_t)cfg->size;
    return cfg->pattern + ((uint64_t)c->id * 31 + c->seq * 7) % PATTERN_MOD;
}

static void try_send(lg_worker *w, wstate *s, conn *c, int idx)
{
    size_t len;
    const char *b = req_bytes(w->cfg, c, &len);
    while (c->sent < len) {
        ssize_t n = send(c->fd, b + c->sent, len - c->sent, MSG_NOSIGNAL);
        if (n > 0) {
            c->sent += (uint32_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_out(s, c, idx, 1);
            return;
        }
        conn_fail(w, s, c, 0, "send: %s", n < 0 ? strerror(errno) : "0 bytes");
        return;
    }
    set_out(s, c, idx, 0);
}

static void start_request(lg_worker *w, wstate *s, conn *c, int idx, int64_t t_start)
{
    c->state = C_BUSY;
    c->t_start = t_start;
    c->sent = c->rcvd = 0;
    c->in_head = 1;
    c->hlen = 0;
    c->status = 0;
    c->body_left = 0;
    c->close_after = 0;
    try_send(w, s, c, idx);
}

/* Open loop: send now if the next request is due, else arm its timer. */
static void schedule_next(lg_worker *w, wstate *s, conn *c, int idx, int64_t now)
{
    if (c->next_due <= now) {
        int64_t due = c->next_due;
        c->next_due += s->interval;
        start_request(w, s, c, idx, due);
    } else {
        c->state = C_IDLE;
        heap_push(s, c->next_due, idx);
    }
}

static void kick(lg_worker *w, wstate *s, conn *c, int idx, int64_t now)
{
    if (w->cfg->rate > 0) {
        int64_t t0 = __atomic_load_n(&lg_t0, __ATOMIC_RELAXED);
        c->next_due = t0 + (int64_t)((double)s->interval * c->id / w->cfg->connections);
        schedule_next(w, s, c, idx, now);
    } else {
        start_request(w, s, c, idx, now);
    }
}

static void complete(lg_worker *w, wstate *s, conn *c, int idx)
{
    int64_t now = lg_now();
    int64_t lat = now - c->t_start;
    if (measuring(now)) {
        hist_record(&w->h, lat > 0 ? (uint64_t)lat : 0);
        BUMP(w->c.requests);
    } else {
        BUMP(w->c.warmup_requests);
    }
    c->seq++;
    c->state = C_IDLE;
    if (stopping())
        return;
    if (c->close_after) { /* the server closes: reconnect (not an error) */
        conn_close(s, c);
        STORE(w->c.connected, w->c.connected - 1);
        BUMP(w->c.reconnects);
        c->initial = 0;
        start_connect(w, s, idx);
        return;
    }
    if (w->cfg->rate > 0)
        schedule_next(w, s, c, idx, now);
    else
        start_request(w, s, c, idx, now);
}

static int ieq_prefix(const char *a, const char *lit)
{
    for (; *lit; a++, lit++)
        if ((*a | 0x20) != (*lit | 0x20))
            return 0;
    return 1;
}

/* Parses a complete response head in c->hbuf[0..hlen). 0 or -1. */
static int parse_head(conn *c)
{
    const char *h = c->hbuf;
    if (c->hlen < 12 || memcmp(h, "HTTP/1.", 7) != 0 || h[8] != ' ')
        return -1;
    c->status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
    c->body_left = -1;
    const char *p = memchr(h, '\n', c->hlen);
    const char *end = h + c->hlen;
    while (p && p + 1 < end) {
        const char *line = p + 1;
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        if (!nl)
            break;
        if (ieq_prefix(line, "content-length:")) {
            const char *v = line + 15;
            while (*v == ' ' || *v == '\t')
                v++;
            if (*v < '0' || *v > '9')
                return -1;
            int64_t n = 0;
            while (*v >= '0' && *v <= '9' && n < (1LL << 40))
                n = n * 10 + (*v++ - '0');
            c->body_left = n;
        } else if (ieq_prefix(line, "connection:")) {
            const char *v = line + 11;
            while (*v == ' ' || *v == '\t')
                v++;
            if (ieq_prefix(v, "close"))
                c->close_after = 1;
        }
        p = nl;
    }
    return c->body_left < 0 ? -1 : 0;
}

/* Consumes received bytes for connection c; returns 0, or -1 if it died. */
static int on_bytes(lg_worker *w, wstate *s, conn *c, int idx, const char *b, size_t n)
{
    const lg_config *cfg = w->cfg;
    if (c->state != C_BUSY) {
        conn_fail(w, s, c, 1, "%zu unexpected bytes with no request outstanding", n);
        return -1;
    }
    if (cfg->proto == LG_ECHO) {
        size_t len;
        const char *want = req_bytes(cfg, c, &len);
        if (c->rcvd + n > len || c->rcvd + n > c->sent) {
            conn_fail(w, s, c, 1, "echo: %zu bytes more than were sent",
                      c->rcvd + n - (c->sent < len ? c->sent : len));
            return -1;
        }
        if (memcmp(b, want + c->rcvd, n) != 0) {
            conn_fail(w, s, c, 1, "echo: reply bytes differ from the request");
            return -1;
        }
        c->rcvd += (uint32_t)n;
        if (c->rcvd == len)
            complete(w, s, c, idx);
        return 0;
    }
    /* HTTP */
    if (c->sent < cfg->request_len) {
        conn_fail(w, s, c, 1, "http: response before the request was sent");
        return -1;
    }
    while (n > 0) {
        if (c->in_head) {
            if (!c->hbuf && !(c->hbuf = malloc(HTTP_HEAD_MAX))) {
                conn_fail(w, s, c, 0, "out of memory");
                return -1;
            }
            size_t room = HTTP_HEAD_MAX - c->hlen;
            size_t take = n < room ? n : room;
            size_t old = c->hlen;
            memcpy(c->hbuf + c->hlen, b, take);
            c->hlen += (uint16_t)take;
            /* look for the blank line, starting a little before the new bytes */
            size_t from = old >= 3 ? old - 3 : 0;
            const char *e = memmem(c->hbuf + from, c->hlen - from, "\r\n\r\n", 4);
            if (!e) {
                if (c->hlen == HTTP_HEAD_MAX) {
                    conn_fail(w, s, c, 1, "http: response head over %d bytes", HTTP_HEAD_MAX);
                    return -1;
                }
                return 0;
            }
            size_t head = (size_t)(e + 4 - c->hbuf);
            size_t used = head - old;
            c->hlen = (uint16_t)head;
            if (parse_head(c) < 0) {
                conn_fail(w, s, c, 1, "http: malformed response head or no Content-Length");
                return -1;
            }
            if (c->status != 200) {
                conn_fail(w, s, c, 1, "http: status %d", c->status);
                return -1;
            }
            c->in_head = 0;
            b += used;
            n -= used;
        } else {
            if ((int64_t)n > c->body_left) {
                conn_fail(w, s, c, 1, "http: %lld bytes after the response body",
                          (long long)((int64_t)n - c->body_left));
                return -1;
            }
            c->body_left -= (int64_t)n;
            n = 0;
        }
        if (!c->in_head && c->body_left == 0) {
            if (n > 0) {
                conn_fail(w, s, c, 1, "http: %zu bytes after the response body", n);
                return -1;
            }
            complete(w, s, c, idx);
            return 0;
        }
    }
    return 0;
}

static void on_event(lg_worker *w, wstate *s, int idx, uint32_t events)
{
    conn *c = &s->conns[idx];
    if (c->state == C_CONNECTING) {
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        int err = 0;
        socklen_t el = sizeof(err);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
            err = errno;
        if (err) {
            connect_failed(w, s, c, err);
            return;
        }
        s->pending--;
        c->state = C_IDLE;
        STORE(w->c.connected, w->c.connected + 1);
        if (c->initial)
            BUMP(w->c.connects_done);
        set_out(s, c, idx, 0);
        if (s->kicked && !stopping())
            kick(w, s, c, idx, lg_now());
        return;
    }
    if (c->state != C_IDLE && c->state != C_BUSY)
        return;
    if (events & EPOLLOUT) {
        if (c->state == C_BUSY)
            try_send(w, s, c, idx);
        else
            set_out(s, c, idx, 0);
        if (c->state == C_DEAD)
            return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        for (int rounds = 0; rounds < 4; rounds++) {
            ssize_t n = recv(c->fd, s->scratch, SCRATCH, 0);
            if (n > 0) {
                if (on_bytes(w, s, c, idx, s->scratch, (size_t)n) < 0)
                    return;
                if (c->fd < 0 || c->state == C_CONNECTING)
                    return; /* reconnecting */
                if ((size_t)n < SCRATCH)
                    return;
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return;
            if (n < 0 && errno == EINTR)
                continue;
            if (n == 0)
                conn_fail(w, s, c, 0, "connection closed by the server%s",
                          c->state == C_BUSY ? " mid-request" : "");
            else
                conn_fail(w, s, c, 0, "recv: %s", strerror(errno));
            return;
        }
    }
}

static void check_connect_timeouts(lg_worker *w, wstate *s, int64_t now)
{
    for (int i = 0; i < w->nconns; i++) {
        conn *c = &s->conns[i];
        if (c->state == C_CONNECTING && now > c->deadline)
            connect_failed(w, s, c, ETIMEDOUT);
    }
}

void *lg_worker_main(void *arg)
{
    lg_worker *w = arg;
    const lg_config *cfg = w->cfg;
    wstate st = {0};
    wstate *s = &st;
    w->priv = s;
    s->ep = epoll_create1(EPOLL_CLOEXEC);
    s->conns = calloc((size_t)w->nconns, sizeof(conn));
    s->heap = calloc((size_t)w->nconns + 1, sizeof(tmr));
    s->scratch = malloc(SCRATCH);
    if (s->ep < 0 || !s->conns || !s->heap || !s->scratch) {
        note_error(w, "worker %d: out of memory or epoll", w->index);
        STORE(w->c.connect_failures, (uint64_t)w->nconns);
        STORE(w->c.connects_done, (uint64_t)w->nconns);
        goto out;
    }
    for (int i = 0; i < w->nconns; i++) {
        s->conns[i].fd = -1;
        s->conns[i].id = w->first_conn + i;
    }
    s->batch = 256 / cfg->threads;
    if (s->batch < 16)
        s->batch = 16;
    if (cfg->rate > 0)
        s->interval = (int64_t)(1e9 * cfg->connections / cfg->rate);

    struct epoll_event evs[MAX_EVENTS];
    int64_t last_scan = lg_now();
    while (!stopping()) {
        fill_connects(w, s);
        int64_t now = lg_now();
        if (!s->kicked && __atomic_load_n(&lg_started, __ATOMIC_ACQUIRE)) {
            s->kicked = 1;
            for (int i = 0; i < w->nconns; i++)
                if (s->conns[i].state == C_IDLE)
                    kick(w, s, &s->conns[i], i, now);
        }
        int64_t wait = 50 * 1000 * 1000LL;
        if (s->nheap > 0) {
            int64_t d = s->heap[0].due - now;
            if (d < wait)
                wait = d < 0 ? 0 : d;
        }
        struct timespec ts = {.tv_sec = wait / 1000000000LL, .tv_nsec = wait % 1000000000LL};
        int n = epoll_pwait2(s->ep, evs, MAX_EVENTS, &ts, NULL);
        if (n < 0 && errno == ENOSYS)
            n = epoll_wait(s->ep, evs, MAX_EVENTS, (int)((wait + 999999) / 1000000));
        for (int i = 0; i < n; i++)
            on_event(w, s, (int)evs[i].data.u32, evs[i].events);
        now = lg_now();
        while (s->nheap > 0 && s->heap[0].due <= now && !stopping()) {
            tmr t = heap_pop(s);
            conn *c = &s->conns[t.idx];
            if (c->state == C_IDLE)
                schedule_next(w, s, c, t.idx, now);
        }
        if (now - last_scan > 1000000000LL) {
            check_connect_timeouts(w, s, now);
            last_scan = now;
        }
    }
out:
    if (s->conns) {
        for (int i = 0; i < w->nconns; i++) {
            if (s->conns[i].fd >= 0)
                close(s->conns[i].fd);
            free(s->conns[i].hbuf);
        }
    }
    free(s->conns);
    free(s->heap);
    free(s->scratch);
    if (s->ep >= 0)
        close(s->ep);
    w->priv = NULL;
    return NULL;
}
