/*
 * server_common.h - what every example server shares, whatever its
 * concurrency model: command-line flags, the open-files limit, the
 * "listening on HOST:PORT" line, the set of live connections, and the
 * graceful shutdown (the drain) that both models perform the same way.
 *
 * The drain (SIGINT/SIGTERM): the listener is closed; every connection
 * waiting idle for a request is closed at once (shutdown(SHUT_RD): its
 * read returns end-of-file); a connection in the middle of a request -
 * part of it received, or being answered - finishes it, writes the whole
 * reply and then closes; after --grace seconds whatever is left is cut
 * off (threads: shutdown(SHUT_RDWR); greenrt: its connections' group is
 * cancelled, their I/O returns -ECANCELED).  The process then exits 0.  A connection
 * loop takes part through server_conn_idle / server_conn_busy below, and
 * by not reading another request once server_draining() says so.
 */
#ifndef EXAMPLES_SERVER_COMMON_H
#define EXAMPLES_SERVER_COMMON_H

#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#define SERVER_BACKLOG 4096

typedef struct server_opts {
    const char *host;     /* --host, default 127.0.0.1 */
    int port;             /* --port, 0 picks a free port */
    int max_conns;        /* --max-conns, 0 = no limit */
    const char *root;     /* realpath of --root, or NULL (HTTP only) */
    char root_buf[PATH_MAX];
    int64_t grace_ms;        /* --grace: how long a drain waits for requests in flight */
    int64_t read_timeout_ms; /* --read-timeout: a request, once begun, must
                                arrive in full within it (0: no limit) */
    int64_t idle_timeout_ms; /* --idle-timeout: a connection with no request
                                in progress is closed after it (0: never) */
} server_opts;

/* What server_parse_args accepts besides --host, --port, --max-conns and
 * --grace, and the defaults of the timeouts. */
typedef struct server_flags {
    int want_root;            /* --root DIR (the HTTP servers) */
    int want_timeouts;        /* --read-timeout, --idle-timeout (request-based services) */
    int64_t read_timeout_ms;  /* their defaults */
    int64_t idle_timeout_ms;
} server_flags;

#define SERVER_GRACE_MS_DEFAULT 10000

/* One served connection, owned by the server skeleton; its loop marks
 * when it is idle so that a drain knows what it may close at once. */
typedef struct server_conn {
    int fd;
    atomic_int idle; /* 1: waiting for a request, none of one received */
} server_conn;

/* A service: what runs on each connection, and optional work that lives
 * as long as the server (kv's expiry sweeper). */
typedef struct server_app {
    const char *prog;                  /* for messages: "kv_greenrt" */
    /* one connection (c->fd); must close it with the model's close
     * (greenrt_close, threads_close) before returning */
    void (*serve)(server_conn *c, void *ctx);
    /* Optional: called once listening, before the first accept (greenrt:
     * in the main goroutine); non-zero makes the server exit 1. */
    int (*start)(void *ctx, int listen_fd);
    /* Optional: called after the last connection ended, before exit. */
    void (*stop)(void *ctx);
    void *ctx;
} server_app;

/* Parses argv; on a bad flag prints "PROG: what is wrong" and the usage on
 * stderr and exits 2; --help prints usage and exits 0. */
void server_parse_args(server_opts *o, int argc, char **argv, const char *prog,
                       const server_flags *f);

/* CLOCK_MONOTONIC in milliseconds (vDSO: no system call, never blocks).
 * Deadlines passed to the connection loops' reads are in this clock. */
static inline int64_t server_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- the drain, as a connection loop sees it ---------------------------- */

/* 1 once a shutdown has begun: a connection loop must not start reading
 * another request. */
int server_draining(void);

/* Called before waiting for the first byte of a request (nothing of one
 * buffered): publishes that the connection is idle, so a drain may close
 * it at once, and returns 1 if the server is draining - then close rather
 * than wait.  The store and the check are ordered against the drain's
 * (which sets the flag, then closes the idle), so no idle connection can
 * be missed by both. */
int server_conn_idle(server_conn *c);

/* Called when bytes of a request arrive. */
static inline void server_conn_busy(server_conn *c)
{
    atomic_store_explicit(&c->idle, 0, memory_order_relaxed);
}

/* --- the drain, as the skeletons run it ----------------------------------- */

/* Sets the draining flag (server_draining() is 1 from now on). */
void server_drain_begin(void);

/* Raises RLIMIT_NOFILE's soft limit to the hard limit; returns the new soft
 * limit. */
int server_raise_nofile(void);

/* What both models do before serving: block SIGINT/SIGTERM in every
 * thread (one thread waits for them with sigwait on *set), ignore SIGPIPE,
 * raise the fd limit and size the connection set for it.  0, or 1 after
 * printing "PROG: out of memory". */
struct conn_set;
int server_prepare(const char *prog, sigset_t *set, struct conn_set *conns);

/* Prints "listening on HOST:PORT" (the bound port) on stdout and flushes.
 * Returns 0 or -errno. */
int server_announce(int lfd);

/* Live connections, indexed by fd.  Not locked: the caller holds the lock
 * of its model (pthread mutex, gr_mutex) around every call. */
typedef struct conn_set {
    server_conn **live;  /* live[fd]: the connection on fd, or NULL */
    int cap;             /* entries in live */
    int count;           /* live connections */
} conn_set;

int conn_set_init(conn_set *s, int cap);      /* 0 or -ENOMEM */
void conn_set_add(conn_set *s, server_conn *c);
void conn_set_del(conn_set *s, int fd);
/* shutdown(SHUT_RD) every idle connection: its blocked read returns 0 and
 * its loop ends; a connection that received bytes just before still gets
 * them (the kernel returns what it holds before end-of-file) and answers
 * them, its write side being open.  Returns how many were shut. */
int conn_set_shutdown_idle(conn_set *s);
/* shutdown(SHUT_RDWR) every live connection: their blocked reads return 0
 * and their writes fail, so each connection's thread or goroutine ends
 * on its own. */
void conn_set_shutdown_all(conn_set *s);
void conn_set_free(conn_set *s);

#endif
