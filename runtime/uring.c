/*
 * uring.c - each worker's io_uring.
 *
 * One ring per worker, created on the worker's own thread with
 * SINGLE_ISSUER (the kernel may skip locking), DEFER_TASKRUN (completion
 * work runs only when the worker enters the kernel to reap: no
 * interrupting task work while goroutines run) and COOP_TASKRUN, where
 * the kernel has them; each missing flag is dropped in turn and the
 * result is reported by wring_describe (GR_DEBUG=1 prints it at start).
 *
 * Goroutines fill SQEs and park; nothing is submitted until the worker's
 * scheduling round ends (find_runnable in sched.c calls wring_wait), so a
 * burst of I/O from many goroutines costs one io_uring_enter.  The same
 * call waits for completions with the next timer as timeout: the idle
 * worker sleeps in the kernel waiting for I/O and time at once.
 *
 * Wake-ups.  A worker wakes a sleeping one with IORING_OP_MSG_RING on its
 * own ring, which posts a CQE to the sleeper's ring (no extra file
 * descriptor, no task switch to a helper).  A thread that is not a worker
 * (the offload pool, gr_run's caller during shutdown) cannot submit on a
 * SINGLE_ISSUER ring, so each ring also keeps a read pending on an
 * eventfd, which any thread may write.
 *
 * User data.  The kernel cancels *by user_data*: IORING_OP_ASYNC_CANCEL
 * does, and so does a linked timeout that fires while its request
 * completes - it takes the request's user_data then and cancels later, in
 * a batch of completion work that may run after the goroutine got its
 * result and submitted its next request.  So a request's user_data must
 * never be reused while a cancel could still name it.  It is a slot of
 * the worker's request table and that slot's generation (bumped at each
 * use), with the worker's index on top (uring.h): unique on its ring for
 * 2^32 uses of a slot, it leads dispatch back to the request in two loads
 * and tells a cancel whether the request it names is still in flight.
 * Rejected: the address of the request on the goroutine's stack (what
 * greenrt used), which the goroutine's next request has again - a late
 * cancel hit it and it returned an -ECANCELED nobody asked for; the
 * address with a generation in its spare top bits (16 of them: not
 * unique enough to promise "never").
 *
 * Cancelling.  A ring is SINGLE_ISSUER: only its worker may submit on it.
 * wring_cancel(ud), from any thread, queues ud on the owning worker's
 * cancel queue and wakes it; the worker turns the queue into
 * IORING_OP_ASYNC_CANCEL SQEs at the start of its next wring_wait -
 * behind every SQE of its round, so a request prepared but not yet
 * submitted is found - skipping the requests that have completed
 * meanwhile (their slot moved on).  A worker cancels on its own ring at
 * once.  A worker stuck in a system call (a goroutine's raw blocking
 * call) submits the cancels of its ring when it is back, as it reaps its
 * completions only then.  gr_close (fd_close_prepare, fd.c) and
 * io_cancel_g (io.c) are built on it.
 *
 * When the kernel says no.  A wake-up by MSG_RING can fail (the target
 * ring is gone or full, no memory); its failure comes back as a CQE to
 * the sender, tagged with the target, and the sender wakes the target
 * through its eventfd instead, whose completion clears wake_pending as any
 * wake-up does.  (Ignored, that CQE left wake_pending set, and no other
 * worker could wake the target again.)  The sender looks for the failure
 * right after its submission too, where the kernel posts the failures it
 * finds at once: it may not reap its ring for a while (a goroutine of its
 * own about to block in a system call).  An io_uring_enter that fails
 * to submit (-EAGAIN, -ENOMEM, -EBUSY) leaves its SQEs in the SQ:
 * `unsubmitted` is read back from the ring after every enter, so every
 * scheduling round tries again, and an idle worker waits at most
 * SUBMIT_RETRY_NS for a completion before it does; any other error means
 * the ring is unusable, and is fatal.
 */
#include "uring.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bufring.h"
#include "fatal.h"
#include "greenrt.h"
#include "probes.h"
#include "sched.h"

/* SQ entries: a scheduling round's submissions (a round that fills the SQ
 * submits early, wring_sqe: one more io_uring_enter per RING_ENTRIES
 * requests, cheap by then).  More would only cost memory, 64 bytes each. */
