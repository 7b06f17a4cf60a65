/*
 * engine.h - the I/O engine: what the scheduler (sched.c, dormant.c,
 * run.c) and the I/O API (io.c, fd.c, bufring.c) ask of it, whichever
 * one runs.  Two engines serve the same API with the same semantics:
 *
 *   io_uring (uring.c)  requests on a ring per worker, parked goroutines
 *                       readied by their completions (the default);
 *   epoll (epoll.c)     the non-blocking system call first, a park on
 *                       readiness when it says EAGAIN (Go's netpoller),
 *                       for where io_uring is refused: seccomp profiles
 *                       (Docker's, containerd's RuntimeDefault),
 *                       kernel.io_uring_disabled, old kernels.
 *
 * engine.c chooses one at each gr_run (GR_ENGINE=auto|uring|epoll) and
 * says why under GR_DEBUG.  The choice is fixed while the runtime runs.
 *
 * Dispatch is a branch on sched.engine, a byte written before the
 * workers start and only read afterwards, marked unlikely for epoll: the
 * io_uring engine's hot paths pay one predicted branch, never an
 * indirect call (measured with `make bench`: see the report of the
 * commit that made this header).  Rejected: a table of function
 * pointers, an indirect call per operation and per scheduling round.
 */
#ifndef GR_ENGINE_H
#define GR_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "epoll.h"
#include "sched.h"
#include "uring.h"

/* sched.engine */
enum engine_kind {
    ENGINE_URING = 0,
    ENGINE_EPOLL = 1,
};

/* GR_ENGINE, as env.c parsed it (sched.engine_want). */
enum engine_want {
    ENGINE_WANT_AUTO = 0,
    ENGINE_WANT_URING,
    ENGINE_WANT_EPOLL,
};

/* True while the epoll engine runs. */
static inline bool engine_epoll(void)
{
    return __builtin_expect(sched.engine == ENGINE_EPOLL, 0);
}

/* Decides sched.engine from sched.engine_want before the workers start
 * (engine.c): for auto, a probe ring says whether io_uring works here
 * with what greenrt needs.  One line on stderr under GR_DEBUG says which
 * engine and why.  0, or -errno (nothing to choose from). */
int engine_choose(void);

/* The engine's name: "uring" or "epoll", the words GR_ENGINE takes. */
const char *engine_name(int kind);

/* Sets up and tears down w's engine state (on w's own thread for setup:
 * a ring is SINGLE_ISSUER). */
static inline int engine_init(worker *w)
{
    return engine_epoll() ? epw_init(w) : wring_init(w);
}

static inline void engine_fini(worker *w)
{
    if (engine_epoll())
        epw_fini(w);
    else
        wring_fini(w);
}

/* w's engine is set up: its goroutines can do I/O through it. */
static inline bool engine_up(worker *w)
{
    return engine_epoll() ? w->ep.up : w->ring.up;
}

/* Whether a scheduling round should look at w's engine: requests it has
 * not submitted, or goroutines waiting on it (w->io_pending). */
static inline bool engine_has_io(worker *w)
{
    return w->ring.unsubmitted || load_relaxed(&w->io_pending);
}

/* Whether looking at w's completions costs no system call in the common
 * case (io_uring: the CQ is shared memory; epoll: epoll_wait is a system
 * call every time), so that a spinning worker may poll repeatedly. */
static inline bool engine_poll_cheap(void)
{
    return !engine_epoll();
}

/* Submits what is pending and waits up to timeout_ns (< 0: forever, 0:
 * not at all) for completions or readiness, readying the goroutines they
 * wake.  The number of events handled. */
static inline int engine_wait(worker *w, int64_t timeout_ns)
{
    return engine_epoll() ? epw_wait(w, timeout_ns) : wring_wait(w, timeout_ns);
}

/* Wakes target if it sleeps in engine_wait (any thread; deduplicated). */
static inline void engine_wake(worker *target)
{
    if (engine_epoll())
        epw_wake(target);
    else
        wring_wake(target);
}

/* Wakes target whatever is pending (the last wake-ups of a stopping
 * runtime). */
static inline void engine_kick(worker *target)
{
    if (engine_epoll())
        epw_kick(target);
    else
        wring_kick(target);
}

/* Cancels the I/O goroutine gp has in flight, if any (any thread).  The
 * goroutine is readied by what ends its wait: the request's completion
 * (io_uring: -ECANCELED, or its result if that came first), or this call
 * (epoll: the goroutine parked on readiness is withdrawn and readied).
 * The caller has set gp->io_cancel or FD_CLOSING first: the woken call
 * reads them to say why (io.c). */
static inline void engine_cancel_g(g *gp)
{
    uint64_t ud = __atomic_load_n(&gp->io_ud, __ATOMIC_SEQ_CST);
    if (!ud)
        return;
    if (engine_epoll())
        epw_cancel_wait(gp, ud);
    else
        wring_cancel(ud); /* a request completed meanwhile is left alone */
}

#endif
