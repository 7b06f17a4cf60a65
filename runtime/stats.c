/*
 * stats.c - gr_stats_get: the per-worker counters, summed.
 *
 * Each worker bumps its own counters with plain adds (no shared cache
 * line, no atomics on the hot path); a reader sums them racily, which is
 * fine for monotonic counters read for observation.
 */
#include <string.h>

#include "greenrt.h"
#include "sched.h"

void gr_stats_collect(worker_stats *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < sched.nprocs && sched.workers; i++) {
        const worker_stats *s = &sched.workers[i].st;
        out->spawned += load_relaxed(&s->spawned);
        out->exited += load_relaxed(&s->exited);
        out->switches += load_relaxed(&s->switches);
        out->steals += load_relaxed(&s->steals);
        out->parks += load_relaxed(&s->parks);
        out->preemptions += load_relaxed(&s->preemptions);
        out->io_submitted += load_relaxed(&s->io_submitted);
        out->io_completed += load_relaxed(&s->io_completed);
        out->ring_enters += load_relaxed(&s->ring_enters);
    }
}

void gr_stats_get(gr_stats *out)
{
    worker_stats s;
    if (load_acquire(&sched.running))
        gr_stats_collect(&s);
    else
        s = sched.last;
    memset(out, 0, sizeof *out);
    out->spawned = s.spawned;
    out->exited = s.exited;
    out->live = s.spawned > s.exited ? s.spawned - s.exited : 0;
    out->switches = s.switches;
    out->steals = s.steals;
    out->parks = s.parks;
    out->preemptions = s.preemptions;
    out->io_submitted = s.io_submitted;
    out->io_completed = s.io_completed;
    out->ring_enters = s.ring_enters;
}