#define RING_ENTRIES 1024
/* CQ entries: every completion that may arrive between two reaps, up to
 * one per request in flight - a receive per idle connection a worker's
 * goroutines wait on, 10,000 connections on a few workers.  Past it the
 * kernel keeps completions on an overflow list it allocates (slower);
 * 16 bytes each, so this is 256 KiB a ring. */
#define CQ_ENTRIES 16384
#define SUBMIT_RETRY_NS 1000000 /* an idle worker whose submissions fail retries this often */
#define SLOTS_MIN 64             /* request slots a ring starts with */
#define CANCELS_MIN 16

_Static_assert(MAX_WORKERS <= 1u << (64 - UD_WORKER_SHIFT), "a worker index must fit user_data");
_Static_assert(UD_MSG_RING + MAX_WORKERS <= UD_REQ_MIN, "tags must stay below requests");

/* Describes the ring setup for debug output: "single_issuer defer_taskrun..." */
static const char *wring_describe(worker *w);

static void arm_eventfd(worker *w)
{
    struct io_uring_sqe *sqe = wring_sqe(w);
    if (!sqe) {
        w->ring.efd_rearm = true; /* the next round tries again */
        return;
    }
    io_uring_prep_read(sqe, w->ring.wake_efd, &w->ring.efd_buf, sizeof w->ring.efd_buf, 0);
    io_uring_sqe_set_data64(sqe, UD_WAKE);
}

int wring_init(worker *w)
{
    wring *r = &w->ring;
    memset(r, 0, sizeof *r);
    r->wake_efd = -1;
    static const unsigned tries[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_COOP_TASKRUN |
            IORING_SETUP_TASKRUN_FLAG,
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
        IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
        0,
    };
    int err = -ENOSYS;
    for (size_t i = 0; i < sizeof tries / sizeof tries[0]; i++) {
        struct io_uring_params p;
        memset(&p, 0, sizeof p);
        p.flags = tries[i] | IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
        p.cq_entries = CQ_ENTRIES;
        err = io_uring_queue_init_params(RING_ENTRIES, &r->ring, &p);
        if (err == -EINVAL) {
            p.flags &= ~IORING_SETUP_SUBMIT_ALL;
            memset(&p.sq_off, 0, sizeof p.sq_off);
            memset(&p.cq_off, 0, sizeof p.cq_off);
            err = io_uring_queue_init_params(RING_ENTRIES, &r->ring, &p);
        }
        if (err == 0) {
            r->single_issuer = p.flags & IORING_SETUP_SINGLE_ISSUER;
            r->defer_taskrun = p.flags & IORING_SETUP_DEFER_TASKRUN;
            r->coop_taskrun = p.flags & IORING_SETUP_COOP_TASKRUN;
            break;
        }
        if (err != -EINVAL)
            break;
    }
    if (err) {
        fprintf(stderr,
                "greenrt: cannot create an io_uring (%s): GR_ENGINE=uring needs io_uring "
                "(Linux 5.19 or later, kernel.io_uring_disabled=0, not refused by a seccomp "
                "filter); GR_ENGINE=auto runs the epoll engine where io_uring does not work\n",
                strerror(-err));
        return err;
    }
    store_release(&r->up, true);
    struct io_uring_probe *probe = io_uring_get_probe_ring(&r->ring);
    if (probe) {
        r->has_msg_ring = io_uring_opcode_supported(probe, IORING_OP_MSG_RING);
        io_uring_free_probe(probe);
    }
    r->wake_efd = eventfd(0, EFD_CLOEXEC);
    if (r->wake_efd < 0) {
        err = -errno;
        io_uring_queue_exit(&r->ring);
        r->up = false;
        return err;
    }
    arm_eventfd(w);
    if (getenv("GR_DEBUG") && w->index == 0)
        fprintf(stderr, "greenrt: worker rings: %s\n", wring_describe(w));
    return 0;
}

void wring_fini(worker *w)
{
    wring *r = &w->ring;
    if (r->up)
        io_uring_queue_exit(&r->ring);
    if (r->wake_efd >= 0)
        close(r->wake_efd);
    free(r->slots);
    free(r->cancels);
    r->slots = NULL;
    r->cancels = NULL;
    r->nslots = r->free_slot = r->ncancel = r->cancel_cap = 0;
    r->up = false;
    r->wake_efd = -1;
}

static const char *wring_describe(worker *w)
{
    static __thread char buf[128];
    wring *r = &w->ring;
    snprintf(buf, sizeof buf, "%s%s%s%s", r->single_issuer ? "single_issuer " : "",
             r->defer_taskrun ? "defer_taskrun " : "", r->coop_taskrun ? "coop_taskrun " : "",
             r->has_msg_ring ? "msg_ring" : "eventfd-wakeups");
    return buf;
}

