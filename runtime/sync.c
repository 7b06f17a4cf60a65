/*
 * sync.c - gr_mutex, gr_rwmutex, gr_cond, gr_wg, gr_once.
 *
 * All are usable zero-initialised and park the goroutine, never the
 * worker.  Each body holds an internal lock word (lock.h) that guards its
 * wait queue; a goroutine queues itself under it and parks with "unlock
 * after the switch", so wake-ups are never lost.  A member of a group
 * waits interruptibly in gr_cond_wait_timeout and gr_wg_wait (intr.h);
 * the mutexes, gr_cond_wait and gr_once_do are not interrupted (group.c
 * says why).
 *
 * gr_mutex follows Go's sync.Mutex in spirit.  Normal mode: unlock wakes
 * the first waiter, which competes with newly arriving goroutines (those
 * are on a CPU already, so letting them win - "barging" - maximises
 * throughput); a woken waiter that loses goes back to the *front* of the
 * queue.  Starvation mode: once the first waiter has waited over
 * STARVATION_NS (1 ms, Go's), unlock hands ownership straight to it (the
 * mutex stays locked through the hand-off) and newcomers queue at the
 * back; the mode ends when the queue empties or a waiter got it quickly.  Bit layout of _state (M_*):
 *   bit 0  LOCKED     bit 1  STARVING    bit 2  WAITERS (queue non-empty)
 *   bit 3  WOKEN (a woken waiter is on its way: unlock wakes no other)
 */
#include "sync.h"

#include <errno.h>
#include <sched.h> /* sched_yield */

#include "chan.h"
#include "extern.h"
#include "fatal.h"
#include "goroutine.h"
#include "greenrt.h"
#include "group.h"
#include "intr.h"
#include "preempt.h"
#include "sched.h"

#define M_LOCKED 1u
#define M_STARVING 2u
#define M_WAITERS 4u
#define M_WOKEN 8u
#define STARVATION_NS 1000000

static waitq *q_of(void *slots)
{
    return (waitq *)slots;
}

/* Takes every waiter off q (caller holds q's lock) into a list. */
static waiter *take_all(waitq *q)
{
    waiter *list = NULL, *w;
    while ((w = waitq_pop(q))) {
        w->next = list;
        list = w;
    }
    return list;
}

/* Readies a list made by take_all, after the lock is dropped.  Each
 * waiter lives on its goroutine's stack: read next before readying. */
static void ready_list(waiter *list)
{
    while (list) {
        waiter *w = list;
        list = w->next;
        ready(w->gp);
    }
}

/* Go panics on these; we report the call, what was wrong and who did it. */
static _Noreturn void misuse(const char *call, const char *what)
{
    g *gp = current_g();
    if (gp && !gp->is_g0)
        fatal("%s: %s (goroutine %lld, %s)", call, what, (long long)gp->id, g_name(gp));
    fatal("%s: %s (outside any goroutine)", call, what);
}

/* ---------------------------------------------------------------------
 * gr_mutex
 * ------------------------------------------------------------------- */

int gr_mutex_trylock(gr_mutex *m)
{
    uint32_t old = load_relaxed(&m->_state);
    while (!(old & (M_LOCKED | M_STARVING))) {
        if (cas_acq_rel(&m->_state, &old, old | M_LOCKED))
            return 0;
    }
    return -EBUSY;
}

/* Takes the mutex if it is free and not being handed off; a woken waiter
 * also clears WOKEN so that the next unlock may wake someone again. */
static bool mutex_grab(gr_mutex *m, bool woken)
{
    uint32_t old = load_relaxed(&m->_state);
    while (!(old & (M_LOCKED | M_STARVING))) {
        uint32_t nv = (old | M_LOCKED) & ~(woken ? M_WOKEN : 0u);
        if (cas_acq_rel(&m->_state, &old, nv))
            return true;
    }
    return false;
}

