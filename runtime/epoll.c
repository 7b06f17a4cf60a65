/*
 * epoll.c - the epoll engine: the I/O API where io_uring is refused.
 *
 * The problem.  io_uring is the part of greenrt that is most often not
 * allowed: Docker's default seccomp profile and containerd's
 * RuntimeDefault make io_uring_setup fail with EPERM, Linux 6.6+ has
 * kernel.io_uring_disabled, some hosts disable it outright.  A service
 * that must run in a default container still needs goroutines that park
 * on I/O.  engine.c chooses this engine when io_uring does not work
 * (GR_ENGINE=auto), or when asked (GR_ENGINE=epoll).
 *
 * The design is Go's netpoller (runtime/netpoll_epoll.go, internal/poll):
 *
 *   1. An I/O call tries the non-blocking system call first (recv and
 *      send with MSG_DONTWAIT, preadv2 with RWF_NOWAIT...: epoll_io.c);
 *      most calls of a busy server succeed there, in one system call.
 *   2. On EAGAIN the goroutine parks on the fd's readiness (ep_wait).
 *      The fd is registered once, at its first wait, edge-triggered for
 *      everything (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET),
 *      and stays registered until gr_close: no epoll_ctl per operation.
 *      Its readiness state lives in its fd table entry (fdpoll, fd.h:
 *      Go's pollDesc).
 *   3. The worker that owns the registration harvests events in its
 *      scheduling rounds (epoll_wait with no timeout, when goroutines
 *      wait on it) and when idle (epoll_wait with the next timer as
 *      timeout), up to EP_EVENTS_MAX per call, and readies the waiters.
 *
 * The race between 1 and 2: an edge that comes after the attempt said
 * EAGAIN and before the goroutine is queued would be lost (edge-
 * triggered: it is not reported again).  So every event bumps a sequence
 * number of its direction (fdpoll.rseq / .wseq); a call reads it before
 * its attempt, and ep_wait queues the goroutine only if it has not moved
 * - checked after queueing, with a full barrier on both sides (the
 * waiter's atomic add to nwait, the event's to the sequence), so either
 * the waiter sees the new sequence and tries again, or the event sees
 * the waiter and wakes it.
 *
 * Waiters.  A goroutine parked on readiness is a waiter on its fd's
 * `ep.waiters`, under the entry's lock; a reader and a writer each (the
 * fd's locks serialise the rest), plus the calls that take no lock
 * (gr_poll, gr_connect).  Four things end a wait, and race for the
 * goroutine's wake token as a select's cases do: the event (dispatch,
 * on the owning worker: the goroutine is readied there, as a completion
 * readies it on its ring's worker), its deadline (a timer of the timer
 * heap, armed once it has parked), gr_close (-EBADF, ep_close_evict),
 * and io_cancel_g (-ECANCELED, epw_cancel_wait).  The goroutine
 * publishes the wait in gp->io_ud as the fd and a per-goroutine
 * sequence (g.io_seq), so that a late canceller cannot withdraw a later
 * wait (the io_uring engine's unique user_data, for the same reason).
 *
 * One epoll instance per worker, not Go's one shared by every thread.
 * Go's scheduler lets any thread poll the shared instance, one at a time
 * block in it, and the others sleep on futexes; it needs a second way to
 * wake a sleeper (netpollBreak for the poller, futexes for the rest) and
 * puts what the poller harvests on other threads' queues, each such
 * hand-off a cross-CPU wake-up (the dearest thing on a small shared
 * machine).  greenrt's workers already sleep each in their own engine
 * wait, with the next timer of their own heap as timeout (sched.c), and
 * are woken each by their own eventfd - which a shared instance cannot
 * target: an eventfd in a shared set wakes whichever sleeper the kernel
 * picks.  Per worker, the kernel wakes the worker whose goroutine waits
 * on the fd, and the goroutine is readied where its stack is warm, as a
 * completion readies it on its ring's worker: the scheduler (stealing,
 * hand-off, the CPU governor) behaves the same on both engines, so the
 * suite that runs under both tests one scheduler.  (Reasoned, not
 * measured against a shared instance: greenrt has none to measure.)
 * A registration belongs to the worker whose goroutine first waited on
 * the fd; a goroutine that migrates keeps being readied there (the fd's
 * events arrive there), and a worker the CPU governor makes dormant
 * loses its fds one by one: the next wait on one from an active worker
 * moves the registration (EPOLL_CTL_DEL there, ADD here), as connections
 * leave a dormant worker's ring.
 *
 * Wake-ups.  Each instance has an eventfd, edge-triggered: any thread
 * wakes a sleeping worker with one write (deduplicated by wake_pending,
 * as the io_uring engine's).  It is never read: every write is an edge,
 * and a counter that counts to 2^64 never fills.
 *
 * Stale events.  A registration's events carry the fd number and a
 * generation, bumped at each registration of the entry; dispatch drops
 * an event whose generation or owner is not the entry's.  gr_close thus
 * needs no EPOLL_CTL_DEL (the kernel drops the registration with the
 * file; a file that lives on in a dup or a child only sends stale
 * events).  A descriptor closed with close(2) behind greenrt's back is
 * not seen: its number's next file would be taken as registered.  So on
 * this engine the calls that make descriptors (gr_accept, gr_open, the
 * TCP helpers) reset the entry of the number they return, and a
 * goroutine waiting on a descriptor that is closed under it stays parked
 * until its deadline (greenrt.h says: use gr_close; Go says the same).
 *
 * Cost per request of an echo server: recv (data), send, recv (EAGAIN)
 * and 1/N of an epoll_wait that harvests N events - as Go; against the
 * io_uring engine's one io_uring_enter per scheduling round.
 */
