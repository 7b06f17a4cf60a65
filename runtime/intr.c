/*
 * intr.c - interruptible waits: the park protocol that lets a group's
 * cancellation take its members out of their waits (group.c has the
 * design of groups; this file is the one mechanism every interruptible
 * primitive shares).
 *
 * The problem.  A canceller on any thread must end the wait of a
 * goroutine parked on any primitive, without losing a wake-up, readying a
 * goroutine that is still running, or racing the primitive's own waker
 * into a double ready or a lost value.  Two races:
 *
 *   1. The goroutine checks "cancelled?", finds no, and parks; the
 *      canceller sets the flag, looks for waits to withdraw and finds none
 *      yet.  The goroutine would sleep through its cancellation.
 *   2. The canceller withdraws a wait at the moment the normal waker (a
 *      sender, a timer, a completion) ends it.
 *
 * (2) is the select problem, already solved by the goroutine's wake token:
 * whoever wins the CAS 0 -> 1 on gp->wake_token owns the wake-up.  A
 * member's waiter on a channel, a wait group or a cond is marked like a
 * select case (waiter.is_select), so chan_take_waiter makes the normal
 * waker race for the token too; the canceller's intr_wake races for the
 * same token.  I/O waits do not use this file: the I/O layer has the
 * same two races and its own answer (io_cancel_g, io.h: a sticky flag,
 * "publish, then check" on the request's user_data, and the completion
 * decides the race - the CQE that readies the goroutine says whether data
 * or -ECANCELED came back), which group.c calls for every member.
 *
 * (1) is closed Dekker-style: the goroutine publishes that its wait can
 * be withdrawn, then (full barrier) reads its group's cancelled flag; the
 * canceller sets the flag, then (full barrier) reads each member's
 * published state.  At least one of the two sees the other, and both may:
 * so withdrawing is a claim that only one side can win.
 *
 * The state word, gp->intr: a sequence number (bits 3..63, one per wait,
 * never reset while the control block is reused) and a state:
 *
 *   OFF      not in an interruptible wait
 *   PARKING  set by the goroutine before it parks; nobody may claim it
 *            yet: the goroutine is still running, and its park's `after`
 *            (which releases the queue lock, arms the timeout) has not run
 *   ARMING   set by park's `after`, on the context switched to, once the
 *            primitive's own `after` has run, while it reads the group's
 *            flag: the goroutine cannot get past park_intr meanwhile, so
 *            it cannot exit and its group cannot be destroyed under the
 *            reader's feet
 *   ARMED    the wait may be claimed by a canceller
 *   CLAIMED  a canceller (or the arming `after`, having read the flag
 *            set) is running intr_fn
 *   FIRED    intr_fn has returned
 *
 * The goroutine, back from park, moves PARKING or ARMED to OFF with a CAS
 * (the arming `after` may not have run yet, when a normal waker was quick:
 * its CAS then fails, so a late arming can never arm a later wait), and
 * waits while ARMING or CLAIMED: intr_fn reads the goroutine's wait (its
 * waiter, its ioreq), which must stay put until it is done.  A canceller
 * that finds ARMING waits for ARMED (the arming side may have read the
 * flag before it was set).  Each of these waits lasts a few instructions
 * of another thread (timer_cancel waits for a firing timer the same way).
 *
 * Rejected: checking the flag before parking only (race 1); withdrawing
 * from the canceller under the primitive's own lock (every primitive would
 * need its own cancel code, and the canceller would take channel locks
 * while holding the group's); a per-wait record on the goroutine's stack
 * published by pointer (the canceller could read it after the goroutine
 * has moved on: the sequence number in the state word is what makes a
 * stale claim fail instead).
 */
#include "intr.h"

#include "group.h"
#include "sched.h"

#define INTR_OFF 0u
#define INTR_PARKING 1u
#define INTR_ARMING 2u
#define INTR_ARMED 3u
#define INTR_CLAIMED 4u
#define INTR_FIRED 5u
#define INTR_STATE_MASK 7ull
#define INTR_SEQ_ONE 8ull

#define intr_state(v) ((unsigned)((v) & INTR_STATE_MASK))
#define intr_seq(v) ((v) & ~INTR_STATE_MASK)

char intr_cancelled_marker;

bool intr_wake(g *gp)
{
    uint32_t zero = 0;
    if (!cas_acq_rel(&gp->wake_token, &zero, 1))
        return false; /* the normal waker won: the wait ends as usual */
    __atomic_store_n(&gp->wake_param, WAKE_CANCELLED, __ATOMIC_RELEASE);
    return true;
}

int intr_prepare_member(g *gp)
{
    if (group_interrupts(gp->group))
        return -ECANCELED;
    __atomic_store_n(&gp->wake_token, 0, __ATOMIC_RELAXED);
    gp->wake_param = NULL;
    return 0;
}

