/*
 * sync.c - gr_mutex, gr_rwmutex, gr_cond, gr_wg, gr_once.
 *
 * All are usable zero-initialised and park the goroutine, never the
 * worker.  Each body holds an internal lock word (lock.h) that guards its
 * wait queue; a goroutine queues itself under it and parks with "unlock
 * after the switch", so wake-ups are never lost.
 *
 * gr_mutex follows Go's sync.Mutex in spirit.  Normal mode: unlock wakes
 * the first waiter, which competes with newly arriving goroutines (those
 * are on a CPU already, so letting them win - "barging" - maximises
 * throughput); a woken waiter that loses goes back to the *front* of the
 * queue.  Starvation mode: once the first waiter has waited over 1 ms,
 * unlock hands ownership straight to it (the mutex stays locked through
 * the hand-off) and newcomers queue at the back; the mode ends when the
 * queue empties or a waiter got it quickly.  Bit layout of _state:
 *   bit 0  LOCKED     bit 1  STARVING    bit 2  WAITERS (queue non-empty)
 */
#include <errno.h>

#include "chan.h"
#include "fatal.h"
#include "goroutine.h"
#include "greenrt.h"
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
    unlock(&m->_lock);
    ready(w->gp);
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
    unlock(&rw->_lock);
    if (w)
        ready(w->gp);
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
    unlock(&rw->_lock);
    ready_list(wake);
}

/* ---------------------------------------------------------------------
 * gr_cond
 * ------------------------------------------------------------------- */

typedef struct cond_waiter {
    waiter w;
    gr_cond *c;
    int64_t when;
} cond_waiter;

static void cond_timeout_fire(timer *t)
{
    g *gp = (g *)((char *)t - offsetof(g, tm));
    uint32_t zero = 0;
    bool won = cas_acq_rel(&gp->wake_token, &zero, 1);
    timer_fired(t);
    if (won)
        ready(gp);
}

static void after_cond_park(worker *w, void *arg)
{
    cond_waiter *cw = arg;
    if (cw->when) {
        cw->w.gp->tm.fire = cond_timeout_fire;
        if (timer_arm(w, &cw->w.gp->tm, cw->when) < 0)
            fatal("timer heap full after timer_reserve"); /* cannot happen */
    }
    unlock(&cw->c->_lock);
}

static int cond_wait(gr_cond *c, gr_mutex *m, int64_t timeout_ns, const char *call)
{
    g *gp = require_g(call);
    cond_waiter cw = {.w = {.gp = gp, .is_select = 1}, .c = c};
    if (timeout_ns >= 0) {
        cw.when = deadline_after(timeout_ns);
        /* Room for the timer now, while m is still held and failing is
         * still possible: it is armed after the park. */
        if (timer_reserve(current_worker()) < 0)
            return -ENOMEM;
    }
    __atomic_store_n(&gp->wake_token, 0, __ATOMIC_RELAXED);
    lock(&c->_lock);
    waitq_push(q_of(c->_waitq), &cw.w);
    /* Queued before the mutex is released: a signal sent after our unlock
     * finds us in the queue. */
    gr_mutex_unlock(m);
    park(GR_WAIT_COND, after_cond_park, &cw);
    int ret = 0;
    if (cw.when) {
        timer_cancel(&gp->tm);
        lock(&c->_lock);
        if (cw.w.queued) { /* the timer won: we are still queued */
            waitq_remove(q_of(c->_waitq), &cw.w);
            ret = -ETIMEDOUT;
        }
        unlock(&c->_lock);
    }
    gr_mutex_lock(m);
    return ret;
}

void gr_cond_wait(gr_cond *c, gr_mutex *m)
{
    cond_wait(c, m, -1, "gr_cond_wait");
}

int gr_cond_wait_timeout(gr_cond *c, gr_mutex *m, int64_t timeout_ns)
{
    if (timeout_ns < 0)
        timeout_ns = 0;
    return cond_wait(c, m, timeout_ns, "gr_cond_wait_timeout");
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
    unlock(&c->_lock);
    ready_list(wake);
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
 * ------------------------------------------------------------------- */

static void wg_release(gr_wg *wg)
{
    lock(&wg->_lock);
    waiter *wake = take_all(q_of(wg->_waitq));
    unlock(&wg->_lock);
    ready_list(wake);
}

void gr_wg_add(gr_wg *wg, int n)
{
    int64_t v = __atomic_add_fetch(&wg->_count, n, __ATOMIC_ACQ_REL);
    if (v < 0)
        misuse(n == -1 ? "gr_wg_done" : "gr_wg_add", "negative wait group counter");
    if (v == 0)
        wg_release(wg);
}

void gr_wg_done(gr_wg *wg)
{
    gr_wg_add(wg, -1);
}

int gr_wg_wait(gr_wg *wg)
{
    if (load_acquire(&wg->_count) == 0)
        return 0;
    g *gp = require_g("gr_wg_wait");
    lock(&wg->_lock);
    /* Checked under the lock: the add that reaches zero takes the lock
     * after its decrement, so either we see zero or it sees us queued. */
    if (load_acquire(&wg->_count) == 0) {
        unlock(&wg->_lock);
        return 0;
    }
    waiter me = {.gp = gp};
    waitq_push(q_of(wg->_waitq), &me);
    park(GR_WAIT_WG, after_unlock, &wg->_lock);
    return 0;
}

/* ---------------------------------------------------------------------
 * gr_once: 0 not run, 1 running, 2 done
 * ------------------------------------------------------------------- */

void gr_once_do(gr_once *o, void (*fn)(void))
{
    if (load_acquire(&o->_state) == 2)
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
    g *gp = require_g("gr_once_do");
    lock(&o->_lock);
    if (load_acquire(&o->_state) == 2) {
        unlock(&o->_lock);
        return;
    }
    waiter me = {.gp = gp};
    waitq_push(q_of(o->_waitq), &me);
    park(GR_WAIT_ONCE, after_unlock, &o->_lock);
}
