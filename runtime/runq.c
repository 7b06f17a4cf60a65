/*
 * runq.c - the run queues: where runnable goroutines wait, and how
 * workers take them from each other.
 *
 * Run queues.  Each worker has a bounded (RUNQ_SIZE) single-producer
 * multi-consumer ring of runnable goroutines (lock-free: the owner pushes
 * at the tail, the owner and thieves CAS the head) and a `runnext` slot.  A
 * goroutine made runnable by the running one (ready) goes into runnext, so
 * the pair ping-ponging through a channel runs back to back on one worker
 * with the queue's FIFO untouched; the goroutine it displaces goes to the
 * queue's tail.  A full ring moves half of itself to the global queue (a
 * locked list), which every worker checks every GLOBAL_CHECK_EVERY-th
 * schedule so that nothing there starves, and whenever its own queue is
 * empty.  Goroutines woken by I/O completions are not hand-offs: they join
 * the queue's tail in completion order; past a full queue they wait, still
 * in order, in the worker's private ioq, which it moves into the queue
 * before it looks for more work (the global queue would serve them only
 * every GLOBAL_CHECK_EVERY-th schedule, behind completions that came
 * later; leaving them in the kernel's CQ would pin their provided
 * buffers).  A spawner that fills its queue yields to it, so a loop
 * spawning a million goroutines runs them as it goes instead of queueing a
 * million.
 *
 * Fresh input.  There is one exception to completion order: a goroutine
 * whose read or receive just completed goes into the worker's hotq
 * (HOTQ_SIZE slots, SPMC like the run queue), which runs ahead of runnext
 * and the queue.  The kernel has just copied its data on this CPU, so the data,
 * the socket and the request it answers are still in cache, and the reply
 * it sends touches them warm.  Behind a queue of thousands they would be
 * evicted twice per request.  With 10,000 connections this took the echo
 * server from 8.55 to 7.52 us of CPU per request, and from 120k to 129k
 * requests/s (compare.sh --pin, medians of 3).  Two bounds keep it
 * fair: after HOT_BURST_MAX hotq picks the worker takes one from the
 * queue, and a goroutine that was woken this way HOT_STREAK_MAX times
 * in a row (a reader draining a stream) takes the queue's tail next time.
 * Thieves take from the hotq only when the run queue is empty, as with
 * runnext.
 */
#include "runq.h"

#include <stdlib.h>

#include "probes.h"

/* The ioq's first size (a power of two; 8 KiB of pointers), made at the
 * first completion that finds the run queue full: a few run queues' worth,
 * so that a burst doubles it once or twice, not at every RUNQ_SIZE. */
#define IOQ_CAP_MIN 1024

/* ---------------------------------------------------------------------
 * Global run queue (sched.lock)
 * ------------------------------------------------------------------- */

void gq_put(g *gp)
{
    lock(&sched.lock);
    gq_put_batch_locked(gp, gp, 1);
    unlock(&sched.lock);
}

/* Takes a fair share of the global queue: one to run, the rest into w's
 * local queue.  Caller holds sched.lock. */
g *gq_get_locked(worker *w, uint32_t max)
{
    uint32_t len = sched.gq_len;
    if (len == 0)
        return NULL;
    uint32_t n = len / (uint32_t)sched.nprocs + 1;
    if (n > len)
        n = len;
    if (max && n > max)
        n = max;
    if (n > RUNQ_SIZE / 2)
        n = RUNQ_SIZE / 2;
    store_relaxed(&sched.gq_len, len - n);
    g *gp = sched.gq_head;
    sched.gq_head = gp->schedlink;
    for (uint32_t i = 1; i < n; i++) {
        g *x = sched.gq_head;
        sched.gq_head = x->schedlink;
        runq_put_tail(w, x);
    }
    if (!sched.gq_head)
        sched.gq_tail = NULL;
    gp->schedlink = NULL;
    return gp;
}

/* ---------------------------------------------------------------------
 * Local run queue: lock-free SPMC ring + runnext
 * ------------------------------------------------------------------- */

/* Moves half of w's full ring plus gp to the global queue.  False if a
 * thief emptied some slots meanwhile (caller retries the fast path). */
