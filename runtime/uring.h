/*
 * uring.h - one io_uring per worker: I/O submission and completion,
 * the idle wait (I/O and timers in one io_uring_enter), and wake-ups.
 */
#ifndef GR_URING_H
#define GR_URING_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

struct worker;
struct g;

/* user_data tags.  Anything else is an ioreq pointer (8-aligned). */
#define UD_IGNORE 0ull /* linked timeouts, cancels, msg_ring's own CQE */
#define UD_WAKE 1ull   /* a wake-up message (MSG_RING or eventfd read) */

/* An I/O request a goroutine waits for; lives on that goroutine's stack. */
typedef struct ioreq {
    struct g *gp;     /* parked goroutine (NULL: nobody waits, e.g. cancelled) */
    int32_t res;      /* cqe->res */
    bool input;       /* delivers data to a reader: see "Fresh input", runq.c */
    struct gr_buf *buf; /* provided-buffer receives: the slice (bufring.c) */
} ioreq;

typedef struct wring {
    struct io_uring ring;
    bool up;              /* ring initialised */
    bool single_issuer;   /* IORING_SETUP_SINGLE_ISSUER in effect */
    bool defer_taskrun;   /* IORING_SETUP_DEFER_TASKRUN in effect */
    bool coop_taskrun;    /* IORING_SETUP_COOP_TASKRUN in effect */
    bool has_msg_ring;    /* IORING_OP_MSG_RING supported */
    uint32_t unsubmitted; /* SQEs prepared since the last enter */
    int wake_efd;         /* eventfd: wakes from threads that are not workers */
    uint64_t efd_buf;     /* target of the pending eventfd read */
    uint32_t wake_pending;/* atomic: a wake-up is on its way (dedupe) */
    bool efd_rearm;       /* the eventfd read completed: queue another */
} wring;

/* Creates w's ring; must run on w's own thread (SINGLE_ISSUER). */
int wring_init(struct worker *w);
void wring_fini(struct worker *w);

/* An SQE on the current worker's ring; submits to make room if full. */
struct io_uring_sqe *wring_sqe(struct worker *w);

/* Submits what is pending, then waits up to timeout_ns (<0: forever,
 * 0: do not wait) for completions, and dispatches them (readying the
 * goroutines).  Returns the number of CQEs handled. */
int wring_wait(struct worker *w, int64_t timeout_ns);

/* Wakes `target` if it is asleep in wring_wait.  Callable from any thread. */
void wring_wake(struct worker *target);

/* Describes the ring setup for debug output: "single_issuer defer_taskrun..." */
const char *wring_describe(struct worker *w);

#endif
