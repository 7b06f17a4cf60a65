/*
 * probe_load.c - the checking load of kv_probe and http_probe
 * (probe_load.h): one thread, poll(2) over every connection.
 */
#define _GNU_SOURCE
#include "probe_load.h"

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

int probe_dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        perror("probe: connect");
        exit(2);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

int probe_load(int port, int nconns, int seconds, int pipeline, const probe_proto *p)
{
    long replies = 0, torn = 0, wrong = 0, closed_by_server = 0;
    probe_conn *cs = calloc((size_t)nconns, sizeof(*cs));
    struct pollfd *pf = calloc((size_t)nconns, sizeof(*pf));
    if (!cs || !pf) {
        fprintf(stderr, "probe: out of memory\n");
        return 2;
    }
    int open = 0;
    for (int i = 0; i < nconns; i++) {
        cs[i].fd = probe_dial(port);
        cs[i].id = i;
        cs[i].open = p->send_batch(&cs[i], pipeline) == 0;
        open += cs[i].open;
    }
    long end = now_ms() + seconds * 1000L;
    while (open > 0 && now_ms() < end) {
        for (int i = 0; i < nconns; i++) {
            pf[i].fd = cs[i].open ? cs[i].fd : -1;
            pf[i].events = POLLIN;
        }
        if (poll(pf, (nfds_t)nconns, 100) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < nconns; i++) {
            probe_conn *c = &cs[i];
            if (!c->open || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0);
            if (n <= 0) {
                torn += c->len > 0; /* closed in the middle of a reply */
                closed_by_server++;
                c->open = 0;
                open--;
                continue;
            }
            c->len += (size_t)n;
            long used;
            while (c->pending && (used = p->parse(c, pipeline - c->pending)) != 0) {
                if (used < 0) {
                    wrong++;
                    c->len = 0;
                    break;
                }
                replies++;
                memmove(c->buf, c->buf + used, c->len - (size_t)used);
                c->len -= (size_t)used;
                if (--c->pending == 0 && p->send_batch(c, pipeline) < 0) {
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
    printf("%s=%ld torn=%ld wrong=%ld closed=%ld\n", p->unit, replies, torn, wrong,
           closed_by_server);
    free(cs);
    free(pf);
    return torn == 0 && wrong == 0 ? 0 : 1;
}
