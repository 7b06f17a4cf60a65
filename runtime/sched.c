/*
 * sched.c - the goroutine scheduler: switching, park/ready, the scheduler
 * loop, idle and spinning workers.  Its other parts: runq.c (the run
 * queues), galloc.c (control blocks), dormant.c (workers the CPU governor
 * parked) and run.c (gr_run: starting and stopping the workers).
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
 * Run queues (runq.c).  Each worker has a lock-free queue of runnable
 * goroutines and a `runnext` slot for hand-offs; a locked global queue
 * takes what overflows; fresh input runs first (the hotq).  runq.c
 * explains them and their order.
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
 * first "spins": it tries to steal half of a random victim's queue and
 * polls its ring for a bounded time (SPIN_NS, a couple of wake-up costs,
 * while another worker is busy; SPIN_IO_NS, what a sleep costs, when
 * only its own I/O can turn up), and only then sleeps,
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
 * (dormant.c).  Spinning and the idle list count active workers only;
 * deadlock detection counts a dormant worker as asleep only while it
 * actually sleeps.
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
 * I/O or gr_blocking call is in flight, no queue holds a goroutine and no
 * thread outside the runtime holds a reference (gr_extern_ref, extern.c),
 * nothing can ever run again: the runtime prints every goroutine and its
 * wait reason and exits with status 2 (fatal.c), as Go does.
 */
#include "sched.h"

#include <stdlib.h>

#include "adapt.h"
#include "arch.h"
#include "engine.h"
#include "extern.h"
#include "fatal.h"
#include "goroutine.h"
#include "greenrt.h"
#include "group.h"
#include "preempt.h"
#include "probes.h"
#include "runq.h"
#include "san.h"
#include "stack.h"

#define SPIN_NS 50000     /* ~2 cross-CPU wake-ups: cheaper to look than to sleep */
#define SPIN_IO_NS 5000   /* ~what a sleep and a wake-up cost this thread's CPU */
#define SPIN_POLL_EVERY 8 /* spin rounds per poll where polling is a system call */

sched_t sched;
__thread worker *tls_worker __attribute__((tls_model("initial-exec")));

/* gr_run's thread's floating-point control state, which every goroutine
 * starts with (g_start_stack). */
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
        fatal("%s called outside a goroutine (blocking greenrt calls must run inside gr_run)",
              call);
    return w->cur;
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
    if (!to->is_g0) {
        if (!to->stk.base)
            g_start_stack(w, to);
        if (w->inherit)
            w->inherit = false;
        else
            store_relaxed(&w->slicetick, w->slicetick + 1);
    }
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

/* What every ready does before queueing gp (w: the readier's worker;
 * source, obj: what made it runnable, for the probe only). */
static void mark_runnable(worker *w, g *gp, unsigned source, const void *obj)
{
    PROBE4(ready, gp->id, w && w->cur ? w->cur->id : 0, source, obj);
    gp->wait_reason = GR_WAIT_NONE;
    store_relaxed(&gp->status, (uint32_t)G_RUNNABLE);
}

void ready(g *gp)
{
    ready_from(gp, GR_WAKE_GOROUTINE, NULL);
}

void ready_from(g *gp, unsigned source, const void *obj)
{
    worker *w = current_worker();
    if (__builtin_expect(!w && extern_ready_hook != NULL, 0))
        extern_ready_hook();
    mark_runnable(w, gp, source, obj);
    gp->hot_streak = 0;
    if (w) {
        runq_put(w, gp, true);
    } else if (extern_enter()) {
        /* Not a worker (offload pool, the monitor, a program's thread):
         * the global queue - unless the runtime is stopping, and gp is
         * abandoned with the other goroutines (extern.c). */
        gq_put(gp);
        maybe_wakep();
        extern_exit();
    }
}