void gr_mutex_lock(gr_mutex *m)
{
    /* A safe point: a goroutine taking and releasing a mutex in a loop
     * must still yield to a waiter that unlock has woken (GR_PREEMPT=0). */
    preempt_point();
    uint32_t zero = 0;
    if (cas_acq_rel(&m->_state, &zero, M_LOCKED))
        return;
    g *gp = require_g("gr_mutex_lock");
    int64_t wait_start = 0;
    bool woken = false;
    for (;;) {
        /* Brief optimistic spin, only useful when the holder may be
         * running on another worker right now. */
        if (sched.nprocs > 1) {
            for (int i = 0; i < 64; i++) {
                if (mutex_grab(m, woken))
                    return;
                if (load_relaxed(&m->_state) & M_STARVING)
                    break;
                cpu_relax();
            }
        }
        lock(&m->_lock);
        if (mutex_grab(m, woken)) {
            unlock(&m->_lock);
            return;
        }
        /* Queue up.  WAITERS is set before we park so that an unlock
         * racing with us takes the slow path and sees us; a woken waiter
         * going back to sleep gives up WOKEN. */
        __atomic_fetch_or(&m->_state, M_WAITERS, __ATOMIC_ACQ_REL);
        if (woken)
            __atomic_fetch_and(&m->_state, ~M_WOKEN, __ATOMIC_ACQ_REL);
        if (mutex_grab(m, false)) { /* unlocked between grab and WAITERS */
            if (!q_of(m->_waitq)->head)
                __atomic_fetch_and(&m->_state, ~M_WAITERS, __ATOMIC_ACQ_REL);
            unlock(&m->_lock);
            return;
        }
        if (!wait_start)
            wait_start = gr_now();
        waiter me = {.gp = gp, .enqueued_at = wait_start};
        if (woken) /* lost a race after waiting: keep our place */
            waitq_push_front(q_of(m->_waitq), &me);
        else
            waitq_push(q_of(m->_waitq), &me);
        park(GR_WAIT_MUTEX, after_unlock, &m->_lock);
        if (me.handoff)
            return; /* starvation mode: unlock passed ownership to us */
        woken = true;
    }
}

void gr_mutex_unlock(gr_mutex *m)
{
    uint32_t old = M_LOCKED;
    if (cas_acq_rel(&m->_state, &old, 0))
        return;
    if (!(old & M_LOCKED))
        misuse("gr_mutex_unlock", "unlock of unlocked mutex");
    lock(&m->_lock);
    waitq *q = q_of(m->_waitq);
    old = load_relaxed(&m->_state);
    waiter *w = NULL;
    if (!(old & M_STARVING) && (old & M_WOKEN)) {
        /* A woken waiter is on its way: no need to wake another. */
        __atomic_fetch_and(&m->_state, ~M_LOCKED, __ATOMIC_ACQ_REL);
        unlock(&m->_lock);
        return;
    }
    w = waitq_pop(q);
    if (!w) {
        __atomic_fetch_and(&m->_state, ~(M_LOCKED | M_WAITERS | M_STARVING), __ATOMIC_ACQ_REL);
        unlock(&m->_lock);
        return;
    }
    bool more = q->head != NULL;
    bool waited_long = gr_now() - w->enqueued_at > STARVATION_NS;
    if ((old & M_STARVING) || waited_long) {
        /* Hand-off: the mutex stays LOCKED, now owned by w.  Starvation
         * mode lasts while the waiters handed to have waited long and
         * others remain (Go's rule). */
        uint32_t st = M_LOCKED | (more ? M_WAITERS : 0) | (more && waited_long ? M_STARVING : 0);
        __atomic_store_n(&m->_state, st, __ATOMIC_RELEASE);
        w->handoff = 1;
    } else {
        uint32_t st = (old & ~(M_LOCKED | M_WAITERS)) | M_WOKEN | (more ? M_WAITERS : 0);
        __atomic_store_n(&m->_state, st, __ATOMIC_RELEASE);
    }
    bool pinned = extern_pin(); /* w's goroutine outlives the unlock */
    unlock(&m->_lock);
    ready(w->gp);
    extern_unpin(pinned);
}

