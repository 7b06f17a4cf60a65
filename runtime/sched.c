/*
 * sched.c - the goroutine scheduler.
 *
 * Vocabulary (Go's, runtime/proc.go):
 *   G  a goroutine: a control block (struct g) and, once started, a stack.
 *   M  an OS thread that runs goroutines.
 *   P  what an M needs to run Go code: a run queue, caches, timers.
 * In greenrt an M and its P are one `struct worker`: GR_PROCS of them,
 * worker 0 on the thread that called gr_run.  (Go separates them so that
 * an M blocked in a system call can hand its P to another M; greenrt does
 * its I/O through io_uring instead of blocking system calls, and leaves
 * the hand-off of a stuck worker's queue to the monitor thread, preempt.c.)
 *
 * The problem.  Run many goroutines on few workers so that (1) a hand-off
 * between two goroutines - a channel send to a waiting receiver - costs a
 * user-space context switch, not an OS wake-up; (2) all workers are busy
 * whenever there is enough runnable work; (3) an idle worker costs no CPU.
 * On this class of machine waking a sleeping thread on the other CPU costs
 * ~27 us while a same-CPU hand-off costs nanoseconds, so (1) and (2) pull
 * in opposite directions and the rules below arbitrate.
 *
 * Run queues.  Each worker has a bounded (256) single-producer multi-
 * consumer ring of runnable goroutines (lock-free: the owner pushes at the
 * tail, the owner and thieves CAS the head) and a `runnext` slot.  A
 * goroutine made runnable by the running one (ready) goes into runnext, so
 * the pair ping-ponging through a channel runs back to back on one worker
 * with the queue's FIFO untouched; the goroutine it displaces goes to the
 * queue's tail.  A full ring moves half of itself to the global queue
 * (a locked list), which every worker checks every 61st schedule so that
 * nothing there starves, and whenever its own queue is empty.  Goroutines
 * woken by I/O completions are not hand-offs: they join the queue's tail
 * in completion order; past a full queue they wait, still in order, in the
 * worker's private ioq, which it moves into the queue before it looks for
 * more work (the global queue would serve them only every 61st schedule,
 * behind completions that came later; leaving them in the kernel's CQ
 * would pin their provided buffers).  A
 * spawner that fills its queue yields to it, so a loop spawning a million
 * goroutines runs them as it goes instead of queueing a million.
 *
 * Fresh input.  There is one exception to completion order: a goroutine
 * whose read or receive just completed goes into the worker's hotq (128
 * slots, SPMC like the run queue), which runs ahead of runnext and the
 * queue.  The kernel has just copied its data on this CPU, so the data,
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
 *
 * Switching.  A goroutine that parks or yields switches directly to the
 * next goroutine when one is at hand (one context switch, ~ a function
 * call); only when the worker has nothing queued does it switch to the
 * worker's scheduler context (g0, the thread's own stack), which looks
 * harder: timers, I/O completions, the global queue, other workers' queues,
 * and finally sleeps.  The expensive search thus never runs on a
 * goroutine's stack, so a parked goroutine keeps touching a single page.
 * Whatever has to happen *after* a goroutine stopped running - releasing
 * the lock it queued itself under, freeing a dead goroutine's stack,
 * requeueing a yielder - is an `after` callback run by the context that is
 * switched to (Go's mcall + unlockf).
 *
 * Idle workers and spinning (Go's rules).  A worker that runs out of work
 * first "spins": it tries to steal half of a random victim's queue for a
 * bounded time (SPIN_NS, a couple of wake-up costs), and only then sleeps,
 * inside io_uring_enter, with its next timer as timeout: no busy loop and
 * no periodic poll.  At most half of the busy workers spin at once.
 * Work that lands in a queue wakes an idle worker only if nobody is
 * spinning (the spinner will find it); a spinner that finds work and was
 * the last one wakes another, so a burst fans out one worker at a time.
 * Hand-offs into runnext wake nobody: the goroutine that made them is
 * about to park or will be preempted.  Wake-ups are a message on the
 * sleeper's ring (IORING_OP_MSG_RING), or an eventfd write from threads
 * that are not workers.  The lost-wake-up race between a spinner going to
 * sleep and a producer deciding nobody needs waking is closed as in Go:
 * the producer publishes its work, then (full fence) reads nmspinning; the
 * spinner decrements nmspinning, then re-reads every queue.
 *
 * Fewer workers than GR_PROCS.  When the workers wait for CPUs that other
 * programs hold, the CPU governor (adapt.c, run by the monitor) parks the
 * highest-numbered ones: a dormant worker runs no goroutines, only reaps
 * its ring and timers and forwards what they wake to the global queue
 * ("Dormant workers" below).  Spinning and the idle list count active
 * workers only; deadlock detection counts a dormant worker as asleep only
 * while it actually sleeps.
 *
 * Rejected designs.  One global locked queue: every hand-off would take a
 * contended lock.  A thread per blocking call (Go's syscall hand-off) as
 * the normal I/O path: io_uring gives the same effect without threads.
 * Waking a worker on every ready(): costs 27 us of the wakee and a system
 * call of the waker for work that the current worker will run in a few
 * nanoseconds anyway.  Running the scheduler search on goroutine stacks:
 * touches their second page, doubling a parked goroutine's memory.
 *
 * Deadlock.  When the last worker goes to sleep while no timer is armed, no
 * I/O or gr_blocking call is in flight and no queue holds a goroutine,
 * nothing can ever run again: the runtime prints every goroutine and its
 * wait reason and exits with status 2 (fatal.c), as Go does.
 */
