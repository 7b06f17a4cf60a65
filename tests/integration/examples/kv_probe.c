/*
 * kv_probe.c - a raw RESP client for the kv tests (kv_diff.sh, kv_test.sh).
 *
 *   kv_probe raw PORT [CHUNK [GAP_US]]
 *       Sends stdin to the server - in one write, or CHUNK bytes per
 *       write with GAP_US microseconds between writes - while copying
 *       everything the server sends to stdout, until the server closes
 *       the connection.  Exit 0 at the server's EOF (or a reset after
 *       it had answered), 2 on a timeout (10 s of silence) or an error.
 *       After each write it prints "sent N" (bytes so far) on stderr, so
 *       a test can tell when a partial request has gone out.  Nothing
 *       protocol-specific: the shutdown tests use it for HTTP too.
 *
 *   kv_probe load PORT CONNS SECONDS PIPELINE
 *       CONNS connections, each sending batches of PIPELINE commands
 *       (SET and GET of its own keys, values that say which key and
 *       round they belong to) and checking every reply: complete, well
 *       formed, and the value the connection last stored.  Runs for
 *       SECONDS or until the server closes the connections (a shutdown);
 *       then prints one line "replies=N torn=N wrong=N closed=N" and
 *       exits 0 if no reply was torn (a connection that ended in the
 *       middle of a reply) or wrong.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SILENCE_MS 10000

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        perror("kv_probe: connect");
        exit(2);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static char *read_stdin(size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    for (;;) {
        if (n == cap)
            b = realloc(b, cap *= 2);
        ssize_t r = read(0, b + n, cap - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    *len = n;
    return b;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int raw_mode(int port, size_t chunk, long gap_us)
{
    size_t len, off = 0;
    char *in = read_stdin(&len);
    int fd = dial(port);
    int64_t next_write = 0;
    size_t got = 0;
    char buf[65536];
    for (;;) {
        struct pollfd pf = {.fd = fd, .events = POLLIN | (off < len ? POLLOUT : 0)};
        int wait_ms = SILENCE_MS;
        if (off < len && gap_us > 0) {
            int64_t d = next_write - now_us();
            wait_ms = d > 0 ? (int)(d / 1000) + 1 : 0;
            if (d > 0)
                pf.events &= ~POLLOUT;
        }
        int r = poll(&pf, 1, wait_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0 && !(off < len && gap_us > 0)) {
            fprintf(stderr, "kv_probe: no reply for %d ms (sent %zu of %zu bytes, got %zu)\n",
                    SILENCE_MS, off, len, got);
            return 2;
        }
        if (pf.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = read(fd, buf, sizeof(buf));
            if (n == 0 || (n < 0 && errno == ECONNRESET && got > 0))
                break;
            if (n < 0) {
                perror("kv_probe: read");
                return 2;
            }
            fwrite(buf, 1, (size_t)n, stdout);
            got += (size_t)n;
        }
        if (off < len && (pf.revents & POLLOUT)) {
            size_t n = chunk && len - off > chunk ? chunk : len - off;
            ssize_t w = send(fd, in + off, n, MSG_NOSIGNAL);
            if (w < 0 && errno != EAGAIN && errno != EINTR) {
                /* the server closed early (a protocol error): read the rest */
                off = len;
                continue;
            }
            if (w > 0) {
                off += (size_t)w;
                fprintf(stderr, "sent %zu\n", off);
            }
            next_write = now_us() + gap_us;
        }
    }
    fflush(stdout);
    close(fd);
    free(in);
    return 0;
}

/* --- load mode ------------------------------------------------------------- */

typedef struct lconn {
    int fd;
    int id;
    long round;        /* batches sent */
    int pending;       /* replies still expected for the batch in flight */
    char rbuf[1 << 16];
    size_t rlen;
    int open;
} lconn;

static long replies, torn, wrong, closed_by_server;

/* Parses one reply at the front of c->rbuf: its length, 0 if incomplete,
 * -1 if malformed.  Checks GET values against the round. */