/* ---------------------------------------------------------------------
 * gr_rwmutex: writer-preferring, with batch admission of readers
 * ------------------------------------------------------------------- */

int gr_rwmutex_tryrlock(gr_rwmutex *rw)
{
    lock(&rw->_lock);
    int ok = !rw->_writer && !rw->_wwaiting;
    if (ok)
        rw->_readers++;
    unlock(&rw->_lock);
    return ok ? 0 : -EBUSY;
}

void gr_rwmutex_rlock(gr_rwmutex *rw)
{
    g *gp = require_g("gr_rwmutex_rlock");
    lock(&rw->_lock);
    if (!rw->_writer && !rw->_wwaiting) {
        rw->_readers++;
        unlock(&rw->_lock);
        return;
    }
    waiter me = {.gp = gp};
    waitq_push(q_of(rw->_readq), &me);
    park(GR_WAIT_RWMUTEX_R, after_unlock, &rw->_lock);
    /* The unlocking writer counted us in _readers already. */
}

void gr_rwmutex_runlock(gr_rwmutex *rw)
{
    lock(&rw->_lock);
    if (rw->_readers <= 0) {
        unlock(&rw->_lock);
        misuse("gr_rwmutex_runlock", "runlock of unlocked rwmutex");
    }
    waiter *w = NULL;
    if (--rw->_readers == 0 && rw->_wwaiting) {
        w = waitq_pop(q_of(rw->_writeq));
        rw->_wwaiting--;
        rw->_writer = 1;
    }
    bool pinned = w && extern_pin(); /* w's goroutine outlives the unlock */
    unlock(&rw->_lock);
    if (w)
        ready(w->gp);
    extern_unpin(pinned);
}

int gr_rwmutex_trylock(gr_rwmutex *rw)
{
    lock(&rw->_lock);
    int ok = !rw->_writer && rw->_readers == 0;
    if (ok)
        rw->_writer = 1;
    unlock(&rw->_lock);
    return ok ? 0 : -EBUSY;
}

void gr_rwmutex_lock(gr_rwmutex *rw)
{
    g *gp = require_g("gr_rwmutex_lock");
    lock(&rw->_lock);
    if (!rw->_writer && rw->_readers == 0) {
        rw->_writer = 1;
        unlock(&rw->_lock);
        return;
    }
    rw->_wwaiting++;
    waiter me = {.gp = gp};
    waitq_push(q_of(rw->_writeq), &me);
    park(GR_WAIT_RWMUTEX_W, after_unlock, &rw->_lock);
    /* Whoever woke us set _writer on our behalf. */
}

void gr_rwmutex_unlock(gr_rwmutex *rw)
{
    lock(&rw->_lock);
    if (!rw->_writer) {
        unlock(&rw->_lock);
        misuse("gr_rwmutex_unlock", "unlock of unlocked rwmutex");
    }
    rw->_writer = 0;
    /* Readers that queued behind this writer go first (all of them), so
     * a stream of writers cannot starve readers; then the next writer. */
    waiter *wake = NULL, *w;
    if (q_of(rw->_readq)->head) {
        wake = take_all(q_of(rw->_readq));
        for (w = wake; w; w = w->next)
            rw->_readers++;
    } else if ((w = waitq_pop(q_of(rw->_writeq)))) {
        rw->_wwaiting--;
        rw->_writer = 1;
        w->next = NULL;
        wake = w;
    }
    bool pinned = wake && extern_pin(); /* wake's goroutines outlive the unlock */
    unlock(&rw->_lock);
    ready_list(wake);
    extern_unpin(pinned);
}

/* ---------------------------------------------------------------------
 * gr_cond
 * ------------------------------------------------------------------- */