#include "epoll.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "engine.h"
#include "fatal.h"
#include "intr.h"
#include "preempt.h"
#include "probes.h"
#include "sched.h"

#define EP_EVENTS_MAX 256        /* events one epoll_wait harvests */
#define EP_WAKE_TAG UINT64_MAX   /* the eventfd's event data (no fd is -1) */
#define EP_REG_EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET)

/* A goroutine parked on readiness, on its own stack. */
typedef struct epwaiter {
    waiter w;        /* w.gp, w.res (enum fdwait_end) */
    uint32_t wake;   /* the events (EPOLL*) that end the wait */
    int owner;       /* the worker whose io_pending counts the wait */
    uint64_t ud;     /* the wait as published in gp->io_ud */
} epwaiter;

static epwaiter *epwaiter_of(waiter *w)
{
    return (epwaiter *)((char *)w - offsetof(epwaiter, w));
}

/* ---------------------------------------------------------------------
 * The instance
 * ------------------------------------------------------------------- */

static int pwait2(int epfd, struct epoll_event *ev, int n, int64_t timeout_ns)
{
    struct timespec ts = {.tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000};
    return (int)syscall(SYS_epoll_pwait2, epfd, ev, n, timeout_ns < 0 ? NULL : &ts, NULL,
                        (size_t)0);
}

/* For GR_DEBUG: the engine and its setup. */
static const char *epw_describe(worker *w)
{
    return w->ep.has_pwait2 ? "epoll per worker, edge-triggered, epoll_pwait2 (ns timeouts)"
                            : "epoll per worker, edge-triggered, epoll_wait (ms timeouts)";
}

int epw_init(worker *w)
{
    epw *e = &w->ep;
    memset(e, 0, sizeof *e);
    e->epfd = e->wake_efd = -1;
    int err;
    e->events = malloc(sizeof *e->events * EP_EVENTS_MAX);
    if (!e->events) {
        err = -ENOMEM;
        goto fail;
    }
    e->epfd = epoll_create1(EPOLL_CLOEXEC);
    e->wake_efd = e->epfd < 0 ? -1 : eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = EP_WAKE_TAG};
    if (e->wake_efd < 0 || epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->wake_efd, &ev) < 0) {
        err = -errno;
        fprintf(stderr, "greenrt: cannot set up the epoll engine on worker %d: %s\n", w->index,
                strerror(-err));
        goto fail;
    }
    /* Timeouts in ns where the kernel has epoll_pwait2 (5.11), else ms. */
    e->has_pwait2 = pwait2(e->epfd, e->events, 1, 0) >= 0;
    store_release(&e->up, true);
    if (getenv("GR_DEBUG") && w->index == 0)
        fprintf(stderr, "greenrt: worker epoll: %s\n", epw_describe(w));
    return 0;