void timer_fire_wake(timer *t)
{
    g *gp = (g *)((char *)t - offsetof(g, tm));
    uint32_t zero = 0;
    bool won = cas_acq_rel(&gp->wake_token, &zero, 1);
    if (won)
        gp->wake_param = NULL;
    timer_fired(t);
    if (won)
        ready_from(gp, GR_WAKE_TIMER, NULL);
}

/* Claims gp's wait, in state `from` (ARMED, or ARMING for the arming
 * side itself), and runs its intr_fn; true if gp is ours to ready. */
static bool intr_claim(g *gp, uint64_t from)
{
    uint64_t seq = intr_seq(from);
    if (!__atomic_compare_exchange_n(&gp->intr, &from, seq | INTR_CLAIMED, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        return false; /* the goroutine is back already, or another canceller won */
    bool ours = gp->intr_fn(gp);
    /* Release: what intr_fn wrote is visible to the goroutine that sees
     * FIRED and goes on.  Before any ready: the goroutine it readies finds
     * FIRED at once. */
    __atomic_store_n(&gp->intr, seq | INTR_FIRED, __ATOMIC_RELEASE);
    return ours;
}

bool intr_interrupt(g *gp)
{
    /* Seq-cst: pairs with the arming CAS (see the top of this file); the
     * caller stored the group's `interrupting` flag seq-cst before. */
    uint64_t v = __atomic_load_n(&gp->intr, __ATOMIC_SEQ_CST);
    while (intr_state(v) == INTR_ARMING) {
        cpu_relax();
        v = __atomic_load_n(&gp->intr, __ATOMIC_ACQUIRE);
    }
    return intr_state(v) == INTR_ARMED && intr_claim(gp, v);
}

struct intr_park {
    void (*after)(worker *, void *);
    void *arg;
    g *gp;
    uint64_t parking; /* gp->intr as park_intr set it */
};

/* park's `after` for an interruptible wait: the primitive's own after,
 * then ARMED, then the look at the flag.  ip lives on the parked
 * goroutine's stack, which may run again as soon as the primitive's
 * `after` has released its lock: it is copied first. */
static void after_intr_arm(worker *w, void *p)
{
    struct intr_park *ip = p;
    g *gp = ip->gp;
    uint64_t parking = ip->parking;
    void (*after)(worker *, void *) = ip->after;
    void *arg = ip->arg;
    if (after)
        after(w, arg);
    uint64_t seq = intr_seq(parking), arming = seq | INTR_ARMING;
    /* Seq-cst, a full barrier: ARMING is visible before the flag is read. */
    if (!__atomic_compare_exchange_n(&gp->intr, &parking, arming, false, __ATOMIC_SEQ_CST,
                                     __ATOMIC_RELAXED))
        return; /* woken already and back from park: this wait is over */
    /* gp is held in park_intr until ARMING ends: gp->group is alive. */
    if (group_interrupts_seq_cst(gp->group)) {
        gr_group *pub = gp->group->pub;
        if (intr_claim(gp, arming))
            ready_from(gp, GR_WAKE_CANCEL, pub);
    } else {
        __atomic_store_n(&gp->intr, seq | INTR_ARMED, __ATOMIC_RELEASE);
    }
}

/* The goroutine, back from park: ends its wait's interruptibility.  True
 * if a canceller ran the wait's intr_fn. */
static bool intr_disarm(g *gp, uint64_t parking)
{
    uint64_t seq = intr_seq(parking), v = parking;
    for (;;) {
        unsigned st = intr_state(v);
        if (st == INTR_FIRED) {
            store_relaxed(&gp->intr, seq | INTR_OFF);
            return true;
        }
        if (st == INTR_ARMING || st == INTR_CLAIMED) {
            cpu_relax();
            v = __atomic_load_n(&gp->intr, __ATOMIC_ACQUIRE);
            continue;
        }
        /* PARKING or ARMED: no canceller has it; a failed CAS reloads v. */
        if (__atomic_compare_exchange_n(&gp->intr, &v, seq | INTR_OFF, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            return false;
    }
}

bool park_intr_member(g *gp, uint16_t reason, void (*after)(worker *, void *), void *arg,
                      intr_fn fn)
{
    uint64_t parking = intr_seq(load_relaxed(&gp->intr)) + INTR_SEQ_ONE + INTR_PARKING;
    gp->intr_fn = fn;
    /* Nobody claims PARKING, and the arming `after` runs on this thread
     * right after the switch: program order suffices. */
    store_relaxed(&gp->intr, parking);
    struct intr_park ip = {.after = after, .arg = arg, .gp = gp, .parking = parking};
    park(reason, after_intr_arm, &ip);
    return intr_disarm(gp, parking);
}