typedef struct cond_waiter {
    waiter w;
    gr_cond *c;
    int64_t when;
} cond_waiter;

static void after_cond_park(worker *w, void *arg)
{
    cond_waiter *cw = arg;
    if (cw->when) {
        cw->w.gp->tm.fire = timer_fire_wake;
        if (timer_arm(w, &cw->w.gp->tm, cw->when) < 0)
            fatal("timer heap full after timer_reserve"); /* cannot happen */
    }
    unlock(&cw->c->_lock);
}

/* interruptible: gr_cond_wait_timeout, which a group's cancellation ends
 * with -ECANCELED (gr_cond_wait cannot report it: group.c). */
static int cond_wait(gr_cond *c, gr_mutex *m, int64_t timeout_ns, bool interruptible,
                     const char *call)
{
    g *gp = require_g(call);
    if (interruptible && g_interrupted(gp))
        return -ECANCELED; /* m still held, as on every return */
    cond_waiter cw = {.w = {.gp = gp, .is_select = 1}, .c = c};
    if (timeout_ns >= 0) {
        cw.when = deadline_after(timeout_ns);
        /* Room for the timer now, while m is still held and failing is
         * still possible: it is armed after the park. */
        if (timer_reserve(current_worker()) < 0)
            return -ENOMEM;
    }
    __atomic_store_n(&gp->wake_token, 0, __ATOMIC_RELAXED);
    gp->wake_param = NULL;
    lock(&c->_lock);
    waitq_push(q_of(c->_waitq), &cw.w);
    /* Queued before the mutex is released: a signal sent after our unlock
     * finds us in the queue. */
    gr_mutex_unlock(m);
    if (interruptible)
        park_intr(gp, GR_WAIT_COND, after_cond_park, &cw, intr_wake);
    else
        park(GR_WAIT_COND, after_cond_park, &cw);
    int ret = 0;
    if (cw.when) {
        timer_cancel(&gp->tm);
        lock(&c->_lock);
        if (cw.w.queued) { /* the timer or cancellation won: still queued */
            waitq_remove(q_of(c->_waitq), &cw.w);
            ret = -ETIMEDOUT;
        }
        unlock(&c->_lock);
    }
    if (intr_woken_by_cancel(gp))
        ret = -ECANCELED;
    gr_mutex_lock(m);
    return ret;
}

void gr_cond_wait(gr_cond *c, gr_mutex *m)
{
    cond_wait(c, m, -1, false, "gr_cond_wait");
}

int gr_cond_wait_timeout(gr_cond *c, gr_mutex *m, int64_t timeout_ns)
{
    if (timeout_ns < 0)
        timeout_ns = 0;
    return cond_wait(c, m, timeout_ns, true, "gr_cond_wait_timeout");
}

static void cond_wake(gr_cond *c, bool all)
{
    waiter *wake = NULL, *w;
    lock(&c->_lock);
    while ((w = chan_take_waiter(q_of(c->_waitq)))) {
        w->next = wake;
        wake = w;
        if (!all)
            break;
    }
    bool pinned = wake && extern_pin(); /* wake's goroutines outlive the unlock */
    unlock(&c->_lock);
    ready_list(wake);
    extern_unpin(pinned);
}

void gr_cond_signal(gr_cond *c)
{
    cond_wake(c, false);
}

void gr_cond_broadcast(gr_cond *c)
{
    cond_wake(c, true);
}