fail:
    if (e->wake_efd >= 0)
        close(e->wake_efd);
    if (e->epfd >= 0)
        close(e->epfd);
    free(e->events);
    memset(e, 0, sizeof *e);
    return err;
}

void epw_fini(worker *w)
{
    epw *e = &w->ep;
    if (!e->up)
        return; /* never set up (a failed start): nothing to close */
    close(e->wake_efd);
    close(e->epfd);
    free(e->events);
    memset(e, 0, sizeof *e);
}


/* ---------------------------------------------------------------------
 * Events
 * ------------------------------------------------------------------- */

/* An event of f's registration on w: bumps the sequences, then readies
 * the waiters it concerns (owner only: ready_io). */
static void ep_event(worker *w, fdent *f, uint32_t ev)
{
    /* Seq-cst adds: see "The race between 1 and 2". */
    if (ev & (EP_IN_EVENTS | EPOLLERR | EPOLLHUP))
        __atomic_fetch_add(&f->ep.rseq, 1, __ATOMIC_SEQ_CST);
    if (ev & (EP_OUT_EVENTS | EPOLLERR | EPOLLHUP))
        __atomic_fetch_add(&f->ep.wseq, 1, __ATOMIC_SEQ_CST);
    if (!__atomic_load_n(&f->ep.nwait, __ATOMIC_SEQ_CST))
        return;
    waiter *wake = NULL;
    lock(&f->lk);
    for (waiter *x = f->ep.waiters.head, *next; x; x = next) {
        next = x->next;
        if (!(epwaiter_of(x)->wake & ev))
            continue;
        waitq_remove(&f->ep.waiters, x);
        store_relaxed(&f->ep.nwait, f->ep.nwait - 1);
        uint32_t zero = 0;
        if (cas_acq_rel(&x->gp->wake_token, &zero, 1)) {
            x->res = FDW_DONE;
            x->next = wake;
            wake = x;
        }
    }
    unlock(&f->lk);
    while (wake) {
        /* Read before the ready: the waiter's stack is its own again. */
        waiter *next = wake->next;
        g *gp = wake->gp;
        bool input = epwaiter_of(wake)->wake & EP_IN_EVENTS;
        ready_io(w, gp, input);
        wake = next;
    }
}

static int dispatch(worker *w, int n)
{
    struct epoll_event *evs = w->ep.events;
    uint32_t self = (uint32_t)w->index + 1;
    for (int i = 0; i < n; i++) {
        uint64_t d = evs[i].data.u64;
        if (d == EP_WAKE_TAG) {
            store_relaxed(&w->ep.wake_pending, 0);
            continue;
        }
        fdent *f = fd_entry_find((int)(uint32_t)d);
        /* A stale registration's (a previous file of the number, or one
         * that moved to another worker): dropped. */
        if (!f || load_acquire(&f->ep.owner) != self || load_relaxed(&f->ep.gen) != d >> 32)
            continue;
        ep_event(w, f, evs[i].events);
    }
    return n;
}

int epw_wait(worker *w, int64_t timeout_ns)
{
    epw *e = &w->ep;
    stat_inc(w, ring_enters);
    int n;
    if (timeout_ns == 0) {
        n = epoll_wait(e->epfd, e->events, EP_EVENTS_MAX, 0);
    } else if (e->has_pwait2) {
        n = pwait2(e->epfd, e->events, EP_EVENTS_MAX, timeout_ns);
    } else {
        int64_t ms = timeout_ns < 0 ? -1 : (timeout_ns + 999999) / 1000000;
        n = epoll_wait(e->epfd, e->events, EP_EVENTS_MAX, ms > INT_MAX ? INT_MAX : (int)ms);
    }
    if (n < 0) {
        if (errno == EINTR) /* the preemption signal: the caller loops */
            return 0;
        fatal("epoll_wait failed on worker %d: %s", w->index, strerror(errno));
    }
    return dispatch(w, n);
}

void epw_kick(worker *target)
{
    epw *e = &target->ep;
    if (!load_acquire(&e->up))
        return;
    uint64_t one = 1;
    if (write(e->wake_efd, &one, sizeof one) < 0) {
        /* EAGAIN: the counter is saturated, a wake-up is pending anyway */
    }
}

