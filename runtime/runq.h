/*
 * runq.h - the run queues (runq.c explains them): per worker the runnext
 * slot, the lock-free ring (runq), the hotq of fresh input and the ioq;
 * and the global queue.  The operations the scheduling hot path (park,
 * ready, ready_io, pick_fast in sched.c) calls are inline here, as they
 * were when the queues lived in sched.c; the rest is in runq.c.
 */
#ifndef GR_RUNQ_H
#define GR_RUNQ_H

#include <stdbool.h>
#include <stdint.h>

#include "lock.h"
#include "sched.h"

#define HOT_STREAK_MAX 8 /* input completions in a row that a goroutine runs at once */
#define HOT_BURST_MAX 4  /* hotq picks before runq gets a forced turn */

/* gp at the end of a schedlink chain (goroutines on their way to the
 * global queue). */
static inline void chain_push(g **head, g **tail, g *gp)
{
    gp->schedlink = NULL;
    if (*tail)
        (*tail)->schedlink = gp;
    else
        *head = gp;
    *tail = gp;
}

/* ---------------------------------------------------------------------
 * Global run queue (sched.lock)
 * ------------------------------------------------------------------- */

static inline void gq_put_batch_locked(g *head, g *tail, uint32_t n)
{
    tail->schedlink = NULL;
    if (sched.gq_tail)
        sched.gq_tail->schedlink = head;
    else
        sched.gq_head = head;
    sched.gq_tail = tail;
    store_relaxed(&sched.gq_len, sched.gq_len + n);
}

void gq_put(g *gp);

/* Takes a fair share of the global queue: one to run, the rest into w's
 * local queue.  Caller holds sched.lock. */
g *gq_get_locked(worker *w, uint32_t max);

static inline g *gq_get(worker *w, uint32_t max)
{
    if (load_relaxed(&sched.gq_len) == 0)
        return NULL;
    lock(&sched.lock);
    g *gp = gq_get_locked(w, max);
    unlock(&sched.lock);
    return gp;
}

/* ---------------------------------------------------------------------
 * Local run queue: lock-free SPMC ring + runnext
 * ------------------------------------------------------------------- */

/* Moves half of w's full ring plus gp to the global queue.  False if a
 * thief emptied some slots meanwhile (caller retries the fast path). */
bool runq_put_slow(worker *w, g *gp, uint32_t h, uint32_t t);

/* Owner only.  Returns true (always) once gp is queued somewhere. */
static inline bool runq_put_tail(worker *w, g *gp)
{
    for (;;) {
        uint32_t h = load_acquire(&w->runq_head);
        uint32_t t = w->runq_tail;
        if (t - h < RUNQ_SIZE) {
            store_relaxed(&w->runq[t % RUNQ_SIZE], gp);
            /* Release: the slot is written before thieves can see it. */
            store_release(&w->runq_tail, t + 1);
            return true;
        }
        if (runq_put_slow(w, gp, h, t))
            return true;
    }
}

/* Queues gp on w (owner only).  next: into runnext (a hand-off). */
static inline void runq_put(worker *w, g *gp, bool next)
{
    if (sched.randomize) {
        uint64_t r = fastrand(w);
        if ((r & 3) == 0) {
            gq_put(gp);
            maybe_wakep();
            return;
        }
        next = r & 4;
    }
    if (next) {
        g *old;
        if (sched.nprocs == 1) { /* no thieves: see runq_get */
            old = load_relaxed(&w->runnext);
            store_relaxed(&w->runnext, gp);
        } else {
            old = __atomic_exchange_n(&w->runnext, gp, __ATOMIC_ACQ_REL);
        }
        if (!old)
            return; /* pure hand-off: nobody else needs to look */
        gp = old;
    }
    runq_put_tail(w, gp);
    maybe_wakep();
}

/* A new goroutine into runnext; a spawner that has filled its queue
 * yields to it (runq.c). */
void runq_put_new(worker *w, g *gp);

/* Owner only: gp into w's hotq; false when it is full. */
static inline bool hotq_put(worker *w, g *gp)
{
    uint32_t h = load_acquire(&w->hotq_head), t = w->hotq_tail;
    if (t - h >= HOTQ_SIZE)
        return false;
    store_relaxed(&w->hotq[t % HOTQ_SIZE], gp);
    store_release(&w->hotq_tail, t + 1); /* slot first, as in runq_put_tail */
    return true;
}