/* ---------------------------------------------------------------------
 * gr_wg
 *
 * A wait group may be freed, or the frame it lives in reused, as soon as
 * gr_wg_wait has returned (in Go the garbage collector makes that free of
 * charge).  So the gr_wg_done that reaches zero must not touch the wait
 * group once a waiter can have returned - and with a lock-free counter
 * and a waiter that returns when it reads zero, it did: it took the lock
 * to wake the queue after its decrement, and could write the lock word of
 * a wait group already freed.  Go's answer: one word holds the counter
 * (high half) and the number of waiters (low half).  A done that leaves
 * the counter above zero, or finds no waiter, touches nothing after its
 * atomic add; one that reaches zero with waiters is the releaser: it owns
 * the wait group until it has woken them, and a waiter returns only once
 * the releaser has let go.
 *
 *   waiter    counts itself (CAS) and queues itself under _lock, while
 *             the counter is above zero, then parks.  Under the lock, so
 *             that the releaser (which takes it after its decrement) finds
 *             every counted waiter queued.
 *   releaser  takes _lock, takes every waiter off the queue, resets the
 *             word to 0 (the release store) and unlocks: its last touch.
 *             It readies the waiters after that.
 *   fast path a wait that reads the word 0 and then the lock free returns
 *             at once: a releaser resets the word under the lock, so a
 *             free lock after a zero word means it has let go.
 *   under way a wait that finds the counter at zero but waiters counted
 *             (a releaser between its decrement and its lock) queues
 *             itself uncounted and parks: the releaser takes the whole
 *             queue, so it wakes this one too, after letting go.
 *   cancelled a member's wait whose group is cancelled: if the counter is
 *             still above zero, it uncounts and unqueues itself under the
 *             lock; if a releaser is under way, it must not return before
 *             the releaser is done, so it gives its wake token back and
 *             parks (not interruptibly) until the releaser takes it.
 * The end of a contended unlock is a futex wake-up on the lock word's
 * address: a system call, harmless on memory that was freed (a spurious
 * wake-up at worst, which every futex waiter tolerates).
 * ------------------------------------------------------------------- */

#define WG_COUNT_SHIFT 32
#define WG_ONE_WAITER 1ull

static int32_t wg_count(uint64_t s)
{
    return (int32_t)(s >> WG_COUNT_SHIFT);
}

static uint32_t wg_waiters(uint64_t s)
{
    return (uint32_t)s;
}

void (*wg_release_hook)(void);

/* The counter reached zero with waiters counted: wake them all.  The
 * waiters cannot return before the unlock (see above). */
static void wg_release(gr_wg *wg)
{
    waiter *wake = NULL, *w;
    if (__builtin_expect(wg_release_hook != NULL, 0))
        wg_release_hook();
    lock(&wg->_lock);
    /* A member's waiter races its cancellation for its wake token; the
     * losers are dropped from the queue all the same. */
    while ((w = chan_take_waiter(q_of(wg->_waitq)))) {
        w->next = wake;
        wake = w;
    }
    /* Nothing else writes the word now: a done would make the counter
     * negative and an add is misuse (below), and waiters count themselves
     * only while the counter is above zero. */
    store_release(&wg->_state, 0);
    bool pinned = wake && extern_pin(); /* wake's goroutines outlive the unlock */
    unlock(&wg->_lock);
    ready_list(wake);
    extern_unpin(pinned);
}

void gr_wg_add(gr_wg *wg, int n)
{
    uint64_t delta = (uint64_t)(int64_t)n << WG_COUNT_SHIFT;
    uint64_t v = __atomic_add_fetch(&wg->_state, delta, __ATOMIC_ACQ_REL);
    int32_t count = wg_count(v);
    uint32_t waiters = wg_waiters(v);
    if (count < 0)
        misuse(n == -1 ? "gr_wg_done" : "gr_wg_add", "negative wait group counter");
    if (n > 0 && waiters && count == n)
        misuse("gr_wg_add", "called while the wait group's waiters are being released (reuse "
                            "a wait group only once every gr_wg_wait has returned)");
    if (count > 0 || !waiters)
        return; /* wg is not touched again */
    wg_release(wg);
}

void gr_wg_done(gr_wg *wg)
{
    gr_wg_add(wg, -1);
}