void epw_wake(worker *target)
{
    /* One wake-up in flight is enough: the sleeper harvests everything. */
    uint32_t zero = 0;
    if (!load_acquire(&target->ep.up) || !cas_acq_rel(&target->ep.wake_pending, &zero, 1))
        return;
    epw_kick(target);
}

/* ---------------------------------------------------------------------
 * Registration
 * ------------------------------------------------------------------- */

/* Registers fd with w's instance unless another active worker's has it
 * (f->lk held: registrations change only under it).  0 or -errno. */
static int ep_register_locked(worker *w, fdent *f, int fd)
{
    uint32_t self = (uint32_t)w->index + 1, owner = load_relaxed(&f->ep.owner);
    if (owner == self || (owner && !load_relaxed(&sched.workers[owner - 1].dormant)))
        return 0;
    if (owner) /* a dormant worker's: move it here (a stale one may be gone) */
        (void)epoll_ctl(sched.workers[owner - 1].ep.epfd, EPOLL_CTL_DEL, fd, NULL);
    uint32_t gen = f->ep.gen + 1;
    struct epoll_event ev = {.events = EP_REG_EVENTS, .data.u64 = (uint64_t)gen << 32 | (uint32_t)fd};
    /* Before the ADD: its first event may be dispatched at once. */
    store_relaxed(&f->ep.gen, gen);
    store_release(&f->ep.owner, self);
    int r = epoll_ctl(w->ep.epfd, EPOLL_CTL_ADD, fd, &ev);
    if (r < 0 && errno == EEXIST) /* this file, registered under an older generation */
        r = epoll_ctl(w->ep.epfd, EPOLL_CTL_MOD, fd, &ev);
    if (r < 0) {
        int err = -errno;
        store_release(&f->ep.owner, 0);
        return err;
    }
    return 0;
}

void ep_fd_fresh(fdent *f, uint8_t kind)
{
    if (!f)
        return;
    store_release(&f->ep.owner, 0);
    store_relaxed(&f->ep.kind, kind);
    store_relaxed(&f->ep.flags, 0);
}

void ep_fd_reset(fdent *f)
{
    ep_fd_fresh(f, 0);
}

/* ---------------------------------------------------------------------
 * Waiting for readiness
 * ------------------------------------------------------------------- */

/* Takes w off f's queue (f->lk held). */
static void waiter_unqueue(fdent *f, waiter *w)
{
    waitq_remove(&f->ep.waiters, w);
    store_relaxed(&f->ep.nwait, f->ep.nwait - 1);
}

int ep_wait(g *gp, fdhold *h, int fd, uint32_t events, uint32_t seq, int64_t deadline)
{
    fdent *f = h->f;
    worker *w = current_worker();
    if (deadline && now_ns() >= deadline)
        return -ETIMEDOUT;
    uint32_t wake = EPOLLERR | EPOLLHUP;
    if (events & EP_IN_EVENTS)
        wake |= EP_IN_EVENTS;
    if (events & EP_OUT_EVENTS)
        wake |= EP_OUT_EVENTS;
    if (++gp->io_seq == 0)
        gp->io_seq = 1; /* ud is never 0: 0 is "nothing in flight" */
    epwaiter me = {.w = {.gp = gp, .is_select = 1}, .wake = wake,
                   .ud = (uint64_t)(uint32_t)fd << 32 | gp->io_seq};
    fdwait_park p = {.f = f, .gp = gp, .deadline = deadline};
    store_relaxed(&gp->wake_token, 0);

    lock(&f->lk);
    int err = ep_register_locked(w, f, fd);
    if (err) {
        unlock(&f->lk);
        return err;
    }
    me.owner = (int)f->ep.owner - 1;
    waitq_push(&f->ep.waiters, &me.w);
    /* Queued, then the sequence and the cancel flag read again: the
     * seq-cst add and exchange pair with the event's add (above) and
     * io_cancel_g's exchange (io.c). */
    __atomic_fetch_add(&f->ep.nwait, 1, __ATOMIC_SEQ_CST);
    (void)__atomic_exchange_n(&gp->io_ud, me.ud, __ATOMIC_SEQ_CST);
    int early = 0;
    if (ep_seq(f, events) != seq)
        early = 1; /* an edge came since the attempt: try again */
    else if (__atomic_load_n(&gp->io_cancel, __ATOMIC_SEQ_CST))
        early = -ECANCELED;
    else if (load_relaxed(&f->state) & FD_CLOSING)
        early = -EBADF;
    if (early) {
        waiter_unqueue(f, &me.w);
        unlock(&f->lk);
        store_relaxed(&gp->io_ud, 0);
        return early > 0 ? 0 : early;
    }
    worker *owner = &sched.workers[me.owner];
    __atomic_fetch_add(&owner->io_pending, 1, __ATOMIC_ACQ_REL);
    __atomic_fetch_add(&sched.io_inflight, 1, __ATOMIC_ACQ_REL);
    park(GR_WAIT_IO, after_fdwait_park, &p);

    store_relaxed(&gp->io_ud, 0);
    __atomic_fetch_sub(&owner->io_pending, 1, __ATOMIC_ACQ_REL);
    __atomic_fetch_sub(&sched.io_inflight, 1, __ATOMIC_ACQ_REL);
    if (p.deadline)
        timer_cancel(&gp->tm);
    if (me.w.res == FDW_TIMEDOUT) {
        /* The timer won (or no timer: -ENOMEM): we may still be queued,
         * and a waker that lost the token may be taking us off. */
        lock(&f->lk);
        if (me.w.queued)
            waiter_unqueue(f, &me.w);
        unlock(&f->lk);
    }
    return fdwait_result(&p, me.w.res);
}

