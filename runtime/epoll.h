/*
 * epoll.h - the epoll engine (epoll.c explains it): an epoll instance per
 * worker, readiness waits on the fd table's per-fd state (fdpoll, fd.h),
 * and the I/O operations as non-blocking system calls (epoll_io.c).
 */
#ifndef GR_EPOLL_H
#define GR_EPOLL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "fd.h"
#include "g.h"

struct worker;
struct opctx;
struct gr_buf;

/* A worker's epoll instance (owner only, but for `up`, `epfd`, the
 * wake-up fields, which any thread reads). */
typedef struct epw {
    bool up;                /* set up: epfd and wake_efd are valid */
    int epfd;               /* the epoll instance, -1 until made */
    int wake_efd;           /* eventfd in the set: wake-ups from any thread */
    uint32_t wake_pending;  /* atomic: a wake-up is on its way (dedupe) */
    bool has_pwait2;        /* epoll_pwait2 works: timeouts in ns, not ms */
    struct epoll_event *events; /* what one epoll_wait harvests */
} epw;

/* --- the engine (engine.h dispatches here) -------------------------------- */

int epw_init(struct worker *w);
void epw_fini(struct worker *w);
/* Waits up to timeout_ns (< 0 forever, 0 not at all) for readiness or a
 * wake-up, and readies the goroutines waiting for what became ready. */
int epw_wait(struct worker *w, int64_t timeout_ns);
void epw_wake(struct worker *target);
void epw_kick(struct worker *target);
/* gp->io_ud of a goroutine parked on readiness is its fd's entry: its
 * wait is withdrawn and gp readied (engine_cancel_g). */
void epw_cancel_wait(g *gp, uint64_t ud);

/* --- readiness (epoll.c) ---------------------------------------------------- */

/* The readiness "sequence" a call must read *before* its non-blocking
 * attempt, and give to ep_wait if the attempt says -EAGAIN: an edge that
 * comes in between then ends the wait at once instead of being lost. */
static inline uint32_t ep_seq(const fdent *f, uint32_t events)
{
    uint32_t s = 0;
    if (events & EP_IN_EVENTS)
        s += load_acquire(&f->ep.rseq);
    if (events & EP_OUT_EVENTS)
        s += load_acquire(&f->ep.wseq);
    return s;
}

/* Parks the calling goroutine gp until fd (held by h, h->f != NULL) may
 * be ready for `events` (POLLIN, POLLOUT...): an edge since `seq`, an
 * error or hang-up.  0: try the call again; -ETIMEDOUT (the deadline,
 * absolute, 0 none); -EBADF (gr_close); -ECANCELED (io_cancel_g);
 * -ENOMEM (no timer for the deadline); -EPERM or another epoll_ctl error
 * (the fd cannot be waited on with epoll). */
int ep_wait(g *gp, fdhold *h, int fd, uint32_t events, uint32_t seq, int64_t deadline);

/* One attempt of an operation: the non-blocking system call, >= 0 or
 * -errno (-EAGAIN: it would block). */
typedef ssize_t (*ep_attempt_fn)(void *ctx);

/* Runs attempt(ctx) until it says something else than -EAGAIN, waiting
 * for `events` on fd in between (h holds fd; h->f NULL: no waiting, the
 * -EAGAIN is returned); -EINTR is retried.  wait false: -EAGAIN is
 * returned (the caller asked not to block).  The deadline, gr_close and
 * io_cancel_g end it as ep_wait says.  opcode: the io_uring opcode of
 * the same operation, for the io_submit probe (greenrt.h). */
ssize_t ep_io(g *gp, fdhold *h, int fd, uint32_t events, bool wait, uint8_t opcode,
              ep_attempt_fn attempt, void *ctx);

/* A fresh file got the number of f (gr_accept, gr_open...; f may be
 * NULL): forget what the entry knew of the previous one, its
 * registration first; kind: the new one's (enum ep_kind, 0: unknown). */
void ep_fd_fresh(fdent *f, uint8_t kind);

/* gr_close: wakes every goroutine waiting for readiness of f (they return
 * -EBADF), and, once nothing uses the fd, forgets its registration. */
void ep_close_evict(fdent *f);
void ep_fd_reset(fdent *f);

/* --- the operations (epoll_io.c) -------------------------------------------- */

/* io_do's and io_rw's work on the epoll engine (io.c): the operation of
 * ctx (its op), ready_events 0 for a call that must not wait. */
ssize_t epio_do(g *gp, fdhold *h, struct opctx *ctx, short ready_events);
ssize_t epio_rw(g *gp, fdhold *h, int fd, void *buf, size_t n, bool out);
int epio_poll(g *gp, fdhold *h, int fd, short events, int64_t timeout_ns);
int epio_connect(g *gp, fdhold *h, int fd, const struct sockaddr *addr, socklen_t len);

#endif