/* ---------------------------------------------------------------------
 * Submission
 * ------------------------------------------------------------------- */

static bool submit_error_transient(int err)
{
    return err == -EAGAIN || err == -ENOMEM || err == -EBUSY || err == -EINTR || err == -ETIME;
}

/* After an io_uring_enter that was to submit (ret: what it returned):
 * what the kernel did not consume is still in the SQ, and counts. */
static void submit_done(worker *w, int ret)
{
    wring *r = &w->ring;
    r->unsubmitted = io_uring_sq_ready(&r->ring);
    if (!r->unsubmitted) {
        r->submit_failing = 0;
        return;
    }
    if (ret < 0 && !submit_error_transient(ret))
        fatal("io_uring_enter failed on worker %d: %s (the ring is unusable)", w->index,
              strerror(-ret));
    r->submit_err = ret < 0 ? ret : -EAGAIN; /* a short submission: out of requests */
    if (!r->submit_failing)
        r->submit_failing = now_ns();
}

static int wring_submit(worker *w)
{
    stat_inc(w, ring_enters);
    int ret = io_uring_submit(&w->ring.ring);
    submit_done(w, ret);
    return ret;
}

struct io_uring_sqe *wring_sqe(worker *w)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring.ring);
    if (!sqe) {
        /* SQ full: submit what we have (rare: RING_ENTRIES per round). */
        wring_submit(w);
        sqe = io_uring_get_sqe(&w->ring.ring);
        if (!sqe)
            return NULL;
    }
    w->ring.unsubmitted++;
    return sqe;
}

bool wring_reserve(worker *w, unsigned n)
{
    if (io_uring_sq_space_left(&w->ring.ring) >= n)
        return true;
    wring_submit(w);
    return io_uring_sq_space_left(&w->ring.ring) >= n;
}

/* ---------------------------------------------------------------------
 * Request slots: unique user_data
 * ------------------------------------------------------------------- */

static bool slots_grow(wring *r)
{
    uint32_t n = r->nslots ? r->nslots * 2 : SLOTS_MIN;
    if (n > 1u << UD_SLOT_BITS)
        n = 1u << UD_SLOT_BITS;
    if (n <= r->nslots)
        return false;
    ioslot *s = realloc(r->slots, sizeof *s * n);
    if (!s)
        return false;
    /* Slot 0 is never used (user_data >= UD_REQ_MIN); the new ones go on
     * the free list in order. */
    uint32_t first = r->nslots ? r->nslots : 1;
    for (uint32_t i = first; i < n; i++)
        s[i] = (ioslot){.next_free = i + 1 < n ? i + 1 : 0};
    if (!r->nslots)
        s[0] = (ioslot){0};
    r->slots = s;
    r->free_slot = first;
    r->nslots = n;
    return true;
}

uint64_t wring_ud_alloc(worker *w, ioreq *req)
{
    wring *r = &w->ring;
    if (!r->free_slot && !slots_grow(r))
        return 0;
    uint32_t i = r->free_slot;
    ioslot *s = &r->slots[i];
    r->free_slot = s->next_free;
    s->req = req;
    return (uint64_t)w->index << UD_WORKER_SHIFT | (uint64_t)i << UD_SLOT_SHIFT | ++s->gen;
}

/* The slot of a live user_data of w's ring, or NULL (completed). */
static ioslot *ud_slot(worker *w, uint64_t ud)
{
    wring *r = &w->ring;
    uint32_t i = (uint32_t)(ud >> UD_SLOT_SHIFT) & ((1u << UD_SLOT_BITS) - 1);
    if (ud_worker(ud) != (uint32_t)w->index || i == 0 || i >= r->nslots)
        return NULL;
    ioslot *s = &r->slots[i];
    return s->req && s->gen == (uint32_t)ud ? s : NULL;
}

static void slot_free(wring *r, ioslot *s)
{
    s->req = NULL;
    s->next_free = r->free_slot;
    r->free_slot = (uint32_t)(s - r->slots);
}

void wring_ud_release(worker *w, uint64_t ud)
{
    ioslot *s = ud_slot(w, ud);
    if (s)
        slot_free(&w->ring, s);
}

/* ---------------------------------------------------------------------
 * Cancellation
 * ------------------------------------------------------------------- */