void ready_io(worker *w, g *gp, bool input)
{
    mark_runnable(w, gp, GR_WAKE_IO, NULL);
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
    ioq_put(w, gp); /* runq is full, or older completions wait in ioq */
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
               !load_relaxed(&sched.stopping) && !engine_has_io(w) &&
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
    if (gp->group)
        group_leave(gp);
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
    engine_wake(v);
}

/* After queueing work where another worker could take it: wake an idle
 * worker if nobody is spinning to find it. */
void maybe_wakep(void)
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

/* A spinning worker found work: stop counting as a spinner, and if it was
 * the last one, wake another so leftover work keeps being looked for. */
void stop_spinning(worker *w)
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

void idle_list_remove_locked(worker *w)
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

void idle_list_remove(worker *w)
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
        load_acquire(&sched.io_inflight) > 0 || load_acquire(&sched.blocking_inflight) > 0 ||
        extern_refs_held()) /* a thread outside may still wake one */
        return false;
    if (sched.gq_len)
        return false;
    for (int i = 0; i < sched.nprocs; i++)
        if (worker_has_work(&sched.workers[i]))
            return false;
    /* Last: the monitor announces a move before it takes goroutines out
     * of the queues just looked at (preempt.c). */
    return __atomic_load_n(&sched.monitor_moving, __ATOMIC_SEQ_CST) == 0;
}

/* Releases sched.lock, held by a worker about to sleep; if nothing can
 * ever run again, reports the deadlock (and exits). */
void unlock_or_deadlock(void)
{
    bool dead = deadlocked_locked();
    unlock(&sched.lock);
    if (dead)
        fatal_deadlock();
}

/* Sleeps in the engine's wait until a completion or readiness, a
 * wake-up or w's next timer. */
void sleep_in_ring(worker *w)
{
    int64_t timeout = -1;
    int64_t e = timers_earliest(&w->timers);
    if (e != INT64_MAX) {
        timeout = e - now_ns();
        if (timeout < 0)
            timeout = 0;
    }
    engine_wait(w, timeout);
}

/* ---------------------------------------------------------------------
 * The scheduler loop
 * ------------------------------------------------------------------- */

/* What w can run without looking at other workers: due timers, its ioq,
 * its ring's completions, the global queue every GLOBAL_CHECK_EVERY-th
 * schedule (so that nothing there starves), its own queues, and the
 * global queue when they are empty. */
static g *find_local(worker *w)
{
    run_due_timers(w);
    ioq_refill(w);
    if (engine_has_io(w))
        engine_wait(w, 0);
    g *gp = NULL;
    if (w->schedtick % GLOBAL_CHECK_EVERY == 0 && load_relaxed(&sched.gq_len))
        gp = gq_get(w, 1);
    if (!gp)
        gp = runq_get(w);
    if (!gp)
        gp = gq_get(w, 0);
    return gp;
}

/* Whether w, having found nothing, spins before it sleeps: at most half
 * of the busy workers spin at once, and spinning needs somewhere to look
 * (another worker, or I/O of its own). */
static bool should_spin(worker *w)
{
    if (!w->spinning) {
        uint32_t busy = load_relaxed(&sched.nactive) - load_relaxed(&sched.npidle);
        if (2 * load_relaxed(&sched.nmspinning) < busy) {
            w->spinning = true;
            fetch_add(&sched.nmspinning, 1);
        }
    }
    /* io_pending: relaxed, as on epoll other workers' goroutines count
     * their waits in it (sched.h). */
    return w->spinning &&
           (sched.nprocs > 1 || (load_relaxed(&w->io_pending) && engine_poll_cheap())) &&
           !load_relaxed(&w->dormant);
}

/* Spin: steal for a while before paying for a sleep.  NULL when nothing
 * turned up in time, or a timer of w fell due, or w is stopping or
 * dormant. */