static long parse_reply(lconn *c, int expect_get)
{
    char *b = c->rbuf, *e = b + c->rlen;
    char *nl = memchr(b, '\n', c->rlen);
    if (!nl)
        return 0;
    if (nl == b || nl[-1] != '\r')
        return -1;
    if (b[0] == '+')
        return expect_get ? -1 : nl + 1 - b;
    if (b[0] != '$' || !expect_get)
        return -1;
    long n = strtol(b + 1, NULL, 10);
    if (n < 0 || n > 1000)
        return -1;
    if (e - (nl + 1) < n + 2)
        return 0;
    char want[64];
    int wl = snprintf(want, sizeof(want), "c%d-r%ld", c->id, c->round - 1);
    if (n != wl || memcmp(nl + 1, want, (size_t)wl) != 0 || nl[1 + n] != '\r' || nl[2 + n] != '\n')
        wrong++;
    return (nl + 1 - b) + n + 2;
}

static int send_batch(lconn *c, int pipeline)
{
    char out[1 << 14];
    size_t n = 0;
    char key[32], val[64];
    int kl = snprintf(key, sizeof(key), "probe:%d", c->id);
    int vl = snprintf(val, sizeof(val), "c%d-r%ld", c->id, c->round);
    for (int i = 0; i < pipeline; i++) {
        if (i % 2 == 0)
            n += (size_t)snprintf(out + n, sizeof(out) - n, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n",
                                  kl, key, vl, val);
        else
            n += (size_t)snprintf(out + n, sizeof(out) - n, "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", kl, key);
    }
    c->round++;
    c->pending = pipeline;
    ssize_t w = send(c->fd, out, n, MSG_NOSIGNAL);
    return w == (ssize_t)n ? 0 : -1;
}

static int load_mode(int port, int nconns, int seconds, int pipeline)
{
    if (pipeline < 1 || pipeline > 200)
        pipeline = 1;
    lconn *cs = calloc((size_t)nconns, sizeof(*cs));
    struct pollfd *pf = calloc((size_t)nconns, sizeof(*pf));
    for (int i = 0; i < nconns; i++) {
        cs[i].fd = dial(port);
        cs[i].id = i;
        cs[i].open = 1;
        if (send_batch(&cs[i], pipeline) < 0)
            cs[i].open = 0;
    }
    int64_t end = now_us() + (int64_t)seconds * 1000000;
    int open = nconns;
    while (open > 0 && now_us() < end) {
        for (int i = 0; i < nconns; i++) {
            pf[i].fd = cs[i].open ? cs[i].fd : -1;
            pf[i].events = POLLIN;
        }
        int r = poll(pf, (nfds_t)nconns, 100);
        if (r < 0 && errno != EINTR)
            break;
        for (int i = 0; i < nconns && r > 0; i++) {
            lconn *c = &cs[i];
            if (!c->open || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = read(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen);
            if (n <= 0) {
                /* closed: a reply cut short is torn; a batch not yet
                 * answered at all is not (the server may drop it) */
                if (c->rlen > 0)
                    torn++;
                closed_by_server++;
                c->open = 0;
                open--;
                continue;
            }
            c->rlen += (size_t)n;
            for (;;) {
                int idx = pipeline - c->pending;
                long used = c->pending ? parse_reply(c, idx % 2 == 1) : -1;
                if (used == 0)
                    break;
                if (used < 0) {
                    wrong++;
                    c->rlen = 0;
                    break;
                }
                replies++;
                memmove(c->rbuf, c->rbuf + used, c->rlen - (size_t)used);
                c->rlen -= (size_t)used;
                if (--c->pending == 0 && send_batch(c, pipeline) < 0) {
                    closed_by_server++;
                    c->open = 0;
                    open--;
                    break;
                }
            }
        }
    }
    for (int i = 0; i < nconns; i++)
        close(cs[i].fd);
    printf("replies=%ld torn=%ld wrong=%ld closed=%ld\n", replies, torn, wrong, closed_by_server);
    free(cs);
    free(pf);
    return torn == 0 && wrong == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "raw"))
        return raw_mode(atoi(argv[2]), argc > 3 ? (size_t)atol(argv[3]) : 0,
                        argc > 4 ? atol(argv[4]) : 0);
    if (argc == 6 && !strcmp(argv[1], "load"))
        return load_mode(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
    fprintf(stderr, "usage: kv_probe raw PORT [CHUNK [GAP_US]]\n"
                    "       kv_probe load PORT CONNS SECONDS PIPELINE\n");
    return 2;
}
