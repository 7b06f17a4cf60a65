/*
 * echo_st - the State Threads peer of greenrt's echo server.
 *
 *   echo_st [--host ADDR] [--port N] [--max-conns N] [--eventsys epoll|poll]
 *
 * State Threads (libst, the library behind SRS and early Apache MPM
 * experiments) is the classic "green threads for C" a user would pick
 * instead of greenrt: cooperative threads on ONE OS thread, each blocking
 * call (st_accept, st_read, st_write) parks the thread and the scheduler
 * waits for readiness with poll(2) or epoll(7).  Unlike greenrt it never
 * uses more than one CPU and does a readiness syscall plus the read/write
 * syscalls themselves per request; the comparison driver (bench/compare)
 * runs it beside echo_greenrt, echo_threads and the Go server so the
 * report can say what each design costs.
 *
 * Same flags and behaviour as examples/echo_*.c: --host (127.0.0.1),
 * --port (8080; 0 picks a free port), --max-conns N (at most N connections
 * at once; the others wait in the listen backlog), "listening on
 * HOST:PORT" on stdout once ready, SIGINT/SIGTERM close the listener,
 * shut every connection down, wait for them and exit 0.  --eventsys picks
 * ST's event system: poll (the default, ST's classic one) or epoll
 * (ST_EVENTSYS_ALT).  epoll is not the default because Debian 12's libst
 * stalls with it: at 10,000 connections accepting stops after a few
 * hundred (loadgen's connects time out), while poll serves all 10,000.
 *
 * Signals reach the ST world through a self-pipe: the handler writes a
 * byte, an ST thread reading the pipe wakes, interrupts the accept loop
 * and shuts the connections' read side so their threads see EOF.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <st.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define ECHO_BUF 16384          /* as echo_threads' buffer */
#define STACK_SIZE (64 * 1024)  /* as echo_threads' thread stacks */

/* One live connection; linked so that shutdown can reach every one.  All
 * fields belong to the single OS thread that runs every ST thread. */
struct conn {
    st_netfd_t fd;
    struct conn *prev, *next;
};

static struct conn conns;        /* list head (circular) */
static int nconns;               /* live connections */
static int stopping;             /* set once by the signal thread */
static st_cond_t conns_changed;  /* a connection ended */
static st_thread_t accept_thread;
static int sig_pipe[2];

static void on_signal(int sig)
{
    int saved = errno;
    char c = (char)sig;
    if (write(sig_pipe[1], &c, 1) < 0) { /* pipe full: already stopping */ }
    errno = saved;
}

static void *serve(void *arg)
{
    struct conn *c = arg;
    char buf[ECHO_BUF];
    for (;;) {
        ssize_t n = st_read(c->fd, buf, sizeof buf, ST_UTIME_NO_TIMEOUT);
        if (n <= 0)
            break;
        if (st_write(c->fd, buf, (size_t)n, ST_UTIME_NO_TIMEOUT) != n)
            break;
    }
    c->prev->next = c->next;
    c->next->prev = c->prev;
    st_netfd_close(c->fd);
    free(c);
    nconns--;
    st_cond_broadcast(conns_changed);
    return NULL;
}

/* Waits for SIGINT/SIGTERM on the self-pipe, then starts the shutdown. */
static void *signal_thread(void *arg)
{
    st_netfd_t p = arg;
    char c;
    while (st_read(p, &c, 1, ST_UTIME_NO_TIMEOUT) < 0 && errno == EINTR)
        ;
    stopping = 1;
    st_thread_interrupt(accept_thread);
    for (struct conn *k = conns.next; k != &conns; k = k->next)
        shutdown(st_netfd_fileno(k->fd), SHUT_RD); /* serve() reads EOF */
    st_cond_broadcast(conns_changed);
    return NULL;
}

static int listen_tcp(const char *host, int port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "echo_st: cannot resolve '%s': %s\n", host, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 4096) < 0) {
        fprintf(stderr, "echo_st: cannot listen on %s:%d: %s\n", host, port, strerror(errno));
        freeaddrinfo(res);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    freeaddrinfo(res);
    return fd;
}

static void print_listening(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char addr[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    getsockname(fd, (struct sockaddr *)&ss, &len);
    if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof addr);
        port = ntohs(s6->sin6_port);
        printf("listening on [%s]:%d\n", addr, port);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof addr);
        port = ntohs(s4->sin_port);
        printf("listening on %s:%d\n", addr, port);
    }
    fflush(stdout);
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

