/*
 * preempt.h - the monitor thread (preempt.c, Go's sysmon): preempts
 * goroutines that run too long, hands a stuck worker's queue over, and
 * runs the CPU governor (adapt.c).
 */
#ifndef GR_PREEMPT_H
#define GR_PREEMPT_H

#include "lock.h"
#include "sched.h"

/* gr_run, before any goroutine runs / after the scheduler loop returned.
 * Start: 0, or -ENOMEM, or pthread_create's -errno (-EAGAIN). */
int preempt_monitor_start(void);
void preempt_monitor_stop(void);
/* Wakes the monitor if it sleeps without a timeout (every worker was
 * idle); one load when it is awake. */
void preempt_monitor_kick(void);

/* A safe point: yields if the monitor asked this goroutine to (and it has
 * not disabled preemption).  Called by gr_ functions that may not block. */
void preempt_point_slow(g *gp);
static inline void preempt_point(void)
{
    g *gp = current_g();
    if (__builtin_expect(gp && load_relaxed(&gp->preempt), 0) && !gp->is_g0 &&
        gp->preempt_off == 0)
        preempt_point_slow(gp);
}

#endif
