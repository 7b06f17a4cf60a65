/*
 * select.c - gr_select: wait on several channel operations, do one.
 *
 * Go's algorithm (select.go):
 *   1. Shuffle the cases into a random poll order; sort their channels by
 *      address into a lock order (deadlock-free, duplicates locked once).
 *   2. Lock every channel, and poll the cases in poll order: the first
 *      that can proceed does, so the choice is uniform among the ready
 *      cases.
 *   3. Nothing ready: with timeout 0 return -EAGAIN; otherwise queue a
 *      waiter on every channel, in poll order (so that two cases on one
 *      channel are taken in random order too), arm the timeout, and park
 *      (the channels are unlocked after the switch).  Wakers race for the
 *      goroutine's wake token (chan_take_waiter): exactly one case - or
 *      the timer - wins and performs its transfer; the losers' waiters
 *      are skipped.
 *   4. Woken: stop the timer, lock every channel again and take the
 *      remaining waiters off their queues.
 * A member of a group (group.c) whose group is cancelled races the cases
 * for the token too (intr.h): it returns -ECANCELED only when no case was
 * ready, so a select on the group's done channel, closed first, returns
 * that case.
 */
#include <errno.h>
#include <stdlib.h>

#include "chan.h"
#include "extern.h"
#include "fatal.h"
#include "greenrt.h"
#include "group.h"
#include "intr.h"
#include "sched.h"

#define SELECT_INLINE 8 /* cases handled without malloc */

typedef struct selstate {
    gr_case *cases;
    int n;
    uint16_t *poll;      /* case indices, shuffled */
    gr_chan **lockorder; /* distinct non-NULL channels, by address */
    int nlocks;
    waiter *waiters;     /* one per case */
    int64_t when;        /* timeout expiry; 0: none */
} selstate;

static void lock_all(selstate *s)
{
    for (int i = 0; i < s->nlocks; i++)
        lock(&s->lockorder[i]->lock);
}

static void unlock_all(selstate *s)
{
    for (int i = s->nlocks - 1; i >= 0; i--)
        unlock(&s->lockorder[i]->lock);
}

static int cmp_chan(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (gr_chan *const *)a, y = (uintptr_t) * (gr_chan *const *)b;
    return x < y ? -1 : x > y;
}

/* Step 2: one pass over the cases, channels locked.  Returns the case
 * that proceeded (its res set), or -1; *wake is a peer to ready. */
static int poll_cases(selstate *s, g **wake)
{
    *wake = NULL;
    for (int k = 0; k < s->n; k++) {
        int i = s->poll[k];
        gr_case *cs = &s->cases[i];
        gr_chan *c = cs->chan;
        if (!c)
            continue;
        if (cs->op == GR_SEND) {
            if (c->closed) {
                cs->res = -EPIPE;
                return i;
            }
            waiter *r = chan_take_waiter(&c->recvq);
            if (r) {
                chan_send_to_receiver(c, r, cs->elem);
                *wake = r->gp;
                cs->res = 0;
                return i;
            }
            if (c->count < c->cap) {
                chan_buf_push(c, cs->elem);
                cs->res = 0;
                return i;
            }
        } else {
            waiter *snd = chan_take_waiter(&c->sendq);
            if (snd) {
                chan_recv_from_sender(c, snd, cs->elem);
                *wake = snd->gp;
                cs->res = 0;
                return i;
            }
            if (c->count > 0) {
                chan_buf_pop(c, cs->elem);
                cs->res = 0;
                return i;
            }
            if (c->closed) {
                elem_copy(c, cs->elem, NULL);
                cs->res = -EPIPE;
                return i;
            }
        }
    }
    return -1;
}

static void after_select_park(worker *w, void *arg)
{
    selstate *s = arg;
    g *gp = s->waiters[0].gp;
    if (s->when) {
        gp->tm.fire = timer_fire_wake;
        if (timer_arm(w, &gp->tm, s->when) < 0)
            fatal("timer heap full after timer_reserve"); /* cannot happen */
    }
    unlock_all(s);
}

/* select with no cases: block forever, or for the timeout (a member of
 * a group until its cancellation, if that comes first). */
static int select_no_cases(int64_t timeout_ns)
{
    if (timeout_ns == 0)
        return -EAGAIN;
    g *gp = require_g("gr_select");
    if (timeout_ns < 0) {
        if (intr_prepare(gp))
            return -ECANCELED;
        park_intr(gp, GR_WAIT_SELECT_NO_CASES, NULL, NULL, intr_wake);
        return -ECANCELED; /* only cancellation wakes it */
    }
    int err = park_until(GR_WAIT_SELECT, deadline_after(timeout_ns));
    return err ? err : -ETIMEDOUT;
}

