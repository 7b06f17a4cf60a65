/*
 * kv_serve.h - one kv (Redis-protocol) connection, in either model: the
 * loop that reads, parses every complete command, executes them and
 * writes all their replies at once.  kv_threads and kv_greenrt supply only
 * the I/O calls, so a comparison of the two compares the concurrency
 * models and nothing else.
 */
#ifndef EXAMPLES_KV_SERVE_H
#define EXAMPLES_KV_SERVE_H

#include <sys/types.h>

#include "kv_cmd.h"
#include "server_common.h"

/* Every function returns -errno on failure; the reads give up with
 * -ETIMEDOUT once deadline_ms (server_now_ms() time; 0: none) has passed. */
typedef struct kv_io {
    ssize_t (*read)(int fd, void *buf, size_t n, int64_t deadline_ms); /* count, 0 at EOF */
    /* Optional: bytes in a buffer the I/O layer lends (greenrt's provided
     * buffers, so that an idle connection holds no read buffer): the
     * count (0 at EOF) with *data and a *handle for release_chunk.
     * -ENOSYS/-EOPNOTSUPP/-EINVAL: not available, use read. */
    ssize_t (*recv_chunk)(int fd, void **handle, char **data, int64_t deadline_ms);
    void (*release_chunk)(void *handle);
    ssize_t (*write_all)(int fd, const void *buf, size_t n); /* n */
    int (*close)(int fd);
} kv_io;

/* A read buffer starts at this size and grows, up to RESP_MAX_REQUEST,
 * only for a command that does not fit; replies are written whenever
 * KV_REPLY_FLUSH bytes of them are pending, and at the end of each batch. */
#define KV_READ_INITIAL (16 * 1024)
#define KV_REPLY_FLUSH (64 * 1024)

/* The active-expiry sweeper both models run (Redis's defaults: hz 10, at
 * most 25% of the time): a cycle every KV_SWEEP_PERIOD_MS, of at most
 * KV_SWEEP_BUDGET_MS, in slices of KV_SWEEP_SLICE_MS between which the
 * greenrt sweeper yields to the connections on its worker. */
#define KV_SWEEP_PERIOD_MS 100
#define KV_SWEEP_BUDGET_MS 25
#define KV_SWEEP_SLICE_MS 1

/* Sets up srv and its store (st, locked with the model's ops) for model
 * ("greenrt" or "threads").  0, or -ENOMEM. */
int kv_server_init(kv_server *srv, kv_store *st, const kv_lock_ops *ops, const char *model);
void kv_server_destroy(kv_server *srv);
/* Records the port the server listens on (for INFO). */
void kv_server_listening(kv_server *srv, int listen_fd);
/* One sweep (KV_SWEEP_BUDGET_MS at most), calling yield (if not NULL)
 * after each slice. */
void kv_server_sweep(kv_server *srv, uint64_t *rng, void (*yield)(void));

/* The timeouts' defaults: a command must arrive within 10 s once begun;
 * an idle connection is never closed (Redis's "timeout 0"). */
#define KV_READ_TIMEOUT_MS 10000
#define KV_IDLE_TIMEOUT_MS 0

/* Serves sc->fd until the client closes, QUITs, breaks the protocol (an
 * error reply, then close), is too slow (srv's timeouts), or the server
 * drains (server_common.h) between two commands; then closes the fd. */
void kv_serve_conn(const kv_io *io, kv_server *srv, server_conn *sc);

#endif
