/*
 * stats.h - the scheduler's counters (stats.c): kept per worker without
 * atomics on the hot path, summed for gr_stats_get and the greenrt:stats
 * USDT probe.
 */
#ifndef GR_STATS_H
#define GR_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "greenrt.h"

/* Per-worker counters: written only by the owning worker (plain adds),
 * summed racily by gr_stats_get. */
typedef struct worker_stats {
    uint64_t spawned, exited, switches, steals, parks, preemptions;
    uint64_t io_submitted, io_completed, ring_enters;
    uint64_t parks_by_reason[GR_WAIT_REASON_COUNT];
} worker_stats;

/* Owner-only counter bump; relaxed atomic so racy readers are defined. */
#define stat_inc(w, field) \
    __atomic_store_n(&(w)->st.field, (w)->st.field + 1, __ATOMIC_RELAXED)

/* The counters of every worker of the running runtime, summed. */
void stats_collect(worker_stats *out);
/* Fires the greenrt:stats probe with s; final: the runtime has stopped. */
void stats_probe_fire(const worker_stats *s, bool final);
/* stats_collect, then a non-final probe (the monitor, periodically). */
void stats_probe_snapshot(void);

#endif
