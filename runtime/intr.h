/*
 * intr.h - interruptible waits (intr.c): how a parked goroutine is taken
 * out of its wait when its group is cancelled.  group.c explains the
 * design; intr.c the protocol.
 *
 * A blocking primitive makes one of its waits interruptible in three
 * steps, each of which costs a goroutine outside any group one predictable
 * branch:
 *
 *     if (intr_prepare(gp))           (its wait queue's lock held)
 *         { unlock; return -ECANCELED; }    -- cancelled already: no wait
 *     waiter me = {..., .is_select = gp->group != NULL};
 *     queue me; park_intr(reason, after, arg, intr_wake);
 *     if (intr_woken_by_cancel(gp))
 *         { take me off the queue if still there; return -ECANCELED; }
 *
 * A member's waiter races for the goroutine's wake token like a select
 * case does (chan_take_waiter), so the normal waker and the canceller
 * cannot both win: a value is either transferred or the wait cancelled.
 */
#ifndef GR_INTR_H
#define GR_INTR_H

#include <errno.h>
#include <stdbool.h>

#include "g.h"
#include "group.h"
#include "sched.h"

/* gp->wake_param of a goroutine whose wait intr_wake withdrew. */
extern char intr_cancelled_marker;
#define WAKE_CANCELLED ((void *)&intr_cancelled_marker)

/* How a canceller withdraws a goroutine's wait.  Runs at most once per
 * wait, on the canceller's thread, while the goroutine is parked (switched
 * out, its park's `after` done); the goroutine does not get past
 * park_intr until it has returned.  True if gp is now the canceller's to
 * ready (once it has dropped its locks); false if something else will
 * (the normal waker that won the race, an I/O completion). */
typedef bool (*intr_fn)(g *gp);

/* The intr_fn of every wait a wake token decides (channels, select, sleep,
 * cond and wait-group waits): wins gp's wake token, if the normal waker
 * has not, and sets wake_param to WAKE_CANCELLED. */
bool intr_wake(g *gp);

/* Out of line: intr_prepare for a member. */
int intr_prepare_member(g *gp);

/* For a goroutine about to queue an interruptible wait: -ECANCELED if its
 * group is cancelled (it must not wait: a call made after cancellation
 * fails at once); else 0, a member's wake token reset for the race. */
static inline int intr_prepare(g *gp)
{
    return gp->group ? intr_prepare_member(gp) : 0;
}

/* Out of line: park_intr for a member. */
bool park_intr_member(g *gp, uint16_t reason, void (*after)(worker *, void *), void *arg,
                      intr_fn fn);

/* park() for gp, the running goroutine, interruptible by its group: a
 * member's wait can be withdrawn by fn from the moment `after` has run.
 * Returns true if fn ran (for a wake-token wait, intr_woken_by_cancel
 * says whether it won).  Outside any group: park(), after one branch. */
static inline bool park_intr(g *gp, uint16_t reason, void (*after)(worker *, void *), void *arg,
                             intr_fn fn)
{
    if (__builtin_expect(!gp->group, 1)) {
        park(reason, after, arg);
        return false;
    }
    return park_intr_member(gp, reason, after, arg, fn);
}

/* After park_intr: true if cancellation won the wait's wake token. */
static inline bool intr_woken_by_cancel(g *gp)
{
    return gp->group && __atomic_load_n(&gp->wake_param, __ATOMIC_ACQUIRE) == WAKE_CANCELLED;
}

/* The canceller's side (group.c), gp's group marked cancelled: if gp's
 * current wait is armed, claims it and runs its intr_fn.  True if the
 * caller must ready gp (after dropping its locks). */
bool intr_interrupt(g *gp);

/* A timer fire() that races for its goroutine's wake token (timeouts of
 * waits a cancellation may also end): the winner sets wake_param NULL and
 * readies it. */
void timer_fire_wake(timer *t);

#endif
