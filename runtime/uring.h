/*
 * uring.h - one io_uring per worker: I/O submission and completion,
 * the idle wait (I/O and timers in one io_uring_enter), wake-ups, and
 * cancellation of a request by its user_data.  uring.c explains them.
 */
#ifndef GR_URING_H
#define GR_URING_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

struct worker;
struct g;

/* user_data.  A request's is unique (see "User data" in uring.c):
 *     worker index << UD_WORKER_SHIFT | slot << UD_SLOT_SHIFT | generation
 * and never below UD_REQ_MIN (slot 0 is never used).  Smaller values tag
 * the runtime's own SQEs: */
#define UD_IGNORE 0ull   /* linked timeouts, cancels: their CQEs are dropped */
#define UD_WAKE 1ull     /* a wake-up message (MSG_RING or eventfd read) */
#define UD_MSG_RING 2ull /* + target index: our MSG_RING to that worker */
#define UD_SLOT_SHIFT 32
#define UD_SLOT_BITS 22
#define UD_WORKER_SHIFT (UD_SLOT_SHIFT + UD_SLOT_BITS)
#define UD_REQ_MIN (1ull << UD_SLOT_SHIFT)

static inline uint32_t ud_worker(uint64_t ud)
{
    return (uint32_t)(ud >> UD_WORKER_SHIFT);
}

/* An I/O request a goroutine waits for; lives on that goroutine's stack. */
typedef struct ioreq {
    struct g *gp;     /* parked goroutine (NULL: nobody waits, e.g. cancelled) */
    int32_t res;      /* cqe->res */
    bool input;       /* delivers data to a reader: see "Fresh input", runq.c */
    struct gr_buf *buf; /* provided-buffer receives: the slice (bufring.c) */
} ioreq;

/* A request slot: what a user_data leads back to (owner only). */
typedef struct ioslot {
    ioreq *req;         /* NULL while free */
    uint32_t gen;       /* bumped at each use: the user_data's low half */
    uint32_t next_free; /* free list (slot index; 0 ends it) */
} ioslot;

typedef struct wring {
    struct io_uring ring;
    bool up;              /* ring initialised */
    bool single_issuer;   /* IORING_SETUP_SINGLE_ISSUER in effect */
    bool defer_taskrun;   /* IORING_SETUP_DEFER_TASKRUN in effect */
    bool coop_taskrun;    /* IORING_SETUP_COOP_TASKRUN in effect */
    bool has_msg_ring;    /* IORING_OP_MSG_RING supported */
    bool efd_rearm;       /* the eventfd read must be queued again */
    uint32_t unsubmitted; /* SQEs in the SQ the kernel has not consumed */
    int wake_efd;         /* eventfd: wakes from threads that are not workers */
    uint64_t efd_buf;     /* target of the pending eventfd read */
    uint32_t wake_pending;/* atomic: a wake-up is on its way (dedupe) */
    int64_t submit_failing; /* now_ns() of the first of the submissions
                               failing in a row, 0 when the last one worked */
    int submit_err;       /* the last failure's -errno */

    /* request slots (owner only) */
    ioslot *slots;
    uint32_t nslots, free_slot;

    /* cancellations other threads ask this worker to submit */
    uint32_t cancel_lock;
    uint32_t ncancel;     /* atomic reads allowed without the lock */
    uint32_t cancel_cap;
    uint64_t *cancels;    /* user_data of the requests to cancel */
} wring;

/* Creates w's ring; must run on w's own thread (SINGLE_ISSUER). */
int wring_init(struct worker *w);
void wring_fini(struct worker *w);

/* An SQE on the current worker's ring; submits to make room if the SQ is
 * full.  NULL only if that submission failed (the SQ is still full): the
 * caller tries again later. */
struct io_uring_sqe *wring_sqe(struct worker *w);
/* True once n SQEs can be had from wring_sqe without a submission in
 * between (a request and its linked timeout must go in one); false if the
 * submission that would make room failed. */
bool wring_reserve(struct worker *w, unsigned n);

/* The user_data for a request of w's ring that completes into req (owner
 * only), 0 when out of memory; _release frees one that was never
 * submitted.  Dispatch frees the others. */
uint64_t wring_ud_alloc(struct worker *w, ioreq *req);
void wring_ud_release(struct worker *w, uint64_t ud);

/* Cancels the request with this user_data if it is still in flight (it
 * completes with -ECANCELED, or with its result if that came first); a
 * no-op for one that completed.  Any thread: a ring is SINGLE_ISSUER, so
 * the cancel is submitted by the owning worker, asked through its cancel
 * queue and woken. */
void wring_cancel(uint64_t ud);

/* Submits what is pending, then waits up to timeout_ns (<0: forever,
 * 0: do not wait) for completions, and dispatches them (readying the
 * goroutines).  Returns the number of CQEs handled. */
int wring_wait(struct worker *w, int64_t timeout_ns);

/* Wakes `target` if it is asleep in wring_wait.  Callable from any thread. */
void wring_wake(struct worker *target);
/* Wakes target through its eventfd, whatever wake_pending says: for the
 * last wake-ups of a stopping runtime, which must not depend on a
 * completion the waker will not be there to reap. */
void wring_kick(struct worker *target);

#endif