bool runq_put_slow(worker *w, g *gp, uint32_t h, uint32_t t)
{
    uint32_t n = (t - h) / 2;
    g *batch[RUNQ_SIZE / 2 + 1];
    for (uint32_t i = 0; i < n; i++)
        batch[i] = load_relaxed(&w->runq[(h + i) % RUNQ_SIZE]);
    if (!cas_acq_rel(&w->runq_head, &h, h + n))
        return false;
    batch[n] = gp;
    if (sched.randomize) {
        for (uint32_t i = 1; i <= n; i++) {
            uint32_t j = (uint32_t)(fastrand(w) % (i + 1));
            g *x = batch[i];
            batch[i] = batch[j];
            batch[j] = x;
        }
    }
    for (uint32_t i = 0; i < n; i++)
        batch[i]->schedlink = batch[i + 1];
    lock(&sched.lock);
    gq_put_batch_locked(batch[0], batch[n], n + 1);
    unlock(&sched.lock);
    return true;
}

/* A new goroutine goes into runnext, as in Go.  Unlike Go, a spawner
 * that has filled its worker's run queue yields to it (backpressure):
 * instead of moving half the queue to the global list and going on
 * allocating control blocks for goroutines nobody runs yet, the queued
 * ones run and exit, and their control blocks and stacks are reused while
 * still in cache.  gr_go is thus a possible yield point (greenrt.h). */
void runq_put_new(worker *w, g *gp)
{
    runq_put(w, gp, true);
    if (!w->cur->is_g0 && runq_len(w) >= RUNQ_SIZE - 1)
        sched_yield_g(false);
}

uint32_t runq_len(worker *w)
{
    return w->runq_tail - load_acquire(&w->runq_head);
}

static bool runq_empty(worker *w)
{
    uint32_t h = load_acquire(&w->runq_head);
    uint32_t t = load_acquire(&w->runq_tail);
    return h == t && load_relaxed(&w->hotq_head) == load_acquire(&w->hotq_tail) &&
           load_relaxed(&w->runnext) == NULL;
}

/* Work queued on v where some worker can get at it (v itself for ioq). */
bool worker_has_work(worker *v)
{
    return !runq_empty(v) || load_relaxed(&v->ioq_len);
}

/* Takes up to half of one of victim's rings into batch (Go's runqgrab). */
static uint32_t ring_grab(uint32_t *head, uint32_t *tail, g **slots, uint32_t size, g **batch)
{
    for (;;) {
        uint32_t h = load_acquire(head);
        uint32_t t = load_acquire(tail);
        uint32_t n = t - h;
        n = n - n / 2;
        if (n == 0)
            return 0;
        if (n > size / 2)
            continue; /* h and t read at different times: retry */
        for (uint32_t i = 0; i < n; i++)
            batch[i] = load_relaxed(&slots[(h + i) % size]);
        if (cas_acq_rel(head, &h, h + n))
            return n;
    }
}

/* Up to half of victim's run queue; when that is empty and steal_runnext,
 * what the victim was about to run itself: half its hotq, or runnext. */
static uint32_t runq_grab(worker *victim, g **batch, bool steal_runnext)
{
    uint32_t n = ring_grab(&victim->runq_head, &victim->runq_tail, victim->runq, RUNQ_SIZE, batch);
    if (n || !steal_runnext)
        return n;
    n = ring_grab(&victim->hotq_head, &victim->hotq_tail, victim->hotq, HOTQ_SIZE, batch);
    if (n)
        return n;
    g *next = load_relaxed(&victim->runnext);
    if (next && cas_acq_rel(&victim->runnext, &next, NULL)) {
        batch[0] = next;
        return 1;
    }
    return 0;
}

static g *runq_steal(worker *w, worker *victim, bool steal_runnext)
{
    g *batch[RUNQ_SIZE / 2];
    uint32_t n = runq_grab(victim, batch, steal_runnext);
    if (n == 0)
        return NULL;
    stat_inc(w, steals);
    PROBE3(steal, w->index, victim->index, n);
    for (uint32_t i = 0; i + 1 < n; i++)
        runq_put_tail(w, batch[i]);
    return batch[n - 1];
}

/* One pass of stealing over the workers in a random order. */
g *steal_work(worker *w, bool steal_runnext)
{
    int n = sched.nprocs;
    if (n == 1)
        return NULL;
    int start = (int)(fastrand(w) % (uint64_t)n);
    for (int i = 0; i < n; i++) {
        worker *v = &sched.workers[(start + i) % n];
        if (v == w)
            continue;
        g *gp = runq_steal(w, v, steal_runnext);
        if (gp)
            return gp;
    }
    return NULL;
}