#include "sched.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "adapt.h"
#include "arch.h"
#include "bufring.h"
#include "fatal.h"
#include "goroutine.h"
#include "greenrt.h"
#include "offload.h"
#include "preempt.h"
#include "probes.h"
#include "san.h"
#include "stack.h"

#define SPIN_NS 50000     /* ~2 cross-CPU wake-ups: cheaper to look than to sleep */
#define SPIN_IO_NS 200000 /* ... and with I/O pending on our ring */
#define GFREE_LOCAL_MAX 128
#define HOT_STREAK_MAX 8 /* input completions in a row that a goroutine runs at once */
#define HOT_BURST_MAX 4  /* hotq picks before runq gets a forced turn */
#define GFREE_BATCH 64
#define G_SLAB 64

sched_t sched;
__thread worker *tls_worker __attribute__((tls_model("initial-exec")));


static uint32_t gfree_lock;
static g *gfree_global;
static int ngfree_global;
static uint32_t default_mxcsr;
static uint16_t default_fpucw;

/* ---------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------- */

uint64_t fastrand(worker *w)
{
    uint64_t x = w->rand;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return w->rand = x;
}

void after_unlock(worker *w, void *lockp)
{
    (void)w;
    unlock(lockp);
}

g *require_g(const char *call)
{
    worker *w = current_worker();
    if (!w || w->cur == &w->g0 || !w->cur)
        fatal("%s called outside a goroutine (blocking greenrt calls must run inside "
                 "gr_run)",
                 call);
    return w->cur;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---------------------------------------------------------------------
 * Control blocks: per-worker free lists over a shared pool over slabs.
 * ------------------------------------------------------------------- */

static g *g_slab_new(void)
{
    g *slab = calloc(G_SLAB, sizeof(g));
    if (!slab)
        return NULL;
    lock(&sched.gslab_lock);
    for (int i = 0; i < G_SLAB; i++) {
        slab[i].allnext = sched.allg;
        sched.allg = &slab[i];
    }
    unlock(&sched.gslab_lock);
    /* slab[0] is the first of the chain as built (the last pushed is
     * slab[G_SLAB-1]); free list links go through schedlink. */
    for (int i = 0; i < G_SLAB - 1; i++)
        slab[i].schedlink = &slab[i + 1];
    slab[G_SLAB - 1].schedlink = NULL;
    return slab;
}

g *g_alloc(worker *w)
{
    if (!w->gfree) {
        lock(&gfree_lock);
        int n = 0;
        while (gfree_global && n < GFREE_BATCH) {
            g *gp = gfree_global;
            gfree_global = gp->schedlink;
            gp->schedlink = w->gfree;
            w->gfree = gp;
            n++;
        }
        ngfree_global -= n;
        unlock(&gfree_lock);
        w->ngfree += n;
        if (!w->gfree) {
            g *slab = g_slab_new();
            if (!slab)
                return NULL;
            slab[G_SLAB - 1].schedlink = w->gfree;
            w->gfree = slab;
            w->ngfree += G_SLAB;
        }
    }
    g *gp = w->gfree;
    w->gfree = gp->schedlink;
    w->ngfree--;
    gp->schedlink = NULL;
    return gp;
}

void g_release(worker *w, g *gp)
{
    san_g_release(gp);
    gp->status = G_FREE;
    gp->fn = NULL;
    gp->arg = NULL;
    gp->schedlink = w->gfree;
    w->gfree = gp;
    if (++w->ngfree > GFREE_LOCAL_MAX) {
        /* Spawner and runner are often different workers: without this
         * the spawner would keep making slabs while the runner hoards. */
        g *head = NULL, *tail = NULL;
        for (int i = 0; i < GFREE_BATCH; i++) {
            g *x = w->gfree;
            w->gfree = x->schedlink;
            x->schedlink = head;
            head = x;
            if (!tail)
                tail = x;
        }
        w->ngfree -= GFREE_BATCH;
        lock(&gfree_lock);
        tail->schedlink = gfree_global;
        gfree_global = head;
        ngfree_global += GFREE_BATCH;
        unlock(&gfree_lock);
    }
}

/* ---------------------------------------------------------------------
 * Global run queue (sched.lock)
 * ------------------------------------------------------------------- */

static void gq_put_batch_locked(g *head, g *tail, uint32_t n)
{
    tail->schedlink = NULL;
    if (sched.gq_tail)
        sched.gq_tail->schedlink = head;
    else
        sched.gq_head = head;
    sched.gq_tail = tail;
    store_relaxed(&sched.gq_len, sched.gq_len + n);
}

static void gq_put(g *gp)
{
    lock(&sched.lock);
    gq_put_batch_locked(gp, gp, 1);
    unlock(&sched.lock);
}

static bool runq_put_tail(worker *w, g *gp);

/* Takes a fair share of the global queue: one to run, the rest into w's
 * local queue.  Caller holds sched.lock. */
static g *gq_get_locked(worker *w, uint32_t max)
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

static g *gq_get(worker *w, uint32_t max)
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
static bool runq_put_slow(worker *w, g *gp, uint32_t h, uint32_t t)
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

/* Owner only.  Returns true (always) once gp is queued somewhere. */
static bool runq_put_tail(worker *w, g *gp)
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

static void wakep(void);

/* After queueing work where another worker could take it: wake an idle
 * worker if nobody is spinning to find it. */
static void maybe_wakep(void)
{
    /* Nobody idle: nothing to do, and no barrier to pay for (the common
     * case when every worker is busy).  A worker going idle right now
     * either re-checks the queues (it was spinning) or leaves this work
     * to us, who will run it anyway - Go accepts the same window. */
    if (load_relaxed(&sched.npidle) == 0)
        return;
    /* Full fence: our queue store must be visible before we read the
     * spinner count, pairing with the spinner's decrement-then-recheck.
     * A locked no-op on the stack is a full barrier on x86 and cheaper
     * than mfence. */
    full_fence();
    if (load_relaxed(&sched.npidle) > 0 && load_relaxed(&sched.nmspinning) == 0)
        wakep();
}

/* Queues gp on w (owner only).  next: into runnext (a hand-off). */
static void runq_put(worker *w, g *gp, bool next)
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

/* Takes the oldest goroutine of one of w's SPMC rings (runq, hotq): the
 * owner pushes at the tail, anyone takes from the head with a CAS. */
static g *ring_pop(uint32_t *head, uint32_t tail, g **slots, uint32_t size)
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

/* runnext, then the run queue (owner only). */
static g *runq_get_queued(worker *w)
{
    g *next = load_relaxed(&w->runnext);
    if (sched.nprocs == 1) {
        if (next) {
            store_relaxed(&w->runnext, NULL);
            return next;
        }
    } else if (next && cas_acq_rel(&w->runnext, &next, NULL)) {
        return next;
    }
    return ring_pop(&w->runq_head, w->runq_tail, w->runq, RUNQ_SIZE);
}

/* The next goroutine to run on w (owner only): fresh input first, but
 * after HOT_BURST_MAX hotq picks the queue gets a turn (the count carries
 * over while the hotq is empty, so a turn can come sooner, never later). */
static g *runq_get(worker *w)
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

static bool runq_empty(worker *w)
{
    uint32_t h = load_acquire(&w->runq_head);
    uint32_t t = load_acquire(&w->runq_tail);
    return h == t && load_relaxed(&w->hotq_head) == load_acquire(&w->hotq_tail) &&
           load_relaxed(&w->runnext) == NULL;
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

/* ---------------------------------------------------------------------
 * Switching
 * ------------------------------------------------------------------- */

static void run_after(worker *w)
{
    void (*fn)(worker *, void *) = w->after_fn;
    if (fn) {
        w->after_fn = NULL;
        fn(w, w->after_arg);
    }
}

static void g_entry(void *arg);

/* Gives a goroutine about to run for the first time its stack and the
 * frame ctx_switch expects (see switch.S). */
static void g_start_stack(worker *w, g *gp)
{
    int err = stack_alloc(w, gp->stack_size, &gp->stk);
    if (err)
        fatal("out of memory: cannot allocate a %u-byte stack for goroutine %lld", gp->stack_size,
                 (long long)gp->id);
    uintptr_t top = ((uintptr_t)gp->stk.base + gp->stk.size) & ~(uintptr_t)15;
    uint64_t *sp = (uint64_t *)(top - 16); /* rsp after `ret`: 16-aligned */
    *--sp = (uint64_t)(uintptr_t)ctx_trampoline;
    *--sp = 0;                           /* rbp */
    *--sp = 0;                           /* rbx */
    *--sp = (uint64_t)(uintptr_t)gp;     /* r12: entry argument */
    *--sp = (uint64_t)(uintptr_t)g_entry; /* r13: entry */
    *--sp = 0;                           /* r14 */
    *--sp = 0;                           /* r15 */
    *--sp = (uint64_t)default_fpucw << 32 | default_mxcsr; /* +8 mxcsr, +12 cw */
    *--sp = 0;
    store_relaxed(&gp->sp, sp); /* prefetch_queued may peek at it */
}

/* The two goroutines queued next on w will most likely run after `to`:
 * start loading what switching to them touches, so that those switches do
 * not stall on memory (with thousands of connections, a parked
 * goroutine's control block and stack top are in no cache).  Two stages:
 * the control block of the second, and the stack top of the first, whose
 * control block the previous switch prefetched.  Queue slots may be stale
 * (thieves): control blocks stay allocated while the runtime runs, and a
 * prefetch of a stale address does nothing. */
static inline void prefetch_queued(worker *w)
{
    uint32_t h = load_relaxed(&w->runq_head), t = load_relaxed(&w->runq_tail);
    if (h == t)
        return;
    g *n1 = load_relaxed(&w->runq[h % RUNQ_SIZE]);
    if (h + 1 != t) {
        g *n2 = load_relaxed(&w->runq[(h + 1) % RUNQ_SIZE]);
        __builtin_prefetch(n2, 1);
        __builtin_prefetch((char *)n2 + 64, 1);
    }
    char *sp = load_relaxed(&n1->sp);
    __builtin_prefetch(sp);
    __builtin_prefetch(sp + 64);
}

/* Switches w from `from` to `to`; after(w', arg) runs on whatever worker
 * w' resumes next, right after the switch.  Returns when `from` is
 * switched back in - possibly on another worker. */
static void switch_to(worker *w, g *from, g *to, void (*after)(worker *, void *), void *arg)
{
    /* Guarded stacks fault on overflow; only bulk ones need the canary
     * (and skipping it saves a load from a page of its own per switch). */
    if (from->stk.kind == STACK_BULK && !stack_canary_ok(&from->stk))
        stack_overflow_fatal(from);
    if (!to->is_g0 && !to->stk.base)
        g_start_stack(w, to);
    w->after_fn = after;
    w->after_arg = arg;
    store_release(&w->cur, to); /* the monitor reads it (acquire) */
    store_relaxed(&to->status, (uint32_t)G_RUNNING);
    stat_inc(w, switches);
    PROBE2(switch, from->id, to->id);
    prefetch_queued(w);
    san_before_switch(from, to, from->status == G_DEAD);
    ctx_switch(&from->sp, to->sp);
    /* Resumed.  Re-read the worker: we may be on another thread now. */
    san_after_switch(from);
    run_after(current_worker());
}

static void g_entry(void *arg)
{
    g *gp = arg;
    san_after_switch(gp);
    run_after(current_worker());
    gp->fn(gp->arg);
    sched_goexit();
}

/* The next goroutine for w without leaving the goroutine's stack, or NULL
 * to go to the scheduler context for a full round. */
static g *pick_fast(worker *w)
{
    if (load_relaxed(&sched.stopping) || load_relaxed(&w->dormant))
        return NULL;
    if (++w->schedtick % GLOBAL_CHECK_EVERY == 0)
        return NULL; /* a full round: global queue, timers, I/O */
    return runq_get(w);
}

/* ---------------------------------------------------------------------
 * park / ready / yield / exit
 * ------------------------------------------------------------------- */

void park(uint16_t reason, void (*after)(worker *, void *), void *arg)
{
    worker *w = current_worker();
    g *gp = w->cur;
    gp->wait_reason = reason;
    store_relaxed(&gp->status, (uint32_t)G_WAITING);
    stat_inc(w, parks);
    if (reason < GR_WAIT_REASON_COUNT)
        stat_inc(w, parks_by_reason[reason]);
    PROBE3(park, gp->id, reason, wait_reason_str(reason));
    g *next = pick_fast(w);
    switch_to(w, gp, next ? next : &w->g0, after, arg);
}

/* What every ready does before queueing gp (w: the readier's worker). */
static void mark_runnable(worker *w, g *gp)
{
    PROBE2(ready, gp->id, w && w->cur ? w->cur->id : 0);
    gp->wait_reason = GR_WAIT_NONE;
    store_relaxed(&gp->status, (uint32_t)G_RUNNABLE);
}

void ready(g *gp)
{
    worker *w = current_worker();
    mark_runnable(w, gp);
    gp->hot_streak = 0;
    if (w) {
        runq_put(w, gp, true);
    } else {
        /* Not a worker (offload pool, a foreign thread): global queue. */
        gq_put(gp);
        maybe_wakep();
    }
}

/* Doubles w's ioq (ioq_lock held); false when out of memory. */
static bool ioq_grow(worker *w)
{
    uint32_t cap = w->ioq_cap ? 2 * w->ioq_cap : 1024;
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

/* Owner only: gp into w's hotq; false when it is full. */
static bool hotq_put(worker *w, g *gp)
{
    uint32_t h = load_acquire(&w->hotq_head), t = w->hotq_tail;
    if (t - h >= HOTQ_SIZE)
        return false;
    store_relaxed(&w->hotq[t % HOTQ_SIZE], gp);
    store_release(&w->hotq_tail, t + 1); /* slot first, as in runq_put_tail */
    return true;
}

void ready_io(worker *w, g *gp, bool input)
{
    mark_runnable(w, gp);
    /* Fresh input runs next, while it and its socket are in this CPU's
     * cache; no wake-up, this worker is about to run it. */
    if (input && gp->hot_streak < HOT_STREAK_MAX) {
        gp->hot_streak++; /* before hotq_put publishes gp to thieves */
        if (hotq_put(w, gp))
            return;
    }
    gp->hot_streak = 0;
    if (!load_relaxed(&w->ioq_len) && runq_len(w) < RUNQ_SIZE) {
        runq_put_tail(w, gp);
        maybe_wakep();
        return;
    }
    /* The queue is full (or older completions wait in ioq): keep arrival
     * order here rather than spill to the global queue, where a busy
     * worker would look only every 61st schedule. */
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
    for (uint32_t i = 0; i < n; i++) {
        g *gp = w->ioq[w->ioq_head++ & (w->ioq_cap - 1)];
        gp->schedlink = NULL;
        if (*tail)
            (*tail)->schedlink = gp;
        else
            *head = gp;
        *tail = gp;
    }
    store_relaxed(&w->ioq_len, 0);
    return n;
}

/* Moves the oldest of ioq into the room the run queue has (owner only). */
static void ioq_refill(worker *w)
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

/* Work queued on v where some worker can get at it (v itself for ioq). */
bool worker_has_work(worker *v)
{
    return !runq_empty(v) || load_relaxed(&v->ioq_len);
}

uint32_t runq_len(worker *w)
{
    return w->runq_tail - load_acquire(&w->runq_head);
}

static void after_requeue(worker *w, void *arg)
{
    runq_put_tail(w, arg);
    maybe_wakep();
}

static void after_requeue_global(worker *w, void *arg)
{
    (void)w;
    gq_put(arg);
    maybe_wakep();
}

void sched_yield_g(bool preempted)
{
    worker *w = current_worker();
    g *gp = w->cur;
    store_relaxed(&gp->preempt, 0);
    if (preempted) {
        stat_inc(w, preemptions);
    } else if (!worker_has_work(w) && load_relaxed(&sched.gq_len) == 0 &&
               !load_relaxed(&w->dormant) &&
               !load_relaxed(&sched.stopping) && !w->io_pending && !w->ring.unsubmitted &&
               timers_earliest(&w->timers) == INT64_MAX) {
        /* Nobody else to run here, and nothing (I/O, a timer) that only a
         * scheduling round could make runnable: a yield loop waiting for
         * such a goroutine must not skip the rounds that wake it.  (On a
         * dormant worker a yield is the way off it.) */
        return;
    }
    store_relaxed(&gp->status, (uint32_t)G_RUNNABLE);
    g *next = pick_fast(w);
    /* A preempted goroutine goes to the global queue, as in Go, so that an
     * idle worker can take it over; a yield stays local. */
    switch_to(w, gp, next ? next : &w->g0, preempted ? after_requeue_global : after_requeue, gp);
}

static void after_goexit(worker *w, void *arg)
{
    g *gp = arg;
    stack_free(w, &gp->stk);
    gp->stk.base = NULL;
    g_release(w, gp);
}

_Noreturn void sched_goexit(void)
{
    worker *w = current_worker();
    g *gp = w->cur;
    PROBE1(exit, gp->id);
    stat_inc(w, exited);
    store_relaxed(&gp->status, (uint32_t)G_DEAD);
    g *next = pick_fast(w);
    switch_to(w, gp, next ? next : &w->g0, after_goexit, gp);
    __builtin_unreachable();
}

/* ---------------------------------------------------------------------
 * Idle workers: spinning, stealing, sleeping, waking
 * ------------------------------------------------------------------- */

/* Wakes one idle worker to spin, unless one is spinning already. */
static void wakep(void)
{
    uint32_t zero = 0;
    if (load_relaxed(&sched.npidle) == 0)
        return;
    if (!cas_acq_rel(&sched.nmspinning, &zero, 1))
        return;
    lock(&sched.lock);
    worker *v = sched.idle_list;
    if (v) {
        sched.idle_list = v->idle_next;
        v->idle_next = NULL;
        store_relaxed(&v->idle, 0);
        __atomic_fetch_sub(&sched.npidle, 1, __ATOMIC_SEQ_CST);
        v->spinning = true; /* it inherits our nmspinning increment */
    }
    unlock(&sched.lock);
    if (!v) {
        __atomic_fetch_sub(&sched.nmspinning, 1, __ATOMIC_SEQ_CST);
        return;
    }
    preempt_monitor_kick();
    wring_wake(v);
}

/* A spinning worker found work: stop counting as a spinner, and if it was
 * the last one, wake another so leftover work keeps being looked for. */
static void stop_spinning(worker *w)
{
    if (!w->spinning)
        return;
    w->spinning = false;
    if (__atomic_sub_fetch(&sched.nmspinning, 1, __ATOMIC_SEQ_CST) != 0)
        return;
    /* Only worth an OS wake-up if something is actually queued. */
    if (load_relaxed(&sched.gq_len)) {
        wakep();
        return;
    }
    for (int i = 0; i < sched.nprocs; i++) {
        worker *v = &sched.workers[i];
        if (v != w && worker_has_work(v)) {
            wakep();
            return;
        }
    }
}

static bool any_work_queued(void)
{
    if (load_relaxed(&sched.gq_len))
        return true;
    for (int i = 0; i < sched.nprocs; i++)
        if (worker_has_work(&sched.workers[i]))
            return true;
    return false;
}

/* One pass of stealing over the workers in a random order. */
static g *steal_work(worker *w, bool steal_runnext)
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

/* Monitor thread: w has been stuck on one goroutine with others queued
 * behind it; let other workers have them. */
void sched_handoff_queue(worker *victim)
{
    if (sched.nprocs == 1)
        return; /* nobody to hand it to; and runq_get relies on this */
    g *batch[RUNQ_SIZE / 2 + HOTQ_SIZE / 2];
    uint32_t n = runq_grab(victim, batch, false);
    n += ring_grab(&victim->hotq_head, &victim->hotq_tail, victim->hotq, HOTQ_SIZE, batch + n);
    g *ioq, *ioq_tail;
    lock(&victim->ioq_lock);
    uint32_t nioq = ioq_take_all_locked(victim, &ioq, &ioq_tail);
    unlock(&victim->ioq_lock);
    if (n == 0 && !ioq)
        return;
    lock(&sched.lock);
    for (uint32_t i = 0; i < n; i++)
        gq_put_batch_locked(batch[i], batch[i], 1);
    if (ioq)
        gq_put_batch_locked(ioq, ioq_tail, nioq);
    unlock(&sched.lock);
    maybe_wakep();
}

static void run_due_timers(worker *w)
{
    int64_t e = timers_earliest(&w->timers);
    if (e != INT64_MAX) {
        int64_t now = now_ns();
        if (e <= now)
            timers_run(w, now);
    }
}

static void idle_list_remove_locked(worker *w)
{
    if (load_relaxed(&w->idle)) {
        worker **pp = &sched.idle_list;
        while (*pp && *pp != w)
            pp = &(*pp)->idle_next;
        if (*pp)
            *pp = w->idle_next;
        w->idle_next = NULL;
        store_relaxed(&w->idle, 0);
        __atomic_fetch_sub(&sched.npidle, 1, __ATOMIC_SEQ_CST);
    }
}

static void idle_list_remove(worker *w)
{
    lock(&sched.lock);
    idle_list_remove_locked(w);
    unlock(&sched.lock);
}

bool sched_all_idle(void)
{
    return load_relaxed(&sched.npidle) + load_relaxed(&sched.ndormant_asleep) ==
           (uint32_t)sched.nprocs;
}

/* Deadlock check, with sched.lock held by the last worker going to sleep
 * (idle, or dormant: a dormant worker that is awake may be about to
 * forward a goroutine, so it counts as busy). */
static bool deadlocked_locked(void)
{
    if (!sched_all_idle())
        return false;
    if (load_acquire(&sched.stopping) || load_acquire(&sched.ntimers) > 0 ||
        load_acquire(&sched.io_inflight) > 0 || load_acquire(&sched.blocking_inflight) > 0)
        return false;
    if (sched.gq_len)
        return false;
    for (int i = 0; i < sched.nprocs; i++)
        if (worker_has_work(&sched.workers[i]))
            return false;
    return true;
}

/* Sleeps inside io_uring_enter until a completion, a wake-up message or
 * w's next timer. */
static void sleep_in_ring(worker *w)
{
    int64_t timeout = -1;
    int64_t e = timers_earliest(&w->timers);
    if (e != INT64_MAX) {
        timeout = e - now_ns();
        if (timeout < 0)
            timeout = 0;
    }
    wring_wait(w, timeout);
}

/* ---------------------------------------------------------------------
 * Dormant workers (the CPU governor's, adapt.c)
 *
 * A dormant worker runs no goroutines.  It keeps reaping its ring and
 * running its timers, because operations submitted there before it was
 * parked complete there (DEFER_TASKRUN: only the submitting thread can
 * reap them), and it forwards every goroutine they wake to the global
 * queue.  Run on an active worker, the goroutine submits its next I/O to
 * that worker's ring, so connections migrate off a dormant worker one
 * completion each and its ring goes quiet: it then sleeps and costs
 * nothing.  The lowest-numbered workers stay active, so worker 0 never
 * goes dormant.
 * ------------------------------------------------------------------- */

/* Moves everything queued on w (runnext, runq, ioq) to the global queue. */
static void dormant_forward(worker *w)
{
    if (!worker_has_work(w))
        return;
    g *ioq, *ioq_tail;
    lock(&w->ioq_lock); /* never nested inside sched.lock (ioq_refill) */
    uint32_t nioq = ioq_take_all_locked(w, &ioq, &ioq_tail);
    unlock(&w->ioq_lock);
    g *head = NULL, *tail = NULL, *gp;
    uint32_t n = 0;
    while ((gp = runq_get(w))) {
        gp->schedlink = NULL;
        if (tail)
            tail->schedlink = gp;
        else
            head = gp;
        tail = gp;
        n++;
    }
    lock(&sched.lock);
    if (head)
        gq_put_batch_locked(head, tail, n);
    if (ioq)
        gq_put_batch_locked(ioq, ioq_tail, nioq);
    unlock(&sched.lock);
    maybe_wakep();
}

static void dormant_loop(worker *w)
{
    stop_spinning(w);
    idle_list_remove(w);
    while (load_relaxed(&w->dormant) && !load_acquire(&sched.stopping)) {
        run_due_timers(w);
        if (w->ring.unsubmitted || w->io_pending)
            wring_wait(w, 0);
        dormant_forward(w);

        lock(&sched.lock);
        if (!load_relaxed(&w->dormant) || load_acquire(&sched.stopping) ||
            worker_has_work(w)) {
            unlock(&sched.lock);
            continue;
        }
        w->dormant_asleep = true;
        __atomic_fetch_add(&sched.ndormant_asleep, 1, __ATOMIC_SEQ_CST);
        bool dead = deadlocked_locked();
        unlock(&sched.lock);
        if (dead)
            fatal_deadlock();

        sleep_in_ring(w);
        lock(&sched.lock);
        w->dormant_asleep = false;
        __atomic_fetch_sub(&sched.ndormant_asleep, 1, __ATOMIC_SEQ_CST);
        unlock(&sched.lock);
    }
}

bool sched_park_worker(void)
{
    lock(&sched.lock);
    uint32_t n = sched.nactive;
    if (n <= 1 || load_acquire(&sched.stopping)) {
        unlock(&sched.lock);
        return false;
    }
    worker *w = &sched.workers[n - 1];
    store_relaxed(&w->dormant, 1);
    store_relaxed(&sched.nactive, n - 1);
    idle_list_remove_locked(w); /* so that no wakep picks it */
    unlock(&sched.lock);
    PROBE1(workers, n - 1);
    wring_wake(w); /* asleep or not, it must look at its queue */
    return true;
}

bool sched_unpark_worker(void)
{
    lock(&sched.lock);
    uint32_t n = sched.nactive;
    if (n >= (uint32_t)sched.nprocs || load_acquire(&sched.stopping)) {
        unlock(&sched.lock);
        return false;
    }
    worker *w = &sched.workers[n];
    store_relaxed(&w->dormant, 0);
    store_relaxed(&sched.nactive, n + 1);
    unlock(&sched.lock);
    PROBE1(workers, n + 1);
    wring_wake(w); /* it spins, and steals its share */
    return true;
}

/* Finds a goroutine to run, sleeping if there is none.  Scheduler context
 * (g0) only.  NULL when the runtime is stopping. */
static g *find_runnable(worker *w)
{
    for (;;) {
        if (load_acquire(&sched.stopping))
            return NULL;
        if (load_relaxed(&w->dormant)) {
            dormant_loop(w);
            continue;
        }
        run_due_timers(w);
        ioq_refill(w);
        if (w->ring.unsubmitted || w->io_pending)
            wring_wait(w, 0);
        g *gp = NULL;
        if (w->schedtick % GLOBAL_CHECK_EVERY == 0 && load_relaxed(&sched.gq_len))
            gp = gq_get(w, 1);
        if (!gp)
            gp = runq_get(w);
        if (!gp)
            gp = gq_get(w, 0);
        if (gp) {
            stop_spinning(w);
            return gp;
        }

        /* Spin: steal for a while before paying for a sleep. */
        if (!w->spinning) {
            uint32_t busy = load_relaxed(&sched.nactive) - load_relaxed(&sched.npidle);
            if (2 * load_relaxed(&sched.nmspinning) < busy) {
                w->spinning = true;
                fetch_add(&sched.nmspinning, 1);
            }
        }
        if (w->spinning && (sched.nprocs > 1 || w->io_pending) && !load_relaxed(&w->dormant)) {
            /* With I/O in flight the next completion is likely close: spin
             * longer (polling the ring costs no system call) rather than
             * sleep into a 27 us wake-up per burst. */
            int64_t until = now_ns() + (w->io_pending ? SPIN_IO_NS : SPIN_NS);
            int round = 0;
            do {
                /* Our own completions first: picking them up here costs a
                 * look at the ring (a system call only when the kernel has
                 * completion work deferred) instead of a sleep and a
                 * wake-up. */
                if (w->io_pending && wring_wait(w, 0) > 0)
                    gp = runq_get(w);
                if (!gp)
                    gp = steal_work(w, round > 2);
                if (!gp)
                    gp = gq_get(w, 0);
                if (gp) {
                    stop_spinning(w);
                    return gp;
                }
                for (int i = 0; i < 64; i++)
                    cpu_relax();
                round++;
            } while (!load_relaxed(&sched.stopping) && !load_relaxed(&w->dormant) &&
                     now_ns() < until &&
                     timers_earliest(&w->timers) > now_ns());
            if (timers_earliest(&w->timers) <= now_ns())
                continue;
        }

        /* Go idle. */
        lock(&sched.lock);
        if (load_acquire(&sched.stopping)) {
            unlock(&sched.lock);
            return NULL;
        }
        if (load_relaxed(&w->dormant)) {
            /* Parked by the governor meanwhile: not onto the idle list. */
            unlock(&sched.lock);
            continue;
        }
        gp = gq_get_locked(w, 0);
        if (gp) {
            unlock(&sched.lock);
            stop_spinning(w);
            return gp;
        }
        w->idle_next = sched.idle_list;
        sched.idle_list = w;
        store_relaxed(&w->idle, 1);
        __atomic_fetch_add(&sched.npidle, 1, __ATOMIC_SEQ_CST);
        bool was_spinning = w->spinning;
        if (was_spinning) {
            w->spinning = false;
            __atomic_fetch_sub(&sched.nmspinning, 1, __ATOMIC_SEQ_CST);
        }
        bool dead = deadlocked_locked();
        unlock(&sched.lock);
        if (dead)
            fatal_deadlock();

        /* Producers that saw us spinning did not wake anybody: look once
         * more now that we no longer count as a spinner. */
        if (was_spinning && any_work_queued()) {
            idle_list_remove(w);
            continue;
        }

        sleep_in_ring(w);
        idle_list_remove(w); /* a waker may have removed us already */
        /* Woken by our own timer or I/O, not by wakep: if every worker was
         * asleep, so is the monitor, and nothing would preempt what we are
         * about to run (one load when it is awake). */
        preempt_monitor_kick();
    }
}

static void schedule_loop(worker *w)
{
    for (;;) {
        run_after(w);
        g *gp = find_runnable(w);
        if (!gp)
            return;
        switch_to(w, &w->g0, gp, NULL, NULL);
    }
}

/* ---------------------------------------------------------------------
 * Workers and gr_run
 * ------------------------------------------------------------------- */

static uint32_t start_lock;
static pthread_cond_t start_cond = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t start_mu = PTHREAD_MUTEX_INITIALIZER;
static int start_ready, start_err;

static int worker_setup(worker *w)
{
    tls_worker = w;
    w->thread = pthread_self();
    w->tid = (int)syscall(SYS_gettid);
    w->cur = &w->g0;
    w->g0.is_g0 = 1;
    w->g0.id = 0;
    w->g0.status = G_RUNNING;
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        void *addr;
        size_t size;
        pthread_attr_getstack(&attr, &addr, &size);
        w->g0.stk.base = addr;
        w->g0.stk.size = size;
        pthread_attr_destroy(&attr);
    }
    san_g0_init(&w->g0);
    int err = stack_thread_init();
    if (!err)
        err = wring_init(w);
    PROBE2(worker_start, w->index, w->tid);
    return err;
}

/* The thread's own state; the ring stays until gr_run has joined every
 * worker (others may still be sending it wake-ups): see ring_teardown. */
static void worker_teardown(worker *w)
{
    (void)w;
    stack_thread_fini();
    tls_worker = NULL;
}

static void ring_teardown(worker *w)
{
    wring_fini(w);
    bufpool_free(w);
}

static void start_report(int err)
{
    pthread_mutex_lock(&start_mu);
    if (err && !start_err)
        start_err = err;
    start_ready++;
    pthread_cond_broadcast(&start_cond);
    pthread_mutex_unlock(&start_mu);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    int err = worker_setup(w);
    start_report(err);
    if (!err) {
        /* Wait for the go signal: all rings must exist before anyone
         * sends a wake-up to another worker's ring. */
        pthread_mutex_lock(&start_mu);
        while (!load_acquire(&sched.running) && !start_err)
            pthread_cond_wait(&start_cond, &start_mu);
        pthread_mutex_unlock(&start_mu);
        if (load_acquire(&sched.running))
            schedule_loop(w);
    }
    worker_teardown(w);
    return NULL;
}

struct main_args {
    void (*fn)(void *);
    void *arg;
};

static void main_goroutine(void *p)
{
    struct main_args *ma = p;
    ma->fn(ma->arg);
    /* As Go's main: returning ends the program's goroutines. */
    store_release(&sched.stopping, 1);
    for (int i = 0; i < sched.nprocs; i++)
        if (&sched.workers[i] != current_worker())
            wring_wake(&sched.workers[i]);
}

static void sched_reset(void)
{
    int nprocs = sched.nprocs;
    size_t stack = sched.default_stack;
    bool pa = sched.preempt_async, rnd = sched.randomize;
    worker_stats last = sched.last;
    memset(&sched, 0, sizeof sched);
    sched.nprocs = nprocs;
    sched.default_stack = stack;
    sched.preempt_async = pa;
    sched.randomize = rnd;
    sched.last = last;
}

static void free_all_g(void)
{
    /* Slabs were pushed one control block at a time; a slab's first
     * element is the one whose allnext leads out of the slab.  Collect
     * slab bases: an element is a slab base if it is at index 0, which we
     * recognise by address arithmetic against its chain neighbours. */
    g *gp = sched.allg;
    while (gp) {
        /* Elements of one slab are consecutive in the chain, from
         * slab[G_SLAB-1] down to slab[0]. */
        g *base = gp - (G_SLAB - 1);
        gp = base->allnext;
        san_g_release(base);
        free(base);
    }
    sched.allg = NULL;
    gfree_global = NULL;
    ngfree_global = 0;
}

int gr_run(void (*main_fn)(void *), void *arg)
{
    if (!main_fn)
        return -EINVAL;
    uint32_t zero = 0;
    if (!cas_acq_rel(&start_lock, &zero, 1))
        return -EBUSY;
    if (current_worker()) {
        store_release(&start_lock, 0);
        return -EBUSY;
    }
    sched_reset();
    int err = env_parse();
    if (err) {
        store_release(&start_lock, 0);
        return err;
    }
    sched.next_goid = 1;
    sched.nactive = (uint32_t)sched.nprocs;
    default_mxcsr = __builtin_ia32_stmxcsr();
    __asm__ volatile("fnstcw %0" : "=m"(default_fpucw));

    err = stacks_init();
    if (err) {
        store_release(&start_lock, 0);
        return err;
    }
    sched.workers = aligned_alloc(64, sizeof(worker) * (size_t)sched.nprocs);
    if (!sched.workers) {
        stacks_teardown();
        store_release(&start_lock, 0);
        return -ENOMEM;
    }
    /* A write on a socket whose peer is gone must give -EPIPE, not kill
     * the process (io.c); as Go does, ignore SIGPIPE unless the program
     * chose a disposition itself.  Restored on the one way out below. */
    struct sigaction old_pipe, ign = {.sa_handler = SIG_IGN};
    bool pipe_ignored = false;
    if (sigaction(SIGPIPE, NULL, &old_pipe) == 0 && old_pipe.sa_handler == SIG_DFL &&
        !(old_pipe.sa_flags & SA_SIGINFO))
        pipe_ignored = sigaction(SIGPIPE, &ign, NULL) == 0;
    memset(sched.workers, 0, sizeof(worker) * (size_t)sched.nprocs);
    uint64_t seed = (uint64_t)now_ns() ^ (uint64_t)(uintptr_t)&err;
    for (int i = 0; i < sched.nprocs; i++) {
        worker *w = &sched.workers[i];
        w->index = i;
        w->rand = (seed + 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1)) | 1;
        timer_heap_init(&w->timers);
    }

    start_ready = 0;
    start_err = 0;
    worker *w0 = &sched.workers[0];
    err = worker_setup(w0);
    start_report(err);
    int started = 1;
    for (int i = 1; i < sched.nprocs && !err; i++) {
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        int e = pthread_create(&sched.workers[i].thread, &attr, worker_main, &sched.workers[i]);
        pthread_attr_destroy(&attr);
        if (e) {
            err = -e;
            break;
        }
        started++;
    }
    pthread_mutex_lock(&start_mu);
    while (start_ready < started)
        pthread_cond_wait(&start_cond, &start_mu);
    if (!err)
        err = start_err;
    if (err && !start_err)
        start_err = err;
    pthread_mutex_unlock(&start_mu);

    struct main_args ma = {main_fn, arg};
    if (!err)
        err = spawn_main(w0, main_goroutine, &ma);
    if (!err) {
        preempt_monitor_start(); /* before any goroutine runs (adapt.c) */
        pthread_mutex_lock(&start_mu);
        store_release(&sched.running, 1);
        pthread_cond_broadcast(&start_cond);
        pthread_mutex_unlock(&start_mu);
        schedule_loop(w0);
        preempt_monitor_stop();
    } else {
        pthread_mutex_lock(&start_mu);
        pthread_cond_broadcast(&start_cond);
        pthread_mutex_unlock(&start_mu);
    }

    /* Stop: wake every sleeper so it sees `stopping`, then join. */
    store_release(&sched.stopping, 1);
    for (int i = 1; i < started; i++)
        wring_wake(&sched.workers[i]);
    for (int i = 1; i < started; i++)
        pthread_join(sched.workers[i].thread, NULL);
    offload_stop();
    stats_collect(&sched.last);
    stats_probe_fire(&sched.last, true);
    store_release(&sched.running, 0);
    for (int i = 0; i < sched.nprocs; i++) {
        stack_pool_flush(&sched.workers[i]);
        free(sched.workers[i].ioq);
        timer_heap_destroy(&sched.workers[i].timers);
        ring_teardown(&sched.workers[i]);
    }
    worker_teardown(w0);
    free_all_g();
    stacks_teardown();
    free(sched.workers);
    sched.workers = NULL;
    if (pipe_ignored)
        sigaction(SIGPIPE, &old_pipe, NULL);
    store_release(&start_lock, 0);
    return err;
}

int gr_nprocs(void)
{
    return load_acquire(&sched.running) ? sched.nprocs : 0;
}

int gr_nprocs_active(void)
{
    return load_acquire(&sched.running) ? (int)load_relaxed(&sched.nactive) : 0;
}

int64_t gr_now(void)
{
    return now_ns();
}