/* A member's wait, whose wake token its cancellation won (lock free). */
static int wg_wait_cancelled(gr_wg *wg, g *gp, waiter *me)
{
    lock(&wg->_lock);
    if (!me->queued) {
        /* A releaser took it off the queue, and has let go since. */
        unlock(&wg->_lock);
        return -ECANCELED;
    }
    uint64_t s = load_relaxed(&wg->_state);
    while (wg_count(s) > 0) {
        if (cas_acq_rel(&wg->_state, &s, s - WG_ONE_WAITER)) {
            waitq_remove(q_of(wg->_waitq), me);
            unlock(&wg->_lock);
            return -ECANCELED;
        }
    }
    /* A releaser is under way and will take `me` off the queue: wait for
     * it to let go.  Nobody else races for the token now (the cancel has
     * fired; this wait has no timeout), so it goes back to the releaser. */
    store_relaxed(&gp->wake_token, 0);
    park(GR_WAIT_WG, after_unlock, &wg->_lock);
    return -ECANCELED;
}

int gr_wg_wait(gr_wg *wg)
{
    if (load_acquire(&wg->_state) == 0 && load_acquire(&wg->_lock) == 0)
        return 0;
    g *gp = current_g();
    if (gp && gp->is_g0)
        gp = NULL;
    lock(&wg->_lock);
    uint64_t s = load_relaxed(&wg->_state);
    for (;;) {
        if (wg_count(s) == 0) {
            if (!wg_waiters(s)) {
                unlock(&wg->_lock); /* released: its releaser has let go */
                return 0;
            }
            if (!gp) {
                /* A thread that is not a goroutine: the releaser is a few
                 * instructions from its lock; let it have it. */
                unlock(&wg->_lock);
                sched_yield();
                lock(&wg->_lock);
                s = load_relaxed(&wg->_state);
                continue;
            }
            /* A release is under way: be woken by it. */
            waiter me = {.gp = gp};
            waitq_push(q_of(wg->_waitq), &me);
            park(GR_WAIT_WG, after_unlock, &wg->_lock);
            return 0;
        }
        if (!gp) {
            unlock(&wg->_lock);
            gp = require_g("gr_wg_wait"); /* fatal: it would have to wait */
        }
        if (intr_prepare(gp)) {
            unlock(&wg->_lock);
            return -ECANCELED;
        }
        if (cas_acq_rel(&wg->_state, &s, s + WG_ONE_WAITER))
            break;
    }
    waiter me = {.gp = gp, .is_select = gp->group != NULL};
    waitq_push(q_of(wg->_waitq), &me);
    park_intr(gp, GR_WAIT_WG, after_unlock, &wg->_lock, intr_wake);
    if (intr_woken_by_cancel(gp))
        return wg_wait_cancelled(wg, gp, &me);
    return 0; /* readied by the releaser, after its unlock */
}

/* ---------------------------------------------------------------------
 * gr_once: 0 not run, 1 running, 2 done
 *
 * As a wait group (above), a gr_once may be freed once gr_once_do has
 * returned, so no caller may return while the one that ran fn still
 * touches it: that one marks it done under _lock and wakes the waiters
 * before it unlocks, and the fast path returns only if it reads "done"
 * and then the lock free.
 * ------------------------------------------------------------------- */

void gr_once_do(gr_once *o, void (*fn)(void))
{
    if (load_acquire(&o->_state) == 2 && load_acquire(&o->_lock) == 0)
        return;
    uint32_t zero = 0;
    if (cas_acq_rel(&o->_state, &zero, 1)) {
        fn();
        lock(&o->_lock);
        store_release(&o->_state, 2);
        waiter *wake = take_all(q_of(o->_waitq));
        unlock(&o->_lock);
        ready_list(wake);
        return;
    }
    lock(&o->_lock);
    if (load_acquire(&o->_state) == 2) {
        unlock(&o->_lock); /* done, and its runner has let go */
        return;
    }
    waiter me = {.gp = require_g("gr_once_do")};
    waitq_push(q_of(o->_waitq), &me);
    park(GR_WAIT_ONCE, after_unlock, &o->_lock);
}
