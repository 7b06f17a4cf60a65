/*
 * server_common.c - flags, limits and the connection set shared by the
 * example servers (see server_common.h).
 */
#include "server_common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

static atomic_int draining;

int server_draining(void)
{
    return atomic_load(&draining);
}

void server_drain_begin(void)
{
    atomic_store(&draining, 1);
}

int server_conn_idle(server_conn *c)
{
    /* Both seq_cst: with server_drain_begin's store and the drain's load
     * of c->idle (conn_set_shutdown_idle), either this load sees the flag
     * or the drain sees idle == 1. */
    atomic_store(&c->idle, 1);
    return atomic_load(&draining);
}

static void usage(FILE *f, const char *prog, const server_flags *fl)
{
    fprintf(f,
            "usage: %s [--host ADDR] [--port N] [--max-conns N] [--grace S]%s%s\n"
            "  --host ADDR      address to listen on (default 127.0.0.1)\n"
            "  --port N         TCP port (default 8080; 0 picks a free one)\n"
            "  --max-conns N    serve at most N connections at once; more wait\n"
            "                   in the listen backlog (default 0: no limit)\n"
            "  --grace S        on SIGINT/SIGTERM, give requests in progress S\n"
            "                   seconds to finish (default %d)\n",
            prog, fl->want_timeouts ? " [--read-timeout MS] [--idle-timeout MS]" : "",
            fl->want_root ? " [--root DIR]" : "", SERVER_GRACE_MS_DEFAULT / 1000);
    if (fl->want_timeouts)
        fprintf(f,
                "  --read-timeout MS  a request must arrive in full within MS once its\n"
                "                   first byte has (default %lld; 0: no limit)\n"
                "  --idle-timeout MS  close a connection that has no request in\n"
                "                   progress for MS (default %lld; 0: never)\n",
                (long long)fl->read_timeout_ms, (long long)fl->idle_timeout_ms);
    if (fl->want_root)
        fprintf(f, "  --root DIR       serve the files under DIR (GET /hello is\n"
                   "                   always a fixed body)\n");
    fprintf(f, "Prints \"listening on HOST:PORT\" when ready.  SIGINT/SIGTERM: stop\n"
               "accepting, close idle connections, let requests in progress finish\n"
               "(for --grace at most), then exit 0.\n");
}

static int parse_i64(const char *s, long long lo, long long hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_int(const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

void server_parse_args(server_opts *o, int argc, char **argv, const char *prog,
                       const server_flags *fl)
{
    static const struct option longopts[] = {
        {"host", required_argument, 0, 'H'},
        {"port", required_argument, 0, 'p'},
        {"max-conns", required_argument, 0, 'm'},
        {"root", required_argument, 0, 'r'},
        {"grace", required_argument, 0, 'g'},
        {"read-timeout", required_argument, 0, 'R'},
        {"idle-timeout", required_argument, 0, 'I'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    memset(o, 0, sizeof(*o));
    o->host = "127.0.0.1";
    o->port = 8080;
    o->grace_ms = SERVER_GRACE_MS_DEFAULT;
    o->read_timeout_ms = fl->read_timeout_ms;
    o->idle_timeout_ms = fl->idle_timeout_ms;
    int c;
    int64_t v;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "H:p:m:r:g:R:I:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'H':
            o->host = optarg;
            break;
        case 'p':
            if (parse_int(optarg, 0, 65535, &o->port) < 0) {
                fprintf(stderr, "%s: bad --port '%s': expected 0..65535\n", prog, optarg);
                exit(2);
            }
            break;
        case 'm':
            if (parse_int(optarg, 0, 10000000, &o->max_conns) < 0) {
                fprintf(stderr, "%s: bad --max-conns '%s': expected a count >= 0\n",
                        prog, optarg);
                exit(2);
            }
            break;
        case 'g':
            if (parse_i64(optarg, 0, 86400, &v) < 0) {
                fprintf(stderr, "%s: bad --grace '%s': expected whole seconds, 0..86400\n",
                        prog, optarg);
                exit(2);
            }
            o->grace_ms = v * 1000;
            break;
        case 'R':
        case 'I':
            if (!fl->want_timeouts)
                goto bad;
            if (parse_i64(optarg, 0, 86400000, &v) < 0) {
                fprintf(stderr, "%s: bad --%s '%s': expected milliseconds, 0..86400000\n",
                        prog, c == 'R' ? "read-timeout" : "idle-timeout", optarg);
                exit(2);
            }
            if (c == 'R')
                o->read_timeout_ms = v;
            else
                o->idle_timeout_ms = v;
            break;
        case 'r': {
            struct stat st;
            if (!fl->want_root)
                goto bad;
            if (!realpath(optarg, o->root_buf) || stat(o->root_buf, &st) < 0 ||
                !S_ISDIR(st.st_mode)) {
                fprintf(stderr, "%s: --root '%s' is not a readable directory\n", prog,
                        optarg);
                exit(2);
            }
            o->root = o->root_buf;
            break;
        }
        case 'h':
            usage(stdout, prog, fl);
            exit(0);
        default:
        bad:
            fprintf(stderr, "%s: unknown or incomplete option '%s'\n", prog,
                    argv[optind - 1]);
            usage(stderr, prog, fl);
            exit(2);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind]);
        usage(stderr, prog, fl);
        exit(2);
    }
}

int server_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur > (rlim_t)INT_MAX / 2 ? INT_MAX / 2 : (int)rl.rlim_cur;
}

int server_announce(int lfd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(lfd, (struct sockaddr *)&ss, &sl) < 0)
        return -errno;
    char addr[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof(addr));
        port = ntohs(s4->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof(addr));
        port = ntohs(s6->sin6_port);
    }
    if (ss.ss_family == AF_INET6)
        printf("listening on [%s]:%d\n", addr, port);
    else
        printf("listening on %s:%d\n", addr, port);
    fflush(stdout);
    return 0;
}

int conn_set_init(conn_set *s, int cap)
{
    s->live = calloc((size_t)cap, sizeof(*s->live));
    s->cap = cap;
    s->count = 0;
    return s->live ? 0 : -ENOMEM;
}

void conn_set_add(conn_set *s, server_conn *c)
{
    if (c->fd >= 0 && c->fd < s->cap && !s->live[c->fd]) {
        s->live[c->fd] = c;
        s->count++;
    }
}

void conn_set_del(conn_set *s, int fd)
{
    if (fd >= 0 && fd < s->cap && s->live[fd]) {
        s->live[fd] = NULL;
        s->count--;
    }
}

int conn_set_shutdown_idle(conn_set *s)
{
    int n = 0;
    for (int fd = 0; fd < s->cap; fd++) {
        if (s->live[fd] && atomic_load(&s->live[fd]->idle)) {
            shutdown(fd, SHUT_RD);
            n++;
        }
    }
    return n;
}

void conn_set_shutdown_all(conn_set *s)
{
    for (int fd = 0; fd < s->cap; fd++)
        if (s->live[fd])
            shutdown(fd, SHUT_RDWR);
}

void conn_set_free(conn_set *s)
{
    free(s->live);
    s->live = NULL;
}

int server_prepare(const char *prog, sigset_t *set, struct conn_set *conns)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (conn_set_init(conns, server_raise_nofile()) < 0) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return 1;
    }
    return 0;
}