static g *spin(worker *w)
{
    /* Another worker is running: it may queue work for us to steal,
     * which would otherwise cost it a cross-CPU wake-up of us - look for
     * SPIN_NS.  Nobody else busy, only our own I/O to wait for: a spin
     * that finds nothing is pure loss, so spin no longer than sleeping
     * would cost (ski rental).  Measured on the kv server pinned to one
     * CPU (redis-benchmark -c 50): spinning 200 us on our own I/O was a
     * quarter of its CPU, for 0.05 fewer sleeps per request.  Where a
     * poll is a system call (epoll), a poll only every SPIN_POLL_EVERY
     * rounds: find_local has just polled. */
    bool cheap = engine_poll_cheap();
    uint32_t busy = load_relaxed(&sched.nactive) - load_relaxed(&sched.npidle);
    int64_t until = now_ns() + (busy > 1 ? SPIN_NS : SPIN_IO_NS);
    int round = 0;
    g *gp = NULL;
    do {
        /* Our own completions first: picking them up here costs a
         * look at the ring (a system call only when the kernel has
         * completion work deferred) instead of a sleep and a
         * wake-up. */
        if (load_relaxed(&w->io_pending) &&
            (cheap || round % SPIN_POLL_EVERY == SPIN_POLL_EVERY - 1) && engine_wait(w, 0) > 0)
            gp = runq_get(w);
        if (!gp)
            gp = steal_work(w, round > 2);
        if (!gp)
            gp = gq_get(w, 0);
        if (gp)
            return gp;
        for (int i = 0; i < 64; i++)
            cpu_relax();
        round++;
    } while (!load_relaxed(&sched.stopping) && !load_relaxed(&w->dormant) &&
             now_ns() < until &&
             timers_earliest(&w->timers) > now_ns());
    return NULL;
}

/* w found no work: onto the idle list, and asleep in its ring until a
 * wakep, its next timer or its I/O.  Called with sched.lock held, which
 * it releases (reporting a deadlock if w was the last worker awake and
 * nothing can ever run again). */
static void idle_sleep(worker *w)
{
    w->idle_next = sched.idle_list;
    sched.idle_list = w;
    store_relaxed(&w->idle, 1);
    __atomic_fetch_add(&sched.npidle, 1, __ATOMIC_SEQ_CST);
    bool was_spinning = w->spinning;
    if (was_spinning) {
        w->spinning = false;
        __atomic_fetch_sub(&sched.nmspinning, 1, __ATOMIC_SEQ_CST);
    }
    unlock_or_deadlock();

    /* Producers that saw us spinning did not wake anybody: look once
     * more now that we no longer count as a spinner. */
    if (was_spinning && any_work_queued()) {
        idle_list_remove(w);
        return;
    }

    sleep_in_ring(w);
    idle_list_remove(w); /* a waker may have removed us already */
    /* Woken by our own timer or I/O, not by wakep: if every worker was
     * asleep, so is the monitor, and nothing would preempt what we are
     * about to run (one load when it is awake). */
    preempt_monitor_kick();
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
        g *gp = find_local(w);
        if (gp) {
            stop_spinning(w);
            return gp;
        }
        if (should_spin(w)) {
            gp = spin(w);
            if (gp) {
                stop_spinning(w);
                return gp;
            }
            if (timers_earliest(&w->timers) <= now_ns())
                continue;
        }

        /* Go idle, with the stacks this worker pooled where the monitor's
         * scavenger can give them back if they stay unused (stack.c). */
        stack_pool_flush(w);
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
        idle_sleep(w); /* unlocks sched.lock */
    }
}

void schedule_loop(worker *w)
{
    for (;;) {
        run_after(w);
        g *gp = find_runnable(w);
        if (!gp)
            return;
        switch_to(w, &w->g0, gp, NULL, NULL);
    }
}

void sched_fpu_capture(void)
{
    default_mxcsr = __builtin_ia32_stmxcsr();
    __asm__ volatile("fnstcw %0" : "=m"(default_fpucw));
}

int64_t gr_now(void)
{
    return now_ns();
}