static void usage(FILE *f)
{
    fprintf(f, "usage: echo_st [--host ADDR] [--port N] [--max-conns N] [--eventsys epoll|poll]\n"
               "  --host ADDR      address to listen on (default 127.0.0.1)\n"
               "  --port N         TCP port (default 8080; 0 picks a free port)\n"
               "  --max-conns N    serve at most N connections at once; more wait\n"
               "                   in the listen backlog (default 0: no limit)\n"
               "  --eventsys E     State Threads' event system: poll (default) or epoll\n"
               "Prints \"listening on HOST:PORT\" when ready; SIGINT/SIGTERM close\n"
               "the listener, drain the connections and exit 0.\n");
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    int port = 8080, max_conns = 0, eventsys = ST_EVENTSYS_POLL;
    static const struct option opts[] = {
        {"host", required_argument, 0, 'h'},
        {"port", required_argument, 0, 'p'},
        {"max-conns", required_argument, 0, 'm'},
        {"eventsys", required_argument, 0, 'e'},
        {"help", no_argument, 0, '?'},
        {0, 0, 0, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'h': host = optarg; break;
        case 'p':
            if (parse_int(optarg, 0, 65535, &port) < 0) {
                fprintf(stderr, "echo_st: bad --port '%s': expected 0..65535\n", optarg);
                return 2;
            }
            break;
        case 'm':
            if (parse_int(optarg, 0, 10000000, &max_conns) < 0) {
                fprintf(stderr, "echo_st: bad --max-conns '%s': expected a count >= 0\n", optarg);
                return 2;
            }
            break;
        case 'e':
            if (strcmp(optarg, "epoll") == 0)
                eventsys = ST_EVENTSYS_ALT;
            else if (strcmp(optarg, "poll") == 0)
                eventsys = ST_EVENTSYS_POLL;
            else {
                fprintf(stderr, "echo_st: bad --eventsys '%s': expected epoll or poll\n", optarg);
                return 2;
            }
            break;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }

    /* 10,000 connections need 10,000 fds; ST sizes its tables from this. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    if (st_set_eventsys(eventsys) < 0) {
        fprintf(stderr, "echo_st: this libst lacks the %s event system: %s\n",
                eventsys == ST_EVENTSYS_ALT ? "epoll" : "poll", strerror(errno));
        return 1;
    }
    if (st_init() < 0) {
        fprintf(stderr, "echo_st: st_init failed: %s\n", strerror(errno));
        return 1;
    }
    int lfd = listen_tcp(host, port);
    if (lfd < 0)
        return 1;
    st_netfd_t lnfd = st_netfd_open_socket(lfd);
    if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0 || !lnfd) {
        fprintf(stderr, "echo_st: setup failed: %s\n", strerror(errno));
        return 1;
    }
    st_netfd_t pnfd = st_netfd_open(sig_pipe[0]);
    conns.next = conns.prev = &conns;
    conns_changed = st_cond_new();
    accept_thread = st_thread_self();
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (!pnfd || !conns_changed || !st_thread_create(signal_thread, pnfd, 0, 0)) {
        fprintf(stderr, "echo_st: setup failed: %s\n", strerror(errno));
        return 1;
    }
    print_listening(lfd);

    while (!stopping) {
        while (max_conns > 0 && nconns >= max_conns && !stopping)
            st_cond_wait(conns_changed);
        if (stopping)
            break;
        st_netfd_t cfd = st_accept(lnfd, NULL, NULL, ST_UTIME_NO_TIMEOUT);
        if (!cfd) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE) {
                st_usleep(10000); /* wait for a connection to end */
                continue;
            }
            fprintf(stderr, "echo_st: accept: %s\n", strerror(errno));
            return 1;
        }
        struct conn *c = calloc(1, sizeof *c);
        if (!c) {
            st_netfd_close(cfd);
            continue;
        }
        c->fd = cfd;
        c->next = &conns;
        c->prev = conns.prev;
        conns.prev->next = c;
        conns.prev = c;
        nconns++;
        if (!st_thread_create(serve, c, 0, STACK_SIZE)) {
            c->prev->next = c->next;
            c->next->prev = c->prev;
            st_netfd_close(cfd);
            free(c);
            nconns--;
        }
    }
    st_netfd_close(lnfd);
    while (nconns > 0)
        st_cond_wait(conns_changed);
    return 0;
}
