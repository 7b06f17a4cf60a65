/*
 * adapt.h - the CPU governor (adapt.c), run by the monitor thread: how
 * many of the GR_PROCS workers take goroutines; and its levers, the
 * dormant workers (dormant.c).
 */
#ifndef GR_ADAPT_H
#define GR_ADAPT_H

#include <stdbool.h>
#include <stdint.h>

/* gr_run's thread, before any goroutine runs: opens the files it reads
 * (without them the governor stays off). */
void adapt_start(void);
/* The runtime stopped: closes them. */
void adapt_stop(void);
/* Every worker went idle: the next window starts from a new baseline. */
void adapt_reset(void);
/* Monitor thread, every period: decides at the end of each window. */
void adapt_tick(int64_t now);

/* The levers (dormant.c), called by the monitor thread: park the
 * highest-numbered active worker / unpark the lowest dormant one.  False
 * when there is nothing to do (one active worker; none dormant). */
bool sched_park_worker(void);
bool sched_unpark_worker(void);

struct worker;
/* A dormant worker's scheduler context (find_runnable): until it is
 * unparked or the runtime stops. */
void dormant_loop(struct worker *w);

#endif
