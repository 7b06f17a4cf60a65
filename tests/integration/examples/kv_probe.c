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

#include "probe_load.h"

#define SILENCE_MS 10000

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
    int fd = probe_dial(port);
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

/* --- load mode: SET then GET of the connection's own key ------------------- */

static int kv_send_batch(probe_conn *c, int pipeline)
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
    return send(c->fd, out, n, MSG_NOSIGNAL) == (ssize_t)n ? 0 : -1;
}

/* Even indexes are SETs (+OK), odd ones GETs of the value this batch set. */
static long kv_parse(probe_conn *c, int index)
{
    char *b = c->buf;
    char *nl = memchr(b, '\n', c->len);
    if (!nl)
        return 0;
    if (nl == b || nl[-1] != '\r')
        return -1;
    if (index % 2 == 0)
        return b[0] == '+' ? nl + 1 - b : -1;
    if (b[0] != '$')
        return -1;
    long n = strtol(b + 1, NULL, 10);
    if (n < 0 || n > 1000)
        return -1;
    if ((long)c->len - (nl + 1 - b) < n + 2)
        return 0;
    char want[64];
    int wl = snprintf(want, sizeof(want), "c%d-r%ld", c->id, c->round - 1);
    if (n != wl || memcmp(nl + 1, want, (size_t)wl) != 0 || nl[1 + n] != '\r' || nl[2 + n] != '\n')
        return -1;
    return (nl + 1 - b) + n + 2;
}

static const probe_proto kv_proto = {"replies", kv_send_batch, kv_parse};

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "raw"))
        return raw_mode(atoi(argv[2]), argc > 3 ? (size_t)atol(argv[3]) : 0,
                        argc > 4 ? atol(argv[4]) : 0);
    if (argc == 6 && !strcmp(argv[1], "load")) {
        int pipeline = atoi(argv[5]);
        return probe_load(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]),
                          pipeline >= 1 && pipeline <= 200 ? pipeline : 1, &kv_proto);
    }
    fprintf(stderr, "usage: kv_probe raw PORT [CHUNK [GAP_US]]\n"
                    "       kv_probe load PORT CONNS SECONDS PIPELINE\n");
    return 2;
}
