/*
 * group.h - goroutine groups (group.c explains the design): the state
 * behind a gr_group, and what the scheduler and the blocking primitives
 * need of it.
 */
#ifndef GR_GROUP_H
#define GR_GROUP_H

#include <stdbool.h>
#include <stdint.h>

#include "g.h"
#include "greenrt.h"
#include "timer.h"

/* Why a group was cancelled (group.cancelled). */
enum group_cause {
    GROUP_LIVE = 0,     /* not cancelled */
    GROUP_CANCEL = 1,   /* gr_group_cancel, of it or of an ancestor */
    GROUP_DEADLINE = 2, /* its deadline, or an ancestor's, passed */
};

/* The state of a gr_group, made on its first use (gr_group._state). */
typedef struct group {
    /* --- members: `lock` --- */
    uint32_t lock;         /* guards the fields of this part */
    uint32_t cancelled;    /* atomic: enum group_cause; set once, under lock,
                            * first thing when cancelled (gr_group_err) */
    uint32_t interrupting; /* atomic: set once, under lock, after `done` is
                            * closed: members' waits end (group.c) */
    int64_t nmembers;      /* members alive; atomic reads without the lock */
    g *members;            /* chained by g.group_next / group_prev */
    waitq waiters;         /* goroutines in gr_group_wait */
    gr_chan *done;         /* gr_group_done's channel, made on demand */
    int64_t cancelled_at;  /* gr_now() when cancelled (drain time) */

    /* --- the tree and the registry: groups.lock (group.c) --- */
    struct group *parent;   /* linked while neither is cancelled */
    struct group *children; /* first child; siblings via sib_next/sib_prev */
    struct group *sib_next, *sib_prev;
    struct group *all_next, *all_prev; /* every group state */
    struct group *cancel_next;         /* the cancelling walk's work list */
    uint32_t parent_decided; /* atomic: the first gr_group_go has chosen
                              * the parent (or none) */

    /* --- the deadline: dl_lock --- */
    uint32_t dl_lock;
    bool dl_armed;          /* tm is on a worker's heap (this run) */
    int64_t deadline;       /* absolute gr_now() ns; 0: none */
    timer tm;

    int64_t id;             /* > 0, for probes and reports */
    gr_group *pub;          /* the public body it belongs to */
} group;

/* Cancelled: gr_group_err's view, the first step of a cancellation. */
static inline bool group_is_cancelled(group *grp)
{
    return __atomic_load_n(&grp->cancelled, __ATOMIC_ACQUIRE) != GROUP_LIVE;
}

/* Its members' waits end: the last step, after the done channel closed. */
static inline bool group_interrupts(group *grp)
{
    return __atomic_load_n(&grp->interrupting, __ATOMIC_ACQUIRE);
}

/* The same, ordered after the caller's preceding seq-cst store (the
 * arming side of intr.c's Dekker pair). */
static inline bool group_interrupts_seq_cst(group *grp)
{
    return __atomic_load_n(&grp->interrupting, __ATOMIC_SEQ_CST);
}

/* Must gp, about to wait, fail with -ECANCELED instead? */
static inline bool g_interrupted(g *gp)
{
    return gp->group && group_interrupts(gp->group);
}

/* Spawn (goroutine.c): makes gp, not yet queued, a member of grp.
 * -ECANCELED if grp is cancelled (gp is then not a member). */
int group_join(group *grp, g *gp);
/* Exit (sched.c): gp, a member, is exiting; the last member out wakes
 * gr_group_wait. */
void group_leave(g *gp);
/* gr_run has stopped (run.c): the goroutines it abandoned no longer count
 * as members, and deadlines armed on its workers' heaps are gone. */
void groups_runtime_stopped(void);

#endif
