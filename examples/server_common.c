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

static void usage(FILE *f, const char *prog, int want_root)
{
    fprintf(f,
            "usage: %s [--host ADDR] [--port N] [--max-conns N]%s\n"
            "  --host ADDR      address to listen on (default 127.0.0.1)\n"
            "  --port N         TCP port (default 8080; 0 picks a free one)\n"
            "  --max-conns N    serve at most N connections at once; more wait\n"
            "                   in the listen backlog (default 0: no limit)\n"
            "%s"
            "Prints \"listening on HOST:PORT\" when ready; SIGINT/SIGTERM close\n"
            "the listener, shut down the connections and exit 0.\n",
            prog, want_root ? " [--root DIR]" : "",
            want_root ? "  --root DIR       serve the files under DIR (GET /hello is\n"
                        "                   always a fixed body)\n"
                      : "");
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
                       int want_root)
{
    static const struct option longopts[] = {
        {"host", required_argument, 0, 'H'},
        {"port", required_argument, 0, 'p'},
        {"max-conns", required_argument, 0, 'm'},
        {"root", required_argument, 0, 'r'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    memset(o, 0, sizeof(*o));
    o->host = "127.0.0.1";
    o->port = 8080;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "H:p:m:r:h", longopts, NULL)) != -1) {
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
        case 'r': {
            struct stat st;
            if (!want_root)
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
            usage(stdout, prog, want_root);
            exit(0);
        default:
        bad:
            fprintf(stderr, "%s: unknown or incomplete option '%s'\n", prog,
                    argv[optind - 1]);
            usage(stderr, prog, want_root);
            exit(2);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind]);
        usage(stderr, prog, want_root);
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
    s->live = calloc((size_t)cap, 1);
    s->cap = cap;
    s->count = 0;
    return s->live ? 0 : -ENOMEM;
}

void conn_set_add(conn_set *s, int fd)
{
    if (fd >= 0 && fd < s->cap && !s->live[fd]) {
        s->live[fd] = 1;
        s->count++;
    }
}

void conn_set_del(conn_set *s, int fd)
{
    if (fd >= 0 && fd < s->cap && s->live[fd]) {
        s->live[fd] = 0;
        s->count--;
    }
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