static bool prep_cancel(worker *w, uint64_t ud)
{
    if (!ud_slot(w, ud))
        return true; /* completed: nothing to cancel */
    struct io_uring_sqe *sqe = wring_sqe(w);
    if (!sqe)
        return false;
    io_uring_prep_cancel64(sqe, ud, 0);
    io_uring_sqe_set_data64(sqe, UD_IGNORE);
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    return true;
}

/* Turns w's cancel queue into cancel SQEs (owner; wring_wait). */
static void cancels_drain(worker *w)
{
    wring *r = &w->ring;
    lock(&r->cancel_lock);
    uint32_t done = 0;
    while (done < r->ncancel && prep_cancel(w, r->cancels[done]))
        done++;
    /* What found the SQ full and unsubmittable waits for the next round. */
    memmove(r->cancels, r->cancels + done, (r->ncancel - done) * sizeof r->cancels[0]);
    store_relaxed(&r->ncancel, r->ncancel - done);
    unlock(&r->cancel_lock);
}

void wring_cancel(uint64_t ud)
{
    if (ud < UD_REQ_MIN || ud_worker(ud) >= (uint32_t)sched.nprocs)
        return;
    worker *t = &sched.workers[ud_worker(ud)];
    worker *self = current_worker();
    if (self == t && prep_cancel(t, ud))
        return; /* our own ring: behind the request, submitted this round */
    wring *r = &t->ring;
    lock(&r->cancel_lock);
    if (r->ncancel == r->cancel_cap) {
        uint32_t cap = r->cancel_cap ? r->cancel_cap * 2 : CANCELS_MIN;
        uint64_t *c = realloc(r->cancels, sizeof *c * cap);
        if (!c) {
            unlock(&r->cancel_lock);
            fatal("out of memory queueing an I/O cancellation"); /* as Go */
        }
        r->cancels = c;
        r->cancel_cap = cap;
    }
    r->cancels[r->ncancel] = ud;
    store_relaxed(&r->ncancel, r->ncancel + 1);
    unlock(&r->cancel_lock);
    if (self != t)
        wring_wake(t);
}

/* ---------------------------------------------------------------------
 * Completion
 * ------------------------------------------------------------------- */

/* Handles every CQE in the ring.  All of them: a completion left in the
 * CQ keeps its provided buffer, and holding them back is how a pool runs
 * dry under ten thousand connections.  Goroutines past a full run queue
 * wait in the worker's ioq, still in completion order (ready_io). */
static int dispatch(worker *w)
{
    struct io_uring_cqe *cqe;
    unsigned head, n = 0;
    bool rearm = false;
    io_uring_for_each_cqe(&w->ring.ring, head, cqe)
    {
        n++;
        uint64_t ud = io_uring_cqe_get_data64(cqe);
        if (ud < UD_REQ_MIN) {
            if (ud == UD_WAKE) {
                /* res 8: our eventfd read completed (a MSG_RING wake-up
                 * has res 0 and leaves the read pending). */
                if (cqe->res == (int)sizeof(uint64_t) || (cqe->res < 0 && cqe->res != -ECANCELED))
                    rearm = true;
                store_relaxed(&w->ring.wake_pending, 0);
            } else if (ud >= UD_MSG_RING && ud - UD_MSG_RING < (uint64_t)sched.nprocs) {
                /* Only failures come back (CQE_SKIP_SUCCESS): the target
                 * was not woken.  Its eventfd will. */
                wring_kick(&sched.workers[ud - UD_MSG_RING]);
            }
            continue;
        }
        ioslot *s = ud_slot(w, ud);
        if (!s)
            continue; /* cannot happen: each request completes once */
        ioreq *req = s->req;
        slot_free(&w->ring, s);
        req->res = cqe->res;
        if (cqe->flags & IORING_CQE_F_BUFFER)
            req->buf = bufring_complete(w, cqe->res, cqe->flags);
        stat_inc(w, io_completed);
        store_relaxed(&w->io_pending, w->io_pending - 1);
        if (req->gp) {
            PROBE2(io_complete, req->gp->id, cqe->res);
            ready_io(w, req->gp, req->input);
        }
        /* Only once the goroutine is queued: this worker may still count
         * as idle (dispatch runs in its sleep), and the deadlock check of
         * another (sched.c) must never see neither the request in flight
         * nor the goroutine it readied - it did, at GR_SCHED_RANDOM=1
         * (test_fd_file_writes_serialised). */
        __atomic_fetch_sub(&sched.io_inflight, 1, __ATOMIC_ACQ_REL);
    }
    io_uring_cq_advance(&w->ring.ring, n);
    if (rearm)
        w->ring.efd_rearm = true;
    return (int)n;
}