/* Appends up to half of one of victim's rings to a schedlink chain. */
static uint32_t ring_grab_chain(uint32_t *head, uint32_t *tail, g **slots, uint32_t size,
                                g **chain_head, g **chain_tail)
{
    g *batch[RUNQ_SIZE / 2];
    uint32_t n = ring_grab(head, tail, slots, size, batch);
    for (uint32_t i = 0; i < n; i++)
        chain_push(chain_head, chain_tail, batch[i]);
    return n;
}

/* Monitor thread: victim is stuck on one goroutine (blocked in a system
 * call, or not preemptible) with others waiting behind it.  Every one of
 * its queues goes to the global queue, in the order victim would have run
 * them - hotq, runnext, run queue, ioq - and an idle worker is woken to
 * take them.  Returns how many moved. */
uint32_t sched_handoff_queue(worker *victim)
{
    if (sched.nprocs == 1)
        return 0; /* nobody to hand them to; and runq_get relies on this */
    g *head = NULL, *tail = NULL;
    uint32_t n = 0, k;
    while ((k = ring_grab_chain(&victim->hotq_head, &victim->hotq_tail, victim->hotq, HOTQ_SIZE,
                                &head, &tail)))
        n += k;
    g *next = load_relaxed(&victim->runnext);
    if (next && cas_acq_rel(&victim->runnext, &next, NULL)) {
        chain_push(&head, &tail, next);
        n++;
    }
    while ((k = ring_grab_chain(&victim->runq_head, &victim->runq_tail, victim->runq, RUNQ_SIZE,
                                &head, &tail)))
        n += k;
    return gq_put_with_ioq(victim, head, tail, n);
}

/* ---------------------------------------------------------------------
 * The ioq: I/O completions past a full run queue, in arrival order
 * ------------------------------------------------------------------- */

/* Doubles w's ioq (ioq_lock held); false when out of memory. */
static bool ioq_grow(worker *w)
{
    uint32_t cap = w->ioq_cap ? 2 * w->ioq_cap : IOQ_CAP_MIN;
    g **q = malloc(sizeof(g *) * cap);
    if (!q || cap < w->ioq_cap) {
        free(q);
        return false;
    }
    for (uint32_t i = 0; i < w->ioq_len; i++)
        q[i] = w->ioq[(w->ioq_head + i) & (w->ioq_cap - 1)];
    free(w->ioq);
    w->ioq = q;
    w->ioq_cap = cap;
    w->ioq_head = 0;
    w->ioq_tail = w->ioq_len;
    return true;
}

/* The queue is full (or older completions wait in ioq): keep arrival
 * order here rather than spill to the global queue, where a busy
 * worker would look only every 61st schedule. */
void ioq_put(worker *w, g *gp)
{
    lock(&w->ioq_lock);
    if (w->ioq_len == w->ioq_cap && !ioq_grow(w)) {
        unlock(&w->ioq_lock);
        gq_put(gp); /* out of memory: late, but not lost */
        maybe_wakep();
        return;
    }
    w->ioq[w->ioq_tail++ & (w->ioq_cap - 1)] = gp;
    store_relaxed(&w->ioq_len, w->ioq_len + 1);
    unlock(&w->ioq_lock);
}

/* Everything in w's ioq, as a schedlink chain in order (ioq_lock held). */
static uint32_t ioq_take_all_locked(worker *w, g **head, g **tail)
{
    uint32_t n = w->ioq_len;
    *head = *tail = NULL;
    for (uint32_t i = 0; i < n; i++)
        chain_push(head, tail, w->ioq[w->ioq_head++ & (w->ioq_cap - 1)]);
    store_relaxed(&w->ioq_len, 0);
    return n;
}

uint32_t gq_put_with_ioq(worker *w, g *head, g *tail, uint32_t n)
{
    g *ioq, *ioq_tail;
    lock(&w->ioq_lock); /* never nested inside sched.lock (ioq_refill) */
    uint32_t nioq = ioq_take_all_locked(w, &ioq, &ioq_tail);
    unlock(&w->ioq_lock);
    if (n == 0 && !ioq)
        return 0;
    lock(&sched.lock);
    if (head)
        gq_put_batch_locked(head, tail, n);
    if (ioq)
        gq_put_batch_locked(ioq, ioq_tail, nioq);
    unlock(&sched.lock);
    maybe_wakep();
    return n + nioq;
}