/* Withdraws the waiter w of f with result `res` if this call wins its
 * goroutine's token (f->lk held); true if the caller must ready it. */
static bool waiter_withdraw(fdent *f, waiter *w, int res)
{
    waiter_unqueue(f, w);
    uint32_t zero = 0;
    if (!cas_acq_rel(&w->gp->wake_token, &zero, 1))
        return false;
    w->res = res;
    return true;
}

void epw_cancel_wait(g *gp, uint64_t ud)
{
    fdent *f = fd_entry_find((int)(ud >> 32));
    if (!f)
        return;
    bool wake = false;
    lock(&f->lk);
    for (waiter *x = f->ep.waiters.head; x; x = x->next) {
        if (x->gp == gp && epwaiter_of(x)->ud == ud) {
            wake = waiter_withdraw(f, x, FDW_CANCELLED);
            break;
        }
    }
    unlock(&f->lk);
    if (wake)
        ready(gp);
}

void ep_close_evict(fdent *f)
{
    waiter *wake = NULL, *x;
    lock(&f->lk);
    while ((x = f->ep.waiters.head)) {
        if (waiter_withdraw(f, x, FDW_CLOSED)) {
            x->next = wake;
            wake = x;
        }
    }
    unlock(&f->lk);
    while (wake) {
        waiter *next = wake->next;
        ready(wake->gp);
        wake = next;
    }
}

/* ---------------------------------------------------------------------
 * The operation loop
 * ------------------------------------------------------------------- */

ssize_t ep_io(g *gp, fdhold *h, int fd, uint32_t events, bool wait, uint8_t opcode,
              ep_attempt_fn attempt, void *ctx)
{
    fdent *f = h->f;
    for (;;) {
        preempt_point();
        /* As io.c says which of them wins: the cancellation (final for
         * gp), then the deadline, then the close. */
        if (load_relaxed(&gp->io_cancel))
            return -ECANCELED;
        int64_t dl = gp->deadline;
        if (dl && now_ns() >= dl)
            return -ETIMEDOUT;
        if (f && (load_relaxed(&f->state) & FD_CLOSING))
            return -EBADF;
        uint32_t seq = f ? ep_seq(f, events) : 0;
        stat_inc(current_worker(), io_submitted);
        PROBE3(io_submit, gp->id, opcode, fd);
        ssize_t r = attempt(ctx);
        PROBE2(io_complete, gp->id, (int)r);
        stat_inc(current_worker(), io_completed); /* (an offloaded attempt parks) */
        if (r == -EINTR)
            continue;
        if (r != -EAGAIN || !wait || !f)
            return r;
        int e = ep_wait(gp, h, fd, events, seq, dl);
        if (e < 0)
            return e;
    }
}
