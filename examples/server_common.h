/*
 * server_common.h - what every example server shares, whatever its
 * concurrency model: command-line flags, the open-files limit, the
 * "listening on HOST:PORT" line, and the set of live connections that a
 * shutdown drains.
 */
#ifndef EXAMPLES_SERVER_COMMON_H
#define EXAMPLES_SERVER_COMMON_H

#include <limits.h>
#include <signal.h>

#define SERVER_BACKLOG 4096

typedef struct server_opts {
    const char *host;     /* --host, default 127.0.0.1 */
    int port;             /* --port, 0 picks a free port */
    int max_conns;        /* --max-conns, 0 = no limit */
    const char *root;     /* realpath of --root, or NULL (HTTP only) */
    char root_buf[PATH_MAX];
} server_opts;

/* A service: what runs on each connection, and optional work that lives
 * as long as the server (kv's expiry sweeper). */
typedef struct server_app {
    const char *prog;                  /* for messages: "kv_greenrt" */
    void (*serve)(int fd, void *ctx);  /* one connection; must close fd with
                                          the model's close (greenrt_close,
                                          threads_close) */
    /* Optional: called once listening, before the first accept (greenrt:
     * in the main goroutine); non-zero makes the server exit 1. */
    int (*start)(void *ctx, int listen_fd);
    /* Optional: called after the last connection ended, before exit. */
    void (*stop)(void *ctx);
    void *ctx;
} server_app;

/* Parses argv; on a bad flag prints "PROG: what is wrong" and the usage on
 * stderr and exits 2; --help prints usage and exits 0.  want_root: accept
 * --root DIR (the HTTP servers). */
void server_parse_args(server_opts *o, int argc, char **argv, const char *prog,
                       int want_root);

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
    unsigned char *live; /* live[fd] != 0 while fd is a served connection */
    int cap;             /* entries in live */
    int count;           /* live connections */
} conn_set;

int conn_set_init(conn_set *s, int cap);      /* 0 or -ENOMEM */
void conn_set_add(conn_set *s, int fd);
void conn_set_del(conn_set *s, int fd);
/* shutdown(SHUT_RDWR) every live connection: their blocked reads return 0,
 * so each connection's thread or goroutine ends on its own. */
void conn_set_shutdown_all(conn_set *s);
void conn_set_free(conn_set *s);

#endif