int gr_select(gr_case *cases, int n, int64_t timeout_ns)
{
    if (n < 0 || n > GR_SELECT_MAX || (n > 0 && !cases))
        return -EINVAL;
    for (int i = 0; i < n; i++)
        if (cases[i].op != GR_SEND && cases[i].op != GR_RECV)
            return -EINVAL;
    bool any = false;
    for (int i = 0; i < n; i++)
        any |= cases[i].chan != NULL;
    if (!any)
        return select_no_cases(timeout_ns);

    g *gp = timeout_ns != 0 ? require_g("gr_select") : current_g();
    worker *w = current_worker();
    /* Room for the timeout's timer now, while failing is still possible:
     * it is armed after the park. */
    if (timeout_ns > 0 && timer_reserve(w) < 0)
        return -ENOMEM;

    uint16_t poll_inline[SELECT_INLINE];
    gr_chan *locks_inline[SELECT_INLINE];
    waiter waiters_inline[SELECT_INLINE];
    selstate s = {.cases = cases, .n = n};
    void *heap = NULL;
    if (n <= SELECT_INLINE) {
        s.poll = poll_inline;
        s.lockorder = locks_inline;
        s.waiters = waiters_inline;
    } else {
        heap = malloc((sizeof(uint16_t) + sizeof(gr_chan *) + sizeof(waiter)) * (size_t)n);
        if (!heap)
            return -ENOMEM;
        s.waiters = heap;
        s.lockorder = (gr_chan **)(s.waiters + n);
        s.poll = (uint16_t *)(s.lockorder + n);
    }

    /* Step 1: poll order (Fisher-Yates) and lock order. */
    static __thread uint64_t rnd_fallback = 88172645463325252ull;
    for (int i = 0; i < n; i++) {
        uint64_t r;
        if (w) {
            r = fastrand(w);
        } else {
            rnd_fallback ^= rnd_fallback << 13;
            rnd_fallback ^= rnd_fallback >> 7;
            rnd_fallback ^= rnd_fallback << 17;
            r = rnd_fallback;
        }
        int j = (int)(r % (uint64_t)(i + 1));
        s.poll[i] = s.poll[j];
        s.poll[j] = (uint16_t)i;
    }
    int m = 0;
    for (int i = 0; i < n; i++)
        if (cases[i].chan)
            s.lockorder[m++] = cases[i].chan;
    qsort(s.lockorder, (size_t)m, sizeof(gr_chan *), cmp_chan);
    s.nlocks = 0;
    for (int i = 0; i < m; i++)
        if (s.nlocks == 0 || s.lockorder[s.nlocks - 1] != s.lockorder[i])
            s.lockorder[s.nlocks++] = s.lockorder[i];

    /* Step 2. */
    lock_all(&s);
    g *wake;
    int chosen = poll_cases(&s, &wake);
    if (chosen >= 0 || timeout_ns == 0) {
        bool pinned = wake && extern_pin(); /* wake outlives the unlock */
        unlock_all(&s);
        if (wake)
            ready_from(wake, GR_WAKE_CHAN, cases[chosen].chan);
        extern_unpin(pinned);
        free(heap);
        return chosen >= 0 ? chosen : -EAGAIN;
    }

    /* Step 3.  (A member of a cancelled group does not wait: nothing is
     * ready, and its done channel, if among the cases, would be.) */
    if (g_interrupted(gp)) {
        unlock_all(&s);
        free(heap);
        return -ECANCELED;
    }
    /* Queued in poll order: a peer that arrives later takes the first
     * waiter of its channel's queue, and two cases on one channel must
     * not always favour the lower index (Go's lock order is made from the
     * shuffled poll order for the same reason). */
    __atomic_store_n(&gp->wake_token, 0, __ATOMIC_RELAXED);
    gp->wake_param = NULL;
    for (int k = 0; k < n; k++) {
        int i = s.poll[k];
        waiter *wt = &s.waiters[i];
        *wt = (waiter){.gp = gp, .elem = cases[i].elem, .chan = cases[i].chan,
                       .case_index = i, .is_select = 1, .res = 0};
        if (!cases[i].chan)
            continue;
        waitq_push(cases[i].op == GR_SEND ? &cases[i].chan->sendq : &cases[i].chan->recvq, wt);
    }
    s.when = timeout_ns > 0 ? deadline_after(timeout_ns) : 0;
    park_intr(gp, GR_WAIT_SELECT, after_select_park, &s, intr_wake);

    /* Step 4. */
    if (s.when)
        timer_cancel(&gp->tm);
    waiter *won = __atomic_load_n(&gp->wake_param, __ATOMIC_ACQUIRE);
    lock_all(&s);
    for (int i = 0; i < n; i++) {
        waiter *wt = &s.waiters[i];
        if (wt->queued)
            waitq_remove(cases[i].op == GR_SEND ? &cases[i].chan->sendq : &cases[i].chan->recvq,
                         wt);
    }
    unlock_all(&s);
    int ret;
    if (won == WAKE_CANCELLED) {
        ret = -ECANCELED;
    } else if (won) {
        ret = won->case_index;
        cases[ret].res = won->success ? 0 : won->res;
    } else {
        ret = -ETIMEDOUT;
    }
    free(heap);
    return ret;
}