/* Takes the oldest goroutine of one of w's SPMC rings (runq, hotq): the
 * owner pushes at the tail, anyone takes from the head with a CAS. */
static inline g *ring_pop(uint32_t *head, uint32_t tail, g **slots, uint32_t size)
{
    if (sched.nprocs == 1) {
        /* No thieves with one worker (the monitor hands queues over only
         * when there is another worker): plain loads and stores will do,
         * saving two locked instructions per schedule. */
        uint32_t h = *head;
        if (h == tail)
            return NULL;
        store_release(head, h + 1);
        return load_relaxed(&slots[h % size]);
    }
    for (;;) {
        uint32_t h = load_acquire(head);
        if (tail == h)
            return NULL;
        g *gp = load_relaxed(&slots[h % size]);
        if (cas_acq_rel(head, &h, h + 1))
            return gp;
    }
}

/* runnext, then the run queue (owner only).  A goroutine from runnext
 * inherits the current time slice (Go's inheritTime): a pair handing off
 * to each other through a channel counts, for the monitor, as one
 * goroutine running, and is preempted like one after a period, so the
 * run queue behind it gets its turn (switch_to counts the slices). */
static inline g *runq_get_queued(worker *w)
{
    g *next = load_relaxed(&w->runnext);
    if (sched.nprocs == 1) {
        if (next) {
            store_relaxed(&w->runnext, NULL);
            w->inherit = true;
            return next;
        }
    } else if (next && cas_acq_rel(&w->runnext, &next, NULL)) {
        w->inherit = true;
        return next;
    }
    return ring_pop(&w->runq_head, w->runq_tail, w->runq, RUNQ_SIZE);
}

/* The next goroutine to run on w (owner only): fresh input first, but
 * after HOT_BURST_MAX hotq picks the queue gets a turn (the count carries
 * over while the hotq is empty, so a turn can come sooner, never later). */
static inline g *runq_get(worker *w)
{
    if (load_relaxed(&w->hotq_head) != w->hotq_tail) {
        g *gp = NULL;
        if (w->hot_burst >= HOT_BURST_MAX) {
            w->hot_burst = 0;
            gp = runq_get_queued(w);
        }
        if (!gp && (gp = ring_pop(&w->hotq_head, w->hotq_tail, w->hotq, HOTQ_SIZE)))
            w->hot_burst++;
        if (gp)
            return gp;
    }
    return runq_get_queued(w);
}

uint32_t runq_len(worker *w); /* owner only */
/* Goroutines queued on w (runnext, hotq, runq, ioq); any thread. */
bool worker_has_work(worker *w);

/* ---------------------------------------------------------------------
 * The ioq, and what moves goroutines between workers
 * ------------------------------------------------------------------- */

/* Owner only: gp at the tail of w's ioq (runq is full, or older
 * completions wait there). */
void ioq_put(worker *w, g *gp);

/* The chain head..tail (n goroutines, taken from w's other queues), then
 * all of w's ioq, to the global queue in that order, and an idle worker
 * woken to take them (dormant workers, stuck-worker hand-off).  Returns
 * how many moved. */
uint32_t gq_put_with_ioq(worker *w, g *head, g *tail, uint32_t n);

/* Moves the oldest of ioq into the room the run queue has (owner only). */
static inline void ioq_refill(worker *w)
{
    if (!load_relaxed(&w->ioq_len))
        return;
    uint32_t moved = 0;
    lock(&w->ioq_lock);
    while (moved < w->ioq_len && runq_len(w) < RUNQ_SIZE) {
        runq_put_tail(w, w->ioq[w->ioq_head++ & (w->ioq_cap - 1)]);
        moved++;
    }
    store_relaxed(&w->ioq_len, w->ioq_len - moved);
    unlock(&w->ioq_lock);
    if (moved)
        maybe_wakep(); /* now in runq, where thieves can see them */
}

/* One pass of stealing over the workers in a random order. */
g *steal_work(worker *w, bool steal_runnext);

/* Monitor thread: w has been stuck on one goroutine with others waiting
 * behind it; moves every queue of it (hotq, runnext, run queue, ioq) to
 * the global queue for other workers.  Returns how many moved. */
uint32_t sched_handoff_queue(worker *victim);

#endif
