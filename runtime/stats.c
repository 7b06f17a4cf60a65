/*
 * stats.c - gr_stats_get: the per-worker counters, summed.
 *
 * Each worker bumps its own counters (stat_inc: a plain add, stored
 * relaxed so that readers on other threads are race-free - no shared cache
 * line, no locked instruction on the hot path); a reader sums them
 * without a lock, which is fine for monotonic counters read for
 * observation.
 */
#include <string.h>

#include "engine.h"
#include "greenrt.h"
#include "probes.h"
#include "sched.h"
#include "stats.h"

void stats_collect(worker_stats *out)
{
    memset(out, 0, sizeof *out);
    out->spawned = load_relaxed(&sched.extern_spawned);
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
        for (int r = 0; r < GR_WAIT_REASON_COUNT; r++)
            out->parks_by_reason[r] += load_relaxed(&s->parks_by_reason[r]);
    }
}

/* The greenrt:stats USDT probe (greenrt.h): the counters as one struct a
 * tracer can read with a single probe hit. */
void stats_probe_fire(const worker_stats *s, bool final)
{
    gr_trace_stats t;
    memset(&t, 0, sizeof t);
    t.version = GR_TRACE_STATS_VERSION;
    t.nprocs = (uint32_t)sched.nprocs;
    t.at_ns = gr_now();
    t.spawned = s->spawned;
    t.exited = s->exited;
    t.switches = s->switches;
    t.steals = s->steals;
    t.parks = s->parks;
    t.preemptions = s->preemptions;
    t.io_submitted = s->io_submitted;
    t.io_completed = s->io_completed;
    t.ring_enters = s->ring_enters;
    memcpy(t.parks_by_reason, s->parks_by_reason, sizeof t.parks_by_reason);
    t.engine = engine_epoll() ? GR_TRACE_ENGINE_EPOLL : GR_TRACE_ENGINE_URING;
    PROBE2(stats, &t, final ? 1 : 0);
    __asm__ volatile("" ::"m"(t) : "memory"); /* t is read by the probe */
}

void gr_stats_get(gr_stats *out)
{
    worker_stats s;
    if (load_acquire(&sched.running))
        stats_collect(&s);
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

/* A non-final snapshot of the running runtime's counters (the monitor). */
void stats_probe_snapshot(void)
{
    worker_stats s;
    stats_collect(&s);
    stats_probe_fire(&s, false);
}