int wring_wait(worker *w, int64_t timeout_ns)
{
    wring *r = &w->ring;
    if (load_relaxed(&r->ncancel))
        cancels_drain(w);
    if (r->efd_rearm) {
        r->efd_rearm = false;
        arm_eventfd(w);
    }
    if (timeout_ns == 0 && !r->unsubmitted &&
        !(IO_URING_READ_ONCE(*r->ring.sq.kflags) & IORING_SQ_TASKRUN)) {
        /* A poll with nothing to submit and no completion work deferred
         * in the kernel (TASKRUN_FLAG tells): whatever has completed is
         * in the CQ already, so reap it without a system call.  This is
         * what makes polling from a spinning worker cheap. */
        return io_uring_cq_ready(&r->ring) ? dispatch(w) : 0;
    }
    struct io_uring_cqe *cqe = NULL;
    int ret;
    stat_inc(w, ring_enters);
    if (r->submit_failing && timeout_ns != 0) {
        /* Submissions fail: wait a little without submitting (a
         * completion or a wake-up still ends the wait), then try again. */
        int64_t t = timeout_ns < 0 || timeout_ns > SUBMIT_RETRY_NS ? SUBMIT_RETRY_NS : timeout_ns;
        struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = t};
        io_uring_wait_cqe_timeout(&r->ring, &cqe, &ts);
        timeout_ns = 0;
    }
    if (timeout_ns == 0) {
        if (r->unsubmitted)
            ret = io_uring_submit_and_get_events(&r->ring);
        else
            ret = io_uring_get_events(&r->ring);
    } else if (timeout_ns < 0) {
        ret = io_uring_submit_and_wait(&r->ring, 1);
    } else {
        struct __kernel_timespec ts = {.tv_sec = timeout_ns / 1000000000,
                                       .tv_nsec = timeout_ns % 1000000000};
        ret = io_uring_submit_and_wait_timeout(&r->ring, &cqe, 1, &ts, NULL);
    }
    submit_done(w, ret);
    return dispatch(w);
}

/* Whether the MSG_RING tagged `tag` that we just submitted failed at
 * once (its CQE is in our CQ already: see "When the kernel says no");
 * the CQE is neutralised for dispatch. */
static bool msg_ring_failed(worker *self, uint64_t tag)
{
    struct io_uring_cqe *cqe;
    unsigned head;
    io_uring_for_each_cqe(&self->ring.ring, head, cqe)
    {
        if (cqe->user_data == tag) {
            cqe->user_data = UD_IGNORE; /* the CQ ring is ours to write */
            return true;
        }
    }
    return false;
}

void wring_wake(worker *target)
{
    wring *tr = &target->ring;
    if (!load_acquire(&tr->up))
        return;
    /* One wake-up in flight is enough: the sleeper drains all CQEs. */
    uint32_t zero = 0;
    if (!cas_acq_rel(&tr->wake_pending, &zero, 1))
        return;
    worker *self = current_worker();
    if (self && self != target && self->ring.up && self->ring.has_msg_ring) {
        struct io_uring_sqe *sqe = wring_sqe(self);
        if (sqe) {
            uint64_t tag = UD_MSG_RING + (uint64_t)target->index;
            io_uring_prep_msg_ring(sqe, tr->ring.ring_fd, 0, UD_WAKE, 0);
            /* Its CQE comes back only if it failed. */
            io_uring_sqe_set_data64(sqe, tag);
            sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
            /* Submit now: the sleeper must not wait for our next round. */
            wring_submit(self);
            if (!self->ring.unsubmitted && !msg_ring_failed(self, tag))
                return;
            /* Failed, or not submitted (it goes with our next enter: a
             * late, harmless second wake-up): the eventfd wakes the
             * target now. */
        }
    }
    wring_kick(target);
}

void wring_kick(worker *target)
{
    wring *tr = &target->ring;
    if (!load_acquire(&tr->up))
        return;
    uint64_t one = 1;
    if (write(tr->wake_efd, &one, sizeof one) < 0) {
        /* EAGAIN: the counter is saturated, a wake-up is pending anyway */
    }
}
